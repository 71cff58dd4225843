//! The simulation: one router, str0m clients playing browsers, seeded links
//! between them, virtual time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use manifold_sfu::{
    ConsumerId, ConsumerOptions, Event, Input, ListenInfo, Output, PipeId, PipeMessage, ProducerId,
    Router, RouterConfig, TcpConnId, TransportId, Via, WebRtcTransportOptions,
};

use crate::client::{self, Client};
use crate::link::{Link, LinkConfig};
use crate::media::{self, Source};

/// The router's address in every sim (one listen address; peers are
/// `127.0.0.1:50000` and up).
pub const SERVER: &str = "127.0.0.1:40000";

/// One simulated browser and its two links.
pub struct Peer {
    /// The str0m client playing the browser.
    pub client: Client,
    /// Client to router.
    pub up: Link,
    /// Router to client.
    pub down: Link,
}

/// One router, its peers and the virtual clock. The fields are open: a
/// test reads and drives them between steps ([`Sim::run_for`]).
pub struct Sim {
    /// When the sim started (virtual).
    pub start: Instant,
    /// The virtual clock; only [`Sim::run_for`], [`Sim::run_until`] and
    /// [`Sim::idle`] move it.
    pub now: Instant,
    /// The router under test: send it commands, read its views.
    pub router: Router,
    /// [`SERVER`], parsed.
    pub server: SocketAddr,
    /// The peers, by the index [`Sim::add_peer`] returned.
    pub peers: Vec<Peer>,
    by_addr: HashMap<SocketAddr, usize>,
    by_transport: HashMap<TransportId, usize>,
    /// Every event the router emitted, with when.
    pub events: Vec<(Instant, Event)>,
    /// Datagrams the router sent to an address that is no peer's.
    pub stray_transmits: u64,
    /// Answer server offers automatically.
    pub auto_answer: bool,
    /// Offer a passive TCP candidate (at [`SERVER`], TCP) next to the UDP
    /// one; [`Sim::add_tcp_peer`] turns it on.
    pub offer_tcp: bool,
    /// ICE-over-TCP delivery: the byte stream of a TCP peer reaches the
    /// router in reads of at most this many bytes (`None`: one read per
    /// frame, or per batch with [`tcp_coalesce`](Self::tcp_coalesce)).
    pub tcp_read_size: Option<usize>,
    /// Frames of a TCP peer due at the same step reach the router in one read.
    pub tcp_coalesce: bool,
    /// Transmits the router sent on a TCP connection whose length prefix
    /// did not match their length.
    pub bad_tcp_frames: u64,
    /// Messages the router emitted for its pipes, waiting for a harness
    /// that links two sims ([`crate::pipe::PipePair`]) to carry them.
    pub pipe_out: Vec<(PipeId, PipeMessage)>,
    /// Pipe datagrams (first byte 192..=255) the router sent to an address
    /// that is no peer's: a remote pipe's, for a harness that links two
    /// sims over a network ([`crate::pipe::RemotePipePair`]) to carry.
    pub pipe_datagrams: Vec<manifold_sfu::Transmit>,
    tcp_conns: HashMap<usize, TcpConnId>,
    tcp_peers: HashMap<TcpConnId, usize>,
    seed: u64,
}

impl Sim {
    /// A sim around a default router seeded with `seed` (the links are
    /// seeded from it too).
    pub fn new(seed: u64) -> Sim {
        let mut config = RouterConfig::default();
        config.seed = Some(seed);
        Self::with_config(config)
    }

    /// A sim around a router with `config`; the harness is deterministic,
    /// so a config without a seed gets a fixed one.
    pub fn with_config(config: RouterConfig) -> Sim {
        Self::with_config_at(config, Instant::now())
    }

