//! Copyable identifiers for the router's objects.
//!
//! The router owns every object; callers hold these ids and reach objects
//! through short-lived borrowed views such as [`Router::consumer`](crate::Router::consumer).

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u64);

        /// Serialized as its display form (`t1`, `p2`, `c3`), as in logs.
        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl $name {
            /// The raw number behind this id, unique within one router.
            pub fn as_u64(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// Identifies a WebRTC transport on a router (commands: [`TransportApi`](crate::TransportApi)).
    TransportId,
    "t"
);
id_type!(
    /// Identifies a producer: one incoming track of a transport.
    ProducerId,
    "p"
);
id_type!(
    /// Identifies a consumer: one outgoing copy of a producer on a transport.
    ConsumerId,
    "c"
);
id_type!(
    /// Identifies an observer: an audio level or active speaker observer
    /// (commands: [`ObserverApi`](crate::ObserverApi)).
    ObserverId,
    "o"
);

id_type!(
    /// Identifies a data producer: a data channel a client opened, or the
    /// host's own message source (commands: [`DataProducerApi`](crate::DataProducerApi)).
    DataProducerId,
    "dp"
);
id_type!(
    /// Identifies a data consumer: one data producer's messages forwarded
    /// to a client's data channel or to the host (commands:
    /// [`DataConsumerApi`](crate::DataConsumerApi)).
    DataConsumerId,
    "dc"
);
id_type!(
    /// Identifies a pipe: one end of an in-process link to another router
    /// (commands: [`PipeApi`](crate::PipeApi); what travels: the
    /// [`pipe`](crate::pipe) module).
    PipeId,
    "pipe"
);

impl PipeId {
    /// The id under which events name the pipe where they name a
    /// transport: a piped producer's [`Event::ProducerClosed`](crate::Event::ProducerClosed)
    /// carries it as its `transport` (the pipe is the transport the
    /// producer arrived on, as in mediasoup). Pipe and transport ids come
    /// from one counter, so it never names a WebRTC transport.
    pub fn as_transport(self) -> TransportId {
        TransportId(self.0)
    }
}

/// Hands out increasing ids. Ids are never reused within a router, so a stale
/// id can never reach a newer object.
#[derive(Debug, Default)]
pub(crate) struct IdGen(u64);

impl IdGen {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// A map keyed by router-assigned ids, hashed with FxHash (`rustc-hash`).
/// The ids are sequential numbers the router hands out, never chosen by a
/// peer, so they need no protection against collision attacks (maps keyed
/// by peer data keep std's SipHash); every forwarded packet looks up a
/// consumer and a transport by id, and SipHash was most of that lookup's
/// cost. FxHash replaced a hand-written multiplicative hasher: within 0.7 %
/// of its instructions per forwarded packet, below what timing resolves
/// (docs/benchmarks.md, "Id hasher").
pub(crate) type IdMap<K, V> = std::collections::HashMap<K, V, rustc_hash::FxBuildHasher>;
