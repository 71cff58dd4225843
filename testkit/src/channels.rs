//! A client's data channels: the ones it offers, opens and receives on, and
//! every message that arrived.

use std::collections::HashMap;
use std::time::Instant;

use str0m::change::SdpApi;
use str0m::channel::{ChannelConfig, ChannelId};
use str0m::Event;

use crate::client::Client;

/// One message received on a data channel.
#[derive(Debug, Clone)]
pub struct ChannelMessage {
    /// The label of the channel it arrived on.
    pub label: String,
    /// Binary or text.
    pub binary: bool,
    /// The bytes.
    pub data: Vec<u8>,
    /// When (virtual time).
    pub at: Instant,
}

/// A client's data channels.
#[derive(Debug, Default)]
pub struct Channels {
    /// Channels its next offer adds (the first brings the SCTP m-line).
    pub to_offer: Vec<ChannelConfig>,
    /// Open channels and their labels.
    pub open: HashMap<ChannelId, String>,
    /// Every message received, in order of arrival.
    pub received: Vec<ChannelMessage>,
    /// Labels of channels that closed.
    pub closed: Vec<String>,
}

impl Channels {
    /// Add the channels waiting for an offer to `api`.
    pub(crate) fn offer(&mut self, api: &mut SdpApi<'_>) {
        for c in self.to_offer.drain(..) {
            api.add_channel_with_config(c);
        }
    }

    /// Record a data channel event; whether it was one.
    pub(crate) fn on_event(&mut self, now: Instant, e: &Event) -> bool {
        match e {
            Event::ChannelOpen(id, label) => {
                self.open.insert(*id, label.clone());
            }
            Event::ChannelData(d) => {
                let label = self.open.get(&d.id).cloned().unwrap_or_default();
                self.received.push(ChannelMessage {
                    label,
                    binary: d.binary,
                    data: d.data.clone(),
                    at: now,
                });
            }
            Event::ChannelClose(id) => {
                if let Some(label) = self.open.remove(id) {
                    self.closed.push(label);
                }
            }
            _ => return false,
        }
        true
    }

    /// The open channel labelled `label`.
    pub fn by_label(&self, label: &str) -> Option<ChannelId> {
        self.open
            .iter()
            .find(|(_, l)| l.as_str() == label)
            .map(|(id, _)| *id)
    }

    /// The messages received on channels labelled `label`, in order.
    pub fn messages(&self, label: &str) -> Vec<&[u8]> {
        self.received
            .iter()
            .filter(|m| m.label == label)
            .map(|m| m.data.as_slice())
            .collect()
    }
}

impl Client {
    /// Offer a data channel in the next offer (`offer_send`, `offer_recv`...).
    pub fn offer_channel(&mut self, config: ChannelConfig) {
        self.channels.to_offer.push(config);
    }

    /// Send one message on the open channel labelled `label`; whether the
    /// SCTP stack took it.
    pub fn send_channel(&mut self, label: &str, binary: bool, data: &[u8]) -> bool {
        let Some(id) = self.channels.by_label(label) else {
            return false;
        };
        self.rtc
            .channel(id)
            .is_some_and(|mut c| c.write(binary, data).unwrap_or(false))
    }

    /// Close the open channel labelled `label`.
    pub fn close_channel(&mut self, label: &str) {
        if let Some(id) = self.channels.by_label(label) {
            self.rtc.direct_api().close_data_channel(id);
        }
    }
}
