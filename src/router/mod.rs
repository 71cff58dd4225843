//! The router: owns every transport, producer and consumer, and moves media
//! between them.

pub(crate) mod api;
mod bandwidth;
mod data;
pub(crate) mod data_api;
pub(crate) mod demux;
mod forward;
mod hub;
mod keyframes;
mod lifecycle;
pub(crate) mod observers;
pub(crate) mod pipe;
mod ratelimit;
mod remote_pipe;
mod rtc_events;
mod signaling;
mod tcp;
pub(crate) mod timers;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use str0m::IceCreds;
use tracing::{debug, warn};

use crate::config::{RouterConfig, WebRtcTransportOptions};
use crate::crypto::TransportFactory;
use crate::error::RouterError;
use crate::id::{IdGen, IdMap};
use crate::io::{Input, OutQueue, Output};
use crate::media::consumer::Consumer;
use crate::media::producer::Producer;
use crate::packet::{classify, stun_local_ufrag, DatagramKind};
use crate::transport::Transport;
use crate::{ProducerId, TransportId};

use demux::Demux;
use hub::Hub;
use ratelimit::StunRateLimit;
use timers::{Timer, Timers};

/// Counters of what the router did with its input. Every dropped datagram is
/// counted under exactly one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RouterStats {
    /// Datagrams handed to [`Router::handle_input`].
    pub datagrams_in: u64,
    /// Dropped: not STUN, DTLS, RTP or RTCP, or unparseable.
    pub dropped_malformed: u64,
    /// Dropped: STUN whose username matches no transport.
    pub dropped_unknown_ufrag: u64,
    /// Dropped: non-STUN from an address no transport authenticated.
    pub dropped_unknown_source: u64,
    /// Dropped: unauthenticated STUN over the per-source rate limit.
    pub dropped_rate_limited: u64,
    /// Producers refused because a transport reached its producer limit.
    pub refused_producers: u64,
    /// Dropped: routed, but refused by the transport's WebRTC stack.
    pub dropped_rejected: u64,
    /// Datagrams handed to a transport's WebRTC stack (which may still drop
    /// them: failed SRTP authentication, replays, stray DTLS).
    pub datagrams_routed: u64,
    /// Datagrams the WebRTC stack reported an error for.
    pub transport_errors: u64,
    /// Transmits dropped because the host did not drain the output queue.
    pub dropped_output: u64,
    /// RTP packets received from producers.
    pub rtp_in: u64,
    /// RTP packets written to consumers.
    pub rtp_out: u64,
    /// Payload bytes of the RTP packets counted in `rtp_out` (headers,
    /// SRTP and retransmissions not included).
    pub rtp_bytes_out: u64,
    /// Keyframe requests sent to publishers.
    pub keyframe_requests: u64,
    /// RTP packets (counted in `rtp_in`) dropped because they belong to no
    /// layer of their producer: an encoding past
    /// [`Limits::max_layers_per_producer`](crate::Limits), or one never signalled.
    pub dropped_unknown_layer: u64,
    /// Simulcast encodings (rids or SSRCs of `a=ssrc-group:SIM`) signalled
    /// past [`Limits::max_layers_per_producer`](crate::Limits) and ignored.
    pub ignored_layers: u64,
    /// ICE-over-TCP connections taken into the router's table.
    pub tcp_accepted: u64,
    /// ICE-over-TCP connections refused at once: past
    /// [`Limits::max_tcp_connections`](crate::Limits) or
    /// `max_tcp_connections_per_ip`.
    pub tcp_refused: u64,
    /// ICE-over-TCP connections closed for a length prefix over
    /// [`Limits::max_tcp_frame`](crate::Limits) (or zero).
    pub tcp_frames_too_large: u64,
    /// ICE-over-TCP connections closed after
    /// [`Limits::tcp_idle_timeout`](crate::Limits) without an accepted frame.
    pub tcp_idle_closed: u64,
    /// Data channels a client opened past
    /// [`Limits::max_data_channels_per_transport`](crate::Limits): closed.
    pub data_channels_refused: u64,
    /// Data channel messages received from clients (and sent by the host).
    pub data_messages_in: u64,
    /// Data channel messages handed to data consumers.
    pub data_messages_out: u64,
    /// Data channel messages dropped, for any reason (each data producer's
    /// and data consumer's stats say which).
    pub data_messages_dropped: u64,
    /// Messages fed in from pipes ([`Input::pipe`]).
    pub pipe_messages_in: u64,
    /// Pipe messages dropped: for a pipe that is gone, a producer the pipe
    /// does not carry, a duplicate announce, a layer or payload type never
    /// announced, or past [`Limits::max_producers_per_pipe`](crate::Limits).
    pub pipe_dropped: u64,
    /// RTP packets received through pipes (also counted in `rtp_in`).
    pub pipe_rtp_in: u64,
    /// RTP packets sent through pipes (retransmissions included).
    pub pipe_rtp_out: u64,
    /// RTP packets sent through pipes again, answering the other end's NACKs.
    pub pipe_retransmitted: u64,
    /// Datagrams received for remote pipes (first byte in 192..=255, see
    /// [`PIPE_DATAGRAM_BYTE`](crate::pipe::PIPE_DATAGRAM_BYTE), from the
    /// address pair of a remote pipe), whatever became of them. Every
    /// datagram in `datagrams_in` is counted once: here, in
    /// `datagrams_routed`, or in one of the `dropped_*` counters (a pipe
    /// datagram from an address pair no pipe uses is
    /// `dropped_unknown_source`).
    pub pipe_datagrams_in: u64,
    /// Of those, dropped because they failed authentication: a wrong key,
    /// or bytes changed on the way.
    pub pipe_datagrams_forged: u64,
    /// Dropped as replays: a packet counter already seen, or older than
    /// the replay window.
    pub pipe_datagrams_replayed: u64,
    /// Dropped as malformed: the wrong role (our own datagrams reflected),
    /// or a frame that did not decode.
    pub pipe_datagrams_malformed: u64,
    /// Control messages of remote pipes sent again, not acknowledged in time.
    pub pipe_control_resent: u64,
    /// RTP messages too large for one pipe datagram
    /// ([`MAX_PIPE_DATAGRAM`](crate::pipe::MAX_PIPE_DATAGRAM)): not sent.
    pub pipe_oversized: u64,
    /// RTP messages a remote pipe delivered twice (late, and sent again
    /// on a NACK): forwarded only once.
    pub pipe_rtp_duplicates: u64,
}

