//! Seeded simulated network links: delay, jitter (which reorders), random
//! loss and a rate cap with a bounded queue.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How one direction of a link behaves.
#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    /// One-way delay.
    pub delay: Duration,
    /// Up to this much extra delay, uniformly random per datagram (so
    /// datagrams reorder).
    pub jitter: Duration,
    /// Probability that a datagram is lost, 0.0..=1.0.
    pub loss: f64,
    /// Bits per second; `None` is unlimited.
    pub rate_bps: Option<u64>,
    /// Longest a datagram may wait in the rate-limited queue before being dropped.
    pub max_queue: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: Duration::from_millis(20),
            jitter: Duration::ZERO,
            loss: 0.0,
            rate_bps: None,
            max_queue: Duration::from_millis(300),
        }
    }
}

impl LinkConfig {
    /// The default link, losing each datagram with probability `loss`.
    pub fn lossy(loss: f64) -> Self {
        LinkConfig {
            loss,
            ..Default::default()
        }
    }
}

/// One direction of a simulated link: datagrams in flight until their
/// delivery time, from a seeded RNG.
pub struct Link {
    /// How it behaves; may be changed mid-run (a cap set or lifted).
    pub config: LinkConfig,
    rng: StdRng,
    in_flight: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>>,
    order: u64,
    busy_until: Option<Instant>,
    /// Datagrams handed to the link.
    pub sent: u64,
    /// Datagrams it dropped (random loss or a full queue).
    pub lost: u64,
    /// A copy of every datagram handed to the link, while `Some` (a test
    /// reads what a peer sent; off by default).
    pub recorded: Option<Vec<Vec<u8>>>,
}

impl Link {
    /// A link with `config`, its randomness seeded with `seed`.
    pub fn new(config: LinkConfig, seed: u64) -> Self {
        Link {
            config,
            rng: StdRng::seed_from_u64(seed),
            in_flight: BinaryHeap::new(),
            order: 0,
            busy_until: None,
            sent: 0,
            lost: 0,
            recorded: None,
        }
    }

    /// Put a datagram on the link at `now` (it may be lost).
    pub fn send(&mut self, now: Instant, data: Vec<u8>) {
        self.sent += 1;
        if let Some(r) = &mut self.recorded {
            r.push(data.clone());
        }
        if self.config.loss > 0.0 && self.rng.random_bool(self.config.loss.min(1.0)) {
            self.lost += 1;
            return;
        }
        let mut at = now;
        if let Some(rate) = self.config.rate_bps {
            let start = self.busy_until.map_or(now, |b| b.max(now));
            if start - now > self.config.max_queue {
                self.lost += 1;
                return;
            }
            let tx = Duration::from_nanos(data.len() as u64 * 8 * 1_000_000_000 / rate.max(1));
            self.busy_until = Some(start + tx);
            at = start + tx;
        }
        at += self.config.delay;
        if !self.config.jitter.is_zero() {
            let j = self
                .rng
                .random_range(0..=self.config.jitter.as_micros() as u64);
            at += Duration::from_micros(j);
        }
        self.order += 1;
        self.in_flight.push(Reverse((at, self.order, data)));
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.peek().map(|Reverse((t, _, _))| *t)
    }

    /// The next datagram due by `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.next_delivery()? <= now {
            self.in_flight.pop().map(|Reverse((_, _, d))| d)
        } else {
            None
        }
    }
}
