//! The media path: one incoming RTP packet to every consumer of its
//! producer, in four named steps:
//!
//! 1. [`resolve`](Router::resolve): which producer and layer the SSRC is;
//! 2. inspect (`media/inspect.rs`): codec, keyframe, layers, read once;
//! 3. per consumer, its verdict (`media/consumer.rs`: pause, layer,
//!    keyframe wait, rewritten numbers);
//! 4. the write: the rewritten header on the shared payload, into the
//!    subscriber's WebRTC stack (the default), whose output the hub
//!    absorbs, or through its owned send path (`SendPath::Owned`,
//!    `transport/owned/sender.rs`: header, payload copy and SRTP
//!    straight to the host).
//!
//! Steps 3 and 4 are one function ([`deliver`](Router::deliver)), so a
//! consumer is looked up once per packet.
//!
//! The payload is shared by all consumers; per consumer only the header
//! fields (SSRC, sequence number, timestamp, payload type, VP8 picture
//! numbering) are new, and the result is encrypted for that subscriber.

use str0m::media::Mid;
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Ssrc};

use super::timers::Timer;
use super::Router;
use crate::io::Output;
use crate::media::consumer::{Forward, Verdict};
use crate::media::inspect::{Inspected, MediaPacket};
use crate::transport::owned::sender::Outgoing;
use crate::transport::owned::vp8::Vp8Rewrite;
use crate::transport::Transport;
use crate::{ConsumerId, Event, ProducerId, TransportId};
use tracing::{debug, trace};

impl Router {
    pub(super) fn forward(&mut self, tid: TransportId, pkt: RtpPacket) {
        self.stats.rtp_in += 1;
        let Some((pid, layer)) = self.resolve(tid, &pkt) else {
            return;
        };
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        p.packets += 1;
        if let Some(l) = p.layers.get_mut(layer as usize) {
            l.on_packet(pkt.timestamp, pkt.payload.len());
        }
        // Observers: only an observed producer does any work here.
        if !p.observers.is_empty() && !p.paused {
            if let Some(level) = pkt.header.ext_vals.audio_level {
                for oid in &p.observers {
                    if let Some(o) = self.observers.get_mut(oid) {
                        o.on_level(pid, level);
                    }
                }
            }
        }
        if p.paused || (p.consumers.is_empty() && p.pipes.is_empty()) {
            return;
        }
        let pt = pkt.header.payload_type;
        if p.codec_for(pt).is_none() {
            let Some(params) = self.transports.get(&tid).and_then(|t| t.codec_params(pt)) else {
                return;
            };
            p.learn_codec(pt, params);
        }
        let exts = forwarded_extensions(&pkt);
        let pkt = MediaPacket::from_rtp(pkt, exts);
        if !p.pipes.is_empty() {
            self.export_packet(pid, layer, &pkt);
        }
        self.fan_out(pid, layer, &pkt);
    }

    /// Steps 2 to 4 for a packet of a producer's layer (resolved already,
    /// its codec learned): inspect it once, then each consumer's verdict
    /// and write; then ask for the keyframes consumers wait for. Also the
    /// way in for a piped producer's packets (`router/pipe.rs`).
    pub(super) fn fan_out(&mut self, pid: ProducerId, layer: u8, pkt: &MediaPacket) {
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        if p.paused || p.consumers.is_empty() {
            return;
        }
        let Some(inspected) = p.inspect(pkt, layer) else {
            return;
        };
        // Layers whose keyframe some consumer waits for (bit per layer).
        let mut want_keyframe = 0u32;
        // The list is moved out for the loop and back after it: nothing in
        // the loop adds or removes consumers (str0m events and transport
        // failures wait in the hub's work queue until the packet is done).
        let consumers = std::mem::take(&mut p.consumers);
        // The payload's number in the owned path's `Kept`, once a
        // subscriber's history needs it (kept once for all of them).
        let mut kept = None;
        for &cid in &consumers {
            if let Some(layer) = self.deliver(cid, pkt, &inspected, &mut kept) {
                want_keyframe |= 1 << layer.min(31);
            }
        }
        if let Some(p) = self.producers.get_mut(&pid) {
            p.consumers = consumers;
        }
        for layer in 0..32u8 {
            if want_keyframe & (1 << layer) != 0 {
                self.request_keyframe(pid, Some(layer));
            }
        }
    }

