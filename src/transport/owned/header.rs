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
pub(crate) fn write_header(buf: &mut Vec<u8>, f: &RtpFields, exts: &[(u8, &[u8])]) -> usize {
    buf.clear();
    let usable = |(id, v): &&(u8, &[u8])| *id != 0 && v.len() <= TWO_BYTE_MAX_LEN;
    let any = exts.iter().any(|e| usable(&e));
    buf.push(0x80 | if any { 0x10 } else { 0 });
    buf.push(if f.marker { 0x80 } else { 0 } | (f.pt & 0x7f));
    buf.extend_from_slice(&f.seq.to_be_bytes());
    buf.extend_from_slice(&f.ts.to_be_bytes());
    buf.extend_from_slice(&f.ssrc.to_be_bytes());
    if !any {
        return buf.len();
    }
    let one_byte = exts
        .iter()
        .filter(usable)
        .all(|(id, v)| *id <= ONE_BYTE_MAX_ID && !v.is_empty() && v.len() <= ONE_BYTE_MAX_LEN);
    let start = buf.len();
    // Profile, then the length in words, filled in below.
    buf.extend_from_slice(if one_byte {
        &[0xbe, 0xde]
    } else {
        &[0x10, 0x00]
    });
    buf.extend_from_slice(&[0, 0]);
    for (id, v) in exts.iter().filter(usable) {
        if one_byte {
            buf.push((id << 4) | (v.len() as u8 - 1));
        } else {
            buf.push(*id);
            buf.push(v.len() as u8);
        }
        buf.extend_from_slice(v);
    }
    while !(buf.len() - start).is_multiple_of(4) {
        buf.push(0);
    }
    let words = ((buf.len() - start - 4) / 4) as u16;
    buf[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
    buf.len()
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