/// How many objects the router holds, for checks that state is freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RouterCounts {
    /// Open transports.
    pub transports: usize,
    /// Open producers.
    pub producers: usize,
    /// Open consumers.
    pub consumers: usize,
    /// Open observers (audio level and active speaker).
    pub observers: usize,
    /// Open data producers.
    pub data_producers: usize,
    /// Open data consumers.
    pub data_consumers: usize,
    /// ICE ufrags in the demux map.
    pub ufrags: usize,
    /// Address pairs in the demux map.
    pub routes: usize,
    /// Scheduled timers.
    pub timers: usize,
    /// Outputs waiting to be drained.
    pub queued_outputs: usize,
    /// ICE-over-TCP connections in the router's table.
    pub tcp_connections: usize,
    /// Bytes of partial RFC 4571 frames held over all TCP connections.
    pub tcp_buffered_bytes: usize,
    /// Open pipe ends.
    pub pipes: usize,
    /// Payloads of forwarded video held for RTX answers (released within
    /// two seconds of the last forwarded packet).
    pub kept_payloads: usize,
}

/// A sans-IO SFU router. See the [crate documentation](crate) for the run loop.
///
/// Methods come in four groups:
/// * **input**: [`handle_input`](Self::handle_input) takes a datagram or a timeout;
/// * **output**: [`poll_output`](Self::poll_output), drained until it
///   returns [`Output::Timeout`];
/// * **commands**: [`create_webrtc_transport`](Self::create_webrtc_transport),
///   [`consume`](Self::consume) and the borrowed views
///   [`transport`](Self::transport), [`producer`](Self::producer),
///   [`consumer`](Self::consumer); observers:
///   [`create_audio_level_observer`](Self::create_audio_level_observer),
///   [`create_active_speaker_observer`](Self::create_active_speaker_observer)
///   and the view [`observer`](Self::observer); data channels:
///   [`create_data_producer`](Self::create_data_producer),
///   [`consume_data`](Self::consume_data),
///   [`consume_data_direct`](Self::consume_data_direct) and the views
///   [`data_producer`](Self::data_producer),
///   [`data_consumer`](Self::data_consumer); pipes to other routers:
///   [`create_pipe`](Self::create_pipe) and the view [`pipe`](Self::pipe);
/// * **getters**: [`stats`](Self::stats), [`counts`](Self::counts).
///
/// After any input or command, drain [`poll_output`](Self::poll_output)
/// until it returns a timeout before waiting for the next datagram.
pub struct Router {
    pub(crate) config: RouterConfig,
    rng: StdRng,
    pub(crate) now: Instant,
    ids: IdGen,
    factory: TransportFactory,
    pub(crate) transports: IdMap<TransportId, Transport>,
    pub(crate) producers: IdMap<ProducerId, Producer>,
    pub(crate) consumers: IdMap<crate::ConsumerId, Consumer>,
    pub(crate) observers: IdMap<crate::ObserverId, crate::observer::Observer>,
    pub(crate) data_producers: IdMap<crate::DataProducerId, crate::data::DataProducer>,
    pub(crate) data_consumers: IdMap<crate::DataConsumerId, crate::data::DataConsumer>,
    pub(crate) pipes: IdMap<crate::PipeId, crate::pipe::Pipe>,
    /// What every transport's output flows into: the host's queue, the
    /// demux, the timer table and the work queue.
    pub(crate) hub: Hub,
    stun_limit: StunRateLimit,
    pub(crate) stats: RouterStats,
}

