//! One simulated browser: a str0m client in RTP mode on its own
//! non-blocking UDP socket, either publishing synthetic media (WHIP) or
//! receiving it and counting what arrives (WHEP).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mio::net::UdpSocket;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

use crate::source::{self, Packet, Source};
use crate::stats::{Histogram, SeqStats};

/// Most RTP streams a subscriber tracks (it offers one audio, one video).
const MAX_TRACKS: usize = 4;
/// Most datagrams read from one socket per wake-up before the next peer's
/// turn (the rest waits for the next round: level-triggered by `pending`).
const READ_BUDGET: usize = 256;

/// What a worker adds up over its peers.
#[derive(Default)]
pub struct Tally {
    /// Whether the steady phase is on (packets then count as forwarded).
    pub steady: bool,
    /// Distinct RTP packets received by subscribers in the steady phase.
    pub forwarded: u64,
    /// Of which video.
    pub forwarded_video: u64,
    /// Distinct RTP packets received by subscribers, all phases.
    pub received: u64,
    /// RTP packets written by publishers.
    pub sent: u64,
    /// Datagrams the socket refused (buffer full).
    pub send_drops: u64,
    /// Keyframe requests publishers received.
    pub keyframe_requests: u64,
    /// One-way latency of steady-phase packets.
    pub latency: Histogram,
}

impl Tally {
    pub fn merge(&mut self, o: &Tally) {
        self.forwarded += o.forwarded;
        self.forwarded_video += o.forwarded_video;
        self.received += o.received;
        self.sent += o.sent;
        self.send_drops += o.send_drops;
        self.keyframe_requests += o.keyframe_requests;
        self.latency.merge(&o.latency);
    }
}

/// Where a peer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Connecting,
    Connected,
    Failed(String),
}

struct Publisher {
    bitrate: u64,
    /// Packets written in the steady phase (all, video).
    sent: u64,
    sent_video: u64,
    seed: u64,
    source: Option<Source>,
    audio: Mid,
    video: Mid,
    opus: Option<Pt>,
    vp8: Option<Pt>,
    packets: Vec<Packet>,
}

struct Track {
    ssrc: Ssrc,
    video: bool,
    seq: SeqStats,
}

enum Role {
    Publisher(Box<Publisher>),
    Subscriber(Vec<Track>),
}

/// One peer at the end of the run.
pub struct Outcome {
    /// The stream published or viewed.
    pub stream: usize,
    pub publisher: bool,
    /// Publisher: RTP packets written in the steady phase (all, video).
    pub sent: u64,
    pub sent_video: u64,
    /// Subscriber: packets expected and missing by sequence number.
    pub expected: u64,
    pub lost: u64,
    /// Subscriber: whether video came.
    pub video: bool,
    /// Whether ICE and DTLS completed (at any time).
    pub connected: bool,
    /// Why the peer failed, if it did.
    pub failure: Option<String>,
}

pub struct Peer {
    pub name: String,
    /// The stream published or viewed.
    pub stream: usize,
    pub state: State,
    /// Whether a subscriber got video yet (it starts on a keyframe).
    pub receiving: bool,
    ice_connected: bool,
    /// Whether it ever reached [`State::Connected`].
    connected_once: bool,
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    timeout: Instant,
    pending: Option<SdpPendingOffer>,
    role: Role,
    epoch: Instant,
}

impl Peer {
    /// A publisher of one audio and one video track, and its offer.
    pub fn publisher(
        stream: usize,
        now: Instant,
        epoch: Instant,
        bitrate: u64,
        seed: u64,
    ) -> std::io::Result<(Peer, String)> {
        let mut rtc = new_rtc(now);
        let mut api = rtc.sdp_api();
        let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = api.apply().expect("an offer with new m-lines");
        let role = Role::Publisher(Box::new(Publisher {
            bitrate,
            sent: 0,
            sent_video: 0,
            seed,
            source: None,
            audio,
            video,
            opus: None,
            vp8: None,
            packets: Vec::new(),
        }));
        let name = format!("pub-{stream}");
        let peer = Peer::new(name, stream, rtc, pending, role, now, epoch)?;
        Ok((peer, offer.to_sdp_string()))
    }

    /// A viewer receiving one audio and one video track, and its offer.
    pub fn subscriber(
        name: String,
        stream: usize,
        now: Instant,
        epoch: Instant,
    ) -> std::io::Result<(Peer, String)> {
        let mut rtc = new_rtc(now);
        let mut api = rtc.sdp_api();
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let (offer, pending) = api.apply().expect("an offer with new m-lines");
        let role = Role::Subscriber(Vec::new());
        let peer = Peer::new(name, stream, rtc, pending, role, now, epoch)?;
        Ok((peer, offer.to_sdp_string()))
    }

