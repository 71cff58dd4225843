//! Datagrams that look real enough to get past the first checks: STUN
//! binding requests with a correct FINGERPRINT (but an integrity nobody can
//! compute without the password), RTP, RTCP and DTLS record headers.

/// Which optional parts a fuzzed STUN message has.
#[derive(Debug, Clone, Copy)]
pub struct StunShape(pub u8);

impl StunShape {
    fn has(self, bit: u8) -> bool {
        self.0 & (1 << bit) != 0
    }
}

/// A STUN message naming `username`: a binding request unless `shape`
/// makes it an indication or a success response; PRIORITY, ICE-CONTROLLING
/// (or CONTROLLED), USE-CANDIDATE, MESSAGE-INTEGRITY (`integrity`, which
/// cannot be right) and a correct FINGERPRINT as `shape` says, with `extra`
/// appended as raw attribute bytes.
pub fn stun(
    shape: StunShape,
    transaction: [u8; 12],
    username: &[u8],
    integrity: [u8; 20],
    extra: &[u8],
) -> Vec<u8> {
    let msg_type: u16 = match (shape.has(5), shape.has(6)) {
        (false, _) => 0x0001,    // binding request
        (true, false) => 0x0011, // binding indication
        (true, true) => 0x0101,  // binding success response
    };
    let mut m = Vec::with_capacity(128 + extra.len());
    m.extend_from_slice(&msg_type.to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&0x2112_a442u32.to_be_bytes());
    m.extend_from_slice(&transaction);
    attr(&mut m, 0x0006, username);
    if shape.has(0) {
        attr(&mut m, 0x0024, &0x6e7f_00ffu32.to_be_bytes());
    }
    let role = if shape.has(1) { 0x802a } else { 0x8029 };
    attr(&mut m, role, &transaction[..8]);
    if shape.has(2) {
        attr(&mut m, 0x0025, &[]);
    }
    if !extra.is_empty() {
        m.extend_from_slice(extra);
        while !m.len().is_multiple_of(4) {
            m.push(0);
        }
    }
    if shape.has(3) {
        set_len(&mut m, 24);
        attr(&mut m, 0x0008, &integrity);
    }
    if shape.has(4) {
        set_len(&mut m, 8);
        let crc = crc32(&m) ^ 0x5354_554e;
        attr(&mut m, 0x8028, &crc.to_be_bytes());
    }
    set_len(&mut m, 0);
    m
}

/// Append one attribute, padded to four bytes.
fn attr(m: &mut Vec<u8>, kind: u16, value: &[u8]) {
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&(value.len().min(0xffff) as u16).to_be_bytes());
    m.extend_from_slice(value);
    while !m.len().is_multiple_of(4) {
        m.push(0);
    }
}

/// Set the STUN length field to the body so far plus `more` bytes.
fn set_len(m: &mut [u8], more: usize) {
    let len = (m.len() - 20 + more).min(0xffff) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
}

/// CRC-32 (IEEE), as STUN's FINGERPRINT uses.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// An RTP header (version 2) with `pt`, `seq`, `ts` and `ssrc`, then `payload`.
pub fn rtp(marker_pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut d = vec![0x80, marker_pt];
    d.extend_from_slice(&seq.to_be_bytes());
    d.extend_from_slice(&ts.to_be_bytes());
    d.extend_from_slice(&ssrc.to_be_bytes());
    d.extend_from_slice(payload);
    d
}

/// An RTCP packet header of type `200 + kind % 8` (SR, RR, SDES, BYE, APP,
/// RTPFB, PSFB, XR) with a length that matches `body`.
pub fn rtcp(count: u8, kind: u8, ssrc: u32, body: &[u8]) -> Vec<u8> {
    let words = (4 + body.len()).div_ceil(4);
    let mut d = vec![0x80 | (count & 0x1f), 200 + kind % 8];
    d.extend_from_slice(&(words.min(0xffff) as u16).to_be_bytes());
    d.extend_from_slice(&ssrc.to_be_bytes());
    d.extend_from_slice(body);
    while !d.len().is_multiple_of(4) {
        d.push(0);
    }
    d
}

/// A DTLS 1.2 record of `content_type` (20..=63) carrying `body`, for
/// example the start of a ClientHello.
pub fn dtls(content_type: u8, epoch: u16, body: &[u8]) -> Vec<u8> {
    let mut d = vec![20 + content_type % 44, 0xfe, 0xfd];
    d.extend_from_slice(&epoch.to_be_bytes());
    d.extend_from_slice(&[0, 0, 0, 0, 0, 1]);
    d.extend_from_slice(&(body.len().min(0xffff) as u16).to_be_bytes());
    d.extend_from_slice(body);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn stun_is_classified_with_its_ufrag() {
        let m = stun(StunShape(!0x20), [7; 12], b"abcd:efgh", [0; 20], &[]);
        assert_eq!(
            manifold_sfu::packet::classify(&m),
            manifold_sfu::packet::DatagramKind::Stun
        );
        assert_eq!(
            manifold_sfu::packet::stun_local_ufrag(&m),
            Some(&b"abcd"[..])
        );
        assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len() - 20);
    }
}