    /// [`with_config`](Self::with_config) with its virtual clock starting
    /// at `start` (two linked sims share one clock).
    ///
    /// `MANIFOLD_SEND_PATH` in the environment overrides the config's
    /// send path for every sim: `owned` ([`manifold_sfu::SendPath::Owned`],
    /// the default) or `stack` ([`manifold_sfu::SendPath::WebRtcStack`]):
    /// the scenario suite run again on the other path.
    pub fn with_config_at(mut config: RouterConfig, start: Instant) -> Sim {
        match std::env::var("MANIFOLD_SEND_PATH").as_deref() {
            Ok("owned") => config.send_path = manifold_sfu::SendPath::Owned,
            Ok("stack") => config.send_path = manifold_sfu::SendPath::WebRtcStack,
            _ => {}
        }
        let seed = *config.seed.get_or_insert(1);
        Sim {
            start,
            now: start,
            router: Router::new(config, start),
            server: SERVER.parse().unwrap(),
            peers: Vec::new(),
            by_addr: HashMap::new(),
            by_transport: HashMap::new(),
            events: Vec::new(),
            stray_transmits: 0,
            auto_answer: true,
            offer_tcp: false,
            tcp_read_size: None,
            tcp_coalesce: false,
            bad_tcp_frames: 0,
            pipe_out: Vec::new(),
            pipe_datagrams: Vec::new(),
            tcp_conns: HashMap::new(),
            tcp_peers: HashMap::new(),
            seed,
        }
    }

    /// Switching under test, not bandwidth: a router with no allocator, one
    /// publisher whose synthetic source `setup` configures, and one
    /// subscriber to it. Returns the sim, the subscriber's peer and its
    /// video consumer.
    pub fn layer_session(seed: u64, setup: impl FnOnce(&mut Source)) -> (Sim, usize, ConsumerId) {
        let mut config = RouterConfig::default();
        config.seed = Some(seed);
        config.initial_bandwidth_bps = None;
        let mut sim = Sim::with_config(config);
        let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
        let (_, producers) = sim.publish(publisher, true, true);
        setup(sim.client(publisher).source.as_mut().unwrap());
        let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
        let t = sim.subscribe(sub, &producers);
        let consumer = sim.router.transport(t).unwrap().consumers()[1];
        (sim, sub, consumer)
    }

