//! Per-subscriber bandwidth allocation.
//!
//! Each subscriber transport has one allocator. It splits the transport's
//! send-side estimate (str0m's GCC over TWCC feedback, REMB as fallback),
//! capped by the subscriber's own SDP limit (`b=TIAS` / `b=AS`), across the
//! transport's video consumers:
//!
//! 1. Audio is reserved first and never paused.
//! 2. In priority order (higher first; ties by age), every video consumer
//!    gets its lowest live layer while that fits; those that don't fit are
//!    paused, so the lowest priorities pause first.
//! 3. In priority order again, each consumer climbs as high as fits, never
//!    above the layer its subscriber prefers.
//!
//! Hysteresis: downgrades follow the latest estimate at once; upgrades use
//! the *lowest* estimate of the last [`UPGRADE_HOLD`], so a layer is only
//! added once the estimate has held for that long; a paused consumer
//! resumes on its lowest layer after [`RESUME_HOLD`].
//!
//! The congestion-control feedback corrects the estimate (see
//! [`crate::bandwidth::loss_guard`]): after heavy loss the allocation keeps to what
//! got through; on a clean link the media that flows is not taken away by
//! an estimate that falls without loss. The router runs it every
//! [`ALLOCATION_INTERVAL`] (`handle_timeout`) once an estimate exists.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use smallvec::SmallVec;

use crate::bandwidth::loss_guard::{LinkFeedback, LossGuard};
use crate::ConsumerId;

/// How often an allocator runs.
pub(crate) const ALLOCATION_INTERVAL: Duration = Duration::from_millis(250);
/// How long the estimate must hold before a consumer is upgraded.
pub(crate) const UPGRADE_HOLD: Duration = Duration::from_secs(2);
/// How long it must hold before a paused consumer resumes on its lowest
/// layer: shorter, since a paused video is a freeze.
pub(crate) const RESUME_HOLD: Duration = Duration::from_secs(1);
/// How often a probe is asked for while the allocation is short of what
/// the subscriber wants (str0m probes when the desired rate rises above the
/// estimate, but only on a rise): without it, a consumer paused on a low
/// estimate would never see the estimate grow again.
const PROBE_INTERVAL: Duration = Duration::from_secs(4);
/// How long a clean link may be held short of what the subscriber wants
/// before str0m's estimator is restarted ([`Allocator::refresh_estimator`]).
const STUCK_CLEAN: Duration = Duration::from_secs(3);
/// Shortest time between two such restarts.
const STUCK_COOLDOWN: Duration = Duration::from_secs(6);
/// How long after the first estimate allocation starts.
pub(crate) const WARMUP: Duration = Duration::from_secs(3);
/// Share of the estimate an existing allocation may keep using.
const KEEP: f64 = 1.0;
/// Share of the estimate handed out to upgrades (the rest absorbs estimate noise, RTX and RTCP).
const USABLE: f64 = 0.9;
/// Assumed bitrate of a layer that has not been measured yet, by index.
const DEFAULT_LAYER_BPS: [u64; 4] = [150_000, 500_000, 1_500_000, 3_000_000];
/// Assumed bitrate of an audio consumer not measured yet.
pub(crate) const AUDIO_BPS: u64 = 48_000;
/// Most estimates remembered.
const MAX_HISTORY: usize = 64;

/// One video consumer as the allocator sees it.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub id: ConsumerId,
    pub priority: u8,
    /// Bitrate per spatial layer; `None` when the layer is not live.
    pub layers: SmallVec<[Option<u64>; 3]>,
    pub preferred: u8,
    /// The spatial layer the consumer forwards now, if any: before the
    /// allocator's first decision on a consumer, what already flows counts
    /// as its previous allocation (an estimate that falls without loss
    /// lowers a layer but does not switch a flowing video off).
    pub flowing: Option<u8>,
}

impl Candidate {
    fn rate(&self, l: usize) -> Option<u64> {
        let r = (*self.layers.get(l)?)?;
        Some(if r == 0 {
            DEFAULT_LAYER_BPS[l.min(3)]
        } else {
            r
        })
    }
}

