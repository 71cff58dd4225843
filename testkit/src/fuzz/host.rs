//! A checking host: it drives a [`Router`] through the public API, keeps
//! the picture of the router that the events give it, and asserts after
//! every step that the router and that picture agree and that the router's
//! state stays inside its [`Limits`]. One check looks inside the router
//! (`check_transports`): what str0m answers to must match the demux.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use manifold_sfu::testkit_hooks;
use manifold_sfu::{
    ActiveSpeakerObserverOptions, AudioLevelObserverOptions, CloseReason, ConsumerId, Event, Input,
    Limits, ListenInfo, ObserverId, Output, ProducerId, Router, RouterConfig, RouterCounts,
    RouterError, TransportId,
};

/// The configuration the fuzz targets run with: small limits, so they are
/// reached, and a short liveness timeout, so transports expire.
pub fn small_config() -> RouterConfig {
    // Field by field: the config structs are `#[non_exhaustive]`.
    let mut config = RouterConfig::default();
    config.seed = Some(0x00f0_220f);
    config.liveness_timeout = Duration::from_secs(2);
    let l = &mut config.limits;
    l.max_transports = 8;
    l.max_producers_per_transport = 4;
    l.max_consumers_per_transport = 6;
    l.max_consumers_per_producer = 6;
    l.max_layers_per_producer = 3;
    l.max_sdp_bytes = 16 * 1024;
    l.max_m_lines = 12;
    l.max_addrs_per_transport = 2;
    l.rtx_cache_video = 16;
    l.rtx_cache_audio = 8;
    l.max_queued_outputs = 64;
    l.max_unauthenticated_stun_per_source = 8;
    l.max_unauthenticated_sources = 4;
    l.max_ssrcs_per_transport = 8;
    l.max_observers = 3;
    l.max_producers_per_observer = 3;
    l.max_observers_per_producer = 2;
    config
}

/// The local socket addresses of the fuzzed router.
pub const LISTEN: [&str; 2] = ["192.0.2.1:40000", "[2001:db8::1]:40000"];

/// The listen infos of [`LISTEN`], `mask` choosing which (bit 0: IPv4,
/// bit 1: IPv6).
pub fn listen_infos(mask: u8) -> Vec<ListenInfo> {
    LISTEN
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, a)| ListenInfo::new(a.parse().expect("listen address")))
        .collect()
}

/// What the host knows about one open transport.
#[derive(Debug, Clone)]
pub struct TransportState {
    /// When it was created.
    pub created: Instant,
    /// Its ICE ufrag, from the last SDP answer.
    pub ufrag: Option<String>,
}

/// A host that checks the router's invariants after every step.
pub struct Host {
    /// The router under test.
    pub router: Router,
    /// The virtual clock.
    pub now: Instant,
    /// The deadline of the last [`Output::Timeout`].
    pub deadline: Instant,
    /// Open transports, as the events tell.
    pub transports: HashMap<TransportId, TransportState>,
    /// Open producers and their transports, as the events tell.
    pub producers: HashMap<ProducerId, TransportId>,
    /// Open consumers and their (transport, producer), as the events tell.
    pub consumers: HashMap<ConsumerId, (TransportId, ProducerId)>,
    /// Every id ever handed out, open or closed (stale ids are good input).
    pub transport_ids: Vec<TransportId>,
    /// See `transport_ids`.
    pub producer_ids: Vec<ProducerId>,
    /// See `transport_ids`.
    pub consumer_ids: Vec<ConsumerId>,
    /// Open observers, and every observer id ever handed out.
    pub observers: HashSet<ObserverId>,
    /// See `transport_ids`.
    pub observer_ids: Vec<ObserverId>,
    /// Every ufrag the router ever answered with.
    pub ufrags: Vec<String>,
    /// Remote addresses that completed an authenticated ICE check. Nothing
    /// in these targets can compute the STUN MESSAGE-INTEGRITY, so it stays
    /// empty and the router may send nothing at all.
    pub authenticated: HashSet<SocketAddr>,
    /// Offers of [`Event::RenegotiationNeeded`], newest last.
    pub offers: Vec<String>,
    /// Set while the host itself closes objects: the only time
    /// [`CloseReason::Requested`] is right.
    pub closing: bool,
}

