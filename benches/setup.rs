//! CPU cost of setting up one transport: `create_webrtc_transport`,
//! `accept_offer` (a publisher's audio + video offer, WHIP style) and the
//! full ICE + DTLS handshake until both ends are connected, with a str0m
//! client and no network in between (zero latency, virtual clock).
//!
//! Only the router's calls are timed (create, accept_offer, handle_input,
//! poll_output); the client's work is not. One router serves every
//! iteration, as in production (it caches one DTLS certificate); each
//! transport is closed again outside the timed section.
//!
//! `SETUP_PROFILE=<n>` sets up n transports once and prints the router's CPU
//! time, for profilers (`--toggle-collect='*support::timed*'`).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::Criterion;
use manifold_sfu::{Output, Router, RouterConfig};

use common::Client;
use support::{connect, thread_cpu, CpuTime};

struct Setup {
    router: Router,
    now: Instant,
    server: SocketAddr,
    clients: u16,
}

impl Setup {
    fn new() -> Setup {
        let now = Instant::now();
        Setup {
            router: Router::new(RouterConfig::default(), now),
            now,
            server: "127.0.0.1:40000".parse().unwrap(),
            clients: 0,
        }
    }

    /// Connect one more client; returns the router's CPU time for it.
    fn one(&mut self) -> Duration {
        self.clients = self.clients.wrapping_add(1);
        let addr = SocketAddr::from(([10, 0, 0, 1], 1024 + self.clients % 60_000));
        let mut client = Client::new("client", addr, self.now);
        let mut cpu = Duration::ZERO;
        let t = connect(
            &mut self.router,
            &mut client,
            self.server,
            &mut self.now,
            true,
            true,
            &mut cpu,
            None,
        );
        self.router.transport(t).expect("transport").close(self.now);
        while !matches!(self.router.poll_output(), Output::Timeout(_)) {}
        cpu
    }
}

fn setup(c: &mut Criterion<CpuTime>) {
    let start = thread_cpu();
    let mut s = Setup::new();
    eprintln!(
        "setup: Router::new (generates the DTLS certificate) {:?} CPU",
        thread_cpu() - start
    );
    let first = s.one();
    eprintln!("setup: first transport {first:?} CPU");
    let mut g = c.benchmark_group("setup");
    g.bench_function("transport_connected", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| s.one()).sum())
    });
    g.finish();
    assert_eq!(s.router.counts().transports, 0);
}

fn main() {
    if let Ok(n) = std::env::var("SETUP_PROFILE") {
        let n: u32 = n.parse().expect("number of transports");
        let mut s = Setup::new();
        s.one();
        let total: Duration = (0..n).map(|_| s.one()).sum();
        println!("{n} transports: {total:?} router CPU, {:?} each", total / n);
        return;
    }
    let mut c = support::criterion();
    setup(&mut c);
    c.final_summary();
}
