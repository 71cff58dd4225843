//! Load generator for the reference server: P WHIP publishers of synthetic
//! VP8 + Opus and S WHEP viewers, all str0m clients (RTP mode) on real UDP
//! sockets, driven by a few threads.
//!
//! ```text
//! cargo run --release --example loadgen -- --server http://127.0.0.1:8080 \
//!     --publishers P --subscribers S --seconds T [--bitrate BPS]
//! ```
//!
//! Publishers go first (streams `load-0` .. `load-{P-1}`), then viewers,
//! spread evenly over the streams. Once everyone is connected and every viewer
//! gets video (within `--setup-timeout`), the run lasts T seconds: a warm-up
//! (`--warmup`, leaving at least one second), then the steady phase that is
//! measured. Progress goes to stderr each second; the result is one JSON line
//! on stdout:
//!
//! * `forwarded_pps`: distinct RTP packets all viewers received per second;
//! * `delivered_pct`, `video_delivered_pct`: that count against what the
//!   publishers sent times their viewers (below 100 when the router's
//!   bandwidth allocator pauses video);
//! * `loss_pct`: packets missing from the viewers' sequence numbers;
//! * `latency_p50_ms`, `latency_p99_ms`: one-way, from the send time each
//!   publisher stamps into its payloads (with `--pace M`, its video leaves
//!   at M times `--bitrate`, as a browser's pacer sends it, and is stamped
//!   as it leaves);
//! * `server_cpu_us_per_packet`: the server's CPU time (utime + stime from
//!   `/proc/{pid}/stat`) per forwarded packet. The server's pid comes from
//!   `--server-pid` or the process holding the UDP port of its candidates;
//! * `server_delay_p50_ms`, `server_delay_p99_ms`: the time the server
//!   itself held each datagram in the steady phase, from its socket to the
//!   kernel's taking its output (its `GET /stats` `delay` histogram, read
//!   before and after; null against Janus). Unlike the one-way latency it
//!   holds none of the load generator's own delays;
//! * `server_socket_drops`, `loadgen_socket_drops`: datagrams dropped by full
//!   receive buffers (`/proc/net/udp`), to tell where a loss happened.
//!
//! `--soak` instead runs bursts of sessions that join and leave, with quiet
//! gaps between (`soak.rs`; `tests/soak.sh`):
//!
//! ```text
//! cargo run --release --example loadgen -- --server http://127.0.0.1:8080 --soak \
//!     [--bursts 5] [--burst-sessions 200] [--gap 35] [--hold 3] [--goodbye 0.5]
//! ```
//!
//! Files: `peer.rs` (one simulated browser on a UDP socket: the test kit's
//! `manifold_testkit::Client` and its synthetic media, `manifold_testkit::media`),
//! `worker.rs` (a thread driving many peers), `stats.rs` (loss and latency),
//! `soak.rs` (bursts of sessions joining and leaving),
//! `signal.rs` (WHIP/WHEP HTTP), `procfs.rs` (CPU time, pid lookup).

// Shared by the examples; each uses part of it.
#[allow(dead_code)]
#[path = "../common/histogram.rs"]
mod histogram;
mod janus;
mod measure;
mod peer;
mod procfs;
mod signal;
mod soak;
mod stats;
mod worker;

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;

use janus::Janus;
use peer::{Peer, Tally};
use signal::Signal;
use worker::{Report, Shared};

#[derive(Parser, Debug)]
#[command(about = "Load generator for the Manifold reference server (WHIP/WHEP)")]
struct Args {
    /// The server's HTTP base URL (with --janus, Janus's HTTP API:
    /// http://127.0.0.1:8088/janus).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The server is Janus (1.1): publish and view through its VideoRoom
    /// plugin instead of WHIP/WHEP, for a comparison on the same machine.
    #[arg(long, conflicts_with = "soak")]
    janus: bool,
    /// The address our peers' sockets bind to (Janus offers the machine's
    /// interface addresses, not loopback: e.g. --bind 192.0.2.2).
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Streams published (WHIP), one publisher each.
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    /// Viewers (WHEP), spread evenly over the streams.
    #[arg(long, default_value_t = 1)]
    subscribers: usize,
    /// Length of the run once set up, warm-up included.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Video bitrate of each publisher, bits per second.
    #[arg(long, default_value_t = 1_500_000)]
    bitrate: u64,
    /// Pace each publisher's video at this multiple of --bitrate, as a
    /// browser does (libwebrtc paces at 2.5), instead of sending each
    /// frame's packets back to back. Latency is then measured from the
    /// moment a packet leaves the publisher's pacer.
    #[arg(long)]
    pace: Option<f64>,
    /// Warm-up before measuring, seconds, within --seconds (at least 1 s is measured).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Longest wait for all peers to connect and receive media, seconds.
    #[arg(long, default_value_t = 30)]
    setup_timeout: u64,
    /// The server's process id (default: found from its UDP port).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Bearer token for WHIP/WHEP.
    #[arg(long, env = "MANIFOLD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Worker threads (default: the CPUs this process may use, at most 8;
    /// 2 with --soak).
    #[arg(long)]
    threads: Option<usize>,
    /// Soak instead of a timed run: sessions join and leave in bursts
    /// separated by quiet gaps (see `soak.rs`); one JSON line per burst.
    #[arg(long)]
    soak: bool,
    /// --soak: bursts.
    #[arg(long, default_value_t = 5)]
    bursts: usize,
    /// --soak: sessions per burst (publishers and viewers).
    #[arg(long, default_value_t = 200)]
    burst_sessions: usize,
    /// --soak: viewers of each publisher.
    #[arg(long, default_value_t = 4)]
    viewers_per_publisher: usize,
    /// --soak: seconds of media once a burst is set up.
    #[arg(long, default_value_t = 3.0)]
    hold: f64,
    /// --soak: quiet seconds between bursts (no datagram to the server).
    #[arg(long, default_value_t = 35.0)]
    gap: f64,
    /// --soak: fraction of sessions that leave with DELETE; the others
    /// just stop sending.
    #[arg(long, default_value_t = 0.5)]
    goodbye: f64,
    /// --soak: stream names are {NAME}-{burst}-{i}.
    #[arg(long, default_value = "soak")]
    soak_name: String,
}

