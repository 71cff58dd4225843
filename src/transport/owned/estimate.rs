//! Send-side estimation on the owned send path (step 4 wired): the
//! subscriber's transport-wide feedback joined with the send register
//! feeds the delay-based estimator (`bandwidth/delay_based.rs`); the
//! feedback's losses and the bytes sent feed the allocator's loss guard
//! as str0m's peer stats did; receiver reports give the round trip.
//!
//! Padding: when the allocator wants more than it has (a layer the
//! estimate does not reach yet), the path sends padding up to a little
//! above the estimate, so the estimator sees whether the link carries
//! it. Padding is a resend of the newest kept packet on the RTX stream
//! (a full-size packet the receiver drops as a duplicate), sent as media
//! flows: no timer of its own.

use std::time::{Duration, Instant};

use super::twcc::Arrival;
use crate::bandwidth::delay_based::{DelayBased, Sample, Usage};

/// How often losses and bytes are reported to the loss guard (as str0m's
/// peer stats were).
const LOSS_INTERVAL: Duration = Duration::from_millis(250);
/// How far above the estimate padding goes while probing.
const PROBE_FACTOR: f64 = 2.0;
/// Padding never builds a burst of more than this much time at its rate.
const MAX_CREDIT: Duration = Duration::from_millis(100);
/// Padding packets sent after one media packet, at most.
pub(crate) const MAX_PADDING_PER_PACKET: usize = 16;
/// Loss above which the estimate is cut at once (as GCC's loss-based
/// controller does), and at or above which no padding is sent.
const LOSS_CUT: f32 = 0.10;
const LOSS_NO_PADDING: f32 = 0.02;
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
    pending: Feedback,
    /// Padding target (bits per second) and credit (bytes).
    pad_bps: u64,
    credit: f64,
    credit_at: Option<Instant>,
    /// (NTP middle 32 bits, when) of the sender reports sent.
    reports: Vec<(u32, Instant)>,
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
            pending: Feedback::default(),
            pad_bps: 0,
            credit: 0.0,
            credit_at: None,
            reports: Vec::new(),
        }
    }

    /// A datagram of `size` bytes went out (media, RTX or padding).
    pub(crate) fn on_sent(&mut self, size: usize) {
        self.bytes_sent += size as u64;
        self.credit -= size as f64;
    }

    /// The feedback in `self.arrivals`, joined by `sent` (the register).
    pub(crate) fn on_arrivals(
        &mut self,
        now: Instant,
        sent: impl Fn(u16) -> Option<(Instant, usize)>,
    ) {
        if self.arrivals.is_empty() {
            return;
        }
        self.samples.clear();
        for a in &self.arrivals {
            let Some((at, size)) = sent(a.seq) else {
                continue;
            };
            self.reported += 1;
            match a.at_us {
                Some(arrived_us) => self.samples.push(Sample {
                    sent: at,
                    arrived_us,
                    size,
                }),
                None => self.lost += 1,
            }
        }
        self.arrivals.clear();
        if self.samples.is_empty() {
            return;
        }
        // Send order, as the estimator expects.
        self.samples.sort_by_key(|s| s.sent);
        self.delay.on_feedback(&self.samples, now);
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
            if fraction > LOSS_CUT {
                let cut = self.delay.estimate_bps() as f64 * (1.0 - 0.5 * f64::from(fraction));
                self.delay.reset(cut as u64);
            }
        }
        // Probing: padding above the estimate arrived at the rate it was
        // sent without a queue building or losses: the link takes it.
        let probing = self.pad_bps > self.delay.estimate_bps();
        if probing && self.recent_loss < LOSS_NO_PADDING && self.delay.usage() == Usage::Normal {
            if let Some(acked) = self.delay.acked_bps() {
                self.delay.raise_to(acked);
            }
        }
        self.pending.estimate_bps = Some(self.delay.estimate_bps());
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
        }
    }

    /// What happened since the last call.
    pub(crate) fn take(&mut self) -> Feedback {
        std::mem::take(&mut self.pending)
    }

    /// The allocator's correction of the estimate (its loss guard).
    pub(crate) fn reset(&mut self, bps: u64) {
        self.delay.reset(bps);
    }

    /// The allocator's rates: what it allocated and what it wants.
    /// Padding probes above the estimate while it wants more.
    pub(crate) fn set_rates(&mut self, allocated_bps: u64, desired_bps: u64) {
        let estimate = self.delay.estimate_bps();
        self.pad_bps = if desired_bps > allocated_bps {
            desired_bps.min((estimate as f64 * PROBE_FACTOR) as u64)
        } else {
            0
        };
    }

    /// How many padding packets of about `size` bytes to send now.
    pub(crate) fn padding_due(&mut self, now: Instant, size: usize) -> usize {
        let dt = self
            .credit_at
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
        self.credit_at = Some(now);
        if self.pad_bps == 0 || self.recent_loss >= LOSS_NO_PADDING {
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
