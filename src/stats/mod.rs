//! Snapshots of one transport, producer or consumer, for hosts that show or
//! export them: [`TransportApi::stats`](crate::TransportApi::stats),
//! [`ProducerApi::stats`](crate::ProducerApi::stats) and
//! [`ConsumerApi::stats`](crate::ConsumerApi::stats) (its type,
//! [`ConsumerStats`](crate::ConsumerStats), lives with the consumer's view).
//!
//! Taking one is cheap: the router keeps counters as packets pass and
//! copies the WebRTC stack's last periodic report (every 250 ms while
//! bandwidth estimation is on; [`RouterConfig::initial_bandwidth_bps`](crate::RouterConfig));
//! nothing is computed or allocated per packet for it. Figures from those
//! reports are `None` until the first one arrives, and stay `None` with
//! estimation off.

pub(crate) mod score;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::{MediaKind, ProducerId, TransportId};

/// ICE's state on a transport (the router is ICE-lite: it answers checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum IceState {
    /// No check has arrived yet.
    #[default]
    New,
    /// Checks arrive; no pair is nominated yet.
    Checking,
    /// A pair works.
    Connected,
    /// A pair is nominated and checks are done.
    Completed,
    /// The peer stopped answering consent checks.
    Disconnected,
}

impl IceState {
    pub(crate) fn from_str0m(s: str0m::IceConnectionState) -> Self {
        use str0m::IceConnectionState as S;
        match s {
            S::New => IceState::New,
            S::Checking => IceState::Checking,
            S::Connected => IceState::Connected,
            S::Completed => IceState::Completed,
            S::Disconnected => IceState::Disconnected,
        }
    }
}

/// DTLS' state on a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum DtlsState {
    /// Waiting for ICE or handshaking.
    #[default]
    Connecting,
    /// The handshake completed: SRTP keys are in place.
    Connected,
    /// The peer closed DTLS (close_notify).
    Closed,
}

/// The address pair a transport sends on: the server's address and the
/// peer's, from the latest datagram sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct AddressPair {
    /// The server's address (a [`ListenInfo`](crate::ListenInfo)'s bound address).
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
}

/// One transport, from [`TransportApi::stats`](crate::TransportApi::stats).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TransportStats {
    /// The transport.
    pub id: TransportId,
    /// ICE's state.
    pub ice_state: IceState,
    /// DTLS' state.
    pub dtls_state: DtlsState,
    /// The pair datagrams go out on, once one was sent.
    pub selected_pair: Option<AddressPair>,
    /// Datagrams from the peer handed to this transport.
    pub packets_in: u64,
    /// Their bytes (UDP payload).
    pub bytes_in: u64,
    /// Datagrams sent to the peer.
    pub packets_out: u64,
    /// Their bytes (UDP payload).
    pub bytes_out: u64,
    /// Round-trip time, from the last report.
    pub rtt: Option<Duration>,
    /// Send-side bandwidth estimate toward the peer.
    pub estimate_bps: Option<u64>,
    /// What the allocator hands out to this transport's consumers.
    pub allocated_bps: u64,
    /// Open producers on it.
    pub producers: usize,
    /// Open consumers on it.
    pub consumers: usize,
}

/// One producer, from [`ProducerApi::stats`](crate::ProducerApi::stats).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ProducerStats {
    /// The producer.
    pub id: ProducerId,
    /// Its transport.
    pub transport: TransportId,
    /// Audio or video.
    pub kind: MediaKind,
    /// Paused by the host.
    pub paused: bool,
    /// RTP packets received, every layer.
    pub packets: u64,
    /// Consumers of it.
    pub consumers: usize,
    /// Quality score, 0 to 10, from the loss on the way in (see
    /// [`Event::ProducerScore`](crate::Event::ProducerScore)).
    pub score: u8,
    /// Its layers (simulcast encodings), lowest first; one without simulcast.
    pub layers: Vec<ProducerLayerStats>,
}

/// One layer of a producer.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ProducerLayerStats {
    /// The simulcast rid, if any.
    pub rid: Option<String>,
    /// The SSRC, with simulcast signalled by `a=ssrc-group:SIM`.
    pub ssrc: Option<u32>,
    /// Whether packets arrived recently.
    pub live: bool,
    /// Measured bitrate over the last second, packet overhead included.
    pub bitrate_bps: u64,
    /// RTP packets received on this layer.
    pub packets: u64,
    /// Share of its packets lost on the way in (0.0 to 1.0), from the last report.
    pub loss: Option<f32>,
    /// Interarrival jitter in RTP timestamp units, from the last report.
    pub jitter: Option<u32>,
    /// NACKs sent to the publisher for this layer.
    pub nacks: u64,
    /// PLIs sent to the publisher for this layer.
    pub plis: u64,
    /// FIRs sent to the publisher for this layer.
    pub firs: u64,
}

/// What the WebRTC stack last reported about one incoming stream.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IngressReport {
    pub loss: Option<f32>,
    pub jitter: u32,
    pub nacks: u64,
    pub plis: u64,
    pub firs: u64,
}

impl IngressReport {
    pub(crate) fn from_str0m(s: &str0m::stats::MediaIngressStats) -> Self {
        IngressReport {
            loss: s.loss,
            jitter: s.jitter,
            nacks: s.nacks,
            plis: s.plis,
            firs: s.firs,
        }
    }
}

