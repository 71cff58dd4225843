//! Per-consumer rewriting of sequence numbers and timestamps.
//!
//! The subscriber must see one continuous stream even though the router
//! drops packets (pause, waiting for a keyframe, layer switches) and the
//! source may change. Output numbers are `input + offset`; the offsets are
//! recomputed at each *rebase* (the first packet forwarded after a break), so
//! reordered and retransmitted packets inside a segment keep their relative
//! order, and the first packet after a break directly follows the last one
//! sent: no gap the subscriber would NACK.
//!
//! Packets dropped on purpose inside a segment (a temporal layer above the
//! wanted one) are *skipped*: later input moves down by one. A skip is kept
//! with the offset before it, so a packet from before the skip that arrives
//! late (a retransmission after loss, reordering) still gets its own slot,
//! and a repeated packet of a skipped one moves nothing.

use std::collections::VecDeque;
use std::time::Instant;

/// Skips remembered for late packets: about a second of dropped packets of
/// a top temporal layer, longer than a retransmission takes.
const SKIPS_KEPT: usize = 64;

/// Sequence number and timestamp mapping for one consumer.
#[derive(Debug)]
pub(crate) struct Rewriter {
    /// `out_seq = in_seq + seq_offset` (two's complement on u64).
    seq_offset: u64,
    /// `out_ts = in_ts + ts_offset` (wrapping u32).
    ts_offset: u32,
    /// Highest output sequence number sent so far.
    last_seq: u64,
    /// Output timestamp of the packet with `last_seq`.
    last_ts: u32,
    /// When `last_seq` was sent.
    last_at: Option<Instant>,
    /// Input sequence number at the current segment's start; older input is dropped.
    segment_start: Option<u64>,
    /// The highest input sequence number of the segment, forwarded or
    /// skipped.
    highest_in: Option<u64>,
    /// Recent skips: (input sequence number, the offset of the input
    /// before it), oldest first.
    skips: VecDeque<(u64, u64)>,
}

/// The rewritten numbers for one forwarded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rewritten {
    pub seq: u64,
    pub ts: u32,
}

impl Rewriter {
    /// `first_seq` and `first_ts` are the output numbers of the first packet.
    pub(crate) fn new(first_seq: u64, first_ts: u32) -> Self {
        Rewriter {
            seq_offset: 0,
            ts_offset: 0,
            last_seq: first_seq.wrapping_sub(1),
            last_ts: first_ts,
            last_at: None,
            segment_start: None,
            highest_in: None,
            skips: VecDeque::new(),
        }
    }

    /// Whether the next packet starts a new segment.
    pub(crate) fn needs_rebase(&self) -> bool {
        self.segment_start.is_none()
    }

    /// Break the stream: the next forwarded packet starts a new segment.
    pub(crate) fn break_segment(&mut self) {
        self.segment_start = None;
    }

    /// Start a new segment at this input packet: it gets `last_seq + 1` and a
    /// timestamp advanced by the wall time since the last packet sent.
    pub(crate) fn rebase(&mut self, in_seq: u64, in_ts: u32, now: Instant, clock_rate: u32) {
        let out_seq = self.last_seq.wrapping_add(1);
        self.seq_offset = out_seq.wrapping_sub(in_seq);
        let advance = match self.last_at {
            Some(at) => {
                let ms = now.saturating_duration_since(at).as_millis() as u64;
                ((ms * clock_rate as u64) / 1000).clamp(1, u32::MAX as u64 / 2) as u32
            }
            None => 0,
        };
        let out_ts = self.last_ts.wrapping_add(advance);
        self.ts_offset = out_ts.wrapping_sub(in_ts);
        self.segment_start = Some(in_seq);
        self.highest_in = Some(in_seq);
        self.skips.clear();
    }

    /// Map one input packet of the current segment. `None` when it belongs
    /// to an older segment (a late or retransmitted packet from before the
    /// break): forwarding it would go backwards.
    pub(crate) fn map(&mut self, in_seq: u64, in_ts: u32, now: Instant) -> Option<Rewritten> {
        let start = self.segment_start?;
        if in_seq < start {
            return None;
        }
        // Input from before a recent skip keeps the offset it had.
        let mut offset = self.seq_offset;
        for &(skipped, before) in self.skips.iter().rev() {
            if skipped < in_seq {
                break;
            }
            offset = before;
        }
        self.highest_in = self.highest_in.max(Some(in_seq));
        let seq = in_seq.wrapping_add(offset);
        let ts = in_ts.wrapping_add(self.ts_offset);
        if seq.wrapping_sub(self.last_seq) as i64 > 0 {
            self.last_seq = seq;
            self.last_ts = ts;
            self.last_at = Some(now);
        }
        Some(Rewritten { seq, ts })
    }

