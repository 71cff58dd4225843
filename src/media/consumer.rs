//! Consumers: one outgoing copy of a producer on a subscriber's transport.
//!
//! A consumer decides per packet whether to forward it (paused, waiting for
//! a keyframe, another layer) and rewrites SSRC, sequence number, timestamp,
//! payload type and, for VP8, picture ID and TL0PICIDX, so the subscriber
//! sees one continuous stream whatever the router drops or switches.

use std::time::Instant;

use smallvec::SmallVec;
use str0m::media::{MediaKind, Mid, Pt};
use str0m::rtp::Ssrc;

use super::layers::{LayerSelector, Layers};
use super::rewrite::{Rewriter, Rewritten};
use super::vp8_continuity::Vp8Rewrite;
use crate::{ProducerId, TransportId};

pub(crate) struct Consumer {
    pub transport: TransportId,
    pub producer: ProducerId,
    pub kind: MediaKind,
    /// The m-line and send stream once bound.
    pub mid: Option<Mid>,
    pub ssrc: Option<Ssrc>,
    /// Whether its transport is connected (media written before would be lost).
    pub connected: bool,
    pub paused: bool,
    pub producer_paused: bool,
    /// Paused by the bandwidth allocator (video only).
    pub bw_paused: bool,
    /// The allocator moved the target below the current layer: stop sending
    /// the current layer at once instead of waiting for the lower keyframe,
    /// so a congested link drains.
    pub urgent_down: bool,
    pub priority: u8,
    /// Bitrate the allocator gave it (`None`: no allocation yet).
    pub allocated_bps: Option<u64>,
    pub bytes_sent: u64,
    /// Video only: drop until a keyframe of the target layer starts.
    pub wait_keyframe: bool,
    /// The layers being forwarded, once a keyframe started them.
    pub current: Option<Layers>,
    pub selector: LayerSelector,
    /// Incoming payload type to outgoing payload type on this transport
    /// (`None`: the subscriber cannot take that codec).
    pub pt_map: SmallVec<[(Pt, Option<Pt>); 2]>,
    pub rewriter: Rewriter,
    pub vp8: Vp8Rewrite,
    /// Whether its producer is spatially scalable within one stream.
    pub svc: bool,
    pub packets_sent: u64,
    /// Keyframe requests sent to the publisher on this consumer's behalf.
    pub keyframe_requests: u64,
    /// The WebRTC stack's last report on its outgoing stream.
    pub egress: crate::stats::EgressReport,
    /// Its own quality score, before its producer's caps it.
    pub score: crate::stats::score::Score,
    /// The score last reported to the host (capped).
    pub reported_score: u8,
}

/// How to forward one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forward {
    pub numbers: Rewritten,
    /// New VP8 picture ID and TL0PICIDX, when they must change.
    pub vp8: Option<(Option<u16>, Option<u8>)>,
    /// New RTP marker, when dropping SVC layers moves the end of the picture.
    pub marker: Option<bool>,
}

/// What a consumer does with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Forward it, rewritten.
    Forward(Forward),
    /// Not forwarded (paused, unbound, other layer, waiting for a keyframe).
    Drop,
}

/// Facts about one incoming packet that every consumer of it needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketInfo {
    /// Simulcast encoding index.
    pub layer: u8,
    pub keyframe: bool,
    pub seq: u64,
    pub ts: u32,
    pub clock_rate: u32,
    pub now: Instant,
    /// Temporal layer id, when the payload descriptor carries one.
    pub temporal: Option<u8>,
    /// First packet of a picture.
    pub frame_start: bool,
    /// VP8 picture ID and TL0PICIDX.
    pub picture_id: Option<u16>,
    pub tl0: Option<u8>,
    /// Spatial layer inside one stream (VP9 SVC, AV1 with a multi-layer
    /// Dependency Descriptor structure).
    pub svc_spatial: Option<u8>,
    /// Last packet of the layer frame.
    pub end_of_frame: bool,
    /// At a picture start: the temporal layers (bit per layer) the picture
    /// is a switch point for, from the Dependency Descriptor or the VP8
    /// layer-sync bit; a temporal up-switch goes to the highest of them not
    /// above the target. `None`: no such information (any picture).
    pub temporal_switch: Option<u8>,
    /// The RTP marker bit (the last packet of a picture, for VP8).
    pub marker: bool,
}

impl Consumer {
    /// The producer layer whose keyframe this consumer waits for, if any:
    /// the one place that says which keyframe to ask for on its behalf.
    pub(crate) fn keyframe_wish(&self) -> Option<(ProducerId, u8)> {
        self.wants_keyframe()
            .then(|| (self.producer, self.selector.target().spatial))
    }

    /// The payload type this consumer sends the producer's `pt` as:
    /// learned once per incoming payload type (`lookup` asks the
    /// subscriber's transport), `None` if the subscriber cannot take
    /// that codec.
    pub(crate) fn out_pt(&mut self, pt: Pt, lookup: impl FnOnce() -> Option<Pt>) -> Option<Pt> {
        if let Some((_, o)) = self.pt_map.iter().find(|(i, _)| *i == pt) {
            return *o;
        }
        let o = lookup();
        if self.pt_map.len() >= super::inspect::MAX_PT_ENTRIES {
            self.pt_map.remove(0);
        }
        self.pt_map.push((pt, o));
        o
    }

