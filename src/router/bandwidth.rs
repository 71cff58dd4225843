//! Running each subscriber transport's bandwidth allocator and applying its
//! decisions; telling publishers their maximum incoming bitrate.

use std::time::{Duration, Instant};

use smallvec::SmallVec;

use super::timers::Timer;
use super::Router;
use crate::bandwidth::allocator::{cap_for, Candidate, ALLOCATION_INTERVAL, AUDIO_BPS};
use crate::transport::STATS_INTERVAL;
use crate::{ConsumerId, Event, TransportId};

/// How often a publisher is told its maximum incoming bitrate.
const REMB_INTERVAL: Duration = Duration::from_secs(1);

impl Router {
    pub(super) fn on_estimate(&mut self, tid: TransportId, bps: u64) {
        let now = self.now;
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        t.allocator.on_estimate(now, bps);
        if self.hub.timers.get(Timer::Allocate(tid)).is_none() {
            self.schedule_allocation(tid, now);
        }
    }

    /// Apply what a transport's owned send path learned from the
    /// datagram it just read (`transport/owned/estimate.rs`): the
    /// estimate, the loss guard's stats and the round trip, as str0m's
    /// estimate and peer stats are applied on its own path.
    pub(super) fn on_owned_feedback(&mut self, tid: TransportId) {
        let now = self.now;
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        if !t.owned_active() {
            return;
        }
        let f = t.owned_feedback();
        if let Some(rtt) = f.rtt {
            t.observed.rtt = Some(rtt);
        }
        if let Some((bytes, loss)) = f.loss {
            t.allocator.loss.on_stats(now, bytes, Some(loss));
        }
        let stats_due = t
            .owned_stats_at
            .is_none_or(|at| now.saturating_duration_since(at) >= STATS_INTERVAL);
        if stats_due {
            t.owned_stats_at = Some(now);
        }
        if let Some(bps) = f.estimate_bps {
            tracing::trace!(transport = ?tid, estimate_bps = bps, "bandwidth estimate (owned path)");
            self.on_estimate(tid, bps);
        }
        if stats_due {
            self.owned_egress_stats(tid, now);
        }
    }

    /// The owned path's report on each consumer's stream of transport
    /// `tid`, in place of the WebRTC stack's egress stats (which never
    /// see what the path sends).
    fn owned_egress_stats(&mut self, tid: TransportId, now: Instant) {
        let Some(t) = self.transports.get(&tid) else {
            return;
        };
        let rtt = t.owned_rtt();
        let samples: SmallVec<[(ConsumerId, crate::stats::EgressSample); 8]> = t
            .consumers
            .iter()
            .filter_map(|cid| {
                let ssrc = self.consumers.get(cid)?.ssrc?;
                let sent = t.owned_stream_sent(ssrc)?;
                let sample = crate::stats::EgressSample {
                    timestamp: now,
                    bytes: sent.bytes,
                    packets: sent.packets,
                    nacks: sent.nacks,
                    plis: sent.plis,
                    firs: sent.firs,
                    rtt,
                    remote: sent.remote,
                };
                Some((*cid, sample))
            })
            .collect();
        for (cid, sample) in samples {
            self.on_egress_sample(cid, &sample);
        }
    }

    pub(super) fn schedule_allocation(&mut self, tid: TransportId, at: Instant) {
        if self.transports.contains_key(&tid) {
            self.hub.timers.set(Timer::Allocate(tid), Some(at));
        }
    }

    pub(super) fn allocation_timeout(&mut self, tid: TransportId, now: Instant) {
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        let has_estimate = t.allocator.estimate().is_some();
        let warmed_up = t.allocator.warmed_up(now);
        let remb = t.max_incoming_bitrate;
        if warmed_up {
            self.allocate(tid, now);
        }
        if let Some(max) = remb {
            self.send_remb(tid, max);
        }
        let next = match (has_estimate, remb.is_some()) {
            (true, _) => Some(now + ALLOCATION_INTERVAL),
            (false, true) => Some(now + REMB_INTERVAL),
            _ => None,
        };
        if let Some(at) = next {
            self.schedule_allocation(tid, at);
        }
    }

