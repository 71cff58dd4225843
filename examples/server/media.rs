//! The router's loop: the one place that owns a [`Router`].
//!
//! Each worker is a dedicated thread running a small tokio runtime with one
//! task that owns its router, its UDP socket and its timer. HTTP and
//! WebSocket handlers never touch a router: they send a job (a closure over
//! [`Sfu`]) on the owning worker's bounded channel and await its result on
//! a oneshot channel ([`Media::call`]); [`Workers::of`] picks the worker
//! from the stream or room name, [`Workers::least_loaded`] a WHEP viewer's
//! (see [`crate::spread`]). Pipe messages between workers arrive on a
//! second channel, the worker's inbox ([`crate::wires`]).
//!
//! After every input (a datagram, a timeout or a job) the loop drains
//! [`Router::poll_output`] until it returns a timeout: transmits go to the
//! send queue (flushed with `sendmmsg`, see [`crate::udp`]), events go to
//! the session that owns the event's transport, and the deadline is when
//! the loop wakes up next if nothing arrives first. Datagrams are read up
//! to 32 per system call; due timers run after each batch. This is the loop
//! to copy when embedding the router in your own server.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use manifold_sfu::{
    CloseReason, Event, Input, ListenInfo, Output, Router, RouterConfig, RouterError, TransportId,
    Via, WebRtcTransportOptions,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::metrics::Metrics;
use crate::spread::{self, Spread};
use crate::tcp::{self, TcpConns, TcpIn, TcpStats};
use crate::udp::{self, IoStats, UdpIo};
use crate::wires::{self, Carried, Wires};
use crate::{room, whip};

/// Jobs waiting for the loop; past this, HTTP handlers wait (then get 503).
const JOB_QUEUE: usize = 256;
/// How long a handler waits for room in the job queue or for the reply.
const JOB_WAIT: Duration = Duration::from_secs(5);
/// How long a stopping loop keeps flushing its last datagrams.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(1);
/// How often the loop logs datagrams it dropped (if any).
const DROP_REPORT: Duration = Duration::from_secs(10);
/// Pipe messages fed per wake-up, at most (then datagrams get their turn).
const PIPE_BATCH: usize = 64;

/// A command for the loop: runs on the loop's state, between two inputs.
type Job = Box<dyn FnOnce(&mut Sfu) + Send>;

/// The loop is gone or too busy to answer in time.
#[derive(Debug)]
pub struct Busy;

/// Handle to the router's loop, cheap to clone.
#[derive(Clone)]
pub struct Media {
    jobs: mpsc::Sender<Job>,
}

impl Media {
    /// Run `f` on the loop's state and return its result. Output the job
    /// queues on the router is drained (and dispatched) right after it.
    pub async fn call<R, F>(&self, f: F) -> Result<R, Busy>
    where
        R: Send + 'static,
        F: FnOnce(&mut Sfu) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |sfu| {
            let _ = tx.send(f(sfu));
        });
        tokio::time::timeout(JOB_WAIT, async {
            self.jobs.send(job).await.map_err(|_| Busy)?;
            rx.await.map_err(|_| Busy)
        })
        .await
        .map_err(|_| Busy)?
    }

    /// Close every transport, flush the goodbyes and stop the loop.
    pub async fn shutdown(&self) {
        let _ = self
            .call(|sfu| {
                sfu.stopping = true;
                for t in sfu.router.transport_ids() {
                    if let Some(t) = sfu.router.transport(t) {
                        t.close(Instant::now());
                    }
                }
            })
            .await;
    }
}

/// Every worker's loop. A stream or room is owned by one worker, picked by
/// a stable hash of its name: a stream's publisher, a room and all its
/// members live there. A stream's viewers go to the least-loaded worker,
/// fed through a pipe from the owner ([`crate::spread`]).
#[derive(Clone)]
pub struct Workers {
    media: Arc<[Media]>,
    /// Open transports per worker, as each loop last counted them (plus
    /// the viewers placed since): the load [`Workers::least_loaded`] reads.
    load: Load,
}

