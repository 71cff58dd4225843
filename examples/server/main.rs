//! Manifold's reference server: WHIP publishing, WHEP viewing and a
//! conference room, on one [`manifold_sfu::Router`] and one UDP port per
//! worker thread (one by default).
//!
//! ```text
//! cargo run --release --example server -- [--http ADDR] [--udp ADDR]
//!     [--tcp ADDR | --no-tcp] [--workers N] [--announce IP] [--token SECRET] [--no-bwe] [--no-gro] [--no-gso]
//!     [--liveness-timeout SECS] [--log LEVEL]
//!     [--turn-url URL]... [--turn-secret SECRET] [--turn-ttl SECS]
//! ```
//!
//! Files:
//! * `main.rs`: command line, startup and clean shutdown;
//! * `media.rs`: the router's loop (UDP socket, timer, commands from HTTP)
//!   and the placement of streams and rooms on workers;
//! * `udp.rs`: batched UDP receive and send (`recvmmsg`, `sendmmsg`);
//! * `tcp.rs`: ICE over TCP: the listener, a reader and a bounded writer
//!   per connection around the router's loop;
//! * `whip.rs`: WHIP (RFC 9725) and WHEP endpoints;
//! * `cluster/`: a cluster of servers on Redis (`--cluster`): directory,
//!   links between nodes, streams and rooms across them;
//! * `spread.rs`: a stream's viewers on every worker, fed through pipes
//!   from the stream's owner worker;
//! * `wires.rs`: pipe messages between workers (bounded inboxes, drops
//!   of media, no loss of control);
//! * `layer.rs`: the WHEP layer extension (a viewer picks its layers);
//! * `viewer.rs`: `GET /watch/{stream}`, a WHEP viewer page that fails over;
//! * `room.rs`: the conference room's pages and WebSocket signaling;
//! * `turn.rs`: short-lived TURN credentials (coturn's shared secret);
//! * `stats.rs`: `GET /stats`, every router's counts and counters (JSON);
//! * `metrics.rs`: `GET /metrics` (Prometheus) and `GET /healthz`;
//! * `signal.rs`: what clients send, parsed and checked without I/O (the
//!   `signal` fuzz target's subject; `signal_fuzzing.rs` its invariants);
//! * `page/`: the HTML and JavaScript served to browsers.

mod cluster;
mod cors;
mod delay;
mod gso;
// Shared by the examples; each uses part of it.
#[allow(dead_code)]
#[path = "../common/histogram.rs"]
mod histogram;
mod layer;
mod media;
mod metrics;
mod room;
mod signal;
mod spread;
mod stats;
mod tcp;
mod turn;
mod udp;
mod viewer;
mod whip;
mod wires;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use clap::Parser;
use tokio::sync::watch;
use tracing::level_filters::LevelFilter;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

use media::Workers;
use signal::MAX_BODY;

/// `--send-path`: see [`manifold_sfu::SendPath`].
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SendPathArg {
    Stack,
    Owned,
}

