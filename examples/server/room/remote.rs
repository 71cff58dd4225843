//! Members on other nodes of a cluster ([`crate::cluster::rooms`]): what
//! the room here does when one arrives, leaves or adds a producer, and
//! what the cluster asks of the room.

use super::*;

/// Members of `room` on this node.
pub fn local_members(sfu: &Sfu, room: &str) -> usize {
    sfu.rooms.rooms.get(room).map_or(0, Vec::len)
}

/// Each local member of `room` with its producers (and whether each is its
/// screen share).
pub fn local_roster(sfu: &mut Sfu, room: &str) -> Vec<(Peer, Vec<(ProducerId, bool)>)> {
    let members = sfu.rooms.rooms.get(room).cloned().unwrap_or_default();
    let mut roster = Vec::new();
    for tid in members {
        let Some(Session::Member(m)) = sfu.sessions.get(&tid) else {
            continue;
        };
        let (peer, screen) = (m.peer(), m.screen);
        let producers = sfu.router.transport(tid).map(|t| t.producers());
        let producers = producers
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p, Some(p) == screen))
            .collect();
        roster.push((peer, producers));
    }
    roster
}

/// Send `msg` to every local member of `room`.
fn tell_all(sfu: &mut Sfu, room: &str, msg: ServerMsg) {
    let members = sfu.rooms.rooms.get(room).cloned().unwrap_or_default();
    for tid in members {
        send_to(sfu, tid, ToPeer::Msg(msg.clone()));
    }
}

/// A member of another node joined.
pub fn remote_joined(sfu: &mut Sfu, room: &str, peer: Peer) {
    info!(
        "room {room}: {} joined on another worker or node",
        peer.name
    );
    if !peer.watching {
        let order = sfu.rooms.recent.entry(room.to_owned()).or_default();
        order.retain(|n| *n != peer.name);
        order.push(peer.name.clone());
    }
    tell_all(sfu, room, ServerMsg::Join { peer });
    apply_last_n(sfu, room);
}

/// A member of another node left.
pub fn remote_left(sfu: &mut Sfu, room: &str, name: &str) {
    info!("room {room}: {name} left on another worker or node");
    if let Some(order) = sfu.rooms.recent.get_mut(room) {
        order.retain(|n| n != name);
    }
    if let Some(s) = sfu.rooms.speakers.get_mut(room) {
        if s.current.as_ref().is_some_and(|(n, _)| n == name) {
            s.current = None;
        }
    }
    let peer = name.to_owned();
    tell_all(sfu, room, ServerMsg::Leave { peer });
    apply_last_n(sfu, room);
}

/// A producer of a member of another node arrived (a piped copy): every
/// local member consumes it.
pub fn remote_producer(sfu: &mut Sfu, room: &str, copy: ProducerId) {
    let members = sfu.rooms.rooms.get(room).cloned().unwrap_or_default();
    if members.is_empty() {
        return;
    }
    let kind = sfu.router.producer(copy).map(|p| p.kind());
    if kind == Some(MediaKind::Audio) {
        observe_microphone(sfu, room, copy);
    }
    if let Some((name, true)) = sfu.cluster.rooms.ghost(copy) {
        let peer = name.to_owned();
        tell_all(sfu, room, ServerMsg::Screen { peer, on: true });
    }
    for m in members {
        consume_for(sfu, m, copy);
    }
}

/// A member of another node stopped sharing its screen.
pub fn remote_screen_ended(sfu: &mut Sfu, room: &str, name: &str) {
    let peer = name.to_owned();
    tell_all(sfu, room, ServerMsg::Screen { peer, on: false });
}

/// The chat voice of member `name` of another node: every local member
/// gets it as `chat:{name}`.
pub fn forward_voice(sfu: &mut Sfu, room: &str, name: &str, dp: manifold_sfu::DataProducerId) {
    let members = sfu.rooms.rooms.get(room).cloned().unwrap_or_default();
    for m in members {
        super::chat::forward(sfu, m, name, dp);
    }
}

/// A member of another node muted or unmuted: the pages here are told.
pub fn remote_changed(sfu: &mut Sfu, room: &str, was: &Peer, now: &Peer) {
    let changes = [
        (Kind::Audio, was.audio_muted, now.audio_muted),
        (Kind::Video, was.video_muted, now.video_muted),
    ];
    for (kind, before, muted) in changes {
        if before != muted {
            let peer = now.name.clone();
            tell_all(sfu, room, ServerMsg::Muted { peer, kind, muted });
        }
    }
}
