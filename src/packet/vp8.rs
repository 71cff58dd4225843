//! The VP8 RTP payload descriptor (RFC 7741 §4.2).
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |X|R|N|S|R| PID | (required)
//!      +-+-+-+-+-+-+-+-+
//! X:   |I|L|T|K| RSV   | (optional)
//!      +-+-+-+-+-+-+-+-+
//! I:   |M| PictureID   | (optional, 7 bits, or 15 bits when M = 1)
//!      +-+-+-+-+-+-+-+-+
//!      |   PictureID   |
//!      +-+-+-+-+-+-+-+-+
//! L:   |   TL0PICIDX   | (optional)
//!      +-+-+-+-+-+-+-+-+
//! T/K: |TID|Y| KEYIDX  | (optional)
//!      +-+-+-+-+-+-+-+-+
//! ```
//!
//! The first partition of a frame (S = 1, PID = 0) starts with the VP8
//! payload header (RFC 7741 §4.3), whose lowest bit P is 0 on key frames.

use super::PacketError;

/// A parsed VP8 payload descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Vp8Descriptor {
    /// N: the frame is not used as a reference and may be dropped.
    pub non_reference: bool,
    /// S: this packet starts a VP8 partition.
    pub start_of_partition: bool,
    /// PID: the partition index (0..=7).
    pub partition_id: u8,
    /// The picture ID, if present.
    pub picture_id: Option<u16>,
    /// Whether the picture ID is the 15-bit form (M = 1).
    pub picture_id_15bit: bool,
    /// The temporal layer 0 picture index, if present (L = 1).
    pub tl0picidx: Option<u8>,
    /// The temporal layer index, if present (T = 1).
    pub tid: Option<u8>,
    /// Y: layer sync, meaningful when `tid` is present.
    pub layer_sync: bool,
    /// The key index, if present (K = 1).
    pub keyidx: Option<u8>,
    /// Length of the descriptor; the VP8 payload starts at this offset.
    pub header_len: usize,
}

fn parse_descriptor(payload: &[u8]) -> Result<Vp8Descriptor, PacketError> {
    let get = |i: usize| payload.get(i).copied().ok_or(PacketError::Truncated);
    let b0 = get(0)?;
    let mut out = Vp8Descriptor::default();
    let d = &mut out;
    d.non_reference = b0 & 0x20 != 0;
    d.start_of_partition = b0 & 0x10 != 0;
    d.partition_id = b0 & 0x07;
    let mut pos = 1;
    if b0 & 0x80 != 0 {
        let x = get(pos)?;
        pos += 1;
        if x & 0x80 != 0 {
            let m = get(pos)?;
            if m & 0x80 != 0 {
                let low = get(pos + 1)?;
                d.picture_id = Some(u16::from_be_bytes([m & 0x7F, low]));
                d.picture_id_15bit = true;
                pos += 2;
            } else {
                d.picture_id = Some(u16::from(m));
                pos += 1;
            }
        }
        if x & 0x40 != 0 {
            d.tl0picidx = Some(get(pos)?);
            pos += 1;
        }
        if x & 0x30 != 0 {
            let tk = get(pos)?;
            pos += 1;
            if x & 0x20 != 0 {
                d.tid = Some(tk >> 6);
                d.layer_sync = tk & 0x20 != 0;
            }
            if x & 0x10 != 0 {
                d.keyidx = Some(tk & 0x1F);
            }
        }
    }
    d.header_len = pos;
    Ok(out)
}

impl Vp8Descriptor {
    /// Parses the descriptor at the start of a VP8 RTP payload.
    pub fn parse(payload: &[u8]) -> Result<Self, PacketError> {
        parse_descriptor(payload)
    }
}

/// Whether this payload starts a VP8 key frame: the descriptor parses, the
/// packet begins partition 0 (S = 1, PID = 0) and the VP8 payload header's
/// P bit is 0.
pub fn is_keyframe(payload: &[u8]) -> bool {
    let Ok(d) = Vp8Descriptor::parse(payload) else {
        return false;
    };
    d.start_of_partition
        && d.partition_id == 0
        && payload.get(d.header_len).is_some_and(|b| b & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_descriptor() {
        let d = Vp8Descriptor::parse(&[0x10, 0x00]).unwrap();
        assert!(d.start_of_partition);
        assert_eq!(d.partition_id, 0);
        assert_eq!(d.picture_id, None);
        assert_eq!(d.header_len, 1);
        assert!(is_keyframe(&[0x10, 0x00]));
        assert!(!is_keyframe(&[0x10, 0x01]));
        assert!(!is_keyframe(&[0x10]));
        assert!(!is_keyframe(&[0x11, 0x00]));
        assert!(!is_keyframe(&[0x00, 0x00]));
    }

    #[test]
    fn full_descriptor() {
        // X N S, I L T K, M pid=0x1234, tl0=9, tid=2 Y keyidx=5, payload.
        let p = [0xB0, 0xF0, 0x92, 0x34, 9, 0xA5, 0x9C];
        let d = Vp8Descriptor::parse(&p).unwrap();
        assert_eq!(
            d,
            Vp8Descriptor {
                non_reference: true,
                start_of_partition: true,
                partition_id: 0,
                picture_id: Some(0x1234),
                picture_id_15bit: true,
                tl0picidx: Some(9),
                tid: Some(2),
                layer_sync: true,
                keyidx: Some(5),
                header_len: 6,
            }
        );
        assert!(is_keyframe(&p));
    }

    #[test]
    fn short_picture_id_and_k_only() {
        let p = [0x80, 0x90, 0x05, 0x1F];
        let d = Vp8Descriptor::parse(&p).unwrap();
        assert_eq!(d.picture_id, Some(5));
        assert!(!d.picture_id_15bit);
        assert_eq!(d.tid, None);
        assert_eq!(d.keyidx, Some(0x1F));
        assert_eq!(d.header_len, 4);
    }

    #[test]
    fn truncated_descriptors() {
        let p = [0xB0, 0xF0, 0x92, 0x34, 9, 0xA5];
        for len in 0..p.len() {
            assert_eq!(Vp8Descriptor::parse(&p[..len]), Err(PacketError::Truncated));
            assert!(!is_keyframe(&p[..len]));
        }
        // Descriptor complete but no VP8 payload header: not a key frame.
        assert!(Vp8Descriptor::parse(&p).is_ok());
        assert!(!is_keyframe(&p));
    }
}