#[derive(Parser, Debug)]
#[command(about = "Manifold SFU reference server: WHIP, WHEP and conference rooms")]
struct Args {
    /// HTTP address: pages, WHIP/WHEP and WebSocket signaling (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// UDP address for media: worker i binds this port + i (port 0: any
    /// free port for each).
    #[arg(long, default_value = "127.0.0.1:40000")]
    udp: SocketAddr,
    /// TCP address for ICE over TCP (passive candidates, RFC 6544), for
    /// clients whose network blocks UDP: worker i listens on this port + i.
    /// Default: the UDP address and port(s), TCP.
    #[arg(long, conflicts_with = "no_tcp")]
    tcp: Option<SocketAddr>,
    /// Do not listen on TCP: no ICE-over-TCP candidates.
    #[arg(long)]
    no_tcp: bool,
    /// Media worker threads, each with its own router and UDP port. A
    /// stream or room lives on one worker (by a hash of its name).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
    /// IP put in ICE candidates (needed when --udp binds 0.0.0.0 or sits behind NAT).
    #[arg(long)]
    announce: Option<IpAddr>,
    /// Bearer token required for WHIP/WHEP and for joining rooms.
    #[arg(long, env = "MANIFOLD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Turn per-viewer bandwidth estimation and allocation off: viewers get
    /// the layers they ask for, and SDP bandwidth limits are not applied.
    #[arg(long)]
    no_bwe: bool,
    /// How forwarded RTP leaves each viewer's transport: `owned` (the
    /// router's own per-packet path, issue #19, the default) or `stack`
    /// (str0m's general send path: about twice the CPU per packet).
    #[arg(long, value_enum, default_value_t = SendPathArg::Owned)]
    send_path: SendPathArg,
    /// Receive without UDP GRO (on by default where the kernel has it: a
    /// burst of one peer's datagrams is read as one message and split).
    #[arg(long)]
    no_gro: bool,
    /// Send without UDP GSO (on by default where the kernel has it: while
    /// a batch of input is handled, each viewer's run of same-size
    /// datagrams leaves as one message).
    #[arg(long)]
    no_gso: bool,
    /// Seconds a transport may hear nothing from its peer (consent checks
    /// included) before it is closed; also bounds how long connecting may take.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    liveness_timeout: u64,
    /// Log level of the server and the library: off, error, warn, info,
    /// debug or trace (other crates log warnings and errors at most). The
    /// `RUST_LOG` environment variable, if set, refines it with
    /// tracing-subscriber's `EnvFilter` directives, e.g.
    /// `RUST_LOG=manifold_sfu=debug,str0m=info`.
    #[arg(long, default_value = "info")]
    log: LevelFilter,
    /// TURN server handed to clients (repeatable), e.g.
    /// `turn:turn.example.net:3478?transport=udp`,
    /// `turns:turn.example.net:443?transport=tcp`. Needs --turn-secret.
    #[arg(long = "turn-url", value_name = "URL")]
    turn_urls: Vec<String>,
    /// The TURN server's shared secret (coturn `static-auth-secret`): the
    /// server mints short-lived credentials with it for every WHIP/WHEP
    /// session and room join.
    #[arg(long, env = "MANIFOLD_TURN_SECRET", hide_env_values = true)]
    turn_secret: Option<String>,
    /// Last-N in rooms: each member receives video from at most this many
    /// other participants, the most recent speakers (plus the one its page
    /// shows large); the other video consumers are paused and cost
    /// nothing. Audio is always forwarded. 0: everyone's video.
    #[arg(long, default_value_t = 0)]
    last_n: u16,
    /// Join a cluster whose directory is this Redis server
    /// (`redis://HOST:PORT`): streams and rooms are shared with the other
    /// nodes (see the README's "Scaling out"). Runs one worker.
    #[arg(long, value_name = "URL", requires = "node_id")]
    cluster: Option<String>,
    /// This node's name in the cluster (letters, digits, `-`, `_`, `.`):
    /// unique among the nodes; a node restarted with the same name takes
    /// its place.
    #[arg(long, value_name = "NAME", requires = "cluster")]
    node_id: Option<String>,
    /// Lifetime of minted TURN credentials, in seconds.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(60..=604_800))]
    turn_ttl: u64,
}

/// What every HTTP handler gets.
#[derive(Clone)]
pub struct App {
    /// Commands to the routers' loops: `workers.of(name).call(...)`.
    pub workers: Workers,
    /// Metrics the workers update (`GET /metrics`).
    pub metrics: metrics::Metrics,
    /// The bearer token, if one is required.
    pub token: Option<Arc<str>>,
    /// Becomes `true` when the server shuts down; WebSocket sessions end.
    pub stopping: watch::Receiver<bool>,
    /// TURN servers and their shared secret, if any (`--turn-url`).
    pub turn: Option<Arc<turn::Turn>>,
    /// Held while a pipe between workers is made ([`spread`]).
    pub spread_lock: Arc<tokio::sync::Mutex<()>>,
    /// This node's place in a cluster (`--cluster`), if in one.
    pub cluster: Option<Arc<cluster::Cluster>>,
}

impl App {
    /// Whether `given` is the configured token (always true without one).
    pub fn token_ok(&self, given: Option<&str>) -> bool {
        match (&self.token, given) {
            (None, _) => true,
            (Some(t), Some(g)) => signal::ct_eq(t.as_bytes(), g.as_bytes()),
            (Some(_), None) => false,
        }
    }

