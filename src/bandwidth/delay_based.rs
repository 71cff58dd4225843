//! A delay-based send-side estimator for the owned send path (issue #19,
//! the last part of step 4 in `docs/owned-send-path.md`): from the
//! transport-wide feedback's (send time, arrival time, size) samples to a
//! rate the subscriber's link carries without building a queue.
//!
//! The shape is Google Congestion Control's delay-based half
//! (draft-ietf-rmcat-gcc), written here from that description:
//!
//! 1. **Groups.** Packets sent within [`GROUP_SPAN`] of a group's first
//!    form one group, and so do packets that arrive in a burst (within
//!    [`BURST_GAP_US`] of each other and closer than they were sent: a
//!    receiver short of CPU reads several at once); for two consecutive
//!    groups the delay variation is (arrival gap − send gap).
//! 2. **Trend.** The variations are summed (the queue's growth),
//!    smoothed, and a least-squares slope over the last [`WINDOW`] points
//!    says whether the queue grows.
//! 3. **Detector.** The slope, scaled, against a threshold that adapts to
//!    the slope's own spread: over it for [`OVERUSE_TIME_MS`] and still
//!    rising is overuse, under its negative is underuse (a queue
//!    draining).
//! 4. **Rate.** Overuse cuts the estimate to [`DECREASE`] of what the
//!    receiver got (the acknowledged rate; a cut never raises it); normal
//!    lets it grow, by
//!    [`GROWTH_PER_S`] a second while far from the last cut and by about a
//!    packet per response time near it; underuse holds it.
//!
//! Pure: samples and time come in, the estimate goes out; nothing calls it
//! outside its tests until the owned path's switch does.
#![cfg_attr(not(test), allow(dead_code))]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Packets sent within this of a group's first belong to that group.
const GROUP_SPAN: Duration = Duration::from_millis(5);
/// A packet that arrived within this of its group's last, sooner after it
/// than it was sent, belongs to that group too (a burst: the receiver read
/// several at once, after its thread waited for a CPU)...
const BURST_GAP_US: i64 = 5_000;
/// ...while the group's arrivals span less than this.
const BURST_MAX_US: i64 = 100_000;
/// Points of the smoothed delay the slope is fitted over.
const WINDOW: usize = 20;
/// Smoothing of the accumulated delay (weight of the previous value).
const SMOOTHING: f64 = 0.9;
/// Scaling of the slope before it meets the threshold.
const TREND_GAIN: f64 = 4.0;
/// The scaling counts at most this many groups.
const MAX_DELTAS: f64 = 60.0;
/// The threshold's start and bounds, in (scaled) milliseconds.
const THRESHOLD_START: f64 = 12.5;
const THRESHOLD_MIN: f64 = 6.0;
const THRESHOLD_MAX: f64 = 600.0;
/// How fast the threshold follows the trend up (above it) and down.
const THRESHOLD_UP: f64 = 0.0087;
const THRESHOLD_DOWN: f64 = 0.039;
/// A trend this far over the threshold is an outlier the threshold ignores.
const THRESHOLD_OUTLIER: f64 = 15.0;
/// The trend must stay over the threshold this long to be overuse.
const OVERUSE_TIME_MS: f64 = 10.0;
/// Overuse cuts the estimate to this share of the acknowledged rate.
const DECREASE: f64 = 0.85;
/// Multiplicative growth per second far from the last cut.
const GROWTH_PER_S: f64 = 1.08;
/// The acknowledged rate is measured over this much arrival time.
const ACKED_WINDOW_US: i64 = 500_000;
/// Cuts at least this far apart: a queue takes a while to drain after
/// the first, and cutting again for the same queue undershoots.
const CUT_INTERVAL: Duration = Duration::from_millis(150);
/// Overuse this soon after a cut is the same queue still growing.
const REPEAT_WINDOW: Duration = Duration::from_secs(1);
/// The estimate never goes under this.
const MIN_BPS: f64 = 30_000.0;
/// Assumed response time (a round trip plus the feedback interval) for
/// the additive increase near the last cut.
const RESPONSE_TIME_S: f64 = 0.2;

