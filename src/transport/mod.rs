//! The WebRTC transport: one client's ICE-lite + DTLS-SRTP session, on str0m.
//!
//! A transport wraps one [`str0m::Rtc`] in RTP mode. It owns the SDP
//! offer/answer state ([`negotiation`]) and the maps from the client's media
//! sections and SSRCs to the router's producers and consumers. It never
//! touches another transport: the [`Router`](crate::Router) moves packets
//! between them.
//!
//! str0m's contract is that every mutation of an `Rtc` is followed by a full
//! drain of its `poll_output`. [`Transport::drain`] does that drain, and every
//! mutation in this crate is followed by it before anything else happens.

pub(crate) mod negotiation;
pub(crate) mod owned;
mod payload_types;
mod rtc;
pub(crate) mod sdp_memo;
pub(crate) mod send_path;
pub(crate) mod ssrc_group;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use smallvec::SmallVec;
use str0m::bwe::Bitrate;
use str0m::media::Mid;
use str0m::net::{Protocol, TcpType};
use str0m::rtp::Ssrc;
use str0m::{Candidate, IceCreds, Rtc, RtcConfig};

use crate::bandwidth::allocator::Allocator;
use crate::config::{ListenInfo, RouterConfig};
use crate::crypto::TransportFactory;
use crate::io::OutQueue;
use crate::{ConsumerId, DataConsumerId, DataProducerId, ProducerId, TransportId};

use negotiation::Negotiation;
pub(crate) use rtc::{ChannelWrite, MediaFacts, Received};

/// What a data channel of a transport carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataEnd {
    /// The client's channel: its messages come in.
    Producer(DataProducerId),
    /// Our channel: a data consumer's messages go out.
    Consumer(DataConsumerId),
}

/// How often str0m reports peer stats when bandwidth estimation is on:
/// the allocator's loss guard reads the feedback's loss from them.
pub(crate) const STATS_INTERVAL: Duration = Duration::from_millis(250);

/// What a transport saw, for its stats snapshot: counted as datagrams pass
/// and copied from the WebRTC stack's events.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Observed {
    pub ice: crate::stats::IceState,
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    /// (local, remote) of the latest datagram sent.
    pub pair: Option<(SocketAddr, SocketAddr)>,
    pub rtt: Option<Duration>,
}

/// Why a transport stopped working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// str0m returned an error or panicked: what it said.
    Internal(String),
    /// The peer closed DTLS.
    PeerClosed,
}

pub(crate) struct Transport {
    pub id: TransportId,
    /// The WebRTC stack: reached only through `transport/rtc.rs` and
    /// [`Transport::drain`].
    rtc: Rtc,
    /// This end's DTLS-SRTP keys once connected (OpenSSL DTLS only), for
    /// the owned send path of issue #19 (`crypto/keys.rs`).
    dtls_keys: crate::crypto::keys::KeySlot,
    /// Forwarded RTP goes through the owned send path
    /// ([`send_path::wanted`]); it is made once DTLS gives its keys.
    owned_wanted: bool,
    /// The owned path's starting estimate (`None`: no estimation).
    owned_initial_bps: Option<u64>,
    owned: Option<Box<owned::sender::OwnedTx>>,
    /// The owned path's datagrams waiting for the next flush.
    owned_out: Vec<bytes::Bytes>,
    /// When the owned path last reported its streams' stats.
    pub owned_stats_at: Option<Instant>,
    /// Where str0m sends all but STUN (the nominated ICE pair).
    pub media_route: Option<send_path::MediaRoute>,
    /// The time of the latest input handed to str0m: what it wrote
    /// reports for.
    rtc_now: Instant,
    pub listen: SmallVec<[ListenInfo; 2]>,
    /// Local ICE ufrags routed to this transport (two during an ICE restart).
    pub ufrags: SmallVec<[String; 2]>,
    /// (remote, local) address pairs routed to this transport, oldest first.
    pub routes: SmallVec<[Route; 4]>,
    pub connected: bool,
    pub last_rx: Instant,
    /// str0m's own next timeout.
    pub rtc_timeout: Instant,
    pub producers: SmallVec<[ProducerId; 4]>,
    pub producer_by_mid: SmallVec<[(Mid, ProducerId); 4]>,
    /// Incoming SSRC to (producer, layer index); filled on first packet.
    pub ssrc_cache: HashMap<Ssrc, (ProducerId, u8)>,
    /// The `a=ssrc-group:SIM` groups of the client's last accepted offer,
    /// read when its m-lines become producers.
    pub ssrc_simulcast: SmallVec<[ssrc_group::SsrcSimulcast; 1]>,
    pub consumers: Vec<ConsumerId>,
    pub consumer_by_mid: HashMap<Mid, ConsumerId>,
    pub negotiation: Negotiation,
    /// Data channels, by str0m's channel id: the client's (data producers)
    /// and ours (data consumers, from when the channel exists).
    pub channels: HashMap<str0m::channel::ChannelId, DataEnd>,
    /// Data producers and data consumers on it (bounded together by
    /// `max_data_channels_per_transport`).
    pub data_producers: SmallVec<[DataProducerId; 2]>,
    pub data_consumers: Vec<DataConsumerId>,
    /// M-lines already turned into producers or spare lines (or ours).
    pub known_mids: SmallVec<[Mid; 8]>,
    pub failure: Option<Failure>,
    pub allocator: Allocator,
    pub max_incoming_bitrate: Option<u64>,
    /// The test kit's hook (`testkit_hooks::inject_panic`): the next call
    /// into str0m panics.
    #[cfg(feature = "testkit-hooks")]
    pub panic_next: bool,
    /// Observed state and counters for [`crate::TransportStats`].
    pub observed: Observed,
    /// The span every event about this transport is recorded in (`debug`
    /// level, field `id`).
    pub span: tracing::Span,
}

