//! A checked view of the RTP fixed header (RFC 3550 §5.1) and its header
//! extensions (RFC 8285).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                             SSRC                              |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |                   CSRC list (CC x 32 bits)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   extension profile (if X)    |   extension length (words)    |
//! |                   extension data (4 x length bytes)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                payload ... [padding, last byte = count (if P)]|
//! ```
//!
//! The extension block holds RFC 8285 elements: with profile `0xBEDE` each
//! element has a one-byte header (4-bit ID, 4-bit length - 1; ID 15 stops
//! parsing); with profile `0x100X` a two-byte header (8-bit ID, 8-bit
//! length). Zero bytes between elements are padding.

use super::PacketError;

/// Length of the fixed RTP header, without CSRCs or extension.
pub const RTP_FIXED_HEADER_LEN: usize = 12;
/// Profile of the RFC 8285 one-byte header extension form.
pub const ONE_BYTE_EXTENSION_PROFILE: u16 = 0xBEDE;
/// Profile of the RFC 8285 two-byte header extension form (low 4 bits are
/// application bits).
pub const TWO_BYTE_EXTENSION_PROFILE: u16 = 0x1000;

/// A read-only view of an RTP packet whose lengths have been checked.
///
/// Built with [`RtpHeaderView::new_checked`]; every accessor afterwards is
/// infallible and cannot panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeaderView<'a> {
    buf: &'a [u8],
    /// Offset of the extension header (profile), if X is set.
    ext_start: Option<usize>,
    header_len: usize,
    payload_end: usize,
}

impl<'a> RtpHeaderView<'a> {
    /// Checks that `buf` is a complete RTP packet: version 2, the CSRC list,
    /// the extension block and the padding all fit within `buf`.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, PacketError> {
        let fixed = buf
            .first_chunk::<RTP_FIXED_HEADER_LEN>()
            .ok_or(PacketError::Truncated)?;
        let version = fixed[0] >> 6;
        if version != 2 {
            return Err(PacketError::BadVersion(version));
        }
        let csrc_count = usize::from(fixed[0] & 0x0F);
        let mut header_len = RTP_FIXED_HEADER_LEN + 4 * csrc_count;
        let mut ext_start = None;
        if fixed[0] & 0x10 != 0 {
            let ext = buf
                .get(header_len..header_len + 4)
                .ok_or(PacketError::Truncated)?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            ext_start = Some(header_len);
            header_len += 4 + 4 * words;
        }
        if header_len > buf.len() {
            return Err(PacketError::Truncated);
        }
        let mut payload_end = buf.len();
        if fixed[0] & 0x20 != 0 {
            let pad = usize::from(buf[buf.len() - 1]);
            if pad == 0 || header_len + pad > buf.len() {
                return Err(PacketError::Malformed("RTP padding length"));
            }
            payload_end -= pad;
        }
        Ok(RtpHeaderView {
            buf,
            ext_start,
            header_len,
            payload_end,
        })
    }

    /// The whole packet this view was built over.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The marker bit (M).
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7F
    }

    /// Whether the padding bit (P) is set.
    pub fn has_padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }

    /// The sequence number.
    pub fn sequence_number(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }

    /// The RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }

    /// The synchronisation source.
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]])
    }

    /// The contributing sources, in order.
    pub fn csrc(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        let count = usize::from(self.buf[0] & 0x0F);
        self.buf[RTP_FIXED_HEADER_LEN..RTP_FIXED_HEADER_LEN + 4 * count]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// The header extension as `(profile, data)`, if the X bit is set.
    pub fn extension(&self) -> Option<(u16, &'a [u8])> {
        let start = self.ext_start?;
        let profile = u16::from_be_bytes([self.buf[start], self.buf[start + 1]]);
        Some((profile, &self.buf[start + 4..self.header_len]))
    }

    /// The RFC 8285 header extension elements as `(id, data)`.
    ///
    /// Empty when there is no extension block or its profile is neither the
    /// one-byte nor the two-byte form. Iteration stops at the first element
    /// that does not fit in the block.
    pub fn extensions(&self) -> ExtensionIter<'a> {
        match self.extension() {
            Some((ONE_BYTE_EXTENSION_PROFILE, data)) => ExtensionIter::new(data, false),
            Some((profile, data)) if profile & 0xFFF0 == TWO_BYTE_EXTENSION_PROFILE => {
                ExtensionIter::new(data, true)
            }
            _ => ExtensionIter::new(&[], false),
        }
    }

    /// Length of the header: fixed part, CSRCs and extension block.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The payload, without padding.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..self.payload_end]
    }

    /// Number of padding bytes at the end of the packet.
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }
}

