//! An RTP header written per subscriber (step 2 of the owned send path):
//! the fixed header with this subscriber's SSRC, sequence number,
//! timestamp, payload type and marker, then the header extensions under
//! the ids this subscriber negotiated (RFC 8285: the one-byte form when
//! every element fits it, else the two-byte form). The payload follows,
//! copied once into the same buffer, which SRTP then protects in place.

/// The fixed fields of one outgoing packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RtpFields {
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
}

/// Where a packet is written: a `Vec` (tests, RTX answers) or a
/// `BytesMut` carved from [`SendBufs`](super::bufs::SendBufs)' shared
/// blocks (the forwarding path, so a datagram costs no allocation).
pub(crate) trait PacketBuf: std::ops::DerefMut<Target = [u8]> {
    /// Make it `len` bytes long (new bytes zero).
    fn resize(&mut self, len: usize);
    fn extend_from_slice(&mut self, s: &[u8]);
}

impl PacketBuf for Vec<u8> {
    fn resize(&mut self, len: usize) {
        Vec::resize(self, len, 0);
    }
    fn extend_from_slice(&mut self, s: &[u8]) {
        Vec::extend_from_slice(self, s);
    }
}

impl PacketBuf for bytes::BytesMut {
    fn resize(&mut self, len: usize) {
        bytes::BytesMut::resize(self, len, 0);
    }
    fn extend_from_slice(&mut self, s: &[u8]) {
        bytes::BytesMut::extend_from_slice(self, s);
    }
}

/// The longest extension element the one-byte form carries.
const ONE_BYTE_MAX_LEN: usize = 16;
/// The highest id the one-byte form carries (15 is reserved).
const ONE_BYTE_MAX_ID: u8 = 14;
/// The longest element the two-byte form carries.
const TWO_BYTE_MAX_LEN: usize = 255;

/// Write the header of a packet into `buf` (cleared first): the fixed
/// header, then `exts` as (id, value) elements in order. Elements with id
/// 0, an empty value in the one-byte form or a value over 255 bytes are
/// left out. Returns the header's length; the payload goes after it.
pub(crate) fn write_header<B: PacketBuf>(
    buf: &mut B,
    f: &RtpFields,
    exts: &[(u8, &[u8])],
) -> usize {
    let usable = |(id, v): &&(u8, &[u8])| *id != 0 && v.len() <= TWO_BYTE_MAX_LEN;
    let mut any = false;
    let mut one_byte = true;
    let mut values = 0;
    let mut count = 0;
    for (id, v) in exts.iter().filter(usable) {
        any = true;
        one_byte &= *id <= ONE_BYTE_MAX_ID && !v.is_empty() && v.len() <= ONE_BYTE_MAX_LEN;
        values += v.len();
        count += 1;
    }
    // The length is known before a byte is written: the header is sized
    // once and filled by index, since this runs per subscriber per
    // forwarded packet and a write per byte into a `BytesMut` is a call
    // with its own capacity check.
    let elements = values + count * if one_byte { 1 } else { 2 };
    let len = if any {
        16 + elements.next_multiple_of(4)
    } else {
        12
    };
    buf.resize(0);
    buf.resize(len);
    let h = &mut buf[..len];
    h[0] = 0x80 | if any { 0x10 } else { 0 };
    h[1] = if f.marker { 0x80 } else { 0 } | (f.pt & 0x7f);
    h[2..4].copy_from_slice(&f.seq.to_be_bytes());
    h[4..8].copy_from_slice(&f.ts.to_be_bytes());
    h[8..12].copy_from_slice(&f.ssrc.to_be_bytes());
    if !any {
        return len;
    }
    // Profile, then the length in words (the padding is the zeros of
    // the resize).
    h[12..14].copy_from_slice(if one_byte {
        &[0xbe, 0xde]
    } else {
        &[0x10, 0x00]
    });
    h[14..16].copy_from_slice(&(((len - 16) / 4) as u16).to_be_bytes());
    let mut at = 16;
    for (id, v) in exts.iter().filter(usable) {
        if one_byte {
            h[at] = (id << 4) | (v.len() as u8 - 1);
            at += 1;
        } else {
            h[at] = *id;
            h[at + 1] = v.len() as u8;
            at += 2;
        }
        h[at..at + v.len()].copy_from_slice(v);
        at += v.len();
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: RtpFields = RtpFields {
        pt: 96,
        marker: true,
        seq: 0x1234,
        ts: 0xdead_beef,
        ssrc: 0x1122_3344,
    };

    #[test]
    fn fixed_header_without_extensions() {
        let mut buf = vec![9; 40];
        let len = write_header(&mut buf, &F, &[]);
        assert_eq!(len, 12);
        assert_eq!(
            buf,
            [0x80, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x11, 0x22, 0x33, 0x44]
        );
        let quiet = RtpFields { marker: false, ..F };
        write_header(&mut buf, &quiet, &[(0, b"x")]);
        assert_eq!(&buf[..2], [0x80, 0x60], "id 0 is no extension");
    }

    #[test]
    fn one_byte_form_padded_to_words() {
        let mut buf = Vec::new();
        // Audio level (id 1, one byte), mid (id 3, "0").
        let len = write_header(&mut buf, &F, &[(1, &[0x80 | 30]), (3, b"0")]);
        assert_eq!(len, 20);
        assert_eq!(buf[0], 0x90);
        assert_eq!(&buf[12..], [0xbe, 0xde, 0, 1, 0x10, 0x9e, 0x30, b'0']);
    }

    #[test]
    fn two_byte_form_for_long_or_high_ids() {
        let mut buf = Vec::new();
        let dd = [7u8; 17];
        let len = write_header(&mut buf, &F, &[(1, &[5]), (12, &dd)]);
        // 4 (profile, length) + 3 + 19 = 26, padded to 28.
        assert_eq!(len, 12 + 28);
        assert_eq!(&buf[12..16], [0x10, 0x00, 0, 6]);
        assert_eq!(&buf[16..19], [1, 1, 5]);
        assert_eq!(&buf[19..21], [12, 17]);
        assert_eq!(&buf[21..38], &dd);
        assert_eq!(&buf[38..40], [0, 0]);
        // An id over 14 also needs the two-byte form.
        write_header(&mut buf, &F, &[(15, &[1])]);
        assert_eq!(&buf[12..14], [0x10, 0x00]);
    }
}
