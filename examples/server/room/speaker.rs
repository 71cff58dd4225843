//! The room's active speaker and last-N: one active speaker observer per
//! room, the speaker's video consumers at a higher bandwidth priority, and
//! each member's video limited to the most recent speakers plus the tile it
//! shows large.

use super::*;

/// Bandwidth priority of the active speaker's video consumers.
pub(super) const SPEAKER_PRIORITY: u8 = 2;

/// The priority member `viewer` gives consumer `c`: what it asked for of
/// the producer's owner (1 by default), at least [`SPEAKER_PRIORITY`] for
/// the video of its room's active speaker and
/// [`SCREEN_PRIORITY`](super::screen::SCREEN_PRIORITY) for a screen share.
pub(super) fn apply_speaker_priority(sfu: &mut Sfu, viewer: TransportId, c: ConsumerId) {
    let Some((p, kind)) = sfu.router.consumer(c).map(|c| (c.producer(), c.kind())) else {
        return;
    };
    if kind != MediaKind::Video {
        return;
    }
    let Some(owner) = owner_name(sfu, p) else {
        return;
    };
    let screen = is_screen(sfu, p);
    let Some(Session::Member(m)) = sfu.sessions.get(&viewer) else {
        return;
    };
    let asked = m.prefs.get(&owner).map_or(1, |w| w.priority);
    let speaking = sfu
        .rooms
        .speakers
        .get(&m.room)
        .and_then(|s| s.current.as_ref())
        .is_some_and(|(name, _)| *name == owner);
    let priority = match (screen, speaking) {
        (true, _) => asked.max(super::screen::SCREEN_PRIORITY),
        (false, true) => asked.max(SPEAKER_PRIORITY),
        (false, false) => asked,
    };
    if let Some(mut c) = sfu.router.consumer(c) {
        c.set_priority(Instant::now(), priority);
    }
}

/// Follow a new microphone of `room` with the room's active speaker
/// observer (made with its first microphone).
pub(super) fn observe_microphone(sfu: &mut Sfu, room: &str, p: ProducerId) {
    let observer = match sfu.rooms.speakers.get(room) {
        Some(s) => s.observer,
        None => {
            let options = ActiveSpeakerObserverOptions::default();
            let o = match sfu
                .router
                .create_active_speaker_observer(Instant::now(), options)
            {
                Ok(o) => o,
                Err(e) => {
                    warn!("room {room}: no active speaker observer: {e}");
                    return;
                }
            };
            let speaker = Speaker {
                observer: o,
                current: None,
            };
            sfu.rooms.speakers.insert(room.to_owned(), speaker);
            sfu.rooms.by_observer.insert(o, room.to_owned());
            o
        }
    };
    if let Some(mut o) = sfu.router.observer(observer) {
        if let Err(e) = o.add_producer(Instant::now(), p) {
            warn!("room {room}: cannot observe {p}: {e}");
        }
    }
}

/// The room is empty: close its observer.
pub(super) fn close_speaker(sfu: &mut Sfu, room: &str) {
    if let Some(s) = sfu.rooms.speakers.remove(room) {
        sfu.rooms.by_observer.remove(&s.observer);
        if let Some(o) = sfu.router.observer(s.observer) {
            o.close(Instant::now());
        }
    }
}

/// The participants whose video member `me` receives under last-N: those
/// it shows large (`large`), then the most recent speakers of `order`
/// until `n`.
pub(super) fn last_n_visible<'a>(
    order: &'a [String],
    me: &str,
    large: impl Fn(&str) -> bool,
    n: usize,
) -> HashSet<&'a str> {
    let mut visible: HashSet<&str> = order
        .iter()
        .map(String::as_str)
        .filter(|p| *p != me && large(p))
        .collect();
    visible.extend(
        order
            .iter()
            .map(String::as_str)
            .filter(|p| *p != me)
            .take(n),
    );
    visible
}