    /// Fresh TURN credentials for one client, if TURN is configured.
    pub fn ice_servers(&self) -> Vec<turn::IceServer> {
        self.turn
            .iter()
            .map(|t| t.mint(std::time::SystemTime::now()))
            .collect()
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = log_filter(args.log, std::env::var("RUST_LOG").ok().as_deref());
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(filter)
        .init();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What to log: `level` for the server and the library, at most warnings
/// for other crates, then `RUST_LOG`'s directives (which win where they
/// overlap; unparsable ones are reported and skipped).
fn log_filter(level: LevelFilter, rust_log: Option<&str>) -> EnvFilter {
    let base = format!(
        "{},server={level},manifold_sfu={level}",
        level.min(LevelFilter::WARN)
    );
    let directives = match rust_log.map(str::trim) {
        Some(extra) if !extra.is_empty() => format!("{base},{extra}"),
        _ => base,
    };
    EnvFilter::builder().parse_lossy(directives)
}

/// Bind one UDP socket per worker: port, port + 1, ... (or any free ports).
fn bind_udp(first: SocketAddr, n: u16) -> Result<Vec<std::net::UdpSocket>, String> {
    (0..n)
        .map(|i| {
            let port = match first.port() {
                0 => Some(0),
                p => p.checked_add(i),
            };
            let addr = SocketAddr::new(first.ip(), port.ok_or("--udp port + workers > 65535")?);
            std::net::UdpSocket::bind(addr).map_err(|e| format!("cannot bind UDP {addr}: {e}"))
        })
        .collect()
}

/// Bind one TCP listener per worker: at `first`'s port + i, or (no
/// `--tcp`) at each worker's UDP address.
fn bind_tcp(
    first: Option<SocketAddr>,
    udp: &[SocketAddr],
) -> Result<Vec<std::net::TcpListener>, String> {
    (0..udp.len())
        .map(|i| {
            let addr = match first {
                None => udp[i],
                Some(a) => {
                    let port = match a.port() {
                        0 => Some(0),
                        p => p.checked_add(i as u16),
                    };
                    SocketAddr::new(a.ip(), port.ok_or("--tcp port + workers > 65535")?)
                }
            };
            std::net::TcpListener::bind(addr).map_err(|e| format!("cannot bind TCP {addr}: {e}"))
        })
        .collect()
}

/// The workers' UDP sockets and TCP listeners. With ephemeral UDP ports
/// (`--udp HOST:0`) and TCP on each worker's UDP port (no `--tcp`), the
/// port the kernel picks is free for UDP but may be held in TCP (the local
/// port of some outgoing connection): then all are let go and new ports
/// picked, a few times.
#[allow(clippy::type_complexity)]
fn bind_media(
    udp: SocketAddr,
    workers: u16,
    tcp: Option<SocketAddr>,
    no_tcp: bool,
) -> Result<(Vec<std::net::UdpSocket>, Vec<std::net::TcpListener>), String> {
    const TRIES: usize = 16;
    let mut last = String::new();
    for _ in 0..TRIES {
        let sockets = bind_udp(udp, workers)?;
        if no_tcp {
            return Ok((sockets, Vec::new()));
        }
        let addrs = sockets
            .iter()
            .map(|s| s.local_addr())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("UDP socket address: {e}"))?;
        match bind_tcp(tcp, &addrs) {
            Ok(listeners) => return Ok((sockets, listeners)),
            Err(e) if udp.port() == 0 && tcp.is_none() => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(format!("{last} (and {} more ephemeral ports)", TRIES - 1))
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.cluster.is_some() && args.workers > 1 {
        return Err("--cluster runs one worker per node: drop --workers".into());
    }
    if let Some(id) = &args.node_id {
        if !signal::valid_name(id) {
            return Err(format!("--node-id {id:?}: letters, digits, '-', '_' and '.' only").into());
        }
    }
    let (sockets, tcp_listeners) = bind_media(args.udp, args.workers, args.tcp, args.no_tcp)?;
    let udp_addrs = sockets
        .iter()
        .map(|s| s.local_addr())
        .collect::<Result<Vec<_>, _>>()?;
    let tcp_addrs = tcp_listeners
        .iter()
        .map(|s| s.local_addr())
        .collect::<Result<Vec<_>, _>>()?;
    let mut tcp_listeners = tcp_listeners.into_iter();
    if args.udp.ip().is_unspecified() && args.announce.is_none() {
        return Err(
            "--udp binds every interface: say which IP to put in candidates \
                    with --announce IP"
                .into(),
        );
    }
    let token = args.token.filter(|t| !t.is_empty()).map(Arc::from);
    let turn = turn::Turn::new(
        args.turn_urls,
        args.turn_secret,
        Duration::from_secs(args.turn_ttl),
    )?
    .map(Arc::new);
    let mut config = manifold_sfu::RouterConfig::default();
    if args.no_bwe {
        config.initial_bandwidth_bps = None;
    }
    config.send_path = match args.send_path {
        SendPathArg::Owned => manifold_sfu::SendPath::Owned,
        SendPathArg::Stack => manifold_sfu::SendPath::WebRtcStack,
    };
    config.liveness_timeout = Duration::from_secs(args.liveness_timeout);
    let metrics = metrics::Metrics::default();
    let mut media = Vec::new();
    let mut threads = Vec::new();
    let load = media::new_load(sockets.len());
    let (peers, inboxes) = wires::inboxes(sockets.len());
    let (outbox_tx, outbox_rx) = tokio::sync::mpsc::channel(cluster::rooms::OUTBOX);
    for ((i, socket), inbox) in sockets.into_iter().enumerate().zip(inboxes) {
        let links = media::Links {
            wires: wires::Wires::new(i, peers.clone()),
            inbox,
            load: load.clone(),
            // In a cluster, the node's name; with --workers N, the worker's
            // (a room's members are spread over workers as over nodes).
            cluster: match (&args.node_id, args.workers) {
                (Some(id), _) => Some((id.clone(), outbox_tx.clone())),
                (None, 1) => None,
                (None, _) => Some((cluster::rooms::worker_node(i), outbox_tx.clone())),
            },
        };
        let (m, thread) = media::start(
            i,
            links,
            socket,
            tcp_listeners.next(),
            args.announce,
            config.clone(),
            metrics.clone(),
            usize::from(args.last_n),
            !args.no_gro,
            !args.no_gso,
        )?;
        media.push(m);
        threads.push(thread);
    }
    let workers = Workers::new(media, load);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let tcp = tokio::net::TcpListener::bind(args.http)
            .await
            .map_err(|e| format!("cannot bind HTTP {}: {e}", args.http))?;
        let http = tcp.local_addr()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let base = match http.ip().is_unspecified() {
            true => format!("http://localhost:{}", http.port()),
            false => format!("http://{http}"),
        };
        let announced = args.announce.unwrap_or(args.udp.ip());
        let cluster = match (&args.cluster, &args.node_id) {
            (Some(redis), Some(id)) => {
                let media = SocketAddr::new(announced, udp_addrs[0].port());
                let c = cluster::Cluster::new(
                    id.clone(),
                    base.clone(),
                    media,
                    udp_addrs[0],
                    redis,
                    token.clone(),
                )?;
                Some(Arc::new(c))
            }
            _ => None,
        };
        let app = App {
            workers: workers.clone(),
            metrics,
            token,
            stopping: stop_rx,
            turn,
            spread_lock: Default::default(),
            cluster: cluster.clone(),
        };
        if let Some(c) = &cluster {
            if app.token.is_none() {
                warn!("--cluster without --token: the cluster's control endpoints are open to anyone who reaches this node's HTTP port");
            }
            tokio::spawn(cluster::heartbeat(app.clone(), c.clone()));
        }
        if cluster.is_some() || args.workers > 1 {
            tokio::spawn(cluster::rooms::post_loop(app.clone(), outbox_rx));
        }
        let routes = axum::Router::new()
            .merge(whip::routes())
            .merge(viewer::routes())
            .merge(room::routes())
            .merge(stats::routes())
            .merge(metrics::routes())
            .merge(cluster::routes())
            .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "no such resource\n") })
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(app.clone());

