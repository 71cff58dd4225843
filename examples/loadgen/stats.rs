//! What subscribers count: packets per stream with sequence-gap loss, and a
//! latency histogram. All of it fixed-size.
//!
//! Loss is counted over a range of sequence numbers, not of time: when the
//! steady phase starts, each stream's highest sequence number so far becomes
//! its `base`; when it ends, the highest then becomes its `end`. Packets in
//! `(base, end]` that arrive later (retransmissions, reordering) still count
//! until the results are collected, so only packets that never came are lost.

use std::time::Duration;

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

/// Latencies, log-linear: exact microseconds below 256 µs, then 128
/// buckets per power of two (under 0.8 % relative error) up to 2^40 µs.
/// An overloaded server's seconds of queueing stay measurable: a fixed
/// upper bucket made p50, p99 and max one number once most packets waited
/// longer than it.
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    max_us: u64,
}

/// Exact buckets below this many microseconds.
const EXACT: u64 = 256;
/// Buckets per power of two above it.
const PER_OCTAVE: u64 = 128;
/// The largest exponent kept apart (2^40 µs is about 12 days).
const MAX_EXP: u64 = 40;

fn bucket_of(us: u64) -> usize {
    if us < EXACT {
        return us as usize;
    }
    let e = (63 - u64::from(us.leading_zeros())).min(MAX_EXP);
    let shift = e - 7;
    let mantissa = (us >> shift).min(2 * PER_OCTAVE - 1);
    (EXACT + (e - 8) * PER_OCTAVE + (mantissa - PER_OCTAVE)) as usize
}

/// The middle of bucket `i`, in microseconds.
fn value_of(i: usize) -> u64 {
    let i = i as u64;
    if i < EXACT {
        return i;
    }
    let e = 8 + (i - EXACT) / PER_OCTAVE;
    let mantissa = PER_OCTAVE + (i - EXACT) % PER_OCTAVE;
    let shift = e - 7;
    (mantissa << shift) + (1 << shift) / 2
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: vec![0; bucket_of(u64::MAX) + 1],
            count: 0,
            max_us: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        self.buckets[bucket_of(us)] += 1;
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.max_us = self.max_us.max(other.max_us);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q` quantile (0..=1) in milliseconds; 0 without samples.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return value_of(i).min(self.max_us) as f64 / 1000.0;
            }
        }
        self.max_us as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
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

    #[test]
    fn quantiles() {
        let mut h = Histogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        h.record(Duration::from_millis(50));
        assert_eq!(h.count(), 1001);
        assert!((h.quantile_ms(0.5) - 0.501).abs() < 0.002);
        assert!((h.quantile_ms(0.99) - 0.991).abs() < 0.002);
        assert_eq!(h.quantile_ms(1.0), 50.0);
    }

    #[test]
    fn seconds_of_queueing_stay_apart() {
        // An overloaded server: latencies from 1 s to 9 s.
        let mut h = Histogram::default();
        for ms in 1..=9000u64 {
            h.record(Duration::from_millis(1000 + ms - 1));
        }
        let (p50, p99, max) = (h.quantile_ms(0.5), h.quantile_ms(0.99), h.max_ms());
        assert!((p50 - 5500.0).abs() / 5500.0 < 0.01, "p50 {p50}");
        assert!((p99 - 9910.0).abs() / 9910.0 < 0.01, "p99 {p99}");
        assert!(p50 < p99 && p99 < max);
        for us in [0, 1, 255, 256, 257, 1000, 123_456, 10_000_000_000] {
            let v = value_of(bucket_of(us));
            assert!(
                v.abs_diff(us) as f64 <= us as f64 / 128.0 + 0.5,
                "{us} -> {v}"
            );
        }
    }
}
