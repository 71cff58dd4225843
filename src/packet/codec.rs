//! The codec-independent question the router asks about a payload: does it
//! start a key frame.

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
    /// Anything else; never a key frame.
    Other,
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
}
