//! Events the router reports to its host.

use bytes::Bytes;

use crate::{
    ConsumerId, DataChannelParams, DataConsumerId, DataProducerId, Layers, MediaKind, ObserverId,
    PipeId, ProducerId, TcpConnId, TransportId,
};

/// Something the host may act on, drained through [`Output::Event`](crate::Output::Event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Event {
    /// ICE and DTLS completed: media can flow on this transport.
    TransportConnected {
        /// The transport.
        transport: TransportId,
    },
    /// The transport is gone; every producer and consumer on it was closed
    /// first (each with its own event).
    TransportClosed {
        /// The transport.
        transport: TransportId,
        /// Why it closed.
        reason: CloseReason,
    },
    /// The router needs the client to take a new offer (server-initiated
    /// renegotiation). Send `offer` to the client and hand its answer to
    /// [`TransportApi::accept_answer`](crate::TransportApi::accept_answer).
    RenegotiationNeeded {
        /// The transport.
        transport: TransportId,
        /// The SDP offer.
        offer: String,
    },
    /// The client's SDP added a track the router receives.
    ProducerAdded {
        /// The new producer.
        producer: ProducerId,
        /// The transport it arrives on.
        transport: TransportId,
        /// Audio or video.
        kind: MediaKind,
    },
    /// A producer is gone; its consumers were closed first.
    ProducerClosed {
        /// The producer.
        producer: ProducerId,
        /// The transport it arrived on.
        transport: TransportId,
        /// Why it closed.
        reason: CloseReason,
    },
    /// A consumer is bound to an m-line of its transport and forwards media.
    ConsumerReady {
        /// The consumer.
        consumer: ConsumerId,
        /// Its transport.
        transport: TransportId,
        /// The SDP media id (`a=mid`) that carries it.
        mid: String,
    },
    /// The layers a consumer forwards changed (a switch landed on a
    /// keyframe, or a temporal change at a frame boundary). `None` while it
    /// waits for its first keyframe.
    ConsumerLayersChanged {
        /// The consumer.
        consumer: ConsumerId,
        /// Its transport.
        transport: TransportId,
        /// The layers now forwarded.
        layers: Option<Layers>,
    },
    /// The bandwidth allocator changed a consumer's share: `Some(bps)` is
    /// its new bitrate cap, `None` pauses it (video only; audio is never
    /// paused for bandwidth) until room returns.
    ConsumerAllocationChanged {
        /// The consumer.
        consumer: ConsumerId,
        /// Its transport.
        transport: TransportId,
        /// Its share, or `None` when paused for bandwidth.
        bitrate: Option<u64>,
    },
    /// A producer's quality score (0 to 10, see [`ProducerStats::score`](crate::ProducerStats))
    /// changed.
    ProducerScore {
        /// The producer.
        producer: ProducerId,
        /// The transport it arrives on.
        transport: TransportId,
        /// The new score.
        score: u8,
    },
    /// A consumer's quality score (0 to 10, never above its producer's; see
    /// [`ConsumerStats::score`](crate::ConsumerStats)) changed.
    ConsumerScore {
        /// The consumer.
        consumer: ConsumerId,
        /// Its transport.
        transport: TransportId,
        /// The new score.
        score: u8,
    },
    /// A consumer is gone.
    ConsumerClosed {
        /// The consumer.
        consumer: ConsumerId,
        /// Its transport.
        transport: TransportId,
        /// The producer it consumed.
        producer: ProducerId,
        /// Why it closed.
        reason: CloseReason,
    },
    /// An audio level observer's report for the last interval: the
    /// observed producers whose mean level reached its threshold, loudest
    /// first, at most its `max_entries`.
    AudioLevels {
        /// The observer.
        observer: ObserverId,
        /// Each producer with its mean level in dBov (-127 to 0, 0 the
        /// loudest), loudest first.
        levels: Vec<(ProducerId, i8)>,
    },
    /// An audio level observer found no producer at its threshold in the
    /// last interval after reporting levels: reported once when the levels
    /// stop (the next report is [`Event::AudioLevels`]). An observer that
    /// never heard anyone, or was just resumed, reports nothing.
    Silence {
        /// The observer.
        observer: ObserverId,
    },
    /// An active speaker observer's dominant speaker changed.
    DominantSpeaker {
        /// The observer.
        observer: ObserverId,
        /// The producer that now holds the floor.
        producer: ProducerId,
    },
    /// A client opened a data channel: it is now a data producer, which
    /// other transports can consume ([`Router::consume_data`](crate::Router::consume_data)).
    DataProducerAdded {
        /// The new data producer.
        data_producer: DataProducerId,
        /// The transport whose client opened the channel.
        transport: TransportId,
        /// What the client's channel is.
        params: DataChannelParams,
    },
    /// A data producer is gone; its data consumers were closed first.
    DataProducerClosed {
        /// The data producer.
        data_producer: DataProducerId,
        /// Its client's transport (`None`: the host's own).
        transport: Option<TransportId>,
        /// Why it closed.
        reason: CloseReason,
    },
    /// A data consumer's channel is open at its client: messages flow.
    DataConsumerOpen {
        /// The data consumer.
        data_consumer: DataConsumerId,
        /// Its transport.
        transport: TransportId,
    },
    /// A data consumer is gone.
    DataConsumerClosed {
        /// The data consumer.
        data_consumer: DataConsumerId,
        /// Its transport (`None`: the host received its messages).
        transport: Option<TransportId>,
        /// The data producer it consumed.
        data_producer: DataProducerId,
        /// Why it closed.
        reason: CloseReason,
    },
    /// A message for the host, from a data consumer made with
    /// [`Router::consume_data_direct`](crate::Router::consume_data_direct).
    DataMessage {
        /// The host's data consumer.
        data_consumer: DataConsumerId,
        /// Where the message came from.
        data_producer: DataProducerId,
        /// Binary (`true`) or text (UTF-8, as the sender wrote it).
        binary: bool,
        /// The message, as it arrived.
        data: Bytes,
    },
    /// The router dropped an ICE-over-TCP connection: the host must close
    /// its socket and feed nothing more from it (bytes fed under the same
    /// [`TcpConnId`] would count as a new connection); no
    /// [`Input::tcp_closed`](crate::Input::tcp_closed) is needed after this.
    TcpConnectionClosed {
        /// The connection.
        conn: TcpConnId,
        /// Why.
        reason: TcpCloseReason,
    },
    /// A producer of another router arrived through a pipe
    /// ([`Router::create_pipe`](crate::Router::create_pipe)): consume it
    /// like a local one. When it closes, [`Event::ProducerClosed`] names
    /// [`PipeId::as_transport`] as its transport.
    PipeProducerAdded {
        /// The piped producer, on this router.
        producer: ProducerId,
        /// The pipe it arrived on.
        pipe: PipeId,
        /// Its id on the router that sends it (for the host's directory).
        remote_producer: ProducerId,
        /// Audio or video.
        kind: MediaKind,
    },
    /// A pipe is gone: closed here, or by the other router. Every producer
    /// it brought in closed before (with their consumers), and this router
    /// sends nothing more through it.
    PipeClosed {
        /// The pipe.
        pipe: PipeId,
        /// [`CloseReason::Requested`] if closed here,
        /// [`CloseReason::PeerClosed`] if by the other router.
        reason: CloseReason,
    },
}

