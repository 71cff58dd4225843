//! Router configuration, limits and per-object options.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::Layers;

/// Configuration of a [`Router`](crate::Router).
///
/// Build it from `RouterConfig::default()` and change fields.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct RouterConfig {
    /// Where the router's randomness (ICE credentials, initial sequence
    /// numbers and timestamps) comes from.
    ///
    /// `None` (the default): a ChaCha generator seeded from the operating
    /// system's CSPRNG, different for every router. `Some(seed)`: a fixed
    /// seed, so the same inputs give the same outputs. **A fixed seed is for
    /// reproducible tests only and unfit for production**: anyone who knows
    /// it can compute every ICE password the router hands out.
    pub seed: Option<u64>,
    /// Minimum interval between two keyframe requests sent to one producer.
    /// Requests inside the interval are merged into one sent when it ends.
    pub keyframe_min_interval: Duration,
    /// A transport whose peer sends nothing for this long (no ICE consent
    /// checks, no media) is closed with [`CloseReason::LivenessTimeout`](crate::CloseReason).
    /// Also bounds how long a transport may take to connect.
    pub liveness_timeout: Duration,
    /// Codecs offered and accepted.
    pub codecs: Codecs,
    /// Starting send-side bandwidth estimate per transport; `None` turns
    /// bandwidth estimation and allocation off.
    pub initial_bandwidth_bps: Option<u64>,
    /// Hard limits that bound the router's state.
    pub limits: Limits,
    /// How forwarded RTP leaves a subscriber's transport.
    pub send_path: SendPath,
}

/// How forwarded RTP leaves a subscriber's transport (issue #19,
/// `docs/owned-send-path.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum SendPath {
    /// Through the WebRTC stack's general send path: str0m's streams,
    /// pacer, RTX cache and estimator, per packet and subscriber. About
    /// twice the CPU per forwarded packet of [`SendPath::Owned`]; what
    /// forwarding uses without the OpenSSL DTLS stack.
    WebRtcStack,
    /// Through the router's own per-packet path: the header written per
    /// subscriber, SRTP with the transport's own copy of the DTLS keys,
    /// NACKs answered with RTX from a history of shared payloads, sender
    /// reports corrected to what was sent, and send-side estimation from
    /// the subscriber's transport-wide feedback with probe clusters. The
    /// WebRTC stack keeps ICE, DTLS, SDP, SCTP and all other RTCP. About
    /// half the CPU per forwarded packet. The default. Needs the OpenSSL
    /// DTLS stack (feature `openssl-dtls`, the default); with another,
    /// forwarding uses [`SendPath::WebRtcStack`].
    #[default]
    Owned,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            seed: None,
            keyframe_min_interval: Duration::from_millis(500),
            liveness_timeout: Duration::from_secs(15),
            codecs: Codecs::default(),
            initial_bandwidth_bps: Some(1_000_000),
            limits: Limits::default(),
            send_path: SendPath::default(),
        }
    }
}

/// Which codecs the router negotiates. All on by default.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Codecs {
    /// Opus audio.
    pub opus: bool,
    /// VP8 video.
    pub vp8: bool,
    /// VP9 video.
    pub vp9: bool,
    /// H.264 video.
    pub h264: bool,
    /// AV1 video.
    pub av1: bool,
}

impl Default for Codecs {
    fn default() -> Self {
        Codecs {
            opus: true,
            vp8: true,
            vp9: true,
            h264: true,
            av1: true,
        }
    }
}

