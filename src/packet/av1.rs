//! The AV1 RTP aggregation header (AV1 RTP specification §4.4).
//!
//! ```text
//!  0 1 2 3 4 5 6 7
//! +-+-+-+-+-+-+-+-+
//! |Z|Y| W |N|-|-|-|
//! +-+-+-+-+-+-+-+-+
//! ```
//!
//! Z: the first OBU element continues a fragment from the previous packet.
//! Y: the last OBU element continues in the next packet. W: number of OBU
//! elements (0 = each element carries a LEB128 length). N: the packet is the
//! first of a new coded video sequence, i.e. it starts a key frame.
//!
//! Layer information for AV1 comes from the dependency descriptor header
//! extension ([`crate::packet::dd`]), not from the payload.

use super::PacketError;

/// A parsed AV1 aggregation header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Av1AggregationHeader {
    /// Z: the first OBU element is a continuation.
    pub z: bool,
    /// Y: the last OBU element will be continued.
    pub y: bool,
    /// W: the number of OBU elements, 0 when every element is length-prefixed.
    pub w: u8,
    /// N: the first packet of a coded video sequence.
    pub n: bool,
}

impl Av1AggregationHeader {
    /// Parses the aggregation header at the start of an AV1 RTP payload.
    /// The payload must carry at least one byte after the header.
    pub fn parse(payload: &[u8]) -> Result<Self, PacketError> {
        let (&b, rest) = payload.split_first().ok_or(PacketError::Truncated)?;
        if rest.is_empty() {
            return Err(PacketError::Truncated);
        }
        let header = Av1AggregationHeader {
            z: b & 0x80 != 0,
            y: b & 0x40 != 0,
            w: (b >> 4) & 0x03,
            n: b & 0x08 != 0,
        };
        if header.n && header.z {
            return Err(PacketError::Malformed("AV1 N set on a continuation"));
        }
        Ok(header)
    }

    /// The header as its wire byte.
    pub fn to_byte(self) -> u8 {
        (u8::from(self.z) << 7)
            | (u8::from(self.y) << 6)
            | ((self.w & 0x03) << 4)
            | (u8::from(self.n) << 3)
    }
}

/// Whether this payload starts a new coded video sequence (N = 1).
pub fn is_keyframe(payload: &[u8]) -> bool {
    Av1AggregationHeader::parse(payload).is_ok_and(|h| h.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bits() {
        let h = Av1AggregationHeader::parse(&[0x58, 0x12]).unwrap();
        assert_eq!(
            h,
            Av1AggregationHeader {
                z: false,
                y: true,
                w: 1,
                n: true
            }
        );
        assert_eq!(h.to_byte(), 0x58);
        assert!(is_keyframe(&[0x18, 0x0A]));
        assert!(!is_keyframe(&[0x10, 0x0A]));
    }

    #[test]
    fn rejects_hostile() {
        assert!(!is_keyframe(&[]));
        assert!(!is_keyframe(&[0x08]));
        assert!(!is_keyframe(&[0x88, 0x00]));
        assert_eq!(
            Av1AggregationHeader::parse(&[]),
            Err(PacketError::Truncated)
        );
    }
}
