//! The timed run (warm-up, steady phase, grace), CPU readings, the progress
//! line and the JSON result.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::histogram::Histogram;
use crate::peer::{Outcome, Tally};
use crate::signal::Signal;
use crate::worker::{self, Shared};
use crate::{load, procfs, Args, Found};

/// After the steady phase: time for retransmissions of steady-phase packets.
const GRACE: Duration = Duration::from_millis(300);

/// What the timed run measured.
pub struct Measured {
    pub steady: Duration,
    /// CPU seconds in the steady phase: the server, its media threads (all
    /// workers), us.
    pub server_cpu: Option<f64>,
    pub media_cpu: Option<f64>,
    pub loadgen_cpu: Option<f64>,
    /// Datagrams dropped by full receive buffers in the steady phase: the
    /// server's socket, ours.
    pub server_drops: Option<u64>,
    pub loadgen_drops: Option<u64>,
    /// The server's own delay histogram over the steady phase (its
    /// `GET /stats` `delay` buckets, after minus before, all workers).
    pub server_delays: Option<Histogram>,
}

/// The reference server's delay buckets summed over its workers (`delay.rs`
/// in the server; none from Janus or a server without them).
fn server_delays(stats: Option<&Signal>) -> Option<Histogram> {
    let json = stats?.stats()?;
    let mut sum = Histogram::default();
    for w in json["workers"].as_array()? {
        for b in w["delay"]["buckets"].as_array()? {
            sum.add(b[0].as_u64()?, b[1].as_u64()?);
        }
    }
    Some(sum)
}

/// CPU time readers: `stat` files summed per figure, ticks → seconds.
struct Cpu {
    tck: f64,
    /// The server process, its media worker threads, this process.
    files: [Vec<PathBuf>; 3],
}

impl Cpu {
    fn new(pid: Option<u32>) -> Cpu {
        let server = pid.map(procfs::process_stat).into_iter().collect();
        let media = pid.map_or_else(Vec::new, |p| procfs::thread_stats(p, "media"));
        let own = vec![procfs::process_stat(std::process::id())];
        Cpu {
            tck: procfs::clk_tck() as f64,
            files: [server, media, own],
        }
    }

    fn read(&self) -> [Option<f64>; 3] {
        self.files.each_ref().map(|files| {
            if files.is_empty() {
                return None;
            }
            let ticks = files
                .iter()
                .map(|f| procfs::cpu_ticks(f))
                .sum::<Option<u64>>()?;
            Some(ticks as f64 / self.tck)
        })
    }
}

/// Warm up, measure the steady phase, let retransmissions in.
pub fn measure(args: &Args, shared: &Shared, found: &Found, stats: Option<&Signal>) -> Measured {
    let total = Duration::from_secs(args.seconds);
    let warmup = Duration::try_from_secs_f64(args.warmup)
        .unwrap_or_default()
        .min(total.saturating_sub(Duration::from_secs(1)));
    let cpu = Cpu::new(found.server_pid);
    let server_ports = &found.server_ports;
    let drops = || {
        let server = procfs::udp_drops(server_ports).filter(|_| !server_ports.is_empty());
        (server, procfs::udp_drops(&found.ports))
    };
    let mut progress = Progress::new(shared, args, &cpu);
    run_for(warmup, shared, &mut progress, "warm-up");
    let c0 = cpu.read();
    let d0 = drops();
    let h0 = server_delays(stats);
    let t0 = Instant::now();
    shared.phase.store(worker::STEADY, Ordering::Release);
    run_for(total - warmup, shared, &mut progress, "steady");
    shared.phase.store(worker::GRACE, Ordering::Release);
    let t1 = Instant::now();
    let c1 = cpu.read();
    let d1 = drops();
    let h1 = server_delays(stats);
    std::thread::sleep(GRACE);
    let delta = |i: usize| Some(c1[i]? - c0[i]?);
    Measured {
        steady: t1 - t0,
        server_cpu: delta(0),
        media_cpu: delta(1),
        loadgen_cpu: delta(2),
        server_drops: d1.0.zip(d0.0).map(|(b, a)| b.saturating_sub(a)),
        loadgen_drops: d1.1.zip(d0.1).map(|(b, a)| b.saturating_sub(a)),
        server_delays: h1.zip(h0).map(|(mut after, before)| {
            after.subtract(&before);
            after
        }),
    }
}

fn run_for(d: Duration, shared: &Shared, progress: &mut Progress, phase: &str) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        let left = end.saturating_duration_since(Instant::now());
        std::thread::sleep(Duration::from_millis(50).min(left));
        progress.tick(shared, phase);
    }
}

/// One line to stderr per second.
pub struct Progress<'a> {
    start: Instant,
    last: Instant,
    counts: (u64, u64),
    cpu: Option<(&'a Cpu, Option<f64>)>,
    publishers: usize,
    subscribers: usize,
}

impl<'a> Progress<'a> {
    fn new(shared: &Shared, args: &Args, cpu: &'a Cpu) -> Self {
        let mut p = Progress::setup(shared, args);
        p.cpu = Some((cpu, cpu.read()[0]));
        p
    }