impl Host {
    /// A router with `config`; from now on only the virtual clock moves.
    ///
    /// Every router a process builds here shares one crypto provider and
    /// DTLS certificate: generating a certificate cost more than the rest
    /// of a typical fuzz input, and nothing in these checks depends on
    /// which certificate the router presents. Likewise str0m's parse of an
    /// SDP text is memoised on this thread: the same text always parses the
    /// same. Both are hooks of the feature `testkit-hooks`
    /// (`manifold_sfu::testkit_hooks`).
    pub fn new(config: RouterConfig) -> Host {
        testkit_hooks::enable_sdp_memo();
        let now = Instant::now();
        Host {
            router: testkit_hooks::router_with_shared_certificate(config, now),
            now,
            deadline: now,
            transports: HashMap::new(),
            producers: HashMap::new(),
            consumers: HashMap::new(),
            transport_ids: Vec::new(),
            producer_ids: Vec::new(),
            consumer_ids: Vec::new(),
            observers: HashSet::new(),
            observer_ids: Vec::new(),
            ufrags: Vec::new(),
            authenticated: HashSet::new(),
            offers: Vec::new(),
            closing: false,
        }
    }

    fn limits(&self) -> &Limits {
        &self.router.config().limits
    }

    /// One observer command, chosen by `what` (and `arg`), on observer `o`
    /// (created by `what` 0) and producer `p`; results checked against the
    /// limits and what the host knows.
    pub fn observer_op(&mut self, what: u8, arg: u8, o: Option<ObserverId>, p: ProducerId) {
        let now = self.now;
        let before = self.router.counts();
        let max = self.limits().max_observers;
        match what % 6 {
            0 => {
                let interval = Duration::from_millis(u64::from(arg) * 4);
                let made = match arg & 1 {
                    0 => self.router.create_audio_level_observer(
                        now,
                        AudioLevelObserverOptions::default().with_interval(interval),
                    ),
                    _ => self.router.create_active_speaker_observer(
                        now,
                        ActiveSpeakerObserverOptions::default().with_interval(interval),
                    ),
                };
                match made {
                    Ok(o) => {
                        assert!(self.observers.len() < max, "observer past the limit");
                        assert!(self.observers.insert(o), "{o} handed out twice");
                        self.observer_ids.push(o);
                    }
                    Err(RouterError::Limit { what, .. }) => {
                        assert_eq!(what, "max_observers");
                        assert_eq!(self.observers.len(), max, "refused below the limit");
                    }
                    Err(e) => panic!("create observer: {e}"),
                }
            }
            what => {
                let Some(o) = o else {
                    return;
                };
                let open = self.observers.contains(&o);
                let Some(mut api) = self.router.observer(o) else {
                    assert!(!open, "no view of open observer {o}");
                    return;
                };
                assert!(open, "a view of closed observer {o}");
                match what {
                    1 => match api.add_producer(now, p) {
                        Ok(()) => assert!(api.producers().contains(&p)),
                        Err(RouterError::UnknownProducer(x)) => {
                            assert_eq!(x, p);
                            assert!(!self.producers.contains_key(&p), "{p} is open");
                        }
                        Err(RouterError::InvalidOptions(_)) | Err(RouterError::Limit { .. }) => {}
                        Err(e) => panic!("add_producer: {e}"),
                    },
                    2 => {
                        api.remove_producer(now, p);
                        assert!(!api.producers().contains(&p));
                    }
                    3 => api.pause(now),
                    4 => api.resume(now),
                    _ => {
                        api.close(now);
                        self.observers.remove(&o);
                        assert!(self.router.observer(o).is_none());
                    }
                }
            }
        }
        self.step(before);
    }

    /// Create a transport and check the result against the limit.
    pub fn create_transport(&mut self, listen_mask: u8) -> Option<TransportId> {
        let listen = listen_infos(listen_mask);
        let before = self.router.counts();
        let result = self.router.create_webrtc_transport(
            self.now,
            manifold_sfu::WebRtcTransportOptions::new(listen.clone()),
        );
        let at_limit = before.transports >= self.limits().max_transports;
        let id = match result {
            Ok(id) => {
                assert!(!at_limit, "transport created past max_transports");
                assert!(
                    !listen.is_empty(),
                    "transport created without listen address"
                );
                assert!(
                    !self.transport_ids.contains(&id),
                    "transport id {id} reused"
                );
                self.transports.insert(
                    id,
                    TransportState {
                        created: self.now,
                        ufrag: None,
                    },
                );
                self.transport_ids.push(id);
                Some(id)
            }
            Err(manifold_sfu::RouterError::Limit { what, .. }) => {
                assert_eq!(what, "max_transports");
                assert!(at_limit, "max_transports refused below the limit");
                None
            }
            Err(manifold_sfu::RouterError::InvalidOptions(_)) => {
                assert!(listen.is_empty(), "valid options refused");
                None
            }
            Err(e) => panic!("create_webrtc_transport: unexpected error {e}"),
        };
        self.step(before);
        id
    }

