//! The media path: one incoming RTP packet to every consumer of its producer.
//!
//! The payload is an `Arc<[u8]>` shared by all consumers; per consumer only
//! the header fields (SSRC, sequence number, timestamp, payload type) are
//! new, and str0m encrypts the result for that subscriber.

use std::time::Instant;

use smallvec::SmallVec;
use str0m::media::{KeyframeRequestKind, Pt};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite, Vp8Patch};

use super::{drain_into, schedule_transport, Router, Timer};
use crate::consumer::{PacketInfo, Verdict};
use crate::ext::RawDependencyDescriptor;
use crate::io::Output;
use crate::packet::{is_keyframe, CodecKind, DependencyDescriptor, Vp8Descriptor, Vp9Descriptor};
use crate::producer::{codec_kind, codecs_compatible, Layer};
use crate::Event;
use crate::{ProducerId, TransportId};
use tracing::{debug, trace};

/// Most payload types remembered per producer and per consumer.
const MAX_PT_ENTRIES: usize = 4;

impl Router {
    pub(super) fn forward(&mut self, tid: TransportId, pkt: RtpPacket) {
        self.stats.rtp_in += 1;
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        let ssrc = pkt.header.ssrc;
        let (pid, layer) = match t.ssrc_cache.get(&ssrc) {
            Some(v) => *v,
            None => {
                let Some((mid, rid)) = t
                    .rtc
                    .direct_api()
                    .stream_rx(&ssrc)
                    .map(|s| (s.mid(), s.rid()))
                else {
                    return;
                };
                let Some(pid) = t.producer_for_mid(mid) else {
                    return;
                };
                let rid = rid.or(pkt.header.ext_vals.rid);
                let layer = self
                    .producers
                    .get(&pid)
                    .and_then(|p| p.layer_index(ssrc, rid));
                let Some(layer) = layer else {
                    // An encoding past the layer limit, or one never signalled.
                    self.stats.dropped_unknown_layer += 1;
                    return;
                };
                if t.ssrc_cache.len() < self.config.limits.max_ssrcs_per_transport {
                    t.ssrc_cache.insert(ssrc, (pid, layer));
                }
                (pid, layer)
            }
        };
        let Some(producer) = self.producers.get_mut(&pid) else {
            return;
        };
        producer.packets += 1;
        if let Some(l) = producer.layers.get_mut(layer as usize) {
            l.on_packet(pkt.timestamp, pkt.payload.len());
        }
        if producer.paused || producer.consumers.is_empty() {
            return;
        }
        let pt = pkt.header.payload_type;
        if producer.codec_for(pt).is_none() {
            let Some(params) = t.rtc.codec_config().params().iter().find(|p| p.pt() == pt) else {
                return;
            };
            if producer.codecs.len() >= MAX_PT_ENTRIES {
                producer.codecs.remove(0);
            }
            producer.codecs.push((pt, *params, codec_kind(params)));
        }
        let Some(&(_, in_params, codec)) = producer.codec_for(pt) else {
            return;
        };
        let mut info = PacketInfo {
            layer,
            keyframe: is_keyframe(codec, &pkt.payload),
            seq: *pkt.seq_no,
            ts: pkt.header.timestamp,
            clock_rate: in_params.spec().clock_rate.get(),
            now: pkt.timestamp,
            temporal: None,
            frame_start: false,
            picture_id: None,
            tl0: None,
            svc_spatial: None,
            end_of_frame: false,
            temporal_switch: None,
        };
        let dd = pkt
            .header
            .ext_vals
            .user_values
            .get::<RawDependencyDescriptor>();
        if let Some(raw) = dd {
            // The descriptor, not the payload, says which layer a frame is in.
            if let Ok(mut d) = DependencyDescriptor::parse(&raw.0, producer.dd_structure.as_ref()) {
                info.temporal = Some(d.temporal_id);
                info.frame_start = d.start_of_frame && d.spatial_id == 0;
                info.end_of_frame = d.end_of_frame;
                info.keyframe |= info.frame_start && d.attached_structure.is_some();
                if let Some(s) = d.attached_structure.take() {
                    producer.svc_layers = s.max_spatial_id() + 1;
                    producer.dd_structure = Some(s);
                }
                if producer.svc_layers > 1 {
                    info.svc_spatial = Some(d.spatial_id);
                }
                // Temporal layers switch at picture starts; the base
                // layer's frame says for which targets it is a switch point.
                if info.frame_start {
                    info.temporal_switch = producer
                        .dd_structure
                        .as_ref()
                        .map(|s| d.switch_points(s, 0));
                }
            }
        } else if codec == CodecKind::Vp9 {
            if let Ok(d) = Vp9Descriptor::parse(&pkt.payload) {
                let sid = d.sid.unwrap_or(0);
                info.temporal = d.tid;
                info.frame_start = d.start_of_frame && sid == 0;
                info.end_of_frame = d.end_of_frame;
                if let Some(ss) = &d.ss {
                    producer.svc_layers = ss.spatial_layers();
                }
                if producer.svc_layers > 1 {
                    info.svc_spatial = Some(sid);
                }
            }
        } else if codec == CodecKind::Vp8 {
            if let Ok(d) = Vp8Descriptor::parse(&pkt.payload) {
                info.temporal = d.tid;
                info.frame_start = d.start_of_partition && d.partition_id == 0;
                info.picture_id = d.picture_id;
                info.tl0 = d.tl0picidx;
                // A layer-sync frame of layer t references only the base
                // layer: the one safe place to start forwarding layer t.
                let tid = d.tid.unwrap_or(0);
                let sync = d.layer_sync && tid > 0;
                producer.vp8_layer_sync |= sync;
                if info.frame_start && producer.vp8_layer_sync {
                    let here = if sync { 1u8 << tid.min(7) } else { 0 };
                    info.temporal_switch = Some(if info.keyframe { u8::MAX } else { here });
                }
            }
        }
        let video = producer.kind.is_video();
        let e = &pkt.header.ext_vals;
        let mut exts = ExtensionValues {
            audio_level: e.audio_level,
            voice_activity: e.voice_activity,
            video_orientation: e.video_orientation,
            ..Default::default()
        };
        if let Some(raw) = dd {
            exts.user_values.set(raw.clone());
        }
        let max_routes = self.config.limits.max_addrs_per_transport;
        let now = self.now;
        // Layers whose keyframe some consumer waits for (bit per layer).
        let mut want_keyframe = 0u32;
        for &cid in &producer.consumers {
            let Some(c) = self.consumers.get_mut(&cid) else {
                continue;
            };
            let before = c.current;
            let verdict = c.on_packet(&info);
            if c.current != before {
                // Pushed here, not through `emit` (which borrows the router):
                // logged as `emit` would.
                debug!(consumer = %cid, from = ?before, to = ?c.current, "consumer switched layers");
                self.out.push(Output::Event(Event::ConsumerLayersChanged {
                    consumer: cid,
                    transport: c.transport,
                    layers: c.current,
                }));
            }
            let (w, vp8, marker) = match verdict {
                Verdict::Forward(f) => (f.numbers, f.vp8, f.marker),
                Verdict::Drop => {
                    if c.wants_keyframe() {
                        want_keyframe |= 1 << c.selector.target().spatial.min(31);
                    }
                    continue;
                }
            };
            if info.keyframe {
                trace!(consumer = %cid, "keyframe forwarded to the subscriber");
            }
            let (Some(st), Some(out_ssrc)) = (self.transports.get_mut(&c.transport), c.ssrc) else {
                continue;
            };
            let out_pt = match c.pt_map.iter().find(|(i, _)| *i == pt) {
                Some((_, o)) => *o,
                None => {
                    let o = subscriber_pt(st, c.mid, &in_params);
                    if c.pt_map.len() >= MAX_PT_ENTRIES {
                        c.pt_map.remove(0);
                    }
                    c.pt_map.push((pt, o));
                    o
                }
            };
            let Some(out_pt) = out_pt else {
                continue;
            };
            let mut write = RtpWrite::new(
                out_pt,
                w.seq.into(),
                w.ts,
                pkt.timestamp,
                pkt.payload.clone(),
            )
            .marker(marker.unwrap_or(pkt.header.marker))
            .ext_vals(exts.clone())
            .nackable(video);
            if let Some((pid_out, tl0_out)) = vp8 {
                if let Some(patch) = vp8_patch(&pkt.payload, pid_out, tl0_out) {
                    write = write.vp8_patch(patch);
                }
            }
            st.guarded(|rtc| {
                if let Some(tx) = rtc.direct_api().stream_tx(&out_ssrc) {
                    tx.write_rtp(write);
                }
            });
            self.stats.rtp_out += 1;
            self.stats.rtp_bytes_out += pkt.payload.len() as u64;
            c.bytes_sent += pkt.payload.len() as u64;
            let mut drain = |st: &mut crate::transport::Transport| {
                drain_into(
                    st,
                    &mut self.out,
                    &mut self.demux,
                    &mut self.scratch,
                    &mut self.work,
                    &mut self.failed,
                    max_routes,
                )
            };
            drain(st);
            // str0m's pacer hands a written packet out only from its next
            // timeout, which it asks for at once: run that timeout here (a
            // mutation after a full drain, as str0m requires) so the packet
            // leaves in this call instead of after a round trip through the
            // timer set and the host.
            if st.rtc_timeout <= now {
                let _ = st.guarded(|rtc| rtc.handle_input(str0m::Input::Timeout(now)));
                drain(st);
            }
            schedule_transport(&mut self.timers, st, &self.config);
        }
        for layer in 0..32u8 {
            if want_keyframe & (1 << layer) != 0 {
                self.request_keyframe(pid, Some(layer));
            }
        }
    }