/// Spatial layer per candidate (`None`: paused for bandwidth), and the
/// total allocated.
pub(crate) fn allocate(budget: u64, audio_bps: u64, cands: &[Candidate]) -> (Vec<Option<u8>>, u64) {
    let mut remaining = budget.saturating_sub(audio_bps);
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(cands[i].priority), i));
    let mut alloc: Vec<Option<u8>> = vec![None; cands.len()];
    let mut spent = 0;
    for &i in &order {
        let c = &cands[i];
        let Some((l, r)) = (0..c.layers.len()).find_map(|l| c.rate(l).map(|r| (l, r))) else {
            continue;
        };
        if r > remaining {
            break;
        }
        remaining -= r;
        spent += r;
        alloc[i] = Some(l as u8);
    }
    for &i in &order {
        let c = &cands[i];
        let Some(cur) = alloc[i] else { continue };
        let cur_rate = c.rate(cur as usize).unwrap_or(0);
        let top = (c.preferred as usize).min(c.layers.len().saturating_sub(1));
        for l in (cur as usize + 1..=top).rev() {
            let Some(r) = c.rate(l) else { continue };
            if r - cur_rate.min(r) <= remaining {
                remaining -= r - cur_rate.min(r);
                spent += r - cur_rate.min(r);
                alloc[i] = Some(l as u8);
                break;
            }
        }
    }
    (alloc, spent + audio_bps)
}

/// The bitrate cap that makes a layer selector pick exactly `layer`: halfway
/// to the next layer, so measurement noise does not flip it.
pub(crate) fn cap_for(c: &Candidate, layer: u8) -> u64 {
    let l = layer as usize;
    let here = c.rate(l).unwrap_or(0);
    match (l + 1..c.layers.len()).find_map(|n| c.rate(n)) {
        Some(next) if next > here => here + (next - here) / 2,
        _ => here.saturating_mul(2).max(here + 1),
    }
}

#[derive(Debug)]
pub(crate) struct Allocator {
    history: VecDeque<(Instant, u64)>,
    /// The subscriber's own limit from SDP.
    pub sdp_cap: Option<u64>,
    /// The last allocation, per consumer.
    pub current: Vec<(ConsumerId, Option<u8>)>,
    pub allocated_bps: u64,
    pub desired_bps: u64,
    last_probe: Option<Instant>,
    /// The last round handed str0m a lowered desired rate.
    probe_lowered: bool,
    /// Whether the estimate ever went down. Until it does, the estimator is
    /// still ramping up from its starting value with no sign of congestion,
    /// and holding anyone below their preferred layers would only slow the
    /// ramp (it grows with what is sent): nobody is capped but by SDP.
    congested: bool,
    /// When the first estimate arrived.
    first_estimate: Option<Instant>,
    /// What the subscriber's congestion-control feedback says.
    pub loss: LossGuard,
    /// The feedback said the link is clean at the last round.
    clean: bool,
    /// Since when it has said so.
    clean_since: Option<Instant>,
    /// The last time str0m's estimator was restarted.
    last_refresh: Option<Instant>,
}

impl Allocator {
    pub(crate) fn new() -> Self {
        Allocator {
            history: VecDeque::new(),
            sdp_cap: None,
            current: Vec::new(),
            allocated_bps: 0,
            desired_bps: 0,
            last_probe: None,
            probe_lowered: false,
            congested: false,
            first_estimate: None,
            loss: LossGuard::default(),
            clean: false,
            clean_since: None,
            last_refresh: None,
        }
    }

    /// A new estimate arrived.
    pub(crate) fn on_estimate(&mut self, now: Instant, bps: u64) {
        if self.history.len() >= MAX_HISTORY {
            self.history.pop_front();
        }
        if self
            .estimate()
            .is_some_and(|last| (bps as f64) < last as f64 * 0.95)
        {
            self.congested = true;
        }
        self.history.push_back((now, bps));
        self.first_estimate.get_or_insert(now);
    }

    /// Whether the estimate has been measured on real traffic long enough
    /// to act on. The first estimates are the configured starting value and
    /// what little traffic a new session has sent: pausing on them would
    /// keep video off, and so keep the estimate from ever growing.
    pub(crate) fn warmed_up(&self, now: Instant) -> bool {
        self.first_estimate
            .is_some_and(|t| now.saturating_duration_since(t) >= WARMUP)
    }

    /// The latest estimate.
    pub(crate) fn estimate(&self) -> Option<u64> {
        self.history.back().map(|(_, b)| *b)
    }

