//! H.264 RTP payloads (RFC 6184 §5).
//!
//! Every payload starts with a NAL unit header `|F|NRI|Type(5)|`. Types
//! 1..=23 are a single NAL unit; 24 (STAP-A) aggregates NAL units, each
//! prefixed by a 16-bit size; 28 (FU-A) is a fragment whose second byte is
//! the FU header `|S|E|R|Type(5)|` carrying the fragmented unit's type.
//!
//! ```text
//! STAP-A: |NAL hdr (24)| size (16) | NAL unit | size (16) | NAL unit | ...
//! FU-A:   |FU indicator (28)|S|E|R|type| fragment ...
//! ```

use super::PacketError;

/// NAL unit type of an IDR slice.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// Packetization type of a STAP-A.
pub const NAL_STAP_A: u8 = 24;
/// Packetization type of an FU-A.
pub const NAL_FU_A: u8 = 28;

/// A parsed H.264 RTP payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum H264Payload<'a> {
    /// A single NAL unit packet (types 1..=23).
    Single {
        /// The NAL unit type.
        nal_type: u8,
        /// The NAL unit, header included.
        nal: &'a [u8],
    },
    /// A STAP-A whose aggregated units have all been checked to fit.
    StapA(StapAUnits<'a>),
    /// A fragment of a NAL unit (FU-A).
    FuA {
        /// S: the first fragment of the NAL unit.
        start: bool,
        /// E: the last fragment of the NAL unit.
        end: bool,
        /// Type of the fragmented NAL unit.
        nal_type: u8,
        /// The fragment bytes after the FU header.
        fragment: &'a [u8],
    },
    /// A packetization type this crate does not look into (STAP-B, MTAP,
    /// FU-B or reserved).
    Other {
        /// The packetization type from the NAL header.
        packet_type: u8,
    },
}

impl<'a> H264Payload<'a> {
    /// Parses an H.264 RTP payload. STAP-A units are walked once here, so
    /// iterating them later cannot fail.
    pub fn parse(payload: &'a [u8]) -> Result<Self, PacketError> {
        let (&header, rest) = payload.split_first().ok_or(PacketError::Truncated)?;
        if header & 0x80 != 0 {
            return Err(PacketError::Malformed("H.264 forbidden bit set"));
        }
        let kind = header & 0x1F;
        match kind {
            0 => Err(PacketError::Malformed("H.264 NAL type 0")),
            1..=23 => Ok(H264Payload::Single {
                nal_type: kind,
                nal: payload,
            }),
            NAL_STAP_A => StapAUnits::new_checked(rest).map(H264Payload::StapA),
            NAL_FU_A => {
                let (&fu, fragment) = rest.split_first().ok_or(PacketError::Truncated)?;
                let start = fu & 0x80 != 0;
                let end = fu & 0x40 != 0;
                if start && end {
                    return Err(PacketError::Malformed("H.264 FU-A with S and E"));
                }
                Ok(H264Payload::FuA {
                    start,
                    end,
                    nal_type: fu & 0x1F,
                    fragment,
                })
            }
            packet_type => Ok(H264Payload::Other { packet_type }),
        }
    }
}

/// The aggregation units of a STAP-A, checked to fit exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StapAUnits<'a> {
    /// The bytes after the STAP-A NAL header.
    units: &'a [u8],
}

impl<'a> StapAUnits<'a> {
    /// Checks that `units` (the STAP-A body after its NAL header) is a
    /// sequence of non-empty size-prefixed NAL units with no bytes left over.
    pub fn new_checked(units: &'a [u8]) -> Result<Self, PacketError> {
        if units.is_empty() {
            return Err(PacketError::Malformed("empty STAP-A"));
        }
        let mut rest = units;
        while !rest.is_empty() {
            let (size, tail) = rest
                .split_first_chunk::<2>()
                .ok_or(PacketError::Truncated)?;
            let size = usize::from(u16::from_be_bytes(*size));
            if size == 0 {
                return Err(PacketError::Malformed("empty STAP-A unit"));
            }
            rest = tail.get(size..).ok_or(PacketError::Truncated)?;
        }
        Ok(StapAUnits { units })
    }

