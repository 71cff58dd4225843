//! Demultiplexing of datagrams that share one UDP 5-tuple.
//!
//! WebRTC sends STUN, DTLS, SRTP and SRTCP over a single socket. RFC 7983
//! (updating RFC 5764 §5.1.2) tells them apart by the first byte:
//!
//! ```text
//!            +----------------+
//!            |        [0..3] -+--> STUN
//!            |      [20..63] -+--> DTLS
//!            |    [128..191] -+--> RTP / RTCP
//!            |    [192..255] -+--> (free in RFC 7983) Manifold's pipe datagrams
//!            +----------------+
//! ```
//!
//! RTP and RTCP are then split per RFC 5761 §4: the second byte of an RTCP
//! packet is its packet type, 192..=223, which an RTP packet (marker bit plus
//! payload type) never uses once payload types 64..=95 are avoided.
//!
//! The STUN helpers read just enough of a message (RFC 8489 §5, §14) to route
//! it to a session by the local ICE username fragment, without allocating.

/// What a datagram on a shared WebRTC socket carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatagramKind {
    /// A STUN message (ICE connectivity checks).
    Stun,
    /// A DTLS record.
    Dtls,
    /// An (S)RTP packet.
    Rtp,
    /// An (S)RTCP compound packet.
    Rtcp,
    /// A sealed datagram of a pipe between routers on different hosts
    /// (first byte in 192..=255, a range no WebRTC protocol uses).
    Pipe,
    /// Anything else, including buffers too short for their kind.
    Unknown,
}

/// The fixed STUN magic cookie (RFC 8489 §5).
pub const STUN_MAGIC_COOKIE: u32 = 0x2112_A442;
/// Length of the STUN message header.
pub const STUN_HEADER_LEN: usize = 20;
/// The STUN USERNAME attribute type.
const ATTR_USERNAME: u16 = 0x0006;

const MIN_DTLS_LEN: usize = 13;
const MIN_RTP_LEN: usize = 12;
const MIN_RTCP_LEN: usize = 8;
/// A pipe datagram's header and GCM tag (`pipe/seal.rs`).
const MIN_PIPE_LEN: usize = 26;

/// Classifies a datagram by its first byte (RFC 7983) and, for RTP/RTCP, its
/// second byte (RFC 5761). Buffers shorter than the smallest valid packet of
/// their kind are [`DatagramKind::Unknown`].
pub fn classify(buf: &[u8]) -> DatagramKind {
    let Some(&first) = buf.first() else {
        return DatagramKind::Unknown;
    };
    match first {
        0..=3 if buf.len() >= STUN_HEADER_LEN => DatagramKind::Stun,
        20..=63 if buf.len() >= MIN_DTLS_LEN => DatagramKind::Dtls,
        128..=191 => match buf.get(1) {
            Some(192..=223) if buf.len() >= MIN_RTCP_LEN => DatagramKind::Rtcp,
            Some(192..=223) => DatagramKind::Unknown,
            Some(_) if buf.len() >= MIN_RTP_LEN => DatagramKind::Rtp,
            _ => DatagramKind::Unknown,
        },
        192..=255 if buf.len() >= MIN_PIPE_LEN => DatagramKind::Pipe,
        _ => DatagramKind::Unknown,
    }
}

