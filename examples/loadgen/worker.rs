//! A worker thread drives many peers: one `mio` poll over all their
//! sockets, waking when a datagram arrives or a peer's next timeout or
//! media packet is due (at most [`MAX_WAIT`] apart, to notice new peers and
//! phase changes).
//!
//! Each round: read every socket that became readable until it would block
//! (feeding str0m and draining it after each datagram), then give every
//! peer its due timeout and media, then publish counters for the progress
//! line. Everything is bounded: the peer channel, the read budget per
//! socket, the tracks per subscriber, the histogram.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::peer::{Outcome, Peer, State, Tally};

/// Longest sleep between two rounds.
const MAX_WAIT: Duration = Duration::from_millis(5);
/// How often counters go to [`Shared`].
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Peers waiting in a worker's queue.
const QUEUE: usize = 64;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// Phases, set by the main thread.
pub const WARMUP: u8 = 0;
pub const STEADY: u8 = 1;
pub const GRACE: u8 = 2;
pub const STOP: u8 = 3;

/// What the main thread sees of all workers while they run.
#[derive(Default)]
pub struct Shared {
    pub phase: AtomicU8,
    pub publishers_connected: AtomicU64,
    pub subscribers_connected: AtomicU64,
    pub subscribers_receiving: AtomicU64,
    pub failed: AtomicU64,
    /// The first peer failure: "name: reason".
    pub first_failure: Mutex<Option<String>>,
    pub received: AtomicU64,
    pub sent: AtomicU64,
}

impl Shared {
    /// The first failure, for an error message.
    pub fn failure(&self) -> String {
        let first = self.first_failure.lock().unwrap_or_else(|e| e.into_inner());
        first.clone().unwrap_or_else(|| "a peer failed".into())
    }
}

/// What a worker hands back at the end.
pub struct Report {
    pub tally: Tally,
    pub outcomes: Vec<Outcome>,
}

/// Start a worker; send it peers (already answered) on the returned channel.
pub fn spawn(
    index: usize,
    shared: Arc<Shared>,
) -> std::io::Result<(SyncSender<Peer>, JoinHandle<Report>)> {
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    let handle = std::thread::Builder::new()
        .name(format!("loadgen-{index}"))
        .spawn(move || run(rx, &shared))?;
    Ok((tx, handle))
}

/// What the counters last saw of one peer.
#[derive(Default, Clone, Copy)]
struct Seen {
    connected: bool,
    receiving: bool,
    failed: bool,
}

fn run(rx: Receiver<Peer>, shared: &Shared) -> Report {
    let mut poll = Poll::new().expect("epoll");
    let mut events = Events::with_capacity(1024);
    let mut peers: Vec<Peer> = Vec::new();
    let mut seen: Vec<Seen> = Vec::new();
    let mut again: Vec<usize> = Vec::new();
    let mut ready: Vec<usize> = Vec::new();
    let mut tally = Tally::default();
    let mut phase = WARMUP;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut flushed = (0u64, 0u64);
    let mut last_flush = Instant::now();
    loop {
        // New peers: register and start them.
        while let Ok(mut p) = rx.try_recv() {
            let token = Token(peers.len());
            if let Err(e) = poll
                .registry()
                .register(p.socket_mut(), token, Interest::READABLE)
            {
                p.state = State::Failed(format!("epoll: {e}"));
            }
            p.tick(Instant::now(), &mut tally);
            peers.push(p);
            seen.push(Seen::default());
        }
        let want = shared.phase.load(Ordering::Acquire);
        if want >= STEADY && phase < STEADY {
            peers.iter_mut().for_each(Peer::start_counting);
            tally.steady = true;
        }
        if want >= GRACE && phase < GRACE {
            peers.iter_mut().for_each(Peer::stop_counting);
            tally.steady = false;
        }
        phase = want;
        if phase >= STOP {
            break;
        }

        let now = Instant::now();
        let wait = match again.is_empty() {
            false => Duration::ZERO,
            true => peers
                .iter()
                .filter(|p| !matches!(p.state, State::Failed(_)))
                .map(|p| p.next_wake().saturating_duration_since(now))
                .min()
                .unwrap_or(MAX_WAIT)
                .min(MAX_WAIT),
        };
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                panic!("epoll: {e}");
            }
        }
        ready.clear();
        ready.extend(events.iter().map(|e| e.token().0));
        ready.append(&mut again);
        for &i in &ready {
            if let Some(p) = peers.get_mut(i) {
                if p.read(&mut buf, &mut tally) {
                    again.push(i);
                }
            }
        }
        let now = Instant::now();
        for p in &mut peers {
            p.tick(now, &mut tally);
        }

        if now - last_flush >= FLUSH_EVERY {
            last_flush = now;
            update_counts(&peers, &mut seen, shared);
            shared
                .received
                .fetch_add(tally.received - flushed.0, Ordering::Relaxed);
            shared
                .sent
                .fetch_add(tally.sent - flushed.1, Ordering::Relaxed);
            flushed = (tally.received, tally.sent);
        }
    }
    for p in &mut peers {
        p.close();
    }
    let outcomes = peers.iter().map(Peer::outcome).collect();
    Report { tally, outcomes }
}

/// Publish the peers' state changes to the shared counters.
fn update_counts(peers: &[Peer], seen: &mut [Seen], shared: &Shared) {
    for (p, s) in peers.iter().zip(seen.iter_mut()) {
        let now = Seen {
            connected: p.state == State::Connected,
            receiving: p.receiving,
            failed: matches!(p.state, State::Failed(_)),
        };
        let connected = match p.is_publisher() {
            true => &shared.publishers_connected,
            false => &shared.subscribers_connected,
        };
        if now.connected && !s.connected {
            connected.fetch_add(1, Ordering::Relaxed);
        }
        if !now.connected && s.connected {
            connected.fetch_sub(1, Ordering::Relaxed);
        }
        if now.receiving && !s.receiving && !p.is_publisher() {
            shared.subscribers_receiving.fetch_add(1, Ordering::Relaxed);
        }
        if now.failed && !s.failed {
            shared.failed.fetch_add(1, Ordering::Relaxed);
            if let State::Failed(why) = &p.state {
                let mut first = shared
                    .first_failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                first.get_or_insert_with(|| format!("{}: {why}", p.name));
            }
        }
        *s = now;
    }
}