/// Open transports per worker.
pub type Load = Arc<[AtomicUsize]>;

/// A zeroed [`Load`] for `n` workers.
pub fn new_load(n: usize) -> Load {
    (0..n).map(|_| AtomicUsize::new(0)).collect()
}

impl Workers {
    pub fn new(media: Vec<Media>, load: Load) -> Self {
        assert!(!media.is_empty(), "at least one worker");
        assert_eq!(media.len(), load.len());
        Self {
            media: media.into(),
            load,
        }
    }

    /// The loop that owns stream or room `name`.
    pub fn of(&self, name: &str) -> &Media {
        &self.media[self.owner(name)]
    }

    /// The index of the worker owning stream or room `name`.
    pub fn owner(&self, name: &str) -> usize {
        place(name, self.media.len())
    }

    /// The worker with the fewest open transports (the owner `owner` on a
    /// tie), counted as holding one more from now on.
    pub fn least_loaded(&self, owner: usize) -> usize {
        let w = (0..self.media.len())
            .min_by_key(|&i| (self.load[i].load(Ordering::Relaxed), i != owner))
            .unwrap_or(owner);
        self.load[w].fetch_add(1, Ordering::Relaxed);
        w
    }

    /// The loop holding session `id` of stream `name`: the worker is
    /// written in the id ([`session_id`]); the owner for ids without one.
    pub fn of_session(&self, name: &str, id: &str) -> &Media {
        let at = id
            .len()
            .checked_sub(4)
            .and_then(|i| id.get(i..))
            .and_then(|w| usize::from_str_radix(w, 16).ok());
        match at {
            Some(w) if w < self.media.len() => &self.media[w],
            _ => self.of(name),
        }
    }

    /// Worker `i`'s open transports, as its loop last counted them.
    pub fn load(&self, i: usize) -> usize {
        self.load[i].load(Ordering::Relaxed)
    }

    /// Every worker's loop, worker 0 first.
    pub fn all(&self) -> &[Media] {
        &self.media
    }

    /// Close every transport on every worker and stop the loops.
    pub async fn shutdown(&self) {
        let all = self.media.iter().map(|m| m.shutdown());
        for f in all.collect::<Vec<_>>() {
            f.await;
        }
    }
}

/// The worker of `name` out of `n`: FNV-1a, the same in every build and run
/// (unlike std's hasher), so placement is reproducible.
pub fn place(name: &str, n: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % n as u64) as usize
}

/// A new WHIP or WHEP session id on worker `worker`: 28 random hex digits,
/// then the worker in 4 (so later requests find the session's worker).
pub fn session_id(worker: usize) -> String {
    let random = rand::random::<u128>() >> 16;
    format!("{random:028x}{:04x}", worker & 0xffff)
}

/// Who a transport belongs to; events about it go there.
pub enum Session {
    /// A WHIP publisher of `stream`.
    Publisher(whip::Publisher),
    /// A WHEP viewer of `stream`.
    Viewer(whip::Viewer),
    /// A participant of a conference room.
    Member(room::Member),
}

/// Everything the loop owns. Jobs get `&mut Sfu`.
pub struct Sfu {
    /// The router.
    pub router: Router,
    /// The one UDP address every transport listens on.
    pub listen: ListenInfo,
    /// Transport → owning session: the event subscribers.
    pub sessions: HashMap<TransportId, Session>,
    /// WHIP/WHEP state.
    pub streams: whip::Streams,
    /// Conference rooms.
    pub rooms: room::Rooms,
    /// Streams piped to or from other workers.
    pub spread: Spread,
    /// The pipe messages' way to the other workers.
    pub wires: Wires,
    /// Links to other nodes of a cluster and what comes through them.
    pub cluster: crate::cluster::links::State,
    /// This node's id in a cluster (`--node-id`), if in one.
    pub cluster_id: Option<String>,
    /// Every worker's open transports (this one's at `wires.index`).
    load: Load,
    /// The UDP socket's counters, as of the loop's last flush.
    pub udp: IoStats,
    /// Time each datagram spent in the server (`delay.rs`).
    pub delays: crate::delay::Delays,
    /// The TCP listener's counters (ICE over TCP), if it listens.
    pub tcp: Option<TcpStats>,
    /// Open ICE-over-TCP connections.
    conns: TcpConns,
    /// Metrics updated as things happen (`GET /metrics`).
    pub metrics: Metrics,
    /// Transports not connected yet → when their signaling request arrived.
    joining: HashMap<TransportId, Instant>,
    stopping: bool,
}

