//! Pipes: a producer of one router made available on another router of
//! the same process, where ordinary consumers consume it.
//!
//! # Shape
//!
//! A pipe has two ends, one per router, each created with
//! [`Router::create_pipe`](crate::Router::create_pipe) and named by its own
//! [`PipeId`](crate::PipeId). The host links them by carrying messages: each
//! [`Output::Pipe`](crate::Output::Pipe) of one router goes, in order, to
//! the other as [`Input::pipe`](crate::Input::pipe) with the other end's
//! id. The router opens no channel and spawns no thread; whether the two
//! routers share a thread or talk through a channel is the host's choice.
//!
//! What travels ([`PipeMessage`]):
//!
//! * **sender → receiver**: a producer's announce ([`PipeProducer`]: kind,
//!   mid, one entry per simulcast layer), its codecs ([`PipeCodec`], sent
//!   before the first packet of each payload type), its RTP packets
//!   ([`PipeRtp`]: every layer, already decrypted and parsed: payload type,
//!   extended sequence number, timestamp, marker, the header extensions a
//!   forwarded packet keeps), its pauses and resumes, and its close;
//! * **receiver → sender**: keyframe requests of the receiver's consumers
//!   (through the receiver's throttle, then the sender's), NACKs for the
//!   packets a layer skipped, and "unwanted" when the receiver closes its
//!   copy;
//! * **either way**: the pipe's close.
//!
//! The receiver makes one *piped producer* per announce
//! ([`Event::PipeProducerAdded`](crate::Event::PipeProducerAdded)). It is an
//! ordinary producer to everything downstream: consumers, layer selection,
//! keyframe waits, pause and resume, the bandwidth allocator and observers
//! read it exactly as a local one. Its layers' liveness and bitrates are
//! measured from the packets that arrive, as for a local producer. A piped
//! producer can itself be sent on through another pipe.
//!
//! # Why typed messages, not bytes
//!
//! Within one process nothing needs encoding: a message is a Rust value
//! moved through the host's channel, and the payload is the very
//! `Arc<[u8]>` str0m decrypted into, shared by every consumer on both
//! routers: no payload byte is copied from the publisher's SRTP to each
//! subscriber's SRTP. (`Arc<[u8]>` rather than `bytes::Bytes`: str0m takes
//! payloads as `Arc<[u8]>`, so a `Bytes` would cost a copy on the
//! receiving router.) The messages are `#[non_exhaustive]` and cannot be
//! built outside this crate, so a host cannot forge one; a message that
//! does not fit the receiver's state (unknown producer, duplicate
//! announce, a layer or payload type it was never told of, a pipe that is
//! gone) is dropped and counted in
//! [`RouterStats::pipe_dropped`](crate::RouterStats::pipe_dropped), never a
//! panic.
//!
//! # Across hosts
//!
//! A remote pipe ([`Router::create_remote_pipe`](crate::Router::create_remote_pipe))
//! carries the same messages as UDP datagrams the host sends and receives
//! for the router, which still opens no socket:
//!
//! * **encoding** ([`PipeMessage::encode`], [`PipeMessage::decode`]): a
//!   version byte, a tag, the fields; checked, capped, never a panic
//!   (fuzzed by `fuzz/fuzz_targets/pipe_message.rs`);
//! * **sealing**: AES-256-GCM under the 32-byte key the host gave both
//!   ends, the nonce made of the sender's [`PipeRole`] and its packet
//!   counter (the two ends never share a nonce), the 10-byte header
//!   authenticated, a replay window of 128 packets on receive. The first
//!   byte, [`PIPE_DATAGRAM_BYTE`], lies in the range 192..=255 that no
//!   WebRTC protocol uses (RFC 7983), so the router tells a pipe datagram
//!   at a glance on a port it shares with its WebRTC clients, and finds
//!   its pipe by (remote, local) address pair. Forged, replayed and
//!   malformed datagrams are dropped and counted
//!   ([`RouterStats::pipe_datagrams_forged`](crate::RouterStats::pipe_datagrams_forged)
//!   and its neighbours);
//! * **delivery**: control messages are numbered, acknowledged and sent
//!   again (100 ms, doubling up to 1.6 s, ten tries, then the pipe fails
//!   with [`CloseReason::Failed`](crate::CloseReason::Failed)), delivered
//!   once and in order; an end silent for 2 s sends a heartbeat, and one
//!   that hears nothing for 15 s fails the same way; RTP is repaired by the NACKs below (RTP and NACKs
//!   are sent once, never acknowledged), and a packet
//!   that arrives twice (late, then sent again) is forwarded once. A
//!   datagram is at most [`MAX_PIPE_DATAGRAM`] bytes: an announce too big
//!   for one goes without its codecs, each following as a
//!   [`PipeMessage::Codec`]; an RTP message too big is not sent
//!   ([`RouterStats::pipe_oversized`](crate::RouterStats::pipe_oversized)).
//!
//! The key is the whole of the pipe's security: take it from the
//! operating system's CSPRNG (e.g. `getrandom`), fresh for every pipe, and
//! give it to both hosts only over their authenticated, encrypted control
//! channel (the same one that tells them to create the pipe, which end is
//! [`PipeRole::A`], and each other's media address). Never reuse a key
//! for a second pipe or a re-created one: the packet counters start again
//! at zero.
//!
//! # Delivery
//!
//! Control messages (announce, codec, close, keyframe request) must be
//! delivered in order and not lost: an in-process channel does both. RTP
//! messages may be lost or reordered: the receiver asks for the packets
//! each gap skipped ([`PipeMessage::Nack`]; up to three times, 40 ms
//! apart, the retries riding on the layer's next packets), and the sender
//! sends them again from a history of its last packets per producer
//! ([`Limits::rtx_cache_video`](crate::Limits) or `rtx_cache_audio`);
//! late packets are forwarded like a publisher's retransmissions. When the output queue is full
//! ([`Limits::max_queued_outputs`](crate::Limits)) RTP messages are dropped
//! like transmits; control messages never are.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smallvec::SmallVec;
use str0m::format::{Codec, CodecSpec, FormatParams, PayloadParams};
use str0m::media::{Frequency, Pt};

