//! The VP9 RTP payload descriptor (RFC 9628 §4.2).
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |I|P|L|F|B|E|V|Z| (required)
//!      +-+-+-+-+-+-+-+-+
//! I:   |M| PICTURE ID  | (7 bits, or 15 bits when M = 1)
//! M:   | EXTENDED PID  |
//!      +-+-+-+-+-+-+-+-+
//! L:   | TID |U| SID |D| (layer indices)
//!      +-+-+-+-+-+-+-+-+
//!      |   TL0PICIDX   | (only in non-flexible mode, F = 0)
//!      +-+-+-+-+-+-+-+-+
//! F&P: | P_DIFF      |N| (flexible mode: up to 3 reference diffs)
//!      +-+-+-+-+-+-+-+-+
//! V:   | SS            | (scalability structure)
//! ```
//!
//! The scalability structure (§4.2.1) is:
//!
//! ```text
//!      |N_S  |Y|G|-|-|-|          N_S + 1 spatial layers
//! Y:   | WIDTH  (16)   | x (N_S + 1)
//!      | HEIGHT (16)   |
//! G:   |      N_G      |          picture group size
//!      | TID |U| R |-|-| x N_G    R reference diffs follow each entry
//!      |    P_DIFF     | x R
//! ```

use super::PacketError;

/// A parsed VP9 payload descriptor. Borrows the scalability structure bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Vp9Descriptor<'a> {
    /// The picture ID, if present (I = 1).
    pub picture_id: Option<u16>,
    /// Whether the picture ID is the 15-bit form (M = 1).
    pub picture_id_15bit: bool,
    /// P: the picture is inter-predicted (not a key frame / layer refresh).
    pub inter_picture_predicted: bool,
    /// F: flexible mode.
    pub flexible: bool,
    /// B: first packet of a layer frame.
    pub start_of_frame: bool,
    /// E: last packet of a layer frame.
    pub end_of_frame: bool,
    /// V: a scalability structure is present.
    pub ss_present: bool,
    /// Z: not used as reference by the upper spatial layers.
    pub not_ref_for_upper: bool,
    /// Temporal layer ID, if the layer indices are present (L = 1).
    pub tid: Option<u8>,
    /// U: switching up point.
    pub switching_up: bool,
    /// Spatial layer ID, if the layer indices are present (L = 1).
    pub sid: Option<u8>,
    /// D: depends on the lower spatial layer of the same picture.
    pub inter_layer_dependency: bool,
    /// TL0PICIDX (non-flexible mode with L = 1).
    pub tl0picidx: Option<u8>,
    p_diff: [u8; 3],
    p_diff_count: u8,
    /// The scalability structure, if present (V = 1).
    pub ss: Option<Vp9ScalabilityStructure<'a>>,
    /// Length of the descriptor; the VP9 frame data starts at this offset.
    pub header_len: usize,
}

impl<'a> Vp9Descriptor<'a> {
    /// Parses the descriptor at the start of a VP9 RTP payload.
    pub fn parse(payload: &'a [u8]) -> Result<Self, PacketError> {
        let get = |i: usize| payload.get(i).copied().ok_or(PacketError::Truncated);
        let b0 = get(0)?;
        let mut d = Vp9Descriptor {
            inter_picture_predicted: b0 & 0x40 != 0,
            flexible: b0 & 0x10 != 0,
            start_of_frame: b0 & 0x08 != 0,
            end_of_frame: b0 & 0x04 != 0,
            ss_present: b0 & 0x02 != 0,
            not_ref_for_upper: b0 & 0x01 != 0,
            ..Default::default()
        };
        let mut pos = 1;
        if b0 & 0x80 != 0 {
            let m = get(pos)?;
            if m & 0x80 != 0 {
                d.picture_id = Some(u16::from_be_bytes([m & 0x7F, get(pos + 1)?]));
                d.picture_id_15bit = true;
                pos += 2;
            } else {
                d.picture_id = Some(u16::from(m));
                pos += 1;
            }
        }
        if b0 & 0x20 != 0 {
            let l = get(pos)?;
            pos += 1;
            d.tid = Some(l >> 5);
            d.switching_up = l & 0x10 != 0;
            d.sid = Some((l >> 1) & 0x07);
            d.inter_layer_dependency = l & 0x01 != 0;
            if !d.flexible {
                d.tl0picidx = Some(get(pos)?);
                pos += 1;
            }
        }
        if d.flexible && d.inter_picture_predicted {
            loop {
                let diff = get(pos)?;
                pos += 1;
                if usize::from(d.p_diff_count) == d.p_diff.len() {
                    return Err(PacketError::LimitExceeded("VP9 P_DIFF count"));
                }
                d.p_diff[usize::from(d.p_diff_count)] = diff >> 1;
                d.p_diff_count += 1;
                if diff & 0x01 == 0 {
                    break;
                }
            }
        }
        if d.ss_present {
            let rest = payload.get(pos..).ok_or(PacketError::Truncated)?;
            let ss = Vp9ScalabilityStructure::parse(rest)?;
            pos += ss.bytes.len();
            d.ss = Some(ss);
        }
        d.header_len = pos;
        Ok(d)
    }

