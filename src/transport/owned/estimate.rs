//! Send-side estimation on the owned send path (step 4 wired): the
//! subscriber's transport-wide feedback joined with the send register
//! feeds the delay-based estimator (`bandwidth/delay_based.rs`); the
//! feedback's losses and the bytes sent feed the allocator's loss guard
//! as str0m's peer stats did; receiver reports give the round trip.
//!
//! Probing: when the allocator wants more than it has (a layer the
//! estimate does not reach yet), the path sends short clusters of padding
//! at up to twice the estimate (`probe.rs`), and raises the estimate to
//! what a cluster shows the link carried. Padding is a resend of the
//! newest kept video packet on its RTX stream (a full-size packet the
//! receiver drops as a duplicate), sent as media flows; once that packet
//! is no longer kept (the subscriber's video paused), padding-only
//! packets on the RTX stream, on the transport's timer
//! ([`Estimation::padding_at`]): a subscriber whose video the allocator
//! paused must still probe, or the estimate that paused it never grows
//! back. Losses count as congestion only while a queue shows.

use std::time::{Duration, Instant};

use super::probe::{Outcome, Prober, SATURATED_SHARE};
use super::twcc::{Arrival, News};
use crate::bandwidth::delay_based::{DelayBased, Sample};

/// How often losses and bytes are reported to the loss guard (as str0m's
/// peer stats were).
const LOSS_INTERVAL: Duration = Duration::from_millis(250);
/// How far above the estimate a probe cluster goes.
const PROBE_FACTOR: f64 = 2.0;
/// How far above the allocator's desired rate a probe aims.
const PROBE_ABOVE_DESIRED: f64 = 1.5;
/// Padding never builds a burst of more than this much time at its rate.
const MAX_CREDIT: Duration = Duration::from_millis(100);
/// Padding packets sent after one media packet, at most.
pub(crate) const MAX_PADDING_PER_PACKET: usize = 16;
/// Loss above which the estimate is cut at once (as GCC's loss-based
/// controller does), and at or above which no padding is sent.
const LOSS_CUT: f32 = 0.10;
const LOSS_NO_PADDING: f32 = 0.02;
/// No padding and no growth for this long after a window with losses.
const PADDING_HOLD: Duration = Duration::from_secs(2);
/// Queueing delay (mean one-way delay of a feedback above the lowest
/// seen) from which losses count as congestion: losses without a queue
/// are taken as the link's own (radio, a lossy path) and left to the
/// allocator's loss guard.
const QUEUE_CONGESTED_US: i64 = 30_000;
/// The lowest one-way delay is the lower of this window's and the last's.
const BASE_WINDOW: Duration = Duration::from_secs(10);
/// A loss cut never goes below this share of what the receiver got.
const LOSS_CUT_FLOOR: f64 = 0.85;
/// How long after a probe's result its queue may still be draining.
const PROBE_DRAIN: Duration = Duration::from_millis(500);
/// Retransmissions for NACKs may take this share of the estimate...
const RTX_SHARE: f64 = 0.5;
/// ...with bursts of up to this long at that rate (a keyframe's losses).
const RTX_BURST: Duration = Duration::from_millis(500);
/// Sender reports remembered to match receiver reports (LSR) against.
const REPORTS_KEPT: usize = 8;

/// What the router takes from the path after a datagram from the peer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Feedback {
    /// A new estimate, in bits per second.
    pub estimate_bps: Option<u64>,
    /// (bytes sent so far, fraction lost) for the loss guard.
    pub loss: Option<(u64, f32)>,
    /// The round trip, from a receiver report.
    pub rtt: Option<Duration>,
}

