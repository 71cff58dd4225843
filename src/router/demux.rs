//! Routing datagrams on a shared UDP port to their transport, in O(1).
//!
//! STUN checks carry `USERNAME = <our ufrag>:<their ufrag>`, so the first
//! lookup is by our ICE ufrag. Everything else (DTLS, SRTP, SRTCP, and STUN
//! without a username) is looked up by its (remote, local) address pair. A
//! pair is only added once the transport has sent to that remote address,
//! which str0m only does after a check authenticated with our password: an
//! unauthenticated source never gets a route and never creates state.
//!
//! ICE-over-TCP frames are demuxed the same way, with the connection in
//! place of the address pair: STUN by ufrag, the rest by the transport that
//! sent on the connection (see `router/tcp.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::{PipeId, TransportId};

#[derive(Default)]
pub(crate) struct Demux {
    by_ufrag: HashMap<Box<[u8]>, TransportId>,
    by_route: HashMap<(SocketAddr, SocketAddr), TransportId>,
    /// Remote pipes by (remote, local) address pair: set by the host when
    /// it creates one, so a sealed datagram finds its pipe at once.
    pipes: HashMap<(SocketAddr, SocketAddr), PipeId>,
}

impl Demux {
    pub(crate) fn add_ufrag(&mut self, ufrag: &str, t: TransportId) {
        self.by_ufrag.insert(ufrag.as_bytes().into(), t);
    }

    pub(crate) fn remove_ufrag(&mut self, ufrag: &str, t: TransportId) {
        if self.by_ufrag.get(ufrag.as_bytes()) == Some(&t) {
            self.by_ufrag.remove(ufrag.as_bytes());
        }
    }

    pub(crate) fn by_ufrag(&self, ufrag: &[u8]) -> Option<TransportId> {
        self.by_ufrag.get(ufrag).copied()
    }

    /// Route a (remote, local) pair to `t`. A pair moves to the transport
    /// that most recently authenticated it.
    pub(crate) fn add_route(&mut self, route: (SocketAddr, SocketAddr), t: TransportId) {
        self.by_route.insert(route, t);
    }

    pub(crate) fn remove_route(&mut self, route: (SocketAddr, SocketAddr), t: TransportId) {
        if self.by_route.get(&route) == Some(&t) {
            self.by_route.remove(&route);
        }
    }

    pub(crate) fn by_route(&self, route: (SocketAddr, SocketAddr)) -> Option<TransportId> {
        self.by_route.get(&route).copied()
    }

    pub(crate) fn add_pipe(&mut self, route: (SocketAddr, SocketAddr), p: PipeId) {
        self.pipes.insert(route, p);
    }

    pub(crate) fn remove_pipe(&mut self, route: (SocketAddr, SocketAddr), p: PipeId) {
        if self.pipes.get(&route) == Some(&p) {
            self.pipes.remove(&route);
        }
    }

    pub(crate) fn pipe(&self, route: (SocketAddr, SocketAddr)) -> Option<PipeId> {
        self.pipes.get(&route).copied()
    }

    #[cfg(feature = "testkit-hooks")]
    pub(crate) fn pipe_count(&self) -> usize {
        self.pipes.len()
    }

    pub(crate) fn ufrag_count(&self) -> usize {
        self.by_ufrag.len()
    }

    pub(crate) fn route_count(&self) -> usize {
        self.by_route.len()
    }
}
