//! Reading an incoming packet once, for all its consumers: codec, keyframe,
//! layers and the switch points the payload descriptor marks.
//!
//! The producer keeps what the descriptors teach over time (the AV1
//! Dependency Descriptor's structure, the number of SVC spatial layers,
//! whether the VP8 sender marks layer-sync frames); each packet is parsed
//! here exactly once, whatever the number of consumers.

use std::sync::Arc;
use std::time::Instant;

use str0m::format::PayloadParams;
use str0m::media::Pt;
use str0m::rtp::{ExtensionValues, RtpPacket, Vp8Patch};

use super::consumer::PacketInfo;
use super::producer::{codec_kind, Producer};
use crate::ext::RawDependencyDescriptor;
use crate::packet::{is_keyframe, CodecKind, DependencyDescriptor, Vp8Descriptor, Vp9Descriptor};

/// Most payload types remembered per producer (and per consumer).
pub(crate) const MAX_PT_ENTRIES: usize = 4;

/// An incoming packet as the router forwards it, whichever way it came:
/// from a publisher's WebRTC transport or through a pipe.
pub(crate) struct MediaPacket {
    pub pt: Pt,
    /// Extended sequence number.
    pub seq: u64,
    /// RTP timestamp.
    pub ts: u32,
    pub marker: bool,
    /// When it arrived.
    pub arrival: Instant,
    pub payload: Arc<[u8]>,
    /// The header extensions a forwarded packet keeps.
    pub exts: ExtensionValues,
}

impl MediaPacket {
    /// A packet from a publisher, with the extensions forwarding keeps.
    pub(crate) fn from_rtp(pkt: RtpPacket, exts: ExtensionValues) -> MediaPacket {
        MediaPacket {
            pt: pkt.header.payload_type,
            seq: *pkt.seq_no,
            ts: pkt.header.timestamp,
            marker: pkt.header.marker,
            arrival: pkt.timestamp,
            payload: pkt.payload,
            exts,
        }
    }
}

/// One packet as its consumers see it.
pub(crate) struct Inspected {
    pub info: PacketInfo,
    /// The codec the packet's payload type stands for.
    pub params: PayloadParams,
    /// VP8 only: the descriptor's field offsets, from which each consumer
    /// that renumbers picture IDs builds its patch without parsing again.
    pub vp8: Option<str0m::rtp::Vp8Descriptor>,
}

impl Inspected {
    /// A patch that rewrites the VP8 picture ID and TL0PICIDX while str0m
    /// serializes the packet, so the shared payload is never copied.
    pub(crate) fn vp8_patch(&self, picture_id: Option<u16>, tl0: Option<u8>) -> Option<Vp8Patch> {
        let mut b = self.vp8?.patch();
        if let Some(p) = picture_id {
            b = b.picture_id(p);
        }
        if let Some(t) = tl0 {
            b = b.tl0_pic_idx(t);
        }
        b.build().ok()
    }
}

impl Producer {
    /// Remember the codec of payload type `pt` (the most recent few).
    pub(crate) fn learn_codec(&mut self, pt: Pt, params: PayloadParams) {
        if self.codec_for(pt).is_some() {
            return;
        }
        if self.codecs.len() >= MAX_PT_ENTRIES {
            self.codecs.remove(0);
        }
        self.codecs.push((pt, params, codec_kind(&params)));
    }

    /// Read one packet of simulcast encoding `layer` (its codec already
    /// learned; `None` otherwise).
    pub(crate) fn inspect(&mut self, pkt: &MediaPacket, layer: u8) -> Option<Inspected> {
        let &(_, params, codec) = self.codec_for(pkt.pt)?;
        let mut info = PacketInfo {
            layer,
            keyframe: is_keyframe(codec, &pkt.payload),
            seq: pkt.seq,
            ts: pkt.ts,
            clock_rate: params.spec().clock_rate.get(),
            now: pkt.arrival,
            temporal: None,
            frame_start: false,
            picture_id: None,
            tl0: None,
            svc_spatial: None,
            end_of_frame: false,
            temporal_switch: None,
            marker: pkt.marker,
        };
        let mut vp8 = None;
        let dd = pkt.exts.user_values.get::<RawDependencyDescriptor>();
        if let Some(raw) = dd {
            // The descriptor, not the payload, says which layer a frame is in.
            self.read_dependency_descriptor(&raw.0, &mut info);
        } else if codec == CodecKind::Vp9 {
            self.read_vp9(&pkt.payload, &mut info);
        } else if codec == CodecKind::Vp8 {
            self.read_vp8(&pkt.payload, &mut info);
            vp8 = str0m::rtp::Vp8Descriptor::parse(&pkt.payload).ok();
        }
        Some(Inspected { info, params, vp8 })
    }

    fn read_dependency_descriptor(&mut self, raw: &[u8], info: &mut PacketInfo) {
        let Ok(mut d) = DependencyDescriptor::parse(raw, self.dd_structure.as_ref()) else {
            return;
        };
        info.temporal = Some(d.temporal_id);
        info.frame_start = d.start_of_frame && d.spatial_id == 0;
        info.end_of_frame = d.end_of_frame;
        info.keyframe |= info.frame_start && d.attached_structure.is_some();
        if let Some(s) = d.attached_structure.take() {
            self.svc_layers = s.max_spatial_id() + 1;
            self.dd_structure = Some(s);
        }
        if self.svc_layers > 1 {
            info.svc_spatial = Some(d.spatial_id);
        }
        // Temporal layers switch at picture starts; the base layer's frame
        // says for which targets it is a switch point.
        if info.frame_start {
            info.temporal_switch = self.dd_structure.as_ref().map(|s| d.switch_points(s, 0));
        }
    }

    fn read_vp9(&mut self, payload: &[u8], info: &mut PacketInfo) {
        let Ok(d) = Vp9Descriptor::parse(payload) else {
            return;
        };
        let sid = d.sid.unwrap_or(0);
        info.temporal = d.tid;
        info.frame_start = d.start_of_frame && sid == 0;
        info.end_of_frame = d.end_of_frame;
        if let Some(ss) = &d.ss {
            self.svc_layers = ss.spatial_layers();
        }
        if self.svc_layers > 1 {
            info.svc_spatial = Some(sid);
        }
    }

    fn read_vp8(&mut self, payload: &[u8], info: &mut PacketInfo) {
        let Ok(d) = Vp8Descriptor::parse(payload) else {
            return;
        };
        info.temporal = d.tid;
        info.frame_start = d.start_of_partition && d.partition_id == 0;
        info.picture_id = d.picture_id;
        info.tl0 = d.tl0picidx;
        // A layer-sync frame of layer t references only the base layer: the
        // one safe place to start forwarding layer t.
        let tid = d.tid.unwrap_or(0);
        let sync = d.layer_sync && tid > 0;
        self.vp8_layer_sync |= sync;
        if info.frame_start && self.vp8_layer_sync {
            let here = if sync { 1u8 << tid.min(7) } else { 0 };
            info.temporal_switch = Some(if info.keyframe { u8::MAX } else { here });
        }
    }
}
