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
