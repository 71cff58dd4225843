//! Room chat across workers and nodes.
//!
//! Data channels do not travel through pipes, so chat takes the room's
//! control messages instead. Each member's chat channel is also consumed
//! by the host (a direct data consumer, a *tap*); what it says goes to the
//! room's other nodes as `Chat` messages (member node → hub → the other
//! member nodes). There each member of another node has a *voice*: a data
//! producer of the host, consumed by every local member as `chat:{name}`
//! exactly like a local member's channel, and fed the messages as they
//! come. A voice closes when its member leaves (the pages see its channel
//! close).
//!
//! Bounded by the router's data limits like any channel: the tap reads at
//! the sender's producer rate; a voice is a producer with the same
//! per-consumer buffer limits.

use std::collections::HashMap;
use std::time::Instant;

use base64::Engine;
use manifold_sfu::{DataChannelParams, DataConsumerId, DataProducerId, Event};
use tracing::{debug, warn};

use super::rooms::{self, RoomMsg};
use crate::media::Sfu;

/// The chat state of the cluster's rooms, inside the router's loop.
#[derive(Default)]
pub struct Chats {
    /// The host's taps on local members' chat channels → (room, member).
    taps: HashMap<DataConsumerId, (String, String)>,
    /// Voices of members elsewhere: (room, member) → the host's producer.
    voices: HashMap<(String, String), DataProducerId>,
}

impl Chats {
    /// The voices of `room`'s members elsewhere: (member, producer).
    pub fn voices(&self, room: &str) -> Vec<(String, DataProducerId)> {
        self.voices
            .iter()
            .filter(|((r, _), _)| r == room)
            .map(|((_, m), dp)| (m.clone(), *dp))
            .collect()
    }
}

/// A local member's chat channel opened: tap it (when rooms are shared).
pub fn local_chat(sfu: &mut Sfu, room: &str, member: &str, dp: DataProducerId) {
    if sfu.cluster_id.is_none() {
        return;
    }
    match sfu.router.consume_data_direct(Instant::now(), dp) {
        Ok(tap) => {
            let who = (room.to_owned(), member.to_owned());
            sfu.cluster.chat.taps.insert(tap, who);
        }
        Err(e) => warn!("room {room}: cannot tap {member}'s chat: {e}"),
    }
}

/// Chat events: a tapped message, or a tap gone. True if it was one.
pub fn on_event(sfu: &mut Sfu, e: &Event) -> bool {
    match e {
        Event::DataMessage {
            data_consumer,
            binary,
            data,
            ..
        } => {
            let Some((room, member)) = sfu.cluster.chat.taps.get(data_consumer).cloned() else {
                return false;
            };
            if !rooms::is_shared(sfu, &room) {
                return true;
            }
            let text = base64::engine::general_purpose::STANDARD.encode(data);
            let msg = RoomMsg::Chat {
                room: room.clone(),
                node: rooms::me(sfu),
                member,
                binary: *binary,
                data: text,
            };
            rooms::send_on(sfu, &room, None, msg);
            true
        }
        Event::DataConsumerClosed {
            data_consumer,
            transport: None,
            ..
        } => sfu.cluster.chat.taps.remove(data_consumer).is_some(),
        _ => false,
    }
}

/// The voice of `member` of another node in `room`, made (and given to
/// every local member) if it has none yet.
pub fn voice(sfu: &mut Sfu, room: &str, member: &str) -> DataProducerId {
    let key = (room.to_owned(), member.to_owned());
    if let Some(dp) = sfu.cluster.chat.voices.get(&key) {
        return *dp;
    }
    let params = DataChannelParams::new(crate::room::CHAT);
    let dp = sfu.router.create_data_producer(Instant::now(), params);
    sfu.cluster.chat.voices.insert(key, dp);
    crate::room::forward_voice(sfu, room, member, dp);
    dp
}

/// A chat message of `member` of another node arrived: its voice here
/// says it.
pub fn said(sfu: &mut Sfu, room: &str, member: &str, binary: bool, data: &str) {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) else {
        return debug!("room {room}: undecodable chat message from {member}");
    };
    if crate::room::local_members(sfu, room) == 0 {
        return;
    }
    let voice = voice(sfu, room, member);
    if let Some(mut p) = sfu.router.data_producer(voice) {
        p.send(Instant::now(), binary, bytes);
    }
}

/// A member of another node left: its voice goes quiet for good.
pub fn left(sfu: &mut Sfu, room: &str, member: &str) {
    let key = (room.to_owned(), member.to_owned());
    if let Some(dp) = sfu.cluster.chat.voices.remove(&key) {
        if let Some(p) = sfu.router.data_producer(dp) {
            p.close(Instant::now());
        }
    }
}

/// Every voice of `room` closes (it is no longer shared here).
pub fn forget_room(sfu: &mut Sfu, room: &str) {
    for (member, _) in sfu.cluster.chat.voices(room) {
        left(sfu, room, &member);
    }
}