impl Sfu {
    /// A new transport on the server's UDP port, for a signaling request
    /// that arrived at `requested` (the start of its join time).
    pub fn new_transport(&mut self, requested: Instant) -> Result<TransportId, RouterError> {
        let options = WebRtcTransportOptions::new([self.listen]);
        let tid = self
            .router
            .create_webrtc_transport(Instant::now(), options)?;
        self.joining.insert(tid, requested);
        Ok(tid)
    }

    /// Close a transport if it is open; its `TransportClosed` event follows.
    pub fn close_transport(&mut self, id: TransportId) {
        if let Some(t) = self.router.transport(id) {
            t.close(Instant::now());
        }
    }

    /// Publish this worker's open transports for [`Workers::least_loaded`].
    fn note_load(&self) {
        let n = self.router.counts().transports;
        self.load[self.wires.index].store(n, Ordering::Relaxed);
    }

    /// Hand an event to the session owning its transport.
    fn dispatch(&mut self, e: Event) {
        if crate::cluster::links::on_event(self, &e) {
            return;
        }
        if matches!(
            e,
            Event::PipeProducerAdded { .. } | Event::PipeClosed { .. }
        ) {
            return spread::on_pipe_event(self, e);
        }
        if let Event::TcpConnectionClosed { conn, reason } = e {
            debug!("{conn}: closed by the router: {reason:?}");
            self.conns.close(conn);
            return;
        }
        if e.observer().is_some() {
            return room::on_observer_event(self, e);
        }
        let Some(tid) = e.transport() else {
            return;
        };
        match &e {
            Event::TransportConnected { .. } => {
                if let Some(requested) = self.joining.remove(&tid) {
                    self.metrics.joined(requested);
                }
            }
            Event::TransportClosed { reason, .. } => {
                self.joining.remove(&tid);
                self.note_load();
                if self.router.counts().transports == 0 {
                    release_freed_memory();
                }
                if *reason != CloseReason::Requested {
                    info!("transport {tid} closed: {reason:?}");
                }
            }
            _ => {}
        }
        match self.sessions.get(&tid) {
            Some(Session::Publisher(_) | Session::Viewer(_)) => whip::on_event(self, tid, e),
            Some(Session::Member(_)) => room::on_event(self, tid, e),
            None => debug!("event for a transport without session: {e:?}"),
        }
    }
}

/// What links one worker to the others.
pub struct Links {
    /// Its pipe ends' way out.
    pub wires: Wires,
    /// Its inbox of pipe messages.
    pub inbox: mpsc::Receiver<Carried>,
    /// Every worker's load.
    pub load: Load,
    /// In a cluster: this node's id and the queue of room messages to
    /// other nodes ([`crate::cluster::rooms`]).
    pub cluster: Option<(
        String,
        mpsc::Sender<(String, crate::cluster::rooms::RoomMsg)>,
    )>,
}

