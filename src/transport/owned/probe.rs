//! Probing on the owned send path: while the allocator wants more than
//! the estimate allows, a short cluster of padding goes out at a rate
//! above the estimate, and the subscriber's transport-wide feedback on the
//! packets sent during the cluster says what the link carried: their bytes
//! over the time they took to arrive (as GCC's probe bitrate estimator
//! reads a probe cluster). A cluster that arrives whole at the rate it was
//! sent raises the estimate to that rate; one that met losses makes the
//! next probe wait longer.

use std::time::{Duration, Instant};

/// A probe cluster lasts this long...
const LENGTH: Duration = Duration::from_millis(150);
/// ...and starts at most this often, backing off to [`BACKOFF_MAX`]
/// after a probe that met losses or arrived slower than it was sent.
const INTERVAL: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// A result is read once feedback covers a packet sent this long after the
/// cluster, and given up this long after it ended.
const RESULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Losses in the cluster above this share void it.
const MAX_LOSS: f64 = 0.05;
/// A probe that finds less than this much above the estimate backs off:
/// one that finds the link's ceiling again is no gain (the estimate rises
/// to [`SATURATED_SHARE`] of a saturated cluster's rate), and probing a
/// full link every interval only builds queues.
const MIN_GAIN: f64 = 1.15;
/// A cluster that arrived this much slower than it was sent found the
/// link's rate (it queued behind the bottleneck)...
const SATURATED: f64 = 0.9;
/// ...and the estimate takes a little under it, so as not to fill that
/// queue again at once (GCC's probe estimator aims at 95 % too).
pub(crate) const SATURATED_SHARE: f64 = 0.95;
/// Fewest packets a result needs.
const MIN_PACKETS: u32 = 5;
/// With no media to ride on, padding goes out on a timer this often while
/// a cluster runs.
pub(crate) const TICK: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy)]
struct Cluster {
    start: Instant,
    /// The estimate when the cluster started: what a result is measured
    /// against (the cluster's own queue may have cut the estimate since).
    start_estimate: f64,
    end: Instant,
    sent_bytes: u64,
    received: u32,
    lost: u32,
    received_bytes: u64,
    /// (first, last) arrival in µs on the receiver's clock, and the size
    /// of the last packet (not part of the span it closes).
    first_us: Option<i64>,
    last_us: i64,
    last_size: usize,
    /// Feedback covered a packet sent after the cluster.
    covered: bool,
    /// A packet went out after the cluster (feedback on it reads the
    /// cluster): without one, padding sends one.
    after: bool,
}

/// What a finished probe found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// The link carried `bps` bits per second (the lower of the cluster's
    /// send and arrival rates; with `saturated`, the arrival rate was well
    /// under the send rate: the link's own rate). `before` is the
    /// estimate when the cluster started.
    Carried {
        bps: f64,
        saturated: bool,
        before: f64,
    },
    /// Losses or a short cluster: nothing learned, probe less often.
    Failed,
}

#[derive(Debug)]
pub(crate) struct Prober {
    interval: Duration,
    next: Option<Instant>,
    cluster: Option<Cluster>,
}

impl Prober {
    pub(crate) fn new() -> Self {
        Prober {
            interval: INTERVAL,
            next: None,
            cluster: None,
        }
    }

    /// Whether a cluster is being sent at `now`; with `want`, one starts
    /// when due (and none is waiting for its result), the estimate being
    /// `estimate_bps`.
    pub(crate) fn running(&mut self, now: Instant, want: bool, estimate_bps: f64) -> bool {
        if let Some(c) = &self.cluster {
            return now < c.end;
        }
        if !want || self.next.is_some_and(|t| now < t) {
            return false;
        }
        self.cluster = Some(Cluster {
            start: now,
            start_estimate: estimate_bps,
            end: now + LENGTH,
            sent_bytes: 0,
            received: 0,
            lost: 0,
            received_bytes: 0,
            first_us: None,
            last_us: 0,
            last_size: 0,
            covered: false,
            after: false,
        });
        true
    }