    fn new(
        name: String,
        stream: usize,
        mut rtc: Rtc,
        pending: SdpPendingOffer,
        role: Role,
        now: Instant,
        epoch: Instant,
    ) -> std::io::Result<Peer> {
        let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
        std_socket.set_nonblocking(true)?;
        let local = std_socket.local_addr()?;
        let candidate = Candidate::host(local, Protocol::Udp).map_err(std::io::Error::other)?;
        rtc.add_local_candidate(candidate);
        Ok(Peer {
            name,
            stream,
            state: State::Connecting,
            receiving: false,
            ice_connected: false,
            connected_once: false,
            rtc,
            socket: UdpSocket::from_std(std_socket),
            local,
            timeout: now,
            pending: Some(pending),
            role,
            epoch,
        })
    }

    pub fn is_publisher(&self) -> bool {
        matches!(self.role, Role::Publisher(_))
    }

    /// Apply the server's SDP answer.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), String> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| format!("bad answer: {e}"))?;
        let pending = self.pending.take().ok_or("no offer pending")?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| format!("answer refused: {e}"))
    }

    pub fn local_port(&self) -> u16 {
        self.local.port()
    }

    pub fn socket_mut(&mut self) -> &mut UdpSocket {
        &mut self.socket
    }

    /// When this peer next needs [`Peer::tick`].
    pub fn next_wake(&self) -> Instant {
        match &self.role {
            Role::Publisher(p) => match &p.source {
                Some(s) => s.next_at().min(self.timeout),
                None => self.timeout,
            },
            Role::Subscriber(_) => self.timeout,
        }
    }

    /// Read datagrams until the socket is empty (or the budget is spent:
    /// then `true`, call again).
    pub fn read(&mut self, buf: &mut [u8], tally: &mut Tally) -> bool {
        for _ in 0..READ_BUDGET {
            if self.failed() {
                return false;
            }
            let (n, source) = match self.socket.recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                // E.g. ICMP port unreachable once the server is gone.
                Err(_) => continue,
            };
            let now = Instant::now();
            let Ok(contents) = buf[..n].try_into() else {
                continue;
            };
            let input = Input::Receive(
                now,
                Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: self.local,
                    contents,
                },
            );
            if let Err(e) = self.rtc.handle_input(input) {
                self.fail(format!("str0m: {e}"));
                return false;
            }
            self.drain(now, tally);
        }
        true
    }

    /// Run due timeouts and write due media.
    pub fn tick(&mut self, now: Instant, tally: &mut Tally) {
        if self.failed() {
            return;
        }
        if now >= self.timeout {
            if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                return self.fail(format!("str0m: {e}"));
            }
            self.drain(now, tally);
        }
        if let Role::Publisher(p) = &mut self.role {
            if p.source.as_ref().is_some_and(|s| s.next_at() <= now) {
                write_media(&mut self.rtc, p, now, self.epoch, tally);
                self.drain(now, tally);
            }
        }
    }

    /// Close the str0m session (the server notices by liveness or DELETE).
    pub fn close(&mut self) {
        self.rtc.disconnect();
    }

    /// Count loss from here on (steady phase starts).
    pub fn start_counting(&mut self) {
        if let Role::Subscriber(tracks) = &mut self.role {
            tracks.iter_mut().for_each(|t| t.seq.start());
        }
    }

    /// Count loss up to here (steady phase ends).
    pub fn stop_counting(&mut self) {
        if let Role::Subscriber(tracks) = &mut self.role {
            tracks.iter_mut().for_each(|t| t.seq.stop());
        }
    }

    /// What this peer sent or received.
    pub fn outcome(&self) -> Outcome {
        let mut o = Outcome {
            stream: self.stream,
            publisher: self.is_publisher(),
            sent: 0,
            sent_video: 0,
            expected: 0,
            lost: 0,
            video: false,
            connected: self.connected_once,
            failure: match &self.state {
                State::Failed(why) => Some(why.clone()),
                _ => None,
            },
        };
        match &self.role {
            Role::Publisher(p) => (o.sent, o.sent_video) = (p.sent, p.sent_video),
            Role::Subscriber(tracks) => {
                o.video = tracks.iter().any(|t| t.video);
                for t in tracks {
                    let (e, l) = t.seq.expected_lost();
                    o.expected += e;
                    o.lost += l;
                }
            }
        }
        o
    }

    fn failed(&self) -> bool {
        matches!(self.state, State::Failed(_))
    }

    fn fail(&mut self, why: String) {
        if !self.failed() {
            self.state = State::Failed(why);
            self.rtc.disconnect();
        }
    }

    fn drain(&mut self, now: Instant, tally: &mut Tally) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) => match self.socket.send_to(&t.contents, t.destination) {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => tally.send_drops += 1,
                    Err(_) => {}
                },
                Ok(Output::Event(e)) => self.on_event(now, e, tally),
                Err(e) => {
                    self.fail(format!("str0m: {e}"));
                    // Nothing more to send: sleep until the end.
                    self.timeout = now + std::time::Duration::from_secs(3600);
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, now: Instant, e: Event, tally: &mut Tally) {
        match e {
            Event::Connected => {
                self.state = State::Connected;
                self.connected_once = true;
                if let Role::Publisher(p) = &mut self.role {
                    p.opus = payload_type(&self.rtc, Codec::Opus);
                    p.vp8 = payload_type(&self.rtc, Codec::Vp8);
                    p.source = Some(Source::new(now, p.bitrate, p.seed));
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                let why = match (&self.state, self.ice_connected) {
                    (State::Connecting, false) => "ICE checks got no answer",
                    (State::Connecting, true) => "ICE connected, then lost before DTLS",
                    _ => "ICE disconnected",
                };
                self.fail(why.into())
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => self.ice_connected = true,
            Event::KeyframeRequest(_) => {
                tally.keyframe_requests += 1;
                if let Role::Publisher(p) = &mut self.role {
                    if let Some(s) = p.source.as_mut() {
                        s.request_keyframe();
                    }
                }
            }
            Event::RtpPacket(p) => {
                let Role::Subscriber(tracks) = &mut self.role else {
                    return;
                };
                let ssrc = p.header.ssrc;
                let i = match tracks.iter().position(|t| t.ssrc == ssrc) {
                    Some(i) => i,
                    None if tracks.len() < MAX_TRACKS => {
                        let mut api = self.rtc.direct_api();
                        let mid = api.stream_rx(&ssrc).map(|s| s.mid());
                        let kind = mid.and_then(|m| self.rtc.media(m)).map(|m| m.kind());
                        tracks.push(Track {
                            ssrc,
                            video: kind == Some(MediaKind::Video),
                            seq: SeqStats::default(),
                        });
                        tracks.len() - 1
                    }
                    None => return,
                };
                let t = &mut tracks[i];
                if !t.seq.on_packet(*p.seq_no) {
                    return;
                }
                self.receiving |= t.video;
                tally.received += 1;
                if tally.steady {
                    tally.forwarded += 1;
                    tally.forwarded_video += u64::from(t.video);
                    if let Some(stamp) = source::stamp_of(t.video, &p.payload) {
                        let sent = self.epoch + std::time::Duration::from_nanos(stamp);
                        tally
                            .latency
                            .record(p.timestamp.saturating_duration_since(sent));
                    }
                }
            }
            _ => {}
        }
    }
}

/// One crypto provider and one DTLS certificate for every simulated peer:
/// the router's provider (a DTLS configuration shared by all sessions, SRTP
/// keys kept), so that setting up thousands of peers and encrypting their
/// media costs the load generator as little as it costs the server.
fn shared_crypto() -> &'static (Arc<CryptoProvider>, DtlsCert) {
    static SHARED: OnceLock<(Arc<CryptoProvider>, DtlsCert)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let provider = manifold_sfu::testkit_hooks::crypto_provider();
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .expect("crypto provider generates a DTLS certificate");
        (Arc::new(provider), cert)
    })
}