    /// Progress without CPU figures (during setup).
    pub fn setup(shared: &Shared, args: &Args) -> Self {
        let now = Instant::now();
        Progress {
            start: now,
            last: now,
            counts: (load(&shared.received), load(&shared.sent)),
            cpu: None,
            publishers: args.publishers,
            subscribers: args.subscribers,
        }
    }

    pub fn tick(&mut self, shared: &Shared, phase: &str) {
        let now = Instant::now();
        let dt = (now - self.last).as_secs_f64();
        if dt < 1.0 {
            return;
        }
        self.last = now;
        let counts = (load(&shared.received), load(&shared.sent));
        let rx = (counts.0 - self.counts.0) as f64 / dt;
        let tx = (counts.1 - self.counts.1) as f64 / dt;
        self.counts = counts;
        let mut cpu = String::new();
        if let Some((reader, last)) = &mut self.cpu {
            let c = reader.read()[0];
            if let (Some(a), Some(b)) = (*last, c) {
                cpu = format!(", server cpu {:.0}%", (b - a) / dt * 100.0);
            }
            *last = c;
        }
        eprintln!(
            "[{:5.1}s] {phase:8} publishers {}/{}, viewers {}/{} ({} with video), \
             failed {}, rx {:.0} pkt/s, tx {:.0} pkt/s{cpu}",
            (now - self.start).as_secs_f64(),
            load(&shared.publishers_connected),
            self.publishers,
            load(&shared.subscribers_connected),
            self.subscribers,
            load(&shared.subscribers_receiving),
            load(&shared.failed),
            rx,
            tx,
        );
    }
}

/// The one JSON line.
pub fn result(
    args: &Args,
    m: &Measured,
    tally: &Tally,
    outcomes: &[Outcome],
    pid: Option<u32>,
    threads: usize,
    failed: u64,
) -> String {
    let secs = m.steady.as_secs_f64();
    let forwarded = tally.forwarded;
    let viewers = outcomes.iter().filter(|o| !o.publisher);
    let expected: u64 = viewers.clone().map(|o| o.expected).sum();
    let lost: u64 = viewers.clone().map(|o| o.lost).sum();
    // What full forwarding would have delivered: each packet published in
    // the steady phase once per viewer of its stream.
    let (mut full, mut full_video) = (0u64, 0u64);
    for p in outcomes.iter().filter(|o| o.publisher) {
        let n = viewers.clone().filter(|v| v.stream == p.stream).count() as u64;
        full += p.sent * n;
        full_video += p.sent_video * n;
    }
    let ratio = |a: u64, b: u64| match b {
        0 => None,
        b => Some(round(a as f64 * 100.0 / b as f64, 1)),
    };
    let loss_pct = match expected {
        0 => 0.0,
        e => lost as f64 * 100.0 / e as f64,
    };
    let pct = |c: Option<f64>| c.map(|c| round(c / secs * 100.0, 1));
    let per_packet = m
        .server_cpu
        .filter(|_| forwarded > 0)
        .map(|c| round(c * 1e6 / forwarded as f64, 3));
    // The server's delay quantiles; none without samples.
    let delay = |q| {
        let h = m.server_delays.as_ref().filter(|h| h.count() > 0)?;
        Some(round(h.quantile_ms(q), 3))
    };
    let line = json!({
        "publishers": args.publishers,
        "subscribers": args.subscribers,
        "subscribers_with_video": viewers.clone().filter(|o| o.video).count(),
        "seconds": args.seconds,
        "steady_seconds": round(secs, 3),
        "bitrate": args.bitrate,
        "pace": args.pace,
        "forwarded_packets": forwarded,
        "forwarded_pps": round(forwarded as f64 / secs, 1),
        "forwarded_video_packets": tally.forwarded_video,
        "delivered_pct": ratio(forwarded, full),
        "video_delivered_pct": ratio(tally.forwarded_video, full_video),
        "expected_packets": expected,
        "lost_packets": lost,
        "loss_pct": round(loss_pct, 4),
        "latency_p50_ms": round(tally.latency.quantile_ms(0.5), 3),
        "latency_p99_ms": round(tally.latency.quantile_ms(0.99), 3),
        "latency_max_ms": round(tally.latency.max_ms(), 3),
        "latency_samples": tally.latency.count(),
        // The server's own time per datagram (its GET /stats `delay`).
        "server_delay_p50_ms": delay(0.5),
        "server_delay_p99_ms": delay(0.99),
        "server_delay_samples": m.server_delays.as_ref().map(Histogram::count),
        "server_pid": pid,
        "server_cpu_pct": pct(m.server_cpu),
        "server_media_thread_cpu_pct": pct(m.media_cpu),
        "server_cpu_us_per_packet": per_packet,
        "loadgen_cpu_pct": pct(m.loadgen_cpu),
        "loadgen_threads": threads,
        "published_packets": tally.sent,
        "keyframe_requests": tally.keyframe_requests,
        "send_drops": tally.send_drops,
        "server_socket_drops": m.server_drops,
        "loadgen_socket_drops": m.loadgen_drops,
        "failed_peers": failed,
    });
    line.to_string()
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}
