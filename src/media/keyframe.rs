//! Keyframe request throttling.
//!
//! Many subscribers of one producer may ask for a keyframe at once (a join
//! burst, a loss burst). Each request reaches the producer's sender at most
//! once per `min_interval`; requests inside the interval are merged into one
//! sent when it ends. Same `handle_timeout`/`poll_timeout` shape as every
//! subsystem of the router.

use std::time::{Duration, Instant};

/// Throttles keyframe requests for one producer.
#[derive(Debug)]
pub(crate) struct KeyframeThrottle {
    min_interval: Duration,
    last_sent: Option<Instant>,
    pending: bool,
    sent: u64,
}

impl KeyframeThrottle {
    pub(crate) fn new(min_interval: Duration) -> Self {
        KeyframeThrottle {
            min_interval,
            last_sent: None,
            pending: false,
            sent: 0,
        }
    }

    /// Ask for a keyframe. Returns true when the request should go to the
    /// sender now; otherwise it is merged into the one at [`Self::poll_timeout`].
    pub(crate) fn request(&mut self, now: Instant) -> bool {
        match self.last_sent {
            Some(t) if now < t + self.min_interval => {
                self.pending = true;
                false
            }
            _ => {
                self.mark_sent(now);
                true
            }
        }
    }

    /// When a merged request is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match (self.pending, self.last_sent) {
            (true, Some(t)) => Some(t + self.min_interval),
            _ => None,
        }
    }

    /// Returns true when a merged request is due and should be sent now.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(due) if now >= due => {
                self.mark_sent(now);
                true
            }
            _ => false,
        }
    }

    /// Requests sent to the producer so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    fn mark_sent(&mut self, now: Instant) {
        self.pending = false;
        self.last_sent = Some(now);
        self.sent += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_requests_inside_interval() {
        let t0 = Instant::now();
        let mut k = KeyframeThrottle::new(Duration::from_millis(500));
        assert!(k.request(t0));
        for i in 1..10 {
            assert!(!k.request(t0 + Duration::from_millis(i * 40)));
        }
        assert_eq!(k.poll_timeout(), Some(t0 + Duration::from_millis(500)));
        assert!(!k.handle_timeout(t0 + Duration::from_millis(499)));
        assert!(k.handle_timeout(t0 + Duration::from_millis(500)));
        assert_eq!(k.poll_timeout(), None);
        assert_eq!(k.sent(), 2);
    }
}
