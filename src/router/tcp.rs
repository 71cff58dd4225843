//! ICE over TCP (RFC 6544 passive candidates, RFC 4571 framing).
//!
//! The host owns the TCP sockets: it accepts connections on a listen
//! address's TCP port and feeds their byte streams in
//! ([`Input::TcpData`](crate::Input::TcpData)); the router cuts them into
//! frames, routes each frame like a UDP datagram, and frames what str0m
//! sends back ([`Via::Tcp`](crate::Via::Tcp) transmits, length prefix
//! included, so the host writes them as they are).
//!
//! Everything a TCP peer can make the router hold is bounded: connections
//! ([`Limits::max_tcp_connections`](crate::Limits) in all and
//! `max_tcp_connections_per_ip`), the bytes of one partial frame per
//! connection (`max_tcp_frame`: a longer length prefix closes the
//! connection before a byte of its body is kept), and time (a connection
//! with no accepted frame for `tcp_idle_timeout` is closed through the
//! router's timer table). Each refusal is counted in
//! [`RouterStats`](crate::RouterStats) and reported to the host with
//! [`Event::TcpConnectionClosed`].
//!
//! Demux stays O(1): STUN by our ICE ufrag, anything else by the
//! connection's transport (set when that transport sends on it, which str0m
//! does only after a check authenticated with our password).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use str0m::net::Protocol;

use super::timers::Timer;
use super::Router;
use crate::config::Limits;
use crate::{Event, TcpCloseReason, TcpConnId, TransportId};

/// An RFC 4571 deframer holding at most one partial frame.
#[derive(Default)]
pub(crate) struct Deframer {
    /// The partial frame, prefix included (at most `max + 2` bytes).
    buf: Vec<u8>,
}

/// A length prefix over the maximum (or zero).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FrameTooLarge;

impl Deframer {
    /// Feed `data`; `frame` gets every frame it completes, in order. Whole
    /// frames in `data` are passed without a copy; only a partial frame is
    /// buffered, and never one whose prefix is over `max`.
    pub(crate) fn push(
        &mut self,
        mut data: &[u8],
        max: usize,
        mut frame: impl FnMut(&[u8]),
    ) -> Result<(), FrameTooLarge> {
        loop {
            if self.buf.is_empty() {
                let Some(len) = prefix(data) else {
                    self.keep(data);
                    return Ok(());
                };
                check(len, max)?;
                if data.len() < 2 + len {
                    self.buf.reserve_exact(2 + len);
                    self.buf.extend_from_slice(data);
                    return Ok(());
                }
                frame(&data[2..2 + len]);
                data = &data[2 + len..];
                continue;
            }
            if self.buf.len() < 2 {
                let take = (2 - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..take]);
                data = &data[take..];
            }
            let Some(len) = prefix(&self.buf) else {
                return Ok(());
            };
            check(len, max)?;
            self.buf.reserve_exact(2 + len - self.buf.len());
            let take = (2 + len - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() < 2 + len {
                return Ok(());
            }
            frame(&self.buf[2..]);
            self.buf.clear();
        }
    }

    /// Keep the start (0 or 1 byte) of a prefix.
    fn keep(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes of the partial frame held.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len()
    }
}

fn prefix(data: &[u8]) -> Option<usize> {
    match data {
        [a, b, ..] => Some(u16::from_be_bytes([*a, *b]) as usize),
        _ => None,
    }
}

fn check(len: usize, max: usize) -> Result<(), FrameTooLarge> {
    if len == 0 || len > max {
        return Err(FrameTooLarge);
    }
    Ok(())
}

/// One connection the host reported.
pub(crate) struct Conn {
    pub source: SocketAddr,
    pub local: SocketAddr,
    /// The transport that last sent on it: non-STUN frames go there.
    pub transport: Option<TransportId>,
    /// When it opened or last delivered a frame its transport accepted.
    pub progress: Instant,
    deframer: Deframer,
}

/// The connections, by id and by (remote address, local port), and how
/// many per IP. By local port, not address: str0m names the listener's
/// address (`ListenInfo::tcp`, maybe `0.0.0.0`), a host may name the
/// connection's own local address.
#[derive(Default)]
pub(crate) struct TcpTable {
    conns: HashMap<TcpConnId, Conn>,
    by_route: HashMap<(SocketAddr, u16), TcpConnId>,
    per_ip: HashMap<IpAddr, usize>,
}