    /// Hand `sdp` to `t` as the client's offer. On success the answer's
    /// ufrag is remembered; on error nothing may have changed.
    pub fn offer(&mut self, t: TransportId, sdp: &str) -> Option<String> {
        let before = self.router.counts();
        let open = self.transports.contains_key(&t);
        let now = self.now;
        let Some(mut api) = self.router.transport(t) else {
            assert!(!open, "no view of open transport {t}");
            return None;
        };
        assert!(open, "view of closed transport {t}");
        let result = api.accept_offer(now, sdp);
        self.step(before);
        match result {
            Ok(answer) => {
                self.learn_answer(t, &answer);
                Some(answer)
            }
            Err(e) => {
                assert!(
                    matches!(e, manifold_sfu::RouterError::Signaling(_)),
                    "accept_offer: {e}"
                );
                assert_unchanged(before, self.router.counts(), "refused offer");
                None
            }
        }
    }

    /// Hand `sdp` to `t` as the client's answer; on error nothing may have
    /// changed.
    pub fn answer(&mut self, t: TransportId, sdp: &str) -> bool {
        let before = self.router.counts();
        let open = self.transports.contains_key(&t);
        let now = self.now;
        let Some(mut api) = self.router.transport(t) else {
            assert!(!open, "no view of open transport {t}");
            return false;
        };
        let result = api.accept_answer(now, sdp);
        self.step(before);
        match result {
            Ok(()) => true,
            Err(e) => {
                assert!(
                    matches!(e, manifold_sfu::RouterError::Signaling(_)),
                    "accept_answer: {e}"
                );
                assert_unchanged(before, self.router.counts(), "refused answer");
                false
            }
        }
    }

    /// Consume `p` on `t` and check the result against the picture.
    pub fn consume(
        &mut self,
        t: TransportId,
        p: ProducerId,
        options: manifold_sfu::ConsumerOptions,
    ) -> Option<ConsumerId> {
        use manifold_sfu::RouterError as E;
        let before = self.router.counts();
        let result = self.router.consume(self.now, t, p, options);
        let of_t = self.consumers.values().filter(|(x, _)| *x == t).count();
        let of_p = self.consumers.values().filter(|(_, x)| *x == p).count();
        let l = self.limits().clone();
        let id = match result {
            Ok(c) => {
                assert!(
                    self.transports.contains_key(&t)
                        && self.producers.get(&p).is_some_and(|x| *x != t)
                );
                assert!(
                    of_t < l.max_consumers_per_transport && of_p < l.max_consumers_per_producer
                );
                assert!(!self.consumer_ids.contains(&c), "consumer id {c} reused");
                self.consumers.insert(c, (t, p));
                self.consumer_ids.push(c);
                Some(c)
            }
            Err(E::UnknownProducer(x)) => {
                assert!(x == p && !self.producers.contains_key(&p));
                None
            }
            Err(E::UnknownTransport(x)) => {
                assert!(x == t && !self.transports.contains_key(&t));
                None
            }
            Err(E::SelfConsume) => {
                assert_eq!(self.producers.get(&p), Some(&t));
                None
            }
            Err(E::Limit { what, .. }) => {
                match what {
                    "max_consumers_per_transport" => assert!(of_t >= l.max_consumers_per_transport),
                    "max_consumers_per_producer" => assert!(of_p >= l.max_consumers_per_producer),
                    _ => panic!("consume: limit {what}"),
                }
                None
            }
            Err(e) => panic!("consume: unexpected error {e}"),
        };
        self.step(before);
        if id.is_none() {
            assert_unchanged(before, self.router.counts(), "refused consume");
        }
        id
    }

