//! A log-linear histogram of durations, shared by the examples (each
//! includes this file as a module): the load generator's one-way latency
//! and the reference server's time per datagram (`examples/server/delay.rs`,
//! read back by the load generator from `GET /stats`).

use std::time::Duration;

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

    /// `n` more samples of `us` microseconds (a bucket read back from
    /// [`buckets`](Self::buckets)).
    pub fn add(&mut self, us: u64, n: u64) {
        self.buckets[bucket_of(us)] += n;
        self.count += n;
        self.max_us = self.max_us.max(us);
    }

    /// Take away the samples of `earlier`, a reading of the same counts
    /// taken before (a window: later minus earlier). The largest sample
    /// stays the later reading's.
    pub fn subtract(&mut self, earlier: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(&earlier.buckets) {
            *a = a.saturating_sub(*b);
        }
        self.count = self.buckets.iter().sum();
    }

    /// The non-empty buckets: each one's middle value in microseconds and
    /// its count.
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (value_of(i), *n))
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

    /// Buckets read back from one histogram, and a window of two readings.
    #[test]
    fn buckets_read_back_and_subtract() {
        let mut before = Histogram::default();
        for us in [3, 300, 3000] {
            before.record(Duration::from_micros(us));
        }
        let mut after = Histogram::default();
        for (us, n) in before.buckets() {
            after.add(us, n);
        }
        assert_eq!(after.count(), 3);
        assert_eq!(after.quantile_ms(1.0), before.quantile_ms(1.0));
        for _ in 0..10 {
            after.record(Duration::from_millis(20));
        }
        after.subtract(&before);
        assert_eq!(after.count(), 10);
        assert!((after.quantile_ms(0.5) - 20.0).abs() < 0.2);
    }
}
