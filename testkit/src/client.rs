//! A str0m peer playing the browser: it offers or answers, sends synthetic
//! media and records every RTP packet it receives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::media::{Direction, MediaKind, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig, RtcError};

use crate::media::{self, vp8_info, Packet, Source, Vp8Info};

/// One crypto provider and one DTLS certificate for every client of the
/// process that asks for them ([`Client::lightweight`]): the router's own
/// provider and the certificate routers built by the test kit share
/// (`manifold_sfu::testkit_hooks::shared_crypto`: a DTLS configuration
/// shared by all sessions, SRTP key schedules kept), so that setting up
/// thousands of clients and encrypting their media costs as little as it
/// costs the router. The certificate is made once, on first use.
pub fn shared_crypto() -> (Arc<CryptoProvider>, DtlsCert) {
    manifold_sfu::testkit_hooks::shared_crypto()
}

/// One received RTP packet.
#[derive(Debug, Clone)]
pub struct Rx {
    /// Extended RTP sequence number.
    pub seq: u64,
    /// The SSRC it came on.
    pub ssrc: u32,
    /// Its payload type.
    pub pt: u8,
    /// Its transport-wide sequence number, when it carries one.
    pub twcc: Option<u16>,
    /// RTP timestamp.
    pub ts: u32,
    /// When it arrived (virtual time).
    pub at: Instant,
    /// The RTP marker bit (the last packet of a video frame).
    pub marker: bool,
    /// The first packet of a keyframe.
    pub keyframe_start: bool,
    /// The synthetic frame number the payload carries.
    pub frame: Option<u32>,
    /// Payload bytes.
    pub payload_len: usize,
    /// What the VP8 payload says (video only).
    pub vp8: Option<Vp8Info>,
    /// The AV1 Dependency Descriptor's bytes, when present.
    pub dd: Option<Vec<u8>>,
    /// VP9 (spatial id, temporal id, start of picture) when the payload is VP9.
    pub vp9: Option<(u8, u8, bool)>,
    /// The send stamp of a stamping [`Source`] ([`media::stamp_of`]).
    pub stamp: Option<u64>,
    /// The RFC 6464 audio level (dBov), when the packet carries one.
    pub audio_level: Option<i8>,
}

/// A str0m `Rtc` playing a browser: it offers or answers, sends its
/// [`Source`]'s media and records every RTP packet it receives.
pub struct Client {
    /// For messages.
    pub name: String,
    /// Its WebRTC stack.
    pub rtc: Rtc,
    /// Its address.
    pub addr: SocketAddr,
    /// When str0m next wants the time.
    pub timeout: Instant,
    /// What it publishes, if anything.
    pub source: Option<Source>,
    /// Its sending audio m-line.
    pub audio_mid: Option<Mid>,
    /// Its sending video m-line.
    pub video_mid: Option<Mid>,
    /// Every RTP packet received, by m-line.
    pub received: HashMap<Mid, Vec<Rx>>,
    /// The kind of each m-line.
    pub kinds: HashMap<Mid, MediaKind>,
    /// Keyframe requests (PLI/FIR) received.
    pub keyframe_requests: u64,
    /// Whether ICE and DTLS completed.
    pub connected: bool,
    /// Whether ICE ever reached connected (or completed).
    pub ice_connected: bool,
    /// Whether ICE ever reported disconnected.
    pub ice_disconnected: bool,
    /// Its own offer, until the answer comes.
    pub pending: Option<SdpPendingOffer>,
    /// Its transport on the router.
    pub transport: Option<manifold_sfu::TransportId>,
    /// REMB estimates received from the router (max incoming bitrate).
    pub remb: Vec<u64>,
    /// The last SDP answer from the router.
    pub remote_sdp: String,
    /// Keyframe requests received, by the rid of the stream they name
    /// (SSRC simulcast: [`ssrc_label`] of its SSRC).
    pub keyframe_requests_by_rid: HashMap<Option<Rid>, u64>,
    /// Video encodings signalled by SSRC group: (SSRC, RTX SSRC), declared
    /// as send streams once the answer makes the m-line.
    ssrc_layers: Vec<(u32, u32)>,
    /// Packets polled from the source, kept for its capacity.
    outbox: Vec<Packet>,
    /// How its one host candidate reaches the router: UDP, or TCP (an
    /// ICE-TCP client on a network that blocks UDP).
    pub proto: Protocol,
    /// Its data channels and the messages received on them.
    pub channels: crate::channels::Channels,
    /// Times str0m failed to start closing after the router's DTLS
    /// close_notify arrived before SCTP was established (str0m 0.25 asks
    /// SCTP for a graceful shutdown it refuses in that state). The router
    /// has already closed the transport; the client then stays quiet.
    pub close_errors: u32,
    /// Sender reports received, when its config enables str0m's raw
    /// packets (`RtcConfig::enable_raw_packets`).
    pub sender_reports: Vec<str0m::rtp::rtcp::SenderInfo>,
    /// (SSRC, CNAME) of the source descriptions received, likewise.
    pub cnames: Vec<(u32, String)>,
}