impl Transport {
    /// The sending half of this transport's SRTP session, from its own
    /// copy of the DTLS keys: `None` before DTLS connects, or with dimpl.
    /// For the owned send path of issue #19; only its tests call it yet.
    #[cfg_attr(not(feature = "testkit-hooks"), allow(dead_code))]
    pub(crate) fn srtp_sender(&self) -> Option<crate::crypto::srtp_tx::SrtpTx> {
        self.dtls_keys.get().and_then(|k| k.sender().ok())
    }

    /// The receiving half of the client's SRTCP, likewise.
    #[cfg_attr(not(feature = "testkit-hooks"), allow(dead_code))]
    pub(crate) fn srtcp_receiver(&self) -> Option<crate::crypto::srtp_tx::SrtcpRx> {
        self.dtls_keys.get().and_then(|k| k.rtcp_receiver().ok())
    }

    pub(crate) fn new(
        id: TransportId,
        config: &RouterConfig,
        factory: &TransportFactory,
        listen: &[ListenInfo],
        creds: IceCreds,
        now: Instant,
    ) -> Transport {
        let codecs = config.codecs;
        let limits = &config.limits;
        let owned_wanted = send_path::wanted(config);
        // str0m's estimator sees none of the owned path's packets, and its
        // probes would number packets in a second transport-wide sequence.
        let estimation = config.initial_bandwidth_bps.filter(|_| !owned_wanted);
        let rtc_config = RtcConfig::new()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .set_crypto_provider(factory.crypto.clone())
            .set_dtls_cert(factory.cert.clone())
            .set_local_ice_credentials(creds.clone())
            .clear_codecs()
            .enable_opus(codecs.opus, false)
            .enable_vp8(codecs.vp8)
            .enable_vp9(codecs.vp9)
            .enable_h264(codecs.h264)
            .enable_av1(codecs.av1)
            .set_send_buffer_audio(limits.rtx_cache_audio)
            .set_send_buffer_video(limits.rtx_cache_video)
            .set_sctp_max_message_size(
                u32::try_from(limits.max_data_message_bytes).unwrap_or(u32::MAX),
            )
            .set_sctp_max_buffered_amount(limits.max_data_buffered_bytes.saturating_mul(2))
            .set_stats_interval(config.initial_bandwidth_bps.map(|_| STATS_INTERVAL))
            .enable_bwe(estimation.map(Bitrate::from))
            .set_extension(
                crate::ext::DEPENDENCY_DESCRIPTOR_ID,
                crate::ext::DependencyDescriptorSerializer::extension(),
            );
        // A copy of the DTLS keys for the owned send path (`crypto/keys.rs`).
        let dtls_keys = crate::crypto::keys::arm();
        let mut rtc = rtc_config.build(now);
        crate::crypto::keys::disarm();
        for l in listen {
            if let Ok(c) = Candidate::host(l.candidate_addr(), Protocol::Udp) {
                rtc.add_local_candidate(c);
            }
        }
        // Passive TCP candidates (RFC 6544) after every UDP one: their type
        // preference (90 against 126 for UDP host) puts them below UDP, so
        // a client that can use UDP does.
        for addr in listen.iter().filter_map(ListenInfo::tcp_candidate_addr) {
            let tcp = Candidate::builder()
                .tcp()
                .host(addr)
                .tcptype(TcpType::Passive)
                .build();
            if let Ok(c) = tcp {
                rtc.add_local_candidate(c);
            }
        }
        Transport {
            id,
            rtc,
            dtls_keys,
            owned_wanted,
            owned_initial_bps: config.initial_bandwidth_bps.filter(|_| owned_wanted),
            owned: None,
            owned_out: Vec::new(),
            media_route: None,
            owned_stats_at: None,
            rtc_now: now,
            listen: listen.iter().copied().collect(),
            ufrags: smallvec::smallvec![creds.ufrag],
            routes: SmallVec::new(),
            connected: false,
            last_rx: now,
            rtc_timeout: now,
            producers: SmallVec::new(),
            producer_by_mid: SmallVec::new(),
            ssrc_cache: HashMap::new(),
            ssrc_simulcast: SmallVec::new(),
            consumers: Vec::new(),
            consumer_by_mid: HashMap::new(),
            negotiation: Negotiation::default(),
            channels: HashMap::new(),
            data_producers: SmallVec::new(),
            data_consumers: Vec::new(),
            known_mids: SmallVec::new(),
            failure: None,
            allocator: Allocator::new(),
            max_incoming_bitrate: None,
            #[cfg(feature = "testkit-hooks")]
            panic_next: false,
            span: tracing::debug_span!("transport", id = %id),
            observed: Observed::default(),
        }
    }

