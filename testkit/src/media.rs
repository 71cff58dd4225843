//! Synthetic media: Opus-sized audio and VP8 video with real payload
//! descriptors (picture IDs, TL0PICIDX, temporal ids, keyframe bits), in one
//! or several simulcast encodings, so the router's codec logic sees what a
//! browser would send.
//!
//! A source can also stamp its payloads with their send time
//! ([`Source::stamp_epoch`]), for one-way latency: [`stamp_of`] reads the
//! stamp back on the receiving side, and [`Rx::stamp`](crate::Rx::stamp)
//! holds it. The load generator (`examples/loadgen`) measures this way.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use manifold_sfu::packet::Vp8Descriptor;
use str0m::media::Rid;

/// What one VP8 packet says about itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vp8Info {
    /// 15-bit picture ID.
    pub picture_id: u16,
    /// TL0PICIDX, with temporal layers.
    pub tl0: Option<u8>,
    /// Temporal layer id, with temporal layers.
    pub tid: Option<u8>,
    /// Layer sync (Y bit).
    pub sync: bool,
    /// Start of the frame (first partition).
    pub start: bool,
    /// Part of a keyframe (the start packet says so).
    pub keyframe: bool,
    /// Synthetic frame number.
    pub frame: u32,
    /// Simulcast encoding index, 0 the lowest.
    pub layer: u8,
}

/// The byte that announces a send stamp (never a filler byte).
const STAMP_TAG: u8 = 0x5a;
/// Filler of audio payloads.
const AUDIO_FILLER: u8 = 0xfc;

/// Builds one VP8 RTP payload: descriptor with a 15-bit picture ID (and
/// TL0PICIDX/TID when temporal layers are on), the VP8 payload header byte
/// (P bit clear on keyframes), then the frame number and layer as filler.
pub fn vp8_payload(i: &Vp8Info, len: usize) -> Vec<u8> {
    vp8_payload_stamped(i, None, len)
}

/// [`vp8_payload`] with a send stamp (see [`stamp_of`]) after the layer
/// byte, when `stamp` is given.
pub fn vp8_payload_stamped(i: &Vp8Info, stamp: Option<u64>, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(len.max(16));
    p.push(0x80 | if i.start { 0x10 } else { 0 });
    let temporal = i.tid.is_some();
    p.push(0x80 | if temporal { 0x60 } else { 0 });
    p.push(0x80 | ((i.picture_id >> 8) as u8 & 0x7f));
    p.push(i.picture_id as u8);
    if temporal {
        p.push(i.tl0.unwrap_or(0));
        let tid = i.tid.unwrap_or(0);
        p.push((tid << 6) | if i.sync { 0x20 } else { 0 });
    }
    p.push(if i.keyframe { 0x00 } else { 0x01 });
    p.extend_from_slice(&i.frame.to_be_bytes());
    p.push(i.layer);
    if let Some(stamp) = stamp {
        p.push(STAMP_TAG);
        p.extend_from_slice(&stamp.to_be_bytes());
    }
    p.resize(len.max(p.len()), 0xab);
    p
}

/// An audio payload of `len` bytes, starting with a send stamp when
/// `stamp` is given (see [`stamp_of`]).
pub fn audio_payload(stamp: Option<u64>, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(len.max(9));
    if let Some(stamp) = stamp {
        p.push(STAMP_TAG);
        p.extend_from_slice(&stamp.to_be_bytes());
    }
    p.resize(len.max(p.len()), AUDIO_FILLER);
    p
}

/// The send stamp (nanoseconds since the source's
/// [`stamp_epoch`](Source::stamp_epoch)) of an audio payload or a VP8 video
/// payload written by a stamping [`Source`], after the router's rewrites
/// (which keep the descriptor's length). `None` if it carries none.
pub fn stamp_of(video: bool, payload: &[u8]) -> Option<u64> {
    let at = match video {
        // Descriptor, payload header byte, frame number, layer.
        true => Vp8Descriptor::parse(payload).ok()?.header_len + 6,
        false => 0,
    };
    let bytes = payload.get(at..at + 9)?;
    if bytes[0] != STAMP_TAG {
        return None;
    }
    Some(u64::from_be_bytes(bytes[1..].try_into().ok()?))
}

