//! What the router says about a member's transport: its producers and
//! consumers coming and going, its chat channel, renegotiation, scores and
//! its end.

use super::*;

/// Events for room transports.
pub fn on_event(sfu: &mut Sfu, tid: TransportId, e: Event) {
    let Some(Session::Member(me)) = sfu.sessions.get(&tid) else {
        return;
    };
    match e {
        Event::ProducerAdded { producer, kind, .. } => {
            let mid = sfu.router.producer(producer).map(|p| p.mid());
            let Some(Session::Member(me)) = sfu.sessions.get_mut(&tid) else {
                return;
            };
            let screen = kind == MediaKind::Video && mid.is_some() && mid == me.screen_mid;
            if screen {
                info!("room {}: {} shares a screen ({producer})", me.room, me.name);
                me.screen = Some(producer);
                let (room, peer) = (me.room.clone(), me.name.clone());
                broadcast(sfu, &room, tid, ServerMsg::Screen { peer, on: true });
            }
            let Some(Session::Member(me)) = sfu.sessions.get(&tid) else {
                return;
            };
            // Muted before the track existed: start paused.
            let muted = match Kind::from(kind) {
                Kind::Audio => me.audio_muted,
                Kind::Video => me.video_muted && !screen,
            };
            if muted {
                apply_mute(sfu, tid, kind.into(), true);
            }
            if kind == MediaKind::Audio {
                if let Some(Session::Member(me)) = sfu.sessions.get(&tid) {
                    let room = me.room.clone();
                    observe_microphone(sfu, &room, producer);
                }
            }
            let others = match sfu.sessions.get(&tid) {
                Some(Session::Member(me)) => sfu.rooms.rooms.get(&me.room).cloned(),
                _ => None,
            };
            for o in others.unwrap_or_default().into_iter().filter(|o| *o != tid) {
                consume_for(sfu, o, producer);
            }
            if let Some(Session::Member(me)) = sfu.sessions.get(&tid) {
                let (room, name) = (me.room.clone(), me.name.clone());
                crate::cluster::rooms::producer_added(sfu, &room, &name, producer, screen, None);
            }
        }
        Event::ConsumerReady { consumer, mid, .. } => {
            let Some(c) = sfu.router.consumer(consumer) else {
                return;
            };
            let (p, kind, score) = (c.producer(), Kind::from(c.kind()), c.stats().score);
            if let Some(peer) = owner_name(sfu, p) {
                let screen = is_screen(sfu, p);
                let track = ServerMsg::Track {
                    mid,
                    peer: peer.clone(),
                    kind,
                    screen,
                };
                send_to(sfu, tid, ToPeer::Msg(track));
                // The score so far (later changes come as they happen).
                if !screen {
                    let quality = ServerMsg::Quality { peer, kind, score };
                    send_to(sfu, tid, ToPeer::Msg(quality));
                }
            }
            if kind == Kind::Video {
                if let Some(Session::Member(me)) = sfu.sessions.get(&tid) {
                    let room = me.room.clone();
                    apply_last_n(sfu, &room);
                }
            }
        }
        Event::DataProducerAdded {
            data_producer,
            params,
            ..
        } if params.label == chat::CHAT => {
            let others = sfu.rooms.rooms.get(&me.room).cloned().unwrap_or_default();
            let (room, name) = (me.room.clone(), me.name.clone());
            chat::on_chat_producer(sfu, tid, data_producer, &others);
            crate::cluster::chat::local_chat(sfu, &room, &name, data_producer);
        }
        Event::RenegotiationNeeded { offer, .. } => {
            let gen = me.gen;
            send_to(sfu, tid, ToPeer::Offer { gen, sdp: offer });
        }
        Event::ProducerClosed { producer, .. } => on_producer_closed(sfu, tid, producer),
        Event::TransportClosed { reason, .. } => {
            let why = format!("media session closed ({reason:?})");
            drop_member(sfu, tid, Some((&why, true)));
        }
        Event::ConsumerScore {
            consumer, score, ..
        } => {
            let Some(c) = sfu.router.consumer(consumer) else {
                return;
            };
            let (p, kind) = (c.producer(), Kind::from(c.kind()));
            // A tile's hint is about the participant's camera and microphone.
            if is_screen(sfu, p) {
                return;
            }
            if let Some(peer) = owner_name(sfu, p) {
                let msg = ServerMsg::Quality { peer, kind, score };
                send_to(sfu, tid, ToPeer::Msg(msg));
            }
        }
        _ => {}
    }
}
