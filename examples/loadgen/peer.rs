//! One simulated browser: the test kit's str0m client
//! ([`manifold_testkit::Client`], lightweight: Opus and VP8, the shared
//! crypto provider) on its own non-blocking UDP socket, either publishing
//! the test kit's synthetic media (WHIP) or receiving it and counting what
//! arrives (WHEP).

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use manifold_testkit::media::{Source, VideoLayer};
use manifold_testkit::Client;
use mio::net::UdpSocket;
use str0m::media::{MediaKind, Mid};

use crate::histogram::Histogram;
use crate::stats::SeqStats;

/// Largest RTP payload written.
const MAX_PAYLOAD: usize = 1200;
/// Time between periodic keyframes.
const KEYFRAME_INTERVAL: Duration = Duration::from_secs(2);
/// Audio payload size (about 48 kbit/s Opus at one packet per 20 ms).
const AUDIO_PAYLOAD: usize = 120;
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
    /// Pacing rate of its video, bits per second (`None`: each frame at once).
    pacing: Option<u64>,
    /// Packets written in the steady phase (all, video).
    sent: u64,
    sent_video: u64,
}

struct Track {
    video: bool,
    seq: SeqStats,
}

enum Role {
    Publisher(Publisher),
    /// The tracks received, by m-line.
    Subscriber(HashMap<Mid, Track>),
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
    /// Whether it ever reached [`State::Connected`].
    connected_once: bool,
    client: Client,
    socket: UdpSocket,
    local: SocketAddr,
    /// Keyframe requests of the client already added to the tally.
    keyframe_requests: u64,
    role: Role,
    epoch: Instant,
}

impl Peer {
    /// A publisher of one audio and one video track, and its offer.
    pub fn publisher(
        stream: usize,
        ip: IpAddr,
        now: Instant,
        epoch: Instant,
        bitrate: u64,
        pacing: Option<u64>,
    ) -> std::io::Result<(Peer, String)> {
        let name = format!("pub-{stream}");
        let role = Role::Publisher(Publisher {
            bitrate,
            pacing,
            sent: 0,
            sent_video: 0,
        });
        let mut peer = Peer::new(name, stream, ip, role, now, epoch)?;
        let offer = peer.client.offer_send(true, true);
        Ok((peer, offer))
    }

    /// A viewer receiving one audio and one video track, and its offer.
    pub fn subscriber(
        name: String,
        stream: usize,
        ip: IpAddr,
        now: Instant,
        epoch: Instant,
    ) -> std::io::Result<(Peer, String)> {
        let role = Role::Subscriber(HashMap::new());
        let mut peer = Peer::new(name, stream, ip, role, now, epoch)?;
        let offer = peer.client.offer_recv(1, 1);
        Ok((peer, offer))
    }

    /// A viewer answering a server's offer (Janus offers to its viewers),
    /// and its answer.
    pub fn subscriber_answering(
        name: String,
        stream: usize,
        ip: IpAddr,
        now: Instant,
        epoch: Instant,
        offer: &str,
    ) -> Result<(Peer, String), String> {
        let role = Role::Subscriber(HashMap::new());
        let mut peer = Peer::new(name, stream, ip, role, now, epoch)
            .map_err(|e| format!("UDP socket: {e}"))?;
        let answer = peer.client.try_accept_offer(offer)?;
        Ok((peer, answer))
    }

    fn new(
        name: String,
        stream: usize,
        ip: IpAddr,
        role: Role,
        now: Instant,
        epoch: Instant,
    ) -> std::io::Result<Peer> {
        let std_socket = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        std_socket.set_nonblocking(true)?;
        let local = std_socket.local_addr()?;
        let client = Client::lightweight(&name, local, now);
        Ok(Peer {
            name,
            stream,
            state: State::Connecting,
            receiving: false,
            connected_once: false,
            client,
            socket: UdpSocket::from_std(std_socket),
            local,
            keyframe_requests: 0,
            role,
            epoch,
        })
    }

    pub fn is_publisher(&self) -> bool {
        matches!(self.role, Role::Publisher(_))
    }