/// Overwrite the send stamp of a payload that has one ([`stamp_of`]) with
/// `stamp`: a paced packet is stamped when it leaves, not when its frame
/// was made.
pub fn restamp(video: bool, payload: &mut [u8], stamp: u64) {
    let at = match video {
        true => match Vp8Descriptor::parse(payload) {
            Ok(d) => d.header_len + 6,
            Err(_) => return,
        },
        false => 0,
    };
    if let Some(bytes) = payload.get_mut(at..at + 9) {
        if bytes[0] == STAMP_TAG {
            bytes[1..].copy_from_slice(&stamp.to_be_bytes());
        }
    }
}

/// Read back what [`vp8_payload`] wrote (with the router's rewrites).
pub fn vp8_info(payload: &[u8]) -> Option<Vp8Info> {
    let d = Vp8Descriptor::parse(payload).ok()?;
    let rest = payload.get(d.header_len..)?;
    Some(Vp8Info {
        picture_id: d.picture_id?,
        tl0: d.tl0picidx,
        tid: d.tid,
        sync: d.layer_sync,
        start: d.start_of_partition && d.partition_id == 0,
        keyframe: d.start_of_partition && rest.first()? & 0x01 == 0,
        frame: u32::from_be_bytes(rest.get(1..5)?.try_into().ok()?),
        layer: *rest.get(5)?,
    })
}

/// An AV1 payload: aggregation header (N set on a new coded video
/// sequence), then the frame number and layer.
pub fn av1_payload(keyframe: bool, frame: u32, layer: u8, len: usize) -> Vec<u8> {
    let mut p = vec![0x10 | if keyframe { 0x08 } else { 0 }];
    p.extend_from_slice(&frame.to_be_bytes());
    p.push(layer);
    p.resize(len.max(p.len()), 0xcd);
    p
}

/// The Dependency Descriptor bytes of one AV1 packet in the L1T3 example
/// structure of the AV1 RTP specification.
pub fn l1t3_descriptor(keyframe: bool, tid: u8, start: bool, end: bool, frame: u32) -> Vec<u8> {
    use crate::av1::example_structure_l1t3;
    // Templates: 0 keyframe, 1 base layer, 2 first and 3 second temporal layer.
    let idx = match (keyframe, tid) {
        (true, _) => 0,
        (false, 0) => 1,
        (false, 1) => 2,
        _ => 3,
    };
    let attach = keyframe && start;
    descriptor(
        &example_structure_l1t3(),
        idx,
        start,
        end,
        frame as u16,
        attach,
    )
}

/// The Dependency Descriptor bytes of one packet of spatial layer `sid` in
/// the L3T3 full SVC example structure of the AV1 RTP specification.
/// `phase` is the temporal unit's place in the 4-unit cycle (T0, T2, T1,
/// T2); `frame_number` counts layer frames (three per temporal unit). The
/// first packet of a keyframe's base layer carries the structure.
pub fn l3t3_descriptor(
    keyframe: bool,
    sid: u8,
    phase: u32,
    start: bool,
    end: bool,
    frame_number: u16,
) -> Vec<u8> {
    use crate::av1::example_structure_l3t3;
    // Per spatial layer, five templates: key, T0, T1, first T2, second T2.
    let kind = match (keyframe, phase % 4) {
        (true, _) => 0,
        (false, 0) => 1,
        (false, 2) => 2,
        (false, 1) => 3,
        _ => 4,
    };
    let idx = 5 * sid.min(2) as usize + kind;
    let attach = keyframe && sid == 0 && start;
    descriptor(
        &example_structure_l3t3(),
        idx,
        start,
        end,
        frame_number,
        attach,
    )
}

/// The temporal id of a temporal unit at `phase` of the L1T3/L3T3 cycle.
pub fn t3_temporal_id(phase: u32) -> u8 {
    [0u8, 2, 1, 2][(phase % 4) as usize]
}

