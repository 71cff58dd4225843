//! Producers: incoming tracks.

use std::time::{Duration, Instant};

use smallvec::SmallVec;
use str0m::format::PayloadParams;
use str0m::media::{MediaKind, Mid, Pt, Rid};
use str0m::rtp::Ssrc;

use crate::media::keyframe::KeyframeThrottle;
use crate::media::layers::LayerState;
use crate::packet::{CodecKind, FrameDependencyStructure};
use crate::{ConsumerId, TransportId};

/// A layer that sent nothing for this long is considered gone.
pub(crate) const LAYER_TIMEOUT: Duration = Duration::from_millis(400);
/// Bytes a forwarded packet costs on the wire beyond its payload: RTP
/// header and extensions, SRTP tag, UDP and IP headers. Layer bitrates
/// include it, so they compare with the bandwidth estimate.
const PACKET_OVERHEAD: usize = 60;
/// How often live layers and bitrates are re-evaluated.
pub(crate) const LAYER_CHECK: Duration = Duration::from_millis(200);

/// What tells a layer's packets apart from the other layers' of its producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayerKey {
    /// The producer's only encoding: every packet of its m-line.
    Only,
    /// A simulcast encoding named by its rid (`a=simulcast`).
    Rid(Rid),
    /// A simulcast encoding named by its SSRC (`a=ssrc-group:SIM`, no rids).
    Ssrc(Ssrc),
}