    /// Remember the ufrag of an SDP answer the router gave for `t`.
    pub fn learn_answer(&mut self, t: TransportId, answer: &str) {
        let ufrag = answer
            .lines()
            .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
            .map(|u| u.trim().to_string());
        let Some(ufrag) = ufrag else {
            assert!(!answer.contains("\nm="), "answer with media but no ufrag");
            return;
        };
        assert!(!ufrag.is_empty() && !ufrag.contains(':'), "ufrag {ufrag:?}");
        if !self.ufrags.contains(&ufrag) {
            self.ufrags.push(ufrag.clone());
        }
        if let Some(s) = self.transports.get_mut(&t) {
            s.ufrag = Some(ufrag);
        }
    }

    /// Feed a datagram at the current time.
    pub fn receive(&mut self, source: SocketAddr, destination: SocketAddr, data: &[u8]) {
        let before = self.router.counts();
        self.router
            .handle_input(Input::receive(self.now, source, destination, data));
        self.step(before);
    }

    /// Advance the clock by `by` and feed a timeout.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        let before = self.router.counts();
        self.router.handle_input(Input::Timeout(self.now));
        self.step(before);
    }

    /// Jump to the router's last deadline (if it is ahead) and feed a timeout.
    pub fn advance_to_deadline(&mut self) {
        let by = self.deadline.saturating_duration_since(self.now);
        self.advance(by);
    }

    /// Drain the output after an input or a command and check every
    /// invariant against the counts from before it.
    pub fn step(&mut self, before: RouterCounts) {
        self.drain(before);
        self.check_counts();
    }

    /// Drain until [`Output::Timeout`], checking each output.
    pub fn drain(&mut self, before: RouterCounts) {
        let objects = |c: &RouterCounts| c.transports + c.producers + c.consumers + c.observers;
        let after = self.router.counts();
        // Events are never dropped, but one step can only create or close
        // so many objects; transmits are bounded by the queue.
        let max_events = 2 * (objects(&before) + objects(&after)) + 2;
        let max_outputs = max_events + self.limits().max_queued_outputs;
        let mut n = 0;
        loop {
            n += 1;
            assert!(n <= max_outputs + 1, "output never drains ({n} outputs)");
            match self.router.poll_output() {
                Output::Transmit(t) => {
                    assert!(
                        self.authenticated.contains(&t.destination),
                        "transmit to {} which never authenticated ({} bytes)",
                        t.destination,
                        t.contents.len()
                    );
                    assert!(
                        LISTEN.iter().any(|l| l.parse() == Ok(t.source)),
                        "transmit from {} which is no listen address",
                        t.source
                    );
                }
                Output::Event(e) => self.on_event(e),
                Output::Timeout(at) => {
                    self.deadline = at;
                    break;
                }
                other => panic!("an output this host does not know: {other:?}"),
            }
        }
        assert_eq!(
            self.router.counts().queued_outputs,
            0,
            "drained queue not empty"
        );
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::TransportConnected { transport } => {
                assert!(self.transports.contains_key(&transport));
                assert!(
                    !self.authenticated.is_empty(),
                    "{transport} connected without any authenticated peer"
                );
            }
            Event::TransportClosed { transport, reason } => {
                let state = self
                    .transports
                    .remove(&transport)
                    .unwrap_or_else(|| panic!("close of unknown transport {transport}"));
                assert!(
                    !self.producers.values().any(|t| *t == transport),
                    "{transport} closed before its producers"
                );
                assert!(
                    !self.consumers.values().any(|(t, _)| *t == transport),
                    "{transport} closed before its consumers"
                );
                // Without an authenticated peer there is no DTLS to fail or
                // close: only the host or the liveness timeout close it.
                let mut allowed = vec![CloseReason::Requested, CloseReason::LivenessTimeout];
                if !self.authenticated.is_empty() {
                    allowed.extend([CloseReason::PeerClosed, CloseReason::Failed]);
                }
                self.check_reason(reason, &allowed);
                if reason == CloseReason::LivenessTimeout {
                    let alive = self.now.duration_since(state.created);
                    assert!(
                        alive >= self.router.config().liveness_timeout,
                        "{transport} timed out after {alive:?}"
                    );
                }
            }
            Event::RenegotiationNeeded { transport, offer } => {
                assert!(self.transports.contains_key(&transport));
                self.offers.push(offer);
            }
            Event::ProducerAdded {
                producer,
                transport,
                ..
            } => {
                assert!(
                    self.transports.contains_key(&transport),
                    "producer on closed {transport}"
                );
                assert!(
                    !self.producer_ids.contains(&producer),
                    "producer id {producer} reused"
                );
                self.producers.insert(producer, transport);
                self.producer_ids.push(producer);
            }
            Event::ProducerClosed {
                producer,
                transport,
                reason,
            } => {
                let t = self.producers.remove(&producer);
                assert_eq!(t, Some(transport), "close of unknown producer {producer}");
                assert!(
                    !self.consumers.values().any(|(_, p)| *p == producer),
                    "{producer} closed before its consumers"
                );
                // PeerClosed: the client stopped sending on the m-line in SDP.
                self.check_reason(
                    reason,
                    &[
                        CloseReason::Requested,
                        CloseReason::TransportClosed,
                        CloseReason::PeerClosed,
                    ],
                );
            }
            Event::ConsumerReady {
                consumer,
                transport,
                ..
            } => {
                let c = self.consumers.get(&consumer);
                assert_eq!(
                    c.map(|c| c.0),
                    Some(transport),
                    "unknown consumer {consumer} ready"
                );
            }
            Event::ConsumerLayersChanged {
                consumer,
                transport,
                ..
            } => {
                let c = self.consumers.get(&consumer);
                assert_eq!(
                    c.map(|c| c.0),
                    Some(transport),
                    "layers of unknown {consumer}"
                );
            }
            Event::ConsumerAllocationChanged {
                consumer,
                transport,
                ..
            } => {
                let c = self.consumers.get(&consumer);
                assert_eq!(
                    c.map(|c| c.0),
                    Some(transport),
                    "allocation of unknown {consumer}"
                );
            }
            Event::ProducerScore { .. } | Event::ConsumerScore { .. } => {}
            Event::ConsumerClosed {
                consumer,
                transport,
                producer,
                reason,
            } => {
                let c = self.consumers.remove(&consumer);
                assert_eq!(
                    c,
                    Some((transport, producer)),
                    "close of unknown {consumer}"
                );
                self.check_reason(
                    reason,
                    &[
                        CloseReason::Requested,
                        CloseReason::TransportClosed,
                        CloseReason::ProducerClosed,
                    ],
                );
            }
            Event::AudioLevels { observer, levels } => {
                assert!(
                    self.observers.contains(&observer),
                    "levels of closed {observer}"
                );
                for (p, dbov) in levels {
                    assert!(self.producers.contains_key(&p), "level of closed {p}");
                    assert!((-127..=0).contains(&dbov), "{dbov} dBov");
                }
            }
            Event::Silence { observer } => {
                assert!(
                    self.observers.contains(&observer),
                    "silence of closed {observer}"
                );
            }
            Event::DominantSpeaker { observer, producer } => {
                assert!(
                    self.observers.contains(&observer),
                    "speaker of closed {observer}"
                );
                assert!(
                    self.producers.contains_key(&producer),
                    "closed {producer} speaks"
                );
            }
            // `Event` is `#[non_exhaustive]`: a kind added to the router
            // fails here until this host learns what to check about it.
            other => panic!("the fuzzing host does not know the event {other:?}"),
        }
    }

    /// A close reason is one this kind of object can have here.
    fn check_reason(&self, reason: CloseReason, allowed: &[CloseReason]) {
        assert!(
            allowed.contains(&reason),
            "unexpected close reason {reason:?}"
        );
        if reason == CloseReason::Requested {
            assert!(
                self.closing,
                "closed as requested while the host asked nothing"
            );
        }
    }

    /// The router's counts agree with the events and stay within the limits.
    pub fn check_counts(&mut self) {
        let c = self.router.counts();
        let l = self.limits();
        assert_eq!(c.transports, self.transports.len(), "transports vs events");
        assert_eq!(c.producers, self.producers.len(), "producers vs events");
        assert_eq!(c.consumers, self.consumers.len(), "consumers vs events");
        assert_eq!(c.observers, self.observers.len(), "observers vs commands");
        assert!(c.observers <= l.max_observers, "{c:?}");
        assert!(c.transports <= l.max_transports, "{c:?}");
        assert!(
            c.producers <= l.max_producers_per_transport * c.transports,
            "{c:?}"
        );
        assert!(
            c.consumers <= l.max_consumers_per_transport * c.transports,
            "{c:?}"
        );
        assert!(
            c.consumers <= l.max_consumers_per_producer * c.producers,
            "{c:?}"
        );
        assert!(
            c.routes <= l.max_addrs_per_transport * c.transports,
            "{c:?}"
        );
        if self.authenticated.is_empty() {
            assert_eq!(c.routes, 0, "a route without an authenticated peer: {c:?}");
        }
        // One ufrag per transport, two during an ICE restart.
        assert!(
            c.ufrags >= c.transports && c.ufrags <= 2 * c.transports,
            "{c:?}"
        );
        // Per transport its own timer and the bandwidth allocator's; per
        // producer one per layer (keyframe requests) and the layer monitor;
        // one per observer.
        let per_producer = l.max_layers_per_producer + 1;
        assert!(
            c.timers <= 2 * c.transports + per_producer * c.producers + c.observers,
            "{c:?}"
        );
        assert_eq!(c.queued_outputs, 0, "{c:?}");
        for (p, t) in &self.producers {
            assert!(self.transports.contains_key(t), "{p} outlived {t}");
        }
        self.check_transports();
        for (cid, (t, p)) in &self.consumers {
            assert!(self.transports.contains_key(t), "{cid} outlived {t}");
            assert!(self.producers.contains_key(p), "{cid} outlived {p}");
        }
    }

    /// Inside the router (the one check that is not through the public
    /// API, a hook of the feature `testkit-hooks`): every open transport's
    /// WebRTC stack is alive, and the ICE ufrag it currently answers to
    /// routes to it.
    fn check_transports(&mut self) {
        testkit_hooks::check_invariants(&mut self.router);
    }

    /// Close every transport through the API; afterwards nothing may be
    /// left: no object, ufrag, route, timer or queued output.
    pub fn close_all_and_check_empty(&mut self) {
        let mut ids = self.router.transport_ids();
        ids.sort();
        let known: HashSet<_> = self.transports.keys().copied().collect();
        assert_eq!(ids.iter().copied().collect::<HashSet<_>>(), known);
        for t in ids {
            let before = self.router.counts();
            self.closing = true;
            self.router
                .transport(t)
                .expect("open transport")
                .close(self.now);
            self.step(before);
            self.closing = false;
            assert!(self.router.transport(t).is_none(), "{t} open after close");
        }
        self.check_empty();
    }

    /// Let time pass, following the router's deadlines, until liveness has
    /// closed every transport (none has a live peer); then check it is empty.
    pub fn expire_all_and_check_empty(&mut self) {
        let end = self.now + self.router.config().liveness_timeout + Duration::from_secs(1);
        let mut steps = 0;
        while self.router.counts().transports > 0 {
            steps += 1;
            assert!(steps < 100_000, "timeouts never expire the transports");
            let at = self.deadline.max(self.now + Duration::from_millis(1));
            assert!(
                at <= end,
                "next deadline {:?} after the liveness end",
                at - self.now
            );
            self.advance(at - self.now);
        }
        self.check_empty();
    }

    /// Close every observer (they outlive transports: the host's to close).
    fn close_observers(&mut self) {
        let mut ids: Vec<_> = self.observers.iter().copied().collect();
        ids.sort();
        for o in ids {
            let before = self.router.counts();
            self.router
                .observer(o)
                .expect("open observer")
                .close(self.now);
            self.observers.remove(&o);
            self.step(before);
        }
    }

    fn check_empty(&mut self) {
        self.close_observers();
        let c = self.router.counts();
        assert_eq!(
            c,
            RouterCounts::default(),
            "state left after closing everything"
        );
        assert!(self.transports.is_empty() && self.producers.is_empty());
        assert!(self.consumers.is_empty());
        for &p in &self.producer_ids {
            assert!(self.router.producer(p).is_none(), "{p} still open");
        }
        for &cid in &self.consumer_ids {
            assert!(self.router.consumer(cid).is_none(), "{cid} still open");
        }
        for &o in &self.observer_ids {
            assert!(self.router.observer(o).is_none(), "{o} still open");
        }
    }
}

/// A refused command left the router's state as it was.
fn assert_unchanged(before: RouterCounts, after: RouterCounts, what: &str) {
    let key = |c: RouterCounts| {
        (
            c.transports,
            c.producers,
            c.consumers,
            c.ufrags,
            c.routes,
            c.timers,
        )
    };
    assert_eq!(
        key(before),
        key(after),
        "{what} changed the router: {before:?} -> {after:?}"
    );
}