/// One packet's descriptor using template `idx` of `structure`.
fn descriptor(
    structure: &manifold_sfu::packet::FrameDependencyStructure,
    idx: usize,
    start: bool,
    end: bool,
    frame_number: u16,
    attach: bool,
) -> Vec<u8> {
    use manifold_sfu::packet::DependencyDescriptor;
    let tpl = &structure.templates[idx];
    let dd = DependencyDescriptor {
        start_of_frame: start,
        end_of_frame: end,
        frame_dependency_template_id: ((structure.template_id_offset as usize + idx) % 64) as u8,
        frame_number,
        attached_structure: attach.then(|| structure.clone()),
        spatial_id: tpl.spatial_id,
        temporal_id: tpl.temporal_id,
        dtis: tpl.dtis.iter().copied().collect(),
        fdiffs: tpl.fdiffs.iter().map(|f| *f as u16).collect(),
        chain_fdiffs: tpl.chain_fdiffs.iter().copied().collect(),
        ..Default::default()
    };
    let mut out = Vec::new();
    dd.write(Some(structure), &mut out)
        .expect("write descriptor");
    out
}

/// A VP9 payload in non-flexible mode with layer indices: 15-bit picture
/// ID, TID/SID, TL0PICIDX, the scalability structure (3 spatial layers) on
/// keyframes, then the frame number and spatial layer.
#[allow(clippy::too_many_arguments)]
pub fn vp9_payload(
    pid: u16,
    tl0: u8,
    tid: u8,
    sid: u8,
    start: bool,
    end: bool,
    keyframe: bool,
    frame: u32,
    len: usize,
) -> Vec<u8> {
    let ss = keyframe && sid == 0 && start;
    let mut p = vec![
        0x80 | if keyframe { 0 } else { 0x40 }
            | 0x20
            | if start { 0x08 } else { 0 }
            | if end { 0x04 } else { 0 }
            | if ss { 0x02 } else { 0 },
        0x80 | ((pid >> 8) as u8 & 0x7f),
        pid as u8,
        (tid << 5) | (sid << 1) | u8::from(sid > 0),
        tl0,
    ];
    if ss {
        p.push(2 << 5);
    }
    p.extend_from_slice(&frame.to_be_bytes());
    p.push(sid);
    p.resize(len.max(p.len()), 0xef);
    p
}

/// The most video packets a pacing [`Source`] holds.
const MAX_PACED: usize = 1024;

/// One RTP packet to write.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Video, else audio.
    pub video: bool,
    /// AV1 Dependency Descriptor bytes.
    pub dd: Option<Vec<u8>>,
    /// The simulcast encoding it belongs to.
    pub rid: Option<Rid>,
    /// Extended sequence number.
    pub seq: u64,
    /// RTP timestamp.
    pub ts: u32,
    /// Last packet of a frame.
    pub marker: bool,
    /// RTP payload.
    pub payload: Vec<u8>,
    /// The RFC 6464 audio level (dBov) of an audio packet of a source with
    /// a level script ([`Source::speak`]).
    pub audio_level: Option<i8>,
}

/// One video encoding: its own numbering, keyframes and size.
pub struct VideoLayer {
    /// Its rid (`None`: a single encoding).
    pub rid: Option<Rid>,
    /// Encoding index, 0 the lowest.
    pub index: u8,
    /// Whether it sends (a publisher can stop an encoding).
    pub enabled: bool,
    seq: u64,
    picture_id: u16,
    tl0: u8,
    last_keyframe: Option<Instant>,
    /// Send a keyframe next.
    pub force_keyframe: bool,
    /// Packets per delta frame.
    pub packets_per_frame: usize,
    /// Packets per keyframe.
    pub keyframe_packets: usize,
    /// Payload bytes per packet.
    pub packet_size: usize,
    /// Payload bytes per keyframe packet (`None`: [`packet_size`](Self::packet_size)).
    /// VP8 only.
    pub keyframe_packet_size: Option<usize>,
    /// Keyframes sent so far.
    pub keyframes_sent: u64,
    /// Temporal units sent since the last keyframe.
    since_keyframe: u32,
}

impl VideoLayer {
    /// Encoding `index` named `rid`; keyframes are three times the packets.
    pub fn new(rid: Option<&str>, index: u8, packets_per_frame: usize, packet_size: usize) -> Self {
        VideoLayer {
            rid: rid.map(Rid::from),
            index,
            enabled: true,
            seq: 5000 + index as u64 * 10_000,
            picture_id: 300 + index as u16 * 1000,
            tl0: 10 * index,
            last_keyframe: None,
            force_keyframe: false,
            packets_per_frame,
            keyframe_packets: packets_per_frame * 3,
            packet_size,
            keyframe_packet_size: None,
            keyframes_sent: 0,
            since_keyframe: 0,
        }
    }

