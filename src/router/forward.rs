//! The media path: one incoming RTP packet to every consumer of its producer.
//!
//! The payload is an `Arc<[u8]>` shared by all consumers; per consumer only
//! the header fields (SSRC, sequence number, timestamp, payload type) are
//! new, and str0m encrypts the result for that subscriber.

use std::time::Instant;

use str0m::media::{KeyframeRequestKind, Pt};
use str0m::rtp::{ExtensionValues, RtpPacket, RtpWrite};

use super::{drain_into, schedule_transport, Router, Timer};
use crate::consumer::{PacketInfo, Verdict};
use crate::packet::is_keyframe;
use crate::producer::{codec_kind, codecs_compatible};
use crate::{ProducerId, TransportId};

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
                let Some(layer) = self.producers.get(&pid).and_then(|p| p.layer_index(rid)) else {
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
            l.last_packet = Some(pkt.timestamp);
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
        let Some((_, in_params, codec)) = producer.codec_for(pt) else {
            return;
        };
        let info = PacketInfo {
            layer,
            keyframe: is_keyframe(*codec, &pkt.payload),
            seq: *pkt.seq_no,
            ts: pkt.header.timestamp,
            clock_rate: in_params.spec().clock_rate.get(),
            now: pkt.timestamp,
        };
        let video = producer.kind.is_video();
        let e = &pkt.header.ext_vals;
        let exts = ExtensionValues {
            audio_level: e.audio_level,
            voice_activity: e.voice_activity,
            video_orientation: e.video_orientation,
            ..Default::default()
        };
        let max_routes = self.config.limits.max_addrs_per_transport;
        let mut want_keyframe = false;
        for &cid in &producer.consumers {
            let Some(c) = self.consumers.get_mut(&cid) else {
                continue;
            };
            let w = match c.on_packet(&info) {
                Verdict::Forward(w) => w,
                Verdict::Drop => {
                    want_keyframe |= c.wants_keyframe();
                    continue;
                }
            };
            let (Some(st), Some(out_ssrc)) = (self.transports.get_mut(&c.transport), c.ssrc) else {
                continue;
            };
            let out_pt = match c.pt_map.iter().find(|(i, _)| *i == pt) {
                Some((_, o)) => *o,
                None => {
                    let o = subscriber_pt(st, c.mid, in_params);
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
            let write = RtpWrite::new(
                out_pt,
                w.seq.into(),
                w.ts,
                pkt.timestamp,
                pkt.payload.clone(),
            )
            .marker(pkt.header.marker)
            .ext_vals(exts.clone())
            .nackable(video);
            st.guarded(|rtc| {
                if let Some(tx) = rtc.direct_api().stream_tx(&out_ssrc) {
                    tx.write_rtp(write);
                }
            });
            self.stats.rtp_out += 1;
            drain_into(
                st,
                &mut self.out,
                &mut self.demux,
                &mut self.scratch,
                &mut self.work,
                &mut self.failed,
                max_routes,
            );
            schedule_transport(&mut self.timers, st, &self.config);
        }
        if want_keyframe {
            self.request_keyframe(pid);
        }
    }

    /// Ask the producer's sender for a keyframe, throttled.
    pub(crate) fn request_keyframe(&mut self, pid: ProducerId) {
        let now = self.now;
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        if !p.kind.is_video() {
            return;
        }
        if p.keyframe.request(now) {
            self.send_keyframe_request(pid);
        }
        self.schedule_keyframe(pid);
    }

    pub(super) fn keyframe_timeout(&mut self, pid: ProducerId, now: Instant) {
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        p.scheduled = None;
        if p.keyframe.handle_timeout(now) {
            self.send_keyframe_request(pid);
        }
        self.schedule_keyframe(pid);
    }

    fn schedule_keyframe(&mut self, pid: ProducerId) {
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        let (old, new) = (p.scheduled, p.keyframe.poll_timeout());
        p.scheduled = new;
        self.schedule(old, new, Timer::Keyframe(pid));
    }

    fn send_keyframe_request(&mut self, pid: ProducerId) {
        let Some(p) = self.producers.get(&pid) else {
            return;
        };
        let Some(t) = self.transports.get_mut(&p.transport) else {
            return;
        };
        let mid = p.mid;
        let rids: smallvec::SmallVec<[_; 3]> = p.layers.iter().map(|l| l.rid).collect();
        t.guarded(|rtc| {
            let mut api = rtc.direct_api();
            for rid in rids {
                if let Some(rx) = api.stream_rx_by_mid(mid, rid) {
                    rx.request_keyframe(KeyframeRequestKind::Pli);
                }
            }
        });
        self.stats.keyframe_requests += 1;
        let tid = p.transport;
        self.drain_transport(tid);
    }
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