    pub(crate) fn is_active(&self) -> bool {
        self.connected
            && self.ssrc.is_some()
            && !self.paused
            && !self.producer_paused
            && !self.bw_paused
    }

    /// Break the outgoing stream; video waits for a keyframe to go on.
    pub(crate) fn restart(&mut self) {
        self.rewriter.break_segment();
        if self.kind.is_video() {
            self.wait_keyframe = true;
        }
    }

    pub(crate) fn on_packet(&mut self, p: &PacketInfo) -> Verdict {
        if !self.is_active() {
            return Verdict::Drop;
        }
        self.svc = p.svc_spatial.is_some();
        let target = self.selector.target();
        let svc = p.svc_spatial.is_some();
        let mut marker = None;
        if self.kind.is_video() {
            // Simulcast picks a stream; SVC has one stream and picks inside it.
            let stream = if svc { 0 } else { target.spatial };
            let cur_stream = self.current.map(|c| if svc { 0 } else { c.spatial });
            let on_current = cur_stream == Some(p.layer);
            let switch_here = p.layer == stream && p.keyframe;
            if switch_here && (!on_current || self.wait_keyframe) {
                let spatial = if svc { target.spatial } else { p.layer };
                self.current = Some(Layers::new(spatial, target.temporal));
                self.wait_keyframe = false;
                self.rewriter.rebase(p.seq, p.ts, p.now, p.clock_rate);
                self.vp8.rebase(p.picture_id, p.tl0);
            } else if !on_current || self.wait_keyframe {
                return Verdict::Drop;
            } else if !svc && self.urgent_down && p.layer > target.spatial {
                self.rewriter.break_segment();
                return Verdict::Drop;
            }
            if self.current.map(|c| c.spatial) == Some(target.spatial) {
                self.urgent_down = false;
            }
            if let (Some(sid), Some(current)) = (p.svc_spatial, self.current.as_mut()) {
                // Down at any picture start; up only at a keyframe (k-SVC:
                // upper layers reference lower ones only there).
                if p.frame_start
                    && (target.spatial < current.spatial
                        || (target.spatial > current.spatial && p.keyframe))
                {
                    current.spatial = target.spatial;
                }
                if sid > current.spatial {
                    self.rewriter.skip(p.seq);
                    return Verdict::Drop;
                }
                if sid == current.spatial && p.end_of_frame {
                    marker = Some(true);
                } else if sid < current.spatial {
                    marker = Some(false);
                }
            }
            if let (Some(tid), Some(current)) = (p.temporal, self.current.as_mut()) {
                // Down at any picture start; up only where the stream says
                // it is safe (a picture after a dropped one may reference it).
                if p.frame_start {
                    current.temporal = match p.temporal_switch {
                        _ if target.temporal <= current.temporal => target.temporal,
                        None => target.temporal,
                        Some(m) => (current.temporal + 1..=target.temporal.min(7))
                            .rev()
                            .find(|l| m & (1 << l) != 0)
                            .unwrap_or(current.temporal),
                    };
                }
                if tid > current.temporal {
                    if self.vp8.follows_dropped(p.picture_id) {
                        // Lost packets before it were this picture's, or
                        // earlier dropped ones': skip them with it.
                        self.rewriter.skip_until(p.seq + 1);
                    } else {
                        self.rewriter.skip(p.seq);
                    }
                    // Once per picture: by its picture ID, else at its start.
                    if p.picture_id.is_some() || p.frame_start {
                        self.vp8.drop_picture(p.picture_id);
                    }
                    return Verdict::Drop;
                }
            }
        } else if self.rewriter.needs_rebase() {
            self.rewriter.rebase(p.seq, p.ts, p.now, p.clock_rate);
        }
        if p.frame_start && self.vp8.follows_dropped(p.picture_id) {
            // Lost packets since the last picture were the dropped ones'.
            self.rewriter.skip_until(p.seq);
        }
        let Some(w) = self.rewriter.map(p.seq, p.ts, p.now) else {
            return Verdict::Drop;
        };
        self.packets_sent += 1;
        let vp8 = if p.picture_id.is_some() || p.tl0.is_some() {
            let identity = self.vp8.is_identity();
            let out = self.vp8.map(p.picture_id, p.tl0, p.marker);
            (!identity).then_some(out)
        } else {
            None
        };
        Verdict::Forward(Forward {
            numbers: w,
            vp8,
            marker,
        })
    }

    /// Whether this consumer is waiting for a keyframe it has to ask for.
    pub(crate) fn wants_keyframe(&self) -> bool {
        let target = self.selector.target().spatial;
        self.is_active()
            && self.kind.is_video()
            && (self.wait_keyframe
                || match (self.svc, self.current) {
                    (true, Some(c)) => c.spatial < target,
                    (_, c) => c.map(|c| c.spatial) != Some(target),
                })
    }
}
