//! What a subscriber was sent, kept to answer its NACKs (step 3 of the
//! owned send path): per outgoing SSRC a fixed ring of the last packets,
//! each holding its header fields and the number of its payload, kept
//! once for all subscribers in the router's [`Kept`] (`kept.rs`), and
//! the retransmission of one of them as an RTX packet (RFC 4588).
//!
//! The ring is indexed by sequence number, so a lookup is one slot: a
//! slot holds the newest packet with that index, and a NACK for an older
//! one (or one older than `max_age`) finds nothing, which is the answer
//! when a retransmission would come too late to help.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use std::sync::Arc;

use super::header::{write_header, PacketBuf, RtpFields};
use super::kept::Kept;
use super::vp8::Vp8Rewrite;

/// One packet as it was sent (what an RTX answer is made from).
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub fields: RtpFields,
    pub at: Instant,
    pub payload: Arc<[u8]>,
    /// This subscriber's VP8 renumbering of the shared payload.
    pub vp8: Option<Vp8Rewrite>,
}

/// The last packets of one outgoing SSRC.
#[derive(Debug)]
pub(crate) struct History {
    slots: Vec<Option<Slot>>,
    max_age: Duration,
    /// The stream's SSRC (the last one pushed: one per ring).
    ssrc: u32,
    /// Packets lately sent again for a NACK, oldest first: (sequence
    /// number, when). Read only on a NACK, so kept apart from the slots,
    /// which stay small for the per-packet push.
    resent: VecDeque<(u16, Instant)>,
}

/// How many resends a history remembers (enough for the NACKs of one
/// round trip at video rates; an older resend no longer holds one back).
const RESENT_KEPT: usize = 64;

/// One kept packet: its numbers and the number of its payload in the
/// router's [`Kept`]. Plain data, so a push is a store of 24 bytes into a
/// slot last touched a ring's length of packets ago, with no reference to
/// drop (see `kept.rs`).
#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u16,
    pt: u8,
    marker: bool,
    ts: u32,
    kept: u64,
    vp8: Option<Vp8Rewrite>,
}

impl History {
    /// A ring of `capacity` packets (rounded up to a power of two, at
    /// least 16), none resent past `max_age`.
    pub(crate) fn new(capacity: usize, max_age: Duration) -> Self {
        let n = capacity.max(16).next_power_of_two();
        History {
            slots: vec![None; n],
            max_age,
            ssrc: 0,
            resent: VecDeque::new(),
        }
    }

    fn slot(&self, seq: u16) -> usize {
        seq as usize & (self.slots.len() - 1)
    }

    /// Keep a packet just sent with `fields`, whose payload is number
    /// `kept` in the router's [`Kept`], with this subscriber's VP8
    /// renumbering `vp8`.
    pub(crate) fn push(&mut self, fields: &RtpFields, kept: u64, vp8: Option<Vp8Rewrite>) {
        self.ssrc = fields.ssrc;
        let i = self.slot(fields.seq);
        self.slots[i] = Some(Slot {
            seq: fields.seq,
            pt: fields.pt,
            marker: fields.marker,
            ts: fields.ts,
            kept,
            vp8,
        });
    }

    /// Whether the packet sent with `seq` may go out again for a NACK at
    /// `now`: it is kept, and was not resent less than `gap` ago (a
    /// receiver NACKs again before the first resend can have arrived; a
    /// second copy in flight only adds to a congested link). Marks it
    /// resent when it may.
    pub(crate) fn may_resend(&mut self, seq: u16, now: Instant, gap: Duration) -> bool {
        if self.slots[self.slot(seq)].is_none_or(|s| s.seq != seq) {
            return false;
        }
        let recent = self
            .resent
            .iter()
            .rev()
            .find(|(s, _)| *s == seq)
            .is_some_and(|(_, t)| now.saturating_duration_since(*t) < gap);
        if recent {
            return false;
        }
        if self.resent.len() == RESENT_KEPT {
            self.resent.pop_front();
        }
        self.resent.push_back((seq, now));
        true
    }