impl TcpTable {
    /// The connection of a (remote, local) pair, marking it as `t`'s: str0m
    /// sends only to a peer that authenticated.
    pub(crate) fn bind(
        &mut self,
        route: (SocketAddr, SocketAddr),
        t: TransportId,
    ) -> Option<TcpConnId> {
        let id = *self.by_route.get(&(route.0, route.1.port()))?;
        if let Some(c) = self.conns.get_mut(&id) {
            c.transport = Some(t);
        }
        Some(id)
    }

    fn remove(&mut self, id: TcpConnId) -> Option<Conn> {
        let c = self.conns.remove(&id)?;
        let key = (c.source, c.local.port());
        if self.by_route.get(&key) == Some(&id) {
            self.by_route.remove(&key);
        }
        if let Some(n) = self.per_ip.get_mut(&c.source.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&c.source.ip());
            }
        }
        Some(c)
    }

    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    /// Bytes of partial frames held, over all connections.
    pub(crate) fn buffered(&self) -> usize {
        self.conns.values().map(|c| c.deframer.buffered()).sum()
    }

    /// Whether a new connection from `ip` fits the limits.
    fn room_for(&self, ip: IpAddr, limits: &Limits) -> bool {
        self.conns.len() < limits.max_tcp_connections
            && self.per_ip.get(&ip).copied().unwrap_or(0) < limits.max_tcp_connections_per_ip
    }
}

impl Router {
    /// Make `conn` known (a no-op if it is). Returns false if it was refused.
    pub(super) fn tcp_accept(
        &mut self,
        now: Instant,
        conn: TcpConnId,
        source: SocketAddr,
        local: SocketAddr,
    ) -> bool {
        let table = &mut self.hub.tcp;
        if table.conns.contains_key(&conn) {
            return true;
        }
        if !table.room_for(source.ip(), &self.config.limits) {
            self.stats.tcp_refused += 1;
            self.emit(Event::TcpConnectionClosed {
                conn,
                reason: TcpCloseReason::TooManyConnections,
            });
            return false;
        }
        table.conns.insert(
            conn,
            Conn {
                source,
                local,
                transport: None,
                progress: now,
                deframer: Deframer::default(),
            },
        );
        table.by_route.insert((source, local.port()), conn);
        *table.per_ip.entry(source.ip()).or_default() += 1;
        self.stats.tcp_accepted += 1;
        let at = now + self.config.limits.tcp_idle_timeout;
        self.hub.timers.set(Timer::Tcp(conn), Some(at));
        true
    }

    /// Bytes of `conn`'s stream: cut into frames, each routed.
    pub(super) fn tcp_data(
        &mut self,
        now: Instant,
        conn: TcpConnId,
        source: SocketAddr,
        local: SocketAddr,
        data: &[u8],
    ) {
        if !self.tcp_accept(now, conn, source, local) {
            return;
        }
        let Some(c) = self.hub.tcp.conns.get_mut(&conn) else {
            return;
        };
        let (source, local) = (c.source, c.local);
        let mut deframer = std::mem::take(&mut c.deframer);
        let max = self.config.limits.max_tcp_frame;
        let result = deframer.push(data, max, |frame| {
            self.tcp_frame(now, conn, source, local, frame);
        });
        match result {
            Ok(()) => {
                if let Some(c) = self.hub.tcp.conns.get_mut(&conn) {
                    c.deframer = deframer;
                }
            }
            Err(FrameTooLarge) => {
                self.stats.tcp_frames_too_large += 1;
                self.close_tcp(conn, TcpCloseReason::FrameTooLarge);
            }
        }
    }