    /// The reference picture ID differences (flexible mode, P = 1).
    pub fn p_diffs(&self) -> &[u8] {
        &self.p_diff[..usize::from(self.p_diff_count)]
    }
}

/// A checked view of a VP9 scalability structure (SS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Vp9ScalabilityStructure<'a> {
    /// The SS bytes, exactly as long as the structure.
    bytes: &'a [u8],
}

/// One entry of the SS picture group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Vp9PictureGroupEntry {
    /// Temporal layer ID of the picture.
    pub tid: u8,
    /// Switching up point.
    pub switching_up: bool,
    p_diff: [u8; 3],
    p_diff_count: u8,
}

impl Vp9PictureGroupEntry {
    /// The reference picture ID differences of this entry (0..=3 values).
    pub fn p_diffs(&self) -> &[u8] {
        &self.p_diff[..usize::from(self.p_diff_count)]
    }
}

impl<'a> Vp9ScalabilityStructure<'a> {
    /// Checks a scalability structure at the start of `buf` and returns a
    /// view that covers exactly its bytes.
    pub fn parse(buf: &'a [u8]) -> Result<Self, PacketError> {
        let first = *buf.first().ok_or(PacketError::Truncated)?;
        let layers = usize::from(first >> 5) + 1;
        let mut len = 1;
        if first & 0x10 != 0 {
            len += 4 * layers;
        }
        if first & 0x08 != 0 {
            let groups = *buf.get(len).ok_or(PacketError::Truncated)?;
            len += 1;
            for _ in 0..groups {
                let entry = *buf.get(len).ok_or(PacketError::Truncated)?;
                len += 1 + usize::from((entry >> 2) & 0x03);
            }
        }
        let bytes = buf.get(..len).ok_or(PacketError::Truncated)?;
        Ok(Vp9ScalabilityStructure { bytes })
    }

    /// Number of spatial layers (N_S + 1, 1..=8).
    pub fn spatial_layers(&self) -> u8 {
        (self.bytes[0] >> 5) + 1
    }

    /// The `(width, height)` of each spatial layer, if present (Y = 1).
    pub fn resolutions(&self) -> impl Iterator<Item = (u16, u16)> + 'a {
        let count = if self.bytes[0] & 0x10 != 0 {
            usize::from(self.spatial_layers())
        } else {
            0
        };
        self.bytes[1..1 + 4 * count].chunks_exact(4).map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u16::from_be_bytes([c[2], c[3]]),
            )
        })
    }

    /// Whether the picture group description is present (G = 1).
    pub fn has_picture_group(&self) -> bool {
        self.bytes[0] & 0x08 != 0
    }

    /// The picture group entries (empty when G = 0).
    pub fn picture_group(&self) -> impl Iterator<Item = Vp9PictureGroupEntry> + 'a {
        let mut rest: &[u8] = if self.has_picture_group() {
            let start = 1 + 4 * self.resolutions().count();
            // N_G byte is skipped; parse() checked the entries fit exactly.
            self.bytes.get(start + 1..).unwrap_or(&[])
        } else {
            &[]
        };
        std::iter::from_fn(move || {
            let (&entry, tail) = rest.split_first()?;
            let refs = usize::from((entry >> 2) & 0x03);
            let diffs = tail.get(..refs)?;
            rest = &tail[refs..];
            let mut p_diff = [0; 3];
            p_diff[..refs].copy_from_slice(diffs);
            Some(Vp9PictureGroupEntry {
                tid: entry >> 5,
                switching_up: entry & 0x10 != 0,
                p_diff,
                p_diff_count: refs as u8,
            })
        })
    }

    /// The raw SS bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Whether this payload starts a VP9 key frame: P = 0, B = 1 and the
