//! Codec-independent questions the router asks about a payload: does it
//! start a key frame, and which spatial/temporal layer is it in.

use super::{av1, h264, vp8, vp9};

/// The codecs the router distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodecKind {
    /// Opus audio (RFC 7587).
    Opus,
    /// VP8 video (RFC 7741).
    Vp8,
    /// VP9 video (RFC 9628).
    Vp9,
    /// H.264 video (RFC 6184).
    H264,
    /// AV1 video (AV1 RTP specification).
    Av1,
    /// Anything else; never a key frame and without layer information.
    Other,
}

/// A packet's position in a scalable stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LayerInfo {
    /// Spatial layer index (0 = lowest resolution).
    pub spatial: u8,
    /// Temporal layer index (0 = base frame rate).
    pub temporal: u8,
}

/// Whether the RTP `payload` starts a key frame of `codec`. Audio and
/// unknown codecs always answer `false`; malformed payloads too.
pub fn is_keyframe(codec: CodecKind, payload: &[u8]) -> bool {
    match codec {
        CodecKind::Vp8 => vp8::is_keyframe(payload),
        CodecKind::Vp9 => vp9::is_keyframe(payload),
        CodecKind::H264 => h264::is_keyframe(payload),
        CodecKind::Av1 => av1::is_keyframe(payload),
        CodecKind::Opus | CodecKind::Other => false,
    }
}

/// The layer a VP8 or VP9 payload belongs to, from its payload descriptor.
///
/// A descriptor without layer fields is in layer (0, 0). Returns `None` for
/// malformed payloads and for codecs whose layers are not in the payload
/// (AV1 uses the dependency descriptor extension, see
/// [`crate::packet::DependencyDescriptor`]).
pub fn layer_info(codec: CodecKind, payload: &[u8]) -> Option<LayerInfo> {
    match codec {
        CodecKind::Vp8 => vp8::Vp8Descriptor::parse(payload).ok().map(|d| LayerInfo {
            spatial: 0,
            temporal: d.tid.unwrap_or(0),
        }),
        CodecKind::Vp9 => vp9::Vp9Descriptor::parse(payload).ok().map(|d| LayerInfo {
            spatial: d.sid.unwrap_or(0),
            temporal: d.tid.unwrap_or(0),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatches_keyframes() {
        assert!(is_keyframe(CodecKind::Vp8, &[0x10, 0x00]));
        assert!(is_keyframe(CodecKind::Vp9, &[0x08, 0x00]));
        assert!(is_keyframe(CodecKind::H264, &[0x65, 0x00]));
        assert!(is_keyframe(CodecKind::Av1, &[0x08, 0x00]));
        assert!(!is_keyframe(CodecKind::Opus, &[0x08, 0x00]));
        assert!(!is_keyframe(CodecKind::Other, &[0x08, 0x00]));
        for codec in [
            CodecKind::Vp8,
            CodecKind::Vp9,
            CodecKind::H264,
            CodecKind::Av1,
        ] {
            assert!(!is_keyframe(codec, &[]));
        }
    }

    #[test]
    fn layers() {
        // VP8 with T: tid 2.
        let vp8 = [0x90, 0x20, 0x80, 0x00];
        assert_eq!(
            layer_info(CodecKind::Vp8, &vp8),
            Some(LayerInfo {
                spatial: 0,
                temporal: 2
            })
        );
        assert_eq!(
            layer_info(CodecKind::Vp8, &[0x10, 0]),
            Some(LayerInfo::default())
        );
        // VP9 with L: tid 1, sid 2.
        let vp9 = [0x28, 0x24, 0x00, 0x00];
        assert_eq!(
            layer_info(CodecKind::Vp9, &vp9),
            Some(LayerInfo {
                spatial: 2,
                temporal: 1
            })
        );
        assert_eq!(layer_info(CodecKind::Vp9, &[0x28]), None);
        assert_eq!(layer_info(CodecKind::H264, &[0x65]), None);
        assert_eq!(layer_info(CodecKind::Opus, &[0x65]), None);
    }
}
