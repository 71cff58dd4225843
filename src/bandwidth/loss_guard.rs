//! Loss guard: what the subscriber's transport-wide feedback says the link
//! carries, as a correction to the send-side estimate.
//!
//! A delay-based estimator cannot see a link whose bottleneck queue is
//! already full (the delay stops growing, packets are dropped instead), and
//! after seconds of heavy loss str0m's loss controller falls far below the
//! link and climbs back slowly, pausing video that would fit. str0m's peer
//! stats (every [`STATS_INTERVAL`]) give two facts the allocator can use:
//! the bytes sent and the share of packets the transport-wide congestion
//! control feedback reports lost (all packets, retransmissions and padding
//! included, before any recovery).
//!
//! - **Heavy loss** (over [`LOSS_HIGH`]): what got through, the send rate ×
//!   (1 − loss), over the same second, is close to the link's capacity.
//!   Until the feedback is clean again (or for [`THROUGH_TTL`]), the
//!   allocation keeps to the latest such rate, above or below the estimate.
//! - **A clean link** (loss under [`LOSS_LOW`] for [`CLEAN_HOLD`], or at
//!   once right after a cut to what got through): the most sent in a second
//!   of this clean spell evidently fits, so an estimate that falls without
//!   loss does not take it away (it still gates upgrades).
//!
//! Same shape as the other subsystems: an input (`on_stats`) and a
//! `handle_timeout` the allocator calls on its round.
//!
//! [`STATS_INTERVAL`]: crate::transport::STATS_INTERVAL

use std::time::{Duration, Instant};

use smallvec::SmallVec;

/// Feedback loss above which the allocation keeps to what got through.
pub(crate) const LOSS_HIGH: f64 = 0.10;
/// Feedback loss under which the link counts as clean.
pub(crate) const LOSS_LOW: f64 = 0.02;
/// Longest a "what got through" rules without a new report saying so.
const THROUGH_TTL: Duration = Duration::from_secs(4);
/// The span str0m computes the feedback's loss over.
const LOSS_WINDOW: Duration = Duration::from_secs(1);
/// Reports kept to measure the send rate over [`LOSS_WINDOW`].
const REPORTS: usize = 8;
/// How long feedback must stay clean before the media rate is a floor.
const CLEAN_HOLD: Duration = Duration::from_secs(2);

/// What the feedback says, for one allocation round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkFeedback {
    /// Nothing to add: the estimate rules.
    None,
    /// Heavy loss lately: keep to this rate (bits per second).
    Through(u64),
    /// Clean: this much (the most sent in a second of this clean spell,
    /// bits per second) went through without loss and may stay.
    Clean(u64),
}

#[derive(Debug, Default)]
pub(crate) struct LossGuard {
    /// Recent reports, oldest first: when, and all bytes sent by then (the
    /// loss covers about the last second, so the send rate does too).
    last: SmallVec<[(Instant, u64); REPORTS]>,
    /// The latest heavy-loss measurement: when, and the rate that got through.
    through: Option<(Instant, u64)>,
    /// Since when the feedback has been clean, and the most sent per
    /// second since.
    clean: Option<(Instant, u64)>,
}