    /// One frame of `conn`: demux (STUN by ufrag, the rest by the
    /// connection's transport) and hand it to the transport.
    fn tcp_frame(
        &mut self,
        now: Instant,
        conn: TcpConnId,
        source: SocketAddr,
        local: SocketAddr,
        data: &[u8],
    ) {
        self.stats.datagrams_in += 1;
        let bound = self.hub.tcp.conns.get(&conn).and_then(|c| c.transport);
        let Some(tid) = self.demux_datagram(data, bound) else {
            return;
        };
        let Some(t) = self.transports.get_mut(&tid) else {
            self.stats.dropped_unknown_source += 1;
            return;
        };
        let span = t.span.clone();
        let _span = span.enter();
        let authenticated = bound == Some(tid);
        if !authenticated && !self.stun_limit.allow(source.ip(), now) {
            self.stats.dropped_rate_limited += 1;
            return;
        }
        let Some(destination) = t.listen_for_tcp(local).and_then(|l| l.tcp_candidate_addr()) else {
            self.stats.dropped_unknown_source += 1;
            return;
        };
        let received = t.receive(
            now,
            Protocol::Tcp,
            source,
            destination,
            data,
            &self.hub.kept,
        );
        if !super::count_received(&mut self.stats, t, received, data.len()) {
            return;
        }
        self.drain_transport(tid);
        self.on_owned_feedback(tid);
        let bound = match self.hub.tcp.conns.get_mut(&conn) {
            Some(c) => {
                c.progress = now;
                c.transport
            }
            None => None,
        };
        if bound == Some(tid) {
            // Only traffic on an authenticated connection proves liveness.
            if let Some(t) = self.transports.get_mut(&tid) {
                t.last_rx = now;
            }
        }
    }

    /// The host closed `conn`: forget it.
    pub(super) fn tcp_closed(&mut self, conn: TcpConnId) {
        if self.hub.tcp.remove(conn).is_some() {
            self.hub.timers.set(Timer::Tcp(conn), None);
        }
    }

    /// `conn`'s idle deadline came: close it, or wait for the new one.
    pub(super) fn tcp_timeout(&mut self, conn: TcpConnId, now: Instant) {
        let Some(c) = self.hub.tcp.conns.get(&conn) else {
            return;
        };
        let deadline = c.progress + self.config.limits.tcp_idle_timeout;
        if now < deadline {
            self.hub.timers.set(Timer::Tcp(conn), Some(deadline));
            return;
        }
        self.stats.tcp_idle_closed += 1;
        self.close_tcp(conn, TcpCloseReason::Idle);
    }

    /// Drop `conn` and tell the host to close it.
    fn close_tcp(&mut self, conn: TcpConnId, reason: TcpCloseReason) {
        if self.hub.tcp.remove(conn).is_none() {
            return;
        }
        self.hub.timers.set(Timer::Tcp(conn), None);
        tracing::debug!(%conn, ?reason, "TCP connection dropped");
        self.emit(Event::TcpConnectionClosed { conn, reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(d: &mut Deframer, data: &[u8], max: usize) -> Result<Vec<Vec<u8>>, FrameTooLarge> {
        let mut out = Vec::new();
        d.push(data, max, |f| out.push(f.to_vec()))?;
        Ok(out)
    }

    #[test]
    fn whole_split_and_coalesced_frames() {
        let stream = [0, 3, 1, 2, 3, 0, 1, 9, 0, 2, 7, 8];
        let mut d = Deframer::default();
        let all = frames(&mut d, &stream, 1500).unwrap();
        assert_eq!(all, vec![vec![1, 2, 3], vec![9], vec![7, 8]]);
        let mut d = Deframer::default();
        let mut got = Vec::new();
        for b in stream {
            got.extend(frames(&mut d, &[b], 1500).unwrap());
        }
        assert_eq!(got, all);
        assert_eq!(d.buffered(), 0);
        // Split in the middle of a prefix and of a body.
        let mut d = Deframer::default();
        let mut got = frames(&mut d, &stream[..6], 1500).unwrap();
        got.extend(frames(&mut d, &stream[6..11], 1500).unwrap());
        assert_eq!(d.buffered(), 3);
        got.extend(frames(&mut d, &stream[11..], 1500).unwrap());
        assert_eq!(got, all);
    }

    #[test]
    fn a_huge_prefix_is_refused_before_buffering() {
        let mut d = Deframer::default();
        assert_eq!(frames(&mut d, &[0xff, 0xff], 1500), Err(FrameTooLarge));
        let mut d = Deframer::default();
        assert!(frames(&mut d, &[0xff], 1500).unwrap().is_empty());
        assert_eq!(frames(&mut d, &[0xff, 1, 2], 1500), Err(FrameTooLarge));
        assert!(d.buf.capacity() < 16);
        let mut d = Deframer::default();
        assert_eq!(frames(&mut d, &[0, 0], 1500), Err(FrameTooLarge));
    }

    #[test]
    fn a_partial_frame_holds_at_most_its_length() {
        let mut d = Deframer::default();
        assert!(frames(&mut d, &[5, 220, 1], 1500).unwrap().is_empty());
        assert_eq!(d.buffered(), 3);
        assert!(d.buf.capacity() <= 1502);
    }
}