#[derive(Debug)]
pub(crate) struct Estimation {
    delay: DelayBased,
    samples: Vec<Sample>,
    pub arrivals: Vec<Arrival>,
    bytes_sent: u64,
    lost: u32,
    reported: u32,
    loss_at: Option<Instant>,
    /// The loss fraction of the last loss window.
    recent_loss: f32,
    /// When the last window with losses ended.
    lossy_at: Option<Instant>,
    /// One-way delay bookkeeping: the instant send times count from, the
    /// lowest delay of the last window and of this one (µs, receiver's
    /// clock minus ours), when this window started, and the queue.
    epoch: Option<Instant>,
    base_last: i64,
    base_now: i64,
    base_at: Option<Instant>,
    queue_us: i64,
    /// Probe clusters and their results.
    prober: Prober,
    /// Until when, and to what, cuts are undone after a probe the link
    /// carried (its queue draining).
    probe_floor: Option<(Instant, f64)>,
    pending: Feedback,
    /// Padding target (bits per second), since when it has been wanted,
    /// and credit (bytes).
    pad_bps: u64,
    pad_since: Option<Instant>,
    credit: f64,
    credit_at: Option<Instant>,
    /// (NTP middle 32 bits, when) of the sender reports sent.
    reports: Vec<(u32, Instant)>,
    /// The last round trip measured.
    rtt: Option<Duration>,
    /// Retransmission budget (bytes) and when it was last topped up.
    rtx_credit: f64,
    rtx_at: Option<Instant>,
}

impl Estimation {
    pub(crate) fn new(initial_bps: u64) -> Self {
        Estimation {
            delay: DelayBased::new(initial_bps),
            samples: Vec::new(),
            arrivals: Vec::new(),
            bytes_sent: 0,
            lost: 0,
            reported: 0,
            loss_at: None,
            recent_loss: 0.0,
            lossy_at: None,
            epoch: None,
            base_last: i64::MAX,
            base_now: i64::MAX,
            base_at: None,
            queue_us: 0,
            prober: Prober::new(),
            probe_floor: None,
            pending: Feedback::default(),
            pad_bps: 0,
            pad_since: None,
            credit: 0.0,
            credit_at: None,
            reports: Vec::new(),
            rtt: None,
            rtx_credit: 0.0,
            rtx_at: None,
        }
    }

    /// A datagram of `size` bytes went out at `now` (media, RTX or
    /// padding).
    pub(crate) fn on_sent(&mut self, now: Instant, size: usize) {
        self.bytes_sent += size as u64;
        self.credit -= size as f64;
        self.prober.on_sent(now, size);
    }