impl Router {
    /// A router starting at time `now`.
    pub fn new(config: RouterConfig, now: Instant) -> Router {
        Router::with_factory(config, now, TransportFactory::new())
    }

    /// A router whose transports take their crypto provider and DTLS
    /// certificate from `factory` instead of a freshly generated one. Not
    /// public: besides [`Router::new`], only the test kit's fuzzing host
    /// calls it (through `crate::testkit_hooks`), to keep certificate
    /// generation out of every fuzz input; a production router always gets
    /// a certificate of its own.
    pub(crate) fn with_factory(
        config: RouterConfig,
        now: Instant,
        factory: TransportFactory,
    ) -> Router {
        Router {
            rng: match config.seed {
                Some(seed) => StdRng::seed_from_u64(seed),
                None => StdRng::from_os_rng(),
            },
            stun_limit: StunRateLimit::new(
                config.limits.max_unauthenticated_stun_per_source,
                config.limits.max_unauthenticated_sources,
            ),
            hub: Hub {
                out: OutQueue::new(config.limits.max_queued_outputs),
                demux: Demux::default(),
                timers: Timers::default(),
                work: Default::default(),
                failed: Vec::new(),
                drained: Default::default(),
                bufs: Default::default(),
                kept: crate::transport::owned::kept::Kept::new(
                    crate::transport::owned::sender::HISTORY_AGE,
                ),
                tcp: Default::default(),
            },
            config,
            now,
            ids: IdGen::default(),
            factory,
            transports: IdMap::default(),
            producers: IdMap::default(),
            consumers: IdMap::default(),
            observers: IdMap::default(),
            data_producers: IdMap::default(),
            data_consumers: IdMap::default(),
            pipes: IdMap::default(),
            stats: RouterStats::default(),
        }
    }