/// spatial layer (if signalled) is 0.
pub fn is_keyframe(payload: &[u8]) -> bool {
    Vp9Descriptor::parse(payload)
        .is_ok_and(|d| !d.inter_picture_predicted && d.start_of_frame && d.sid.unwrap_or(0) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_flexible_keyframe() {
        // I L B V, 15-bit pid 0x0102, tid 0 U sid 0, tl0 7, SS, frame data.
        let p = [
            0xAA, 0x81, 0x02, 0x10, 7, // descriptor up to TL0PICIDX
            0x38, 0x01, 0x40, 0x00, 0xB4, 0x02, 0x80, 0x01, 0x68, // SS: 2 layers, Y, G
            2, 0x04, 1, 0x20, // N_G = 2: tid0 R=1 diff 1, tid1 R=0
            0xFF, // frame data
        ];
        let d = Vp9Descriptor::parse(&p).unwrap();
        assert_eq!(d.picture_id, Some(0x0102));
        assert!(d.picture_id_15bit);
        assert!(!d.inter_picture_predicted && !d.flexible);
        assert!(d.start_of_frame && !d.end_of_frame && d.ss_present);
        assert_eq!((d.tid, d.sid, d.switching_up), (Some(0), Some(0), true));
        assert_eq!(d.tl0picidx, Some(7));
        assert_eq!(d.header_len, p.len() - 1);
        let ss = d.ss.unwrap();
        assert_eq!(ss.spatial_layers(), 2);
        assert_eq!(
            ss.resolutions().collect::<Vec<_>>(),
            vec![(320, 180), (640, 360)]
        );
        let group: Vec<_> = ss.picture_group().collect();
        assert_eq!(group.len(), 2);
        assert_eq!((group[0].tid, group[0].p_diffs()), (0, &[1][..]));
        assert_eq!((group[1].tid, group[1].p_diffs()), (1, &[][..]));
        assert!(is_keyframe(&p));
    }

    #[test]
    fn flexible_with_references() {
        // I P L F B E, 7-bit pid 5, tid 2 sid 1 D, diffs 1 (N) 3 (N) 4.
        let p = [0xFC, 0x05, 0x43, 0x03, 0x07, 0x08, 0x00];
        let d = Vp9Descriptor::parse(&p).unwrap();
        assert_eq!(d.picture_id, Some(5));
        assert_eq!((d.tid, d.sid), (Some(2), Some(1)));
        assert!(d.inter_layer_dependency);
        assert_eq!(d.tl0picidx, None);
        assert_eq!(d.p_diffs(), &[1, 3, 4]);
        assert_eq!(d.header_len, 6);
        assert!(!is_keyframe(&p));
        // A fourth reference is rejected.
        let p = [0xD0, 0x05, 0x03, 0x03, 0x03, 0x08];
        assert_eq!(
            Vp9Descriptor::parse(&p),
            Err(PacketError::LimitExceeded("VP9 P_DIFF count"))
        );
    }

    #[test]
    fn upper_spatial_layer_is_not_keyframe() {
        assert!(is_keyframe(&[0x28, 0x00, 0x00]));
        assert!(!is_keyframe(&[0x28, 0x02, 0x00]));
        assert!(!is_keyframe(&[0x20, 0x00, 0x00])); // B = 0
        assert!(is_keyframe(&[0x08]));
    }

    #[test]
    fn truncations_are_errors() {
        let p = [
            0xAA, 0x81, 0x02, 0x10, 7, 0x38, 0x01, 0x40, 0x00, 0xB4, 0x02, 0x80, 0x01, 0x68, 2,
            0x04, 1, 0x20,
        ];
        assert!(Vp9Descriptor::parse(&p).is_ok());
        for len in 0..p.len() {
            assert_eq!(Vp9Descriptor::parse(&p[..len]), Err(PacketError::Truncated));
        }
        // N_G claims 255 entries.
        assert!(Vp9Descriptor::parse(&[0x02, 0x08, 0xFF, 0x00]).is_err());
    }
}