    fn allocate(&mut self, tid: TransportId, now: Instant) {
        let Some(t) = self.transports.get(&tid) else {
            return;
        };
        let mut audio = 0u64;
        let mut cands = Vec::new();
        for cid in &t.consumers {
            let Some(c) = self.consumers.get(cid) else {
                continue;
            };
            if c.ssrc.is_none() || c.paused || c.producer_paused {
                continue;
            }
            let Some(p) = self.producers.get(&c.producer) else {
                continue;
            };
            if c.kind.is_audio() {
                let measured = p.layers.first().map_or(0, |l| l.bitrate_bps);
                audio += if measured > 0 { measured } else { AUDIO_BPS };
                continue;
            }
            let layers: SmallVec<[Option<u64>; 3]> = p
                .layers
                .iter()
                .map(|l| l.live.then_some(l.bitrate_bps))
                .collect();
            // A single-layer producer not measured yet still counts as live.
            let layers = if p.layers.len() == 1 && layers[0].is_none() && p.packets > 0 {
                smallvec::smallvec![Some(p.layers[0].bitrate_bps)]
            } else {
                layers
            };
            let preferred = c.selector.wanted_spatial(&layers);
            cands.push(Candidate {
                flowing: c.current.map(|l| l.spatial),
                id: *cid,
                priority: c.priority,
                layers,
                preferred,
            });
        }
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        let decisions = t.allocator.handle_timeout(now, audio, &cands);
        // Padding keeps the estimate honest up to what is allocated; a
        // desired rate above the estimate makes str0m probe for more.
        let minimum = t.allocator.allocated_bps;
        if let Some(e) = t.allocator.refresh_estimator(now) {
            t.reset_estimate(e);
        }
        let desired = t.allocator.desired_for_str0m(now);
        t.set_estimator_rates(now, minimum, desired.max(minimum));
        self.drain_transport(tid);
        for ((cid, layer), cand) in decisions.into_iter().zip(&cands) {
            self.apply_allocation(tid, cid, layer.map(|l| (l, cap_for(cand, l))));
        }
    }

    /// Give a consumer its share: a bitrate cap for its layer selector, or a
    /// pause when not even its lowest layer fits.
    fn apply_allocation(&mut self, tid: TransportId, cid: ConsumerId, share: Option<(u8, u64)>) {
        let Some(c) = self.consumers.get_mut(&cid) else {
            return;
        };
        let Some(p) = self.producers.get(&c.producer) else {
            return;
        };
        let states = p.layer_states();
        let bitrate = share.map(|(_, cap)| cap);
        // `allocated_bps` is `None` both before the first allocation and
        // when paused: a first decision that pauses is a change too.
        let changed = c.allocated_bps != bitrate || (share.is_none() && !c.bw_paused);
        c.allocated_bps = bitrate;
        match share {
            None => c.bw_paused = true,
            Some((_, cap)) => {
                if c.bw_paused {
                    c.bw_paused = false;
                    c.restart();
                }
                c.selector.set_allocated(Some(cap), &states);
                let target = c.selector.target().spatial;
                c.urgent_down = c.current.is_some_and(|cur| cur.spatial > target);
            }
        }
        let want = c.keyframe_wish();
        if changed {
            tracing::debug!(consumer = ?cid, transport = ?tid, ?bitrate, "consumer allocation");
            self.emit(Event::ConsumerAllocationChanged {
                consumer: cid,
                transport: tid,
                bitrate,
            });
        }
        if let Some((pid, layer)) = want {
            self.request_keyframe(pid, Some(layer));
        }
    }

    /// Tell the client's sender how much it may send us (REMB).
    fn send_remb(&mut self, tid: TransportId, max: u64) {
        let Some(t) = self.transports.get(&tid) else {
            return;
        };
        let streams: SmallVec<[_; 4]> = t
            .producers
            .iter()
            .filter_map(|pid| self.producers.get(pid))
            .filter(|p| p.kind.is_video())
            .flat_map(|p| p.layers.iter().map(move |l| (p.mid, l.key)))
            .collect();
        if streams.is_empty() {
            return;
        }
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        t.request_remb(&streams, max);
        self.drain_transport(tid);
    }
}
