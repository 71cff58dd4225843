//! `--soak`: sessions join and leave in bursts, with quiet gaps between.
//!
//! Each burst starts `--burst-sessions` sessions: publishers (WHIP, streams
//! `{--soak-name}-{burst}-{i}`) and `--viewers-per-publisher` viewers
//! (WHEP) of each. Once every session has connected (ICE + DTLS) and every
//! viewer receives video, or has failed, or `--setup-timeout` passed, media
//! flows for `--hold` seconds. Then every peer stops at once: its socket is
//! closed and nothing more is sent. A `--goodbye` fraction of the sessions,
//! spread evenly, also send `DELETE` (viewers first); the others just go
//! silent and the server's liveness timeout must clean them up. Between two
//! bursts the load generator waits `--gap` seconds, during which no datagram
//! goes to the server.
//!
//! One JSON line per burst on stdout (flushed at once): sessions, how many
//! connected and failed (and why), viewers with video, DELETEs answered,
//! the timings and, when the server's pid is known, its resident memory
//! (`VmRSS`, KiB) before the burst and after the sessions left. The exit
//! status is non-zero if any session failed to connect.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::peer::{Outcome, Peer};
use crate::signal::{self, Signal};
use crate::worker::{self, Shared};
use crate::{load, procfs, Args, Workers};

/// One session of a burst.
struct Session {
    publisher: bool,
    /// The server's Location, once the POST succeeded.
    location: Option<String>,
    goodbye: bool,
}

/// What one burst counted.
#[derive(Default)]
struct Burst {
    publishers: usize,
    viewers: usize,
    /// POSTs answered 201.
    created: usize,
    /// Reason → sessions: POST refused, or the peer failed.
    failures: BTreeMap<String, usize>,
    outcomes: Vec<Outcome>,
    /// RTP packets the publishers wrote, the viewers received.
    rtp: (u64, u64),
    setup: Duration,
    deletes: usize,
    deleted: usize,
}

/// Run every burst; Ok when every session of every burst connected.
pub fn run(args: &Args) -> Result<(), String> {
    if args.burst_sessions < 2 || args.bursts == 0 {
        return Err("--burst-sessions must be at least 2 and --bursts at least 1".into());
    }
    if !(0.0..=1.0).contains(&args.goodbye) {
        return Err("--goodbye is a fraction, 0 to 1".into());
    }
    let signal = Signal::new(&args.server, args.token.clone())?;
    let mut server_pid = args.server_pid;
    let (mut sessions, mut connected) = (0, 0);
    for b in 0..args.bursts {
        if b > 0 {
            // The quiet gap: every peer of the last burst is gone.
            std::thread::sleep(Duration::from_secs_f64(args.gap));
        }
        let rss_before = server_pid.and_then(procfs::rss_kib);
        let started = Instant::now();
        let burst = burst(args, b, &signal, &mut server_pid)?;
        let rss_after = server_pid.and_then(procfs::rss_kib);
        let n = burst.publishers + burst.viewers;
        let ok = burst.outcomes.iter().filter(|o| o.connected).count();
        sessions += n;
        connected += ok;
        let line = json!({
            "burst": b,
            "sessions": n,
            "publishers": burst.publishers,
            "viewers": burst.viewers,
            "created": burst.created,
            "connected": ok,
            "failed": n - ok,
            "failed_after_connecting": burst
                .outcomes
                .iter()
                .filter(|o| o.connected && o.failure.is_some())
                .count(),
            "failures": burst.failures,
            "viewers_with_video": burst
                .outcomes
                .iter()
                .filter(|o| !o.publisher && o.video)
                .count(),
            "rtp_sent": burst.rtp.0,
            "rtp_received": burst.rtp.1,
            "goodbyes": burst.deletes,
            "goodbyes_answered_200": burst.deleted,
            "silent": n - burst.deletes,
            "setup_seconds": round3(burst.setup.as_secs_f64()),
            "burst_seconds": round3(started.elapsed().as_secs_f64()),
            "server_pid": server_pid,
            "server_rss_kib_before": rss_before,
            "server_rss_kib_after": rss_after,
        });
        println!("{line}");
        let _ = std::io::stdout().flush();
        eprintln!(
            "loadgen: soak burst {b}: {ok}/{n} connected, failures {:?}",
            burst.failures
        );
    }
    match connected == sessions {
        true => Ok(()),
        false => Err(format!(
            "soak: {} of {sessions} sessions did not connect",
            sessions - connected
        )),
    }
}