    /// The router's configuration.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Counters of what the router did with its input.
    pub fn stats(&self) -> RouterStats {
        let mut s = self.stats.clone();
        s.dropped_output = self.hub.out.dropped;
        s
    }

    /// How many objects the router holds.
    pub fn counts(&self) -> RouterCounts {
        RouterCounts {
            transports: self.transports.len(),
            producers: self.producers.len(),
            consumers: self.consumers.len(),
            observers: self.observers.len(),
            data_producers: self.data_producers.len(),
            data_consumers: self.data_consumers.len(),
            ufrags: self.hub.demux.ufrag_count(),
            routes: self.hub.demux.route_count(),
            timers: self.hub.timers.len(),
            queued_outputs: self.hub.out.len(),
            tcp_connections: self.hub.tcp.len(),
            tcp_buffered_bytes: self.hub.tcp.buffered(),
            pipes: self.pipes.len(),
            kept_payloads: self.hub.kept.len(),
        }
    }

    /// Feed a received datagram, TCP bytes or a timeout. Never fails: input the router
    /// cannot use is dropped and counted in [`stats`](Self::stats).
    pub fn handle_input(&mut self, input: Input<'_>) {
        let now = input.now().max(self.now);
        self.now = now;
        match input {
            Input::Receive {
                source,
                destination,
                data,
                ..
            } => self.receive(now, source, destination, data),
            Input::TcpAccepted {
                conn,
                source,
                destination,
                ..
            } => {
                self.tcp_accept(now, conn, source, destination);
            }
            Input::TcpData {
                conn,
                source,
                destination,
                data,
                ..
            } => self.tcp_data(now, conn, source, destination, data),
            Input::TcpClosed { conn, .. } => self.tcp_closed(conn),
            Input::Timeout(_) => self.timeout(now),
            Input::Pipe { pipe, message, .. } => self.pipe_input(now, pipe, message),
        }
        self.process_work();
    }

