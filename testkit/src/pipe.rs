//! Two routers linked by a pipe, each in its own [`Sim`], on one virtual
//! clock: the host's part of an in-process pipe (carry every message of
//! one router's end to the other's, in order), with optional seeded loss
//! of the RTP messages from A to B; and [`RemotePipePair`], the same over
//! a remote pipe whose sealed datagrams cross seeded lossy links.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use manifold_sfu::{
    Input, PipeId, PipeMessage, PipeRole, ProducerId, RemotePipeOptions, RouterConfig,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::link::{Link, LinkConfig};
use crate::sim::Sim;

/// Send each of `producers` (of `from`'s router) through its pipe end
/// `pipe`, at `from`'s time.
pub fn send_through(from: &mut Sim, pipe: PipeId, producers: &[ProducerId]) {
    let now = from.now;
    for id in producers {
        let mut end = from.router.pipe(pipe).expect("an open pipe end");
        end.send_producer(now, *id).expect("send_producer");
    }
}

/// The producers pipe end `pipe` of `to`'s router brought in (its own ids),
/// in the order they were announced.
pub fn piped_producers(to: &mut Sim, pipe: PipeId) -> Vec<ProducerId> {
    to.router
        .pipe(pipe)
        .expect("an open pipe end")
        .received_producers()
        .iter()
        .map(|(_, local)| *local)
        .collect()
}

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

/// Router A and router B linked by a *remote* pipe: its sealed datagrams
/// travel over two seeded [`Link`]s (loss, delay, jitter that reorders),
/// one each way, on one virtual clock.
pub struct RemotePipePair {
    /// The sim around router A.
    pub a: Sim,
    /// The sim around router B.
    pub b: Sim,
    /// A's end of the pipe.
    pub pipe_a: PipeId,
    /// B's end of the pipe.
    pub pipe_b: PipeId,
    /// A's pipe address.
    pub addr_a: SocketAddr,
    /// B's pipe address.
    pub addr_b: SocketAddr,
    /// The link from A to B.
    pub a_to_b: Link,
    /// The link from B to A.
    pub b_to_a: Link,
    /// The pipe's key (the same at both ends).
    pub key: [u8; 32],
    /// Every datagram carried from A to B, delivered or not, for tests
    /// that replay one.
    pub sent_a_to_b: Vec<Vec<u8>>,
    /// Pipe datagrams sent to an address other than the other end's.
    pub stray: u64,
    /// Share of the datagrams (each way) delayed by 3 ms more than the
    /// link's delay, so that those sent just after overtake them:
    /// reordering, on top of the links' own jitter.
    pub reorder: f64,
    /// Datagrams delayed that way.
    pub reordered: u64,
    rng: StdRng,
    /// Real UDP sockets on 127.0.0.1 (A's, B's) carrying the datagrams
    /// instead of the links ([`RemotePipePair::over_udp`]).
    udp: Option<[UdpSocket; 2]>,
    /// Datagrams sent over `udp` that did not arrive within the wait.
    pub udp_lost: u64,
    udp_inbox: Vec<(usize, SocketAddr, SocketAddr, Vec<u8>)>,
}

impl RemotePipePair {
    /// Two routers with these configs on one clock, a remote pipe end on
    /// each, links `a_to_b` and `b_to_a` seeded from `seed`.
    pub fn new(
        config_a: RouterConfig,
        config_b: RouterConfig,
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
        seed: u64,
    ) -> RemotePipePair {
        let addr_a: SocketAddr = "10.9.0.1:7000".parse().unwrap();
        let addr_b: SocketAddr = "10.9.0.2:7000".parse().unwrap();
        Self::with_addrs(config_a, config_b, a_to_b, b_to_a, seed, addr_a, addr_b)
    }

    /// The same, the pipe's datagrams carried by two real UDP sockets
    /// bound on 127.0.0.1 (the pipe ends' addresses are theirs): the
    /// routers still run on the virtual clock; each datagram sent is
    /// waited for up to 500 ms of real time.
    pub fn over_udp(
        config_a: RouterConfig,
        config_b: RouterConfig,
        seed: u64,
    ) -> std::io::Result<RemotePipePair> {
        let sa = UdpSocket::bind("127.0.0.1:0")?;
        let sb = UdpSocket::bind("127.0.0.1:0")?;
        for s in [&sa, &sb] {
            s.set_read_timeout(Some(Duration::from_millis(500)))?;
        }
        let (addr_a, addr_b) = (sa.local_addr()?, sb.local_addr()?);
        let quiet = LinkConfig::default();
        let mut pair = Self::with_addrs(config_a, config_b, quiet, quiet, seed, addr_a, addr_b);
        pair.udp = Some([sa, sb]);
        Ok(pair)
    }