fn new_rtc(now: Instant) -> Rtc {
    let (provider, cert) = shared_crypto();
    RtcConfig::new()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .set_crypto_provider(provider.clone())
        .set_dtls_cert(cert.clone())
        .build(now)
}

fn payload_type(rtc: &Rtc, codec: Codec) -> Option<Pt> {
    let params = rtc.codec_config().params();
    params
        .iter()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
}

fn write_media(rtc: &mut Rtc, p: &mut Publisher, now: Instant, epoch: Instant, tally: &mut Tally) {
    let Some(source) = p.source.as_mut() else {
        return;
    };
    p.packets.clear();
    source.poll(now, epoch, &mut p.packets);
    let mut api = rtc.direct_api();
    for pkt in p.packets.drain(..) {
        let (mid, pt) = match pkt.video {
            true => (p.video, p.vp8),
            false => (p.audio, p.opus),
        };
        let (Some(pt), Some(tx)) = (pt, api.stream_tx_by_mid(mid, None)) else {
            continue;
        };
        let write = RtpWrite::new(pt, SeqNo::from(pkt.seq), pkt.ts, now, pkt.payload)
            .marker(pkt.marker)
            .nackable(pkt.video);
        tx.write_rtp(write);
        tally.sent += 1;
        if tally.steady {
            p.sent += 1;
            p.sent_video += u64::from(pkt.video);
        }
    }
}