    /// Next thing for the host to do. Drain until [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.hub.out.pop() {
            return o;
        }
        let next = self
            .hub
            .timers
            .next()
            .unwrap_or(self.now + Duration::from_secs(3600));
        Output::Timeout(next)
    }

    /// Bring the router's clock to the host's `now` before a command acts,
    /// so a command never stamps new state with the time of the router's
    /// last input. A `now` older than the router's clock is ignored (time
    /// never goes back). Timers that fell due meanwhile run at the next
    /// input, which the host makes at once: [`poll_output`](Self::poll_output)
    /// then returns a timeout in the past.
    pub(crate) fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// [`advance`](Self::advance), then run the timers that fell due: used
    /// by the router's own commands (not by borrowed views, whose object
    /// must outlive the call), so that e.g. a transport whose liveness ran
    /// out is closed before something is added to it.
    pub(crate) fn catch_up(&mut self, now: Instant) {
        if now <= self.now {
            return;
        }
        self.now = now;
        self.timeout(now);
        self.process_work();
    }

    /// Bring a transport's WebRTC stack to the router's clock before a
    /// command changes it (its own clock moves only with its input), and
    /// drain what that produced.
    pub(crate) fn sync_transport_clock(&mut self, tid: TransportId) {
        let now = self.now;
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        t.timeout(now);
        self.drain_transport(tid);
    }

    /// Create a WebRTC transport (ICE-lite, DTLS-SRTP, BUNDLE, rtcp-mux) for
    /// one client, at the host's time `now`. Then either hand it the
    /// client's offer
    /// ([`TransportApi::accept_offer`](crate::TransportApi::accept_offer)) or
    /// add consumers and let the router offer.
    pub fn create_webrtc_transport(
        &mut self,
        now: Instant,
        options: WebRtcTransportOptions,
    ) -> Result<TransportId, RouterError> {
        self.catch_up(now);
        let max = self.config.limits.max_transports;
        if self.transports.len() >= max {
            warn!(max, "transport refused: max_transports reached");
            return Err(RouterError::Limit {
                what: "max_transports",
                max,
            });
        }
        if options.listen.is_empty() {
            return Err(RouterError::InvalidOptions("no listen address".into()));
        }
        let id = TransportId(self.ids.next());
        let max_incoming = options.max_incoming_bitrate;
        let creds = self.new_ice_creds();
        let t = Transport::new(
            id,
            &self.config,
            &self.factory,
            &options.listen,
            creds.clone(),
            self.now,
        );
        self.hub.demux.add_ufrag(&creds.ufrag, id);
        t.span.in_scope(|| debug!("transport created"));
        let mut t = t;
        t.max_incoming_bitrate = max_incoming;
        self.transports.insert(id, t);
        if max_incoming.is_some() {
            self.schedule_allocation(id, self.now);
        }
        self.drain_transport(id);
        self.process_work();
        Ok(id)
    }

    fn new_ice_creds(&mut self) -> IceCreds {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut word = |n: usize| -> String {
            (0..n)
                .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
                .collect()
        };
        let ufrag = word(16);
        let pass = word(32);
        IceCreds { ufrag, pass }
    }

    pub(crate) fn random_start(&mut self) -> (u64, u32) {
        // Keep the first sequence number below 2^15 so the SRTP rollover
        // counter starts at 0 with room to spare.
        (self.rng.random_range(1..32_768), self.rng.random())
    }

    /// The transport a datagram (UDP, or a TCP frame) goes to: STUN by our
    /// ICE ufrag, else `known`; everything else to `known`, the transport
    /// its address pair or TCP connection authenticated. A datagram that
    /// goes nowhere is counted under its one reason.
    pub(crate) fn demux_datagram(
        &mut self,
        data: &[u8],
        known: Option<TransportId>,
    ) -> Option<TransportId> {
        let (tid, unknown) = match classify(data) {
            // Pipe datagrams never come over TCP (UDP ones were taken
            // before this point).
            DatagramKind::Unknown | DatagramKind::Pipe => (None, &mut self.stats.dropped_malformed),
            DatagramKind::Stun => (
                stun_local_ufrag(data)
                    .and_then(|u| self.hub.demux.by_ufrag(u))
                    .or(known),
                &mut self.stats.dropped_unknown_ufrag,
            ),
            _ => (known, &mut self.stats.dropped_unknown_source),
        };
        if tid.is_none() {
            *unknown += 1;
        }
        tid
    }

    fn receive(&mut self, now: Instant, source: SocketAddr, local: SocketAddr, data: &[u8]) {
        self.stats.datagrams_in += 1;
        let route = (source, local);
        if classify(data) == DatagramKind::Pipe {
            self.pipe_datagram(now, route, data);
            return;
        }
        let known = self.hub.demux.by_route(route);
        let Some(tid) = self.demux_datagram(data, known) else {
            return;
        };
        let Some(t) = self.transports.get_mut(&tid) else {
            self.stats.dropped_unknown_source += 1;
            return;
        };
        let span = t.span.clone();
        let _span = span.enter();
        let authenticated = t.routes.contains(&route);
        if !authenticated && !self.stun_limit.allow(source.ip(), now) {
            self.stats.dropped_rate_limited += 1;
            return;
        }
        let Some(listen) = t.listen_for_local(local) else {
            self.stats.dropped_unknown_source += 1;
            return;
        };
        let destination = listen.candidate_addr();
        let received = t.receive(
            now,
            str0m::net::Protocol::Udp,
            source,
            destination,
            data,
            &self.hub.kept,
        );
        if !count_received(&mut self.stats, t, received, data.len()) {
            return;
        }
        self.drain_transport(tid);
        self.on_owned_feedback(tid);
        if let Some(t) = self.transports.get_mut(&tid) {
            // Only traffic from an authenticated address proves liveness.
            if authenticated || t.routes.contains(&route) {
                t.last_rx = now;
            }
        }
    }

    fn timeout(&mut self, now: Instant) {
        for (at, timer) in self.hub.timers.due(now) {
            // An earlier handler may have moved or removed this timer (a
            // closing producer reschedules its consumers' transports): then
            // it is not due any more, and its replacement fires on its own.
            if !self.hub.timers.take(at, timer) {
                continue;
            }
            match timer {
                Timer::Transport(tid) => self.transport_timeout(tid, now),
                Timer::Keyframe(pid, layer) => self.keyframe_timeout(pid, layer, now),
                Timer::Layers(pid) => self.layers_timeout(pid, now),
                Timer::Allocate(tid) => self.allocation_timeout(tid, now),
                Timer::Observer(oid) => self.observer_timeout(oid, now),
                Timer::Tcp(conn) => self.tcp_timeout(conn, now),
                Timer::Pipe(pipe) => self.pipe_timeout(pipe, now),
                Timer::Kept => {
                    self.hub.kept.handle_timeout(now);
                    let at = self.hub.kept.poll_timeout();
                    self.hub.timers.set(Timer::Kept, at);
                }
            }
        }
    }

    fn transport_timeout(&mut self, tid: TransportId, now: Instant) {
        let Some(t) = self.transports.get_mut(&tid) else {
            return;
        };
        let span = t.span.clone();
        let _span = span.enter();
        if now >= t.liveness_deadline(&self.config) {
            self.close_transport(tid, crate::CloseReason::LivenessTimeout);
            return;
        }
        if now >= t.rtc_timeout {
            t.timeout(now);
        }
        if t.owned_padding_at().is_some_and(|at| now >= at) {
            t.pad_owned(now, &mut self.hub.bufs, &self.hub.kept);
            self.hub.send_owned(t);
        }
        self.drain_transport(tid);
    }

    /// Drain a transport's str0m output and apply it (see [`Hub::absorb`]).
    pub(crate) fn drain_transport(&mut self, tid: TransportId) {
        if let Some(t) = self.transports.get_mut(&tid) {
            self.hub.absorb(t, &self.config);
        }
    }

    /// Handle queued str0m events until none are left, then close
    /// transports that failed meanwhile.
    pub(crate) fn process_work(&mut self) {
        loop {
            while let Some((tid, e)) = self.hub.work.pop_front() {
                let span = self.transport_span(tid);
                let _span = span.enter();
                self.on_rtc_event(tid, e);
            }
            let Some(tid) = self.hub.failed.pop() else {
                break;
            };
            if let Some(t) = self.transports.get(&tid) {
                let reason = match &t.failure {
                    Some(crate::transport::Failure::PeerClosed) => crate::CloseReason::PeerClosed,
                    Some(crate::transport::Failure::Internal(why)) => {
                        let _span = t.span.enter();
                        warn!(reason = %why, "transport failed; closing it");
                        crate::CloseReason::Failed
                    }
                    None => crate::CloseReason::Failed,
                };
                self.close_transport(tid, reason);
            }
        }
    }

    /// The span of a transport's events (disabled if it is gone).
    pub(crate) fn transport_span(&self, tid: TransportId) -> tracing::Span {
        self.transports
            .get(&tid)
            .map_or_else(tracing::Span::none, |t| t.span.clone())
    }
}

/// Count what became of a datagram handed to a transport (UDP or a TCP
/// frame); returns whether the WebRTC stack took it.
pub(crate) fn count_received(
    stats: &mut RouterStats,
    t: &mut Transport,
    received: crate::transport::Received,
    len: usize,
) -> bool {
    use crate::transport::Received;
    match received {
        Received::Malformed => stats.dropped_malformed += 1,
        Received::Rejected => stats.dropped_rejected += 1,
        Received::Handled { error } => {
            stats.datagrams_routed += 1;
            t.observed.packets_in += 1;
            t.observed.bytes_in += len as u64;
            stats.transport_errors += u64::from(error);
            return true;
        }
    }
    false
}