    /// The listen address a datagram arriving on `local` belongs to.
    pub(crate) fn listen_for_local(&self, local: SocketAddr) -> Option<&ListenInfo> {
        self.listen.iter().find(|l| l.matches(local))
    }

    /// The listen address whose TCP listener accepted a connection on `local`.
    pub(crate) fn listen_for_tcp(&self, local: SocketAddr) -> Option<&ListenInfo> {
        self.listen.iter().find(|l| l.matches_tcp(local))
    }

    /// Run `f` on the `Rtc`, turning a panic inside str0m into a failure of
    /// this transport only.
    pub(crate) fn guarded<R>(&mut self, f: impl FnOnce(&mut Rtc) -> R) -> Option<R> {
        let inject = self.take_injected_panic();
        let rtc = &mut self.rtc;
        guard(&mut self.failure, inject, move || f(rtc))
    }

    /// Drain str0m's output to its next timeout: transmits go to `out`,
    /// events, and the address pairs learned (a transmit to a new peer
    /// address) or evicted (past `max_routes`), to `d`. The router applies
    /// `d` right after (`Hub::absorb`): no datagram is handled in between.
    ///
    /// One guard around the whole loop, not one per `poll_output`: every
    /// forwarded packet passes through here, and each output moved out of a
    /// guard is another copy of str0m's large `Output`.
    pub(crate) fn drain(&mut self, out: &mut OutQueue, d: &mut Drained, max_routes: usize) {
        let inject = self.take_injected_panic();
        let Transport {
            rtc,
            listen,
            routes,
            rtc_timeout,
            failure,
            observed,
            owned,
            media_route,
            rtc_now,
            ..
        } = self;
        let now = *rtc_now;
        let drained = guard(failure, inject, || loop {
            match rtc.poll_output() {
                Ok(str0m::Output::Timeout(t)) => {
                    *rtc_timeout = t;
                    return Ok(());
                }
                Ok(str0m::Output::Transmit(t)) => {
                    // Over TCP the router finds the connection of the
                    // address pair (Hub::absorb) and frames the datagram.
                    let tcp = t.proto == Protocol::Tcp;
                    let local = if tcp {
                        listen
                            .iter()
                            .find(|l| l.tcp_candidate_addr() == Some(t.source))
                            .and_then(|l| l.tcp)
                    } else {
                        listen
                            .iter()
                            .find(|l| l.candidate_addr() == t.source)
                            .map(|l| l.addr)
                    };
                    let Some(local) = local else {
                        continue;
                    };
                    let route = send_path::MediaRoute {
                        tcp,
                        local,
                        remote: t.destination,
                    };
                    if !tcp {
                        learn_route(routes, (route.remote, local), d, max_routes);
                    }
                    let stun = is_stun(&t.contents);
                    let Some(data) =
                        send_path::outgoing(owned.as_deref_mut(), t.contents.into(), now)
                    else {
                        continue;
                    };
                    if !stun {
                        *media_route = Some(route);
                    }
                    route.push(data.into(), observed, out, d);
                }
                Ok(str0m::Output::Event(e)) => d.events.push(e),
                Err(e) => return Err(e.to_string()),
            }
        });
        if let Some(Err(e)) = drained {
            self.failure = Some(Failure::Internal(e));
        }
        self.flush_owned(out, d);
    }

