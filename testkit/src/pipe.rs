//! Two routers linked by a pipe, each in its own [`Sim`], on one virtual
//! clock: the host's part of an in-process pipe (carry every message of
//! one router's end to the other's, in order), with optional seeded loss
//! of the RTP messages from A to B.

use std::time::{Duration, Instant};

use manifold_sfu::{Input, PipeId, PipeMessage, RouterConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::sim::Sim;

/// Router A (in [`a`](Self::a)) and router B (in [`b`](Self::b)), their
/// pipe ends, and what was carried between them.
pub struct PipePair {
    /// The sim around router A.
    pub a: Sim,
    /// The sim around router B.
    pub b: Sim,
    /// A's end of the pipe.
    pub pipe_a: PipeId,
    /// B's end of the pipe.
    pub pipe_b: PipeId,
    /// Share of the RTP messages from A to B lost on the way (control
    /// messages always arrive).
    pub loss: f64,
    /// RTP messages carried from A to B (lost ones included).
    pub rtp_a_to_b: u64,
    /// Of those, how many were lost.
    pub lost: u64,
    /// Keyframe requests carried from B to A.
    pub keyframe_requests_b_to_a: u64,
    /// Messages for a pipe end other than the pair's (a second pipe the
    /// test made): not carried.
    pub stray: u64,
    rng: StdRng,
}

impl PipePair {
    /// Two routers with these configs on one clock, a pipe end on each.
    pub fn new(config_a: RouterConfig, config_b: RouterConfig, seed: u64) -> PipePair {
        let start = Instant::now();
        let mut a = Sim::with_config_at(config_a, start);
        let mut b = Sim::with_config_at(config_b, start);
        let pipe_a = a.router.create_pipe(start).unwrap();
        let pipe_b = b.router.create_pipe(start).unwrap();
        PipePair {
            a,
            b,
            pipe_a,
            pipe_b,
            loss: 0.0,
            rtp_a_to_b: 0,
            lost: 0,
            keyframe_requests_b_to_a: 0,
            stray: 0,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The shared clock.
    pub fn now(&self) -> Instant {
        self.a.now
    }

    /// Drain both routers and carry pipe messages both ways until none
    /// are left (a message may make the other router answer); then check
    /// both routers' invariants.
    pub fn carry(&mut self) {
        loop {
            self.a.drain_router();
            self.b.drain_router();
            if self.a.pipe_out.is_empty() && self.b.pipe_out.is_empty() {
                manifold_sfu::testkit_hooks::check_invariants(&mut self.a.router);
                manifold_sfu::testkit_hooks::check_invariants(&mut self.b.router);
                return;
            }
            let now = self.now();
            for (pipe, m) in std::mem::take(&mut self.a.pipe_out) {
                if pipe != self.pipe_a {
                    self.stray += 1;
                    continue;
                }
                if m.is_media() {
                    self.rtp_a_to_b += 1;
                    if self.loss > 0.0 && self.rng.random_bool(self.loss) {
                        self.lost += 1;
                        continue;
                    }
                }
                self.b.router.handle_input(Input::pipe(now, self.pipe_b, m));
            }
            for (pipe, m) in std::mem::take(&mut self.b.pipe_out) {
                if pipe != self.pipe_b {
                    self.stray += 1;
                    continue;
                }
                if matches!(m, PipeMessage::KeyframeRequest { .. }) {
                    self.keyframe_requests_b_to_a += 1;
                }
                self.a.router.handle_input(Input::pipe(now, self.pipe_a, m));
            }
        }
    }

    /// Run both sims for `dur` more virtual time, carrying pipe messages
    /// after every step.
    pub fn run_for(&mut self, dur: Duration) {
        let end = self.now() + dur;
        self.carry();
        while self.now() < end {
            let next = self
                .a
                .next_event()
                .min(self.b.next_event())
                .min(end)
                .max(self.now());
            self.a.step_to(next);
            self.b.step_to(next);
            self.carry();
        }
    }
}
