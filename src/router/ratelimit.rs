//! Rate limit for STUN checks that are not yet authenticated.
//!
//! Checking a STUN message's integrity costs an HMAC; a flood of checks
//! naming a real ufrag from addresses that never authenticated must not buy
//! an attacker unbounded CPU. Counts are kept per source IP in one-second
//! windows, for a bounded number of sources.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub(crate) struct StunRateLimit {
    per_source: u32,
    max_sources: usize,
    window_start: Option<Instant>,
    counts: HashMap<IpAddr, u32>,
}

impl StunRateLimit {
    pub(crate) fn new(per_source: u32, max_sources: usize) -> Self {
        StunRateLimit {
            per_source,
            max_sources,
            window_start: None,
            counts: HashMap::new(),
        }
    }

    /// Whether one more unauthenticated check from `ip` may be processed now.
    pub(crate) fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.window_start {
            Some(s) if now < s + Duration::from_secs(1) => {}
            _ => {
                self.window_start = Some(now);
                self.counts.clear();
            }
        }
        if let Some(n) = self.counts.get_mut(&ip) {
            *n += 1;
            return *n <= self.per_source;
        }
        if self.counts.len() >= self.max_sources {
            return false;
        }
        self.counts.insert(ip, 1);
        self.per_source > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_source_and_window() {
        let t0 = Instant::now();
        let mut r = StunRateLimit::new(3, 2);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let c: IpAddr = [127, 0, 0, 3].into();
        assert!((0..3).all(|_| r.allow(a, t0)));
        assert!(!r.allow(a, t0));
        assert!(r.allow(b, t0));
        assert!(!r.allow(c, t0), "source table full");
        assert!(r.allow(a, t0 + Duration::from_secs(1)), "new window");
    }
}
