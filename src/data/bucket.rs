//! A token bucket: messages and bytes per second, with a one-second burst.

use std::time::Instant;

pub(crate) struct TokenBucket {
    per_second: [f64; 2],
    tokens: [f64; 2],
    last: Instant,
}

impl TokenBucket {
    /// `messages` and `bytes` per second; a bucket starts full (one
    /// second's worth).
    pub(crate) fn new(messages: u32, bytes: usize, now: Instant) -> Self {
        let per_second = [f64::from(messages), bytes as f64];
        TokenBucket {
            per_second,
            tokens: per_second,
            last: now,
        }
    }

    /// Take one message of `len` bytes, if both buckets hold enough.
    pub(crate) fn take(&mut self, len: usize, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        for (t, rate) in self.tokens.iter_mut().zip(self.per_second) {
            *t = (*t + dt * rate).min(rate);
        }
        let need = [1.0, len as f64];
        if self.tokens.iter().zip(need).any(|(t, n)| *t < n) {
            return false;
        }
        for (t, n) in self.tokens.iter_mut().zip(need) {
            *t -= n;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn limits_messages_and_bytes_and_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 1000, t0);
        assert!((0..10).all(|_| b.take(10, t0)));
        assert!(!b.take(10, t0), "eleventh message in the same instant");
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!((0..10).filter(|_| b.take(10, t1)).count(), 5);
        // Bytes: 1000 a second.
        let mut b = TokenBucket::new(1000, 1000, t0);
        assert!(b.take(600, t0));
        assert!(!b.take(600, t0));
        assert!(b.take(600, t0 + Duration::from_millis(300)));
    }
}
