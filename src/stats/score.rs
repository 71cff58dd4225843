//! Quality scores, 0 (unusable) to 10 (perfect), as mediasoup reports
//! them: one per producer (how well its media arrives) and one per
//! consumer (how well it reaches its subscriber, never above its
//! producer's).
//!
//! A score follows packet loss, the one figure both directions report:
//! each stats report gives a loss sample, the larger of the share of
//! packets NACKed since the last report (loss before retransmission
//! repaired it) and the loss in the latest receiver report. Samples are
//! smoothed (exponentially, weight [`WEIGHT`]) so a single burst does not
//! make the score flap; 0 % loss scores 10 and [`ZERO_AT`] or more scores 0,
//! linearly between. Time never enters: scores move with the reports the
//! WebRTC stack emits from the host's clock.

use crate::{ConsumerId, Event, ProducerId};

/// Weight of a new sample in the smoothed loss.
const WEIGHT: f32 = 0.3;
/// Loss at which the score reaches 0.
const ZERO_AT: f32 = 0.2;

/// One object's score and the smoothed loss behind it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Score {
    loss: f32,
    value: u8,
}

impl Default for Score {
    fn default() -> Self {
        Score {
            loss: 0.0,
            value: 10,
        }
    }
}

impl Score {
    /// The score now.
    pub(crate) fn value(&self) -> u8 {
        self.value
    }

    /// Feed a loss sample (0.0 to 1.0); returns the new score if it changed.
    pub(crate) fn on_loss(&mut self, sample: f32) -> Option<u8> {
        let sample = if sample.is_finite() {
            sample.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.loss += WEIGHT * (sample - self.loss);
        let value = score_of(self.loss);
        (value != self.value).then(|| {
            self.value = value;
            value
        })
    }
}

/// The score of a loss share.
fn score_of(loss: f32) -> u8 {
    let left = 1.0 - (loss / ZERO_AT).min(1.0);
    // A clean link recovers to a full 10 even if the smoothed loss only
    // approaches zero.
    if loss < 0.005 {
        return 10;
    }
    (10.0 * left).round().clamp(0.0, 10.0) as u8
}

/// Share of packets NACKed between two reports: `(nacks, packets)` then and now.
pub(crate) fn nack_share(before: (u64, u64), now: (u64, u64)) -> Option<f32> {
    let packets = now.1.checked_sub(before.1).filter(|p| *p > 0)?;
    let nacks = now.0.saturating_sub(before.0).min(packets);
    Some(nacks as f32 / packets as f32)
}

impl crate::Router {
    /// A producer's layer reported: update the producer's score and, if it
    /// changed, tell the host and re-score its consumers (capped by it).
    pub(crate) fn score_producer(&mut self, pid: ProducerId, sample: f32) {
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        let Some(score) = p.score.on_loss(sample) else {
            return;
        };
        let (transport, consumers) = (p.transport, p.consumers.clone());
        tracing::debug!(producer = %pid, score, "producer score changed");
        self.emit(Event::ProducerScore {
            producer: pid,
            transport,
            score,
        });
        for cid in consumers {
            self.report_consumer_score(cid);
        }
    }

    /// A consumer's outgoing stream reported.
    pub(crate) fn score_consumer(&mut self, cid: ConsumerId, sample: f32) {
        if let Some(c) = self.consumers.get_mut(&cid) {
            c.score.on_loss(sample);
            self.report_consumer_score(cid);
        }
    }

    /// A consumer's score: its own, capped by its producer's.
    pub(crate) fn consumer_score(&self, cid: ConsumerId) -> Option<u8> {
        let c = self.consumers.get(&cid)?;
        let producer = self
            .producers
            .get(&c.producer)
            .map_or(10, |p| p.score.value());
        Some(c.score.value().min(producer))
    }

    fn report_consumer_score(&mut self, cid: ConsumerId) {
        let Some(score) = self.consumer_score(cid) else {
            return;
        };
        let Some(c) = self.consumers.get_mut(&cid) else {
            return;
        };
        if c.reported_score == score {
            return;
        }
        c.reported_score = score;
        let transport = c.transport;
        tracing::debug!(consumer = %cid, score, "consumer score changed");
        self.emit(Event::ConsumerScore {
            consumer: cid,
            transport,
            score,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_maps_to_scores() {
        assert_eq!(score_of(0.0), 10);
        assert_eq!(score_of(0.05), 8);
        assert_eq!(score_of(0.1), 5);
        assert_eq!(score_of(0.2), 0);
        assert_eq!(score_of(0.9), 0);
    }

    #[test]
    fn steady_loss_settles_and_clean_recovers() {
        let mut s = Score::default();
        let mut changes = Vec::new();
        for _ in 0..30 {
            changes.extend(s.on_loss(0.1));
        }
        assert_eq!(s.value(), 5);
        // Each change reported once, going down, and none once settled.
        assert!(changes.windows(2).all(|w| w[0] > w[1]), "{changes:?}");
        assert_eq!(changes.last(), Some(&5));
        for _ in 0..30 {
            s.on_loss(0.0);
        }
        assert_eq!(s.value(), 10);
        assert_eq!(s.on_loss(f32::NAN), None);
    }

    #[test]
    fn nack_share_of_a_window() {
        assert_eq!(nack_share((0, 0), (5, 100)), Some(0.05));
        assert_eq!(nack_share((5, 100), (5, 100)), None);
        assert_eq!(nack_share((5, 100), (50, 110)), Some(1.0));
    }
}