    fn with_addrs(
        config_a: RouterConfig,
        config_b: RouterConfig,
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
        seed: u64,
        addr_a: SocketAddr,
        addr_b: SocketAddr,
    ) -> RemotePipePair {
        let start = Instant::now();
        let mut a = Sim::with_config_at(config_a, start);
        let mut b = Sim::with_config_at(config_b, start);
        let mut rng = StdRng::seed_from_u64(seed);
        let key: [u8; 32] = rng.random();
        let pipe_a = a
            .router
            .create_remote_pipe(
                start,
                RemotePipeOptions::new(addr_a, addr_b, key, PipeRole::A),
            )
            .unwrap();
        let pipe_b = b
            .router
            .create_remote_pipe(
                start,
                RemotePipeOptions::new(addr_b, addr_a, key, PipeRole::B),
            )
            .unwrap();
        RemotePipePair {
            a,
            b,
            pipe_a,
            pipe_b,
            addr_a,
            addr_b,
            a_to_b: Link::new(a_to_b, seed ^ 0xa),
            b_to_a: Link::new(b_to_a, seed ^ 0xb),
            key,
            sent_a_to_b: Vec::new(),
            stray: 0,
            reorder: 0.0,
            reordered: 0,
            rng,
            udp: None,
            udp_lost: 0,
            udp_inbox: Vec::new(),
        }
    }

    /// The shared clock.
    pub fn now(&self) -> Instant {
        self.a.now
    }

    /// Drain both routers, put their pipe datagrams on the links and
    /// deliver what is due, until nothing moves; then check both routers'
    /// invariants.
    pub fn carry(&mut self) {
        loop {
            self.a.drain_router();
            self.b.drain_router();
            let now = self.now();
            let mut moved = false;
            for t in std::mem::take(&mut self.a.pipe_datagrams) {
                moved = true;
                if t.destination != self.addr_b || t.source != self.addr_a {
                    self.stray += 1;
                    continue;
                }
                self.sent_a_to_b.push(t.contents.to_vec());
                self.put(0, now, t.contents.to_vec());
            }
            for t in std::mem::take(&mut self.b.pipe_datagrams) {
                moved = true;
                if t.destination != self.addr_a || t.source != self.addr_b {
                    self.stray += 1;
                    continue;
                }
                self.put(1, now, t.contents.to_vec());
            }
            for (dir, source, dest, d) in std::mem::take(&mut self.udp_inbox) {
                moved = true;
                let sim = if dir == 0 { &mut self.b } else { &mut self.a };
                sim.router
                    .handle_input(Input::receive(now, source, dest, &d));
            }
            while let Some(d) = self.a_to_b.pop_due(now) {
                moved = true;
                self.b
                    .router
                    .handle_input(Input::receive(now, self.addr_a, self.addr_b, &d));
            }
            while let Some(d) = self.b_to_a.pop_due(now) {
                moved = true;
                self.a
                    .router
                    .handle_input(Input::receive(now, self.addr_b, self.addr_a, &d));
            }
            if !moved {
                manifold_sfu::testkit_hooks::check_invariants(&mut self.a.router);
                manifold_sfu::testkit_hooks::check_invariants(&mut self.b.router);
                return;
            }
        }
    }

    /// Put a datagram on link `dir` (0: A to B), maybe late.
    fn put(&mut self, dir: usize, now: Instant, d: Vec<u8>) {
        if let Some(udp) = self.udp.take() {
            match Self::udp_send_recv(&udp, dir, &d) {
                Some((source, dest, data)) => self.udp_inbox.push((dir, source, dest, data)),
                None => self.udp_lost += 1,
            }
            self.udp = Some(udp);
            return;
        }
        let mut at = now;
        if self.reorder > 0.0 && self.rng.random_bool(self.reorder) {
            self.reordered += 1;
            at += Duration::from_millis(3);
        }
        let link = match dir {
            0 => &mut self.a_to_b,
            _ => &mut self.b_to_a,
        };
        link.send(at, d);
    }

    /// Send `d` from one socket to the other and wait for it: (source
    /// as the kernel reports it, destination, bytes).
    fn udp_send_recv(
        udp: &[UdpSocket; 2],
        dir: usize,
        d: &[u8],
    ) -> Option<(SocketAddr, SocketAddr, Vec<u8>)> {
        let (from, to) = (&udp[dir], &udp[1 - dir]);
        let dest = to.local_addr().ok()?;
        from.send_to(d, dest).ok()?;
        let mut buf = [0u8; 2048];
        let (n, source) = to.recv_from(&mut buf).ok()?;
        Some((source, dest, buf[..n].to_vec()))
    }

    /// Feed B a datagram as if it came from A.
    pub fn inject_into_b(&mut self, data: &[u8]) {
        let now = self.now();
        self.b
            .router
            .handle_input(Input::receive(now, self.addr_a, self.addr_b, data));
        self.carry();
    }

    /// Run both sims for `dur` more virtual time, carrying datagrams after
    /// every step.
    pub fn run_for(&mut self, dur: Duration) {
        let end = self.now() + dur;
        self.carry();
        while self.now() < end {
            let mut next = self.a.next_event().min(self.b.next_event()).min(end);
            for l in [&self.a_to_b, &self.b_to_a] {
                if let Some(t) = l.next_delivery() {
                    next = next.min(t);
                }
            }
            let next = next.max(self.now());
            self.a.step_to(next);
            self.b.step_to(next);
            self.carry();
        }
    }
}