use crate::id::IdMap;
use crate::{MediaKind, ProducerId};

pub(crate) mod remote;
pub(crate) mod seal;
mod wire;

pub use remote::{RemotePipeOptions, MAX_PIPE_DATAGRAM};
pub use seal::{PipeRole, PIPE_DATAGRAM_BYTE};
pub use wire::{PipeWireError, MAX_CODECS, WIRE_VERSION};

/// One message between the two ends of a pipe. Emitted by a router as
/// [`Output::Pipe`](crate::Output::Pipe), fed to the other as
/// [`Input::pipe`](crate::Input::pipe). Only a router builds them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PipeMessage {
    /// The sender starts sending one of its producers. (Tuple variants
    /// carry a `#[non_exhaustive]` struct, so they too are only built here.)
    ProducerAnnounce(PipeProducer),
    /// The codec behind one payload type of a producer being sent; comes
    /// before the first packet with that payload type.
    #[non_exhaustive]
    Codec {
        /// The producer, as the sender names it.
        producer: ProducerId,
        /// The codec.
        codec: PipeCodec,
    },
    /// One RTP packet of a producer being sent.
    Rtp(PipeRtp),
    /// The receiver's consumers of a producer wait for a keyframe of one
    /// of its layers.
    #[non_exhaustive]
    KeyframeRequest {
        /// The producer, as the *sender* names it.
        producer: ProducerId,
        /// The layer (simulcast encoding index, lowest first).
        layer: u8,
    },
    /// Packets of a producer's layer that did not arrive (the receiver saw
    /// later ones): the sender sends them again from its history, if it
    /// still has them. At most [`MAX_NACK`] packets.
    #[non_exhaustive]
    Nack {
        /// The producer, as the *sender* names it.
        producer: ProducerId,
        /// The layer.
        layer: u8,
        /// The missing extended sequence numbers, ascending.
        seqs: Vec<u64>,
    },
    /// The sender's producer was paused or resumed: the receiver's copy
    /// follows.
    #[non_exhaustive]
    ProducerPaused {
        /// The producer, as the sender names it.
        producer: ProducerId,
        /// Paused (true) or resumed.
        paused: bool,
    },
    /// The sender's producer closed: the receiver closes its copy.
    #[non_exhaustive]
    ProducerClosed {
        /// The producer, as the sender names it.
        producer: ProducerId,
    },
    /// The receiver closed its copy of a producer: the sender stops
    /// sending it.
    #[non_exhaustive]
    ProducerUnwanted {
        /// The producer, as the *sender* names it.
        producer: ProducerId,
    },
    /// The other end closed the pipe.
    #[non_exhaustive]
    PipeClosed,
}