/// The local rid that labels an SSRC-simulcast encoding's send stream
/// (its SSRC in hex: at most 8 characters, as a rid allows). It never goes on
/// the wire; it lets str0m's keyframe requests say which SSRC they name.
pub fn ssrc_label(ssrc: u32) -> String {
    format!("{ssrc:x}")
}

/// Rewrite `offer` so its `mid` m-line announces simulcast the legacy way:
/// `a=ssrc-group:SIM` over `layers` (lowest first), an `a=ssrc-group:FID`
/// per RTX pair, `a=ssrc` lines for all, and no rid header extensions (so
/// no rid is ever sent). The m-line's own `a=ssrc` lines are replaced.
pub fn munge_ssrc_simulcast(offer: &str, mid: Mid, layers: &[(u32, u32)]) -> String {
    let mut sections: Vec<Vec<&str>> = vec![Vec::new()];
    for line in offer.lines() {
        if line.starts_with("m=") {
            sections.push(Vec::new());
        }
        sections.last_mut().unwrap().push(line);
    }
    let mid_line = format!("a=mid:{mid}");
    let mut out = String::new();
    for section in sections {
        if !section.contains(&mid_line.as_str()) {
            for l in section {
                out.push_str(l);
                out.push_str("\r\n");
            }
            continue;
        }
        let cname = section
            .iter()
            .find_map(|l| l.strip_prefix("a=ssrc:")?.split_once(" cname:"))
            .map(|(_, c)| c.to_string())
            .unwrap_or_else(|| "munged".into());
        for l in section {
            let drop = l.starts_with("a=ssrc:")
                || l.starts_with("a=ssrc-group:")
                || (l.starts_with("a=extmap:") && l.contains("rtp-stream-id"));
            if !drop {
                out.push_str(l);
                out.push_str("\r\n");
            }
        }
        let sim: Vec<String> = layers.iter().map(|(s, _)| s.to_string()).collect();
        out.push_str(&format!("a=ssrc-group:SIM {}\r\n", sim.join(" ")));
        for (s, r) in layers {
            out.push_str(&format!("a=ssrc-group:FID {s} {r}\r\n"));
        }
        for (s, r) in layers {
            out.push_str(&format!("a=ssrc:{s} cname:{cname}\r\n"));
            out.push_str(&format!("a=ssrc:{r} cname:{cname}\r\n"));
        }
    }
    out
}

impl Client {
    /// A client with str0m's default crypto provider.
    pub fn new(name: &str, addr: SocketAddr, now: Instant) -> Client {
        Self::with_crypto(name, addr, now, str0m::crypto::from_feature_flags())
    }

    /// A client with its own crypto provider (another DTLS stack, another
    /// certificate key).
    pub fn with_crypto(
        name: &str,
        addr: SocketAddr,
        now: Instant,
        provider: str0m::config::CryptoProvider,
    ) -> Client {
        let provider = Arc::new(provider);
        let config = RtcConfig::new()
            .set_rtp_mode(true)
            .set_extension(
                manifold_sfu::ext::DEPENDENCY_DESCRIPTOR_ID,
                manifold_sfu::ext::DependencyDescriptorSerializer::extension(),
            )
            .set_crypto_provider(provider);
        Self::from_config(name, addr, now, config)
    }