/// What the WebRTC stack last reported about one outgoing stream, the
/// bitrate between its last two reports and the loss between the
/// subscriber's last two receiver reports.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EgressReport {
    pub bytes: u64,
    pub at: Option<Instant>,
    pub bitrate_bps: u64,
    pub loss: Option<f32>,
    /// The last receiver report's cumulative loss and jitter.
    pub packets_lost: Option<u64>,
    pub jitter: Option<u32>,
    /// Highest sequence number and cumulative loss of the receiver report
    /// `loss` was last measured up to.
    rr_mark: Option<(u64, u64)>,
    /// (NACKs received, packets sent) at the previous report.
    nack_mark: (u64, u64),
    pub rtt: Option<Duration>,
    pub nacks: u64,
    pub plis: u64,
    pub firs: u64,
}

impl EgressReport {
    /// Take a new report, measuring the bitrate since the previous one;
    /// returns a loss sample for the consumer's score (see `crate::stats::score`)
    /// once there is a previous report.
    pub(crate) fn update(&mut self, s: &EgressSample) -> Option<f32> {
        let now = (s.nacks, s.packets);
        let nacked = crate::stats::score::nack_share(self.nack_mark, now);
        self.nack_mark = now;
        if let Some(at) = self.at {
            let ms = s.timestamp.saturating_duration_since(at).as_millis() as u64;
            let bits = s.bytes.saturating_sub(self.bytes) * 8 * 1000;
            if let Some(bps) = bits.checked_div(ms) {
                self.bitrate_bps = bps;
            }
        }
        self.bytes = s.bytes;
        self.at = Some(s.timestamp);
        if let Some(r) = &s.remote {
            let (seq, lost) = (r.max_seq, r.packets_lost);
            match self.rr_mark {
                // A new report: loss over the packets it covers beyond the last.
                Some((seq0, lost0)) if seq > seq0 => {
                    let lost_now = lost.saturating_sub(lost0).min(seq - seq0);
                    self.loss = Some(lost_now as f32 / (seq - seq0) as f32);
                    self.rr_mark = Some((seq, lost));
                }
                Some(_) => {}
                None => self.rr_mark = Some((seq, lost)),
            }
            self.packets_lost = Some(lost);
            self.jitter = Some(r.jitter);
        }
        self.rtt = s.rtt;
        self.nacks = s.nacks;
        self.plis = s.plis;
        self.firs = s.firs;
        nacked.map(|n| n.max(self.loss.unwrap_or(0.0)))
    }
}

/// One report about an outgoing stream: from the WebRTC stack's egress
/// stats, or from the owned send path's own counts and the subscriber's
/// receiver reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EgressSample {
    pub timestamp: Instant,
    pub bytes: u64,
    pub packets: u64,
    pub nacks: u64,
    pub plis: u64,
    pub firs: u64,
    pub rtt: Option<Duration>,
    pub remote: Option<RemoteReport>,
}

/// What the subscriber's last receiver report said of a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RemoteReport {
    /// Highest extended sequence number received.
    pub max_seq: u64,
    /// Cumulative packets lost.
    pub packets_lost: u64,
    pub jitter: u32,
}

impl From<&str0m::stats::MediaEgressStats> for EgressSample {
    fn from(s: &str0m::stats::MediaEgressStats) -> Self {
        EgressSample {
            timestamp: s.timestamp,
            bytes: s.bytes,
            packets: s.packets,
            nacks: s.nacks,
            plis: s.plis,
            firs: s.firs,
            rtt: s.rtt,
            remote: s.remote.as_ref().map(|r| RemoteReport {
                max_seq: *r.maximum_sequence_number,
                packets_lost: r.packets_lost,
                jitter: r.jitter,
            }),
        }
    }
}

impl crate::Router {
    /// A transport's snapshot (see [`TransportStats`]).
    pub(crate) fn transport_stats(&self, id: TransportId) -> Option<TransportStats> {
        let t = self.transports.get(&id)?;
        let o = &t.observed;
        let dtls_state = match (&t.failure, t.connected) {
            (Some(crate::transport::Failure::PeerClosed), _) => DtlsState::Closed,
            (_, true) => DtlsState::Connected,
            (_, false) => DtlsState::Connecting,
        };
        Some(TransportStats {
            id,
            ice_state: o.ice,
            dtls_state,
            selected_pair: o.pair.map(|(local, remote)| AddressPair { local, remote }),
            packets_in: o.packets_in,
            bytes_in: o.bytes_in,
            packets_out: o.packets_out,
            bytes_out: o.bytes_out,
            rtt: o.rtt,
            estimate_bps: t.allocator.estimate(),
            allocated_bps: t.allocator.allocated_bps,
            producers: t.producers.len(),
            consumers: t.consumers.len(),
        })
    }

    /// A producer's snapshot (see [`ProducerStats`]).
    pub(crate) fn producer_stats(&self, id: ProducerId) -> Option<ProducerStats> {
        let p = self.producers.get(&id)?;
        let layers = p
            .layers
            .iter()
            .map(|l| {
                let r = l.ingress.unwrap_or_default();
                ProducerLayerStats {
                    rid: l.key.rid().map(|r| r.to_string()),
                    ssrc: l.key.ssrc().map(|s| *s),
                    live: l.live,
                    bitrate_bps: l.bitrate_bps,
                    packets: l.packets,
                    loss: r.loss,
                    jitter: l.ingress.map(|r| r.jitter),
                    nacks: r.nacks,
                    plis: r.plis,
                    firs: r.firs,
                }
            })
            .collect();
        Some(ProducerStats {
            id,
            transport: p.transport,
            kind: MediaKind::from_str0m(p.kind),
            paused: p.paused,
            packets: p.packets,
            consumers: p.consumers.len(),
            score: p.score.value(),
            layers,
        })
    }
}