    /// A single VP8 encoding of about `bitrate` bits per second at 30 fps
    /// with a keyframe every `keyframe_interval`: a keyframe is as big as
    /// three delta frames, and each frame is cut into packets of at most
    /// `max_payload` bytes of equal size. Set the [`Source`]'s
    /// `keyframe_interval` to the same value.
    pub fn at_bitrate(bitrate: u64, keyframe_interval: Duration, max_payload: usize) -> Self {
        // Room for the descriptor, the payload header, frame number, layer
        // and a stamp.
        const MIN_PAYLOAD: usize = 19;
        let secs = keyframe_interval.as_secs().max(1);
        // Over one keyframe interval: one keyframe plus the delta frames,
        // the keyframe counting for three.
        let frames = 30 * secs;
        let shares = frames - 1 + 3;
        let frame_bytes = ((bitrate / 8 * secs / shares) as usize).max(MIN_PAYLOAD);
        let split = |bytes: usize| {
            let n = bytes.div_ceil(max_payload.max(MIN_PAYLOAD));
            (n, (bytes / n).max(MIN_PAYLOAD))
        };
        let (n, size) = split(frame_bytes);
        let (key_n, key_size) = split(frame_bytes * 3);
        let mut layer = VideoLayer::new(None, 0, n, size);
        layer.keyframe_packets = key_n;
        layer.keyframe_packet_size = Some(key_size);
        layer
    }
}

/// A publisher's media clock: audio every 20 ms, video at 30 fps per
/// layer, with a keyframe every `keyframe_interval` or on request.
pub struct Source {
    /// Send audio.
    pub audio: bool,
    /// Video encodings, lowest first (none: audio only).
    pub layers: Vec<VideoLayer>,
    /// Temporal layers per encoding (1 = none signalled; 3 = L1T3 pattern).
    pub temporal_layers: u8,
    /// Send AV1 with a Dependency Descriptor instead of VP8.
    pub av1: bool,
    /// Bytes per audio packet (30 unless set).
    pub audio_payload: usize,
    /// When set, audio and VP8 payloads carry their send time in
    /// nanoseconds since this instant (see [`stamp_of`]).
    pub stamp_epoch: Option<Instant>,
    /// Send VP9 k-SVC with three spatial layers (L3T3_KEY) instead of VP8.
    pub vp9_svc: bool,
    /// With `av1`: send AV1 full SVC with three spatial layers in one
    /// stream (L3T3, the specification's example structure).
    pub av1_l3t3: bool,
    start: Instant,
    next_audio: Instant,
    next_video: Instant,
    audio_seq: u64,
    frame: u32,
    /// Time between periodic keyframes.
    pub keyframe_interval: Duration,
    /// Scripted audio levels: (from, to, dBov), times since the source
    /// started. When not empty, every audio packet carries the RFC 6464
    /// audio-level header extension: the level of the segment it falls in,
    /// silence (-127 dBov) outside them. See [`Source::speak`].
    pub audio_levels: Vec<(Duration, Duration, i8)>,
    /// Video leaves at this rate, bits per second, as a browser's pacer
    /// sends it (libwebrtc: 2.5 times the target bitrate), instead of each
    /// frame's packets at once. `None` (the default): at once.
    pub pacing: Option<u64>,
    /// Video packets made and not yet sent (with `pacing`).
    paced: VecDeque<Packet>,
    /// When the next paced packet may leave.
    paced_next: Instant,
}

impl Source {
    /// Audio and/or one VP8 encoding, starting at `now`.
    pub fn new(now: Instant, audio: bool, video: bool) -> Self {
        let layers = if video {
            vec![VideoLayer::new(None, 0, 3, 1000)]
        } else {
            vec![]
        };
        Self::with_layers(now, audio, layers)
    }

    /// Audio and/or the given simulcast encodings, starting at `now`.
    pub fn with_layers(now: Instant, audio: bool, layers: Vec<VideoLayer>) -> Self {
        Source {
            audio,
            layers,
            temporal_layers: 1,
            av1: false,
            vp9_svc: false,
            av1_l3t3: false,
            audio_payload: 30,
            stamp_epoch: None,
            start: now,
            next_audio: now,
            next_video: now,
            audio_seq: 100,
            frame: 0,
            keyframe_interval: Duration::from_secs(3),
            audio_levels: Vec::new(),
            pacing: None,
            paced: VecDeque::new(),
            paced_next: now,
        }
    }