impl LossGuard {
    /// A peer-stats report: all bytes sent so far and the feedback's loss
    /// fraction over the last second.
    pub(crate) fn on_stats(&mut self, now: Instant, bytes: u64, loss: Option<f32>) {
        let before = self
            .last
            .iter()
            .find(|(t, _)| now.saturating_duration_since(*t) <= LOSS_WINDOW)
            .copied();
        if self.last.len() == REPORTS {
            self.last.remove(0);
        }
        self.last.push((now, bytes));
        let Some((t, b)) = before else {
            return;
        };
        let dt = now.saturating_duration_since(t).as_secs_f64();
        let Some(loss) = loss.filter(|l| l.is_finite() && dt > 0.0) else {
            return;
        };
        let loss = f64::from(loss.clamp(0.0, 1.0));
        let sent = bytes.saturating_sub(b) as f64 * 8.0 / dt;
        let was_cut = self.through.is_some();
        if loss > LOSS_HIGH {
            // The loss lags (its second began before the link changed), so
            // within one episode the lowest measurement is the best.
            let got = (sent * (1.0 - loss)) as u64;
            let got = self.through.map_or(got, |(_, r)| r.min(got));
            self.through = Some((now, got));
        } else if loss < LOSS_LOW {
            // The link has drained: what got through no longer matters.
            self.through = None;
        }
        if loss < LOSS_LOW {
            // Clean right after a cut: what flows now was fitted to the
            // link, so it is a floor at once.
            let (since, most) = match self.clean {
                Some(c) => c,
                None if was_cut => (now.checked_sub(CLEAN_HOLD).unwrap_or(now), 0),
                None => (now, 0),
            };
            self.clean = Some((since, most.max(sent as u64)));
        } else {
            self.clean = None;
        }
    }

    /// Once per allocation round: what the feedback means for it.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> LinkFeedback {
        match self.through {
            Some((t, _)) if now.saturating_duration_since(t) > THROUGH_TTL => self.through = None,
            Some((_, r)) => return LinkFeedback::Through(r),
            None => {}
        }
        match self.clean {
            Some((since, most)) if now.saturating_duration_since(since) >= CLEAN_HOLD => {
                LinkFeedback::Clean(most)
            }
            _ => LinkFeedback::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn through_after_heavy_loss_then_clean() {
        let t0 = Instant::now();
        let mut g = LossGuard::default();
        let (mut at, mut bytes) = (0u64, 0u64);
        // One report per half second at `bps`, with the feedback's loss.
        let mut step = |g: &mut LossGuard, bps: u64, loss: Option<f32>| {
            at += 500;
            bytes += bps / 16;
            let now = t0 + Duration::from_millis(at);
            g.on_stats(now, bytes, loss);
            g.handle_timeout(now)
        };
        g.on_stats(t0, 0, None);
        // 5 Mbit/s sent, nothing lost.
        assert_eq!(step(&mut g, 5_000_000, Some(0.0)), LinkFeedback::None);
        assert_eq!(step(&mut g, 5_000_000, Some(0.0)), LinkFeedback::None);
        // The link drops to 600 kbit/s: 88 % of the last second lost.
        assert_eq!(
            step(&mut g, 5_000_000, Some(0.88)),
            LinkFeedback::Through(600_000)
        );
        // Still lossy: 50 % of 1.6 Mbit/s got through, more than measured
        // before in this episode, which stands; then 50 % of 400 kbit/s.
        step(&mut g, 1_200_000, Some(0.5));
        assert_eq!(
            step(&mut g, 2_000_000, Some(0.5)),
            LinkFeedback::Through(600_000)
        );
        step(&mut g, 400_000, Some(0.5));
        assert_eq!(
            step(&mut g, 400_000, Some(0.5)),
            LinkFeedback::Through(200_000)
        );
        // Clean right after the cut: what flows may stay at once.
        assert_eq!(
            step(&mut g, 400_000, Some(0.0)),
            LinkFeedback::Clean(400_000)
        );
        // Moderate loss: neither.
        assert_eq!(step(&mut g, 400_000, Some(0.05)), LinkFeedback::None);
        // Clean without a cut before: only after CLEAN_HOLD.
        for _ in 0..4 {
            assert_eq!(step(&mut g, 400_000, Some(0.0)), LinkFeedback::None);
        }
        assert_eq!(
            step(&mut g, 400_000, Some(0.01)),
            LinkFeedback::Clean(400_000)
        );
        // A cut expires after THROUGH_TTL without news.
        assert_eq!(
            step(&mut g, 400_000, Some(0.5)),
            LinkFeedback::Through(200_000)
        );
        assert_eq!(
            g.handle_timeout(t0 + Duration::from_millis(at + 4500)),
            LinkFeedback::None
        );
    }
}
