//! Temporary minimal codec helpers (replaced by the packet branch).

/// Codecs the router knows how to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecKind {
    /// Opus.
    Opus,
    /// VP8.
    Vp8,
    /// VP9.
    Vp9,
    /// H.264.
    H264,
    /// AV1.
    Av1,
    /// Anything else.
    Other,
}

/// Whether this packet starts a keyframe.
pub fn is_keyframe(codec: CodecKind, payload: &[u8]) -> bool {
    match codec {
        CodecKind::Vp8 => {
            let Some(&b0) = payload.first() else {
                return false;
            };
            let mut at = 1;
            if b0 & 0x80 != 0 {
                let Some(&x) = payload.get(1) else {
                    return false;
                };
                at = 2;
                if x & 0x80 != 0 {
                    at += if payload.get(at).is_some_and(|b| b & 0x80 != 0) {
                        2
                    } else {
                        1
                    };
                }
                if x & 0x40 != 0 {
                    at += 1;
                }
                if x & 0x30 != 0 {
                    at += 1;
                }
            }
            b0 & 0x10 != 0 && b0 & 0x07 == 0 && payload.get(at).is_some_and(|b| b & 0x01 == 0)
        }
        CodecKind::Vp9 => payload
            .first()
            .is_some_and(|b| b & 0x40 == 0 && b & 0x08 != 0),
        CodecKind::H264 => payload
            .first()
            .is_some_and(|b| matches!(b & 0x1f, 5 | 7 | 24)),
        CodecKind::Av1 => payload.first().is_some_and(|b| b & 0x08 != 0),
        _ => false,
    }
}