/// Start worker `index`'s loop on its own thread, on an already bound
/// socket (and TCP listener for ICE over TCP, if any).
#[allow(clippy::too_many_arguments)]
pub fn start(
    index: usize,
    links: Links,
    socket: std::net::UdpSocket,
    tcp_listener: Option<std::net::TcpListener>,
    announce: Option<IpAddr>,
    config: RouterConfig,
    metrics: Metrics,
    last_n: usize,
    gro: bool,
    gso: bool,
) -> std::io::Result<(Media, JoinHandle<()>)> {
    let local = socket.local_addr()?;
    socket.set_nonblocking(true)?;
    match udp::grow_buffers(&socket) {
        Ok((rx, tx)) if rx < udp::SOCKET_BUFFER || tx < udp::SOCKET_BUFFER => warn!(
            "udp {local}: socket buffers {} KiB in / {} KiB out, asked for {} KiB: \
             raise net.core.rmem_max and wmem_max",
            rx / 1024,
            tx / 1024,
            udp::SOCKET_BUFFER / 1024
        ),
        Ok((rx, tx)) => debug!("udp {local}: socket buffers {rx} / {tx} bytes"),
        Err(e) => warn!("udp {local}: cannot size socket buffers: {e}"),
    }
    let mut listen = ListenInfo::new(local);
    if let Some(ip) = announce {
        listen = listen.with_announced(ip);
    }
    if let Some(l) = &tcp_listener {
        l.set_nonblocking(true)?;
        listen = listen.with_tcp(l.local_addr()?);
    }
    let (tx, rx) = mpsc::channel(JOB_QUEUE);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let name = match index {
        0 => "media".to_owned(),
        i => format!("media-{i}"),
    };
    let thread = std::thread::Builder::new().name(name).spawn(move || {
        rt.block_on(async move {
            let io = match UdpIo::new(socket, gro, gso) {
                Ok(io) => io,
                Err(e) => return warn!("UDP socket: {e}"),
            };
            let on = |b| if b { "on" } else { "off" };
            debug!("udp {local}: GRO {}, GSO {}", on(io.gro()), on(io.gso()));
            let (tcp_tx, tcp_rx) = mpsc::channel(tcp::IN_QUEUE);
            let has_tcp = tcp_listener.is_some();
            if let Some(l) = tcp_listener {
                match tokio::net::TcpListener::from_std(l) {
                    Ok(l) => drop(tokio::spawn(tcp::accept(l, tcp_tx))),
                    Err(e) => return warn!("TCP listener: {e}"),
                }
            }
            let router = Router::new(config, Instant::now());
            let (cluster_id, outbox) = links.cluster.unzip();
            let mut sfu = Sfu {
                router,
                listen,
                sessions: HashMap::new(),
                streams: Default::default(),
                rooms: room::Rooms::with_last_n(last_n),
                spread: Spread::default(),
                wires: links.wires,
                cluster: Default::default(),
                cluster_id,
                load: links.load,
                udp: IoStats::default(),
                delays: Default::default(),
                tcp: has_tcp.then(TcpStats::default),
                conns: TcpConns::default(),
                metrics,
                joining: HashMap::new(),
                stopping: false,
            };
            if let Some(tx) = outbox {
                crate::cluster::rooms::set_outbox(&mut sfu, tx);
            }
            run(sfu, io, local, rx, tcp_rx, links.inbox).await;
        })
    })?;
    Ok((Media { jobs: tx }, thread))
}