    /// The feedback in `self.arrivals`, joined by `sent` (the register).
    pub(crate) fn on_arrivals(&mut self, now: Instant, mut report: impl FnMut(u16, bool) -> News) {
        if self.arrivals.is_empty() {
            return;
        }
        self.samples.clear();
        for a in &self.arrivals {
            match (report(a.seq, a.at_us.is_some()), a.at_us) {
                (News::Received(at, size), Some(arrived_us)) => {
                    self.reported += 1;
                    self.prober.on_report(at, size, Some(arrived_us));
                    self.samples.push(Sample {
                        sent: at,
                        arrived_us,
                        size,
                    });
                }
                (News::Lost(at, size), _) => {
                    self.reported += 1;
                    self.lost += 1;
                    self.prober.on_report(at, size, None);
                }
                // Reported lost before, arrived after all (reordered by
                // more than a feedback interval): not a loss.
                (News::Found(at, size), Some(arrived_us)) => {
                    self.lost = self.lost.saturating_sub(1);
                    self.samples.push(Sample {
                        sent: at,
                        arrived_us,
                        size,
                    });
                }
                _ => {}
            }
        }
        self.arrivals.clear();
        if self.samples.is_empty() {
            return;
        }
        // Send order, as the estimator expects.
        self.samples.sort_by_key(|s| s.sent);
        self.measure_queue(now);
        let before = self.delay.estimate_bps() as f64;
        self.delay.on_feedback(&self.samples, now);
        if self.lossy(now) {
            self.delay.hold(before);
        } else if let Some((until, floor)) = self.probe_floor {
            // The queue a probe the link carried left behind drains on its
            // own: no cut below what the probe showed while it does.
            if now < until {
                self.delay.restore(floor.min(before));
            } else {
                self.probe_floor = None;
            }
        }
        let due = self
            .loss_at
            .is_none_or(|t| now.saturating_duration_since(t) >= LOSS_INTERVAL);
        if due && self.reported > 0 {
            let fraction = self.lost as f32 / self.reported as f32;
            self.pending.loss = Some((self.bytes_sent, fraction));
            self.loss_at = Some(now);
            self.lost = 0;
            self.reported = 0;
            self.recent_loss = fraction;
            let queued = self.queue_us > QUEUE_CONGESTED_US;
            if fraction >= LOSS_NO_PADDING && queued {
                self.lossy_at = Some(now);
            }
            if fraction > LOSS_CUT && queued {
                // GCC's loss-based cut, but never below what the receiver
                // showed it gets: the estimate lands near the link's rate.
                let rate = self.delay.estimate_bps() as f64;
                let floor = self.delay.acked_bps().unwrap_or(0.0) * LOSS_CUT_FLOOR;
                let cut = (rate * (1.0 - 0.5 * f64::from(fraction)))
                    .max(floor)
                    .min(rate);
                self.delay.reset(cut as u64);
                tracing::trace!(fraction, queue_us = self.queue_us, cut, "loss cut");
            }
        }
        // A probe cluster the link carried whole: the estimate is at least
        // what it carried.
        let estimate = self.delay.estimate_bps() as f64;
        let outcome = self.prober.outcome(now, estimate);
        if outcome.is_some() {
            tracing::trace!(?outcome, estimate, "probe result");
        }
        if let Some(Outcome::Carried {
            bps,
            saturated,
            before,
        }) = outcome
        {
            // The cluster's own queue may have cut the estimate while its
            // result was on the way: a cluster that carried at least the
            // estimate it started from takes nothing away.
            let floor = before.min(bps);
            self.delay.restore(floor);
            let share = if saturated { SATURATED_SHARE } else { 1.0 };
            self.delay.raise_to(bps * share);
            self.probe_floor = Some((now + PROBE_DRAIN, floor));
        }
        self.pending.estimate_bps = Some(self.delay.estimate_bps());
    }

    /// The queueing delay of this feedback's samples: their mean one-way
    /// delay above the lowest of the last two windows.
    fn measure_queue(&mut self, now: Instant) {
        let Some(first) = self.samples.first() else {
            return;
        };
        let epoch = *self.epoch.get_or_insert(first.sent);
        if self
            .base_at
            .is_none_or(|t| now.saturating_duration_since(t) >= BASE_WINDOW)
        {
            self.base_last = self.base_now;
            self.base_now = i64::MAX;
            self.base_at = Some(now);
        }
        let mut sum = 0i64;
        for s in &self.samples {
            let sent_us = s.sent.saturating_duration_since(epoch).as_micros() as i64;
            let owd = s.arrived_us - sent_us;
            self.base_now = self.base_now.min(owd);
            sum += owd;
        }
        let mean = sum / self.samples.len() as i64;
        let base = self.base_now.min(self.base_last);
        self.queue_us = mean - base;
    }

    /// A sender report with NTP time `ntp` left at `now`.
    pub(crate) fn on_report_sent(&mut self, ntp: u64, now: Instant) {
        if self.reports.len() == REPORTS_KEPT {
            self.reports.remove(0);
        }
        self.reports.push(((ntp >> 16) as u32, now));
    }

    /// A report block of the peer about one of our streams: its LSR and
    /// DLSR (RFC 3550 section 6.4.1) give the round trip.
    pub(crate) fn on_report_block(&mut self, lsr: u32, dlsr: u32, now: Instant) {
        if lsr == 0 {
            return;
        }
        let Some(&(_, at)) = self.reports.iter().find(|(mid, _)| *mid == lsr) else {
            return;
        };
        let held = Duration::from_secs_f64(f64::from(dlsr) / 65_536.0);
        if let Some(rtt) = now.saturating_duration_since(at).checked_sub(held) {
            self.pending.rtt = Some(rtt);
            self.rtt = Some(rtt);
        }
    }