impl PipeMessage {
    /// Whether this is media (an RTP packet), which may be dropped under
    /// pressure, rather than control, which may not.
    pub fn is_media(&self) -> bool {
        matches!(self, PipeMessage::Rtp(_))
    }

    /// The producer the message concerns, as the router that owns it
    /// names it (`None` for [`PipeMessage::PipeClosed`]).
    pub fn producer(&self) -> Option<ProducerId> {
        match self {
            PipeMessage::ProducerAnnounce(p) => Some(p.producer),
            PipeMessage::Rtp(r) => Some(r.producer),
            PipeMessage::Codec { producer, .. }
            | PipeMessage::KeyframeRequest { producer, .. }
            | PipeMessage::Nack { producer, .. }
            | PipeMessage::ProducerPaused { producer, .. }
            | PipeMessage::ProducerClosed { producer }
            | PipeMessage::ProducerUnwanted { producer } => Some(*producer),
            PipeMessage::PipeClosed => None,
        }
    }
}

/// A producer as announced through a pipe.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PipeProducer {
    /// Its id on the sending router.
    pub producer: ProducerId,
    /// Audio or video.
    pub kind: MediaKind,
    /// The m-line it came in on at its publisher (informative).
    pub mid: String,
    /// Its encodings, lowest quality first (one if not simulcast).
    pub layers: Vec<PipeLayer>,
    /// The codecs known so far (more may follow as [`PipeMessage::Codec`]).
    pub codecs: Vec<PipeCodec>,
    /// Whether it is paused (see [`PipeMessage::ProducerPaused`]).
    pub paused: bool,
}

/// One encoding of a piped producer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipeLayer {
    /// Its rid, for simulcast by rid.
    pub rid: Option<String>,
    /// Its SSRC at the publisher, for simulcast by SSRC group.
    pub ssrc: Option<u32>,
}

/// A codec behind a payload type, as SDP would name it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipeCodec {
    /// The payload type the packets carry.
    pub payload_type: u8,
    /// The codec's name (`VP8`, `opus`, `H264`...).
    pub name: String,
    /// The RTP clock rate.
    pub clock_rate: u32,
    /// Audio channels, if any.
    pub channels: Option<u8>,
    /// The format parameters, as in an `a=fmtp` line.
    pub fmtp: String,
}

/// One RTP packet through a pipe: the fields a forwarding router needs,
/// the header already parsed, the payload shared.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PipeRtp {
    /// The producer, as the sender names it.
    pub producer: ProducerId,
    /// Its layer (simulcast encoding index, lowest first).
    pub layer: u8,
    /// The payload type.
    pub payload_type: u8,
    /// The extended (never wrapping) sequence number at the sender.
    pub seq: u64,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// The RTP marker bit.
    pub marker: bool,
    /// The audio level extension (RFC 6464), in -dBov.
    pub audio_level: Option<i8>,
    /// The voice activity flag of that extension.
    pub voice_activity: Option<bool>,
    /// The video orientation extension (CVO): the rotation in its two
    /// low bits (0: none, 1: 90° counter-clockwise, 2: 180°, 3: 90° clockwise).
    pub video_orientation: Option<u8>,
    /// The raw AV1 Dependency Descriptor extension, if any.
    pub dependency_descriptor: Option<Arc<[u8]>>,
    /// The payload, shared with the sender's consumers.
    pub payload: Arc<[u8]>,
}