/// Iterator over RFC 8285 header extension elements, see
/// [`RtpHeaderView::extensions`].
#[derive(Debug, Clone)]
pub struct ExtensionIter<'a> {
    rest: &'a [u8],
    two_byte: bool,
}

impl<'a> ExtensionIter<'a> {
    /// Iterates over the elements of an extension block's data; `two_byte`
    /// selects the header form.
    pub fn new(data: &'a [u8], two_byte: bool) -> Self {
        ExtensionIter {
            rest: data,
            two_byte,
        }
    }
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&first, tail) = self.rest.split_first()?;
            // ID 0 is padding: a zero byte in the two-byte form, a zero high
            // nibble in the one-byte form (its length nibble is ignored).
            let padding = if self.two_byte {
                first == 0
            } else {
                first >> 4 == 0
            };
            if padding {
                self.rest = tail;
                continue;
            }
            let (id, len, tail) = if self.two_byte {
                let Some((&len, tail)) = tail.split_first() else {
                    self.rest = &[];
                    return None;
                };
                (first, usize::from(len), tail)
            } else {
                let id = first >> 4;
                if id == 15 {
                    // Reserved: stop processing the block (RFC 8285 §4.2).
                    self.rest = &[];
                    return None;
                }
                (id, usize::from(first & 0x0F) + 1, tail)
            };
            let Some(data) = tail.get(..len) else {
                self.rest = &[];
                return None;
            };
            self.rest = &tail[len..];
            return Some((id, data));
        }
    }
}

impl std::iter::FusedIterator for ExtensionIter<'_> {}