    /// Apply the server's SDP answer.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), String> {
        self.client.try_accept_answer(sdp)
    }

    pub fn local_port(&self) -> u16 {
        self.local.port()
    }

    pub fn socket_mut(&mut self) -> &mut UdpSocket {
        &mut self.socket
    }

    /// When this peer next needs [`Peer::tick`].
    pub fn next_wake(&self) -> Instant {
        match &self.client.source {
            Some(s) => s.next_at().min(self.client.timeout),
            None => self.client.timeout,
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
            if let Err(e) = self.client.try_handle_datagram(now, source, &buf[..n]) {
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
        if now >= self.client.timeout {
            if let Err(e) = self.client.try_handle_timeout(now) {
                return self.fail(format!("str0m: {e}"));
            }
            self.drain(now, tally);
        }
        if self
            .client
            .source
            .as_ref()
            .is_some_and(|s| s.next_at() <= now)
        {
            let (sent, video) = self.client.write_media(now);
            tally.sent += sent;
            if let (Role::Publisher(p), true) = (&mut self.role, tally.steady) {
                p.sent += sent;
                p.sent_video += video;
            }
            self.drain(now, tally);
        }
    }

    /// Close the str0m session (the server notices by liveness or DELETE).
    pub fn close(&mut self) {
        self.client.rtc.disconnect();
    }

    /// Count loss from here on (steady phase starts).
    pub fn start_counting(&mut self) {
        if let Role::Subscriber(tracks) = &mut self.role {
            tracks.values_mut().for_each(|t| t.seq.start());
        }
    }

    /// Count loss up to here (steady phase ends).
    pub fn stop_counting(&mut self) {
        if let Role::Subscriber(tracks) = &mut self.role {
            tracks.values_mut().for_each(|t| t.seq.stop());
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
                o.video = tracks.values().any(|t| t.video);
                for t in tracks.values() {
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
            self.client.rtc.disconnect();
        }
    }

    /// Send what str0m wrote, then look at what the client saw.
    fn drain(&mut self, now: Instant, tally: &mut Tally) {
        let socket = &self.socket;
        let sent = self
            .client
            .drain_into(now, |to, data| match socket.send_to(data, to) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => tally.send_drops += 1,
                Err(_) => {}
            });
        if let Err(e) = sent {
            self.fail(format!("str0m: {e}"));
            // Nothing more to send: sleep until the end.
            self.client.timeout = now + Duration::from_secs(3600);
        }
        self.on_client(now, tally);
    }

    fn on_client(&mut self, now: Instant, tally: &mut Tally) {
        if self.client.connected && self.state == State::Connecting {
            self.state = State::Connected;
            self.connected_once = true;
            if let Role::Publisher(p) = &self.role {
                let layer = VideoLayer::at_bitrate(p.bitrate, KEYFRAME_INTERVAL, MAX_PAYLOAD);
                let mut source = Source::with_layers(now, true, vec![layer]);
                source.keyframe_interval = KEYFRAME_INTERVAL;
                source.audio_payload = AUDIO_PAYLOAD;
                source.stamp_epoch = Some(self.epoch);
                source.pacing = p.pacing;
                self.client.source = Some(source);
            }
        }
        if self.client.ice_disconnected && !self.failed() {
            let why = match (&self.state, self.client.ice_connected) {
                (State::Connecting, false) => "ICE checks got no answer",
                (State::Connecting, true) => "ICE connected, then lost before DTLS",
                _ => "ICE disconnected",
            };
            self.fail(why.into());
        }
        // The client forwards keyframe requests to its source itself.
        tally.keyframe_requests += self.client.keyframe_requests - self.keyframe_requests;
        self.keyframe_requests = self.client.keyframe_requests;
        let Role::Subscriber(tracks) = &mut self.role else {
            return;
        };
        for (mid, received) in self.client.received.iter_mut() {
            if received.is_empty() {
                continue;
            }
            let t = tracks.entry(*mid).or_insert_with(|| Track {
                video: self.client.kinds.get(mid) == Some(&MediaKind::Video),
                seq: SeqStats::default(),
            });
            for rx in received.drain(..) {
                if !t.seq.on_packet(rx.seq) {
                    continue;
                }
                self.receiving |= t.video;
                tally.received += 1;
                if tally.steady {
                    tally.forwarded += 1;
                    tally.forwarded_video += u64::from(t.video);
                    if let Some(stamp) = rx.stamp {
                        let sent = self.epoch + Duration::from_nanos(stamp);
                        tally.latency.record(rx.at.saturating_duration_since(sent));
                    }
                }
            }
        }
    }
}
