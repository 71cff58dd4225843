//! The byte encoding of a [`PipeMessage`], for pipes across hosts.
//!
//! ```text
//! version (1) | tag (1) | fields of the variant
//! ```
//!
//! Integers are big-endian; ids and sequence numbers are LEB128 varints
//! (at most 10 bytes); strings carry a one-byte length (`fmtp` two
//! bytes); a NACK's sequence numbers are deltas from the previous one;
//! an RTP message's payload is the rest of the buffer. Decoding checks
//! every length against what is left before reading or allocating, caps
//! every count (layers by [`Limits::max_layers_per_producer`], codecs by
//! [`MAX_CODECS`], NACKs by [`MAX_NACK`]), and refuses trailing bytes: it
//! never panics and never allocates more than the input's size.

use std::sync::Arc;

use crate::config::Limits;
use crate::pipe::{PipeCodec, PipeLayer, PipeMessage, PipeProducer, PipeRtp, MAX_NACK};
use crate::{MediaKind, ProducerId};

/// The version of the encoding, its first byte.
pub const WIRE_VERSION: u8 = 1;

/// Most codecs one announce carries.
pub const MAX_CODECS: usize = 32;

const TAG_ANNOUNCE: u8 = 1;
const TAG_CODEC: u8 = 2;
const TAG_RTP: u8 = 3;
const TAG_KEYFRAME: u8 = 4;
const TAG_NACK: u8 = 5;
const TAG_PAUSED: u8 = 6;
const TAG_CLOSED: u8 = 7;
const TAG_UNWANTED: u8 = 8;
const TAG_PIPE_CLOSED: u8 = 9;

// Flags of an RTP message.
const RTP_MARKER: u8 = 1;
const RTP_LEVEL: u8 = 2;
const RTP_VAD: u8 = 4;
const RTP_VAD_ON: u8 = 8;
const RTP_CVO: u8 = 16;
const RTP_DD: u8 = 32;

/// Why bytes did not decode to a [`PipeMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PipeWireError {
    /// The input ended inside a field.
    #[error("pipe message truncated")]
    Truncated,
    /// A version this library does not speak.
    #[error("unknown pipe wire version {0}")]
    Version(u8),
    /// A message tag this library does not know.
    #[error("unknown pipe message tag {0}")]
    Tag(u8),
    /// A count over its cap.
    #[error("too many {what}: {count} (max {max})")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The count in the input.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// A field with a value it cannot have (a bad varint, kind, flag,
    /// string that is not UTF-8, or trailing bytes).
    #[error("invalid pipe message field: {0}")]
    Invalid(&'static str),
}