    /// Ask the producer's sender for a keyframe of one layer (`None`: every
    /// layer), throttled per layer.
    pub(crate) fn request_keyframe(&mut self, pid: ProducerId, layer: Option<u8>) {
        let now = self.now;
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        if !p.kind.is_video() {
            return;
        }
        let layers: SmallVec<[u8; 3]> = match layer {
            Some(l) if (l as usize) < p.layers.len() => smallvec::smallvec![l],
            // SVC: one encoding carries every spatial layer, and an
            // up-switch needs its keyframe.
            Some(_) if p.svc_layers > 1 => smallvec::smallvec![0],
            Some(_) => SmallVec::new(),
            None => (0..p.layers.len() as u8).collect(),
        };
        for l in layers {
            let Some(p) = self.producers.get_mut(&pid) else {
                return;
            };
            if p.layers[l as usize].keyframe.request(now) {
                self.send_keyframe_request(pid, l);
            }
            self.schedule_keyframe(pid, l);
        }
    }

    pub(super) fn keyframe_timeout(&mut self, pid: ProducerId, layer: u8, now: Instant) {
        let Some(l) = self.layer_mut(pid, layer) else {
            return;
        };
        l.scheduled = None;
        if l.keyframe.handle_timeout(now) {
            self.send_keyframe_request(pid, layer);
        }
        self.schedule_keyframe(pid, layer);
    }

