//! What the host feeds into the router and what it drains out of it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::pipe::PipeMessage;
use crate::{Event, PipeId};

/// Input to [`Router::handle_input`](crate::Router::handle_input).
///
/// Every input carries the time; the router never reads a clock. Time given to
/// the router must never go backwards.
///
/// Build a received datagram with [`Input::receive`], and the ICE-over-TCP
/// inputs with [`Input::tcp_accepted`], [`Input::tcp_data`] and
/// [`Input::tcp_closed`]: the variants may gain fields without breaking
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
    /// The host accepted a TCP connection on a listen address's TCP port
    /// (ICE over TCP, see [`ListenInfo::with_tcp`](crate::ListenInfo::with_tcp)).
    #[non_exhaustive]
    TcpAccepted {
        /// When it was accepted.
        now: Instant,
        /// The host's name for the connection (never reused).
        conn: TcpConnId,
        /// The peer's address.
        source: SocketAddr,
        /// The local address it was accepted on: the listener's
        /// ([`ListenInfo::tcp`](crate::ListenInfo::tcp)) or the
        /// connection's own (a listener on `0.0.0.0` matches any IP on
        /// its port).
        destination: SocketAddr,
    },
    /// Bytes read from a TCP connection: any slice of the RFC 4571 byte
    /// stream (a frame split across reads, or several frames in one, are
    /// both fine). A connection the router has not seen yet is accepted
    /// first, as by [`Input::TcpAccepted`].
    #[non_exhaustive]
    TcpData {
        /// When the bytes were read.
        now: Instant,
        /// The host's name for the connection.
        conn: TcpConnId,
        /// The peer's address.
        source: SocketAddr,
        /// The local address the connection was accepted on.
        destination: SocketAddr,
        /// The bytes, in stream order.
        data: &'a [u8],
    },
    /// A TCP connection is gone (the peer closed it, or the host did).
    #[non_exhaustive]
    TcpClosed {
        /// When it was noticed.
        now: Instant,
        /// The connection.
        conn: TcpConnId,
    },
    /// A message the other end of a pipe emitted ([`Output::Pipe`]),
    /// carried here by the host. Build it with [`Input::pipe`].
    #[non_exhaustive]
    Pipe {
        /// When it arrived.
        now: Instant,
        /// This router's end of the pipe.
        pipe: PipeId,
        /// The message, as the other router emitted it.
        message: PipeMessage,
    },
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

    /// The host accepted TCP connection `conn` from `source` on the local
    /// address `destination`. Optional (the first [`Input::tcp_data`]
    /// does the same), but it lets the router count and time out
    /// connections that never send a byte.
    pub fn tcp_accepted(
        now: Instant,
        conn: TcpConnId,
        source: SocketAddr,
        destination: SocketAddr,
    ) -> Input<'a> {
        Input::TcpAccepted {
            now,
            conn,
            source,
            destination,
        }
    }

    /// Bytes read at `now` from TCP connection `conn` (from `source`,
    /// accepted on the local address `destination`).
    pub fn tcp_data(
        now: Instant,
        conn: TcpConnId,
        source: SocketAddr,
        destination: SocketAddr,
        data: &'a [u8],
    ) -> Input<'a> {
        Input::TcpData {
            now,
            conn,
            source,
            destination,
            data,
        }
    }

    /// TCP connection `conn` closed (end of stream, an error, or the host
    /// closed it).
    pub fn tcp_closed(now: Instant, conn: TcpConnId) -> Input<'a> {
        Input::TcpClosed { now, conn }
    }

    /// A message from the other end of `pipe` (this router's pipe id),
    /// arrived at `now`.
    pub fn pipe(now: Instant, pipe: PipeId, message: PipeMessage) -> Input<'a> {
        Input::Pipe { now, pipe, message }
    }

    /// The time this input carries.
    pub fn now(&self) -> Instant {
        match self {
            Input::Receive { now, .. }
            | Input::TcpAccepted { now, .. }
            | Input::TcpData { now, .. }
            | Input::TcpClosed { now, .. }
            | Input::Pipe { now, .. } => *now,
            Input::Timeout(now) => *now,
        }
    }
}

/// A datagram the host must send.
///
/// Its bytes are a [`Bytes`]: the host may hand them to its I/O (or keep
/// them past the next [`Router::poll_output`](crate::Router::poll_output))
/// without a copy. Forwarded media on the owned send path
/// ([`SendPath::Owned`](crate::SendPath::Owned)) is written into blocks
/// of 32 KiB that consecutive transmits share, so the router allocates
/// once per block rather than once per datagram: keeping one such
/// transmit keeps its block alive, and dropping transmits once they are
/// sent (as a host does anyway) lets the router write the block again.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Transmit {
    /// The local address to send from (one of the listen addresses).
    pub source: SocketAddr,
    /// The peer address to send to.
    pub destination: SocketAddr,
    /// The datagram's bytes. On [`Via::Tcp`] they already carry the
    /// RFC 4571 two-byte length prefix: write them to the connection as
    /// they are.
    pub contents: Bytes,
    /// How it leaves: the UDP socket of `source`, or a TCP connection.
    pub via: Via,
}

/// A TCP connection the host owns, named by the host: any `u64` it likes,
/// as long as it never names two connections alike during a router's life
/// (a counter is fine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TcpConnId(pub u64);

impl std::fmt::Display for TcpConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tcp{}", self.0)
    }
}

/// Which way a [`Transmit`] leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// A UDP datagram from the socket bound to `source`.
    Udp,
    /// Bytes to write to this TCP connection (framed already).
    Tcp(TcpConnId),
}

impl Transmit {
    /// A datagram from `source` to `destination` (for hosts that test
    /// their I/O with transmits of their own).
    pub fn new(source: SocketAddr, destination: SocketAddr, contents: impl Into<Bytes>) -> Self {
        Transmit {
            source,
            destination,
            contents: contents.into(),
            via: Via::Udp,
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
    /// A message for the other end of a pipe: hand it to that router as
    /// [`Input::pipe`] with *its* pipe id, in the order they come out (see
    /// [`Router::create_pipe`](crate::Router::create_pipe)).
    Pipe {
        /// This router's end of the pipe.
        pipe: PipeId,
        /// The message.
        message: PipeMessage,
    },
}

/// Outputs waiting for the host. Bounded: past the limit, transmits and
/// piped media are dropped (and counted); events and pipe control messages are always kept, since losing one would
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
        let droppable = match &o {
            Output::Transmit(_) => true,
            Output::Pipe { message, .. } => message.is_media(),
            _ => false,
        };
        if self.queue.len() >= self.max && droppable {
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
