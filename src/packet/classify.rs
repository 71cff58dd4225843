//! Temporary minimal classification (replaced by the packet branch).

/// What a datagram on the shared port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatagramKind {
    /// STUN.
    Stun,
    /// DTLS.
    Dtls,
    /// RTP.
    Rtp,
    /// RTCP.
    Rtcp,
    /// None of those.
    Unknown,
}

/// Classify by first byte (RFC 7983).
pub fn classify(buf: &[u8]) -> DatagramKind {
    match buf.first() {
        Some(0..=3) if buf.len() >= 20 => DatagramKind::Stun,
        Some(20..=63) if buf.len() >= 13 => DatagramKind::Dtls,
        Some(128..=191) if buf.len() >= 8 && (192..=223).contains(&buf[1]) => DatagramKind::Rtcp,
        Some(128..=191) if buf.len() >= 12 => DatagramKind::Rtp,
        _ => DatagramKind::Unknown,
    }
}

/// The local ufrag from a STUN USERNAME attribute.
pub fn stun_local_ufrag(buf: &[u8]) -> Option<&[u8]> {
    if buf.len() < 20 || buf[4..8] != [0x21, 0x12, 0xa4, 0x42] {
        return None;
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let body = buf.get(20..20 + len)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[at], body[at + 1]]);
        let alen = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        let value = body.get(at + 4..at + 4 + alen)?;
        if typ == 0x0006 {
            let end = value.iter().position(|b| *b == b':').unwrap_or(value.len());
            return Some(&value[..end]);
        }
        at += 4 + alen.div_ceil(4) * 4;
    }
    None
}