impl PipeCodec {
    pub(crate) fn from_params(params: &PayloadParams) -> PipeCodec {
        let spec = params.spec();
        PipeCodec {
            payload_type: *params.pt(),
            name: spec.codec.to_string(),
            clock_rate: spec.clock_rate.get(),
            channels: spec.channels,
            fmtp: spec.format.to_string(),
        }
    }

    /// The codec as str0m describes it; `None` for a clock rate of zero.
    pub(crate) fn to_params(&self) -> Option<PayloadParams> {
        let spec = CodecSpec {
            codec: Codec::from(self.name.as_str()),
            clock_rate: Frequency::new(self.clock_rate)?,
            channels: self.channels,
            format: FormatParams::parse_line(&self.fmtp),
        };
        Some(PayloadParams::new(Pt::from(self.payload_type), None, spec))
    }
}

/// Most packets one [`PipeMessage::Nack`] asks for: a longer gap is a
/// restart or an outage, which keyframe requests repair.
pub const MAX_NACK: usize = 64;

/// One end of a pipe.
#[derive(Debug, Default)]
pub(crate) struct Pipe {
    /// Local producers sent through it.
    pub exports: IdMap<ProducerId, Export>,
    /// Producers of the other router brought in: its id → the piped
    /// producer here.
    pub imports: IdMap<ProducerId, ProducerId>,
    /// Per producer brought in (by its id on the other router), per layer:
    /// its gaps and the NACKs for them.
    pub gaps: IdMap<ProducerId, SmallVec<[LayerRx; 4]>>,
    /// For a pipe across hosts: its addresses, keys and control state.
    pub remote: Option<Box<remote::Remote>>,
}

/// A producer sent through a pipe.
#[derive(Debug, Default)]
pub(crate) struct Export {
    /// Payload types whose codec was sent.
    pub sent_pts: SmallVec<[u8; 4]>,
    /// The last packets sent, oldest first, to answer NACKs.
    pub history: VecDeque<PipeRtp>,
    /// How many `history` keeps.
    pub keep: usize,
}

impl Export {
    pub(crate) fn new(sent_pts: SmallVec<[u8; 4]>, keep: usize) -> Export {
        Export {
            sent_pts,
            history: VecDeque::new(),
            keep,
        }
    }

    pub(crate) fn remember(&mut self, rtp: &PipeRtp) {
        if self.keep == 0 {
            return;
        }
        if self.history.len() >= self.keep {
            self.history.pop_front();
        }
        self.history.push_back(rtp.clone());
    }

    /// The packets of `layer` among `seqs` (ascending) still in the history.
    pub(crate) fn resend(&self, layer: u8, seqs: &[u64]) -> Vec<PipeRtp> {
        self.history
            .iter()
            .filter(|r| r.layer == layer && seqs.binary_search(&r.seq).is_ok())
            .cloned()
            .collect()
    }
}

/// How long the receiver waits for a NACKed packet before asking again.
pub(crate) const NACK_RETRY: Duration = Duration::from_millis(40);
/// How many times it asks for one packet.
pub(crate) const NACK_TRIES: u8 = 3;

/// One layer of a producer brought in: its gaps and the NACKs for them.
/// Retries ride on the layer's next packets (no timer: a layer that
/// stops sending has nothing left to repair).
#[derive(Debug, Default)]
pub(crate) struct LayerRx {
    highest: Option<u64>,
    /// Missing sequence numbers, when last asked for, and how many times.
    missing: Vec<(u64, Instant, u8)>,
}

