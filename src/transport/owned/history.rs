//! What a subscriber was sent, kept to answer its NACKs (step 3 of the
//! owned send path): per outgoing SSRC a fixed ring of the last packets,
//! each holding its header fields and the payload it shares with
//! every other subscriber's ring (a reference, never a copy), and the
//! retransmission of one of them as an RTX packet (RFC 4588).
//!
//! The ring is indexed by sequence number, so a lookup is one slot: a
//! slot holds the newest packet with that index, and a NACK for an older
//! one (or one older than `max_age`) finds nothing, which is the answer
//! when a retransmission would come too late to help.

use std::time::{Duration, Instant};

use std::sync::Arc;

use super::header::{write_header, RtpFields};
use super::vp8::Vp8Rewrite;

/// One packet as it was sent.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub fields: RtpFields,
    pub at: Instant,
    pub payload: Arc<[u8]>,
    /// This subscriber's VP8 renumbering of the shared payload.
    pub vp8: Option<Vp8Rewrite>,
    /// When it was last sent again for a NACK.
    pub resent: Option<Instant>,
}

/// The last packets of one outgoing SSRC.
#[derive(Debug)]
pub(crate) struct History {
    slots: Vec<Option<Sent>>,
    max_age: Duration,
}

impl History {
    /// A ring of `capacity` packets (rounded up to a power of two, at
    /// least 16), none kept longer than `max_age`.
    pub(crate) fn new(capacity: usize, max_age: Duration) -> Self {
        let n = capacity.max(16).next_power_of_two();
        History {
            slots: (0..n).map(|_| None).collect(),
            max_age,
        }
    }

    fn slot(&self, seq: u16) -> usize {
        seq as usize & (self.slots.len() - 1)
    }

    /// Keep a packet just sent.
    pub(crate) fn push(&mut self, sent: Sent) {
        let i = self.slot(sent.fields.seq);
        self.slots[i] = Some(sent);
    }

    /// Whether the packet sent with `seq` may go out again for a NACK at
    /// `now`: it is kept, and was not resent less than `gap` ago (a
    /// receiver NACKs again before the first resend can have arrived; a
    /// second copy in flight only adds to a congested link). Marks it
    /// resent when it may.
    pub(crate) fn may_resend(&mut self, seq: u16, now: Instant, gap: Duration) -> bool {
        let i = self.slot(seq);
        let Some(s) = self.slots[i].as_mut().filter(|s| s.fields.seq == seq) else {
            return false;
        };
        if s.resent
            .is_some_and(|t| now.saturating_duration_since(t) < gap)
        {
            return false;
        }
        s.resent = Some(now);
        true
    }

    /// The packet sent with `seq`, if it is still kept and young enough.
    pub(crate) fn get(&self, seq: u16, now: Instant) -> Option<&Sent> {
        self.slots[self.slot(seq)]
            .as_ref()
            .filter(|s| s.fields.seq == seq && now.saturating_duration_since(s.at) <= self.max_age)
    }
}

/// The RTX stream of one outgoing SSRC (RFC 4588 section 4): its SSRC,
/// payload type and own sequence numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RtxStream {
    pub ssrc: u32,
    pub pt: u8,
    pub next_seq: u16,
}

impl RtxStream {
    /// Write the retransmission of `sent` into `buf`: the RTX stream's
    /// SSRC, payload type and next sequence number, the original's
    /// timestamp and marker, `exts`, then the original sequence number
    /// and payload. Returns the header's length (for SRTP).
    pub(crate) fn write(&mut self, buf: &mut Vec<u8>, sent: &Sent, exts: &[(u8, &[u8])]) -> usize {
        let fields = RtpFields {
            pt: self.pt,
            marker: sent.fields.marker,
            seq: self.next_seq,
            ts: sent.fields.ts,
            ssrc: self.ssrc,
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        let header = write_header(buf, &fields, exts);
        buf.extend_from_slice(&sent.fields.seq.to_be_bytes());
        let start = buf.len();
        buf.extend_from_slice(&sent.payload);
        if let Some(r) = &sent.vp8 {
            r.apply(&mut buf[start..]);
        }
        header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(seq: u16, at: Instant) -> Sent {
        Sent {
            fields: RtpFields {
                pt: 96,
                marker: seq.is_multiple_of(3),
                seq,
                ts: 1000 + u32::from(seq),
                ssrc: 7,
            },
            at,
            payload: Arc::from(vec![seq as u8; 10]),
            vp8: None,
            resent: None,
        }
    }

    #[test]
    fn finds_kept_packets_across_a_wrap_and_forgets_old_ones() {
        let t0 = Instant::now();
        let mut h = History::new(100, Duration::from_secs(1));
        assert_eq!(h.slots.len(), 128);
        for seq in (65_500..=65_535).chain(0..50) {
            h.push(sent(seq, t0));
        }
        for seq in [65_500, 65_535, 0, 49] {
            assert_eq!(h.get(seq, t0).unwrap().fields.seq, seq);
        }
        assert!(h.get(50, t0).is_none(), "never sent");
        // 200 more: the early ones' slots now hold newer packets.
        for seq in 50..250 {
            h.push(sent(seq, t0));
        }
        assert!(h.get(65_500, t0).is_none());
        assert!(h.get(49, t0).is_none());
        assert!(h.get(249, t0).is_some());
        assert!(h.get(249, t0 + Duration::from_secs(2)).is_none(), "too old");
    }

    #[test]
    fn a_packet_goes_out_again_once_per_gap() {
        let t0 = Instant::now();
        let gap = Duration::from_millis(100);
        let mut h = History::new(16, Duration::from_secs(1));
        h.push(sent(5, t0));
        assert!(h.may_resend(5, t0, gap));
        assert!(!h.may_resend(5, t0 + Duration::from_millis(60), gap));
        assert!(h.may_resend(5, t0 + gap, gap));
        assert!(!h.may_resend(6, t0, gap), "never sent");
    }

    #[test]
    fn rtx_packet_carries_the_original_sequence_number_first() {
        let t0 = Instant::now();
        let original = sent(0xabcd, t0);
        let mut rtx = RtxStream {
            ssrc: 0x0102_0304,
            pt: 97,
            next_seq: 65_535,
        };
        let mut buf = Vec::new();
        let header = rtx.write(&mut buf, &original, &[]);
        assert_eq!(header, 12);
        assert_eq!(buf[1], 97, "no marker (0xabcd % 3 != 0), RTX payload type");
        assert_eq!(&buf[2..4], [0xff, 0xff]);
        assert_eq!(&buf[4..8], (1000u32 + 0xabcd).to_be_bytes());
        assert_eq!(&buf[8..12], [1, 2, 3, 4]);
        assert_eq!(&buf[12..14], [0xab, 0xcd]);
        assert_eq!(&buf[14..], &original.payload[..]);
        rtx.write(&mut buf, &original, &[]);
        assert_eq!(&buf[2..4], [0, 0], "the RTX stream's numbers wrap");
    }
}