impl PipeMessage {
    /// Append this message's encoding to `out`: a version byte
    /// ([`WIRE_VERSION`]), a tag, then the variant's fields (ids and
    /// sequence numbers as varints, an RTP payload as the rest).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(WIRE_VERSION);
        match self {
            PipeMessage::ProducerAnnounce(a) => {
                out.push(TAG_ANNOUNCE);
                put_varint(out, a.producer.0);
                out.push(match a.kind {
                    MediaKind::Audio => 0,
                    MediaKind::Video => 1,
                });
                put_str8(out, &a.mid);
                out.push(u8::from(a.paused));
                out.push(a.layers.len().min(255) as u8);
                for l in a.layers.iter().take(255) {
                    out.push(u8::from(l.rid.is_some()) | u8::from(l.ssrc.is_some()) << 1);
                    if let Some(rid) = &l.rid {
                        put_str8(out, rid);
                    }
                    if let Some(ssrc) = l.ssrc {
                        out.extend_from_slice(&ssrc.to_be_bytes());
                    }
                }
                out.push(a.codecs.len().min(255) as u8);
                for c in a.codecs.iter().take(255) {
                    put_codec(out, c);
                }
            }
            PipeMessage::Codec { producer, codec } => {
                out.push(TAG_CODEC);
                put_varint(out, producer.0);
                put_codec(out, codec);
            }
            PipeMessage::Rtp(r) => {
                out.push(TAG_RTP);
                put_varint(out, r.producer.0);
                out.push(r.layer);
                out.push(r.payload_type);
                put_varint(out, r.seq);
                out.extend_from_slice(&r.timestamp.to_be_bytes());
                let mut flags = 0;
                if r.marker {
                    flags |= RTP_MARKER;
                }
                if r.audio_level.is_some() {
                    flags |= RTP_LEVEL;
                }
                match r.voice_activity {
                    Some(true) => flags |= RTP_VAD | RTP_VAD_ON,
                    Some(false) => flags |= RTP_VAD,
                    None => {}
                }
                if r.video_orientation.is_some() {
                    flags |= RTP_CVO;
                }
                if r.dependency_descriptor.is_some() {
                    flags |= RTP_DD;
                }
                out.push(flags);
                if let Some(level) = r.audio_level {
                    out.push(level as u8);
                }
                if let Some(cvo) = r.video_orientation {
                    out.push(cvo);
                }
                if let Some(dd) = &r.dependency_descriptor {
                    let n = dd.len().min(255);
                    out.push(n as u8);
                    out.extend_from_slice(&dd[..n]);
                }
                out.extend_from_slice(&r.payload);
            }
            PipeMessage::KeyframeRequest { producer, layer } => {
                out.push(TAG_KEYFRAME);
                put_varint(out, producer.0);
                out.push(*layer);
            }
            PipeMessage::Nack {
                producer,
                layer,
                seqs,
            } => {
                out.push(TAG_NACK);
                put_varint(out, producer.0);
                out.push(*layer);
                let seqs = &seqs[..seqs.len().min(MAX_NACK)];
                out.push(seqs.len() as u8);
                let mut prev = 0u64;
                for &s in seqs {
                    put_varint(out, s.wrapping_sub(prev));
                    prev = s;
                }
            }
            PipeMessage::ProducerPaused { producer, paused } => {
                out.push(TAG_PAUSED);
                put_varint(out, producer.0);
                out.push(u8::from(*paused));
            }
            PipeMessage::ProducerClosed { producer } => {
                out.push(TAG_CLOSED);
                put_varint(out, producer.0);
            }
            PipeMessage::ProducerUnwanted { producer } => {
                out.push(TAG_UNWANTED);
                put_varint(out, producer.0);
            }
            PipeMessage::PipeClosed => out.push(TAG_PIPE_CLOSED),
        }
    }

    /// Decode one message from exactly `buf`, with counts capped by
    /// `limits`: every length is checked against what is left before it
    /// is read or allocated, layers are capped by
    /// [`Limits::max_layers_per_producer`], codecs by [`MAX_CODECS`],
    /// NACKed packets by [`MAX_NACK`], and trailing bytes are refused.
    /// Never panics.
    pub fn decode(buf: &[u8], limits: &Limits) -> Result<PipeMessage, PipeWireError> {
        let mut r = Reader { buf };
        let version = r.u8()?;
        if version != WIRE_VERSION {
            return Err(PipeWireError::Version(version));
        }
        let tag = r.u8()?;
        let m = match tag {
            TAG_ANNOUNCE => {
                let producer = r.id()?;
                let kind = match r.u8()? {
                    0 => MediaKind::Audio,
                    1 => MediaKind::Video,
                    _ => return Err(PipeWireError::Invalid("kind")),
                };
                let mid = r.str8()?;
                let paused = r.bool()?;
                let n = r.count("layers", limits.max_layers_per_producer)?;
                let mut layers = Vec::with_capacity(n);
                for _ in 0..n {
                    let flags = r.u8()?;
                    if flags > 3 {
                        return Err(PipeWireError::Invalid("layer flags"));
                    }
                    let rid = if flags & 1 != 0 {
                        Some(r.str8()?)
                    } else {
                        None
                    };
                    let ssrc = if flags & 2 != 0 { Some(r.u32()?) } else { None };
                    layers.push(PipeLayer { rid, ssrc });
                }
                let n = r.count("codecs", MAX_CODECS)?;
                let mut codecs = Vec::with_capacity(n);
                for _ in 0..n {
                    codecs.push(r.codec()?);
                }
                PipeMessage::ProducerAnnounce(PipeProducer {
                    producer,
                    kind,
                    mid,
                    layers,
                    codecs,
                    paused,
                })
            }
            TAG_CODEC => PipeMessage::Codec {
                producer: r.id()?,
                codec: r.codec()?,
            },
            TAG_RTP => {
                let producer = r.id()?;
                let layer = r.u8()?;
                let payload_type = r.u8()?;
                let seq = r.varint()?;
                let timestamp = r.u32()?;
                let flags = r.u8()?;
                if flags >= 64 || (flags & RTP_VAD_ON != 0 && flags & RTP_VAD == 0) {
                    return Err(PipeWireError::Invalid("rtp flags"));
                }
                let audio_level = if flags & RTP_LEVEL != 0 {
                    Some(r.u8()? as i8)
                } else {
                    None
                };
                let voice_activity = (flags & RTP_VAD != 0).then_some(flags & RTP_VAD_ON != 0);
                let video_orientation = if flags & RTP_CVO != 0 {
                    Some(r.u8()?)
                } else {
                    None
                };
                let dependency_descriptor = if flags & RTP_DD != 0 {
                    let n = r.u8()? as usize;
                    Some(Arc::<[u8]>::from(r.take(n)?))
                } else {
                    None
                };
                let payload = Arc::<[u8]>::from(std::mem::take(&mut r.buf));
                PipeMessage::Rtp(PipeRtp {
                    producer,
                    layer,
                    payload_type,
                    seq,
                    timestamp,
                    marker: flags & RTP_MARKER != 0,
                    audio_level,
                    voice_activity,
                    video_orientation,
                    dependency_descriptor,
                    payload,
                })
            }
            TAG_KEYFRAME => PipeMessage::KeyframeRequest {
                producer: r.id()?,
                layer: r.u8()?,
            },
            TAG_NACK => {
                let producer = r.id()?;
                let layer = r.u8()?;
                let n = r.count("nacked packets", MAX_NACK)?;
                let mut seqs = Vec::with_capacity(n);
                let mut prev = 0u64;
                for _ in 0..n {
                    prev = prev.wrapping_add(r.varint()?);
                    seqs.push(prev);
                }
                PipeMessage::Nack {
                    producer,
                    layer,
                    seqs,
                }
            }
            TAG_PAUSED => PipeMessage::ProducerPaused {
                producer: r.id()?,
                paused: r.bool()?,
            },
            TAG_CLOSED => PipeMessage::ProducerClosed { producer: r.id()? },
            TAG_UNWANTED => PipeMessage::ProducerUnwanted { producer: r.id()? },
            TAG_PIPE_CLOSED => PipeMessage::PipeClosed,
            t => return Err(PipeWireError::Tag(t)),
        };
        if !r.buf.is_empty() {
            return Err(PipeWireError::Invalid("trailing bytes"));
        }
        Ok(m)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A string of at most 255 bytes (longer ones are cut at a character
/// boundary; SDP tokens are far shorter).
fn put_str8(out: &mut Vec<u8>, s: &str) {
    let s = cut(s, 255);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn cut(s: &str, max: usize) -> &str {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

fn put_codec(out: &mut Vec<u8>, c: &PipeCodec) {
    out.push(c.payload_type);
    put_str8(out, &c.name);
    out.extend_from_slice(&c.clock_rate.to_be_bytes());
    match c.channels {
        Some(ch) => out.extend_from_slice(&[1, ch]),
        None => out.push(0),
    }
    let fmtp = cut(&c.fmtp, u16::MAX as usize);
    out.extend_from_slice(&(fmtp.len() as u16).to_be_bytes());
    out.extend_from_slice(fmtp.as_bytes());
}

/// Checked reads from the front of a buffer.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PipeWireError> {
        if n > self.buf.len() {
            return Err(PipeWireError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, PipeWireError> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool, PipeWireError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(PipeWireError::Invalid("bool")),
        }
    }

    fn u32(&mut self) -> Result<u32, PipeWireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn varint(&mut self) -> Result<u64, PipeWireError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && bits > 1 {
                return Err(PipeWireError::Invalid("varint"));
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                // One encoding per value: no trailing zero groups.
                if b == 0 && i > 0 {
                    return Err(PipeWireError::Invalid("varint"));
                }
                return Ok(v);
            }
        }
        Err(PipeWireError::Invalid("varint"))
    }

    fn id(&mut self) -> Result<ProducerId, PipeWireError> {
        Ok(ProducerId(self.varint()?))
    }

    fn count(&mut self, what: &'static str, max: usize) -> Result<usize, PipeWireError> {
        let count = self.u8()? as usize;
        if count > max {
            return Err(PipeWireError::TooMany { what, count, max });
        }
        Ok(count)
    }

    fn str_of(&mut self, n: usize) -> Result<String, PipeWireError> {
        let b = self.take(n)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| PipeWireError::Invalid("string"))
    }

    fn str8(&mut self) -> Result<String, PipeWireError> {
        let n = self.u8()? as usize;
        self.str_of(n)
    }

    fn codec(&mut self) -> Result<PipeCodec, PipeWireError> {
        let payload_type = self.u8()?;
        let name = self.str8()?;
        let clock_rate = self.u32()?;
        let channels = match self.u8()? {
            0 => None,
            1 => Some(self.u8()?),
            _ => return Err(PipeWireError::Invalid("channels")),
        };
        let n = self.take(2)?;
        let n = u16::from_be_bytes([n[0], n[1]]) as usize;
        let fmtp = self.str_of(n)?;
        Ok(PipeCodec {
            payload_type,
            name,
            clock_rate,
            channels,
            fmtp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp() -> PipeRtp {
        PipeRtp {
            producer: ProducerId(7),
            layer: 2,
            payload_type: 96,
            seq: 70_000,
            timestamp: 0xdead_beef,
            marker: true,
            audio_level: Some(-30),
            voice_activity: Some(true),
            video_orientation: Some(3),
            dependency_descriptor: Some(Arc::from(&[1u8, 2, 3][..])),
            payload: Arc::from(&[9u8; 1000][..]),
        }
    }

    fn codec() -> PipeCodec {
        PipeCodec {
            payload_type: 111,
            name: "opus".into(),
            clock_rate: 48_000,
            channels: Some(2),
            fmtp: "minptime=10;useinbandfec=1".into(),
        }
    }

    /// Every variant, with optional fields both present and absent.
    pub(crate) fn samples() -> Vec<PipeMessage> {
        let p = ProducerId(u64::MAX);
        let bare = PipeRtp {
            marker: false,
            audio_level: None,
            voice_activity: Some(false),
            video_orientation: None,
            dependency_descriptor: None,
            payload: Arc::from(&[][..]),
            ..rtp()
        };
        vec![
            PipeMessage::ProducerAnnounce(PipeProducer {
                producer: ProducerId(3),
                kind: MediaKind::Video,
                mid: "1".into(),
                layers: vec![
                    PipeLayer {
                        rid: Some("q".into()),
                        ssrc: None,
                    },
                    PipeLayer {
                        rid: None,
                        ssrc: Some(1234),
                    },
                    PipeLayer {
                        rid: Some("f".into()),
                        ssrc: Some(99),
                    },
                ],
                codecs: vec![
                    codec(),
                    PipeCodec {
                        channels: None,
                        ..codec()
                    },
                ],
                paused: true,
            }),
            PipeMessage::Codec {
                producer: p,
                codec: codec(),
            },
            PipeMessage::Rtp(rtp()),
            PipeMessage::Rtp(bare),
            PipeMessage::KeyframeRequest {
                producer: ProducerId(0),
                layer: 1,
            },
            PipeMessage::Nack {
                producer: p,
                layer: 0,
                seqs: vec![5, 6, 900, u64::MAX],
            },
            PipeMessage::ProducerPaused {
                producer: p,
                paused: false,
            },
            PipeMessage::ProducerClosed { producer: p },
            PipeMessage::ProducerUnwanted { producer: p },
            PipeMessage::PipeClosed,
        ]
    }

    #[test]
    fn every_variant_round_trips() {
        let limits = Limits::default();
        for m in samples() {
            let mut buf = Vec::new();
            m.encode(&mut buf);
            let back = PipeMessage::decode(&buf, &limits).unwrap();
            // Debug output covers every field of every variant.
            assert_eq!(format!("{back:?}"), format!("{m:?}"));
            let mut again = Vec::new();
            back.encode(&mut again);
            assert_eq!(again, buf);
            // Every proper prefix fails cleanly (an RTP message's payload
            // is the rest, so its prefixes past the header may decode).
            for n in 0..buf.len() {
                let r = PipeMessage::decode(&buf[..n], &limits);
                assert!(r.is_err() || m.is_media(), "{m:?} prefix {n}");
            }
            if !m.is_media() {
                buf.push(0);
                assert_eq!(
                    PipeMessage::decode(&buf, &limits).unwrap_err(),
                    PipeWireError::Invalid("trailing bytes")
                );
            }
        }
    }

    /// The fuzz target's seeds (fuzz/corpus/pipe_message/) are messages
    /// (its regression inputs, `regress-*`, need not be).
    #[test]
    fn the_fuzz_seeds_decode() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/pipe_message");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("regress-")
            {
                continue;
            }
            let data = std::fs::read(path).unwrap();
            PipeMessage::decode(&data, &Limits::default()).unwrap();
            n += 1;
        }
        assert!(n >= 10);
    }

    #[test]
    fn a_thousand_byte_packet_is_compact() {
        let mut buf = Vec::new();
        PipeMessage::Rtp(rtp()).encode(&mut buf);
        assert!(buf.len() <= 1000 + 30, "{}", buf.len());
    }

    #[test]
    fn bad_input_is_refused() {
        let limits = Limits::default();
        let d = |b: &[u8]| PipeMessage::decode(b, &limits).unwrap_err();
        assert_eq!(d(&[]), PipeWireError::Truncated);
        assert_eq!(d(&[2, 9]), PipeWireError::Version(2));
        assert_eq!(d(&[1, 200]), PipeWireError::Tag(200));
        assert!(matches!(
            d(&[1, TAG_NACK, 1, 0, 200]),
            PipeWireError::TooMany { .. }
        ));
        assert_eq!(d(&[1, TAG_KEYFRAME, 0xff]), PipeWireError::Truncated);
        assert_eq!(
            d(&[1, TAG_CLOSED, 0x85, 0x00]),
            PipeWireError::Invalid("varint"),
            "not minimal"
        );
        let eleven = [0xffu8; 11];
        assert_eq!(
            d(&[&[1, TAG_CLOSED][..], &eleven].concat()),
            PipeWireError::Invalid("varint")
        );
        // A string length past the end allocates nothing and fails.
        assert_eq!(d(&[1, TAG_ANNOUNCE, 1, 1, 255]), PipeWireError::Truncated);
        assert_eq!(
            d(&[1, TAG_ANNOUNCE, 1, 1, 1, 0xff]),
            PipeWireError::Invalid("string")
        );
        let many = limits.max_layers_per_producer as u8 + 1;
        assert!(matches!(
            d(&[1, TAG_ANNOUNCE, 1, 1, 0, 0, many]),
            PipeWireError::TooMany { what: "layers", .. }
        ));
    }
}
