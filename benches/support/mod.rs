//! Shared by the benches: a CPU-time measurement.
//!
//! The benches run on a small shared machine where other builds compete for
//! the cores; wall time then counts the time the bench thread waits for a
//! core. Criterion is configured with [`CpuTime`], the calling thread's CPU
//! time (`CLOCK_THREAD_CPUTIME_ID`), which only counts time spent running.

#![allow(dead_code)]

pub mod floor;

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// The calling thread's CPU time.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Criterion measurement: CPU time of the benchmark thread.
pub struct CpuTime;

static WALL: WallTime = WallTime;

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

/// A criterion configured from the command line, measuring CPU time.
pub fn criterion() -> criterion::Criterion<CpuTime> {
    criterion::Criterion::default()
        .with_measurement(CpuTime)
        .configure_from_args()
}

/// Run `f`, adding its CPU time to `total`. Not inlined, so a profiler can
/// collect exactly the router's share (`--toggle-collect='*support::timed*'`).
#[inline(never)]
pub fn timed<R>(total: &mut Duration, f: impl FnOnce() -> R) -> R {
    let start = thread_cpu();
    let r = f();
    *total += thread_cpu().saturating_sub(start);
    r
}

/// Connect a str0m client to a new transport of `router` with no network in
/// between (zero latency, virtual clock): create the transport, answer the
/// client's offer (`audio`/`video` sendonly) and exchange datagrams until
/// both ends report connected. The router's CPU time (create, accept_offer,
/// handle_input, poll_output) is added to `router_cpu`; the client's is not.
/// `sent` receives every datagram the client sent to the router.
#[allow(clippy::too_many_arguments)]
pub fn connect(
    router: &mut manifold_sfu::Router,
    client: &mut manifold_testkit::Client,
    server: std::net::SocketAddr,
    now: &mut std::time::Instant,
    audio: bool,
    video: bool,
    router_cpu: &mut Duration,
    mut sent: Option<&mut Vec<Vec<u8>>>,
) -> manifold_sfu::TransportId {
    use manifold_sfu::{Input, ListenInfo, Output, WebRtcTransportOptions};

    let offer = client.offer_send(audio, video);
    let options = WebRtcTransportOptions::new([ListenInfo::new(server)]);
    let t = timed(router_cpu, || router.create_webrtc_transport(*now, options))
        .expect("create transport");
    let answer = timed(router_cpu, || {
        router
            .transport(t)
            .expect("transport")
            .accept_offer(*now, &offer)
    })
    .expect("accept offer");
    client.accept_answer(&answer);
    let deadline = *now + Duration::from_secs(30);
    loop {
        // Router to client.
        let mut to_client = Vec::new();
        let router_timeout = timed(router_cpu, || loop {
            match router.poll_output() {
                Output::Transmit(tx) if tx.destination == client.addr => {
                    to_client.push(tx.contents)
                }
                Output::Timeout(at) => break at,
                _ => {}
            }
        });
        for d in &to_client {
            client.handle_datagram(*now, server, d);
        }
        // Client to router.
        let to_router: Vec<_> = client
            .drain(*now)
            .into_iter()
            .filter(|(dest, _)| *dest == server)
            .map(|(_, d)| d)
            .collect();
        for d in &to_router {
            timed(router_cpu, || {
                router.handle_input(Input::receive(*now, client.addr, server, d))
            });
        }
        if let Some(s) = sent.as_deref_mut() {
            s.extend(to_router.iter().cloned());
        }
        let router_connected = router.transport(t).is_some_and(|v| v.is_connected());
        if client.connected && router_connected && to_client.is_empty() && to_router.is_empty() {
            return t;
        }
        if to_client.is_empty() && to_router.is_empty() {
            // Nothing in flight: jump to the next timeout.
            assert!(*now < deadline, "connect timed out");
            let next = router_timeout.min(client.timeout).max(*now);
            *now = next;
            timed(router_cpu, || router.handle_input(Input::Timeout(next)));
            client.handle_timeout(next);
        }
    }
}

/// Whether this run measures (`cargo bench`, which passes `--bench`) rather
/// than smoke-tests (`cargo test --all-targets` runs each benchmark once):
/// smoke tests use smaller sizes so the test suite stays quick.
pub fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}