impl Args {
    /// Publisher `i` as these flags make it, and its offer.
    fn publisher(&self, i: usize, epoch: Instant) -> Result<(Peer, String), String> {
        let (bitrate, pacing) = (self.bitrate, self.pacing());
        Peer::publisher(i, self.bind, Instant::now(), epoch, bitrate, pacing)
            .map_err(|e| format!("UDP socket: {e}"))
    }

    /// Each publisher's video pacing rate, bits per second (--pace).
    fn pacing(&self) -> Option<u64> {
        self.pace
            .filter(|m| *m > 0.0)
            .map(|m| (self.bitrate as f64 * m) as u64)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.soak {
        return match soak::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("loadgen: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Workers {
    queues: Vec<SyncSender<Peer>>,
    handles: Vec<JoinHandle<Report>>,
    next: usize,
}

impl Workers {
    fn add(&mut self, peer: Peer) -> Result<(), String> {
        let i = self.next % self.queues.len();
        self.next += 1;
        self.queues[i]
            .send(peer)
            .map_err(|_| "a worker stopped".into())
    }
}

fn run(args: &Args) -> Result<String, String> {
    if args.publishers == 0 || args.seconds == 0 {
        return Err("--publishers and --seconds must be at least 1".into());
    }
    let epoch = Instant::now();
    let mut signal = match args.janus {
        true => Signaling::Janus(Janus::new(&args.server)?),
        false => Signaling::Whep(Signal::new(&args.server, args.token.clone())?),
    };
    let shared = Arc::new(Shared::default());
    let threads = args.threads.unwrap_or_else(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus.min(8)
    });
    let mut workers = Workers {
        queues: Vec::new(),
        handles: Vec::new(),
        next: 0,
    };
    for i in 0..threads.max(1) {
        let (tx, h) = worker::spawn(i, shared.clone()).map_err(|e| format!("thread: {e}"))?;
        workers.queues.push(tx);
        workers.handles.push(h);
    }
    let mut found = Found {
        server_pid: args.server_pid,
        ..Found::default()
    };
    let setup = setup(args, epoch, &mut signal, &shared, &mut workers, &mut found);
    let stats = match &signal {
        Signaling::Whep(s) => Some(s),
        Signaling::Janus(_) => None,
    };
    let measured = setup.map(|()| measure::measure(args, &shared, &found, stats));
    shared.phase.store(worker::STOP, Ordering::Release);
    let mut tally = Tally::default();
    let mut outcomes = Vec::new();
    let mut panicked = false;
    for h in workers.handles {
        match h.join() {
            Ok(r) => {
                tally.merge(&r.tally);
                outcomes.extend(r.outcomes);
            }
            Err(_) => panicked = true,
        }
    }
    for l in &found.locations {
        signal.leave(l);
    }
    let m = measured?;
    if panicked {
        return Err("a worker thread panicked".into());
    }
    let failed = load(&shared.failed);
    let r = measure::result(
        args,
        &m,
        &tally,
        &outcomes,
        found.server_pid,
        threads,
        failed,
    );
    Ok(r)
}

/// How peers publish and view.
enum Signaling {
    /// The reference server: WHIP and WHEP.
    Whep(Signal),
    Janus(Janus),
}

impl Signaling {
    /// Publish stream `i` with `offer`: the answer and the session to end.
    fn publish(&mut self, i: usize, offer: &str) -> Result<(String, String), String> {
        match self {
            Signaling::Whep(s) => s.offer("whip", &stream_name(i), offer),
            Signaling::Janus(j) => j.publish(i, offer),
        }
    }

    /// A viewer of `stream` and the session to end: we offer to the
    /// reference server; Janus offers to us.
    fn view(
        &mut self,
        name: String,
        stream: usize,
        bind: std::net::IpAddr,
        epoch: Instant,
        found: &mut Found,
    ) -> Result<(Peer, String), String> {
        match self {
            Signaling::Whep(s) => {
                let (mut peer, offer) = Peer::subscriber(name, stream, bind, Instant::now(), epoch)
                    .map_err(|e| format!("UDP socket: {e}"))?;
                let (answer, location) = s.offer("whep", &stream_name(stream), &offer)?;
                peer.accept_answer(&answer)?;
                Ok((peer, location))
            }
            Signaling::Janus(j) => {
                let (offer, pending) = j.view(stream)?;
                found.server_port(&offer);
                let (peer, answer) =
                    Peer::subscriber_answering(name, stream, bind, Instant::now(), epoch, &offer)?;
                Ok((peer, j.start(pending, &answer)?))
            }
        }
    }

    /// End a session (best effort: servers also time sessions out).
    fn leave(&self, location: &str) {
        match self {
            Signaling::Whep(s) => drop(s.delete(location)),
            Signaling::Janus(j) => j.destroy(location),
        }
    }
}

/// What setup learnt.
#[derive(Default)]
pub struct Found {
    /// Sessions (`Location`) to delete at the end.
    locations: Vec<String>,
    pub server_pid: Option<u32>,
    /// The server's UDP ports (from its candidates; one per server worker
    /// that holds a stream).
    pub server_ports: Vec<u16>,
    /// Our peers' UDP ports.
    pub ports: Vec<u16>,
}

impl Found {
    /// Note the server's UDP port from an SDP's host candidate (and the
    /// server's pid from the first); whether there was one.
    fn server_port(&mut self, sdp: &str) -> bool {
        let Some(port) = signal::candidate_port(sdp) else {
            return false;
        };
        if !self.server_ports.contains(&port) {
            self.server_ports.push(port);
            if self.server_pid.is_none() {
                match procfs::pid_of_udp_port(port) {
                    Ok(pid) => self.server_pid = Some(pid),
                    Err(e) => eprintln!("loadgen: no server CPU figures: {e}"),
                }
            }
        }
        true
    }
}

/// Publish, then view; wait until all are connected and viewers get video.
fn setup(
    args: &Args,
    epoch: Instant,
    signal: &mut Signaling,
    shared: &Shared,
    workers: &mut Workers,
    found: &mut Found,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(args.setup_timeout);
    for i in 0..args.publishers {
        let (mut peer, offer) = args.publisher(i, epoch)?;
        let (answer, location) = signal.publish(i, &offer)?;
        found.locations.push(location);
        found.ports.push(peer.local_port());
        if !found.server_port(&answer) {
            return Err("no UDP candidate in the answer".into());
        }
        peer.accept_answer(&answer)?;
        workers.add(peer)?;
        past(deadline, "publishing")?;
    }
    wait_for(shared, args, deadline, "publishers to connect", |s| {
        load(&s.publishers_connected) >= args.publishers as u64
    })?;
    for j in 0..args.subscribers {
        let name = format!("sub-{j}");
        let stream = j % args.publishers;
        let (peer, location) = signal.view(name, stream, args.bind, epoch, found)?;
        found.locations.push(location);
        found.ports.push(peer.local_port());
        workers.add(peer)?;
        past(deadline, "adding viewers")?;
    }
    let n = args.subscribers as u64;
    wait_for(
        shared,
        args,
        deadline,
        "viewers to connect and receive media",
        |s| load(&s.subscribers_connected) >= n && load(&s.subscribers_receiving) >= n,
    )
}

fn past(deadline: Instant, what: &str) -> Result<(), String> {
    match Instant::now() > deadline {
        true => Err(format!("setup timed out {what}")),
        false => Ok(()),
    }
}

fn stream_name(i: usize) -> String {
    format!("load-{i}")
}

fn load(a: &std::sync::atomic::AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// Wait until `done`, printing progress each second; fail on a peer
/// failure or at the deadline.
fn wait_for(
    shared: &Shared,
    args: &Args,
    deadline: Instant,
    what: &str,
    done: impl Fn(&Shared) -> bool,
) -> Result<(), String> {
    let mut progress = measure::Progress::setup(shared, args);
    loop {
        if done(shared) {
            return Ok(());
        }
        if load(&shared.failed) > 0 {
            return Err(format!("setup failed: {}", shared.failure()));
        }
        if Instant::now() >= deadline {
            return Err(format!("setup timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
        progress.tick(shared, "setup");
    }
}
