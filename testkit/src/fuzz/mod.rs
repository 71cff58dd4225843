//! The fuzz host and input generators: whole-router invariant checks shared
//! by the `fuzz/` targets `router`, `sdp` and `tcp` and by `tests/fuzz_corpus.rs`,
//! and the packet parsers' checks ([`packet`]) of the parser targets.
//!
//! Panicking is this module's job: every `assert!`, `expect` and `unwrap`
//! here states an invariant (or a canned, known-good input) whose failure
//! the fuzzer must report. None of it runs on the router's input path.
//!
//! [`Host`] drives a router through the public API (plus one look inside,
//! `manifold_sfu::testkit_hooks::check_invariants`) and, after every
//! input or command, drains the output and asserts:
//!
//! * no [`Transmit`](manifold_sfu::Transmit) goes to an address that did not
//!   authenticate (here nothing can: the input cannot compute STUN
//!   MESSAGE-INTEGRITY, so nothing may be sent at all), and no route,
//!   connection or DTLS close happens;
//! * [`Router::counts`](manifold_sfu::Router::counts) agree with the picture the
//!   events give, and stay within [`Limits`](manifold_sfu::Limits): transports,
//!   producers, consumers, routes, ufrags and timers; the queue empties when
//!   drained, and one step yields a bounded number of outputs;
//! * events are consistent: no unknown or reused id, children close before
//!   their parent, close reasons fit (a transport without a peer only closes
//!   on request or after the liveness timeout, never earlier);
//! * refused commands (a bad offer or answer, a refused consume) change
//!   nothing;
//! * every open transport's WebRTC stack is alive, and the ICE ufrag it
//!   currently answers to routes to it;
//! * closing everything, or letting it expire, leaves every count at zero:
//!   ufrags, routes and timers included.

mod bytes;
pub mod canned;
mod host;
pub mod packet;
mod pipe;
mod router;
mod sdp;
mod tcp;
pub mod wire;

pub use host::{listen_infos, small_config, Host, TransportState, LISTEN};
pub use pipe::check_pipe_frames;
pub use router::check_router;
pub use sdp::check_sdp;
pub use tcp::check_tcp;