/// The loop: wait for datagrams, a job or the router's deadline; feed it;
/// drain the output into the send queue; flush; repeat.
async fn run(
    mut sfu: Sfu,
    mut io: UdpIo,
    local: SocketAddr,
    mut jobs: mpsc::Receiver<Job>,
    mut tcp_in: mpsc::Receiver<TcpIn>,
    mut inbox: mpsc::Receiver<Carried>,
) {
    let mut drops = Drops::new(local);
    loop {
        let mut deadline = drain(&mut sfu, &mut io);
        if sfu.wires.flush() {
            deadline = deadline.min(Instant::now() + wires::RETRY);
        }
        // Run due timers before reading more: str0m releases forwarded
        // packets on its timeout, so a batch of input goes out here.
        let now = Instant::now();
        if deadline <= now {
            guard(&mut sfu, |sfu| sfu.router.handle_input(Input::Timeout(now)));
            deadline = drain(&mut sfu, &mut io);
        }
        let backlog = io.flush();
        io.record_delays(&mut sfu.delays);
        sfu.udp = io.stats;
        if let Some(t) = &mut sfu.tcp {
            *t = sfu.conns.stats;
        }
        drops.check(&io);
        if sfu.stopping {
            // Let the goodbyes (DTLS close_notify) leave.
            let _ = tokio::time::timeout(SHUTDOWN_FLUSH, async {
                while io.flush() && io.writable().await.is_ok() {}
            })
            .await;
            break;
        }
        tokio::select! {
            r = io.readable() => match r {
                // A full batch: the socket has a backlog and the loop will
                // not sleep soon. Let other threads on this core run (the
                // HTTP runtime: under SCHED_FIFO nothing else would).
                Ok(()) => if receive(&mut sfu, &mut io, local) >= udp::RECV_BATCH {
                    std::thread::yield_now();
                },
                Err(e) => debug!("UDP receive: {e}"),
            },
            // The socket was full: it has room again (flushed at the top).
            _ = io.writable(), if backlog => {}
            Some(msg) = tcp_in.recv() => {
                guard(&mut sfu, |sfu| sfu.conns.handle(&mut sfu.router, msg));
            }
            job = jobs.recv() => match job {
                Some(job) => {
                    guard(&mut sfu, job);
                    sfu.note_load();
                }
                None => break,
            },
            Some(first) = inbox.recv() => piped(&mut sfu, &mut io, first, &mut inbox),
            _ = tokio::time::sleep_until(deadline.into()) => {
                guard(&mut sfu, |sfu| sfu.router.handle_input(Input::Timeout(Instant::now())));
            }
        }
    }
    info!("media loop on {local} stopped: {:?}", io.stats);
}

/// Hand the allocator's free pages back to the system, once a worker's
/// last transport has closed.
///
/// glibc keeps memory freed in the middle of an arena resident, so without
/// this a server's RSS only ever rises: each burst of sessions touches a
/// few pages the last one did not (a different layout of the same amount
/// of memory), and an idle server keeps the high-water mark of every
/// burst before it (tests/soak.sh saw 75 MB after the first of five
/// bursts of 200 sessions and 88 MB after the last, with every count back
/// at zero). `malloc_trim(0)` walks every arena and releases each free
/// page; it takes about a millisecond here, which is spent only when this
/// worker forwards nothing.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only takes glibc's own arena locks; it is safe to
    // call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Feed one batch of datagrams to the router, draining after each;
/// returns how many there were.
fn receive(sfu: &mut Sfu, io: &mut UdpIo, local: SocketAddr) -> usize {
    let n = match io.recv_batch() {
        Ok(n) => n,
        // E.g. ICMP port unreachable from a peer that went away.
        Err(e) => {
            debug!("UDP receive: {e}");
            return 0;
        }
    };
    for i in 0..n {
        let (source, data) = io.datagram(i);
        guard(sfu, |sfu| {
            // `local`: the socket's own address, even when the peer
            // reached it from another interface (peer-reflexive).
            sfu.router
                .handle_input(Input::receive(Instant::now(), source, local, data))
        });
        drain(sfu, io);
        // Without GSO, send now, not after the rest of the batch. With it,
        // hold up to a window (`drain` sends when it is full) so that each
        // viewer's packets of this batch leave as one message. The send
        // times were stamped (TWCC) when the router made the packets; the
        // hold is at most the window's fan-out work, and the packets a
        // viewer gets together are grouped as one burst by its estimator
        // (and by ours, `bandwidth/delay_based.rs`).
        if !io.gso() {
            io.flush();
        }
    }
    io.flush();
    n
}

/// Feed pipe messages from other workers: `first` and what else waits,
/// up to a batch, draining after each.
fn piped(sfu: &mut Sfu, io: &mut UdpIo, first: Carried, inbox: &mut mpsc::Receiver<Carried>) {
    let mut next = Some(first);
    let mut n = 0;
    while let Some(item) = next.take() {
        guard(sfu, |sfu| wires::feed(&mut sfu.router, item));
        drain(sfu, io);
        n += 1;
        if n < PIPE_BATCH {
            next = inbox.try_recv().ok();
        }
    }
    io.flush();
}