    /// When padding is next due with no media to ride on, the last
    /// padding check being at `last`: every [`TICK`] while a cluster runs,
    /// once after it (a packet whose feedback reads it), when its result
    /// is given up, and when the next is due while `want`. `None`: only
    /// media carries padding.
    pub(crate) fn deadline(&self, want: Option<Instant>, last: Option<Instant>) -> Option<Instant> {
        match &self.cluster {
            Some(c) if !c.after => {
                let tick = last.map_or(c.start, |t| t + TICK).max(c.start);
                Some(tick.min(c.end))
            }
            Some(c) => Some(c.end + RESULT_TIMEOUT),
            None => want.map(|at| self.next.map_or(at, |n| n.max(at))),
        }
    }

    /// Whether a cluster ended at or before `now` with no packet after it
    /// yet (padding sends one).
    pub(crate) fn wants_tail(&self, now: Instant) -> bool {
        self.cluster.is_some_and(|c| now >= c.end && !c.after)
    }

    /// Give up a cluster whose result never came (no feedback at all):
    /// it failed, and the next probe waits longer.
    pub(crate) fn expire(&mut self, now: Instant) {
        if let Some(c) = self.cluster {
            if !c.covered && now.saturating_duration_since(c.end) >= RESULT_TIMEOUT {
                let _ = self.outcome(now, c.start_estimate);
            }
        }
    }

    /// A datagram of `size` bytes went out at `now`.
    pub(crate) fn on_sent(&mut self, now: Instant, size: usize) {
        if let Some(c) = &mut self.cluster {
            if now >= c.start && now < c.end {
                c.sent_bytes += size as u64;
            } else if now >= c.end {
                c.after = true;
            }
        }
    }

    /// One packet the feedback reports: sent at `sent`, `size` bytes,
    /// arrived at `arrived_us` (receiver's clock) or lost.
    pub(crate) fn on_report(&mut self, sent: Instant, size: usize, arrived_us: Option<i64>) {
        let Some(c) = &mut self.cluster else {
            return;
        };
        if sent >= c.end {
            c.covered = true;
            return;
        }
        if sent < c.start {
            return;
        }
        match arrived_us {
            None => c.lost += 1,
            Some(at) => {
                c.received += 1;
                c.received_bytes += size as u64;
                let first = *c.first_us.get_or_insert(at);
                if at >= c.last_us || c.received == 1 {
                    c.last_us = at.max(first);
                    c.last_size = size;
                }
            }
        }
    }

    /// The finished probe's outcome, once feedback covered it (or it
    /// timed out), at `now`, with the estimate at `estimate_bps`. A probe
    /// that found no more than [`MIN_GAIN`] above the estimate (the higher
    /// of now's and the cluster's start's) counts as failed too: the link
    /// is full, and probing it again soon only builds queues.
    pub(crate) fn outcome(&mut self, now: Instant, estimate_bps: f64) -> Option<Outcome> {
        let c = self.cluster?;
        let timed_out = now.saturating_duration_since(c.end) >= RESULT_TIMEOUT;
        if !c.covered && !timed_out {
            return None;
        }
        self.cluster = None;
        let result = Self::read(&c, timed_out);
        let base = estimate_bps.max(c.start_estimate);
        self.interval = match result {
            Outcome::Carried { bps, .. } if bps > base * MIN_GAIN => INTERVAL,
            _ => (self.interval * 2).min(BACKOFF_MAX),
        };
        self.next = Some(c.start + self.interval);
        Some(result)
    }

