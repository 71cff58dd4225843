//! The owned send path of forwarded RTP (issue #19,
//! `docs/owned-send-path.md`): the pieces a transport will use to send a
//! forwarded packet without str0m's general per-stream machinery. Each is
//! tested against a real receiver (a str0m subscriber, or libsrtp's
//! vectors) before anything on the forwarding path calls it.
//!
//! * step 1, SRTP with kept keys: `crypto/srtp_tx.rs`, `crypto/keys.rs`;
//! * step 2, the header written per subscriber: [`header`];
//! * step 3, the history that answers NACKs with RTX: [`history`], its
//!   payloads kept once per router in [`kept`], and
//!   the NACKs read from the subscriber's RTCP: [`feedback`] (decrypted
//!   with `crypto/srtp_tx.rs`'s `SrtcpRx`);
//! * step 4 without its estimator: transport-wide sequence numbers, the
//!   send register and the subscriber's feedback: [`twcc`];
//! * step 5, sender reports: [`report`].
//!
//! * step 6, the path itself on one transport: [`sender`], with the VP8
//!   renumbering done in the subscriber's copy of the payload: [`vp8`],
//!   each datagram written into a shared block: [`bufs`].
//!   [`RouterConfig::send_path`](crate::RouterConfig) puts it on the
//!   forwarding path.
//!
//! The delay-based estimator of step 4 (`bandwidth/delay_based.rs`) is
//! not wired to it yet, nor are its own sender reports (`report.rs`
//! writes them; on the path, str0m's are corrected instead) or the
//! feedback reader: until then some parts are used by the tests only.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod bufs;
pub(crate) mod estimate;
pub(crate) mod feedback;
pub(crate) mod header;
pub(crate) mod history;
pub(crate) mod kept;
pub(crate) mod probe;
pub(crate) mod report;
pub(crate) mod sender;
pub(crate) mod twcc;
pub(crate) mod vp8;
