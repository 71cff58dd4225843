//! One end of a pipe across hosts: the messages of [`crate::pipe`] framed,
//! sealed ([`super::seal`]) and sent as UDP datagrams, with control
//! messages numbered and sent again until acknowledged.
//!
//! A sealed frame is one of
//!
//! ```text
//! 0 | message                 media: an RTP message or a NACK, never
//!                              sent again (NACKs repair lost RTP, and
//!                              are themselves retried by the receiver)
//! 1 | seq (varint) | message  control: delivered once and in order,
//!                              acknowledged, sent again until it is
//! 2 | count | seq (varint)... acknowledgements
//! ```
//!
//! A control message is sent again [`RESEND_AFTER`] after the last try,
//! doubling up to [`RESEND_MAX`], at most [`MAX_TRIES`] times; then the
//! pipe fails. An end that has sent nothing for [`HEARTBEAT`] sends an
//! empty acknowledgement frame, so that a pipe with nothing to say stays
//! alive; an end that has opened nothing from the other for [`DEAD_AFTER`]
//! fails too (the other host is gone, or the path is). The receiver delivers them in order (holding up to
//! [`MAX_HELD`] that overtook a lost one) and acknowledges each, again for
//! a duplicate (its acknowledgement may be the one lost).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::seal::{OpenError, PipeRole, Seal, HEADER_LEN, TAG_LEN};
use super::PipeMessage;
use crate::config::Limits;

/// The largest datagram a remote pipe sends: a 1000-byte RTP payload and
/// its headers fit, below any path's MTU.
pub const MAX_PIPE_DATAGRAM: usize = 1200;
/// The largest frame inside it.
const MAX_FRAME: usize = MAX_PIPE_DATAGRAM - HEADER_LEN - TAG_LEN;

/// First wait before a control message is sent again.
pub(crate) const RESEND_AFTER: Duration = Duration::from_millis(100);
/// The longest wait between two tries.
pub(crate) const RESEND_MAX: Duration = Duration::from_millis(1600);
/// Tries of one control message before the pipe fails (about 10 s).
pub(crate) const MAX_TRIES: u8 = 10;
/// Control messages held back behind a lost one, and control messages
/// sent but not yet acknowledged, at most (past that the pipe fails).
pub(crate) const MAX_HELD: usize = 1024;
/// How long an end stays silent before it sends a heartbeat.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long an end waits for any datagram from the other before the
/// pipe fails.
pub(crate) const DEAD_AFTER: Duration = Duration::from_secs(15);
/// Most acknowledgements in one frame.
const MAX_ACKS: usize = 64;

const FRAME_MEDIA: u8 = 0;
const FRAME_CONTROL: u8 = 1;
const FRAME_ACK: u8 = 2;

/// How to reach the other end of a remote pipe, and the secret both ends
/// share. See [`Router::create_remote_pipe`](crate::Router::create_remote_pipe).
#[derive(Clone)]
#[non_exhaustive]
pub struct RemotePipeOptions {
    /// The local address the pipe's datagrams leave from and arrive on:
    /// the host's media socket (one of the addresses its transports
    /// listen on). The router does not check it: it is the `source` of
    /// the pipe's transmits and the `destination` it expects on the
    /// datagrams that come back.
    pub local: SocketAddr,
    /// The other end's address.
    pub remote: SocketAddr,
    /// The AES-256-GCM key, the same at both ends: 32 bytes from the
    /// operating system's CSPRNG, fresh for every pipe, carried to both
    /// hosts over their authenticated control channel.
    pub key: [u8; 32],
    /// This end's role; the other end takes the other one.
    pub role: PipeRole,
}

impl RemotePipeOptions {
    /// Options for one end.
    pub fn new(local: SocketAddr, remote: SocketAddr, key: [u8; 32], role: PipeRole) -> Self {
        RemotePipeOptions {
            local,
            remote,
            key,
            role,
        }
    }
}

impl std::fmt::Debug for RemotePipeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePipeOptions")
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Why a datagram from the other end was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    Open(OpenError),
    /// It opened, but its frame or message did not decode.
    Undecodable,
}

/// A control message waiting for its acknowledgement.
#[derive(Debug)]
struct Unacked {
    frame: Vec<u8>,
    due: Instant,
    wait: Duration,
    tries: u8,
}

