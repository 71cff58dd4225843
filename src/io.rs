//! What the host feeds into the router and what it drains out of it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::Event;

/// Input to [`Router::handle_input`](crate::Router::handle_input).
///
/// Every input carries the time; the router never reads a clock. Time given to
/// the router must never go backwards.
///
/// Build a received datagram with [`Input::receive`]: the variant may gain
/// fields (the transport it came on, for ICE over TCP) without breaking
/// hosts.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input<'a> {
    /// A UDP datagram the host received.
    #[non_exhaustive]
    Receive {
        /// When the datagram was received.
        now: Instant,
        /// The peer address the datagram came from.
        source: SocketAddr,
        /// The local socket address it arrived on (one of the listen addresses).
        destination: SocketAddr,
        /// The datagram's bytes.
        data: &'a [u8],
    },
    /// The time has advanced to (at least) the last [`Output::Timeout`].
    Timeout(Instant),
}

impl<'a> Input<'a> {
    /// A datagram received at `now` from `source` on the local socket
    /// address `destination` (one of the listen addresses).
    pub fn receive(
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &'a [u8],
    ) -> Input<'a> {
        Input::Receive {
            now,
            source,
            destination,
            data,
        }
    }

    /// The time this input carries.
    pub fn now(&self) -> Instant {
        match self {
            Input::Receive { now, .. } => *now,
            Input::Timeout(now) => *now,
        }
    }
}

/// A datagram the host must send.
///
/// Its bytes are a [`Bytes`]: the host may hand them to its I/O (or keep
/// them past the next [`Router::poll_output`](crate::Router::poll_output))
/// without a copy.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Transmit {
    /// The local address to send from (one of the listen addresses).
    pub source: SocketAddr,
    /// The peer address to send to.
    pub destination: SocketAddr,
    /// The datagram's bytes.
    pub contents: Bytes,
}

impl Transmit {
    /// A datagram from `source` to `destination` (for hosts that test
    /// their I/O with transmits of their own).
    pub fn new(source: SocketAddr, destination: SocketAddr, contents: impl Into<Bytes>) -> Self {
        Transmit {
            source,
            destination,
            contents: contents.into(),
        }
    }
}

/// Output of [`Router::poll_output`](crate::Router::poll_output).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
pub enum Output {
    /// A datagram to send now.
    Transmit(Transmit),
    /// Something happened that the host may act on.
    Event(Event),
    /// Nothing more to do until this time (or the next datagram). Draining
    /// stops here: call [`Router::handle_input`](crate::Router::handle_input)
    /// with [`Input::Timeout`] when the time comes.
    Timeout(Instant),
}

/// Outputs waiting for the host. Bounded: past the limit, transmits are
/// dropped (and counted); events are always kept, since losing one would
/// leave the host with a wrong picture of the router.
pub(crate) struct OutQueue {
    queue: VecDeque<Output>,
    max: usize,
    pub dropped: u64,
}

impl OutQueue {
    pub(crate) fn new(max: usize) -> Self {
        OutQueue {
            queue: VecDeque::new(),
            max,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, o: Output) {
        if self.queue.len() >= self.max && matches!(o, Output::Transmit(_)) {
            self.dropped += 1;
            return;
        }
        self.queue.push_back(o);
    }

    pub(crate) fn pop(&mut self) -> Option<Output> {
        self.queue.pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}
