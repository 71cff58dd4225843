//! Every call into the transport's WebRTC stack (str0m's `Rtc`), by intent.
//!
//! Each method guards its call (a panic inside str0m becomes a failure of
//! this transport only, see [`Transport::guarded`]); the router drains
//! after each mutation through its hub, which applies everything the
//! transport reports in one place. Nothing outside `transport/` touches
//! the `Rtc`.

use std::net::SocketAddr;
use std::time::Instant;

use smallvec::SmallVec;
use str0m::bwe::Bitrate;
use str0m::change::DirectApi;
use str0m::format::PayloadParams;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Pt, Rid, Rids};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::rtp::{RtpWrite, Ssrc, StreamRx};

use str0m::channel::{ChannelConfig, ChannelId};

use super::Transport;
use crate::data::DataChannelParams;
use crate::media::producer::{codecs_compatible, LayerKey};

/// What became of a message written on a data channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelWrite {
    /// Taken by the SCTP stack.
    Written,
    /// The SCTP send buffer has no room for it.
    Full,
    /// The channel is not open (or the transport failed).
    Closed,
}

/// What became of a datagram handed to a transport.
pub(crate) enum Received {
    /// Not a datagram str0m can read.
    Malformed,
    /// str0m does not accept it (no matching ICE, DTLS or SRTP state).
    Rejected,
    /// Handed to str0m; `error` if it reported one (failed SRTP
    /// authentication, a replay, stray DTLS).
    Handled { error: bool },
}

/// What the client's SDP said about one m-line.
pub(crate) struct MediaFacts {
    pub kind: MediaKind,
    pub direction: Direction,
    /// The rids it receives (simulcast by rid), if any.
    pub rids: SmallVec<[Rid; 3]>,
}

impl Transport {
    /// Hand a datagram (UDP, or one RFC 4571 frame over TCP) from `source`
    /// (arriving on our candidate address `destination`) to the WebRTC
    /// stack.
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
        kept: &crate::transport::owned::kept::Kept,
    ) -> Received {
        let Ok(contents) = DatagramRecv::try_from(data) else {
            return Received::Malformed;
        };
        let input = str0m::Input::Receive(
            now,
            Receive {
                proto,
                source,
                destination,
                contents,
            },
        );
        if self.guarded(|rtc| rtc.accepts(&input)) != Some(true) {
            return Received::Rejected;
        }
        self.rtc_now = now;
        let error = match self.guarded(|rtc| rtc.handle_input(input)) {
            Some(Err(e)) => {
                tracing::trace!(error = %e, "datagram refused by the WebRTC stack");
                true
            }
            _ => false,
        };
        if !error {
            self.owned_on_received(data, now, kept);
        }
        Received::Handled { error }
    }

    /// Bring the WebRTC stack's clock to `now` (its timers run).
    pub(crate) fn timeout(&mut self, now: Instant) {
        self.rtc_now = now;
        let _ = self.guarded(|rtc| rtc.handle_input(str0m::Input::Timeout(now)));
    }

    /// Say goodbye (RTCP BYE, DTLS close_notify).
    pub(crate) fn close_rtc(&mut self) {
        let _ = self.guarded(|rtc| rtc.close());
    }

    /// Whether the WebRTC stack is still open.
    #[cfg_attr(not(feature = "testkit-hooks"), allow(dead_code))]
    pub(crate) fn is_alive(&self) -> bool {
        self.rtc.is_alive()
    }

    /// What the negotiated SDP says about `mid`.
    pub(crate) fn media_facts(&self, mid: Mid) -> Option<MediaFacts> {
        let media = self.rtc.media(mid)?;
        Some(MediaFacts {
            kind: media.kind(),
            direction: media.direction(),
            rids: match media.rids_rx() {
                Rids::Specific(v) => v.iter().copied().collect(),
                _ => SmallVec::new(),
            },
        })
    }

    /// Make sure every (SSRC, RTX SSRC) of an `a=ssrc-group:SIM` has a
    /// receive stream on `mid`: str0m made one of every `a=ssrc`, but one
    /// listed only in the group still needs one.
    pub(crate) fn expect_ssrcs(&mut self, mid: Mid, layers: &[(Ssrc, Option<Ssrc>)]) {
        self.guarded(|rtc| {
            let mut api = rtc.direct_api();
            for &(ssrc, rtx) in layers {
                if api.stream_rx(&ssrc).is_none() {
                    api.expect_stream_rx(ssrc, rtx, mid, None);
                }
            }
        });
    }

    /// The send stream of the m-line `mid`, unpaced: the SSRC a consumer
    /// sends with.
    pub(crate) fn bind_send_stream(&mut self, mid: Mid) -> Option<Ssrc> {
        // Forwarded media is not paced: the allocator keeps each subscriber
        // within its estimate by choosing layers, and pacing would only add
        // queueing delay to media that already arrives paced by its sender.
        self.guarded(|rtc| {
            rtc.direct_api().stream_tx_by_mid(mid, None).map(|s| {
                s.set_unpaced(true);
                s.ssrc()
            })
        })
        .flatten()
    }

    /// Drop a consumer's send stream.
    pub(crate) fn remove_send_stream(&mut self, ssrc: Ssrc) {
        if let Some(o) = self.owned.as_deref_mut() {
            o.remove_stream(*ssrc);
        }
        self.guarded(|rtc| rtc.direct_api().remove_stream_tx(ssrc));
    }

    /// The m-line and rid an incoming SSRC belongs to.
    pub(crate) fn source_of(&mut self, ssrc: Ssrc) -> Option<(Mid, Option<Rid>)> {
        self.guarded(|rtc| {
            rtc.direct_api()
                .stream_rx(&ssrc)
                .map(|s| (s.mid(), s.rid()))
        })
        .flatten()
    }

    /// The negotiated codec of payload type `pt`.
    pub(crate) fn codec_params(&self, pt: Pt) -> Option<PayloadParams> {
        self.rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.pt() == pt)
            .copied()
    }

    /// The payload type on the subscriber's m-line `mid` that carries a
    /// producer's codec `in_params`.
    pub(crate) fn subscriber_pt(&self, mid: Mid, in_params: &PayloadParams) -> Option<Pt> {
        let remote = self.rtc.media(mid)?.remote_pts();
        self.rtc
            .codec_config()
            .params()
            .iter()
            .filter(|p| remote.is_empty() || remote.contains(&p.pt()))
            .find(|p| codecs_compatible(p, in_params))
            .map(|p| p.pt())
    }

    /// Write one RTP packet on the send stream `ssrc`.
    pub(crate) fn write_rtp(&mut self, ssrc: Ssrc, write: RtpWrite) {
        self.guarded(|rtc| {
            if let Some(tx) = rtc.direct_api().stream_tx(&ssrc) {
                tx.write_rtp(write);
            }
        });
    }

    /// Ask the sender of one incoming layer for a keyframe (PLI).
    pub(crate) fn request_keyframe(&mut self, mid: Mid, key: LayerKey) {
        self.guarded(|rtc| {
            if let Some(rx) = stream_rx(&mut rtc.direct_api(), mid, key) {
                rx.request_keyframe(KeyframeRequestKind::Pli);
            }
        });
    }

    /// Tell the sender of these incoming layers how much it may send (REMB).
    pub(crate) fn request_remb(&mut self, streams: &[(Mid, LayerKey)], max_bps: u64) {
        self.guarded(|rtc| {
            let mut api = rtc.direct_api();
            for &(mid, key) in streams {
                if let Some(rx) = stream_rx(&mut api, mid, key) {
                    rx.request_remb(Bitrate::from(max_bps));
                }
            }
        });
    }

    /// Reset the send-side estimate to `bps` (the loss guard's correction).
    pub(crate) fn reset_estimate(&mut self, bps: u64) {
        if self.owned_active() {
            if let Some(o) = self.owned.as_deref_mut() {
                o.reset_estimate(bps);
            }
            return;
        }
        self.guarded(|rtc| rtc.bwe().reset(Bitrate::from(bps)));
    }

    /// The estimator's padding floor and probing target.
    pub(crate) fn set_estimator_rates(&mut self, now: Instant, current_bps: u64, desired_bps: u64) {
        if self.owned_active() {
            if let Some(o) = self.owned.as_deref_mut() {
                o.set_rates(now, current_bps, desired_bps);
            }
            return;
        }
        self.guarded(|rtc| {
            rtc.bwe()
                .set_bitrate(Bitrate::from(current_bps), Bitrate::from(desired_bps))
        });
    }
}

