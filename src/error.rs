//! Errors returned by the router's commands.

use crate::{ConsumerId, DataConsumerId, DataProducerId, ProducerId, TransportId};

/// Errors from [`Router`](crate::Router) commands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// No transport with this id (never existed or already closed).
    #[error("unknown transport {0}")]
    UnknownTransport(TransportId),
    /// No producer with this id.
    #[error("unknown producer {0}")]
    UnknownProducer(ProducerId),
    /// No consumer with this id.
    #[error("unknown consumer {0}")]
    UnknownConsumer(ConsumerId),
    /// No data producer with this id.
    #[error("unknown data producer {0}")]
    UnknownDataProducer(DataProducerId),
    /// No data consumer with this id.
    #[error("unknown data consumer {0}")]
    UnknownDataConsumer(DataConsumerId),
    /// A configured limit was reached; the command was refused.
    #[error("limit reached: {what} (max {max})")]
    Limit {
        /// Which limit, as named in [`Limits`](crate::Limits).
        what: &'static str,
        /// The configured maximum.
        max: usize,
    },
    /// The consumer would consume from its own transport.
    #[error("a transport cannot consume its own producer")]
    SelfConsume,
    /// A signaling error on a transport.
    #[error(transparent)]
    Signaling(#[from] SignalingError),
    /// The transport options are not usable.
    #[error("invalid transport options: {0}")]
    InvalidOptions(String),
}

/// Errors in the offer/answer exchange of a transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalingError {
    /// The SDP is larger than [`Limits::max_sdp_bytes`](crate::Limits::max_sdp_bytes).
    #[error("SDP too large: {len} bytes (max {max})")]
    SdpTooLarge {
        /// Size of the refused SDP.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The SDP has more media sections than allowed.
    #[error("too many m-lines: {count} (max {max})")]
    TooManyMLines {
        /// Number of m-lines in the refused SDP.
        count: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The SDP could not be parsed.
    #[error("malformed SDP: {0}")]
    BadSdp(String),
    /// The WebRTC stack refused the description.
    #[error("refused SDP: {0}")]
    Refused(String),
    /// An answer arrived but no offer of ours is pending.
    #[error("no offer pending")]
    NoPendingOffer,
    /// The transport is closed.
    #[error("transport closed")]
    Closed,
}