/// The state of one end of a remote pipe.
#[derive(Debug)]
pub(crate) struct Remote {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    seal: Seal,
    next_seq: u64,
    unacked: BTreeMap<u64, Unacked>,
    /// The next control message to deliver, and those that overtook it.
    expect: u64,
    held: BTreeMap<u64, PipeMessage>,
    /// When a datagram from the other end last opened, and when this end
    /// last sent one.
    last_rx: Instant,
    last_tx: Instant,
}

/// What one datagram from the other end gave.
#[derive(Debug, Default)]
pub(crate) struct Opened {
    /// Messages to feed to the pipe, in order.
    pub messages: Vec<PipeMessage>,
    /// An acknowledgement to send back.
    pub reply: Option<Vec<u8>>,
}

impl Remote {
    pub(crate) fn new(o: &RemotePipeOptions, now: Instant) -> Remote {
        Remote {
            local: o.local,
            remote: o.remote,
            seal: Seal::new(&o.key, o.role),
            next_seq: 0,
            unacked: BTreeMap::new(),
            expect: 0,
            held: BTreeMap::new(),
            last_rx: now,
            last_tx: now,
        }
    }

    /// The datagrams carrying `m`: one for media (none if it does not
    /// fit), one or more for control (an announce with too many codecs
    /// goes without them, followed by one codec message each). `Err` when
    /// the pipe can take no more control messages and must fail.
    pub(crate) fn send(&mut self, now: Instant, m: &PipeMessage) -> Result<Vec<Vec<u8>>, ()> {
        self.last_tx = now;
        if unreliable(m) {
            let mut frame = vec![FRAME_MEDIA];
            m.encode(&mut frame);
            if frame.len() > MAX_FRAME {
                return Ok(Vec::new());
            }
            return Ok(self.seal.seal(&frame).into_iter().collect());
        }
        let mut frame = self.control_frame(m);
        let mut parts = vec![];
        if frame.len() > MAX_FRAME {
            let PipeMessage::ProducerAnnounce(a) = m else {
                return Ok(Vec::new());
            };
            let mut bare = a.clone();
            bare.codecs.clear();
            frame = self.control_frame(&PipeMessage::ProducerAnnounce(bare));
            for codec in &a.codecs {
                parts.push(PipeMessage::Codec {
                    producer: a.producer,
                    codec: codec.clone(),
                });
            }
        }
        let mut out = vec![];
        out.extend(self.push_control(now, frame)?);
        for p in &parts {
            let f = self.control_frame(p);
            if f.len() <= MAX_FRAME {
                out.extend(self.push_control(now, f)?);
            }
        }
        Ok(out)
    }

    fn control_frame(&self, m: &PipeMessage) -> Vec<u8> {
        let mut frame = vec![FRAME_CONTROL];
        put_varint(&mut frame, self.next_seq);
        m.encode(&mut frame);
        frame
    }

    fn push_control(&mut self, now: Instant, frame: Vec<u8>) -> Result<Option<Vec<u8>>, ()> {
        if self.unacked.len() >= MAX_HELD {
            return Err(());
        }
        let datagram = self.seal.seal(&frame).ok_or(())?;
        self.unacked.insert(
            self.next_seq,
            Unacked {
                frame,
                due: now + RESEND_AFTER,
                wait: RESEND_AFTER,
                tries: 1,
            },
        );
        self.next_seq += 1;
        Ok(Some(datagram))
    }

