//! What subscribers count: packets per stream with sequence-gap loss (the
//! latency histogram is `examples/common/histogram.rs`). All of it
//! fixed-size.
//!
//! Loss is counted over a range of sequence numbers, not of time: when the
//! steady phase starts, each stream's highest sequence number so far becomes
//! its `base`; when it ends, the highest then becomes its `end`. Packets in
//! `(base, end]` that arrive later (retransmissions, reordering) still count
//! until the results are collected, so only packets that never came are lost.

/// How far back a sequence number is remembered for duplicate detection.
const WINDOW: u64 = 4096;

/// One received RTP stream.
pub struct SeqStats {
    highest: Option<u64>,
    seen: Box<[u64; (WINDOW / 64) as usize]>,
    base: Option<u64>,
    /// Set the base at the next packet (the steady phase began before any).
    base_pending: bool,
    end: Option<u64>,
    /// Distinct packets in `(base, end]`.
    in_range: u64,
}

impl Default for SeqStats {
    fn default() -> Self {
        SeqStats {
            highest: None,
            seen: Box::new([0; (WINDOW / 64) as usize]),
            base: None,
            base_pending: false,
            end: None,
            in_range: 0,
        }
    }
}

impl SeqStats {
    /// Record a packet; false if it is a duplicate or too old to tell.
    pub fn on_packet(&mut self, seq: u64) -> bool {
        if self.base_pending {
            self.base_pending = false;
            self.base = Some(seq.saturating_sub(1));
        }
        match self.highest {
            Some(h) if seq > h => {
                if seq - h >= WINDOW {
                    self.seen.fill(0);
                } else {
                    for s in h + 1..seq {
                        self.clear(s);
                    }
                }
                self.highest = Some(seq);
            }
            Some(h) if h - seq >= WINDOW => return false,
            Some(_) if self.is_set(seq) => return false,
            Some(_) => {}
            None => self.highest = Some(seq),
        }
        self.set(seq);
        let above = self.base.is_some_and(|b| seq > b);
        let below = self.end.is_none_or(|e| seq <= e);
        if above && below {
            self.in_range += 1;
        }
        true
    }

    /// The steady phase starts: count from here.
    pub fn start(&mut self) {
        match self.highest {
            Some(h) => self.base = Some(h),
            None => self.base_pending = true,
        }
    }

    /// The steady phase ends: count up to here.
    pub fn stop(&mut self) {
        self.base_pending = false;
        self.end = self.highest.max(self.base);
    }

    /// (expected, lost) in the counted range.
    pub fn expected_lost(&self) -> (u64, u64) {
        let (Some(b), Some(e)) = (self.base, self.end) else {
            return (0, 0);
        };
        let expected = e.saturating_sub(b);
        (expected, expected.saturating_sub(self.in_range))
    }

    fn set(&mut self, seq: u64) {
        let i = seq % WINDOW;
        self.seen[(i / 64) as usize] |= 1 << (i % 64);
    }

    fn clear(&mut self, seq: u64) {
        let i = seq % WINDOW;
        self.seen[(i / 64) as usize] &= !(1 << (i % 64));
    }

    fn is_set(&self, seq: u64) -> bool {
        let i = seq % WINDOW;
        self.seen[(i / 64) as usize] & (1 << (i % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_in_range_are_lost_late_arrivals_are_not() {
        let mut s = SeqStats::default();
        for q in 100..110 {
            s.on_packet(q);
        }
        s.start(); // base 109
        for q in [110, 111, 113, 115, 116] {
            assert!(s.on_packet(q));
        }
        assert!(!s.on_packet(111), "duplicate");
        s.stop(); // end 116
        assert!(s.on_packet(114), "a late retransmission still counts");
        s.on_packet(117); // past the end: not counted
        assert_eq!(s.expected_lost(), (7, 1));
    }

    #[test]
    fn stream_starting_after_the_start() {
        let mut s = SeqStats::default();
        s.start();
        for q in 500..510 {
            s.on_packet(q);
        }
        s.stop();
        assert_eq!(s.expected_lost(), (10, 0));
    }
}
