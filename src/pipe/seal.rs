//! Sealing the datagrams of a pipe across hosts: AES-256-GCM with a key
//! both ends were given, a per-direction packet counter as nonce, and a
//! replay window on receive.
//!
//! ```text
//! 0        1        2                 10                      len-16   len
//! +--------+--------+-----------------+-----------------------+--------+
//! | 0xE1   | role   | counter (u64 BE)| sealed frame          | GCM tag|
//! +--------+--------+-----------------+-----------------------+--------+
//!  \________ header, authenticated as AAD ___/
//! ```
//!
//! The first byte is [`PIPE_DATAGRAM_BYTE`], in the range 192..=255 that
//! RFC 7983 leaves to no WebRTC protocol, so a router tells a pipe
//! datagram at a glance on a port it shares with STUN, DTLS and SRTP. The
//! nonce is the sender's role (A or B) and its counter: the two ends share
//! one key but never one nonce, and a counter is never reused (a pipe
//! that would wrap it fails first).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

/// The first byte of every pipe datagram (version 1 of the sealing).
pub const PIPE_DATAGRAM_BYTE: u8 = 0xE1;
/// Header length: first byte, role, counter.
pub(crate) const HEADER_LEN: usize = 10;
/// The GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Packets the replay window remembers behind the highest counter seen.
pub(crate) const REPLAY_WINDOW: u64 = 128;

/// Which end of a remote pipe this is. The two ends of one pipe must
/// take different roles (the host decides, e.g. the node that asked for
/// the pipe is A): each role seals with its own nonces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PipeRole {
    /// One end.
    A,
    /// The other end.
    B,
}

impl PipeRole {
    fn byte(self) -> u8 {
        match self {
            PipeRole::A => 0,
            PipeRole::B => 1,
        }
    }

    fn other(self) -> PipeRole {
        match self {
            PipeRole::A => PipeRole::B,
            PipeRole::B => PipeRole::A,
        }
    }
}

/// Why a datagram was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Too short, a wrong first byte or the sender's role is ours.
    Malformed,
    /// The tag did not match: a wrong key, or bytes changed on the way.
    Forged,
    /// A counter seen before, or too old for the window.
    Replayed,
}