    /// Whether a window with losses ended less than [`PADDING_HOLD`] ago:
    /// no padding and no growth then.
    fn lossy(&self, now: Instant) -> bool {
        self.lossy_at
            .is_some_and(|t| now.saturating_duration_since(t) < PADDING_HOLD)
    }

    /// Whether a retransmission of `size` bytes fits the budget at `now`
    /// ([`RTX_SHARE`] of the estimate); takes it from the budget if so.
    pub(crate) fn rtx_allowed(&mut self, now: Instant, size: usize) -> bool {
        let rate = self.delay.estimate_bps() as f64 / 8.0 * RTX_SHARE;
        let max = rate * RTX_BURST.as_secs_f64();
        let dt = self
            .rtx_at
            .map_or(RTX_BURST, |t| now.saturating_duration_since(t));
        self.rtx_at = Some(now);
        self.rtx_credit = (self.rtx_credit + rate * dt.as_secs_f64()).min(max);
        if self.rtx_credit < size as f64 {
            return false;
        }
        self.rtx_credit -= size as f64;
        true
    }

    /// The last round trip measured.
    pub(crate) fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// What happened since the last call.
    pub(crate) fn take(&mut self) -> Feedback {
        std::mem::take(&mut self.pending)
    }

    /// The allocator's correction of the estimate (its loss guard).
    pub(crate) fn reset(&mut self, bps: u64) {
        self.delay.reset(bps);
    }

    /// The allocator's rates at `now`: what it allocated and what it
    /// wants. Padding probes above the estimate while it wants more.
    pub(crate) fn set_rates(&mut self, now: Instant, allocated_bps: u64, desired_bps: u64) {
        let estimate = self.delay.estimate_bps();
        // The allocator keeps headroom under the estimate: a probe aims
        // above what it wants, so the estimate can clear it.
        let aim = (desired_bps as f64 * PROBE_ABOVE_DESIRED) as u64;
        self.pad_bps = if desired_bps > allocated_bps {
            aim.min((estimate as f64 * PROBE_FACTOR) as u64)
        } else {
            0
        };
        self.pad_since = match (self.pad_bps, self.pad_since) {
            (0, _) => None,
            (_, since) => Some(since.unwrap_or(now)),
        };
    }

    /// When padding is next due with no media to ride on (the subscriber's
    /// video all paused: probing is how it comes back), if ever.
    pub(crate) fn padding_at(&self) -> Option<Instant> {
        let want = self.pad_since.map(|at| match self.lossy_at {
            Some(lossy) => at.max(lossy + PADDING_HOLD),
            None => at,
        });
        self.prober.deadline(want, self.credit_at)
    }

    /// How many padding packets of about `size` bytes to send now.
    pub(crate) fn padding_due(&mut self, now: Instant, size: usize) -> usize {
        self.prober.expire(now);
        let dt = self
            .credit_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        self.credit_at = Some(now);
        if self.prober.wants_tail(now) {
            // Nothing went out after the cluster: one packet whose
            // feedback closes it.
            self.credit = 0.0;
            return 1;
        }
        let want = self.pad_bps > 0 && !self.lossy(now);
        let estimate = self.delay.estimate_bps() as f64;
        if !self.prober.running(now, want, estimate) {
            self.credit = 0.0;
            return 0;
        }
        let rate = self.pad_bps as f64 / 8.0;
        let max = rate * MAX_CREDIT.as_secs_f64();
        self.credit = (self.credit + rate * dt).clamp(-max, max);
        if size == 0 || self.credit < size as f64 {
            return 0;
        }
        ((self.credit / size as f64) as usize).min(MAX_PADDING_PER_PACKET)
    }
}
