//! Data channels through the router: data producers and data consumers.
//!
//! A **data producer** is a source of messages: an SCTP data channel a
//! client opened on its transport (announced with
//! [`Event::DataProducerAdded`](crate::Event)), or one the host creates to
//! send its own messages ([`Router::create_data_producer`](crate::Router)).
//! A **data consumer** forwards one data producer's messages: to a client,
//! on a data channel the router opens on that client's transport
//! ([`Router::consume_data`](crate::Router)), or to the host itself as
//! [`Event::DataMessage`](crate::Event)
//! ([`Router::consume_data_direct`](crate::Router)).
//!
//! Messages are forwarded as they are, text or binary, never interpreted.
//! Everything is bounded ([`Limits`](crate::Limits)): message size, channels
//! per transport, messages and bytes per second per producer (past them,
//! messages are dropped and counted), and bytes buffered per consumer. A
//! consumer that cannot keep up drops messages (unreliable channels,
//! counted) or is closed with [`CloseReason::TooSlow`](crate::CloseReason)
//! (reliable channels); other consumers never wait for it.

mod bucket;

use std::collections::VecDeque;

use bytes::Bytes;

use crate::{DataConsumerId, DataProducerId, TransportId};

pub(crate) use bucket::TokenBucket;

/// How a data channel delivers: reliably, or giving up after a number of
/// retransmissions or a lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum DataReliability {
    /// Every message arrives (retransmitted as needed).
    #[default]
    Reliable,
    /// A message is retransmitted at most this many times
    /// (`maxRetransmits`).
    MaxRetransmits(u16),
    /// A message is retransmitted for at most this many milliseconds
    /// (`maxPacketLifeTime`).
    MaxPacketLifetime(u16),
}

impl DataReliability {
    /// Whether every message must arrive.
    pub fn is_reliable(self) -> bool {
        self == DataReliability::Reliable
    }
}

/// What a data channel is: what the client's `createDataChannel` said.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct DataChannelParams {
    /// The channel's label.
    pub label: String,
    /// Its sub-protocol (may be empty).
    pub protocol: String,
    /// Whether messages arrive in order.
    pub ordered: bool,
    /// Whether and how long lost messages are retransmitted.
    pub reliability: DataReliability,
}

impl DataChannelParams {
    /// A reliable, ordered channel named `label`, without sub-protocol.
    pub fn new(label: impl Into<String>) -> Self {
        DataChannelParams {
            label: label.into(),
            protocol: String::new(),
            ordered: true,
            reliability: DataReliability::Reliable,
        }
    }

    /// With this sub-protocol.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = protocol.into();
        self
    }

    /// Messages may arrive out of order.
    pub fn unordered(mut self) -> Self {
        self.ordered = false;
        self
    }

    /// With this reliability.
    pub fn with_reliability(mut self, reliability: DataReliability) -> Self {
        self.reliability = reliability;
        self
    }

    pub(crate) fn to_str0m(&self) -> str0m::channel::ChannelConfig {
        use str0m::channel::Reliability;
        str0m::channel::ChannelConfig {
            label: self.label.clone(),
            ordered: self.ordered,
            reliability: match self.reliability {
                DataReliability::Reliable => Reliability::Reliable,
                DataReliability::MaxRetransmits(n) => {
                    Reliability::MaxRetransmits { retransmits: n }
                }
                DataReliability::MaxPacketLifetime(ms) => {
                    Reliability::MaxPacketLifetime { lifetime: ms }
                }
            },
            negotiated: None,
            protocol: self.protocol.clone(),
        }
    }

    pub(crate) fn from_str0m(label: String, c: Option<&str0m::channel::ChannelConfig>) -> Self {
        use str0m::channel::Reliability;
        let Some(c) = c else {
            return DataChannelParams::new(label);
        };
        DataChannelParams {
            label,
            protocol: c.protocol.clone(),
            ordered: c.ordered,
            reliability: match c.reliability {
                Reliability::Reliable => DataReliability::Reliable,
                Reliability::MaxRetransmits { retransmits } => {
                    DataReliability::MaxRetransmits(retransmits)
                }
                Reliability::MaxPacketLifetime { lifetime } => {
                    DataReliability::MaxPacketLifetime(lifetime)
                }
            },
        }
    }
}

/// Options of [`Router::consume_data`](crate::Router::consume_data).
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct DataConsumerOptions {
    /// The label the client sees (default: the data producer's). A host
    /// can say whose messages a channel carries this way, e.g.
    /// `chat:alice`.
    pub label: Option<String>,
}

impl DataConsumerOptions {
    /// Show the channel to the client under this label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}

/// Counters of a data producer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct DataProducerStats {
    /// Messages received (or sent by the host) and forwarded.
    pub messages_received: u64,
    /// Bytes of those messages.
    pub bytes_received: u64,
    /// Messages dropped: over the producer's message or byte rate.
    pub messages_dropped_rate: u64,
    /// Messages dropped: larger than
    /// [`Limits::max_data_message_bytes`](crate::Limits).
    pub messages_dropped_size: u64,
}

/// Counters of a data consumer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct DataConsumerStats {
    /// Messages handed to the channel (or to the host).
    pub messages_sent: u64,
    /// Bytes of those messages.
    pub bytes_sent: u64,
    /// Messages dropped: the channel was full (unreliable channels) or not
    /// open yet and its waiting room full.
    pub messages_dropped: u64,
    /// Messages the client sent on the consumer's channel (channels are
    /// one-way through the router): ignored.
    pub messages_ignored: u64,
}

pub(crate) struct DataProducer {
    /// The transport whose client opened it; `None` for the host's own.
    pub transport: Option<TransportId>,
    /// The client's channel it arrives on.
    pub channel: Option<str0m::channel::ChannelId>,
    pub params: DataChannelParams,
    pub consumers: Vec<DataConsumerId>,
    pub rate: TokenBucket,
    pub stats: DataProducerStats,
}

pub(crate) struct DataConsumer {
    pub data_producer: DataProducerId,
    /// The transport it sends on; `None` when the host receives.
    pub transport: Option<TransportId>,
    pub params: DataChannelParams,
    /// Its channel, once open.
    pub channel: Option<str0m::channel::ChannelId>,
    /// Whether its channel is open at the client.
    pub open: bool,
    /// Messages waiting for the channel to open (bounded by bytes).
    pub waiting: VecDeque<(bool, Bytes)>,
    pub waiting_bytes: usize,
    pub stats: DataConsumerStats,
}

impl DataConsumer {
    /// Keep a message until the channel opens, within `max` bytes.
    pub(crate) fn wait(&mut self, binary: bool, data: Bytes, max: usize) -> bool {
        if self.waiting_bytes + data.len() > max {
            return false;
        }
        self.waiting_bytes += data.len();
        self.waiting.push_back((binary, data));
        true
    }
}
