//! Screen sharing in rooms: a member's second video producer, marked by
//! the page (`{"type":"screen","mid":..}` before its offer), consumed by
//! the others at [`SCREEN_PRIORITY`] and never paused by last-N.

use super::*;

/// Bandwidth priority of screen share consumers (above the active
/// speaker's [`SPEAKER_PRIORITY`](super::speaker::SPEAKER_PRIORITY)): text
/// on a shared screen is what a room reads.
pub(super) const SCREEN_PRIORITY: u8 = 3;

/// Whether producer `p` is its member's screen share.
pub(super) fn is_screen(sfu: &mut Sfu, p: ProducerId) -> bool {
    if let Some((_, screen)) = sfu.cluster.rooms.ghost(p) {
        return screen;
    }
    let Some(owner) = sfu.router.producer(p).map(|p| p.transport()) else {
        return false;
    };
    matches!(sfu.sessions.get(&owner), Some(Session::Member(m)) if m.screen == Some(p))
}

/// A producer of member `tid` closed: if it was the screen share, the
/// others are told it ended (its consumers closed with it).
pub(super) fn on_producer_closed(sfu: &mut Sfu, tid: TransportId, p: ProducerId) {
    let Some(Session::Member(me)) = sfu.sessions.get_mut(&tid) else {
        return;
    };
    if me.screen != Some(p) {
        return;
    }
    me.screen = None;
    info!("room {}: {} stopped sharing ({p})", me.room, me.name);
    let (room, peer) = (me.room.clone(), me.name.clone());
    broadcast(sfu, &room, tid, ServerMsg::Screen { peer, on: false });
}