/// Limits on the router's state. Past each, a command fails with
/// [`RouterError::Limit`](crate::RouterError) or a datagram is dropped and counted.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Limits {
    /// Transports per router.
    pub max_transports: usize,
    /// Producers per transport.
    pub max_producers_per_transport: usize,
    /// Consumers per transport.
    pub max_consumers_per_transport: usize,
    /// Consumers per producer.
    pub max_consumers_per_producer: usize,
    /// Simulcast layers per producer.
    pub max_layers_per_producer: usize,
    /// Largest SDP accepted, in bytes.
    pub max_sdp_bytes: usize,
    /// Most m-lines in an SDP.
    pub max_m_lines: usize,
    /// Peer addresses remembered per transport (the oldest is forgotten).
    pub max_addrs_per_transport: usize,
    /// Packets kept per outgoing video stream to answer NACKs.
    pub rtx_cache_video: usize,
    /// Packets kept per outgoing audio stream to answer NACKs.
    pub rtx_cache_audio: usize,
    /// Outputs queued before the host drains them; past it, transmits are dropped.
    pub max_queued_outputs: usize,
    /// STUN checks per second from one source IP that has not authenticated
    /// yet; past it they are dropped before their integrity is checked.
    pub max_unauthenticated_stun_per_source: u32,
    /// Source IPs tracked by that rate limit per second; checks from more
    /// sources are dropped.
    pub max_unauthenticated_sources: usize,
    /// Incoming SSRCs remembered per transport for the fast path.
    pub max_ssrcs_per_transport: usize,
    /// Observers (audio level and active speaker) per router.
    pub max_observers: usize,
    /// Producers one observer follows.
    pub max_producers_per_observer: usize,
    /// Observers following one producer (each costs a little per packet).
    pub max_observers_per_producer: usize,
    /// ICE-over-TCP connections the router tracks at once; past it, a new
    /// connection is refused (the host is told to close it, see
    /// [`Event::TcpConnectionClosed`](crate::Event::TcpConnectionClosed)).
    /// With [`max_tcp_frame`](Self::max_tcp_frame) this bounds the memory
    /// of partial frames: at most `max_tcp_connections * (max_tcp_frame + 2)`
    /// bytes.
    pub max_tcp_connections: usize,
    /// ICE-over-TCP connections from one peer IP. Many users behind one
    /// corporate NAT share an IP (the networks ICE over TCP is for), so
    /// this is a guard against one host hogging the table, not a per-user
    /// limit.
    pub max_tcp_connections_per_ip: usize,
    /// Longest RFC 4571 frame accepted, in bytes (without its two-byte
    /// prefix). WebRTC stacks keep datagrams under the path MTU; a longer
    /// length prefix closes the connection before any of it is buffered.
    pub max_tcp_frame: usize,
    /// An ICE-over-TCP connection that delivers no frame its transport
    /// accepts for this long (half-open, idle, never authenticated, or
    /// trickling a frame one byte at a time) is closed. Browsers send a
    /// consent check at least every few seconds on a connection they use.
    pub tcp_idle_timeout: Duration,
    /// Largest data channel message forwarded, in bytes (also announced to
    /// clients as the SCTP `max-message-size`); larger ones are dropped and
    /// counted.
    pub max_data_message_bytes: usize,
    /// Data channels per transport: data producers and data consumers
    /// together. A client's channel past it is closed and counted.
    pub max_data_channels_per_transport: usize,
    /// Messages per second one data producer may send (burst: one
    /// second's worth); past it they are dropped and counted.
    pub max_data_messages_per_second: u32,
    /// Bytes per second one data producer may send (burst: one second's
    /// worth); past it messages are dropped and counted.
    pub max_data_bytes_per_second: usize,
    /// Bytes one data consumer may have waiting for its client (in the
    /// SCTP send buffer, or before its channel opens). Past it, a message
    /// on an unreliable channel is dropped and counted, and a reliable
    /// channel's consumer is closed ([`CloseReason::TooSlow`](crate::CloseReason)).
    /// A transport's SCTP association buffers at most twice this.
    pub max_data_buffered_bytes: usize,
    /// Pipes (links to other routers, see [`Router::create_pipe`](crate::Router::create_pipe))
    /// per router.
    pub max_pipes: usize,
    /// Producers one pipe carries in each direction: sending past it fails
    /// with [`RouterError::Limit`](crate::RouterError); announces past it
    /// from the other router are dropped and counted.
    pub max_producers_per_pipe: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_transports: 10_000,
            max_producers_per_transport: 32,
            max_consumers_per_transport: 512,
            max_consumers_per_producer: 5_000,
            max_layers_per_producer: 4,
            max_sdp_bytes: 64 * 1024,
            max_m_lines: 256,
            max_addrs_per_transport: 4,
            rtx_cache_video: 1024,
            rtx_cache_audio: 64,
            max_queued_outputs: 1 << 20,
            max_unauthenticated_stun_per_source: 100,
            max_unauthenticated_sources: 10_000,
            max_ssrcs_per_transport: 64,
            max_observers: 1_024,
            max_producers_per_observer: 256,
            max_observers_per_producer: 4,
            max_tcp_connections: 10_000,
            max_tcp_connections_per_ip: 128,
            max_tcp_frame: 1500,
            tcp_idle_timeout: Duration::from_secs(30),
            max_data_message_bytes: 64 * 1024,
            max_data_channels_per_transport: 64,
            max_data_messages_per_second: 200,
            max_data_bytes_per_second: 2 * 1024 * 1024,
            max_data_buffered_bytes: 256 * 1024,
            max_pipes: 64,
            max_producers_per_pipe: 1_024,
        }
    }
}

