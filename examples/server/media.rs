//! The router's loop: the one place that owns the [`Router`].
//!
//! A dedicated thread runs a small tokio runtime with one task that owns the
//! router, the UDP socket and the timer. HTTP and WebSocket handlers never
//! touch the router: they send a job (a closure over [`Sfu`]) on a bounded
//! channel and await its result on a oneshot channel ([`Media::call`]).
//!
//! After every input (datagram, timeout or job) the loop drains
//! [`Router::poll_output`] until it returns a timeout: transmits go to the
//! socket, events go to the session that owns the event's transport, and
//! the deadline is when the loop wakes up next if nothing arrives first.
//! This is the loop to copy when embedding the router in your own server.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use manifold_sfu::{
    CloseReason, Event, Input, ListenInfo, Output, Router, RouterConfig, RouterError, TransportId,
    WebRtcTransportOptions,
};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::{room, whip};

/// Jobs waiting for the loop; past this, HTTP handlers wait (then get 503).
const JOB_QUEUE: usize = 256;
/// How long a handler waits for room in the job queue or for the reply.
const JOB_WAIT: Duration = Duration::from_secs(5);
/// Largest datagram we read.
const MAX_DATAGRAM: usize = 2048;

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
                        t.close();
                    }
                }
            })
            .await;
    }
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
    stopping: bool,
}

impl Sfu {
    /// A new transport on the server's UDP port.
    pub fn new_transport(&mut self) -> Result<TransportId, RouterError> {
        self.router
            .create_webrtc_transport(WebRtcTransportOptions::new([self.listen]))
    }

    /// Close a transport if it is open; its `TransportClosed` event follows.
    pub fn close_transport(&mut self, id: TransportId) {
        if let Some(t) = self.router.transport(id) {
            t.close();
        }
    }

    /// Hand an event to the session owning its transport.
    fn dispatch(&mut self, e: Event) {
        let Some(tid) = transport_of(&e) else {
            return;
        };
        if let Event::TransportClosed { reason, .. } = &e {
            if *reason != CloseReason::Requested {
                info!("transport {tid} closed: {reason:?}");
            }
        }
        match self.sessions.get(&tid) {
            Some(Session::Publisher(_) | Session::Viewer(_)) => whip::on_event(self, tid, e),
            Some(Session::Member(_)) => room::on_event(self, tid, e),
            None => debug!("event for a transport without session: {e:?}"),
        }
    }
}

/// The transport an event is about.
fn transport_of(e: &Event) -> Option<TransportId> {
    Some(match e {
        Event::TransportConnected { transport }
        | Event::TransportClosed { transport, .. }
        | Event::RenegotiationNeeded { transport, .. }
        | Event::ProducerAdded { transport, .. }
        | Event::ProducerClosed { transport, .. }
        | Event::ConsumerReady { transport, .. }
        | Event::ConsumerClosed { transport, .. } => *transport,
        _ => return None,
    })
}

/// Start the loop on its own thread, on an already bound socket.
pub fn start(
    socket: std::net::UdpSocket,
    announce: Option<IpAddr>,
    config: RouterConfig,
) -> std::io::Result<(Media, JoinHandle<()>)> {
    let local = socket.local_addr()?;
    socket.set_nonblocking(true)?;
    let mut listen = ListenInfo::new(local);
    if let Some(ip) = announce {
        listen = listen.with_announced(ip);
    }
    let (tx, rx) = mpsc::channel(JOB_QUEUE);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("media".into())
        .spawn(move || {
            rt.block_on(async move {
                let socket = match UdpSocket::from_std(socket) {
                    Ok(s) => s,
                    Err(e) => return warn!("UDP socket: {e}"),
                };
                let router = Router::new(config, Instant::now());
                let sfu = Sfu {
                    router,
                    listen,
                    sessions: HashMap::new(),
                    streams: Default::default(),
                    rooms: Default::default(),
                    stopping: false,
                };
                run(sfu, socket, local, rx).await;
            })
        })?;
    Ok((Media { jobs: tx }, thread))
}

/// The loop: wait for a datagram, a job or the router's deadline; feed it;
/// drain the output; repeat.
async fn run(mut sfu: Sfu, socket: UdpSocket, local: SocketAddr, mut jobs: mpsc::Receiver<Job>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let deadline = drain(&mut sfu, &socket).await;
        if sfu.stopping {
            break;
        }
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, source)) => guard(&mut sfu, |sfu| sfu.router.handle_input(Input::Receive {
                    now: Instant::now(),
                    source,
                    // The socket's own address, even when the peer reached
                    // it from another interface (peer-reflexive).
                    destination: local,
                    data: &buf[..n],
                })),
                // E.g. ICMP port unreachable from a peer that went away.
                Err(e) => debug!("UDP receive: {e}"),
            },
            job = jobs.recv() => match job {
                Some(job) => guard(&mut sfu, job),
                None => break,
            },
            _ = tokio::time::sleep_until(deadline.into()) => {
                guard(&mut sfu, |sfu| sfu.router.handle_input(Input::Timeout(Instant::now())));
            }
        }
    }
    info!("media loop stopped");
}

/// Run `f`; a panic (a bug) is logged and the loop goes on serving.
fn guard(sfu: &mut Sfu, f: impl FnOnce(&mut Sfu)) {
    let run = std::panic::AssertUnwindSafe(|| f(sfu));
    if std::panic::catch_unwind(run).is_err() {
        error!("a command or input panicked; serving on");
    }
}

/// Drain the router until it says when to wake up next.
async fn drain(sfu: &mut Sfu, socket: &UdpSocket) -> Instant {
    loop {
        match sfu.router.poll_output() {
            Output::Transmit(t) => {
                if let Err(e) = socket.send_to(&t.contents, t.destination).await {
                    debug!("UDP send to {}: {e}", t.destination);
                }
            }
            Output::Event(e) => guard(sfu, |sfu| sfu.dispatch(e)),
            Output::Timeout(at) => return at,
        }
    }
}