    /// Whether the test kit asked the next call into str0m to panic
    /// (clearing the request); never without the feature `testkit-hooks`.
    fn take_injected_panic(&mut self) -> bool {
        #[cfg(feature = "testkit-hooks")]
        {
            std::mem::take(&mut self.panic_next)
        }
        #[cfg(not(feature = "testkit-hooks"))]
        {
            false
        }
    }

    pub(crate) fn producer_for_mid(&self, mid: Mid) -> Option<ProducerId> {
        self.producer_by_mid
            .iter()
            .find(|(m, _)| *m == mid)
            .map(|(_, p)| *p)
    }

    /// Data producers and data consumers on this transport.
    pub(crate) fn data_channel_count(&self) -> usize {
        self.data_producers.len() + self.data_consumers.len()
    }

    /// Earliest time this transport needs a timeout, not counting producers.
    pub(crate) fn liveness_deadline(&self, config: &RouterConfig) -> Instant {
        self.last_rx + config.liveness_timeout
    }
}

/// Run `f` unless the transport already failed, turning a panic (or, with
/// `inject`, the test kit's injected one) into a failure of this transport
/// only.
fn guard<R>(failure: &mut Option<Failure>, inject: bool, f: impl FnOnce() -> R) -> Option<R> {
    if failure.is_some() {
        return None;
    }
    let result = catch_unwind(AssertUnwindSafe(move || {
        if inject {
            panic!("injected transport panic");
        }
        f()
    }));
    match result {
        Ok(r) => Some(r),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without message".into());
            *failure = Some(Failure::Internal(format!("panic: {what}")));
            None
        }
    }
}

/// Whether str0m's datagram is a STUN message (sent to any pair the
/// peer checks, not only the nominated one).
fn is_stun(data: &[u8]) -> bool {
    crate::packet::classify::classify(data) == crate::packet::classify::DatagramKind::Stun
}

/// A (remote, local) address pair.
pub(crate) type Route = (SocketAddr, SocketAddr);

/// What one drain reported besides its transmits, for the router to apply.
#[derive(Default)]
pub(crate) struct Drained {
    pub events: Vec<str0m::Event>,
    pub routes_added: SmallVec<[Route; 2]>,
    pub routes_evicted: SmallVec<[Route; 2]>,
    /// Datagrams to send over TCP, by (remote, local) pair, unframed.
    pub tcp_out: Vec<(Route, bytes::Bytes)>,
}

/// str0m only sends to a peer that authenticated (a STUN check with our
/// credentials), so its destinations are the addresses we may route
/// datagrams from. Past `max_routes`, the oldest pair is evicted.
fn learn_route(routes: &mut SmallVec<[Route; 4]>, key: Route, d: &mut Drained, max_routes: usize) {
    if routes.last() == Some(&key) || routes.contains(&key) {
        return;
    }
    if routes.len() >= max_routes.max(1) {
        let old = routes.remove(0);
        // Learned and evicted in the same drain: the demux never saw it.
        match d.routes_added.iter().position(|r| *r == old) {
            Some(i) => {
                d.routes_added.remove(i);
            }
            None => d.routes_evicted.push(old),
        }
    }
    routes.push(key);
    d.routes_added.push(key);
}
