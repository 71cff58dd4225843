//! Keyframes and layer liveness: asking publishers for keyframes on behalf
//! of consumers (merged and throttled per layer), and moving consumers'
//! targets when a producer's layers come and go.

use std::time::Instant;

use smallvec::SmallVec;
use tracing::trace;

use super::timers::Timer;
use super::Router;
use crate::ProducerId;

impl Router {
    /// Ask the producer's sender for a keyframe of one layer (`None`: every
    /// layer), throttled per layer.
    pub(crate) fn request_keyframe(&mut self, pid: ProducerId, layer: Option<u8>) {
        let now = self.now;
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        if !p.kind.is_video() {
            return;
        }
        let layers: SmallVec<[u8; 3]> = match layer {
            Some(l) if (l as usize) < p.layers.len() => smallvec::smallvec![l],
            // SVC: one encoding carries every spatial layer, and an
            // up-switch needs its keyframe.
            Some(_) if p.svc_layers > 1 => smallvec::smallvec![0],
            Some(_) => SmallVec::new(),
            None => (0..p.layers.len() as u8).collect(),
        };
        for l in layers {
            let Some(p) = self.producers.get_mut(&pid) else {
                return;
            };
            if p.layers[l as usize].keyframe.request(now) {
                self.send_keyframe_request(pid, l);
            }
            self.schedule_keyframe(pid, l);
        }
    }

    /// Ask for the keyframe a consumer waits for, if it waits for one.
    pub(crate) fn request_wished_keyframe(&mut self, cid: crate::ConsumerId) {
        let wish = self.consumers.get(&cid).and_then(|c| c.keyframe_wish());
        if let Some((pid, layer)) = wish {
            self.request_keyframe(pid, Some(layer));
        }
    }

    pub(super) fn keyframe_timeout(&mut self, pid: ProducerId, layer: u8, now: Instant) {
        let Some(l) = self
            .producers
            .get_mut(&pid)
            .and_then(|p| p.layers.get_mut(layer as usize))
        else {
            return;
        };
        if l.keyframe.handle_timeout(now) {
            self.send_keyframe_request(pid, layer);
        }
        self.schedule_keyframe(pid, layer);
    }

    fn schedule_keyframe(&mut self, pid: ProducerId, layer: u8) {
        let at = self
            .producers
            .get(&pid)
            .and_then(|p| p.layers.get(layer as usize))
            .and_then(|l| l.keyframe.poll_timeout());
        self.hub.timers.set(Timer::Keyframe(pid, layer), at);
    }

    fn send_keyframe_request(&mut self, pid: ProducerId, layer: u8) {
        if self.pipe_keyframe_request(pid, layer) {
            return;
        }
        let Some(p) = self.producers.get(&pid) else {
            return;
        };
        let Some(key) = p.layers.get(layer as usize).map(|l| l.key) else {
            return;
        };
        let (tid, mid) = (p.transport, p.mid);
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        t.request_keyframe(mid, key);
        self.stats.keyframe_requests += 1;
        trace!(producer = %pid, layer, "keyframe request (PLI) sent to the publisher");
        self.drain_transport(tid);
    }

    /// The layer monitor of a multi-layer producer: re-evaluate which layers
    /// are live and move consumers' targets accordingly.
    pub(super) fn layers_timeout(&mut self, pid: ProducerId, now: Instant) {
        let Some(p) = self.producers.get_mut(&pid) else {
            return;
        };
        let changed = p.handle_monitor_timeout(now);
        self.hub
            .timers
            .set(Timer::Layers(pid), p.poll_monitor_timeout());
        if changed {
            self.update_layer_targets(pid);
        }
    }

    /// Recompute every consumer's target of this producer and ask for the
    /// keyframes the new targets need.
    pub(crate) fn update_layer_targets(&mut self, pid: ProducerId) {
        let Some(p) = self.producers.get(&pid) else {
            return;
        };
        let states = p.layer_states();
        let mut want = SmallVec::<[u8; 3]>::new();
        for cid in &p.consumers {
            if let Some(c) = self.consumers.get_mut(cid) {
                c.selector.update(&states);
                if let Some((_, l)) = c.keyframe_wish() {
                    want.push(l);
                }
            }
        }
        want.sort_unstable();
        want.dedup();
        for l in want {
            self.request_keyframe(pid, Some(l));
        }
    }
}