/// One packet the feedback reports received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// When it was sent (the send register).
    pub sent: Instant,
    /// When it arrived, in µs on the receiver's clock.
    pub arrived_us: i64,
    /// Its size on the wire, in bytes.
    pub size: usize,
}

/// What the detector makes of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    Normal,
    Overuse,
    Underuse,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    first_sent: Instant,
    last_sent: Instant,
    first_arrived_us: i64,
    last_arrived_us: i64,
}

impl Group {
    fn new(s: &Sample) -> Self {
        Group {
            first_sent: s.sent,
            last_sent: s.sent,
            first_arrived_us: s.arrived_us,
            last_arrived_us: s.arrived_us,
        }
    }

    /// Whether `s` arrived in this group's burst: close behind its last
    /// arrival and sooner after it than it was sent after it (the
    /// receiver stamped them together, not the link spacing them out).
    fn in_burst(&self, s: &Sample) -> bool {
        let arrival_us = s.arrived_us - self.last_arrived_us;
        let send_us = s.sent.saturating_duration_since(self.last_sent).as_micros() as i64;
        arrival_us - send_us < 0
            && arrival_us <= BURST_GAP_US
            && s.arrived_us - self.first_arrived_us < BURST_MAX_US
    }
}

/// The estimator of one subscriber transport.
#[derive(Debug)]
pub(crate) struct DelayBased {
    group: Option<Group>,
    prev: Option<Group>,
    first_arrived_us: Option<i64>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    /// (arrival ms since the first, smoothed delay ms).
    points: VecDeque<(f64, f64)>,
    deltas: f64,
    threshold: f64,
    threshold_at_ms: Option<f64>,
    overusing_ms: f64,
    overuse_count: u32,
    prev_trend: f64,
    usage: Usage,
    rate_bps: f64,
    last_cut_bps: Option<f64>,
    last_cut_at: Option<Instant>,
    last_update: Option<Instant>,
    /// (arrival µs, size) of the packets in the acknowledged window.
    acked: VecDeque<(i64, usize)>,
    acked_bytes: usize,
}

impl DelayBased {
    /// An estimator starting at `initial_bps`.
    pub(crate) fn new(initial_bps: u64) -> Self {
        DelayBased {
            group: None,
            prev: None,
            first_arrived_us: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            points: VecDeque::with_capacity(WINDOW + 1),
            deltas: 0.0,
            threshold: THRESHOLD_START,
            threshold_at_ms: None,
            overusing_ms: -1.0,
            overuse_count: 0,
            prev_trend: 0.0,
            usage: Usage::Normal,
            rate_bps: (initial_bps as f64).max(MIN_BPS),
            last_cut_bps: None,
            last_cut_at: None,
            last_update: None,
            acked: VecDeque::new(),
            acked_bytes: 0,
        }
    }

    /// The current estimate, in bits per second.
    pub(crate) fn estimate_bps(&self) -> u64 {
        self.rate_bps as u64
    }

    /// Set the estimate to `bps` from outside (the allocator's loss
    /// guard): counted as a cut, so growth from it is cautious.
    pub(crate) fn reset(&mut self, bps: u64) {
        self.rate_bps = (bps as f64).max(MIN_BPS);
        self.last_cut_bps = Some(self.rate_bps);
    }

    /// Raise the estimate to `bps` if it is below: the receiver showed it
    /// takes that much (padding sent to probe arrived at that rate without
    /// a queue building), as a probe result does in GCC.
    pub(crate) fn raise_to(&mut self, bps: f64) {
        if bps > self.rate_bps {
            self.rate_bps = bps;
            // Far from the last cut now: growth is multiplicative again.
            self.last_cut_bps = None;
        }
    }

