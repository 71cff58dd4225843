//! The transport's side of the owned send path ([`RouterConfig::send_path`]
//! = [`SendPath::Owned`]): where its datagrams go, when it starts, what
//! it reads of the subscriber's RTCP and how str0m's own SRTCP is
//! corrected on the way out. The path itself is `owned/sender.rs`.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use str0m::media::Mid;
use str0m::rtp::{Extension, Ssrc};

use super::owned::bufs::SendBufs;
use super::owned::estimate::Feedback;
use super::owned::kept::Kept;
use super::owned::sender::{ExtIds, Outgoing, OwnedTx, StreamInfo};
use super::{Drained, Observed, Transport};
use crate::config::{RouterConfig, SendPath};
use crate::io::{OutQueue, Output, Transmit};
use crate::packet::classify::{classify, DatagramKind};

/// Where the WebRTC stack sends everything but STUN: the ICE pair it
/// nominated, learned from its own DTLS, SRTCP and SCTP transmits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MediaRoute {
    /// ICE over TCP (RFC 6544): framed by the hub onto the connection.
    pub tcp: bool,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl MediaRoute {
    /// Hand `data` to the host on this route (TCP: to `d`, for the hub to
    /// frame), counted in `observed`.
    pub(crate) fn push(
        self,
        data: Bytes,
        observed: &mut Observed,
        out: &mut OutQueue,
        d: &mut Drained,
    ) {
        observed.packets_out += 1;
        observed.bytes_out += data.len() as u64;
        observed.pair = Some((self.local, self.remote));
        if self.tcp {
            d.tcp_out.push(((self.remote, self.local), data));
        } else {
            out.push(Output::Transmit(Transmit {
                source: self.local,
                destination: self.remote,
                contents: data,
                via: crate::Via::Udp,
            }));
        }
    }
}

/// The most datagrams the owned path queues between two flushes (RTX
/// answers to one RTCP datagram are bounded lower, by `sender.rs`).
const MAX_QUEUED: usize = 1024;

/// Whether transports of this configuration use the owned path.
pub(crate) fn wanted(config: &RouterConfig) -> bool {
    config.send_path == SendPath::Owned && cfg!(feature = "openssl-dtls")
}

impl Transport {
    /// The owned path, made on first use once DTLS has given its keys;
    /// `None` on the WebRTC stack's path (configured, or before keys).
    pub(crate) fn owned_tx(&mut self) -> Option<&mut OwnedTx> {
        if !self.owned_wanted {
            return None;
        }
        if self.owned.is_none() {
            let keys = self.dtls_keys.get()?;
            match OwnedTx::new(keys, self.owned_initial_bps) {
                Ok(o) => {
                    tracing::debug!(suite = ?keys.suite, "owned send path ready");
                    self.owned = Some(Box::new(o));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no owned send path: keys unusable");
                    self.owned_wanted = false;
                    return None;
                }
            }
        }
        self.owned.as_deref_mut()
    }

    /// What the owned path counted, once it exists.
    #[cfg_attr(not(feature = "testkit-hooks"), allow(dead_code))]
    pub(crate) fn owned_counters(&self) -> Option<super::owned::sender::OwnedCounters> {
        self.owned.as_deref().map(OwnedTx::counters)
    }

    /// What the owned path sent on `ssrc` (`None` off the path).
    pub(crate) fn owned_stream_sent(&self, ssrc: Ssrc) -> Option<super::owned::sender::StreamSent> {
        self.owned.as_deref()?.stream_sent(*ssrc)
    }

    /// The round trip the owned path last measured.
    pub(crate) fn owned_rtt(&self) -> Option<std::time::Duration> {
        self.owned.as_deref()?.rtt()
    }

    /// Whether forwarded RTP to this transport goes through the owned path.
    pub(crate) fn owned_active(&self) -> bool {
        self.owned_wanted
    }