    /// A datagram from the other end, at `now`.
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        data: &[u8],
        limits: &Limits,
    ) -> Result<Opened, Dropped> {
        let frame = self.seal.open(data).map_err(Dropped::Open)?;
        self.last_rx = now;
        let (&kind, rest) = frame.split_first().ok_or(Dropped::Undecodable)?;
        let mut opened = Opened::default();
        match kind {
            FRAME_MEDIA => {
                let m = PipeMessage::decode(rest, limits).map_err(|_| Dropped::Undecodable)?;
                if !unreliable(&m) {
                    return Err(Dropped::Undecodable);
                }
                opened.messages.push(m);
            }
            FRAME_CONTROL => {
                let (seq, rest) = get_varint(rest).ok_or(Dropped::Undecodable)?;
                let m = PipeMessage::decode(rest, limits).map_err(|_| Dropped::Undecodable)?;
                if unreliable(&m) {
                    return Err(Dropped::Undecodable);
                }
                if seq >= self.expect {
                    if self.held.len() >= MAX_HELD && seq != self.expect {
                        // No room: not acknowledged, sent again later.
                        return Ok(opened);
                    }
                    self.held.insert(seq, m);
                    while let Some(m) = self.held.remove(&self.expect) {
                        opened.messages.push(m);
                        self.expect += 1;
                    }
                }
                let mut ack = vec![FRAME_ACK, 1];
                put_varint(&mut ack, seq);
                opened.reply = self.seal.seal(&ack);
                self.last_tx = now;
            }
            FRAME_ACK => {
                let (&n, mut rest) = rest.split_first().ok_or(Dropped::Undecodable)?;
                if n as usize > MAX_ACKS {
                    return Err(Dropped::Undecodable);
                }
                for _ in 0..n {
                    let (seq, r) = get_varint(rest).ok_or(Dropped::Undecodable)?;
                    self.unacked.remove(&seq);
                    rest = r;
                }
            }
            _ => return Err(Dropped::Undecodable),
        }
        Ok(opened)
    }

    /// `m` (a goodbye: the pipe is closing) as a control message sealed
    /// three times, never sent again: the other end delivers it once.
    pub(crate) fn farewell(&mut self, m: &PipeMessage) -> Vec<Vec<u8>> {
        let frame = self.control_frame(m);
        (0..3).filter_map(|_| self.seal.seal(&frame)).collect()
    }

    /// When a control message is next due to be sent again, a heartbeat
    /// is due, or the other end is given up.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let resend = self.unacked.values().map(|u| u.due).min();
        let alive = (self.last_tx + HEARTBEAT).min(self.last_rx + DEAD_AFTER);
        Some(resend.map_or(alive, |r| r.min(alive)))
    }

    /// Send again the control messages due at `now`, and a heartbeat if
    /// this end has been silent; `Err` when one was tried [`MAX_TRIES`]
    /// times or nothing came from the other end for [`DEAD_AFTER`]: the
    /// pipe fails.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<Vec<Vec<u8>>, ()> {
        if now >= self.last_rx + DEAD_AFTER {
            return Err(());
        }
        let mut out = vec![];
        for u in self.unacked.values_mut() {
            if u.due > now {
                continue;
            }
            if u.tries >= MAX_TRIES {
                return Err(());
            }
            u.tries += 1;
            u.wait = (u.wait * 2).min(RESEND_MAX);
            u.due = now + u.wait;
            out.push(self.seal.seal(&u.frame).ok_or(())?);
            self.last_tx = now;
        }
        if now >= self.last_tx + HEARTBEAT {
            out.push(self.seal.seal(&[FRAME_ACK, 0]).ok_or(())?);
            self.last_tx = now;
        }
        Ok(out)
    }
}