    /// Step 1: the producer and layer an incoming SSRC belongs to, cached
    /// per transport after the first packet.
    fn resolve(&mut self, tid: TransportId, pkt: &RtpPacket) -> Option<(ProducerId, u8)> {
        let t = self.transports.get_mut(&tid)?;
        let ssrc = pkt.header.ssrc;
        if let Some(v) = t.ssrc_cache.get(&ssrc) {
            return Some(*v);
        }
        let (mid, rid) = t.source_of(ssrc)?;
        let pid = t.producer_for_mid(mid)?;
        let rid = rid.or(pkt.header.ext_vals.rid);
        let Some(layer) = self
            .producers
            .get(&pid)
            .and_then(|p| p.layer_index(ssrc, rid))
        else {
            // An encoding past the layer limit, or one never signalled.
            self.stats.dropped_unknown_layer += 1;
            return None;
        };
        if t.ssrc_cache.len() < self.config.limits.max_ssrcs_per_transport {
            t.ssrc_cache.insert(ssrc, (pid, layer));
        }
        Some((pid, layer))
    }

    /// Steps 3 and 4 for one consumer: its verdict (a layer change is
    /// reported to the host), then the rewritten packet written into the
    /// subscriber's transport, whose output the hub absorbs. Returns the
    /// layer whose keyframe the consumer waits for, if it dropped the
    /// packet for want of one.
    fn deliver(
        &mut self,
        cid: ConsumerId,
        pkt: &MediaPacket,
        inspected: &Inspected,
        kept: &mut Option<u64>,
    ) -> Option<u8> {
        let c = self.consumers.get_mut(&cid)?;
        let before = c.current;
        let verdict = c.on_packet(&inspected.info);
        if c.current != before {
            // Pushed here, not through `emit` (which borrows the router):
            // logged as `emit` would.
            debug!(consumer = %cid, from = ?before, to = ?c.current, "consumer switched layers");
            self.hub
                .out
                .push(Output::Event(Event::ConsumerLayersChanged {
                    consumer: cid,
                    transport: c.transport,
                    layers: c.current,
                }));
        }
        let f = match verdict {
            Verdict::Forward(f) => f,
            Verdict::Drop => return c.keyframe_wish().map(|(_, layer)| layer),
        };
        if inspected.info.keyframe {
            trace!(consumer = %cid, "keyframe forwarded to the subscriber");
        }
        let (Some(st), Some(out_ssrc), Some(mid)) =
            (self.transports.get_mut(&c.transport), c.ssrc, c.mid)
        else {
            return None;
        };
        let out_pt = c.out_pt(pkt.pt, || st.subscriber_pt(mid, &inspected.params))?;
        if st.owned_active() {
            let now = self.now;
            let video = c.kind.is_video();
            if video && kept.is_none() {
                let armed = self.hub.kept.poll_timeout().is_some();
                *kept = Some(self.hub.kept.keep(&pkt.payload, now));
                if !armed {
                    let at = self.hub.kept.poll_timeout();
                    self.hub.timers.set(Timer::Kept, at);
                }
            }
            if owned_send(
                st,
                video,
                out_ssrc,
                mid,
                *out_pt,
                &f,
                pkt,
                inspected,
                now,
                *kept,
                &mut self.hub.bufs,
                &self.hub.kept,
            ) {
                let len = pkt.payload.len() as u64;
                self.stats.rtp_out += 1;
                self.stats.rtp_bytes_out += len;
                c.bytes_sent += len;
                self.hub.send_owned(st);
            }
            return None;
        }
        let mut write = RtpWrite::new(
            out_pt,
            f.numbers.seq.into(),
            f.numbers.ts,
            pkt.arrival,
            pkt.payload.clone(),
        )
        .marker(f.marker.unwrap_or(pkt.marker))
        .ext_vals(pkt.exts.clone())
        .nackable(c.kind.is_video());
        if let Some((picture_id, tl0)) = f.vp8 {
            if let Some(patch) = inspected.vp8_patch(picture_id, tl0) {
                write = write.vp8_patch(patch);
            }
        }
        st.write_rtp(out_ssrc, write);
        let len = pkt.payload.len() as u64;
        self.stats.rtp_out += 1;
        self.stats.rtp_bytes_out += len;
        c.bytes_sent += len;
        self.hub.absorb_output(st, &self.config);
        // str0m's pacer hands a written packet out only from its next
        // timeout, which it asks for at once: run that timeout here (a
        // mutation after a full drain, as str0m requires) so the packet
        // leaves in this call instead of after a round trip through the
        // timer table and the host.
        let now = self.now;
        if st.rtc_timeout <= now {
            st.timeout(now);
            self.hub.absorb_output(st, &self.config);
        }
        self.hub.schedule(st, &self.config);
        None
    }
}