/// The keys and counters of one end.
pub(crate) struct Seal {
    key: LessSafeKey,
    role: PipeRole,
    next: u64,
    /// Highest counter opened, and which of the [`REPLAY_WINDOW`]
    /// counters below and at it were opened (bit `i`: `highest - i`).
    highest: Option<u64>,
    seen: u128,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seal")
            .field("role", &self.role)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

fn nonce(role: PipeRole, counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[0] = role.byte();
    n[4..].copy_from_slice(&counter.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

impl Seal {
    pub(crate) fn new(key: &[u8; 32], role: PipeRole) -> Seal {
        // A 32-byte key is always a valid AES-256 key.
        let key = UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key");
        Seal {
            key: LessSafeKey::new(key),
            role,
            next: 0,
            highest: None,
            seen: 0,
        }
    }

    /// Seal the next datagram with packet counter `next` (a test kit's
    /// forger, or a fuzz target's, picks it).
    #[cfg(feature = "testkit-hooks")]
    pub(crate) fn set_next(&mut self, next: u64) {
        self.next = next;
    }

    /// Seal the frame `plain` into a datagram; `None` once the counter is
    /// spent (2^64 packets: never in practice, but never a reused nonce).
    pub(crate) fn seal(&mut self, plain: &[u8]) -> Option<Vec<u8>> {
        let counter = self.next;
        self.next = self.next.checked_add(1)?;
        let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
        out.push(PIPE_DATAGRAM_BYTE);
        out.push(self.role.byte());
        out.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(plain);
        let (header, body) = out.split_at_mut(HEADER_LEN);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce(self.role, counter), Aad::from(&*header), body)
            .ok()?;
        out.extend_from_slice(tag.as_ref());
        Some(out)
    }

    /// Open a datagram from the other end: the frame inside, or why not.
    /// A forged datagram does not move the replay window (and is counted
    /// as forged even with a counter already seen).
    pub(crate) fn open(&mut self, data: &[u8]) -> Result<Vec<u8>, OpenError> {
        if data.len() < HEADER_LEN + TAG_LEN
            || data[0] != PIPE_DATAGRAM_BYTE
            || data[1] != self.role.other().byte()
        {
            return Err(OpenError::Malformed);
        }
        let mut c = [0u8; 8];
        c.copy_from_slice(&data[2..HEADER_LEN]);
        let counter = u64::from_be_bytes(c);
        // Authenticated first, so that what is counted as a replay is one.
        let mut body = data[HEADER_LEN..].to_vec();
        let plain_len = self
            .key
            .open_in_place(
                nonce(self.role.other(), counter),
                Aad::from(&data[..HEADER_LEN]),
                &mut body,
            )
            .map_err(|_| OpenError::Forged)?
            .len();
        body.truncate(plain_len);
        if !self.fresh(counter) {
            return Err(OpenError::Replayed);
        }
        self.mark(counter);
        Ok(body)
    }

    fn fresh(&self, counter: u64) -> bool {
        match self.highest {
            None => true,
            Some(h) if counter > h => true,
            Some(h) => {
                let back = h - counter;
                back < REPLAY_WINDOW && self.seen & (1u128 << back) == 0
            }
        }
    }

    fn mark(&mut self, counter: u64) {
        match self.highest {
            Some(h) if counter <= h => self.seen |= 1u128 << (h - counter),
            Some(h) => {
                let shift = counter - h;
                self.seen = if shift >= REPLAY_WINDOW {
                    0
                } else {
                    self.seen << shift
                };
                self.seen |= 1;
                self.highest = Some(counter);
            }
            None => {
                self.seen = 1;
                self.highest = Some(counter);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_datagrams_open_once_at_the_other_end_only() {
        let key = [7u8; 32];
        let mut a = Seal::new(&key, PipeRole::A);
        let mut b = Seal::new(&key, PipeRole::B);
        let d0 = a.seal(b"hello").unwrap();
        let d1 = a.seal(b"world").unwrap();
        assert_eq!(d0[0], PIPE_DATAGRAM_BYTE);
        assert_eq!(d0.len(), HEADER_LEN + 5 + TAG_LEN);
        // Out of order is fine, twice is not.
        assert_eq!(b.open(&d1).unwrap(), b"world");
        assert_eq!(b.open(&d0).unwrap(), b"hello");
        assert_eq!(b.open(&d0), Err(OpenError::Replayed));
        // Our own datagrams reflected back are refused.
        let mine = b.seal(b"x").unwrap();
        assert_eq!(b.open(&mine), Err(OpenError::Malformed));
        assert_eq!(a.open(&mine).unwrap(), b"x");
        // A wrong key, a changed header or body, a truncation.
        let mut wrong = Seal::new(&[8u8; 32], PipeRole::A);
        assert_eq!(
            b.open(&wrong.seal(b"evil").unwrap()),
            Err(OpenError::Forged)
        );
        let mut d2 = a.seal(b"abc").unwrap();
        d2[HEADER_LEN] ^= 1;
        assert_eq!(b.open(&d2), Err(OpenError::Forged));
        let d3 = a.seal(b"abc").unwrap();
        assert_eq!(b.open(&d3[..d3.len() - 1]), Err(OpenError::Forged));
        assert_eq!(b.open(&d3[..HEADER_LEN + 3]), Err(OpenError::Malformed));
        // A forged datagram did not spend its counter.
        assert_eq!(b.open(&d3).unwrap(), b"abc");
    }

    #[test]
    fn the_replay_window_slides() {
        let key = [1u8; 32];
        let mut a = Seal::new(&key, PipeRole::A);
        let mut b = Seal::new(&key, PipeRole::B);
        let all: Vec<_> = (0..300).map(|_| a.seal(b"p").unwrap()).collect();
        assert!(b.open(&all[200]).is_ok());
        // Within the window: once each.
        assert!(b.open(&all[100]).is_ok());
        assert_eq!(b.open(&all[100]), Err(OpenError::Replayed));
        // Too old.
        assert_eq!(b.open(&all[72]), Err(OpenError::Replayed));
        assert!(b.open(&all[73]).is_ok());
        // A jump past the whole window forgets it.
        assert!(b.open(&all[299]).is_ok());
        assert!(b.open(&all[250]).is_ok());
        assert_eq!(b.open(&all[200]), Err(OpenError::Replayed));
    }
}
