//! A deterministic network simulator for [`manifold_sfu`]: test a host's use
//! of the router the way this crate's own integration tests do, without
//! sockets, browsers or wall-clock time.
//!
//! A [`Sim`] owns one [`Router`](manifold_sfu::Router), some str0m
//! [`Client`]s playing browsers (ICE, DTLS, SRTP and RTCP feedback all real),
//! and a seeded simulated [`Link`] in each direction between each client and
//! the router: delay, jitter (which reorders), random loss and a rate cap
//! with a bounded queue ([`LinkConfig`]). Publishers send synthetic media
//! ([`Source`]: Opus-sized audio, VP8 with real payload descriptors,
//! simulcast and temporal layers, AV1 with a Dependency Descriptor, VP9 SVC);
//! every client records each RTP packet it receives ([`Rx`]).
//!
//! Time is virtual: each step jumps to the earliest of the router's timeout,
//! the clients' timeouts, media send times and link deliveries, so a minute
//! of media runs in a few seconds. Everything random is seeded (the links,
//! the router's RNG). str0m keeps its streams in `HashMap`s, whose order is
//! random per instance, so its pacing order, and with it which datagram a
//! loss hits and the congestion controller's exact timing, still varies a
//! little between runs: assert with some slack, as [`table`] does. The
//! router is a field of the sim ([`Sim::router`]): between steps a test
//! issues the same commands and reads the same views its host would.
//!
//! # Example
//!
//! A test of the kind a host writes: one publisher, one viewer behind a
//! downlink that loses 5 % of the datagrams. The router's NACK/RTX repairs
//! the loss: the viewer starts on a keyframe and ends with every packet.
//!
//! ```
//! use std::time::Duration;
//!
//! use manifold_sfu::{MediaKind, RouterConfig};
//! use manifold_testkit::{check, LinkConfig, Sim};
//!
//! // A router with a fixed seed; the sim adds the clock and the network.
//! let mut config = RouterConfig::default();
//! config.seed = Some(7);
//! let mut sim = Sim::with_config(config);
//!
//! // A browser publishing Opus and VP8 over a clean link (WHIP style).
//! let publisher = sim.add_peer("alice", LinkConfig::default(), LinkConfig::default());
//! let (_transport, producers) = sim.publish(publisher, true, true);
//! assert_eq!(producers.len(), 2);
//!
//! // A browser subscribing to both (WHEP style) over a downlink with 40 ms
//! // of delay that loses 5 % of the datagrams. (`jitter` and `rate_bps`
//! // make a link reorder and cap it.)
//! let down = LinkConfig {
//!     delay: Duration::from_millis(40),
//!     ..LinkConfig::lossy(0.05)
//! };
//! let viewer = sim.add_peer("bob", LinkConfig::default(), down);
//! let subscription = sim.subscribe(viewer, &producers);
//!
//! // Five seconds of media in virtual time, then the last repairs land.
//! sim.run_for(Duration::from_secs(5));
//! sim.client(publisher).source = None;
//! sim.run_for(Duration::from_secs(1));
//!
//! // The router's view: the viewer's transport carries both tracks.
//! let consumers = sim.router.transport(subscription).unwrap().consumers();
//! assert_eq!(consumers.len(), 2);
//!
//! // The browser's view: what it received and can decode.
//! let bob = sim.client(viewer);
//! assert!(bob.connected);
//! let video = bob.track(MediaKind::Video).to_vec();
//! let frames = video.iter().filter(|rx| rx.marker).count();
//! let bytes: usize = video.iter().map(|rx| rx.payload_len).sum();
//! assert!(frames > 120, "{frames} frames in 5 s at 30 fps");
//! assert!(bytes > 300_000, "{bytes} bytes of video");
//! assert!(video[0].keyframe_start, "decoding starts on a keyframe");
//! // Every lost packet was retransmitted: no hole in the sequence.
//! assert_eq!(check::missing_seqs(&video), 0);
//! assert!(sim.peers[viewer].down.lost > 0, "the link did lose packets");
//! ```
//!
//! For quality over time, [`table::Table`] collects one row per second
//! (bandwidth estimate, allocation, forwarded layers, time frozen) and
//! locks it against a snapshot with a tolerance.
//!
//! # Modules
//!
//! * [`sim`], [`client`], [`link`], [`media`]: the simulation itself;
//!   a [`Client`] also runs over a real socket
//!   ([`Client::lightweight`], [`Client::drain_into`], stamped media for
//!   one-way latency): the load generator `examples/loadgen` is built on it;
//! * [`check`]: assertions on a received stream (sequence continuity,
//!   simulcast switches on keyframes, timestamps);
//! * [`table`]: per-second quality tables and their snapshots;
//! * [`hostile`]: hostile datagrams (forged STUN, mutated RTP, garbage);
//! * [`av1`]: the AV1 RTP specification's example dependency structures;
//! * [`fuzz`]: the fuzzing host of the `fuzz/` targets, which checks the
//!   router's invariants after every step, and the parsers' checks.
//!
//! # Hooks
//!
//! This crate turns on `manifold-sfu`'s feature `testkit-hooks`, a handful
//! of functions that look inside the router (a DTLS certificate shared by
//! every router of the process, an SDP parse memo for the fuzzer, panic
//! injection, invariant checks). The feature is off by default: a host that
//! does not depend on this crate (outside its dev-dependencies) builds none
//! of it.

#![warn(missing_docs)]

pub mod av1;
pub mod channels;
pub mod check;
pub mod client;
pub mod fuzz;
pub mod hostile;
pub mod link;
pub mod logs;
pub mod media;
pub mod pipe;
pub mod sim;
pub mod table;

pub use client::{shared_crypto, Client, Rx};
pub use link::{Link, LinkConfig};
pub use media::Source;
pub use sim::{Peer, Sim, SERVER};
