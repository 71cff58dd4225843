//! Manifold: an embeddable, sans-IO selective forwarding unit (SFU) for WebRTC.
//!
//! Each participant uploads each track once; the router forwards it to every
//! subscriber without decoding, rewriting only RTP headers. It uses
//! mediasoup's vocabulary:
//!
//! * [`Router`]: owns everything below and moves media between transports.
//! * A **WebRTC transport** ([`TransportId`], commands via [`TransportApi`]):
//!   one client's ICE-lite + DTLS-SRTP session (BUNDLE, rtcp-mux), on str0m.
//! * A **producer** ([`ProducerId`], [`ProducerApi`]): one incoming audio or
//!   video track of a transport.
//! * A **consumer** ([`ConsumerId`], [`ConsumerApi`]): one outgoing copy of
//!   a producer on another transport.
//! * An **observer** ([`ObserverId`], [`ObserverApi`]): watches some audio
//!   producers through the RFC 6464 audio-level header extension only
//!   (never decoding, so end-to-end encrypted payloads work). An *audio
//!   level observer* ([`Router::create_audio_level_observer`]) reports the
//!   loudest producers every interval ([`Event::AudioLevels`],
//!   [`Event::Silence`]); an *active speaker observer*
//!   ([`Router::create_active_speaker_observer`]) reports the dominant
//!   speaker with hysteresis ([`Event::DominantSpeaker`]): a short
//!   interjection or a cough does not switch, a new speaker who keeps
//!   talking takes over within about a second, silence does not switch.
//!   Producers nobody observes cost nothing; an observed one costs one
//!   accumulator add per packet.
//! * A **data producer** ([`DataProducerId`], [`DataProducerApi`]): a
//!   client's SCTP data channel ([`Event::DataProducerAdded`]), or the
//!   host's own message source ([`Router::create_data_producer`]). A
//!   **data consumer** ([`DataConsumerId`], [`DataConsumerApi`]) forwards
//!   its messages, untouched, on a channel the router opens to another
//!   client ([`Router::consume_data`], by renegotiation when the client
//!   had no SCTP m-line) or to the host ([`Router::consume_data_direct`],
//!   [`Event::DataMessage`]). Bounded by size, rate, channels per
//!   transport and buffered bytes per consumer (see [`Limits`]).
//!
//! Each object has a command view (`router.transport(id)` → [`TransportApi`],
//! from `&mut Router`) and a read-only view (`router.transport_ref(id)` →
//! [`TransportRef`], from `&Router`; several at once). A command view ends
//! every command at one settle point: what the command set off is handled
//! before it returns.
//!
//! # Sans-IO
//!
//! Nothing in this crate opens a socket, spawns a thread or reads the clock.
//! The host owns the UDP socket(s) (and TCP connections, see
//! [ICE over TCP](#ice-over-tcp)) and the timer, and drives the router with
//! one pair of calls:
//!
//! 1. [`Router::handle_input`] with an [`Input`]: a received datagram (or
//!    TCP bytes) or a timeout, each carrying the current time (which never goes backwards);
//! 2. [`Router::poll_output`], called until it returns [`Output::Timeout`]:
//!    before that it yields [`Output::Transmit`] (a datagram to send) and
//!    [`Output::Event`] (something for the host: a new producer, an offer to
//!    forward to a client, a closed transport...).
//!
//! Commands ([`Router::create_webrtc_transport`], [`Router::consume`], the
//! views) may also queue output: drain after them too. All transports share
//! the host's socket(s): the router demultiplexes each datagram in O(1), by
//! ICE username for STUN and by address pair for the rest.
//!
//! # ICE over TCP
//!
//! For clients whose network blocks UDP, a listen address can also offer a
//! passive TCP candidate (RFC 6544; [`ListenInfo::with_tcp`]), at a lower
//! priority than UDP so UDP wins wherever it works. The host still owns all
//! I/O: it accepts the TCP connections, names each with a [`TcpConnId`]
//! of its choice, and feeds their byte streams in as they are read
//! ([`Input::tcp_accepted`], [`Input::tcp_data`], [`Input::tcp_closed`]);
//! the router cuts the RFC 4571 frames (however the reads split or join
//! them) and routes each like a datagram: STUN by ICE username, the rest by
//! connection. Transmits for TCP come out with [`Transmit::via`] set to
//! [`Via::Tcp`] and their bytes already framed (the two-byte length
//! prefix added by the router, which knows the frame boundaries): the host
//! writes them to that connection as they are. A host that offers TCP must
//! look at `via`; one that does not never sees anything but [`Via::Udp`].
//!
//! Whatever a TCP peer sends, the router holds at most one partial frame
//! per connection, no longer than [`Limits::max_tcp_frame`] (a longer
//! length prefix closes the connection before its body is buffered), and
//! at most [`Limits::max_tcp_connections`] connections
//! (`max_tcp_connections_per_ip` from one IP); a connection that delivers
//! no accepted frame for [`Limits::tcp_idle_timeout`] (half-open, never
//! authenticated, trickling) is closed by the router's own timer. Each
//! refusal is counted in [`RouterStats`] and reported with
//! [`Event::TcpConnectionClosed`]: the host then closes the socket. The
//! host's own job is the rest of TCP's backpressure: a bounded send queue
//! per connection (the reference server drops a peer that does not read).
//!
//! # Time
//!
//! The router has no clock of its own: it knows only the times the host
//! hands it. So **every input and every command that changes state takes
//! the host's current time** (`now: Instant`, from a monotonic clock such as
//! [`std::time::Instant::now`], or a virtual clock in tests):
//! [`Input::receive`] and [`Input::Timeout`] carry it, and
//! [`Router::create_webrtc_transport`], [`Router::consume`] and every
//! changing command of [`TransportApi`], [`ProducerApi`] and
//! [`ConsumerApi`] take it as their first argument. A command first brings
//! the router's clock up to `now`, so nothing it creates or (re)starts is
//! stamped with the time of the last datagram: a router that has heard
//! nothing for an hour creates a transport that works, and its liveness
//! and consent deadlines, keyframe throttles, layer checks, allocation
//! start-up and rate limits count from `now`.
//!
//! Time never goes backwards: a `now` older than one the router has already
//! seen is treated as that time. Read-only getters take no time.
//!
//! # Randomness
//!
//! ICE credentials, initial RTP sequence numbers and timestamps come from a
//! generator seeded from the operating system's CSPRNG, different for every
//! router ([`RouterConfig::seed`] `None`, the default); DTLS keys and
//! certificates come from the crypto library's own OS-seeded generator.
//! A fixed seed makes a router reproducible for tests and is unfit for
//! production.
//!
//! # A complete host loop
//!
//! ```no_run
//! use std::net::UdpSocket;
//! use std::time::{Duration, Instant};
//! use manifold_sfu::{Event, Input, ListenInfo, Output, Router, RouterConfig};
//! use manifold_sfu::WebRtcTransportOptions;
//!
//! let socket = UdpSocket::bind("127.0.0.1:40000")?;
//! let local = socket.local_addr()?;
//! let mut router = Router::new(RouterConfig::default(), Instant::now());
//!
//! // Signaling (HTTP, WebSocket...) is the host's: here, one WHIP-style offer.
//! let offer: String = std::fs::read_to_string("offer.sdp")?;
//! let options = WebRtcTransportOptions::new([ListenInfo::new(local)]);
//! let t = router.create_webrtc_transport(Instant::now(), options)?;
//! let answer = router.transport(t).unwrap().accept_offer(Instant::now(), &offer)?;
//! println!("{answer}");
//!
//! let mut buf = vec![0u8; 2048];
//! loop {
//!     // Drain everything the last input or command produced.
//!     let deadline = loop {
//!         match router.poll_output() {
//!             // Only UDP here (no `ListenInfo::with_tcp`): `t.via` is `Via::Udp`.
//!             Output::Transmit(t) => {
//!                 socket.send_to(&t.contents, t.destination)?;
//!             }
//!             Output::Event(Event::ProducerAdded { producer, .. }) => {
//!                 println!("new track {producer}");
//!             }
//!             Output::Event(_) => {}
//!             Output::Timeout(at) => break at,
//!             _ => {}
//!         }
//!     };
//!     // Wait for a datagram or the deadline, whichever comes first.
//!     let wait = deadline.saturating_duration_since(Instant::now());
//!     socket.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
//!     match socket.recv_from(&mut buf) {
//!         Ok((n, source)) => {
//!             router.handle_input(Input::receive(Instant::now(), source, local, &buf[..n]))
//!         }
//!         Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
//!             router.handle_input(Input::Timeout(Instant::now()))
//!         }
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! # #[allow(unreachable_code)]
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Signaling
//!
//! Both directions work on one transport:
//!
//! * **The client offers** (WHIP, WHEP, a client renegotiating):
//!   [`TransportApi::accept_offer`] returns the answer. Tracks the client
//!   sends become producers; m-lines it receives on carry consumers.
//! * **The server offers**: a consumer added to a connected transport that
//!   has no free m-line makes the router emit [`Event::RenegotiationNeeded`]
//!   with an offer; give the client's answer to
//!   [`TransportApi::accept_answer`]. Changes made while an offer is pending
//!   wait for the next one. If both sides offer at once (glare), the router
//!   yields: it answers the client and offers again afterwards.
//!
//! # Errors and bad input
//!
//! Commands return [`RouterError`]. Datagrams never fail: whatever the router
//! cannot use is dropped and counted in [`Router::stats`]. A panic inside
//! one transport's WebRTC stack closes that transport
//! ([`CloseReason::Failed`]) and nothing else. Every map and queue is
//! bounded by [`Limits`].
//!
//! # Pipes between routers
//!
//! One router runs on one thread. To spread a stream's viewers over
//! several cores, run several routers and link them with [`pipe`]s: a
//! producer of router A sent through a pipe
//! ([`Router::create_pipe`], [`PipeApi::send_producer`]) becomes a
//! producer on router B ([`Event::PipeProducerAdded`]) that B's consumers
//! consume like a local one. The host carries the messages
//! ([`Output::Pipe`] of one to [`Input::pipe`] of the other); the routers
//! share nothing.
//!
//! Between hosts, [`Router::create_remote_pipe`] makes an end whose
//! messages leave as ordinary [`Output::Transmit`] datagrams to the other
//! host's media port and come back through [`Input::receive`]: encoded
//! ([`PipeMessage::encode`]), sealed with AES-256-GCM under a 32-byte key
//! the host gives both ends ([`RemotePipeOptions`]), replay-checked, with
//! control messages acknowledged and sent again and RTP repaired by NACKs.
//! Their first byte ([`pipe::PIPE_DATAGRAM_BYTE`], in the range RFC 7983
//! leaves free) tells them from STUN, DTLS and SRTP on a shared port, and
//! the router finds their pipe by address pair in O(1). The router still
//! opens no socket. The key must come from the operating system's CSPRNG,
//! be fresh for every pipe and travel only over the hosts' authenticated,
//! encrypted control channel; the two ends take the two [`PipeRole`]s.
//!
//! # How the crate is built
//!
//! One concept per module, importing downward only: `router` (input,
//! output, views, the O(1) demux, the one timer table, and the hub that
//! applies what a transport reports), `transport` (one client's str0m
//! session, every call into str0m guarded there and nowhere else, and the
//! owned send path that sends forwarded RTP beside it: `transport/owned/`),
//! `media` (producers, consumers, layer selection, reading each packet
//! once, header rewriting), `bandwidth` (the allocator and its loss
//! guard, the owned path's delay-based estimator), `observer` (audio levels and the active speaker), `data` (data
//! producers and consumers; the router's side is `router/data.rs`), [`pipe`]
//! (the messages between routers; the router's side is `router/pipe.rs`), `crypto`
//! (the provider's DTLS and SRTP tuning, and SRTP with kept keys), `stats` and
//! [`packet`]. A forwarded packet takes four named steps: resolve its
//! producer and layer, inspect it once, decide per consumer, write. Every
//! subsystem has the same `handle_timeout`/`poll_timeout` shape; the
//! router's timer table is the single truth for when it wakes.
//!
//! # Testing a host
//!
//! The companion crate `manifold-testkit` (in this repository's `testkit/`)
//! runs a router with simulated browsers (str0m clients) over seeded lossy,
//! jittery, rate-capped links in virtual time, and checks what they
//! receive; its crate docs carry a complete example test. It turns on this
//! crate's feature `testkit-hooks` (off by default), a few functions that
//! look inside the router; nothing else of it is in this crate.
//!
//! # Logging
//!
//! The router logs through [`tracing`] and leaves the subscriber to the
//! host. Everything about one transport is recorded inside a `transport`
//! span (debug level) whose field `id` is its [`TransportId`]. Levels:
//!
//! * **warn**: refusals and failures, with their reason: a limit reached
//!   (`max_transports`, `max_consumers_per_*`, `max_producers_per_transport`,
//!   `max_layers_per_producer`, `max_observers`, `max_producers_per_observer`,
//!   `max_observers_per_producer`, `max_data_channels_per_transport`) and a
//!   transport whose WebRTC stack failed
//!   (the error or panic message; the transport then closes with
//!   [`CloseReason::Failed`]);
//! * **debug**: state changes: every [`Event`] the router emits (connected,
//!   closed and why, producers and consumers added and closed, layer and
//!   allocation changes), ICE state changes, transports created;
//! * **trace**: the moments worth following one by one when debugging:
//!   keyframe requests from subscribers and to publishers, keyframes
//!   forwarded to a subscriber (`keyframe forwarded to the subscriber`,
//!   field `consumer`), bandwidth estimates, datagrams the WebRTC stack
//!   refused, and NACKs: the WebRTC
//!   stack answers a subscriber's NACKs from its retransmission cache and
//!   sends the publisher NACKs itself, so the router reports them per stats
//!   report (every 250 ms, with estimation on), with the count since the
//!   last one: `NACKs received from the subscriber` (field `consumer`) and
//!   `NACKs sent to the publisher` (fields `producer`, `rid`). A consumer's
//!   layer switch (its first layer too, which starts on a keyframe) is a
//!   debug event, `consumer switched layers`. Nothing per packet is logged
//!   above trace.
//!
//! With no subscriber installed (or one filtering these levels out) the
//! cost is a relaxed atomic load per call site.

