//! Demultiplexing on the shared port with 1,000 and 10,000 transports.
//!
//! Each router holds K transports created without an offer (ICE credentials
//! and a str0m instance each, the state a signaling server creates per
//! client) plus one transport connected to a str0m client. Timed, per
//! datagram: `handle_input(Input::Receive)` and `poll_output` until
//! `Timeout`, for
//!
//! * `stun_unknown_ufrag`: a STUN binding request whose USERNAME names no
//!   transport (dropped after the ufrag and address lookups);
//! * `unknown_source`: an RTP-looking datagram from an address no transport
//!   authenticated (dropped after the address lookup);
//! * `stun_routed`: a real ICE consent check captured from the connected
//!   client, routed by ufrag to its transport, verified by str0m and
//!   answered (the answer is drained);
//! * `create_transport`: `create_webrtc_transport` on a router that already
//!   has K transports (each one closed again outside the timed section).
//!
//! Setup time and memory for the K transports are printed.

mod support;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use manifold_sfu::{
    Input, ListenInfo, Output, Router, RouterConfig, RouterStats, WebRtcTransportOptions,
};

use manifold_testkit::Client;
use support::{connect, thread_cpu, CpuTime};

const SIZES: [usize; 2] = [1_000, 10_000];

fn server() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn options() -> WebRtcTransportOptions {
    WebRtcTransportOptions::new([ListenInfo::new(server())])
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// A STUN binding request as a browser sends it, with a made-up USERNAME.
fn stun_request(username: &str) -> Vec<u8> {
    fn attr(out: &mut Vec<u8>, typ: u16, value: &[u8]) {
        out.extend_from_slice(&typ.to_be_bytes());
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    let mut attrs = Vec::new();
    attr(&mut attrs, 0x0006, username.as_bytes()); // USERNAME
    attr(&mut attrs, 0x0024, &[0x6e, 0x00, 0x01, 0xff]); // PRIORITY
    attr(&mut attrs, 0x802a, &[7; 8]); // ICE-CONTROLLING
    attr(&mut attrs, 0x0008, &[0; 20]); // MESSAGE-INTEGRITY
    attr(&mut attrs, 0x8028, &[0; 4]); // FINGERPRINT
    let mut p = Vec::with_capacity(20 + attrs.len());
    p.extend_from_slice(&0x0001u16.to_be_bytes());
    p.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    p.extend_from_slice(b"benchtransid");
    p.extend_from_slice(&attrs);
    p
}

struct Setup {
    router: Router,
    now: Instant,
    client: SocketAddr,
    consent: Vec<u8>,
}

impl Setup {
    fn new(k: usize) -> Setup {
        let mut config = RouterConfig::default();
        config.limits.max_transports = k + 16;
        let mut now = Instant::now();
        let mut router = Router::new(config, now);
        let mem = rss();
        let (wall, cpu) = (Instant::now(), thread_cpu());
        for _ in 0..k {
            router
                .create_webrtc_transport(now, options())
                .expect("create transport");
            while !matches!(router.poll_output(), Output::Timeout(_)) {}
        }
        eprintln!(
            "demux: created {k} transports in {:?} wall, {:?} CPU ({:?} CPU each), +{} MiB RSS ({} KiB each)",
            wall.elapsed(),
            thread_cpu() - cpu,
            (thread_cpu() - cpu) / k as u32,
            (rss() - mem) >> 20,
            ((rss() - mem) / k as u64) >> 10,
        );
        // One connected client, whose consent check is the routed datagram.
        let mut client = Client::new("client", "127.0.0.1:50000".parse().unwrap(), now);
        let mut sent = Vec::new();
        let mut cpu = Duration::ZERO;
        connect(
            &mut router,
            &mut client,
            server(),
            &mut now,
            true,
            true,
            &mut cpu,
            Some(&mut sent),
        );
        let consent = sent
            .iter()
            .rev()
            .find(|d| d.len() >= 20 && d[0] < 4 && d[0..2] == [0, 1])
            .expect("a STUN binding request from the client")
            .clone();
        while !matches!(router.poll_output(), Output::Timeout(_)) {}
        Setup {
            router,
            now,
            client: client.addr,
            consent,
        }
    }

    fn receive(&mut self, source: SocketAddr, data: &[u8]) -> u64 {
        self.router
            .handle_input(Input::receive(self.now, source, server(), data));
        let mut transmits = 0;
        loop {
            match self.router.poll_output() {
                Output::Transmit(t) => {
                    black_box(t);
                    transmits += 1;
                }
                Output::Timeout(_) => return transmits,
                _ => {}
            }
        }
    }

    /// Check what one datagram does to the counters.
    fn check(&mut self, source: SocketAddr, data: &[u8], what: fn(&RouterStats) -> u64) -> u64 {
        let before = what(&self.router.stats());
        let transmits = self.receive(source, data);
        assert_eq!(what(&self.router.stats()), before + 1);
        transmits
    }
}

fn demux(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("demux");
    let stranger: SocketAddr = "10.9.9.9:9999".parse().unwrap();
    let unknown_stun = stun_request("NoSuchUfrag00000:peer");
    let mut rtp = vec![0u8; 1000];
    rtp[0] = 0x80;
    rtp[1] = 96;
    let sizes: &[usize] = if support::measuring() { &SIZES } else { &[100] };
    for &k in sizes {
        let mut s = Setup::new(k);
        s.check(stranger, &unknown_stun, |st| st.dropped_unknown_ufrag);
        s.check(stranger, &rtp, |st| st.dropped_unknown_source);
        let client = s.client;
        let consent = s.consent.clone();
        let before = s.router.stats();
        assert_eq!(s.receive(client, &consent), 1, "consent check answered");
        let after = s.router.stats();
        assert_eq!(after.datagrams_in, before.datagrams_in + 1);
        assert_eq!(
            (after.dropped_rejected, after.transport_errors),
            (before.dropped_rejected, before.transport_errors)
        );

        g.bench_function(BenchmarkId::new("stun_unknown_ufrag", k), |b| {
            b.iter(|| s.receive(stranger, &unknown_stun))
        });
        g.bench_function(BenchmarkId::new("unknown_source", k), |b| {
            b.iter(|| s.receive(stranger, &rtp))
        });
        g.bench_function(BenchmarkId::new("stun_routed", k), |b| {
            b.iter(|| s.receive(client, &consent))
        });
        g.bench_function(BenchmarkId::new("create_transport", k), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = thread_cpu();
                    let t = s.router.create_webrtc_transport(s.now, options());
                    total += thread_cpu() - start;
                    let t = t.expect("create transport");
                    s.router.transport(t).expect("transport").close(s.now);
                    while !matches!(s.router.poll_output(), Output::Timeout(_)) {}
                }
                total
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = support::criterion();
    demux(&mut c);
    c.final_summary();
}