/// One local address a transport is reachable on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ListenInfo {
    /// The host socket's local address (what arrives as
    /// [`Input::Receive::destination`](crate::Input)).
    pub addr: SocketAddr,
    /// The IP put in ICE candidates instead of `addr`'s, for a host behind
    /// NAT or bound to `0.0.0.0`.
    pub announced: Option<IpAddr>,
    /// The host's TCP listener for ICE over TCP (RFC 6544), if any: a
    /// passive TCP host candidate is offered for it, at a lower priority
    /// than the UDP one, so UDP wins wherever it works. Often `addr`
    /// itself (the same port number, TCP).
    pub tcp: Option<SocketAddr>,
}

impl ListenInfo {
    /// Listen on `addr`, announcing it as is.
    pub fn new(addr: SocketAddr) -> Self {
        ListenInfo {
            addr,
            announced: None,
            tcp: None,
        }
    }

    /// Also accept ICE over TCP on the host's TCP listener `tcp` (see
    /// [`ListenInfo::tcp`]). The host then owns the connections and feeds
    /// them with [`Input::tcp_data`](crate::Input::tcp_data); transmits
    /// for them come out with [`Via::Tcp`](crate::Via::Tcp).
    pub fn with_tcp(mut self, tcp: SocketAddr) -> Self {
        self.tcp = Some(tcp);
        self
    }

    /// Announce `ip` in candidates instead of the socket's address.
    pub fn with_announced(mut self, ip: IpAddr) -> Self {
        self.announced = Some(ip);
        self
    }

    /// The address put in the ICE candidate.
    pub fn candidate_addr(&self) -> SocketAddr {
        SocketAddr::new(self.announced.unwrap_or(self.addr.ip()), self.addr.port())
    }

    /// The address put in the passive TCP candidate, if TCP is on.
    pub fn tcp_candidate_addr(&self) -> Option<SocketAddr> {
        let tcp = self.tcp?;
        Some(SocketAddr::new(
            self.announced.unwrap_or(tcp.ip()),
            tcp.port(),
        ))
    }

    /// Whether a datagram that arrived on `local` belongs to this listen address.
    pub(crate) fn matches(&self, local: SocketAddr) -> bool {
        addr_matches(self.addr, local)
    }

    /// Whether a TCP connection accepted on `local` belongs to this listen address.
    pub(crate) fn matches_tcp(&self, local: SocketAddr) -> bool {
        self.tcp.is_some_and(|tcp| addr_matches(tcp, local))
    }
}

fn addr_matches(listen: SocketAddr, local: SocketAddr) -> bool {
    local.port() == listen.port() && (local.ip() == listen.ip() || listen.ip().is_unspecified())
}

impl ListenInfo {}

/// Options of [`Router::create_webrtc_transport`](crate::Router::create_webrtc_transport).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct WebRtcTransportOptions {
    /// Local addresses (host sockets) the transport is reachable on.
    pub listen: Vec<ListenInfo>,
    /// Most bitrate the client may send us, told to its sender with REMB
    /// every second (so a publisher's uplink is not flooded with layers).
    pub max_incoming_bitrate: Option<u64>,
}

impl WebRtcTransportOptions {
    /// A transport on these listen addresses.
    pub fn new(listen: impl IntoIterator<Item = ListenInfo>) -> Self {
        WebRtcTransportOptions {
            listen: listen.into_iter().collect(),
            max_incoming_bitrate: None,
        }
    }
}

impl WebRtcTransportOptions {
    /// Limit what the client sends us.
    pub fn with_max_incoming_bitrate(mut self, bps: u64) -> Self {
        self.max_incoming_bitrate = Some(bps);
        self
    }
}

/// Options of [`Router::consume`](crate::Router::consume).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ConsumerOptions {
    /// Start paused: nothing is forwarded until resumed.
    pub paused: bool,
    /// The layers the subscriber wants at first (default: the highest).
    pub preferred_layers: Layers,
    /// Bandwidth priority (higher first): e.g. 3 screen share, 2 active
    /// speaker or pinned, 1 the rest (default).
    pub priority: u8,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            paused: false,
            preferred_layers: Layers::MAX,
            priority: 1,
        }
    }
}

impl ConsumerOptions {
    /// Start with these preferred layers.
    pub fn with_preferred_layers(mut self, layers: Layers) -> Self {
        self.preferred_layers = layers;
        self
    }
}