    /// Put the estimate back up to `bps` if a cut took it below (a probe
    /// cluster's own queue, gone with the cluster), without counting it
    /// as growth far from the last cut.
    pub(crate) fn restore(&mut self, bps: f64) {
        self.rate_bps = self.rate_bps.max(bps);
    }

    /// Keep the estimate at or below `bps` (no growth while the link
    /// loses packets, as GCC's loss-based controller holds between 2 and
    /// 10 % loss).
    pub(crate) fn hold(&mut self, bps: f64) {
        self.rate_bps = self.rate_bps.min(bps.max(MIN_BPS));
    }

    /// What the detector saw last.
    pub(crate) fn usage(&self) -> Usage {
        self.usage
    }

    /// What the receiver got over the last half second of arrivals, in
    /// bits per second (`None` until that much was reported).
    pub(crate) fn acked_bps(&self) -> Option<f64> {
        let (first, _) = self.acked.front()?;
        let (last, _) = self.acked.back()?;
        let span = last - first;
        (span >= ACKED_WINDOW_US / 2).then(|| self.acked_bytes as f64 * 8e6 / span as f64)
    }

    /// One feedback's received packets (in send order), at `now`.
    pub(crate) fn on_feedback(&mut self, samples: &[Sample], now: Instant) {
        for s in samples {
            self.on_sample(s);
        }
        self.update_rate(now);
    }

    fn on_sample(&mut self, s: &Sample) {
        self.acked.push_back((s.arrived_us, s.size));
        self.acked_bytes += s.size;
        while let Some(&(at, size)) = self.acked.front() {
            if s.arrived_us - at <= ACKED_WINDOW_US {
                break;
            }
            self.acked.pop_front();
            self.acked_bytes -= size;
        }
        let Some(g) = &mut self.group else {
            self.group = Some(Group::new(s));
            return;
        };
        if s.sent < g.first_sent {
            // Reordered behind its group: not a new group.
            return;
        }
        if s.sent.duration_since(g.first_sent) <= GROUP_SPAN || g.in_burst(s) {
            g.last_sent = g.last_sent.max(s.sent);
            g.last_arrived_us = g.last_arrived_us.max(s.arrived_us);
            return;
        }
        let done = *g;
        self.group = Some(Group::new(s));
        if let Some(prev) = self.prev.replace(done) {
            let send_ms = done.last_sent.duration_since(prev.last_sent).as_secs_f64() * 1e3;
            let arrival_ms = (done.last_arrived_us - prev.last_arrived_us) as f64 / 1e3;
            self.on_delta(arrival_ms - send_ms, send_ms, done.last_arrived_us);
        }
    }

    /// Steps 2 and 3 for one group's delay variation.
    fn on_delta(&mut self, delta_ms: f64, send_ms: f64, arrived_us: i64) {
        let first = *self.first_arrived_us.get_or_insert(arrived_us);
        let at_ms = (arrived_us - first) as f64 / 1e3;
        self.deltas = (self.deltas + 1.0).min(1000.0);
        self.accumulated_ms += delta_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        self.points.push_back((at_ms, self.smoothed_ms));
        if self.points.len() > WINDOW {
            self.points.pop_front();
        }
        let trend = if self.points.len() == WINDOW {
            slope(&self.points).unwrap_or(self.prev_trend)
        } else {
            self.prev_trend
        };
        let scaled = self.deltas.min(MAX_DELTAS) * trend * TREND_GAIN;
        self.detect(scaled, trend, send_ms);
        self.adapt_threshold(scaled, at_ms);
        self.prev_trend = trend;
    }