    /// Script speech: audio packets sent from `from` to `to` after the
    /// source started carry the audio level `dbov` (-127 to 0); the rest,
    /// silence. "Talks 0 to 5 s at -20 dBov":
    /// `source.speak(Duration::ZERO, Duration::from_secs(5), -20)`.
    pub fn speak(&mut self, from: Duration, to: Duration, dbov: i8) -> &mut Self {
        self.audio_levels.push((from, to, dbov));
        self
    }

    /// When the source started (its script's zero).
    pub fn started(&self) -> Instant {
        self.start
    }

    /// The scripted audio level at `at` after the start, if a script is set.
    pub fn audio_level_at(&self, at: Duration) -> Option<i8> {
        if self.audio_levels.is_empty() {
            return None;
        }
        let level = self
            .audio_levels
            .iter()
            .rev()
            .find(|(from, to, _)| (*from..*to).contains(&at))
            .map_or(-127, |s| s.2);
        Some(level.clamp(-127, 0))
    }

    /// The first (or only) video layer.
    pub fn video(&mut self) -> &mut VideoLayer {
        &mut self.layers[0]
    }

    /// Send a keyframe next on encoding `rid` (`None`: every encoding).
    pub fn force_keyframe(&mut self, rid: Option<Rid>) {
        for l in &mut self.layers {
            if rid.is_none() || l.rid == rid {
                l.force_keyframe = true;
            }
        }
    }

    /// Keyframes sent, all encodings.
    pub fn keyframes_sent(&self) -> u64 {
        self.layers.iter().map(|l| l.keyframes_sent).sum()
    }

    /// When the next packet is due.
    pub fn next_at(&self) -> Instant {
        let far = self.start + Duration::from_secs(1 << 20);
        let a = if self.audio { self.next_audio } else { far };
        let v = if self.layers.is_empty() {
            far
        } else {
            self.next_video
        };
        let paced = if self.paced.is_empty() {
            far
        } else {
            self.paced_next
        };
        a.min(v).min(paced)
    }

    /// Packets due at `now`.
    pub fn poll(&mut self, now: Instant) -> Vec<Packet> {
        let mut out = Vec::new();
        self.poll_into(now, &mut out);
        out
    }

    /// Append the packets due at `now` to `out` (stamped `now`, with a
    /// [`stamp_epoch`](Self::stamp_epoch): they are sent right away).
    /// With [`pacing`](Self::pacing), video waits in the pacer's queue and
    /// leaves at the pacing rate.
    pub fn poll_into(&mut self, now: Instant, out: &mut Vec<Packet>) {
        let Some(rate) = self.pacing.filter(|r| *r > 0) else {
            return self.make(now, out);
        };
        let from = out.len();
        self.make(now, out);
        let was_empty = self.paced.is_empty();
        let mut i = from;
        while i < out.len() {
            if out[i].video {
                self.paced.push_back(out.remove(i));
            } else {
                i += 1;
            }
        }
        if was_empty {
            // No credit saved up while idle.
            self.paced_next = self.paced_next.max(now);
        }
        // A pacing rate below the source's own would queue without bound:
        // past MAX_PACED packets the oldest leave at once.
        while self.paced_next <= now || self.paced.len() > MAX_PACED {
            let Some(mut p) = self.paced.pop_front() else {
                break;
            };
            if let Some(epoch) = self.stamp_epoch {
                let stamp = now.saturating_duration_since(epoch).as_nanos() as u64;
                restamp(true, &mut p.payload, stamp);
            }
            // The packet's bytes on the wire, about: payload, RTP header
            // with extensions, SRTP tag, UDP and IP.
            let bits = (p.payload.len() as u64 + 60) * 8;
            self.paced_next += Duration::from_nanos(bits * 1_000_000_000 / rate);
            out.push(p);
        }
    }