/// Step 4 on the owned send path (`transport/owned/sender.rs`): the
/// packet for this subscriber, queued on its transport. `false` if the
/// path is not ready (no DTLS keys yet) or the packet could not be made.
#[allow(clippy::too_many_arguments)]
fn owned_send(
    st: &mut Transport,
    video: bool,
    ssrc: Ssrc,
    mid: Mid,
    pt: u8,
    f: &Forward,
    pkt: &MediaPacket,
    inspected: &Inspected,
    now: std::time::Instant,
    kept: Option<u64>,
    bufs: &mut crate::transport::owned::bufs::SendBufs,
    kept_payloads: &crate::transport::owned::kept::Kept,
) -> bool {
    let Some(known) = st.owned_tx().map(|o| o.has_stream(*ssrc)) else {
        return false;
    };
    if !known {
        let clock_rate = inspected.params.spec().clock_rate.get();
        let info = st.owned_stream_info(mid, ssrc, clock_rate, video);
        if let Some(o) = st.owned_tx() {
            o.add_stream(*ssrc, info);
        }
    }
    let vp8 = match (f.vp8, inspected.vp8.is_some()) {
        (Some((picture_id, tl0)), true) => Vp8Rewrite::new(&pkt.payload, picture_id, tl0),
        _ => None,
    };
    let e = &pkt.exts;
    let dd = e
        .user_values
        .get::<crate::ext::RawDependencyDescriptor>()
        .map(|raw| &raw.0[..]);
    let out = Outgoing {
        pt,
        marker: f.marker.unwrap_or(pkt.marker),
        seq: f.numbers.seq,
        ts: f.numbers.ts,
        ssrc: *ssrc,
        payload: &pkt.payload,
        kept,
        vp8,
        audio_level: e
            .audio_level
            .map(|l| (l, e.voice_activity.unwrap_or(false))),
        video_orientation: e.video_orientation.map(|v| v as u8),
        dependency_descriptor: dd,
    };
    st.send_owned(&out, now, bufs, kept_payloads)
}

/// The header extensions a forwarded packet keeps: audio level, voice
/// activity, video orientation and the AV1 Dependency Descriptor.
fn forwarded_extensions(pkt: &RtpPacket) -> ExtensionValues {
    let e = &pkt.header.ext_vals;
    let mut exts = ExtensionValues {
        audio_level: e.audio_level,
        voice_activity: e.voice_activity,
        video_orientation: e.video_orientation,
        ..Default::default()
    };
    if let Some(raw) = e.user_values.get::<crate::ext::RawDependencyDescriptor>() {
        exts.user_values.set(raw.clone());
    }
    exts
}