/// Run `f`; a panic (a bug) is logged and the loop goes on serving.
fn guard(sfu: &mut Sfu, f: impl FnOnce(&mut Sfu)) {
    let run = std::panic::AssertUnwindSafe(|| f(sfu));
    if std::panic::catch_unwind(run).is_err() {
        error!("a command or input panicked; serving on");
    }
}

/// Drain the router until it says when to wake up next. Transmits go to
/// the send queue, sent a batch at a time.
fn drain(sfu: &mut Sfu, io: &mut UdpIo) -> Instant {
    loop {
        match sfu.router.poll_output() {
            Output::Transmit(t) if t.via != Via::Udp => {
                if let Via::Tcp(conn) = t.via {
                    if sfu.conns.send(conn, t.contents) {
                        let now = Instant::now();
                        sfu.router.handle_input(Input::tcp_closed(now, conn));
                    }
                }
            }
            Output::Transmit(t) => {
                io.push(t);
                if io.batch_ready() {
                    io.flush();
                }
            }
            Output::Event(e) => guard(sfu, |sfu| sfu.dispatch(e)),
            Output::Pipe { pipe, message } => sfu.wires.carry(&mut sfu.router, pipe, message),
            Output::Timeout(at) => return at,
            // Outputs a newer library adds: nothing this server acts on.
            _ => {}
        }
    }
}

/// Logs datagrams the loop dropped, at most every [`DROP_REPORT`].
struct Drops {
    local: SocketAddr,
    next: Instant,
    seen: (u64, u64, u64),
}

impl Drops {
    fn new(local: SocketAddr) -> Self {
        let next = Instant::now() + DROP_REPORT;
        Self {
            local,
            next,
            seen: (0, 0, 0),
        }
    }

    fn check(&mut self, io: &UdpIo) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + DROP_REPORT;
        let s = io.stats;
        let counts = (s.send_errors, s.queue_drops, s.unreadable);
        if counts != self.seen {
            warn!(
                "udp {}: dropped so far: {} refused by the kernel, {} past the send queue, \
                 {} unreadable received",
                self.local, counts.0, counts.1, counts.2
            );
            self.seen = counts;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{new_load, place, session_id, Media, Workers};

    fn workers(n: usize) -> Workers {
        let media = (0..n)
            .map(|_| Media {
                jobs: tokio::sync::mpsc::channel(1).0,
            })
            .collect();
        Workers::new(media, new_load(n))
    }

    #[test]
    fn viewers_go_to_the_least_loaded_worker_owner_on_a_tie() {
        let w = workers(2);
        // Fewest transports first, the owner (1) on a tie; each pick counts.
        let picks: Vec<usize> = (0..4).map(|_| w.least_loaded(1)).collect();
        assert_eq!(picks, [1, 0, 1, 0]);
        assert_eq!(workers(1).least_loaded(0), 0);
    }

    #[test]
    fn session_ids_name_their_worker() {
        let id = session_id(3);
        assert_eq!(id.len(), 32);
        assert!(id.ends_with("0003"), "{id}");
        let w = workers(4);
        let at = |id: &str| {
            let m = w.of_session("s", id);
            w.all().iter().position(|x| std::ptr::eq(x, m))
        };
        assert_eq!(at(&id), Some(3));
        // Not a worker of this server: the stream's owner.
        assert_eq!(at("ffff"), Some(place("s", 4)));
        assert_eq!(at("x"), Some(place("s", 4)));
    }

    #[test]
    fn placement_is_stable_and_spread() {
        assert_eq!(place("anything", 1), 0);
        // Fixed values: placement must not change between builds.
        // (The load generator's streams load-0, load-1... alternate.)
        assert_eq!([place("load-0", 2), place("load-1", 2)], [0, 1]);
        assert_eq!([place("load-1", 4), place("load-2", 4)], [3, 2]);
        let mut per = [0; 4];
        for i in 0..400 {
            per[place(&format!("load-{i}"), 4)] += 1;
        }
        assert!(per.iter().all(|&k| k > 60), "{per:?}");
    }
}