/// Rewrites the payload type, sequence number, timestamp and SSRC of the RTP
/// packet in `buf`, in place. The marker bit and everything else is kept.
///
/// Fails without touching `buf` if it is not a valid RTP packet or `pt` does
/// not fit in 7 bits.
pub fn rewrite_rtp_header(
    buf: &mut [u8],
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
) -> Result<(), PacketError> {
    if pt > 0x7F {
        return Err(PacketError::OutOfRange("payload type"));
    }
    RtpHeaderView::new_checked(buf)?;
    buf[1] = (buf[1] & 0x80) | pt;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&ts.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(csrcs: &[u32], ext: Option<(u16, &[u8])>, payload: &[u8], pad: u8) -> Vec<u8> {
        let mut b = vec![0x80 | csrcs.len() as u8, 0x80 | 96];
        b.extend_from_slice(&0x1234u16.to_be_bytes());
        b.extend_from_slice(&0xDEAD_BEEFu32.to_be_bytes());
        b.extend_from_slice(&0x0102_0304u32.to_be_bytes());
        for c in csrcs {
            b.extend_from_slice(&c.to_be_bytes());
        }
        if let Some((profile, data)) = ext {
            assert_eq!(data.len() % 4, 0);
            b[0] |= 0x10;
            b.extend_from_slice(&profile.to_be_bytes());
            b.extend_from_slice(&((data.len() / 4) as u16).to_be_bytes());
            b.extend_from_slice(data);
        }
        b.extend_from_slice(payload);
        if pad > 0 {
            b[0] |= 0x20;
            b.extend(std::iter::repeat_n(0, usize::from(pad) - 1));
            b.push(pad);
        }
        b
    }

    #[test]
    fn reads_fixed_header() {
        let p = packet(&[7, 8], None, b"hello", 0);
        let v = RtpHeaderView::new_checked(&p).unwrap();
        assert!(v.marker());
        assert_eq!(v.payload_type(), 96);
        assert_eq!(v.sequence_number(), 0x1234);
        assert_eq!(v.timestamp(), 0xDEAD_BEEF);
        assert_eq!(v.ssrc(), 0x0102_0304);
        assert_eq!(v.csrc().collect::<Vec<_>>(), vec![7, 8]);
        assert_eq!(v.header_len(), 20);
        assert_eq!(v.payload(), b"hello");
        assert!(v.extension().is_none());
        assert_eq!(v.extensions().count(), 0);
    }

    #[test]
    fn one_byte_extensions() {
        // id 1 len 1, padding, id 2 len 3, id 15 stops, garbage after.
        let data = [0x10, 0xAA, 0x00, 0x22, 1, 2, 3, 0xF0, 0x35, 0, 0, 0];
        let p = packet(&[], Some((0xBEDE, &data)), b"x", 3);
        let v = RtpHeaderView::new_checked(&p).unwrap();
        assert_eq!(v.extension(), Some((0xBEDE, &data[..])));
        let exts: Vec<_> = v.extensions().collect();
        assert_eq!(exts, vec![(1, &[0xAA][..]), (2, &[1, 2, 3][..])]);
        assert_eq!(v.payload(), b"x");
        assert_eq!(v.padding_len(), 3);
    }

    #[test]
    fn two_byte_extensions() {
        let data = [5, 0, 0, 7, 2, 9, 9, 0, 0, 0, 0, 0];
        let p = packet(&[], Some((0x1003, &data)), b"", 0);
        let v = RtpHeaderView::new_checked(&p).unwrap();
        let exts: Vec<_> = v.extensions().collect();
        assert_eq!(exts, vec![(5, &[][..]), (7, &[9, 9][..])]);
        // A one-byte element with ID 0 is a padding byte, whatever its length.
        let p = packet(&[], Some((0xBEDE, &[0x01, 0x20, 0x77, 0])), b"", 0);
        let v = RtpHeaderView::new_checked(&p).unwrap();
        assert_eq!(v.extensions().collect::<Vec<_>>(), vec![(2, &[0x77][..])]);
        // An element that overruns the block ends iteration.
        let data = [5, 9, 1, 1];
        let p = packet(&[], Some((0x1000, &data)), b"", 0);
        assert_eq!(
            RtpHeaderView::new_checked(&p).unwrap().extensions().count(),
            0
        );
        // Unknown profile yields nothing.
        let p = packet(&[], Some((0x1234, &[0x10, 1, 0, 0])), b"", 0);
        assert_eq!(
            RtpHeaderView::new_checked(&p).unwrap().extensions().count(),
            0
        );
    }

    #[test]
    fn rejects_bad_packets() {
        let good = packet(&[1], Some((0xBEDE, &[0x10, 1, 0, 0])), b"abc", 2);
        for len in 0..good.len() {
            // Every truncation is rejected or re-interpreted without panic.
            let _ = RtpHeaderView::new_checked(&good[..len]);
        }
        assert_eq!(
            RtpHeaderView::new_checked(&good[..11]),
            Err(PacketError::Truncated)
        );
        let mut bad = good.clone();
        bad[0] &= 0x3F;
        assert_eq!(
            RtpHeaderView::new_checked(&bad),
            Err(PacketError::BadVersion(0))
        );
        let mut bad = good.clone();
        bad[0] |= 0x0F; // 15 CSRCs
        assert_eq!(
            RtpHeaderView::new_checked(&bad),
            Err(PacketError::Truncated)
        );
        let mut bad = good.clone();
        bad[19] = 0xFF; // extension length
        assert_eq!(
            RtpHeaderView::new_checked(&bad),
            Err(PacketError::Truncated)
        );
        let mut bad = good.clone();
        *bad.last_mut().unwrap() = 0;
        assert!(RtpHeaderView::new_checked(&bad).is_err());
        *bad.last_mut().unwrap() = 200;
        assert!(RtpHeaderView::new_checked(&bad).is_err());
    }

    #[test]
    fn rewrite_round_trip() {
        let mut p = packet(&[3], Some((0xBEDE, &[0x10, 1, 0, 0])), b"payload", 4);
        let before = p.clone();
        rewrite_rtp_header(&mut p, 111, 65535, 42, 0xCAFE_F00D).unwrap();
        let v = RtpHeaderView::new_checked(&p).unwrap();
        assert_eq!(v.payload_type(), 111);
        assert!(v.marker());
        assert_eq!(v.sequence_number(), 65535);
        assert_eq!(v.timestamp(), 42);
        assert_eq!(v.ssrc(), 0xCAFE_F00D);
        assert_eq!(v.payload(), b"payload");
        assert_eq!(&p[12..], &before[12..]);
        assert_eq!(
            rewrite_rtp_header(&mut p, 128, 0, 0, 0),
            Err(PacketError::OutOfRange("payload type"))
        );
        let mut short = [0x80u8; 8];
        assert!(rewrite_rtp_header(&mut short, 1, 1, 1, 1).is_err());
        assert_eq!(short, [0x80; 8]);
    }
}