    fn read(c: &Cluster, timed_out: bool) -> Outcome {
        let total = c.received + c.lost;
        let span_us = c.first_us.map_or(0, |f| c.last_us - f);
        let lossy = total == 0 || f64::from(c.lost) / f64::from(total) > MAX_LOSS;
        if timed_out || lossy || c.received < MIN_PACKETS || span_us <= 0 {
            return Outcome::Failed;
        }
        let arrived = (c.received_bytes - c.last_size as u64) as f64 * 8e6 / span_us as f64;
        let sent = c.sent_bytes as f64 * 8.0 / LENGTH.as_secs_f64();
        Outcome::Carried {
            bps: arrived.min(sent),
            saturated: arrived < sent * SATURATED,
            before: c.start_estimate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster of 30 packets of 1,000 bytes sent 5 ms apart (1.6 Mbit/s),
    /// arriving `gap_us` apart with `lost` of them lost.
    fn probe(gap_us: i64, lost: usize) -> Option<Outcome> {
        let t0 = Instant::now();
        let mut p = Prober::new();
        assert!(p.running(t0, true, 0.0));
        let mut sent = Vec::new();
        for i in 0..30u32 {
            let at = t0 + Duration::from_millis(5 * u64::from(i));
            p.on_sent(at, 1000);
            sent.push(at);
        }
        assert!(p.outcome(t0 + LENGTH, 0.0).is_none(), "no feedback yet");
        for (i, at) in sent.iter().enumerate() {
            let arrived = (i >= lost).then_some(i as i64 * gap_us);
            p.on_report(*at, 1000, arrived);
        }
        p.on_report(t0 + LENGTH + Duration::from_millis(1), 1000, Some(0));
        p.outcome(t0 + LENGTH, 0.0)
    }

    #[test]
    fn a_cluster_that_arrives_at_its_rate_is_what_the_link_carries() {
        // Sent at 30 kB over 150 ms (1.6 Mbit/s), arrived 5 ms apart.
        let Some(Outcome::Carried { bps, saturated, .. }) = probe(5_000, 0) else {
            panic!("no result");
        };
        assert!((1_550_000.0..1_650_000.0).contains(&bps), "{bps}");
        assert!(!saturated);
        // Arrived twice as spread out: the link carried half.
        let Some(Outcome::Carried { bps, saturated, .. }) = probe(10_000, 0) else {
            panic!("no result");
        };
        assert!((780_000.0..820_000.0).contains(&bps), "{bps}");
        assert!(saturated);
    }

    #[test]
    fn a_cluster_that_finds_no_more_than_its_start_backs_off() {
        // Started at an estimate of 1.5 Mbit/s, carried 1.6: the link's
        // ceiling again, though the cluster's queue cut the estimate to
        // 1 Mbit/s meanwhile.
        let t0 = Instant::now();
        let mut p = Prober::new();
        assert!(p.running(t0, true, 1_500_000.0));
        for i in 0..30u32 {
            let at = t0 + Duration::from_millis(5 * u64::from(i));
            p.on_sent(at, 1000);
            p.on_report(at, 1000, Some(i64::from(i) * 5_000));
        }
        p.on_report(t0 + LENGTH + Duration::from_millis(1), 1000, Some(0));
        let Some(Outcome::Carried { before, .. }) = p.outcome(t0 + LENGTH, 1_000_000.0) else {
            panic!("no result");
        };
        assert_eq!(before, 1_500_000.0);
        assert_eq!(p.interval, INTERVAL * 2, "no gain: probe less often");
    }

    #[test]
    fn losses_void_a_cluster_and_back_off() {
        let t0 = Instant::now();
        assert_eq!(probe(5_000, 3), Some(Outcome::Failed));
        let mut p = Prober::new();
        assert!(p.running(t0, true, 0.0));
        // No feedback at all: given up after the timeout, interval doubled.
        assert_eq!(
            p.outcome(t0 + LENGTH + RESULT_TIMEOUT, 0.0),
            Some(Outcome::Failed)
        );
        assert_eq!(p.interval, INTERVAL * 2);
        assert!(
            !p.running(t0 + INTERVAL, true, 0.0),
            "not due before the next"
        );
        assert!(p.running(t0 + INTERVAL * 2, true, 0.0));
    }
}