/// Returns the body of a STUN message after checking its header: the first
/// byte is in the STUN range, the magic cookie matches and the declared
/// length is a multiple of 4 that fits the buffer (trailing bytes after the
/// message are ignored).
fn stun_body(buf: &[u8]) -> Option<&[u8]> {
    let header = buf.get(..STUN_HEADER_LEN)?;
    // RFC 7983 reserves first bytes 0..=3 for STUN (top two bits of the
    // message type are zero, and methods stay below 0x400).
    if header[0] > 3 {
        return None;
    }
    let cookie = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if cookie != STUN_MAGIC_COOKIE {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if len % 4 != 0 {
        return None;
    }
    buf.get(STUN_HEADER_LEN..STUN_HEADER_LEN + len)
}

/// Iterates over the `(type, value)` attributes of a STUN body. Stops at the
/// first attribute whose value does not fit; the padding of the last
/// attribute may be missing.
fn stun_attributes(body: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = body;
    std::iter::from_fn(move || {
        let (head, tail) = rest.split_first_chunk::<4>()?;
        let kind = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let Some(value) = tail.get(..len) else {
            rest = &[];
            return None;
        };
        let padded = len.next_multiple_of(4);
        rest = tail.get(padded..).unwrap_or(&[]);
        Some((kind, value))
    })
}

/// The local ICE username fragment of a STUN request sent to us.
///
/// ICE (RFC 8445 §7.2.2) sets USERNAME to `"<receiver ufrag>:<sender
/// ufrag>"`, so the bytes before the first `':'` are the ufrag we handed out
/// in our SDP, which identifies the session. Returns `None` if `buf` is not a
/// STUN message, has no USERNAME, or the USERNAME has no `':'`.
///
/// The result is always a subslice of `buf` without `':'`. The walk is
/// bounded by the message length and allocates nothing.
pub fn stun_local_ufrag(buf: &[u8]) -> Option<&[u8]> {
    let body = stun_body(buf)?;
    let (_, username) = stun_attributes(body).find(|&(kind, _)| kind == ATTR_USERNAME)?;
    let colon = username.iter().position(|&b| b == b':')?;
    username.get(..colon)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The STUN message type, if `buf` starts with a valid STUN header.
    fn stun_message_type(buf: &[u8]) -> Option<u16> {
        stun_body(buf)?;
        Some(u16::from_be_bytes([buf[0], buf[1]]))
    }

    fn stun_msg(msg_type: u16, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in attrs {
            body.extend_from_slice(&kind.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        let mut msg = Vec::new();
        msg.extend_from_slice(&msg_type.to_be_bytes());
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&STUN_MAGIC_COOKIE.to_be_bytes());
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn classifies_by_first_byte() {
        assert_eq!(classify(&[]), DatagramKind::Unknown);
        assert_eq!(classify(&[0; 20]), DatagramKind::Stun);
        assert_eq!(classify(&[1; 19]), DatagramKind::Unknown);
        assert_eq!(classify(&[22; 13]), DatagramKind::Dtls);
        assert_eq!(classify(&[22; 12]), DatagramKind::Unknown);
        assert_eq!(classify(&[64; 40]), DatagramKind::Unknown);
        assert_eq!(classify(&[255; 40]), DatagramKind::Pipe);
        assert_eq!(classify(&[0xE1; 26]), DatagramKind::Pipe);
        assert_eq!(classify(&[0xE1; 25]), DatagramKind::Unknown);
    }

    #[test]
    fn splits_rtp_and_rtcp() {
        let mut rtp = [0u8; 12];
        rtp[0] = 0x80;
        rtp[1] = 96;
        assert_eq!(classify(&rtp), DatagramKind::Rtp);
        rtp[1] = 0x80 | 111; // marker + PT 111
        assert_eq!(classify(&rtp), DatagramKind::Rtp);
        assert_eq!(classify(&rtp[..11]), DatagramKind::Unknown);

        let rtcp = [0x81, 200, 0, 6, 1, 2, 3, 4];
        assert_eq!(classify(&rtcp), DatagramKind::Rtcp);
        assert_eq!(classify(&rtcp[..7]), DatagramKind::Unknown);
        assert_eq!(classify(&[0x80]), DatagramKind::Unknown);
    }

    #[test]
    fn finds_local_ufrag() {
        let msg = stun_msg(
            0x0001,
            &[
                (0x8022, b"agent"),
                (ATTR_USERNAME, b"abcd:efgh"),
                (0x0008, &[0; 20]),
            ],
        );
        assert_eq!(classify(&msg), DatagramKind::Stun);
        assert_eq!(stun_message_type(&msg), Some(0x0001));
        assert_eq!(stun_local_ufrag(&msg), Some(&b"abcd"[..]));
    }

    #[test]
    fn ufrag_edge_cases() {
        // No colon, empty ufrag, no username.
        assert_eq!(stun_local_ufrag(&stun_msg(1, &[(6, b"abcd")])), None);
        assert_eq!(
            stun_local_ufrag(&stun_msg(1, &[(6, b":x")])),
            Some(&b""[..])
        );
        assert_eq!(stun_local_ufrag(&stun_msg(1, &[(0x8022, b"a:b")])), None);
        // Unpadded username ending the buffer is still read.
        let mut msg = stun_msg(1, &[(6, b"ab:c")]);
        assert_eq!(stun_local_ufrag(&msg), Some(&b"ab"[..]));
        // Bad cookie.
        msg[4] ^= 1;
        assert_eq!(stun_local_ufrag(&msg), None);
        assert_eq!(stun_message_type(&msg), None);
    }

    #[test]
    fn hostile_lengths_are_rejected() {
        let mut msg = stun_msg(1, &[(6, b"ab:cd")]);
        // Declared message length past the end of the buffer.
        msg[3] = 0xFC;
        assert_eq!(stun_local_ufrag(&msg), None);
        // Length not a multiple of four.
        let mut msg = stun_msg(1, &[(6, b"ab:cd")]);
        msg[3] = 5;
        assert_eq!(stun_message_type(&msg), None);
        // Attribute length past the end of the message.
        let mut msg = stun_msg(1, &[(6, b"ab:cd")]);
        msg[23] = 0xFF;
        assert_eq!(stun_local_ufrag(&msg), None);
        // Truncated header, top bits set.
        assert_eq!(stun_message_type(&msg[..19]), None);
        let mut msg = stun_msg(1, &[]);
        msg[0] = 0x40;
        assert_eq!(stun_message_type(&msg), None);
    }
}