    /// What the owned path needs of the send stream `ssrc` on m-line `mid`
    /// (of codec clock rate `clock_rate`), from the negotiation.
    pub(crate) fn owned_stream_info(
        &mut self,
        mid: Mid,
        ssrc: Ssrc,
        clock_rate: u32,
        video: bool,
    ) -> StreamInfo {
        let rtx = self
            .guarded(|rtc| rtc.direct_api().stream_tx(&ssrc).and_then(|s| s.rtx()))
            .flatten()
            .map(|s| *s);
        let rtx_pts = self
            .rtc
            .codec_config()
            .params()
            .iter()
            .filter_map(|p| Some((*p.pt(), *p.resend()?)))
            .take(8)
            .collect();
        let ext = self
            .rtc
            .media(mid)
            .map(|m| {
                let map = m.remote_extmap();
                let id = |e: Extension| map.id_of(e).unwrap_or(0);
                ExtIds {
                    mid: id(Extension::RtpMid),
                    audio_level: id(Extension::AudioLevel),
                    video_orientation: id(Extension::VideoOrientation),
                    dependency_descriptor: id(
                        crate::ext::DependencyDescriptorSerializer::extension(),
                    ),
                    transport_cc: id(Extension::TransportSequenceNumber),
                }
            })
            .unwrap_or_default();
        StreamInfo {
            mid: mid.as_bytes().iter().copied().collect(),
            rtx,
            rtx_pts,
            clock_rate,
            nackable: video,
            ext,
        }
    }

    /// Send one forwarded packet through the owned path (queued for the
    /// next flush), written into `bufs` (padding resends payloads from
    /// `kept`). `false` if the path is not ready for it.
    pub(crate) fn send_owned(
        &mut self,
        p: &Outgoing<'_>,
        now: Instant,
        bufs: &mut SendBufs,
        kept: &Kept,
    ) -> bool {
        if self.owned_out.len() >= MAX_QUEUED {
            return false;
        }
        if self.owned_tx().is_none() {
            return false;
        }
        let Transport {
            owned, owned_out, ..
        } = self;
        let Some(o) = owned.as_deref_mut() else {
            return false;
        };
        let Some(datagram) = o.send(p, now, bufs) else {
            return false;
        };
        owned_out.push(datagram);
        o.pad(now, bufs, kept, |d| owned_out.push(d));
        true
    }

    /// When the owned path's padding is next due on a timer (no media to
    /// ride on: see `OwnedTx::pad`), if ever.
    pub(crate) fn owned_padding_at(&self) -> Option<Instant> {
        self.owned.as_deref()?.padding_at()
    }

    /// Send the owned path's padding due at `now` (queued for the flush).
    pub(crate) fn pad_owned(&mut self, now: Instant, bufs: &mut SendBufs, kept: &Kept) {
        let Transport {
            owned, owned_out, ..
        } = self;
        if let Some(o) = owned.as_deref_mut() {
            o.pad(now, bufs, kept, |d| {
                if owned_out.len() < MAX_QUEUED {
                    owned_out.push(d);
                }
            });
        }
    }

    /// What the owned path's estimation learned from the peer's feedback
    /// since the last call.
    pub(crate) fn owned_feedback(&mut self) -> Feedback {
        self.owned
            .as_deref_mut()
            .map(OwnedTx::take_feedback)
            .unwrap_or_default()
    }

    /// After str0m accepted a datagram from the peer: if it is SRTCP,
    /// answer the NACKs for our streams with RTX from `kept` (queued for
    /// the flush).
    pub(crate) fn owned_on_received(&mut self, data: &[u8], now: Instant, kept: &Kept) {
        if self.owned.is_none() || classify(data) != DatagramKind::Rtcp {
            return;
        }
        let Transport {
            owned, owned_out, ..
        } = self;
        if let Some(o) = owned.as_deref_mut() {
            o.on_peer_rtcp(data, now, kept, |d| {
                if owned_out.len() < MAX_QUEUED {
                    owned_out.push(d);
                }
            });
        }
    }

    /// Hand the owned path's queued datagrams to the host (UDP) or to `d`
    /// (TCP, framed by the hub), on the route str0m uses.
    pub(crate) fn flush_owned(&mut self, out: &mut OutQueue, d: &mut Drained) {
        if self.owned_out.is_empty() {
            return;
        }
        let Some(route) = self.media_route else {
            self.owned_out.clear();
            return;
        };
        for data in self.owned_out.drain(..) {
            route.push(data, &mut self.observed, out, d);
        }
    }
}

/// A datagram str0m is about to send, on a transport with the owned
/// path: its SRTCP corrected and protected again (`None`: drop it), all
/// else as it is.
pub(crate) fn outgoing(
    owned: Option<&mut OwnedTx>,
    data: Vec<u8>,
    now: Instant,
) -> Option<Vec<u8>> {
    match owned {
        Some(o) if classify(&data) == DatagramKind::Rtcp => o.correct_own_rtcp(&data, now),
        _ => Some(data),
    }
}
