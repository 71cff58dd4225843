//! Producers: incoming tracks.

use std::time::Instant;

use smallvec::SmallVec;
use str0m::format::PayloadParams;
use str0m::media::{MediaKind, Mid, Pt, Rid};

use crate::keyframe::KeyframeThrottle;
use crate::packet::CodecKind;
use crate::{ConsumerId, TransportId};

/// One encoding of a producer: the only one, or one simulcast stream.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    pub rid: Option<Rid>,
    pub last_packet: Option<Instant>,
}

pub(crate) struct Producer {
    pub transport: TransportId,
    pub mid: Mid,
    pub kind: MediaKind,
    /// Encodings, lowest quality first (the order of `a=simulcast`).
    pub layers: SmallVec<[Layer; 3]>,
    /// Payload types seen on this producer, with their codec.
    pub codecs: SmallVec<[(Pt, PayloadParams, CodecKind); 2]>,
    pub paused: bool,
    pub consumers: Vec<ConsumerId>,
    pub keyframe: KeyframeThrottle,
    pub packets: u64,
    /// The keyframe timer currently scheduled.
    pub scheduled: Option<Instant>,
}

impl Producer {
    /// Index of the layer with this rid (a producer without rids has one layer).
    pub(crate) fn layer_index(&self, rid: Option<Rid>) -> Option<u8> {
        if self.layers.len() == 1 && self.layers[0].rid.is_none() {
            return Some(0);
        }
        let rid = rid?;
        self.layers
            .iter()
            .position(|l| l.rid == Some(rid))
            .map(|i| i as u8)
    }

    pub(crate) fn codec_for(&self, pt: Pt) -> Option<&(Pt, PayloadParams, CodecKind)> {
        self.codecs.iter().find(|(p, _, _)| *p == pt)
    }
}

/// Map str0m's codec to the codecs this crate reads.
pub(crate) fn codec_kind(params: &PayloadParams) -> CodecKind {
    use str0m::format::Codec;
    match params.spec().codec {
        Codec::Opus => CodecKind::Opus,
        Codec::Vp8 => CodecKind::Vp8,
        Codec::Vp9 => CodecKind::Vp9,
        Codec::H264 => CodecKind::H264,
        Codec::Av1 => CodecKind::Av1,
        _ => CodecKind::Other,
    }
}

/// Whether a subscriber's payload type can carry the producer's codec
/// without transcoding.
pub(crate) fn codecs_compatible(a: &PayloadParams, b: &PayloadParams) -> bool {
    use str0m::format::Codec;
    let (sa, sb) = (a.spec(), b.spec());
    if sa.codec != sb.codec || sa.clock_rate != sb.clock_rate {
        return false;
    }
    match sa.codec {
        Codec::H264 => {
            let profile = |p: Option<u32>| p.map(|v| v >> 16).unwrap_or(0x42);
            sa.format.packetization_mode.unwrap_or(0) == sb.format.packetization_mode.unwrap_or(0)
                && profile(sa.format.profile_level_id) == profile(sb.format.profile_level_id)
        }
        Codec::Vp9 => sa.format.profile_id.unwrap_or(0) == sb.format.profile_id.unwrap_or(0),
        _ => true,
    }
}