    /// An input packet was dropped on purpose (e.g. a temporal layer above
    /// the wanted one): later packets move down by one so no gap appears.
    /// Only a packet newer than every one of the segment so far can be
    /// skipped: one that arrives after a later packet was numbered leaves
    /// its gap, and a repeated one changes nothing.
    pub(crate) fn skip(&mut self, in_seq: u64) {
        let (Some(start), Some(highest)) = (self.segment_start, self.highest_in) else {
            return;
        };
        if in_seq < start || in_seq <= highest {
            return;
        }
        if self.skips.len() == SKIPS_KEPT {
            self.skips.pop_front();
        }
        self.skips.push_back((in_seq, self.seq_offset));
        self.seq_offset = self.seq_offset.wrapping_sub(1);
        self.highest_in = Some(in_seq);
    }

    /// Every input packet after the newest one so far and before `in_seq`
    /// was dropped on purpose, those not seen (lost) included: skip them
    /// all, so a late retransmission of one leaves no hole.
    pub(crate) fn skip_until(&mut self, in_seq: u64) {
        let (Some(start), Some(highest)) = (self.segment_start, self.highest_in) else {
            return;
        };
        let first = highest + 1;
        // A jump this long is no lost packet: leave it to the subscriber.
        if in_seq <= first || first < start || in_seq - first > 64 {
            return;
        }
        if self.skips.len() == SKIPS_KEPT {
            self.skips.pop_front();
        }
        self.skips.push_back((first, self.seq_offset));
        self.seq_offset = self.seq_offset.wrapping_sub(in_seq - first);
        self.highest_in = Some(in_seq - 1);
    }

    /// Highest output sequence number so far.
    #[cfg(test)]
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn continuous_across_breaks() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(1000, 5000);
        r.rebase(70_000, 90_000, t0, 90_000);
        assert_eq!(
            r.map(70_000, 90_000, t0),
            Some(Rewritten {
                seq: 1000,
                ts: 5000
            })
        );
        assert_eq!(r.map(70_001, 93_000, t0).unwrap().seq, 1001);
        // Reordered packet inside the segment keeps its place.
        assert_eq!(r.map(70_003, 96_000, t0).unwrap().seq, 1003);
        assert_eq!(r.map(70_002, 96_000, t0).unwrap().seq, 1002);
        r.break_segment();
        assert!(r.map(70_004, 99_000, t0).is_none());
        let t1 = t0 + Duration::from_secs(1);
        r.rebase(80_000, 1_000_000, t1, 90_000);
        let w = r.map(80_000, 1_000_000, t1).unwrap();
        assert_eq!(w.seq, 1004);
        // The last packet sent (seq 1003) had timestamp 5000 + 6000.
        assert_eq!(w.ts, 5000 + 6000 + 90_000);
        // Packet from before the rebase is refused.
        assert!(r.map(79_999, 999_000, t1).is_none());
        assert_eq!(r.last_seq(), 1004);
    }

    #[test]
    fn skip_closes_gap() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(10, 0);
        r.rebase(5, 0, t0, 90_000);
        assert_eq!(r.map(5, 0, t0).unwrap().seq, 10);
        r.skip(6);
        assert_eq!(r.map(7, 0, t0).unwrap().seq, 11);
    }

    #[test]
    fn late_packets_around_skips_keep_their_slots() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(10, 0);
        r.rebase(100, 0, t0, 90_000);
        assert_eq!(r.map(100, 0, t0).unwrap().seq, 10);
        // 101 is lost; 102 is dropped on purpose; 103 follows.
        r.skip(102);
        assert_eq!(r.map(103, 0, t0).unwrap().seq, 12);
        // 101's retransmission gets its own slot, 11.
        assert_eq!(r.map(101, 0, t0).unwrap().seq, 11);
        // A repeat of the skipped 102 moves nothing.
        r.skip(102);
        assert_eq!(r.map(104, 0, t0).unwrap().seq, 13);
        // Skips after 104, then a late 103 again: same slot as before.
        r.skip(105);
        r.skip(106);
        assert_eq!(r.map(107, 0, t0).unwrap().seq, 14);
        assert_eq!(r.map(103, 0, t0).unwrap().seq, 12);
        // A dropped packet arriving after a later one was sent leaves its gap.
        r.skip(106);
        assert_eq!(r.map(108, 0, t0).unwrap().seq, 15);
    }

    #[test]
    fn skipping_a_range_of_lost_dropped_packets() {
        let t0 = Instant::now();
        let mut r = Rewriter::new(10, 0);
        r.rebase(100, 0, t0, 90_000);
        assert_eq!(r.map(100, 0, t0).unwrap().seq, 10);
        // 101 and 102 belonged to a dropped picture and were lost.
        r.skip_until(103);
        assert_eq!(r.map(103, 0, t0).unwrap().seq, 11);
        // Their late retransmissions are dropped and move nothing.
        r.skip(101);
        r.skip(102);
        assert_eq!(r.map(104, 0, t0).unwrap().seq, 12);
        // Nothing to skip, or too far: no change.
        r.skip_until(105);
        r.skip_until(1_000);
        assert_eq!(r.map(105, 0, t0).unwrap().seq, 13);
    }
}