    /// Run the allocation. Returns the new layer per consumer.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        audio_bps: u64,
        cands: &[Candidate],
    ) -> Vec<(ConsumerId, Option<u8>)> {
        while self
            .history
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > UPGRADE_HOLD)
            && self.history.len() > 1
        {
            self.history.pop_front();
        }
        let cap = |b: u64, share: f64| {
            let b = (b as f64 * share) as u64;
            self.sdp_cap.map_or(b, |c| b.min(c))
        };
        // Keeping what is allocated may use the whole estimate; going up
        // must leave headroom. The gap between the two is what stops a
        // layer that just fits from flapping with estimate noise.
        let unknown = u64::MAX / 4;
        let verdict = self.loss.handle_timeout(now);
        if matches!(verdict, LinkFeedback::Through(_)) {
            self.congested = true;
        }
        self.clean = matches!(verdict, LinkFeedback::Clean(_));
        if self.clean {
            self.clean_since.get_or_insert(now);
        } else {
            self.clean_since = None;
        }
        let lowest = |window: Duration| {
            self.history
                .iter()
                .filter(|(t, _)| now.saturating_duration_since(*t) <= window)
                .map(|(_, b)| *b)
                .min()
                .or(self.estimate())
                .filter(|_| self.congested)
                .unwrap_or(unknown)
        };
        let mut latest = if self.congested {
            self.estimate().unwrap_or(unknown)
        } else {
            unknown
        };
        let (mut held, mut resume) = (lowest(UPGRADE_HOLD), lowest(RESUME_HOLD));
        match verdict {
            // Heavy loss: keep to what got through, whatever the estimate.
            LinkFeedback::Through(r) => {
                latest = r;
                held = held.min(r);
                resume = r;
            }
            // Clean: what went through without loss may stay, whatever the
            // estimate says (consumers may still trade layers within it).
            LinkFeedback::Clean(rate) => latest = latest.max(rate),
            LinkFeedback::None => {}
        }
        let latest = cap(latest, KEEP);
        let held = cap(held, USABLE);
        let resume = cap(resume, USABLE);
        let (fast, _) = allocate(latest, audio_bps, cands);
        let (slow, _) = allocate(held, audio_bps, cands);
        let (quick, _) = allocate(resume, audio_bps, cands);
        let mut out = Vec::with_capacity(cands.len());
        let mut total = 0;
        for (i, c) in cands.iter().enumerate() {
            let prev = match self.current.iter().find(|(id, _)| *id == c.id) {
                Some((_, l)) => *l,
                None => c.flowing,
            };
            let up = |a: Option<u8>, b: Option<u8>| match (a, b) {
                (Some(x), Some(y)) => x > y,
                (Some(_), None) => true,
                _ => false,
            };
            // Down (or equal) follows the latest estimate; up waits for the
            // held one, resuming from a pause (lowest layer) for a shorter one.
            let lowest_layer = (0..c.layers.len())
                .find(|l| c.rate(*l).is_some())
                .map(|l| l as u8);
            // Without heavy loss the estimate may lower a layer but not
            // switch a video off.
            let l = if !up(fast[i], prev) {
                match verdict {
                    LinkFeedback::Through(_) => fast[i],
                    _ if fast[i].is_none() && prev.is_some() => lowest_layer,
                    _ => fast[i],
                }
            } else if up(slow[i], prev) {
                slow[i].min(fast[i]).max(prev)
            } else if prev.is_none() && quick[i].is_some() && fast[i].is_some() {
                lowest_layer
            } else {
                prev
            };
            if let Some(l) = l {
                total += c.rate(l as usize).unwrap_or(0);
            }
            out.push((c.id, l));
        }
        // What got through is measured over a second that may straddle a
        // burst: it never switches every video off at once. The
        // highest-priority video that was flowing keeps its lowest layer.
        if matches!(verdict, LinkFeedback::Through(_)) && out.iter().all(|(_, l)| l.is_none()) {
            let was_on = |c: &Candidate| {
                self.current
                    .iter()
                    .any(|(id, l)| *id == c.id && l.is_some())
            };
            let keep = (0..cands.len())
                .filter(|&i| was_on(&cands[i]))
                .min_by_key(|&i| (std::cmp::Reverse(cands[i].priority), i));
            if let Some(i) = keep {
                let c = &cands[i];
                if let Some(l) = (0..c.layers.len()).find(|l| c.rate(*l).is_some()) {
                    total += c.rate(l).unwrap_or(0);
                    out[i].1 = Some(l as u8);
                }
            }
        }
        self.allocated_bps = total + audio_bps;
        self.desired_bps = cands
            .iter()
            .map(|c| {
                let top = (c.preferred as usize).min(c.layers.len().saturating_sub(1));
                (0..=top).rev().find_map(|l| c.rate(l)).unwrap_or(0)
            })
            .sum::<u64>()
            + audio_bps;
        self.current = out.clone();
        out
    }

    /// Whether to restart str0m's estimator from its current estimate this
    /// round: the link has been clean for [`STUCK_CLEAN`] while the
    /// allocation stays short of what the subscriber wants. A restart
    /// forgets the loss controller's memory of old losses and probes from
    /// the estimate upward at once (its start-up probes), instead of waiting
    /// for an application-limited probe.
    pub(crate) fn refresh_estimator(&mut self, now: Instant) -> Option<u64> {
        // Materially short (a layer missing), not measurement noise.
        let short = (self.allocated_bps as f64) < self.desired_bps as f64 * 0.8;
        let clean_for = self.clean_since.map(|t| now.saturating_duration_since(t));
        let due = self
            .last_refresh
            .is_none_or(|t| now.saturating_duration_since(t) >= STUCK_COOLDOWN);
        if !(short && due && clean_for.is_some_and(|d| d >= STUCK_CLEAN)) {
            return None;
        }
        self.last_refresh = Some(now);
        self.estimate()
    }

    /// The desired rate to hand str0m this round. str0m probes when the
    /// desired rate rises above the estimate between two of its timeouts,
    /// so while the allocation is short of what the subscriber wants, every
    /// [`PROBE_INTERVAL`] one round hands it only the estimate and the next
    /// the full desired rate again.
    pub(crate) fn desired_for_str0m(&mut self, now: Instant) -> u64 {
        let desired = self.desired_bps.max(self.allocated_bps);
        let estimate = self.estimate().unwrap_or(0);
        if self.probe_lowered {
            self.probe_lowered = false;
            return desired;
        }
        let short = self.allocated_bps < self.desired_bps && estimate < desired;
        // On a clean link probing costs little: probe twice as often.
        let interval = if self.clean {
            PROBE_INTERVAL / 2
        } else {
            PROBE_INTERVAL
        };
        let due = self
            .last_probe
            .is_none_or(|t| now.saturating_duration_since(t) >= interval);
        if short && due {
            self.last_probe = Some(now);
            self.probe_lowered = true;
            return estimate.max(self.allocated_bps);
        }
        desired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: u64, priority: u8, preferred: u8) -> Candidate {
        Candidate {
            flowing: None,
            id: ConsumerId(id),
            priority,
            layers: smallvec::smallvec![Some(150_000), Some(500_000), Some(1_500_000)],
            preferred,
        }
    }

    #[test]
    fn priorities_and_pausing() {
        let c = [cand(1, 1, 2), cand(2, 3, 2), cand(3, 1, 2)];
        // Room for everyone's top layer.
        assert_eq!(
            allocate(10_000_000, AUDIO_BPS, &c).0,
            [Some(2), Some(2), Some(2)]
        );
        // Room for one high layer: the screen share (priority 3) gets it.
        let (a, _) = allocate(1_900_000, AUDIO_BPS, &c);
        assert_eq!(a[1], Some(2));
        assert_eq!((a[0], a[2]), (Some(0), Some(0)));
        // Room for two lowest layers: the lowest priority, youngest pauses.
        let (a, _) = allocate(2 * 150_000 + AUDIO_BPS + 10, AUDIO_BPS, &c);
        assert_eq!(a, [Some(0), Some(0), None]);
        // Never above the preferred layer.
        assert_eq!(allocate(10_000_000, 0, &[cand(1, 1, 1)]).0, [Some(1)]);
    }

    #[test]
    fn upgrades_wait_for_a_held_estimate() {
        let t0 = Instant::now();
        let c = [cand(1, 1, 2)];
        let mut a = Allocator::new();
        // While the estimate only ramps up, nobody is held back.
        a.on_estimate(t0, 300_000);
        assert_eq!(a.handle_timeout(t0, 0, &c), [(ConsumerId(1), Some(2))]);
        // A first drop is congestion: from now on the estimate rules.
        a.on_estimate(t0, 250_000);
        assert_eq!(a.handle_timeout(t0, 0, &c), [(ConsumerId(1), Some(0))]);
        // The estimate jumps: no upgrade until it has held for UPGRADE_HOLD.
        a.on_estimate(t0 + Duration::from_millis(100), 3_000_000);
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(a.handle_timeout(t1, 0, &c)[0].1, Some(0));
        let t2 = t0 + Duration::from_millis(100) + UPGRADE_HOLD + Duration::from_millis(300);
        assert_eq!(a.handle_timeout(t2, 0, &c)[0].1, Some(2));
        // A drop is followed at once.
        a.on_estimate(t2, 400_000);
        assert_eq!(a.handle_timeout(t2, 0, &c)[0].1, Some(0));
    }
}
