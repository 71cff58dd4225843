//! Where a transport's output is applied: the one place that turns what a
//! transport reports (transmits, str0m events, routes learned or evicted,
//! failure, next deadline) into router state.
//!
//! The hub is kept apart from the router's object maps so the media path
//! can absorb one subscriber's output while it holds the producer and its
//! consumers.

use std::collections::VecDeque;

use crate::config::RouterConfig;
use crate::io::{OutQueue, Output, Transmit, Via};
use crate::transport::{Drained, Transport};
use crate::TransportId;

use super::demux::Demux;
use super::tcp::TcpTable;
use super::timers::{Timer, Timers};

pub(crate) struct Hub {
    /// Outputs for the host (bounded).
    pub out: OutQueue,
    /// ICE ufrag and address-pair routing of incoming datagrams.
    pub demux: Demux,
    /// When the router wakes, and for what.
    pub timers: Timers,
    /// str0m events waiting to be handled, in order.
    pub work: VecDeque<(TransportId, str0m::Event)>,
    /// Transports whose WebRTC stack failed, to close after the current step.
    pub failed: Vec<TransportId>,
    /// Reused between drains.
    pub drained: Drained,
    /// Where the owned send path writes its datagrams (shared blocks).
    pub bufs: crate::transport::owned::bufs::SendBufs,
    /// Payloads of forwarded video kept for the owned path's RTX answers.
    pub kept: crate::transport::owned::kept::Kept,
    /// ICE-over-TCP connections the host reported.
    pub tcp: TcpTable,
}

impl Hub {
    /// Drain a transport's WebRTC stack to its next timeout and apply what
    /// it reported: transmits to the host's queue, learned and evicted
    /// routes to the demux, events to the work queue, a failure to the
    /// close list, and its next deadline to the timer table.
    pub(crate) fn absorb(&mut self, t: &mut Transport, config: &RouterConfig) {
        self.absorb_output(t, config);
        self.schedule(t, config);
    }

    /// [`absorb`](Self::absorb) without the timer, for a caller that
    /// mutates the transport again at once (the media path's pacer kick)
    /// and then calls [`schedule`](Self::schedule): the deadline in between
    /// is never read, and moving it twice per packet is measurable.
    pub(crate) fn absorb_output(&mut self, t: &mut Transport, config: &RouterConfig) {
        let d = &mut self.drained;
        t.drain(&mut self.out, d, config.limits.max_addrs_per_transport);
        for route in d.routes_evicted.drain(..) {
            self.demux.remove_route(route, t.id);
        }
        for route in d.routes_added.drain(..) {
            self.demux.add_route(route, t.id);
        }
        self.frame_tcp(t.id);
        for e in self.drained.events.drain(..) {
            self.work.push_back((t.id, e));
        }
        if t.failure.is_some() && !self.failed.contains(&t.id) {
            self.failed.push(t.id);
        }
    }

    /// Hand what the owned send path queued on `t` to the host, without
    /// walking its WebRTC stack (`transport/send_path.rs`).
    pub(crate) fn send_owned(&mut self, t: &mut Transport) {
        t.flush_owned(&mut self.out, &mut self.drained);
        self.frame_tcp(t.id);
    }

    /// Frame the datagrams a drain or flush left for TCP (RFC 4571) onto
    /// their connections.
    fn frame_tcp(&mut self, tid: TransportId) {
        for ((remote, local), data) in self.drained.tcp_out.drain(..) {
            // A connection the host closed meanwhile: the datagram is lost,
            // as on UDP.
            let Some(conn) = self.tcp.bind((remote, local), tid) else {
                continue;
            };
            let Ok(len) = u16::try_from(data.len()) else {
                continue;
            };
            let mut framed = Vec::with_capacity(data.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&data);
            self.out.push(Output::Transmit(Transmit {
                source: local,
                destination: remote,
                contents: framed.into(),
                via: Via::Tcp(conn),
            }));
        }
    }

    /// Put the transport's next deadline (its WebRTC stack's timeout, its
    /// liveness deadline or the owned path's padding) in the timer table.
    pub(crate) fn schedule(&mut self, t: &Transport, config: &RouterConfig) {
        let mut next = t.rtc_timeout.min(t.liveness_deadline(config));
        if let Some(at) = t.owned_padding_at() {
            next = next.min(at);
        }
        self.timers.set(Timer::Transport(t.id), Some(next));
    }
}
