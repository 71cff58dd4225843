//! How long the server holds a datagram: from its arrival in the socket
//! (the kernel's receive timestamp, `SO_TIMESTAMPNS`) to the moment the
//! output of the batch it was read in has been handed to the kernel. For
//! a forwarded packet that is the delay the server adds before its last
//! viewer's copy leaves, queueing in the socket included: issue #19's
//! "added latency", measured inside the server, apart from any load
//! generator's own delays.
//!
//! Each worker keeps one [`Delays`] histogram since it started;
//! `GET /stats` shows it per worker (`delay`: `count`, `p50_us`, `p99_us`,
//! `max_us` and the non-empty `buckets` as `[upper_us, count]`, so that
//! two readings can be subtracted for a window: the load generator does).

use serde_json::{json, Value};

/// Buckets per power of two: values are kept within 12.5 %.
const SUB: u64 = 8;
/// Powers of two above the first [`SUB`] microseconds: up to about 2^40 µs.
const OCTAVES: usize = 37;
const BUCKETS: usize = SUB as usize * (OCTAVES + 1);

/// A log-linear histogram of delays in microseconds.
pub struct Delays {
    buckets: Box<[u64; BUCKETS]>,
    count: u64,
    max_us: u64,
}

impl Default for Delays {
    fn default() -> Self {
        Delays {
            buckets: Box::new([0; BUCKETS]),
            count: 0,
            max_us: 0,
        }
    }
}

fn bucket(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let octave = 63 - us.leading_zeros() as u64; // >= 3
    let shift = octave - 3;
    let sub = (us >> shift) - SUB;
    ((SUB + shift * SUB + sub) as usize).min(BUCKETS - 1)
}

/// The largest value bucket `i` holds.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let (shift, sub) = ((i - SUB) / SUB, (i - SUB) % SUB);
    ((SUB + sub + 1) << shift) - 1
}

impl Delays {
    /// Count one delay.
    pub fn record(&mut self, us: u64) {
        self.buckets[bucket(us)] += 1;
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    /// The delay at quantile `q` (0 to 1): the upper end of its bucket.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        quantile(self.buckets.iter().copied().enumerate(), self.count, q)
    }

    /// The `delay` object of `GET /stats`.
    pub fn json(&self) -> Value {
        let buckets: Vec<Value> = (0..BUCKETS)
            .filter(|i| self.buckets[*i] > 0)
            .map(|i| json!([upper(i), self.buckets[i]]))
            .collect();
        json!({
            "count": self.count,
            "p50_us": self.quantile_us(0.5),
            "p99_us": self.quantile_us(0.99),
            "max_us": self.max_us,
            "buckets": buckets,
        })
    }
}

/// The upper end of the bucket holding quantile `q` of `count` values.
fn quantile(buckets: impl Iterator<Item = (usize, u64)>, count: u64, q: f64) -> Option<u64> {
    if count == 0 {
        return None;
    }
    let rank = ((count as f64 * q).ceil() as u64).clamp(1, count);
    let mut seen = 0;
    for (i, n) in buckets {
        seen += n;
        if seen >= rank {
            return Some(upper(i));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values_within_an_eighth() {
        for us in [0, 1, 7, 8, 9, 15, 16, 17, 100, 999, 1000, 65_535, 1 << 30] {
            let i = bucket(us);
            assert!(upper(i) >= us, "{us} in bucket {i} up to {}", upper(i));
            assert!(
                i == 0 || upper(i - 1) < us,
                "{us}: bucket {i} is not the first to hold it"
            );
            assert!(upper(i) - us <= us / 8, "{us}: {}", upper(i));
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_known_spread() {
        let mut d = Delays::default();
        assert_eq!(d.quantile_us(0.5), None);
        for us in 1..=1000 {
            d.record(us);
        }
        let p50 = d.quantile_us(0.5).unwrap();
        let p99 = d.quantile_us(0.99).unwrap();
        assert!((500..=560).contains(&p50), "{p50}");
        assert!((990..=1110).contains(&p99), "{p99}");
        let j = d.json();
        assert_eq!(j["count"], 1000);
        assert_eq!(j["max_us"], 1000);
        let total: u64 = j["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[1].as_u64().unwrap())
            .sum();
        assert_eq!(total, 1000);
    }
}