#![deny(missing_docs)]

mod bandwidth;
mod config;
mod crypto;
mod data;
mod error;
mod event;
pub mod ext;
mod id;
mod io;
mod kind;
mod media;
mod observer;
pub mod packet;
pub mod pipe;
mod router;
mod stats;
#[cfg(feature = "testkit-hooks")]
#[doc(hidden)]
pub mod testkit_hooks;
mod transport;

pub use config::{
    Codecs, ConsumerOptions, Limits, ListenInfo, RouterConfig, SendPath, WebRtcTransportOptions,
};
pub use data::{
    DataChannelParams, DataConsumerOptions, DataConsumerStats, DataProducerStats, DataReliability,
};
pub use error::{RouterError, SignalingError};
pub use event::{CloseReason, Event, TcpCloseReason};
pub use id::{
    ConsumerId, DataConsumerId, DataProducerId, ObserverId, PipeId, ProducerId, TransportId,
};
pub use io::{Input, Output, TcpConnId, Transmit, Via};
pub use kind::MediaKind;
pub use media::layers::Layers;
pub use observer::{
    ActiveSpeakerObserverOptions, AudioLevelObserverOptions, ObserverKind, MIN_OBSERVER_INTERVAL,
};
pub use pipe::{
    PipeCodec, PipeLayer, PipeMessage, PipeProducer, PipeRole, PipeRtp, PipeWireError,
    RemotePipeOptions,
};
pub use router::api::{
    ConsumerApi, ConsumerRef, ConsumerStats, ConsumerView, ProducerApi, ProducerLayer, ProducerRef,
    ProducerView, TransportApi, TransportBandwidth, TransportRef, TransportView,
};
pub use router::data_api::{
    DataConsumerApi, DataConsumerRef, DataConsumerView, DataProducerApi, DataProducerRef,
    DataProducerView,
};
pub use router::observers::ObserverApi;
pub use router::pipe::PipeApi;
pub use router::{Router, RouterCounts, RouterStats};
pub use stats::{
    AddressPair, DtlsState, IceState, ProducerLayerStats, ProducerStats, TransportStats,
};