    /// The host feeds the router nothing for `dur`, not even a timeout: a
    /// server nobody used for a while. Only the virtual clock moves, so the
    /// next command or input is the router's first news of the new time.
    pub fn idle(&mut self, dur: Duration) {
        self.now += dur;
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Add a client with its own links (up: client to router).
    pub fn add_peer(&mut self, name: &str, up: LinkConfig, down: LinkConfig) -> usize {
        let i = self.peers.len();
        let addr: SocketAddr = format!("127.0.0.1:{}", 50_000 + i).parse().unwrap();
        let base = self.seed.wrapping_mul(1_000_003).wrapping_add(i as u64 * 2);
        self.peers.push(Peer {
            client: Client::new(name, addr, self.now),
            up: Link::new(up, base),
            down: Link::new(down, base + 1),
        });
        self.by_addr.insert(addr, i);
        i
    }

    /// Add a client whose only path to the router is ICE over TCP, on one
    /// connection the sim plays the host for (RFC 4571 framing both ways,
    /// reads sized by [`tcp_read_size`](Self::tcp_read_size)). Turns on
    /// [`offer_tcp`](Self::offer_tcp).
    pub fn add_tcp_peer(&mut self, name: &str, up: LinkConfig, down: LinkConfig) -> usize {
        let i = self.add_peer(name, up, down);
        let addr = self.peers[i].client.addr;
        self.peers[i].client = Client::new_tcp(name, addr, self.now);
        let conn = TcpConnId(1_000 + i as u64);
        self.tcp_conns.insert(i, conn);
        self.tcp_peers.insert(conn, i);
        self.offer_tcp = true;
        i
    }

    /// A TCP peer's connection breaks and the peer connects again: the
    /// router is told the old one closed ([`Input::tcp_closed`]) and the
    /// peer's datagrams go on over a new one. Returns the new connection.
    pub fn reconnect_tcp(&mut self, i: usize) -> TcpConnId {
        let old = self.tcp_conns[&i];
        self.router.handle_input(Input::tcp_closed(self.now, old));
        self.drain_router();
        self.tcp_peers.remove(&old);
        let conn = TcpConnId(old.0 + 1_000);
        self.tcp_conns.insert(i, conn);
        self.tcp_peers.insert(conn, i);
        conn
    }

    /// The TCP connection of a peer added with [`Sim::add_tcp_peer`].
    pub fn tcp_conn(&self, i: usize) -> Option<TcpConnId> {
        self.tcp_conns.get(&i).copied()
    }

    /// Remove peers `first..` with their clients and links (the router's
    /// transports stay); datagrams the router sends them count as stray.
    pub fn drop_peers_from(&mut self, first: usize) {
        self.peers.truncate(first);
        self.by_addr.retain(|_, i| *i < first);
        self.by_transport.retain(|_, i| *i < first);
    }

    /// The client of peer `i`.
    pub fn client(&mut self, i: usize) -> &mut Client {
        &mut self.peers[i].client
    }

    /// The options every transport of the sim is created with.
    pub fn transport_options(&self) -> WebRtcTransportOptions {
        let listen = ListenInfo::new(self.server);
        let listen = match self.offer_tcp {
            true => listen.with_tcp(self.server),
            false => listen,
        };
        WebRtcTransportOptions::new([listen])
    }

    /// The client offers to send (WHIP style); returns its transport and
    /// the producers the router announced.
    pub fn publish(
        &mut self,
        i: usize,
        audio: bool,
        video: bool,
    ) -> (TransportId, Vec<ProducerId>) {
        let offer = self.peers[i].client.offer_send(audio, video);
        let source = Source::new(self.now, audio, video);
        self.connect_publisher(i, &offer, source)
    }

    /// The client publishes audio and VP8 simulcast encodings `rids` (lowest
    /// first), with `temporal` temporal layers each.
    pub fn publish_simulcast(
        &mut self,
        i: usize,
        rids: &[&str],
        temporal: u8,
    ) -> (TransportId, Vec<ProducerId>) {
        self.publish_layers(i, rids, temporal, false)
    }

    /// Like [`Self::publish_simulcast`]; with `av1`, AV1 with a Dependency
    /// Descriptor (L1T3) instead of VP8. An empty `rids` publishes one encoding.
    pub fn publish_layers(
        &mut self,
        i: usize,
        rids: &[&str],
        temporal: u8,
        av1: bool,
    ) -> (TransportId, Vec<ProducerId>) {
        let (offer, mut source) = if rids.is_empty() {
            let offer = self.peers[i].client.offer_send(true, true);
            (offer, Source::new(self.now, true, true))
        } else {
            let offer = self.peers[i].client.offer_send_simulcast(true, rids);
            (
                offer,
                Source::with_layers(self.now, true, simulcast_layers(rids)),
            )
        };
        source.temporal_layers = temporal;
        source.av1 = av1;
        self.connect_publisher(i, &offer, source)
    }

    /// Like [`Self::publish_simulcast`], with simulcast signalled the legacy
    /// way (`a=ssrc-group:SIM`, no rids): `layers` are (SSRC, RTX SSRC),
    /// lowest first.
    pub fn publish_ssrc_simulcast(
        &mut self,
        i: usize,
        layers: &[(u32, u32)],
        temporal: u8,
    ) -> (TransportId, Vec<ProducerId>) {
        let offer = self.peers[i].client.offer_send_ssrc_simulcast(true, layers);
        let labels: Vec<String> = layers.iter().map(|(s, _)| client::ssrc_label(*s)).collect();
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        let mut source = Source::with_layers(self.now, true, simulcast_layers(&labels));
        source.temporal_layers = temporal;
        self.connect_publisher(i, &offer, source)
    }

    /// Give the client's send offer to a new transport, apply the answer and
    /// start its media source.
    pub fn connect_publisher(
        &mut self,
        i: usize,
        offer: &str,
        source: Source,
    ) -> (TransportId, Vec<ProducerId>) {
        let t = self
            .router
            .create_webrtc_transport(self.now, self.transport_options())
            .unwrap();
        let first_event = self.events.len();
        let answer = self
            .router
            .transport(t)
            .unwrap()
            .accept_offer(self.now, offer)
            .unwrap();
        self.drain_router();
        self.peers[i].client.accept_answer(&answer);
        self.peers[i].client.transport = Some(t);
        self.by_transport.insert(t, i);
        self.peers[i].client.source = Some(source);
        self.flush_client(i);
        let producers = self.events[first_event..]
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ProducerAdded {
                    producer,
                    transport,
                    ..
                } if *transport == t => Some(*producer),
                _ => None,
            })
            .collect();
        (t, producers)
    }

    /// The client offers to receive these producers (WHEP style).
    pub fn subscribe(&mut self, i: usize, producers: &[ProducerId]) -> TransportId {
        let kinds: Vec<_> = producers
            .iter()
            .map(|p| self.router.producer(*p).unwrap().kind())
            .collect();
        let audio = kinds.iter().filter(|k| k.is_audio()).count();
        let video = kinds.len() - audio;
        let offer = self.peers[i].client.offer_recv(audio, video);
        let t = self
            .router
            .create_webrtc_transport(self.now, self.transport_options())
            .unwrap();
        for p in producers {
            self.router
                .consume(self.now, t, *p, ConsumerOptions::default())
                .unwrap();
        }
        let answer = self
            .router
            .transport(t)
            .unwrap()
            .accept_offer(self.now, &offer)
            .unwrap();
        self.drain_router();
        self.peers[i].client.accept_answer(&answer);
        self.peers[i].client.transport = Some(t);
        self.by_transport.insert(t, i);
        self.flush_client(i);
        t
    }

    /// Run the simulation until `dur` more virtual time has passed.
    pub fn run_for(&mut self, dur: Duration) {
        let end = self.now + dur;
        self.run_until(|s| s.now >= end, end);
    }

    /// Run until `done` holds or `deadline`; returns whether `done` held.
    pub fn run_until(&mut self, mut done: impl FnMut(&mut Sim) -> bool, deadline: Instant) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if self.now >= deadline {
                return false;
            }
            let next = self.next_event().min(deadline).max(self.now);
            self.now = next;
            self.step();
        }
    }

    /// When the next thing happens in this sim (its router's timeout, a
    /// client's, a media frame, a link delivery): for a harness stepping
    /// several sims on one clock. Drain the router first.
    pub fn next_event(&mut self) -> Instant {
        let mut next = match self.router.poll_output() {
            Output::Timeout(t) => t,
            _ => self.now,
        };
        for p in &self.peers {
            next = next.min(p.client.timeout);
            if let Some(s) = &p.client.source {
                next = next.min(s.next_at());
            }
            if let Some(t) = p.up.next_delivery() {
                next = next.min(t);
            }
            if let Some(t) = p.down.next_delivery() {
                next = next.min(t);
            }
        }
        next
    }

    /// Move the clock to `now` (never back) and run one step: due link
    /// deliveries, timeouts and media; for a harness stepping several sims.
    pub fn step_to(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.step();
    }

    fn step(&mut self) {
        let now = self.now;
        // Deliver datagrams due on the links.
        for i in 0..self.peers.len() {
            if let Some(&conn) = self.tcp_conns.get(&i) {
                self.deliver_tcp(i, conn);
            }
            while let Some(data) = self.peers[i].up.pop_due(now) {
                let source = self.peers[i].client.addr;
                self.router
                    .handle_input(Input::receive(now, source, self.server, &data));
                self.drain_router();
            }
            while let Some(data) = self.peers[i].down.pop_due(now) {
                let server = self.server;
                self.peers[i].client.handle_datagram(now, server, &data);
                self.flush_client(i);
            }
        }
        self.router.handle_input(Input::Timeout(now));
        self.drain_router();
        for i in 0..self.peers.len() {
            let c = &mut self.peers[i].client;
            if c.timeout <= now {
                c.handle_timeout(now);
            }
            c.write_media(now);
            self.flush_client(i);
        }
    }

    /// A TCP peer's due datagrams, framed, fed to the router in reads.
    fn deliver_tcp(&mut self, i: usize, conn: TcpConnId) {
        let now = self.now;
        let source = self.peers[i].client.addr;
        let mut stream = Vec::new();
        loop {
            let next = self.peers[i].up.pop_due(now);
            if let Some(data) = &next {
                stream.extend_from_slice(&(data.len() as u16).to_be_bytes());
                stream.extend_from_slice(data);
            }
            let flush = next.is_none() || !self.tcp_coalesce;
            if flush && !stream.is_empty() {
                let size = self.tcp_read_size.unwrap_or(stream.len()).max(1);
                for read in stream.chunks(size) {
                    self.router
                        .handle_input(Input::tcp_data(now, conn, source, self.server, read));
                    self.drain_router();
                }
                stream.clear();
            }
            if next.is_none() {
                return;
            }
        }
    }

    /// Drain a client's str0m and put its datagrams on its uplink.
    pub fn flush_client(&mut self, i: usize) {
        let now = self.now;
        let out = self.peers[i].client.drain(now);
        for (dest, data) in out {
            if dest == self.server {
                self.peers[i].up.send(now, data);
            }
        }
    }

    /// Drain the router: datagrams onto downlinks, events recorded (and
    /// server offers answered when `auto_answer`).
    pub fn drain_router(&mut self) {
        let mut offers = Vec::new();
        loop {
            match self.router.poll_output() {
                Output::Transmit(t) if t.via != Via::Udp => {
                    let peer = match t.via {
                        Via::Tcp(conn) => self.tcp_peers.get(&conn).copied(),
                        _ => None,
                    };
                    let Some(i) = peer else {
                        self.stray_transmits += 1;
                        continue;
                    };
                    match t.contents.split_first_chunk::<2>() {
                        Some((len, body)) if u16::from_be_bytes(*len) as usize == body.len() => {
                            self.peers[i].down.send(self.now, body.to_vec());
                        }
                        _ => self.bad_tcp_frames += 1,
                    }
                }
                Output::Transmit(t) => match self.by_addr.get(&t.destination) {
                    Some(&i) => self.peers[i].down.send(self.now, t.contents.to_vec()),
                    None if t.contents.first().is_some_and(|b| *b >= 192) => {
                        self.pipe_datagrams.push(t)
                    }
                    None => self.stray_transmits += 1,
                },
                Output::Event(e) => {
                    if let Event::RenegotiationNeeded { transport, offer } = &e {
                        offers.push((*transport, offer.clone()));
                    }
                    self.events.push((self.now, e));
                }
                Output::Pipe { pipe, message } => self.pipe_out.push((pipe, message)),
                Output::Timeout(_) => break,
                other => panic!("an output the simulator does not know: {other:?}"),
            }
        }
        if self.auto_answer {
            for (t, offer) in offers {
                self.answer_offer(t, &offer);
            }
        }
    }

    /// The client of transport `t` answers a server offer.
    pub fn answer_offer(&mut self, t: TransportId, offer: &str) {
        let Some(&i) = self.by_transport.get(&t) else {
            return;
        };
        let answer = self.peers[i].client.accept_offer(offer);
        self.flush_client(i);
        self.router
            .transport(t)
            .unwrap()
            .accept_answer(self.now, &answer)
            .unwrap();
        self.drain_router();
    }

    /// The peer whose client uses transport `t`.
    pub fn peer_of(&self, t: TransportId) -> Option<usize> {
        self.by_transport.get(&t).copied()
    }

    /// Script peer `i`'s audio level (see [`Source::speak`]): it speaks at
    /// `dbov` from `from` to `to`, virtual times since [`Sim::start`]. The
    /// peer must publish audio already.
    pub fn speak(&mut self, i: usize, from: Duration, to: Duration, dbov: i8) {
        let start = self.start;
        let source = self.peers[i]
            .client
            .source
            .as_mut()
            .expect("the peer publishes");
        let offset = source.started().saturating_duration_since(start);
        source.speak(from.saturating_sub(offset), to.saturating_sub(offset), dbov);
    }

    /// Events recorded so far that match.
    pub fn count_events(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| f(e)).count()
    }
}

/// VP8 simulcast encodings named `rids`, lowest first. Layer sizes: 1, 2
/// and 4 packets a frame (about 60, 410 and 1,100 kbit/s on the wire).
fn simulcast_layers(rids: &[&str]) -> Vec<media::VideoLayer> {
    rids.iter()
        .enumerate()
        .map(|(n, r)| {
            let (packets, size) = [(1, 150), (2, 800), (4, 1100)][n.min(2)];
            media::VideoLayer::new(Some(r), n as u8, packets, size)
        })
        .collect()
}