impl LayerKey {
    pub(crate) fn rid(self) -> Option<Rid> {
        match self {
            LayerKey::Rid(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn ssrc(self) -> Option<Ssrc> {
        match self {
            LayerKey::Ssrc(s) => Some(s),
            _ => None,
        }
    }

    /// Whether a packet on `ssrc` (with this rid, if any) belongs to the layer.
    fn matches(self, ssrc: Ssrc, rid: Option<Rid>) -> bool {
        match self {
            LayerKey::Only => true,
            LayerKey::Rid(r) => rid == Some(r),
            LayerKey::Ssrc(s) => s == ssrc,
        }
    }
}

/// One encoding of a producer: the only one, or one simulcast stream.
/// Simulcast by rid and by SSRC group share all of it but the key.
#[derive(Debug)]
pub(crate) struct Layer {
    pub key: LayerKey,
    pub last_packet: Option<Instant>,
    pub live: bool,
    /// Bytes in the current measuring window and the window's start.
    bytes: u64,
    window_start: Option<Instant>,
    pub bitrate_bps: u64,
    pub keyframe: KeyframeThrottle,
    /// RTP packets received on this layer.
    pub packets: u64,
    /// The WebRTC stack's last report on this layer's incoming stream.
    pub ingress: Option<crate::stats::IngressReport>,
    /// (NACKs sent, packets received) at its previous report.
    pub nack_mark: (u64, u64),
}

impl Layer {
    pub(crate) fn new(key: LayerKey, keyframe_interval: Duration) -> Self {
        Layer {
            key,
            last_packet: None,
            live: false,
            bytes: 0,
            window_start: None,
            bitrate_bps: 0,
            keyframe: KeyframeThrottle::new(keyframe_interval),
            packets: 0,
            ingress: None,
            nack_mark: (0, 0),
        }
    }

    pub(crate) fn on_packet(&mut self, now: Instant, len: usize) {
        self.last_packet = Some(now);
        self.packets += 1;
        self.bytes += (len + PACKET_OVERHEAD) as u64;
        self.window_start.get_or_insert(now);
    }

    /// Update liveness and bitrate; returns whether liveness changed.
    fn check(&mut self, now: Instant) -> bool {
        let live = self
            .last_packet
            .is_some_and(|t| now.saturating_duration_since(t) < LAYER_TIMEOUT);
        if let Some(start) = self.window_start {
            let elapsed = now.saturating_duration_since(start);
            if elapsed >= Duration::from_secs(1) {
                self.bitrate_bps = self.bytes * 8 * 1000 / elapsed.as_millis().max(1) as u64;
                self.bytes = 0;
                self.window_start = Some(now);
            }
        }
        if !live {
            self.bitrate_bps = 0;
        }
        let changed = live != self.live;
        self.live = live;
        changed
    }
}

pub(crate) struct Producer {
    pub transport: TransportId,
    pub mid: Mid,
    pub kind: MediaKind,
    /// Encodings, lowest quality first (the order of `a=simulcast` or of
    /// `a=ssrc-group:SIM`).
    pub layers: SmallVec<[Layer; 3]>,
    /// Payload types seen on this producer, with their codec.
    pub codecs: SmallVec<[(Pt, PayloadParams, CodecKind); 2]>,
    pub paused: bool,
    pub consumers: Vec<ConsumerId>,
    pub packets: u64,
    /// When the layer monitor next checks (its `poll_timeout`).
    next_check: Option<Instant>,
    /// The latest AV1 Dependency Descriptor structure seen.
    pub dd_structure: Option<FrameDependencyStructure>,
    /// The sender marks VP8 layer-sync frames (Y bit). Until one is seen,
    /// temporal up-switches are not held for them (a sender that never
    /// sets the bit would otherwise keep viewers on the base rate).
    pub vp8_layer_sync: bool,
    /// Spatial layers inside the stream (SVC), from the VP9 scalability
    /// structure or the Dependency Descriptor; 1 otherwise.
    pub svc_layers: u8,
    /// Quality score (see `crate::stats::score`).
    pub score: crate::stats::score::Score,
    /// Observers following it (audio only): each packet's audio level goes
    /// to each of them. Empty for almost every producer.
    pub observers: SmallVec<[crate::ObserverId; 1]>,
    /// Pipes sending it to other routers (`crate::pipe`).
    pub pipes: SmallVec<[crate::PipeId; 1]>,
    /// For a piped producer: the pipe it arrived on and its id on the
    /// router that sends it.
    pub piped: Option<(crate::PipeId, crate::ProducerId)>,
}

impl Producer {
    /// A new producer on the m-line `mid` of transport `transport`, with
    /// one layer per key; its layer monitor first runs [`LAYER_CHECK`]
    /// after `now`.
    pub(crate) fn new(
        transport: TransportId,
        mid: Mid,
        kind: MediaKind,
        keys: &[LayerKey],
        keyframe_interval: Duration,
        now: Instant,
    ) -> Producer {
        Producer {
            transport,
            mid,
            kind,
            layers: keys
                .iter()
                .map(|k| Layer::new(*k, keyframe_interval))
                .collect(),
            codecs: SmallVec::new(),
            paused: false,
            consumers: Vec::new(),
            packets: 0,
            next_check: Some(now + LAYER_CHECK),
            dd_structure: None,
            vp8_layer_sync: false,
            svc_layers: 1,
            score: Default::default(),
            observers: SmallVec::new(),
            pipes: SmallVec::new(),
            piped: None,
        }
    }

    /// When the layer monitor wants [`handle_monitor_timeout`](Self::handle_monitor_timeout).
    pub(crate) fn poll_monitor_timeout(&self) -> Option<Instant> {
        self.next_check
    }

    /// Index of the layer a packet on `ssrc` (with this rid, if any)
    /// belongs to; `None` for an encoding past the layer limit.
    pub(crate) fn layer_index(&self, ssrc: Ssrc, rid: Option<Rid>) -> Option<u8> {
        self.layers
            .iter()
            .position(|l| l.key.matches(ssrc, rid))
            .map(|i| i as u8)
    }

    pub(crate) fn codec_for(&self, pt: Pt) -> Option<&(Pt, PayloadParams, CodecKind)> {
        self.codecs.iter().find(|(p, _, _)| *p == pt)
    }

    /// What layer selection needs to know about each layer.
    pub(crate) fn layer_states(&self) -> SmallVec<[LayerState; 3]> {
        if self.svc_layers > 1 {
            // One stream: each spatial layer lives with it; its cost is
            // estimated as a share of the whole (each layer about doubles it).
            let l = &self.layers[0];
            let n = self.svc_layers.min(8) as u32;
            return (0..n)
                .map(|i| LayerState {
                    live: l.live,
                    bitrate_bps: l.bitrate_bps >> (n - 1 - i),
                })
                .collect();
        }
        self.layers
            .iter()
            .map(|l| LayerState {
                live: l.live,
                bitrate_bps: l.bitrate_bps,
            })
            .collect()
    }

    /// The layer monitor: same shape as every subsystem. Returns whether a
    /// layer appeared or disappeared.
    pub(crate) fn handle_monitor_timeout(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for l in &mut self.layers {
            changed |= l.check(now);
        }
        self.next_check = Some(now + LAYER_CHECK);
        changed
    }

    /// Total keyframe requests sent to the publisher.
    pub(crate) fn keyframes_sent(&self) -> u64 {
        self.layers.iter().map(|l| l.keyframe.sent()).sum()
    }
}

/// Map str0m's codec to the codecs this crate reads.
pub(crate) fn codec_kind(params: &PayloadParams) -> CodecKind {
    use str0m::format::Codec;
    match params.spec().codec {
        Codec::Opus => CodecKind::Opus,
        Codec::Vp8 => CodecKind::Vp8,
        Codec::Vp9 => CodecKind::Vp9,
        Codec::H264 => CodecKind::H264,
        Codec::Av1 => CodecKind::Av1,
        _ => CodecKind::Other,
    }
}

/// Whether a subscriber's payload type can carry the producer's codec
/// without transcoding.
pub(crate) fn codecs_compatible(a: &PayloadParams, b: &PayloadParams) -> bool {
    use str0m::format::Codec;
    let (sa, sb) = (a.spec(), b.spec());
    if sa.codec != sb.codec || sa.clock_rate != sb.clock_rate {
        return false;
    }
    match sa.codec {
        Codec::H264 => {
            let profile = |p: Option<u32>| p.map(|v| v >> 16).unwrap_or(0x42);
            sa.format.packetization_mode.unwrap_or(0) == sb.format.packetization_mode.unwrap_or(0)
                && profile(sa.format.profile_level_id) == profile(sb.format.profile_level_id)
        }
        Codec::Vp9 => sa.format.profile_id.unwrap_or(0) == sb.format.profile_id.unwrap_or(0),
        _ => true,
    }
}