    /// The aggregated NAL units, each with its header.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.units;
        std::iter::from_fn(move || {
            let (size, tail) = rest.split_first_chunk::<2>()?;
            let size = usize::from(u16::from_be_bytes(*size));
            let nal = tail.get(..size)?;
            rest = &tail[size..];
            Some(nal)
        })
    }

    /// The NAL unit types of the aggregated units.
    pub fn nal_types(&self) -> impl Iterator<Item = u8> + 'a {
        self.iter().filter_map(|nal| nal.first().map(|h| h & 0x1F))
    }
}

fn starts_keyframe(nal_type: u8) -> bool {
    nal_type == NAL_IDR || nal_type == NAL_SPS
}

/// Whether this payload starts a key frame: a single NAL unit or a STAP-A
/// carrying an IDR slice or an SPS, or the first FU-A fragment of one.
/// Malformed payloads are never key frames.
pub fn is_keyframe(payload: &[u8]) -> bool {
    match H264Payload::parse(payload) {
        Ok(H264Payload::Single { nal_type, .. }) => starts_keyframe(nal_type),
        Ok(H264Payload::StapA(units)) => units.nal_types().any(starts_keyframe),
        Ok(H264Payload::FuA {
            start: true,
            nal_type,
            ..
        }) => starts_keyframe(nal_type),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_nal_units() {
        assert!(is_keyframe(&[0x65, 0x88]));
        assert!(is_keyframe(&[0x67, 0x42]));
        assert!(!is_keyframe(&[0x68, 0xCE]));
        assert!(!is_keyframe(&[0x41, 0x9A]));
        assert_eq!(
            H264Payload::parse(&[0x41, 0x9A]),
            Ok(H264Payload::Single {
                nal_type: 1,
                nal: &[0x41, 0x9A]
            })
        );
        assert!(!is_keyframe(&[]));
        assert!(!is_keyframe(&[0xE5]));
    }

    #[test]
    fn stap_a() {
        let p = [0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68, 0, 3, 0x65, 1, 2];
        let Ok(H264Payload::StapA(units)) = H264Payload::parse(&p) else {
            panic!("not a STAP-A");
        };
        assert_eq!(
            units.iter().collect::<Vec<_>>(),
            vec![&[0x67, 0x42][..], &[0x68][..], &[0x65, 1, 2][..]]
        );
        assert_eq!(units.nal_types().collect::<Vec<_>>(), vec![7, 8, 5]);
        assert!(is_keyframe(&p));
        assert!(!is_keyframe(&[0x78, 0, 1, 0x68, 0, 1, 0x41]));
    }

    #[test]
    fn hostile_stap_a() {
        let p = [0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68];
        for len in 1..p.len() {
            // Only the cut after the first unit leaves a valid STAP-A.
            assert_eq!(H264Payload::parse(&p[..len]).is_ok(), len == 5, "len {len}");
            assert_eq!(is_keyframe(&p[..len]), len == 5);
        }
        assert!(H264Payload::parse(&p).is_ok());
        assert!(H264Payload::parse(&[0x78, 0xFF, 0xFF, 0x67]).is_err());
        assert!(H264Payload::parse(&[0x78, 0, 0, 0, 1, 0x67]).is_err());
        assert!(H264Payload::parse(&[0x78, 0, 1, 0x67, 0]).is_err());
    }

    #[test]
    fn fu_a() {
        assert!(is_keyframe(&[0x7C, 0x85, 0xAA]));
        assert!(!is_keyframe(&[0x7C, 0x05, 0xAA]));
        assert!(!is_keyframe(&[0x7C, 0x81, 0xAA]));
        assert!(!is_keyframe(&[0x7C]));
        assert!(!is_keyframe(&[0x7C, 0xC5]));
        assert_eq!(
            H264Payload::parse(&[0x7C, 0x45, 1]),
            Ok(H264Payload::FuA {
                start: false,
                end: true,
                nal_type: 5,
                fragment: &[1]
            })
        );
        assert_eq!(
            H264Payload::parse(&[0x79, 0]),
            Ok(H264Payload::Other { packet_type: 25 })
        );
    }
}