impl LayerRx {
    /// Whether `seq` arrived already: at or below the highest seen, not
    /// among the gaps still asked for, and recent (within
    /// [`MAX_NACK`] × 4). Over a network, a packet NACKed because it was
    /// only late arrives twice.
    pub(crate) fn is_duplicate(&self, seq: u64) -> bool {
        self.highest.is_some_and(|h| {
            seq <= h
                && h - seq < 4 * MAX_NACK as u64
                && !self.missing.iter().any(|(s, _, _)| *s == seq)
        })
    }

    /// A packet with `seq` arrived at `now`: the sequence numbers to ask
    /// for now, ascending (new gaps, and old ones due for another try).
    /// A gap longer than [`MAX_NACK`] is left to keyframe requests.
    pub(crate) fn on_packet(&mut self, seq: u64, now: Instant) -> Vec<u64> {
        self.missing.retain(|(s, _, _)| *s != seq);
        let mut ask = Vec::new();
        for (s, at, tries) in &mut self.missing {
            if now >= *at + NACK_RETRY && *tries < NACK_TRIES {
                *at = now;
                *tries += 1;
                ask.push(*s);
            }
        }
        self.missing
            .retain(|(_, at, tries)| *tries < NACK_TRIES || now < *at + NACK_RETRY);
        match self.highest {
            None => self.highest = Some(seq),
            Some(h) if seq > h => {
                self.highest = Some(seq);
                let gap = (seq - h - 1) as usize;
                if gap > 0 && gap <= MAX_NACK {
                    for s in h + 1..seq {
                        self.missing.push((s, now, 1));
                        ask.push(s);
                    }
                    if self.missing.len() > MAX_NACK {
                        let over = self.missing.len() - MAX_NACK;
                        self.missing.drain(..over);
                    }
                }
            }
            Some(_) => {}
        }
        ask.sort_unstable();
        ask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Routers on different threads: a message moves through a channel.
    #[test]
    fn messages_are_send_and_sync() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<PipeMessage>();
        send_sync::<crate::PipeId>();
    }

    #[test]
    fn gaps_are_asked_for_until_they_arrive() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut l = LayerRx::default();
        assert!(l.on_packet(10, ms(0)).is_empty());
        assert!(l.on_packet(11, ms(1)).is_empty());
        assert_eq!(l.on_packet(14, ms(2)), vec![12, 13]);
        // 12 arrives late: only 13 is asked for again, once the retry is due.
        assert!(l.on_packet(12, ms(3)).is_empty());
        assert!(l.on_packet(15, ms(20)).is_empty());
        assert_eq!(l.on_packet(16, ms(50)), vec![13]);
        assert_eq!(l.on_packet(17, ms(100)), vec![13]);
        // Three tries, then it gives up.
        assert!(l.on_packet(18, ms(150)).is_empty());
        assert!(l.missing.is_empty());
        // Duplicates ask for nothing; too long a gap is left to keyframes.
        assert!(l.on_packet(18, ms(151)).is_empty());
        assert!(l.on_packet(18 + MAX_NACK as u64 + 2, ms(152)).is_empty());
        assert_eq!(l.highest, Some(18 + MAX_NACK as u64 + 2));
    }

    #[test]
    fn codec_round_trip() {
        let c = PipeCodec {
            payload_type: 102,
            name: "H264".into(),
            clock_rate: 90_000,
            channels: None,
            fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f".into(),
        };
        let params = c.to_params().unwrap();
        let back = PipeCodec::from_params(&params);
        assert_eq!(back.payload_type, 102);
        assert_eq!(back.clock_rate, 90_000);
        assert_eq!(back.name.to_ascii_lowercase(), "h264");
        assert_eq!(back.to_params().unwrap().spec(), params.spec());
        let zero = PipeCodec { clock_rate: 0, ..c };
        assert!(zero.to_params().is_none());
    }
}
