//! The subscriber's feedback the owned send path acts on, read from its
//! (decrypted) RTCP: generic NACKs (RFC 4585 section 6.2.1), each naming
//! the packets of one of our SSRCs that did not arrive. str0m still reads
//! the same RTCP for everything else (receiver reports, keyframe
//! requests); this reads only what the owned path must answer itself.

/// RTPFB, the transport-layer feedback packet type.
pub(crate) const RTPFB: u8 = 205;
/// Its generic NACK format.
const FMT_NACK: u8 = 1;

/// Call `f(fmt, pt, packet)` for each packet of the compound `rtcp`, in
/// order, until `f` returns `false`. Stops at the first malformed packet
/// (what came before it stands).
pub(crate) fn walk(rtcp: &[u8], mut f: impl FnMut(u8, u8, &[u8]) -> bool) {
    let mut rest = rtcp;
    while rest.len() >= 4 {
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        if rest[0] >> 6 != 2 || len > rest.len() {
            return;
        }
        let (packet, next) = rest.split_at(len);
        rest = next;
        if !f(packet[0] & 0x1f, packet[1], packet) {
            return;
        }
    }
}

/// Append to `out` every (media SSRC, sequence number) a generic NACK in
/// the compound packet `rtcp` asks for, up to `limit` entries in `out`.
pub(crate) fn nacks(rtcp: &[u8], out: &mut Vec<(u32, u16)>, limit: usize) {
    walk(rtcp, |fmt, pt, packet| {
        if pt != RTPFB || fmt != FMT_NACK || packet.len() < 12 {
            return true;
        }
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        for fci in packet[12..].chunks_exact(4) {
            let pid = u16::from_be_bytes([fci[0], fci[1]]);
            let blp = u16::from_be_bytes([fci[2], fci[3]]);
            let lost = std::iter::once(pid).chain(
                (0..16u16)
                    .filter(|bit| blp & (1 << bit) != 0)
                    .map(|bit| pid.wrapping_add(bit + 1)),
            );
            for seq in lost {
                if out.len() >= limit {
                    return false;
                }
                out.push((ssrc, seq));
            }
        }
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generic NACK from `sender` about `media`, with (PID, BLP) entries.
    fn nack(media: u32, fci: &[(u16, u16)]) -> Vec<u8> {
        let words = 2 + fci.len() as u16;
        let mut p = vec![0x81, RTPFB];
        p.extend_from_slice(&words.to_be_bytes());
        p.extend_from_slice(&9u32.to_be_bytes());
        p.extend_from_slice(&media.to_be_bytes());
        for (pid, blp) in fci {
            p.extend_from_slice(&pid.to_be_bytes());
            p.extend_from_slice(&blp.to_be_bytes());
        }
        p
    }

    #[test]
    fn nacks_in_a_compound_packet() {
        // A receiver report first (no blocks), then two NACKs, one across
        // the sequence number wrap.
        let mut rtcp = vec![0x80, 201, 0, 1, 0, 0, 0, 9];
        rtcp.extend(nack(7, &[(100, 0b101)]));
        rtcp.extend(nack(8, &[(65_535, 0b1), (10, 0)]));
        let mut out = Vec::new();
        nacks(&rtcp, &mut out, 100);
        assert_eq!(
            out,
            [(7, 100), (7, 101), (7, 103), (8, 65_535), (8, 0), (8, 10)]
        );
        // Bounded: at most `limit` in `out`.
        out.clear();
        nacks(&rtcp, &mut out, 4);
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn malformed_input_stops_the_walk() {
        let mut out = Vec::new();
        let good = nack(7, &[(5, 0)]);
        // A length past the end, a wrong version, a short NACK.
        let mut long = good.clone();
        long[3] = 9;
        nacks(&long, &mut out, 10);
        let mut v1 = good.clone();
        v1[0] = 0x41;
        nacks(&v1, &mut out, 10);
        nacks(&[0x81, RTPFB, 0, 1, 0, 0, 0, 9], &mut out, 10);
        nacks(&[0x81, RTPFB], &mut out, 10);
        assert!(out.is_empty());
        let mut then_bad = good;
        then_bad.extend_from_slice(&[0x81, RTPFB, 0xff, 0xff]);
        nacks(&then_bad, &mut out, 10);
        assert_eq!(out, [(7, 5)], "what came before the bad packet stands");
    }
}