/// Messages sent once, in a media frame: RTP (repaired by NACKs) and
/// NACKs (asked again by the receiver while the gap stays open).
fn unreliable(m: &PipeMessage) -> bool {
    matches!(m, PipeMessage::Rtp(_) | PipeMessage::Nack { .. })
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, &b) in buf.iter().enumerate().take(10) {
        if i == 9 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return None;
            }
            return Some((v, &buf[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProducerId;

    fn pair(t0: Instant) -> (Remote, Remote) {
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let key = [42u8; 32];
        (
            Remote::new(&RemotePipeOptions::new(a, b, key, PipeRole::A), t0),
            Remote::new(&RemotePipeOptions::new(b, a, key, PipeRole::B), t0),
        )
    }

    fn closed(n: u64) -> PipeMessage {
        PipeMessage::ProducerClosed {
            producer: ProducerId(n),
        }
    }

    #[test]
    fn control_is_delivered_in_order_and_resent_until_acked() {
        let t0 = Instant::now();
        let limits = Limits::default();
        let (mut a, mut b) = pair(t0);
        let d0 = a.send(t0, &closed(1)).unwrap().remove(0);
        let d1 = a.send(t0, &closed(2)).unwrap().remove(0);
        // d0 is lost: d1 is held and acknowledged.
        let got = b.receive(t0, &d1, &limits).unwrap();
        assert!(got.messages.is_empty());
        a.receive(t0, &got.reply.unwrap(), &limits).unwrap();
        assert_eq!(a.poll_timeout(), Some(t0 + RESEND_AFTER));
        // d0 comes again: both are delivered, in order.
        let again = a.handle_timeout(t0 + RESEND_AFTER).unwrap();
        assert_eq!(again.len(), 1);
        assert_ne!(again[0], d0, "a new nonce for every try");
        let got = b.receive(t0, &again[0], &limits).unwrap();
        let ids: Vec<_> = got.messages.iter().map(|m| m.producer()).collect();
        assert_eq!(ids, vec![Some(ProducerId(1)), Some(ProducerId(2))]);
        a.receive(t0, &got.reply.unwrap(), &limits).unwrap();
        // Nothing to resend: the next thing is a heartbeat.
        assert_eq!(a.poll_timeout(), Some(t0 + RESEND_AFTER + HEARTBEAT));
        // Never acknowledged: the pipe fails after MAX_TRIES.
        a.send(t0 + RESEND_AFTER, &closed(3)).unwrap();
        let mut tries = 1;
        let now = loop {
            let now = a.poll_timeout().unwrap();
            match a.handle_timeout(now) {
                Ok(v) => tries += v.len(),
                Err(()) => break now,
            }
        };
        assert_eq!(tries, MAX_TRIES as usize);
        assert!(now - t0 < Duration::from_secs(15));
    }

    #[test]
    fn heartbeats_keep_a_quiet_pipe_alive_and_silence_fails_it() {
        let t0 = Instant::now();
        let limits = Limits::default();
        let (mut a, mut b) = pair(t0);
        // Both ends quiet for a minute, each heartbeat delivered.
        let mut now = t0;
        let mut beats = 0;
        while now < t0 + Duration::from_secs(60) {
            now = a.poll_timeout().unwrap().min(b.poll_timeout().unwrap());
            for d in a.handle_timeout(now).unwrap() {
                beats += 1;
                assert!(b.receive(now, &d, &limits).unwrap().messages.is_empty());
            }
            for d in b.handle_timeout(now).unwrap() {
                beats += 1;
                a.receive(now, &d, &limits).unwrap();
            }
        }
        assert!((50..=70).contains(&beats), "{beats} heartbeats");
        // B goes silent: A gives up DEAD_AFTER after the last it heard.
        let heard = now;
        loop {
            let at = a.poll_timeout().unwrap();
            if a.handle_timeout(at).is_err() {
                assert_eq!(at, heard + DEAD_AFTER);
                break;
            }
        }
    }

    #[test]
    fn a_big_announce_is_split_and_big_media_refused() {
        use crate::pipe::{PipeCodec, PipeLayer, PipeProducer};
        let t0 = Instant::now();
        let (mut a, mut b) = pair(t0);
        let codec = PipeCodec {
            payload_type: 96,
            name: "H264".into(),
            clock_rate: 90_000,
            channels: None,
            fmtp: "x".repeat(200),
        };
        let announce = PipeMessage::ProducerAnnounce(PipeProducer {
            producer: ProducerId(1),
            kind: crate::MediaKind::Video,
            mid: "0".into(),
            layers: vec![PipeLayer {
                rid: None,
                ssrc: None,
            }],
            codecs: vec![codec; 8],
            paused: false,
        });
        let out = a.send(t0, &announce).unwrap();
        assert_eq!(out.len(), 9);
        let mut n = 0;
        for d in &out {
            assert!(d.len() <= MAX_PIPE_DATAGRAM);
            n += b.receive(t0, d, &Limits::default()).unwrap().messages.len();
        }
        assert_eq!(n, 9);
        let rtp = crate::pipe::PipeRtp {
            producer: ProducerId(1),
            layer: 0,
            payload_type: 96,
            seq: 1,
            timestamp: 0,
            marker: false,
            audio_level: None,
            voice_activity: None,
            video_orientation: None,
            dependency_descriptor: None,
            payload: vec![0u8; 1000].into(),
        };
        assert_eq!(a.send(t0, &PipeMessage::Rtp(rtp.clone())).unwrap().len(), 1);
        let big = crate::pipe::PipeRtp {
            payload: vec![0u8; 1200].into(),
            ..rtp
        };
        assert!(a.send(t0, &PipeMessage::Rtp(big)).unwrap().is_empty());
    }
}
