//! The owned send path of forwarded RTP (issue #19,
//! `docs/owned-send-path.md`): the pieces a transport will use to send a
//! forwarded packet without str0m's general per-stream machinery. Each is
//! tested against a real receiver (a str0m subscriber, or libsrtp's
//! vectors) before anything on the forwarding path calls it.
//!
//! * step 1, SRTP with kept keys: `crypto/srtp_tx.rs`, `crypto/keys.rs`;
//! * step 2, the header written per subscriber: [`header`];
//! * step 3, the history that answers NACKs with RTX: [`history`], and
//!   the NACKs read from the subscriber's RTCP: [`feedback`] (decrypted
//!   with `crypto/srtp_tx.rs`'s `SrtcpRx`);
//! * step 4 without its estimator: transport-wide sequence numbers, the
//!   send register and the subscriber's feedback: [`twcc`];
//! * step 5, sender reports: [`report`].
//!
//! The delay-based estimator of step 4, step 6 (sending and pacing) and
//! the switch that puts them all on the forwarding path come next.
//! Until then nothing outside the tests calls this.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod feedback;
pub(crate) mod header;
pub(crate) mod history;
pub(crate) mod report;
pub(crate) mod twcc;