    /// The packet sent with `seq`, if it and its payload (in `kept`) are
    /// still kept and it was sent no longer than `max_age` before `now`.
    pub(crate) fn get(&self, seq: u16, now: Instant, kept: &Kept) -> Option<Sent> {
        let s = self.slots[self.slot(seq)].filter(|s| s.seq == seq)?;
        let (at, payload) = kept.get(s.kept)?;
        if now.saturating_duration_since(at) > self.max_age {
            return None;
        }
        Some(Sent {
            fields: RtpFields {
                pt: s.pt,
                marker: s.marker,
                seq: s.seq,
                ts: s.ts,
                ssrc: self.ssrc,
            },
            at,
            payload: payload.clone(),
            vp8: s.vp8,
        })
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
    pub(crate) fn write<B: PacketBuf>(
        &mut self,
        buf: &mut B,
        sent: &Sent,
        exts: &[(u8, &[u8])],
    ) -> usize {
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

    fn fields(seq: u16) -> RtpFields {
        RtpFields {
            pt: 96,
            marker: seq.is_multiple_of(3),
            seq,
            ts: 1000 + u32::from(seq),
            ssrc: 7,
        }
    }

    /// Push `seq`, its payload kept in `kept` at `at`.
    fn push(h: &mut History, kept: &mut Kept, seq: u16, at: Instant) {
        let id = kept.keep(&Arc::from(vec![seq as u8; 10]), at);
        h.push(&fields(seq), id, None);
    }

    #[test]
    fn finds_kept_packets_across_a_wrap_and_forgets_old_ones() {
        let t0 = Instant::now();
        let mut kept = Kept::new(Duration::from_secs(1));
        let mut h = History::new(100, Duration::from_secs(1));
        assert_eq!(h.slots.len(), 128);
        for seq in (65_500..=65_535).chain(0..50) {
            push(&mut h, &mut kept, seq, t0);
        }
        for seq in [65_500, 65_535, 0, 49] {
            let got = h.get(seq, t0, &kept).unwrap();
            assert_eq!(got.fields, fields(seq));
            assert_eq!(&got.payload[..], &[seq as u8; 10][..]);
        }
        assert!(h.get(50, t0, &kept).is_none(), "never sent");
        // 200 more: the early ones' slots now hold newer packets.
        for seq in 50..250 {
            push(&mut h, &mut kept, seq, t0);
        }
        assert!(h.get(65_500, t0, &kept).is_none());
        assert!(h.get(49, t0, &kept).is_none());
        assert!(h.get(249, t0, &kept).is_some());
        let later = t0 + Duration::from_secs(2);
        assert!(h.get(249, later, &kept).is_none(), "too old");
    }

    #[test]
    fn a_slot_stays_small_and_gives_back_its_rewrite() {
        assert!(std::mem::size_of::<Option<Slot>>() <= 24);
        let t0 = Instant::now();
        let mut kept = Kept::new(Duration::from_secs(1));
        let mut h = History::new(16, Duration::from_secs(1));
        let vp8 = super::super::vp8::Vp8Rewrite::new(&[0x90, 0x80, 0x05], Some(9), None);
        assert!(vp8.is_some());
        let id = kept.keep(&Arc::from(&b"abc"[..]), t0);
        h.push(&fields(7), id, vp8);
        let got = h.get(7, t0 + Duration::from_millis(10), &kept).unwrap();
        assert_eq!((got.at, got.vp8, &got.payload[..]), (t0, vp8, &b"abc"[..]));
    }

    #[test]
    fn a_payload_no_longer_kept_is_not_resent() {
        let t0 = Instant::now();
        let mut kept = Kept::new(Duration::from_secs(1));
        let mut h = History::new(16, Duration::from_secs(1));
        push(&mut h, &mut kept, 1, t0);
        // Other streams' payloads push it out of the router's ring.
        let p: Arc<[u8]> = Arc::from(&b"x"[..]);
        for _ in 0..super::super::kept::MAX_KEPT {
            kept.keep(&p, t0 + Duration::from_secs(2));
        }
        assert!(h.get(1, t0, &kept).is_none());
    }

    #[test]
    fn a_packet_goes_out_again_once_per_gap() {
        let t0 = Instant::now();
        let gap = Duration::from_millis(100);
        let mut kept = Kept::new(Duration::from_secs(1));
        let mut h = History::new(16, Duration::from_secs(1));
        push(&mut h, &mut kept, 5, t0);
        assert!(h.may_resend(5, t0, gap));
        assert!(!h.may_resend(5, t0 + Duration::from_millis(60), gap));
        assert!(h.may_resend(5, t0 + gap, gap));
        assert!(!h.may_resend(6, t0, gap), "never sent");
        // Bounded: older resends are forgotten.
        for seq in 0..200u16 {
            push(&mut h, &mut kept, seq, t0);
            h.may_resend(seq, t0, gap);
        }
        assert_eq!(h.resent.len(), RESENT_KEPT);
    }

    #[test]
    fn rtx_packet_carries_the_original_sequence_number_first() {
        let t0 = Instant::now();
        let original = Sent {
            fields: fields(0xabcd),
            at: t0,
            payload: Arc::from(vec![0xcd; 10]),
            vp8: None,
        };
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