/// One burst: publish, view, hold, leave.
fn burst(
    args: &Args,
    b: usize,
    signal: &Signal,
    server_pid: &mut Option<u32>,
) -> Result<Burst, String> {
    let epoch = Instant::now();
    let shared = Arc::new(Shared::default());
    let mut workers = spawn_workers(args, &shared)?;
    let publishers = args.burst_sessions.div_ceil(1 + args.viewers_per_publisher);
    let mut out = Burst {
        publishers,
        viewers: args.burst_sessions - publishers,
        ..Burst::default()
    };
    let mut sessions = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(args.setup_timeout);
    let stream = |i: usize| format!("{}-{b}-{i}", args.soak_name);
    // Session k says goodbye when the running share k * fraction crosses
    // an integer: the goodbyes are spread evenly over publishers and viewers.
    let goodbye = |k: usize| {
        let f = args.goodbye;
        ((k + 1) as f64 * f).floor() > (k as f64 * f).floor()
    };
    for i in 0..publishers {
        let (peer, offer) = args.publisher(i, epoch)?;
        let location = start(
            signal,
            "whip",
            &stream(i),
            peer,
            &offer,
            &mut workers,
            &mut out,
        );
        if let (Some((_, port)), None) = (&location, *server_pid) {
            *server_pid = procfs::pid_of_udp_port(*port).ok();
        }
        sessions.push(Session {
            publisher: true,
            location: location.map(|l| l.0),
            goodbye: goodbye(sessions.len()),
        });
    }
    let posted = out.created as u64;
    wait(&shared, deadline, |s| {
        load(&s.publishers_connected) + load(&s.failed) >= posted
    });
    for j in 0..out.viewers {
        let s = j % publishers;
        let (peer, offer) =
            Peer::subscriber(format!("sub-{b}-{j}"), s, args.bind, Instant::now(), epoch)
                .map_err(|e| format!("UDP socket: {e}"))?;
        let location = start(
            signal,
            "whep",
            &stream(s),
            peer,
            &offer,
            &mut workers,
            &mut out,
        );
        sessions.push(Session {
            publisher: false,
            location: location.map(|l| l.0),
            goodbye: goodbye(sessions.len()),
        });
    }
    let viewers = out.created as u64 - posted;
    wait(&shared, deadline, |s| {
        let connected = load(&s.publishers_connected) + load(&s.subscribers_connected);
        let failed = load(&s.failed);
        let video = load(&s.subscribers_receiving) >= viewers;
        // Done when nobody is still connecting and every viewer has video,
        // or, after a failure, as soon as nobody is still connecting.
        connected + failed >= out.created as u64 && (video || failed > 0)
    });
    out.setup = epoch.elapsed();
    std::thread::sleep(Duration::from_secs_f64(args.hold));

    // Leave: every peer stops at once (sockets closed), then the goodbyes.
    shared.phase.store(worker::STOP, Ordering::Release);
    for h in workers.handles {
        let report = h.join().map_err(|_| "a worker thread panicked")?;
        out.outcomes.extend(report.outcomes);
        out.rtp.0 += report.tally.sent;
        out.rtp.1 += report.tally.received;
    }
    for o in &out.outcomes {
        let why = match &o.failure {
            Some(why) => why.clone(),
            None if !o.connected => "still connecting when the burst ended".into(),
            None => continue,
        };
        *out.failures.entry(why).or_default() += 1;
    }
    // Viewers first: a publisher's DELETE closes its viewers too.
    sessions.sort_by_key(|s| s.publisher);
    for s in sessions.iter().filter(|s| s.goodbye) {
        let Some(location) = &s.location else {
            continue;
        };
        out.deletes += 1;
        if signal.delete(location) == Ok(200) {
            out.deleted += 1;
        }
    }
    Ok(out)
}

/// POST one offer; on 201 hand the peer to a worker. Returns the Location
/// and the server's UDP port; a refusal is counted as a failure.
fn start(
    signal: &Signal,
    kind: &str,
    stream: &str,
    mut peer: Peer,
    offer: &str,
    workers: &mut Workers,
    out: &mut Burst,
) -> Option<(String, u16)> {
    let started = signal
        .offer(kind, stream, offer)
        .and_then(|(answer, location)| {
            peer.accept_answer(&answer)?;
            let port = signal::candidate_port(&answer).unwrap_or(0);
            workers.add(peer)?;
            Ok((location, port))
        });
    match started {
        Ok(l) => {
            out.created += 1;
            Some(l)
        }
        Err(e) => {
            // Keep the reason short: the status and message, not the URL.
            let why = e.split_once(": ").map_or(e.as_str(), |(_, r)| r);
            *out.failures.entry(format!("{kind}: {why}")).or_default() += 1;
            None
        }
    }
}

fn spawn_workers(args: &Args, shared: &Arc<Shared>) -> Result<Workers, String> {
    let threads = args.threads.unwrap_or(2).max(1);
    let mut workers = Workers {
        queues: Vec::new(),
        handles: Vec::new(),
        next: 0,
    };
    for i in 0..threads {
        let (tx, h) = worker::spawn(i, shared.clone()).map_err(|e| format!("thread: {e}"))?;
        workers.queues.push(tx);
        workers.handles.push(h);
    }
    Ok(workers)
}

/// Wait until `done` or the deadline (bounded: polls every 50 ms).
fn wait(shared: &Shared, deadline: Instant, done: impl Fn(&Shared) -> bool) {
    while !done(shared) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