    /// A cheap client for load: Opus and VP8 only, the process-wide
    /// [`shared_crypto`] (no certificate generated per client).
    pub fn lightweight(name: &str, addr: SocketAddr, now: Instant) -> Client {
        let (provider, cert) = shared_crypto();
        let config = RtcConfig::new()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .set_crypto_provider(provider)
            .set_dtls_cert(cert);
        Self::from_config(name, addr, now, config)
    }

    /// A client built from `config`, with a host candidate at `addr`. The
    /// config should set RTP mode ([`Client::write_media`] writes RTP).
    pub fn from_config(name: &str, addr: SocketAddr, now: Instant, config: RtcConfig) -> Client {
        Self::from_config_on(name, addr, now, config, Protocol::Udp)
    }

    /// A client like [`Client::new`] whose only candidate is a TCP host
    /// candidate at `addr`: it reaches the router over ICE-TCP only (its
    /// datagrams are RFC 4571 frames on one connection, see
    /// [`Sim::add_tcp_peer`](crate::Sim::add_tcp_peer)).
    pub fn new_tcp(name: &str, addr: SocketAddr, now: Instant) -> Client {
        let config = RtcConfig::new()
            .set_rtp_mode(true)
            .set_extension(
                manifold_sfu::ext::DEPENDENCY_DESCRIPTOR_ID,
                manifold_sfu::ext::DependencyDescriptorSerializer::extension(),
            )
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()));
        Self::from_config_on(name, addr, now, config, Protocol::Tcp)
    }

    fn from_config_on(
        name: &str,
        addr: SocketAddr,
        now: Instant,
        config: RtcConfig,
        proto: Protocol,
    ) -> Client {
        let mut rtc = config.build(now);
        rtc.add_local_candidate(Candidate::host(addr, proto).expect("host candidate"));
        Client {
            name: name.to_string(),
            rtc,
            addr,
            timeout: now,
            source: None,
            audio_mid: None,
            video_mid: None,
            received: HashMap::new(),
            kinds: HashMap::new(),
            keyframe_requests: 0,
            connected: false,
            pending: None,
            transport: None,
            remote_sdp: String::new(),
            remb: Vec::new(),
            keyframe_requests_by_rid: HashMap::new(),
            ssrc_layers: Vec::new(),
            close_errors: 0,
            sender_reports: Vec::new(),
            cnames: Vec::new(),
            ice_connected: false,
            ice_disconnected: false,
            outbox: Vec::new(),
            proto,
            channels: Default::default(),
        }
    }

    /// Offer to send audio and/or video (WHIP style).
    pub fn offer_send(&mut self, audio: bool, video: bool) -> String {
        let mut api = self.rtc.sdp_api();
        self.channels.offer(&mut api);
        if audio {
            let mid = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
            self.audio_mid = Some(mid);
            self.kinds.insert(mid, MediaKind::Audio);
        }
        if video {
            let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
            self.video_mid = Some(mid);
            self.kinds.insert(mid, MediaKind::Video);
        }
        let (offer, pending) = api.apply().expect("offer");
        self.pending = Some(pending);
        offer.to_sdp_string()
    }

    /// Offer to receive `audio` audio and `video` video tracks (WHEP style).
    pub fn offer_recv(&mut self, audio: usize, video: usize) -> String {
        let mut api = self.rtc.sdp_api();
        self.channels.offer(&mut api);
        for _ in 0..audio {
            let mid = api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
            self.kinds.insert(mid, MediaKind::Audio);
        }
        for _ in 0..video {
            let mid = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
            self.kinds.insert(mid, MediaKind::Video);
        }
        let (offer, pending) = api.apply().expect("offer");
        self.pending = Some(pending);
        offer.to_sdp_string()
    }

    /// Apply the router's answer to the pending offer.
    pub fn accept_answer(&mut self, answer: &str) {
        if let Err(e) = self.try_accept_answer(answer) {
            panic!("{}: {e}", self.name);
        }
    }

    /// [`accept_answer`](Self::accept_answer), saying why it fails instead
    /// of panicking.
    pub fn try_accept_answer(&mut self, answer: &str) -> Result<(), String> {
        self.remote_sdp = answer.to_string();
        let answer = SdpAnswer::from_sdp_string(answer).map_err(|e| format!("bad answer: {e}"))?;
        let pending = self.pending.take().ok_or("no offer pending")?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| format!("answer refused: {e}"))?;
        if let Some(mid) = self.video_mid {
            let mut api = self.rtc.direct_api();
            for &(ssrc, rtx) in &self.ssrc_layers {
                let rid = Rid::from(ssrc_label(ssrc).as_str());
                api.declare_stream_tx(ssrc.into(), Some(rtx.into()), mid, Some(rid));
            }
        }
        Ok(())
    }

    /// Offer to send audio and video as simulcast signalled by SSRC group
    /// (see [`munge_ssrc_simulcast`]): `layers` are (SSRC, RTX SSRC), lowest
    /// first.
    pub fn offer_send_ssrc_simulcast(&mut self, audio: bool, layers: &[(u32, u32)]) -> String {
        let offer = self.offer_send(audio, true);
        self.ssrc_layers = layers.to_vec();
        let mid = self.video_mid.expect("video m-line");
        munge_ssrc_simulcast(&offer, mid, layers)
    }

    /// Answer a server offer; returns the answer.
    pub fn accept_offer(&mut self, offer: &str) -> String {
        match self.try_accept_offer(offer) {
            Ok(answer) => answer,
            Err(e) => panic!("{}: {e}", self.name),
        }
    }

    /// [`accept_offer`](Self::accept_offer), saying why it fails instead of
    /// panicking.
    pub fn try_accept_offer(&mut self, offer: &str) -> Result<String, String> {
        self.remote_sdp = offer.to_string();
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| format!("bad offer: {e}"))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("offer refused: {e}"))?;
        Ok(answer.to_sdp_string())
    }

    /// Offer to send audio and video as simulcast encodings `rids`, lowest first.
    pub fn offer_send_simulcast(&mut self, audio: bool, rids: &[&str]) -> String {
        use str0m::media::{Simulcast, SimulcastLayer};
        let mut api = self.rtc.sdp_api();
        self.channels.offer(&mut api);
        if audio {
            let mid = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
            self.audio_mid = Some(mid);
            self.kinds.insert(mid, MediaKind::Audio);
        }
        let mut sim = Simulcast::new();
        for r in rids {
            sim.add_send_layer(SimulcastLayer::new(r));
        }
        let mid = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, Some(sim));
        self.video_mid = Some(mid);
        self.kinds.insert(mid, MediaKind::Video);
        let (offer, pending) = api.apply().expect("offer");
        self.pending = Some(pending);
        offer.to_sdp_string()
    }

    /// Write due media packets; returns how many were written, and how
    /// many of them were video.
    pub fn write_media(&mut self, now: Instant) -> (u64, u64) {
        let mut written = (0, 0);
        let Some(source) = self.source.as_mut() else {
            return written;
        };
        let mut packets = std::mem::take(&mut self.outbox);
        source.poll_into(now, &mut packets);
        let video_codec = if source.av1 {
            str0m::format::Codec::Av1
        } else if source.vp9_svc {
            str0m::format::Codec::Vp9
        } else {
            str0m::format::Codec::Vp8
        };
        let pt_of = |rtc: &Rtc, codec| {
            let params = rtc.codec_config().params();
            params
                .iter()
                .find(|x| x.spec().codec == codec)
                .map(|x| x.pt())
        };
        let video_pt = pt_of(&self.rtc, video_codec);
        let audio_pt = pt_of(&self.rtc, str0m::format::Codec::Opus);
        for p in packets.drain(..) {
            let (mid, pt) = if p.video {
                (self.video_mid, video_pt)
            } else {
                (self.audio_mid, audio_pt)
            };
            let (Some(mid), Some(pt)) = (mid, pt) else {
                continue;
            };
            let mut api = self.rtc.direct_api();
            let Some(tx) = api.stream_tx_by_mid(mid, p.rid) else {
                continue;
            };
            let mut exts = str0m::rtp::ExtensionValues::default();
            if let Some(level) = p.audio_level {
                exts.audio_level = Some(level);
                exts.voice_activity = Some(level > -127);
            }
            if let Some(dd) = p.dd {
                exts.user_values
                    .set(manifold_sfu::ext::RawDependencyDescriptor(
                        dd.as_slice().into(),
                    ));
            }
            tx.write_rtp(
                RtpWrite::new(pt, SeqNo::from(p.seq), p.ts, now, p.payload)
                    .marker(p.marker)
                    .ext_vals(exts)
                    .nackable(p.video),
            );
            written.0 += 1;
            written.1 += u64::from(p.video);
        }
        self.outbox = packets;
        written
    }

    /// Feed a datagram from `source`.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let _ = self.try_handle_datagram(now, source, data);
    }

    /// [`handle_datagram`](Self::handle_datagram), returning str0m's error.
    /// A datagram str0m cannot take at all (not STUN, DTLS or RTP/RTCP) is
    /// ignored.
    pub fn try_handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        data: &[u8],
    ) -> Result<(), RtcError> {
        let Ok(contents) = data.try_into() else {
            return Ok(());
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: self.proto,
                source,
                destination: self.addr,
                contents,
            },
        );
        self.rtc.handle_input(input)
    }

    /// Feed the time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = self.try_handle_timeout(now);
    }

    /// [`handle_timeout`](Self::handle_timeout), returning str0m's error.
    pub fn try_handle_timeout(&mut self, now: Instant) -> Result<(), RtcError> {
        self.rtc.handle_input(Input::Timeout(now))
    }

    /// Drain str0m; returns the datagrams to send. Panics on a str0m error,
    /// except the one str0m raises when the router closes the transport
    /// while SCTP is still setting up (counted in
    /// [`close_errors`](Self::close_errors)); such a client is left half
    /// closed by str0m and is not drained again.
    pub fn drain(&mut self, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        if self.close_errors == 0 {
            if let Err(e) = self.drain_into(now, |to, data| out.push((to, data.to_vec()))) {
                if !format!("{e:?}").contains("ErrShutdownNonEstablished") {
                    panic!("{} str0m error: {e:?}", self.name);
                }
                self.close_errors += 1;
            }
        }
        if self.close_errors > 0 {
            // Half closed: nothing more comes out of it; keep it off the
            // sim's clock.
            self.timeout = now + Duration::from_secs(3600);
        }
        out
    }

    /// Drain str0m, handing each datagram to `send` (destination, bytes)
    /// as it comes, until str0m names its next timeout
    /// ([`timeout`](Self::timeout)) or fails.
    pub fn drain_into(
        &mut self,
        now: Instant,
        mut send: impl FnMut(SocketAddr, &[u8]),
    ) -> Result<(), RtcError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => {
                    self.timeout = t;
                    return Ok(());
                }
                Output::Transmit(t) => send(t.destination, &t.contents),
                Output::Event(e) => self.on_event(now, e),
            }
        }
    }

    fn on_event(&mut self, now: Instant, e: Event) {
        if self.channels.on_event(now, &e) {
            return;
        }
        match e {
            Event::Connected => self.connected = true,
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.ice_disconnected = true;
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => self.ice_connected = true,
            Event::MediaAdded(m) => {
                self.kinds.insert(m.mid, m.kind);
            }
            Event::KeyframeRequest(r) => {
                self.keyframe_requests += 1;
                *self.keyframe_requests_by_rid.entry(r.rid).or_default() += 1;
                if let Some(s) = self.source.as_mut() {
                    s.force_keyframe(r.rid);
                }
            }
            Event::EgressBitrateEstimate(str0m::bwe::BweKind::Remb { estimate, .. }) => {
                self.remb.push(estimate.as_u64());
            }
            Event::RawPacket(raw) => {
                use str0m::rtp::rtcp::{Rtcp, SdesType};
                match &*raw {
                    str0m::rtp::RawPacket::RtcpRx(Rtcp::SenderReport(sr)) => {
                        self.sender_reports.push(sr.sender_info);
                    }
                    str0m::rtp::RawPacket::RtcpRx(Rtcp::SourceDescription(d)) => {
                        for sdes in d.reports.iter() {
                            for (kind, value) in sdes.values.iter() {
                                if *kind == SdesType::CNAME {
                                    self.cnames.push((*sdes.ssrc, value.clone()));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::RtpPacket(p) => {
                let Some(mid) = self.mid_of(p.header.ssrc) else {
                    return;
                };
                let video = self.kinds.get(&mid) == Some(&MediaKind::Video);
                let vp9 = if video {
                    manifold_sfu::packet::Vp9Descriptor::parse(&p.payload)
                        .ok()
                        .filter(|d| d.sid.is_some())
                        .map(|d| (d.sid.unwrap_or(0), d.tid.unwrap_or(0), d.start_of_frame))
                } else {
                    None
                };
                let vp8 = if video && vp9.is_none() {
                    vp8_info(&p.payload)
                } else {
                    None
                };
                let stamp = match (video, vp8) {
                    (true, None) => None,
                    _ => media::stamp_of(video, &p.payload),
                };
                self.received.entry(mid).or_default().push(Rx {
                    seq: *p.seq_no,
                    ssrc: *p.header.ssrc,
                    pt: *p.header.payload_type,
                    twcc: p.header.ext_vals.transport_cc,
                    ts: p.header.timestamp,
                    at: now,
                    marker: p.header.marker,
                    keyframe_start: vp8.is_some_and(|v| v.keyframe),
                    frame: vp8.map(|v| v.frame),
                    payload_len: p.payload.len(),
                    vp8,
                    vp9,
                    stamp,
                    audio_level: p.header.ext_vals.audio_level,
                    dd: p
                        .header
                        .ext_vals
                        .user_values
                        .get::<manifold_sfu::ext::RawDependencyDescriptor>()
                        .map(|d| d.0.to_vec()),
                });
            }
            _ => {}
        }
    }

    fn mid_of(&mut self, ssrc: str0m::rtp::Ssrc) -> Option<Mid> {
        self.rtc.direct_api().stream_rx(&ssrc).map(|s| s.mid())
    }

    /// The router's ICE ufrag from its last answer.
    pub fn server_ufrag(&self) -> String {
        self.remote_sdp
            .lines()
            .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// Received packets of the first track of this kind.
    pub fn track(&self, kind: manifold_sfu::MediaKind) -> &[Rx] {
        let mut mids: Vec<_> = self
            .kinds
            .iter()
            .filter(|(_, k)| same_kind(**k, kind))
            .map(|(m, _)| *m)
            .collect();
        mids.sort();
        mids.iter()
            .find_map(|m| self.received.get(m))
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }

    /// All received tracks of this kind, by mid.
    pub fn tracks(&self, kind: manifold_sfu::MediaKind) -> Vec<(Mid, &[Rx])> {
        let mut v: Vec<_> = self
            .kinds
            .iter()
            .filter(|(_, k)| same_kind(**k, kind))
            .map(|(m, _)| {
                (
                    *m,
                    self.received.get(m).map(|v| v.as_slice()).unwrap_or(&[]),
                )
            })
            .collect();
        v.sort_by_key(|(m, _)| *m);
        v
    }
}

/// str0m's kind (the client's) against the router's.
fn same_kind(k: MediaKind, kind: manifold_sfu::MediaKind) -> bool {
    match k {
        MediaKind::Audio => kind.is_audio(),
        MediaKind::Video => kind.is_video(),
    }
}