impl Transport {
    /// Open a data channel to the client now (the SCTP m-line is
    /// negotiated: no renegotiation needed; str0m opens it with DCEP once
    /// the association is up).
    pub(crate) fn create_channel(&mut self, config: ChannelConfig) -> Option<ChannelId> {
        self.guarded(|rtc| rtc.direct_api().create_data_channel(config))
    }

    /// What the client said about its channel `id` (DCEP).
    pub(crate) fn channel_params(&mut self, id: ChannelId, label: String) -> DataChannelParams {
        let config = self
            .guarded(|rtc| rtc.channel(id).and_then(|c| c.config().cloned()))
            .flatten();
        DataChannelParams::from_str0m(label, config.as_ref())
    }

    /// Bytes waiting in the channel's SCTP send buffer.
    pub(crate) fn channel_buffered(&mut self, id: ChannelId) -> usize {
        self.guarded(|rtc| rtc.channel(id).map(|mut c| c.buffered_amount()))
            .flatten()
            .unwrap_or(0)
    }

    /// Write one message on channel `id`.
    pub(crate) fn write_channel(
        &mut self,
        id: ChannelId,
        binary: bool,
        data: &[u8],
    ) -> ChannelWrite {
        let written = self.guarded(|rtc| rtc.channel(id).map(|mut c| c.write(binary, data)));
        match written {
            Some(Some(Ok(true))) => ChannelWrite::Written,
            Some(Some(Ok(false))) => ChannelWrite::Full,
            _ => ChannelWrite::Closed,
        }
    }

    /// Close channel `id` (SCTP stream reset).
    pub(crate) fn close_channel(&mut self, id: ChannelId) {
        self.channels.remove(&id);
        self.guarded(|rtc| rtc.direct_api().close_data_channel(id));
    }
}

/// A layer's receive stream: where keyframe requests and REMB for it go.
fn stream_rx<'a>(api: &'a mut DirectApi<'_>, mid: Mid, key: LayerKey) -> Option<&'a mut StreamRx> {
    match key {
        LayerKey::Only => api.stream_rx_by_mid(mid, None),
        LayerKey::Rid(r) => api.stream_rx_by_mid(mid, Some(r)),
        // Several streams share the mid and no rid: only the SSRC tells them apart.
        LayerKey::Ssrc(s) => api.stream_rx(&s),
    }
}