/// Why the router dropped an ICE-over-TCP connection. Each is counted in
/// [`RouterStats`](crate::RouterStats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum TcpCloseReason {
    /// Refused at once: [`Limits::max_tcp_connections`](crate::Limits) or
    /// `max_tcp_connections_per_ip` reached.
    TooManyConnections,
    /// A frame's length prefix was over [`Limits::max_tcp_frame`](crate::Limits)
    /// (or zero).
    FrameTooLarge,
    /// No accepted frame for [`Limits::tcp_idle_timeout`](crate::Limits).
    Idle,
}

impl Event {
    /// The transport this event concerns, if it concerns one (observers'
    /// events and [`Event::TcpConnectionClosed`] concern none).
    pub fn transport(&self) -> Option<TransportId> {
        match self {
            Event::TransportConnected { transport }
            | Event::TransportClosed { transport, .. }
            | Event::RenegotiationNeeded { transport, .. }
            | Event::ProducerAdded { transport, .. }
            | Event::ProducerClosed { transport, .. }
            | Event::ConsumerReady { transport, .. }
            | Event::ConsumerLayersChanged { transport, .. }
            | Event::ConsumerAllocationChanged { transport, .. }
            | Event::ProducerScore { transport, .. }
            | Event::ConsumerScore { transport, .. }
            | Event::ConsumerClosed { transport, .. }
            | Event::DataProducerAdded { transport, .. }
            | Event::DataConsumerOpen { transport, .. } => Some(*transport),
            Event::DataProducerClosed { transport, .. }
            | Event::DataConsumerClosed { transport, .. } => *transport,
            Event::DataMessage { .. } => None,
            Event::AudioLevels { .. } | Event::Silence { .. } | Event::DominantSpeaker { .. } => {
                None
            }
            Event::TcpConnectionClosed { .. } => None,
            Event::PipeProducerAdded { pipe, .. } => Some(pipe.as_transport()),
            Event::PipeClosed { .. } => None,
        }
    }

    /// The producer this event concerns: the producer added or closed, the
    /// one a closed consumer consumed, or the new dominant speaker.
    pub fn producer(&self) -> Option<ProducerId> {
        match self {
            Event::ProducerAdded { producer, .. }
            | Event::ProducerClosed { producer, .. }
            | Event::ProducerScore { producer, .. }
            | Event::ConsumerClosed { producer, .. }
            | Event::PipeProducerAdded { producer, .. }
            | Event::DominantSpeaker { producer, .. } => Some(*producer),
            _ => None,
        }
    }

    /// The observer this event comes from, if an observer's.
    pub fn observer(&self) -> Option<ObserverId> {
        match self {
            Event::AudioLevels { observer, .. }
            | Event::Silence { observer }
            | Event::DominantSpeaker { observer, .. } => Some(*observer),
            _ => None,
        }
    }

    /// The consumer this event concerns, if any.
    pub fn consumer(&self) -> Option<ConsumerId> {
        match self {
            Event::ConsumerReady { consumer, .. }
            | Event::ConsumerLayersChanged { consumer, .. }
            | Event::ConsumerAllocationChanged { consumer, .. }
            | Event::ConsumerScore { consumer, .. }
            | Event::ConsumerClosed { consumer, .. } => Some(*consumer),
            _ => None,
        }
    }
}

/// Why a transport, producer or consumer closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum CloseReason {
    /// The host asked for it.
    Requested,
    /// The peer stopped answering for longer than the liveness timeout.
    LivenessTimeout,
    /// The peer closed DTLS or stopped the track in SDP.
    PeerClosed,
    /// The transport it belongs to closed.
    TransportClosed,
    /// The producer it consumed closed.
    ProducerClosed,
    /// An internal error in the transport's WebRTC stack closed it; other
    /// transports are unaffected.
    Failed,
    /// A data consumer on a reliable channel could not keep up: more than
    /// [`Limits::max_data_buffered_bytes`](crate::Limits) waited for its
    /// client.
    TooSlow,
}