    fn layer_mut(&mut self, pid: ProducerId, layer: u8) -> Option<&mut Layer> {
        self.producers
            .get_mut(&pid)
            .and_then(|p| p.layers.get_mut(layer as usize))
    }

    fn schedule_keyframe(&mut self, pid: ProducerId, layer: u8) {
        let Some(l) = self.layer_mut(pid, layer) else {
            return;
        };
        let (old, new) = (l.scheduled, l.keyframe.poll_timeout());
        l.scheduled = new;
        self.schedule(old, new, Timer::Keyframe(pid, layer));
    }

    fn send_keyframe_request(&mut self, pid: ProducerId, layer: u8) {
        let Some(p) = self.producers.get(&pid) else {
            return;
        };
        let Some(t) = self.transports.get_mut(&p.transport) else {
            return;
        };
        let Some(key) = p.layers.get(layer as usize).map(|l| l.key) else {
            return;
        };
        let mid = p.mid;
        t.guarded(|rtc| {
            if let Some(rx) = key.stream_rx(&mut rtc.direct_api(), mid) {
                rx.request_keyframe(KeyframeRequestKind::Pli);
            }
        });
        self.stats.keyframe_requests += 1;
        trace!(producer = %pid, layer, "keyframe request (PLI) sent to the publisher");
        let tid = p.transport;
        self.drain_transport(tid);
    }

    /// The layer monitor of a multi-layer producer: re-evaluate which layers
    /// are live and move consumers' targets accordingly.
    pub(super) fn layers_timeout(&mut self, pid: ProducerId, now: Instant) {
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        let old = p.monitor_at;
        let changed = p.handle_monitor_timeout(now);
        let new = p.monitor_at;
        self.schedule(old, new, Timer::Layers(pid));
        if changed {
            self.update_layer_targets(pid);
        }
    }

    /// Recompute every consumer's target of this producer and ask for the
    /// keyframes the new targets need.
    pub(crate) fn update_layer_targets(&mut self, pid: ProducerId) {
        let Some(p) = self.producers.get(&pid) else {
            return;
        };
        let states = p.layer_states();
        let mut want = SmallVec::<[u8; 3]>::new();
        for cid in &p.consumers {
            if let Some(c) = self.consumers.get_mut(cid) {
                c.selector.update(&states);
                if c.wants_keyframe() {
                    want.push(c.selector.target().spatial);
                }
            }
        }
        want.sort_unstable();
        want.dedup();
        for l in want {
            self.request_keyframe(pid, Some(l));
        }
    }
}

/// A str0m patch that rewrites the VP8 picture ID and TL0PICIDX while
/// serializing, so the shared payload is never copied.
fn vp8_patch(payload: &[u8], pid: Option<u16>, tl0: Option<u8>) -> Option<Vp8Patch> {
    let d = str0m::rtp::Vp8Descriptor::parse(payload).ok()?;
    let mut b = d.patch();
    if let Some(p) = pid {
        b = b.picture_id(p);
    }
    if let Some(t) = tl0 {
        b = b.tl0_pic_idx(t);
    }
    b.build().ok()
}

/// The payload type on the subscriber's m-line that carries the producer's codec.
fn subscriber_pt(
    st: &crate::transport::Transport,
    mid: Option<str0m::media::Mid>,
    in_params: &str0m::format::PayloadParams,
) -> Option<Pt> {
    let media = st.rtc.media(mid?)?;
    let remote = media.remote_pts();
    st.rtc
        .codec_config()
        .params()
        .iter()
        .filter(|p| remote.is_empty() || remote.contains(&p.pt()))
        .find(|p| codecs_compatible(p, in_params))
        .map(|p| p.pt())
}