    /// The packets of the frames and audio due at `now`, stamped `now`.
    fn make(&mut self, now: Instant, out: &mut Vec<Packet>) {
        let stamp = self
            .stamp_epoch
            .map(|e| now.saturating_duration_since(e).as_nanos() as u64);
        while self.audio && self.next_audio <= now {
            let ts = (self.next_audio - self.start).as_millis() as u32 * 48;
            out.push(Packet {
                video: false,
                dd: None,
                rid: None,
                seq: self.audio_seq,
                ts,
                marker: false,
                payload: audio_payload(stamp, self.audio_payload),
                audio_level: self.audio_level_at(self.next_audio - self.start),
            });
            self.audio_seq += 1;
            self.next_audio += Duration::from_millis(20);
        }
        while !self.layers.is_empty() && self.next_video <= now {
            let at = self.next_video;
            let ts = ((at - self.start).as_micros() as u64 * 9 / 100) as u32;
            // L1T3: 0, 2, 1, 2, ...
            let tid = match self.temporal_layers {
                1 => None,
                2 => Some((self.frame % 2) as u8),
                _ => Some([0u8, 2, 1, 2][(self.frame % 4) as usize]),
            };
            for l in self.layers.iter_mut().filter(|l| l.enabled) {
                let keyframe = l.force_keyframe
                    || l.last_keyframe
                        .is_none_or(|k| at - k >= self.keyframe_interval);
                // A keyframe is always a base-layer picture.
                let tid = if keyframe { tid.map(|_| 0) } else { tid };
                if keyframe {
                    l.since_keyframe = 0;
                    l.force_keyframe = false;
                    l.last_keyframe = Some(at);
                    l.keyframes_sent += 1;
                }
                if tid == Some(0) {
                    l.tl0 = l.tl0.wrapping_add(1);
                }
                if self.av1 && self.av1_l3t3 {
                    // Spatial layer s: 1 + s packets (three times that on a
                    // keyframe); the marker ends the temporal unit.
                    // The cycle restarts at each keyframe, so every frame
                    // references only frames since the last keyframe.
                    let phase = l.since_keyframe;
                    l.since_keyframe += 1;
                    for sid in 0..3u8 {
                        let n = (1 + sid as usize) * if keyframe { 3 } else { 1 };
                        let frame_number =
                            (self.frame as u16).wrapping_mul(3).wrapping_add(sid as u16);
                        for i in 0..n {
                            let (start, end) = (i == 0, i + 1 == n);
                            out.push(Packet {
                                video: true,
                                dd: Some(l3t3_descriptor(
                                    keyframe,
                                    sid,
                                    phase,
                                    start,
                                    end,
                                    frame_number,
                                )),
                                rid: l.rid,
                                seq: l.seq,
                                ts,
                                marker: sid == 2 && end,
                                payload: av1_payload(
                                    keyframe && sid == 0 && start,
                                    self.frame,
                                    sid,
                                    l.packet_size,
                                ),
                                audio_level: None,
                            });
                            l.seq += 1;
                        }
                    }
                    continue;
                }
                if self.vp9_svc {
                    let t = tid.unwrap_or(0);
                    for sid in 0..3u8 {
                        let n = 1 + sid as usize;
                        for i in 0..n {
                            out.push(Packet {
                                video: true,
                                dd: None,
                                rid: l.rid,
                                seq: l.seq,
                                ts,
                                marker: sid == 2 && i + 1 == n,
                                payload: vp9_payload(
                                    l.picture_id,
                                    l.tl0,
                                    t,
                                    sid,
                                    i == 0,
                                    i + 1 == n,
                                    keyframe,
                                    self.frame,
                                    l.packet_size,
                                ),
                                audio_level: None,
                            });
                            l.seq += 1;
                        }
                    }
                    l.picture_id = (l.picture_id + 1) & 0x7fff;
                    continue;
                }
                let (n, size) = if keyframe {
                    let size = l.keyframe_packet_size.unwrap_or(l.packet_size);
                    (l.keyframe_packets, size)
                } else {
                    (l.packets_per_frame, l.packet_size)
                };
                for i in 0..n {
                    if self.av1 {
                        let t = tid.unwrap_or(0);
                        out.push(Packet {
                            video: true,
                            dd: Some(l1t3_descriptor(keyframe, t, i == 0, i + 1 == n, self.frame)),
                            rid: l.rid,
                            seq: l.seq,
                            ts,
                            marker: i + 1 == n,
                            payload: av1_payload(
                                keyframe && i == 0,
                                self.frame,
                                l.index,
                                l.packet_size,
                            ),
                            audio_level: None,
                        });
                        l.seq += 1;
                        continue;
                    }
                    let info = Vp8Info {
                        picture_id: l.picture_id,
                        tl0: tid.map(|_| l.tl0),
                        tid,
                        start: i == 0,
                        keyframe,
                        // Layer sync (Y) as libwebrtc's L1T3 sets it: on a
                        // frame that references only the base layer, i.e.
                        // every T1 frame and the T2 frame right after a T0
                        // one (not the T2 frame after a T1).
                        sync: match tid {
                            Some(1) => true,
                            Some(2) => self.frame % 4 == 1,
                            _ => false,
                        },
                        frame: self.frame,
                        layer: l.index,
                    };
                    out.push(Packet {
                        video: true,
                        dd: None,
                        rid: l.rid,
                        seq: l.seq,
                        ts,
                        marker: i + 1 == n,
                        payload: vp8_payload_stamped(&info, stamp, size),
                        audio_level: None,
                    });
                    l.seq += 1;
                }
                l.picture_id = (l.picture_id + 1) & 0x7fff;
            }
            self.frame += 1;
            self.next_video += Duration::from_micros(33_333);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer at a bitrate sends about that bitrate, within the payload
    /// cap, and a stamping source's payloads read back their stamp.
    #[test]
    fn bitrate_and_stamps() {
        let t0 = Instant::now();
        let interval = Duration::from_secs(2);
        let layer = VideoLayer::at_bitrate(1_500_000, interval, 1200);
        let mut s = Source::with_layers(t0, true, vec![layer]);
        s.keyframe_interval = interval;
        s.audio_payload = 120;
        s.stamp_epoch = Some(t0);
        // Four seconds: two keyframe intervals.
        let out = s.poll(t0 + Duration::from_millis(3999));
        let video: usize = out
            .iter()
            .filter(|p| p.video)
            .map(|p| p.payload.len())
            .sum();
        let bps = video as f64 * 8.0 / 4.0;
        assert!((1_400_000.0..1_600_000.0).contains(&bps), "{bps}");
        assert!(out.iter().all(|p| p.payload.len() <= 1200));
        assert_eq!(out.iter().filter(|p| !p.video).count(), 200);
        assert_eq!(s.keyframes_sent(), 2);
        for p in &out {
            assert_eq!(stamp_of(p.video, &p.payload), Some(3_999_000_000));
        }
        // Without an epoch, no stamp.
        let mut plain = Source::new(t0, true, true);
        let out = plain.poll(t0);
        assert!(out.iter().all(|p| stamp_of(p.video, &p.payload).is_none()));
    }

    /// A pacing source spreads a keyframe's packets at its rate, in order,
    /// each stamped when it leaves; audio is not held.
    #[test]
    fn pacing_spreads_a_frame_and_stamps_each_packet_as_it_leaves() {
        let t0 = Instant::now();
        let interval = Duration::from_secs(2);
        let layer = VideoLayer::at_bitrate(1_500_000, interval, 1200);
        let mut s = Source::with_layers(t0, true, vec![layer]);
        s.keyframe_interval = interval;
        s.stamp_epoch = Some(t0);
        s.pacing = Some(3_750_000);
        let mut sent = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_millis(200) {
            for p in s.poll(now) {
                sent.push((now, p));
            }
            now = s.next_at();
        }
        let video: Vec<_> = sent.iter().filter(|(_, p)| p.video).collect();
        let key = s.layers[0].keyframe_packets;
        assert!(key >= 10, "{key}");
        // The keyframe alone takes (bits / rate) to leave: about 30 ms of
        // its 3 x 1.5 Mbit/s / 30 fps at 3.75 Mbit/s.
        let (first, last) = (video[0].0, video[key - 1].0);
        let spread = last - first;
        assert!(
            spread > Duration::from_millis(20) && spread < Duration::from_millis(40),
            "{spread:?}"
        );
        // In order, and each stamped with the time it left.
        for w in video.windows(2) {
            assert_eq!(w[1].1.seq, w[0].1.seq + 1);
        }
        for (at, p) in &sent {
            let stamp = (*at - t0).as_nanos() as u64;
            assert_eq!(stamp_of(p.video, &p.payload), Some(stamp));
        }
        // Audio every 20 ms, never behind the keyframe.
        let audio: Vec<_> = sent
            .iter()
            .filter(|(_, p)| !p.video)
            .map(|(at, _)| *at)
            .collect();
        assert_eq!(audio[1] - audio[0], Duration::from_millis(20));
    }
}