        println!("Manifold server is up.");
        println!("  conference rooms: {base}/");
        println!("  WHIP publish:     POST {base}/whip/{{stream}}");
        println!("  WHEP view:        POST {base}/whep/{{stream}}");
        match &udp_addrs[..] {
            [one] => println!("  media:            udp {one} (candidates announce {announced})"),
            all => {
                println!(
                    "  media:            {} workers, udp {} (candidates announce {announced})",
                    all.len(),
                    all.iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
        }
        if !tcp_addrs.is_empty() {
            let all: Vec<String> = tcp_addrs.iter().map(|a| a.to_string()).collect();
            println!("  ice-tcp:          tcp {}", all.join(" "));
        }
        if args.no_bwe {
            println!("  bandwidth:        estimation and allocation off (--no-bwe)");
        }
        if app.token.is_some() {
            println!("  auth:             Authorization: Bearer <token> (rooms: ?token=<token>)");
        }
        if let Some(t) = &app.turn {
            println!(
                "  turn:             {} (credentials valid {} s)",
                t.urls().join(" "),
                t.ttl().as_secs()
            );
        }
        if let (Some(c), Some(redis)) = (&cluster, &args.cluster) {
            println!("  cluster: node {} (directory {redis})", c.id);
        }
        println!("Press Ctrl-C to stop.");

        let server = axum::serve(tcp, routes).with_graceful_shutdown(async move {
            shutdown_signal().await;
            info!("shutting down");
            let _ = stop_tx.send(true);
        });
        let mut stopping = app.stopping.clone();
        let mut server = tokio::spawn(async move { server.await });
        tokio::select! {
            r = &mut server => {
                if let Ok(Err(e)) = r {
                    warn!("HTTP server failed: {e}");
                }
            }
            // Once asked to stop, give open connections a moment, then go.
            _ = stopped(&mut stopping) => {
                if tokio::time::timeout(Duration::from_secs(3), server).await.is_err() {
                    warn!("HTTP connections still open after 3 s; closing them");
                }
            }
        }
        // Close every transport (DTLS close_notify to each client).
        workers.shutdown().await;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;
    drop(rt);
    for t in threads {
        let _ = t.join();
    }
    println!("Manifold server stopped.");
    Ok(())
}

/// Resolves once the server is shutting down.
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
