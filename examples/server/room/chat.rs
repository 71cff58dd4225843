//! Chat through the SFU's data channels.
//!
//! A page opens one data channel labelled [`CHAT`] with its first offer.
//! The router makes it a data producer; the room consumes it on every other
//! member's transport under the label `chat:{name}`, so a page knows whose
//! message it is from the channel it arrives on (the name is the server's,
//! not the sender's claim). A member who joins later gets a channel for
//! each member already there. Messages are forwarded as they are, within
//! the router's data limits (size, rate per producer, buffered bytes per
//! consumer); the server never reads them.

use std::time::Instant;

use manifold_sfu::{DataConsumerOptions, DataProducerId, TransportId};
use tracing::warn;

use crate::media::{Session, Sfu};

/// The label of a page's chat channel.
pub const CHAT: &str = "chat";

/// `chat` channels of a member's page: its data producers labelled [`CHAT`].
fn chats_of(sfu: &mut Sfu, tid: TransportId) -> Vec<DataProducerId> {
    let dps = sfu
        .router
        .transport(tid)
        .map(|t| t.data_producers())
        .unwrap_or_default();
    dps.into_iter()
        .filter(|dp| {
            sfu.router
                .data_producer_ref(*dp)
                .is_some_and(|p| p.params().label == CHAT)
        })
        .collect()
}

fn name_of(sfu: &Sfu, tid: TransportId) -> Option<String> {
    match sfu.sessions.get(&tid) {
        Some(Session::Member(m)) => Some(m.name.clone()),
        _ => None,
    }
}

/// Forward `from`'s chat producer `dp` to member `to`.
pub fn forward(sfu: &mut Sfu, to: TransportId, from: &str, dp: DataProducerId) {
    let options = DataConsumerOptions::default().with_label(format!("{CHAT}:{from}"));
    if let Err(e) = sfu.router.consume_data(Instant::now(), to, dp, options) {
        warn!("chat from {from} cannot reach {to}: {e}");
    }
}

/// A member's page opened its chat channel: every other member gets it.
pub fn on_chat_producer(
    sfu: &mut Sfu,
    tid: TransportId,
    dp: DataProducerId,
    others: &[TransportId],
) {
    let Some(name) = name_of(sfu, tid) else {
        return;
    };
    for &o in others.iter().filter(|o| **o != tid) {
        forward(sfu, o, &name, dp);
    }
}

/// A member joined: it gets the chat of every member already there.
pub fn on_join(sfu: &mut Sfu, tid: TransportId, others: &[TransportId]) {
    for &o in others.iter().filter(|o| **o != tid) {
        let Some(name) = name_of(sfu, o) else {
            continue;
        };
        for dp in chats_of(sfu, o) {
            forward(sfu, tid, &name, dp);
        }
    }
}