    fn detect(&mut self, scaled: f64, trend: f64, send_ms: f64) {
        if self.deltas < 2.0 {
            self.usage = Usage::Normal;
            return;
        }
        if scaled > self.threshold {
            if self.overusing_ms < 0.0 {
                self.overusing_ms = send_ms / 2.0;
            } else {
                self.overusing_ms += send_ms;
            }
            self.overuse_count += 1;
            if self.overusing_ms > OVERUSE_TIME_MS
                && self.overuse_count > 1
                && trend >= self.prev_trend
            {
                self.overusing_ms = 0.0;
                self.overuse_count = 0;
                self.usage = Usage::Overuse;
            }
        } else if scaled < -self.threshold {
            self.overusing_ms = -1.0;
            self.overuse_count = 0;
            self.usage = Usage::Underuse;
        } else {
            self.overusing_ms = -1.0;
            self.overuse_count = 0;
            self.usage = Usage::Normal;
        }
    }

    fn adapt_threshold(&mut self, scaled: f64, at_ms: f64) {
        let last = self.threshold_at_ms.replace(at_ms).unwrap_or(at_ms);
        let off = scaled.abs() - self.threshold;
        if off > THRESHOLD_OUTLIER {
            return;
        }
        let k = if scaled.abs() < self.threshold {
            THRESHOLD_DOWN
        } else {
            THRESHOLD_UP
        };
        let dt = (at_ms - last).clamp(0.0, 100.0);
        self.threshold = (self.threshold + k * off * dt).clamp(THRESHOLD_MIN, THRESHOLD_MAX);
    }

    /// Step 4: the rate after this feedback.
    fn update_rate(&mut self, now: Instant) {
        let dt = self.last_update.map_or(0.0, |t| {
            now.saturating_duration_since(t).as_secs_f64().min(1.0)
        });
        self.last_update = Some(now);
        let acked = self.acked_bps();
        match self.usage {
            Usage::Overuse => {
                let open = self
                    .last_cut_at
                    .is_none_or(|t| now.saturating_duration_since(t) >= CUT_INTERVAL);
                if open {
                    // GCC's cut: to a share of what the receiver got, but
                    // never up. The first cut for a queue is not a share
                    // of the estimate: one already under what arrives
                    // (a sender that sends more than it) would sink from
                    // a full link's rate in steps of 15 %. A queue still
                    // growing soon after a cut (the link's rate fell far)
                    // cuts from the lower of the two, to drain it.
                    let again = self
                        .last_cut_at
                        .is_some_and(|t| now.saturating_duration_since(t) < REPEAT_WINDOW);
                    let base = match acked {
                        Some(a) if again => a.min(self.rate_bps),
                        Some(a) => a,
                        None => self.rate_bps,
                    };
                    self.rate_bps = (DECREASE * base).min(self.rate_bps).max(MIN_BPS);
                    self.last_cut_bps = Some(self.rate_bps);
                    self.last_cut_at = Some(now);
                }
                // One cut per overuse signal.
                self.usage = Usage::Normal;
                self.overusing_ms = -1.0;
            }
            Usage::Underuse => {}
            Usage::Normal => {
                let before = self.rate_bps;
                let near = self
                    .last_cut_bps
                    .is_some_and(|cut| self.rate_bps < cut * 1.5);
                if near {
                    // About one 1,200-byte packet per response time.
                    let per_s = 1200.0 * 8.0 / RESPONSE_TIME_S;
                    self.rate_bps += per_s * dt;
                } else {
                    self.rate_bps *= GROWTH_PER_S.powf(dt);
                }
                // Never grows far above what the receiver shows it gets
                // (but a sender that sends less than its estimate keeps
                // it: the cap limits growth, as in GCC).
                if let Some(acked) = acked {
                    let limit = 1.5 * acked + 10_000.0;
                    if self.rate_bps > limit {
                        self.rate_bps = before.max(limit).min(self.rate_bps);
                    }
                }
            }
        }
        self.rate_bps = self.rate_bps.max(MIN_BPS);
    }
}

/// The least-squares slope of `points` (y over x).
fn slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    (den > 0.0).then(|| num / den)
}

#[cfg(test)]
#[path = "delay_based_tests.rs"]
mod tests;