/// Pause and resume the room's video consumers so each member receives
/// at most last-N participants' video (plus what it shows large, plus
/// every screen share). Watch-only members take no place.
pub(super) fn apply_last_n(sfu: &mut Sfu, room: &str) {
    let n = sfu.rooms.last_n;
    if n == 0 {
        return;
    }
    let members = sfu.rooms.rooms.get(room).cloned().unwrap_or_default();
    let watching: HashSet<String> = members
        .iter()
        .filter_map(|t| match sfu.sessions.get(t) {
            Some(Session::Member(m)) if m.watching => Some(m.name.clone()),
            _ => None,
        })
        .collect();
    let mut order = sfu.rooms.recent.get(room).cloned().unwrap_or_default();
    order.retain(|name| !watching.contains(name));
    for viewer in members {
        let Some(Session::Member(m)) = sfu.sessions.get(&viewer) else {
            continue;
        };
        let large = |p: &str| m.prefs.get(p).is_some_and(|w| w.priority >= 2);
        let visible: HashSet<String> = last_n_visible(&order, &m.name, large, n)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let consumers = sfu.router.transport(viewer).map(|t| t.consumers());
        for c in consumers.unwrap_or_default() {
            let Some((p, kind, paused)) = sfu
                .router
                .consumer(c)
                .map(|c| (c.producer(), c.kind(), c.is_paused()))
            else {
                continue;
            };
            if kind != MediaKind::Video {
                continue;
            }
            let Some(owner) = owner_name(sfu, p) else {
                continue;
            };
            let show = visible.contains(&owner) || is_screen(sfu, p);
            let Some(Session::Member(m)) = sfu.sessions.get_mut(&viewer) else {
                break;
            };
            if show && m.last_n_paused.remove(&c) {
                debug!("{viewer}: last-N resumes {owner}'s video");
                if let Some(mut c) = sfu.router.consumer(c) {
                    c.resume(Instant::now());
                }
            } else if !show && !paused {
                debug!("{viewer}: last-N pauses {owner}'s video");
                m.last_n_paused.insert(c);
                if let Some(mut c) = sfu.router.consumer(c) {
                    c.pause(Instant::now());
                }
            }
        }
    }
}

/// Events of the rooms' observers: a new active speaker is announced to
/// the room and its video gets priority.
pub fn on_observer_event(sfu: &mut Sfu, e: Event) {
    let Event::DominantSpeaker { observer, producer } = e else {
        return;
    };
    let Some(room) = sfu.rooms.by_observer.get(&observer).cloned() else {
        return;
    };
    let Some(peer) = owner_name(sfu, producer) else {
        return;
    };
    debug!("room {room}: {peer} is speaking");
    if let Some(s) = sfu.rooms.speakers.get_mut(&room) {
        s.current = Some((peer.clone(), producer));
    }
    if let Some(order) = sfu.rooms.recent.get_mut(&room) {
        if let Some(i) = order.iter().position(|n| *n == peer) {
            let name = order.remove(i);
            order.insert(0, name);
        }
    }
    apply_last_n(sfu, &room);
    let members = sfu.rooms.rooms.get(&room).cloned().unwrap_or_default();
    for &m in &members {
        let consumers = sfu.router.transport(m).map(|t| t.consumers());
        for c in consumers.unwrap_or_default() {
            apply_speaker_priority(sfu, m, c);
        }
    }
    for m in members {
        send_to(
            sfu,
            m,
            ToPeer::Msg(ServerMsg::ActiveSpeaker { peer: peer.clone() }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::last_n_visible;

    #[test]
    fn last_n_keeps_recent_speakers_and_the_large_tile() {
        let order: Vec<String> = ["dave", "me", "alice", "bob", "carol"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        fn sorted(v: std::collections::HashSet<&str>) -> Vec<&str> {
            let mut v: Vec<_> = v.into_iter().collect();
            v.sort();
            v
        }
        let none = |_: &str| false;
        assert_eq!(
            sorted(last_n_visible(&order, "me", none, 2)),
            ["alice", "dave"]
        );
        let carol = |p: &str| p == "carol";
        assert_eq!(
            sorted(last_n_visible(&order, "me", carol, 2)),
            ["alice", "carol", "dave"]
        );
        assert_eq!(sorted(last_n_visible(&order, "me", none, 10)).len(), 4);
        assert_eq!(sorted(last_n_visible(&order, "me", none, 0)).len(), 0);
    }
}
