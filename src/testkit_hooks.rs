//! What `manifold-testkit` needs from inside the router, and nothing else:
//! built only with the off-by-default feature `testkit-hooks`, which the
//! test kit turns on. Not part of the public API.
//!
//! Everything the test kit does besides these goes through the public API.

use std::sync::OnceLock;
use std::time::Instant;

use crate::crypto::TransportFactory;
use crate::transport::sdp_memo;
use crate::{Router, RouterConfig, TransportId};

/// A router whose transports share one crypto provider and DTLS certificate
/// with every other router built here in this process: generating a
/// certificate costs more than the rest of a typical fuzz input. A
/// production router ([`Router::new`]) always gets a certificate of its own.
pub fn router_with_shared_certificate(config: RouterConfig, now: Instant) -> Router {
    Router::with_factory(config, now, shared_factory().clone())
}

/// The one "provider plus certificate" of this process's test-kit routers
/// (made on first use).
fn shared_factory() -> &'static TransportFactory {
    static FACTORY: OnceLock<TransportFactory> = OnceLock::new();
    FACTORY.get_or_init(TransportFactory::new)
}

/// The provider and certificate the test kit's routers share, for its
/// str0m peers (test clients, the load generator): both sides run the same
/// DTLS and SRTP code, and no peer pays for a certificate of its own. str0m
/// types: test-only, never in the public API.
pub fn shared_crypto() -> (
    std::sync::Arc<str0m::config::CryptoProvider>,
    str0m::config::DtlsCert,
) {
    let f = shared_factory();
    (f.crypto.clone(), f.cert.clone())
}

/// The crypto provider a router gives its transports, for the str0m peers
/// the test kit runs in the same process (test clients, the load
/// generator), so both sides measure the same DTLS and SRTP code. A str0m
/// type: test-only, never in the public API.
pub fn crypto_provider() -> str0m::config::CryptoProvider {
    crate::crypto::crypto_provider()
}

/// Memoise str0m's parse of an SDP text on this thread from now on
/// (`transport::sdp_memo`): the same text always parses the same.
pub fn enable_sdp_memo() {
    sdp_memo::enable();
}

/// Whether every transport refuses `sdp` on its text alone, before reading
/// any state of its own: over the size or m-line limits, or not parseable
/// by str0m. With the memo on, a text just offered is not parsed again.
pub fn sdp_refused_as_text(sdp: &str, limits: &crate::Limits) -> bool {
    use crate::transport::negotiation::{check_sdp, one_bandwidth_line};
    check_sdp(sdp, limits).is_err() || sdp_memo::offer(&one_bandwidth_line(sdp)).is_err()
}

/// The pieces of issue #19's owned send path for transport `t`, with the
/// router's own copy of its DTLS keys: `None` before DTLS connects or
/// with dimpl. A test sends what they build down the subscriber's link.
pub fn srtp_sender(router: &Router, t: TransportId) -> Option<SrtpSender> {
    use crate::transport::owned::history::History;
    let transport = router.transports.get(&t)?;
    Some(SrtpSender {
        srtp: transport.srtp_sender()?,
        rtcp_rx: transport.srtcp_receiver()?,
        history: History::new(512, std::time::Duration::from_secs(1)),
        kept: crate::transport::owned::kept::Kept::new(std::time::Duration::from_secs(1)),
        rtx_seq: 0,
        counts: std::collections::HashMap::new(),
        srtcp_index: crate::transport::owned::report::FIRST_SRTCP_INDEX,
        register: crate::transport::owned::twcc::SendRegister::new(1024, 0),
    })
}

/// One outgoing packet's header fields, for [`SrtpSender`].
#[derive(Debug, Clone, Copy)]
pub struct PacketFields {
    pub pt: u8,
    pub marker: bool,
    /// Extended sequence number: the low 16 bits go on the wire, the
    /// rest is the rollover counter.
    pub seq: u64,
    pub ts: u32,
    pub ssrc: u32,
}

/// Protects packets as the owned send path will (tests only).
#[derive(Debug)]
pub struct SrtpSender {
    srtp: crate::crypto::srtp_tx::SrtpTx,
    rtcp_rx: crate::crypto::srtp_tx::SrtcpRx,
    history: crate::transport::owned::history::History,
    kept: crate::transport::owned::kept::Kept,
    rtx_seq: u16,
    counts: std::collections::HashMap<u32, crate::transport::owned::report::SendCounts>,
    srtcp_index: u32,
    register: crate::transport::owned::twcc::SendRegister,
}

impl SrtpSender {
    /// Protect the RTP packet in `buf` (header of `header_len` bytes, then
    /// the payload) in place for rollover counter `roc`.
    pub fn protect_rtp(&self, buf: &mut Vec<u8>, header_len: usize, roc: u32) {
        self.srtp
            .protect_rtp(buf, header_len, roc)
            .expect("a well-formed RTP packet");
    }

    /// The protected packet of `f`, `exts` (id, value) and `payload`,
    /// kept for [`SrtpSender::resend`].
    pub fn packet(
        &mut self,
        f: PacketFields,
        exts: &[(u8, &[u8])],
        payload: bytes::Bytes,
        now: Instant,
    ) -> Vec<u8> {
        use crate::transport::owned::header;
        let fields = header::RtpFields {
            pt: f.pt,
            marker: f.marker,
            seq: f.seq as u16,
            ts: f.ts,
            ssrc: f.ssrc,
        };
        let mut buf = Vec::new();
        let len = header::write_header(&mut buf, &fields, exts);
        buf.extend_from_slice(&payload);
        self.protect_rtp(&mut buf, len, (f.seq >> 16) as u32);
        self.counts
            .entry(f.ssrc)
            .or_insert_with(|| crate::transport::owned::report::SendCounts::new(0))
            .on_sent(f.ts, payload.len(), now);
        let kept = self.kept.keep(&std::sync::Arc::from(&payload[..]), now);
        self.history.push(&fields, kept, None);
        buf
    }

    /// The protected RTX packet (on `rtx_ssrc` with `rtx_pt`, its own
    /// sequence numbers from 0) of the packet sent with `seq`, if kept.
    pub fn resend(&mut self, seq: u16, rtx_ssrc: u32, rtx_pt: u8, now: Instant) -> Option<Vec<u8>> {
        use crate::transport::owned::history::RtxStream;
        let sent = self.history.get(seq, now, &self.kept)?;
        let mut rtx = RtxStream {
            ssrc: rtx_ssrc,
            pt: rtx_pt,
            next_seq: self.rtx_seq,
        };
        let mut buf = Vec::new();
        let len = rtx.write(&mut buf, &sent, &[]);
        self.rtx_seq = rtx.next_seq;
        self.protect_rtp(&mut buf, len, 0);
        Some(buf)
    }

    /// The protected sender report (with SDES `cname`) of the packets
    /// [`SrtpSender::packet`] sent on `ssrc`, at `now`, which is
    /// `since_unix_epoch` on the wall clock; `None` before the first.
    pub fn sender_report(
        &mut self,
        ssrc: u32,
        clock_rate: u32,
        since_unix_epoch: std::time::Duration,
        now: Instant,
        cname: &str,
    ) -> Option<Vec<u8>> {
        use crate::transport::owned::report::{ntp_from_unix, write_sender_report};
        let counts = self.counts.get_mut(&ssrc)?;
        counts.clock_rate = clock_rate;
        let mut buf = Vec::new();
        let ntp = ntp_from_unix(since_unix_epoch);
        if !write_sender_report(&mut buf, ssrc, counts, ntp, now, cname.as_bytes()) {
            return None;
        }
        self.srtp
            .protect_rtcp(&mut buf, self.srtcp_index)
            .expect("a well-formed RTCP packet");
        self.srtcp_index += 1;
        Some(buf)
    }

    /// The (media SSRC, sequence number) pairs the generic NACKs in a
    /// datagram from the subscriber ask for: none if it is not SRTCP or
    /// fails authentication.
    pub fn nacks(&self, datagram: &[u8]) -> Vec<(u32, u16)> {
        let mut out = Vec::new();
        if let Some(plain) = self.plain_rtcp(datagram) {
            crate::transport::owned::feedback::nacks(&plain, &mut out, 1024);
        }
        out
    }

    /// The plain compound RTCP of a datagram from the subscriber: `None`
    /// if it is not SRTCP (`packet::classify`) or fails authentication.
    fn plain_rtcp(&self, datagram: &[u8]) -> Option<Vec<u8>> {
        use crate::packet::classify::{classify, DatagramKind};
        let mut plain = Vec::new();
        (classify(datagram) == DatagramKind::Rtcp
            && self.rtcp_rx.unprotect(datagram, &mut plain).is_ok())
        .then_some(plain)
    }

    /// Number transport-wide from `first_seq` on (forgets what was sent).
    pub fn start_twcc(&mut self, first_seq: u16) {
        self.register = crate::transport::owned::twcc::SendRegister::new(1024, first_seq);
    }

    /// Like [`SrtpSender::packet`], with the next transport-wide sequence
    /// number in extension `twcc_id`, noted in the send register.
    pub fn twcc_packet(
        &mut self,
        f: PacketFields,
        twcc_id: u8,
        payload: bytes::Bytes,
        now: Instant,
    ) -> (u16, Vec<u8>) {
        let seq = self.register.on_send(12 + 4 + payload.len(), now);
        let ext = seq.to_be_bytes();
        (seq, self.packet(f, &[(twcc_id, &ext)], payload, now))
    }

    /// What the transport-wide feedback in a datagram from the subscriber
    /// reports, joined with the send register: (sequence number, when it
    /// was sent and its size if still registered, arrival time in µs on
    /// the subscriber's clock if it arrived).
    #[allow(clippy::type_complexity)]
    pub fn twcc_feedback(
        &self,
        datagram: &[u8],
    ) -> Vec<(u16, Option<(Instant, usize)>, Option<i64>)> {
        let mut arrivals = Vec::new();
        if let Some(plain) = self.plain_rtcp(datagram) {
            crate::transport::owned::twcc::arrivals(&plain, &mut arrivals, 4096);
        }
        arrivals
            .into_iter()
            .map(|a| (a.seq, self.register.sent(a.seq), a.at_us))
            .collect()
    }

    /// The negotiated profile: "AES128_CM_SHA1_80", "AEAD_AES_128_GCM" or
    /// "AEAD_AES_256_GCM".
    pub fn profile(&self) -> &'static str {
        use crate::crypto::srtp_tx::SrtpSuite;
        match self.srtp.suite() {
            SrtpSuite::Aes128CmSha1_80 => "AES128_CM_SHA1_80",
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }
}

/// What the owned send path of transport `t` did: `None` if `t` does
/// not use it (configured off, or before DTLS connected).
pub fn owned_path_counts(router: &Router, t: TransportId) -> Option<OwnedPathCounts> {
    router.transports.get(&t)?.owned_counters()
}

pub use crate::transport::owned::sender::OwnedCounters as OwnedPathCounts;

/// The next call into transport `t`'s WebRTC stack panics, to prove that a
/// panic closes only that transport. Returns whether `t` is open.
pub fn inject_panic(router: &mut Router, t: TransportId) -> bool {
    match router.transports.get_mut(&t) {
        Some(transport) => {
            transport.panic_next = true;
            true
        }
        None => false,
    }
}

/// The checks that cannot be made through the public API: every open
/// transport's WebRTC stack is alive, the ICE ufrag it currently answers
/// to routes to it, observers and the producers they follow name each
/// other, and so do pipes and the producers they carry. Panics on a broken invariant.
pub fn check_invariants(router: &mut Router) {
    for (id, t) in router.transports.iter_mut() {
        assert!(t.is_alive(), "{id} is open but its WebRTC stack is closed");
        let ufrag = t.local_ufrag();
        assert_eq!(
            router.hub.demux.by_ufrag(ufrag.as_bytes()),
            Some(*id),
            "{id}'s ICE ufrag {ufrag} does not route to it"
        );
    }
    // Observers and their producers name each other, and only open ones.
    for (oid, o) in &router.observers {
        for pid in o.producers() {
            let p = router.producers.get(&pid);
            assert!(
                p.is_some_and(|p| p.observers.contains(oid)),
                "{oid} follows {pid}, which does not know it"
            );
        }
    }
    for (pid, p) in &router.producers {
        for oid in &p.observers {
            assert!(
                router.observers.get(oid).is_some_and(|o| o.contains(*pid)),
                "{pid} feeds {oid}, which does not follow it"
            );
        }
    } // Pipes and the producers they carry name each other.
    for (id, pipe) in &router.pipes {
        for pid in pipe.exports.keys() {
            let p = router.producers.get(pid);
            assert!(
                p.is_some_and(|p| p.pipes.contains(id)),
                "{id} sends {pid}, which does not know it"
            );
        }
        for (remote, pid) in &pipe.imports {
            let p = router.producers.get(pid);
            assert!(
                p.is_some_and(|p| p.piped == Some((*id, *remote))),
                "{id} brought in {pid}, which does not name it"
            );
        }
    }
    for (pid, p) in &router.producers {
        for id in &p.pipes {
            assert!(
                router
                    .pipes
                    .get(id)
                    .is_some_and(|x| x.exports.contains_key(pid)),
                "{pid} goes through {id}, which does not send it"
            );
        }
        if let Some((id, remote)) = p.piped {
            assert!(
                router
                    .pipes
                    .get(&id)
                    .is_some_and(|x| x.imports.get(&remote) == Some(pid)),
                "{pid} came through {id}, which forgot it"
            );
        }
    }
    // Remote pipes and their routes name each other; a pipe's timer is
    // set exactly when it waits for an acknowledgement.
    let mut remote = 0;
    for (id, pipe) in &router.pipes {
        if let Some(r) = &pipe.remote {
            remote += 1;
            assert_eq!(
                router.hub.demux.pipe((r.remote, r.local)),
                Some(*id),
                "{id}'s address pair does not route to it"
            );
            assert_eq!(
                router
                    .hub
                    .timers
                    .get(crate::router::timers::Timer::Pipe(*id)),
                r.poll_timeout(),
                "{id}'s resend timer is off"
            );
        }
    }
    assert_eq!(
        router.hub.demux.pipe_count(),
        remote,
        "a route to a closed pipe"
    );
    check_data_invariants(router);
}

/// Data producers, data consumers and their transports name each other,
/// and only open ones.
fn check_data_invariants(router: &Router) {
    use crate::transport::DataEnd;
    for (id, p) in &router.data_producers {
        if let Some(tid) = p.transport {
            let t = router.transports.get(&tid);
            assert!(
                t.is_some_and(|t| t.data_producers.contains(id)),
                "{id} arrives on {tid}, which does not list it"
            );
        }
        for dc in &p.consumers {
            assert!(
                router
                    .data_consumers
                    .get(dc)
                    .is_some_and(|c| c.data_producer == *id),
                "{id} feeds {dc}, which does not consume it"
            );
        }
    }
    for (id, c) in &router.data_consumers {
        assert!(
            router
                .data_producers
                .get(&c.data_producer)
                .is_some_and(|p| p.consumers.contains(id)),
            "{id} consumes {}, which does not feed it",
            c.data_producer
        );
        if let Some(tid) = c.transport {
            let t = router.transports.get(&tid);
            assert!(
                t.is_some_and(|t| t.data_consumers.contains(id)),
                "{id} sends on {tid}, which does not list it"
            );
        }
        assert!(
            c.waiting_bytes <= router.config.limits.max_data_buffered_bytes,
            "{id} holds {} bytes for its channel",
            c.waiting_bytes
        );
    }
    for (tid, t) in &router.transports {
        assert!(
            t.data_channel_count() <= router.config.limits.max_data_channels_per_transport,
            "{tid} has more data channels than its limit"
        );
        for dp in &t.data_producers {
            assert!(
                router
                    .data_producers
                    .get(dp)
                    .is_some_and(|p| p.transport == Some(*tid)),
                "{tid} lists {dp}, which is not its"
            );
        }
        for dc in &t.data_consumers {
            assert!(
                router
                    .data_consumers
                    .get(dc)
                    .is_some_and(|c| c.transport == Some(*tid)),
                "{tid} lists {dc}, which is not its"
            );
        }
        for end in t.channels.values() {
            if let DataEnd::Producer(dp) = end {
                assert!(
                    router.data_producers.contains_key(dp),
                    "{tid} routes a channel to {dp}, which is closed"
                );
            }
        }
    }
}

/// Seal `frame` (the plaintext inside a remote pipe's datagram: a frame
/// kind, then a message, see `pipe/remote.rs`) as the end with `role`
/// and `key` would with packet counter `counter`: for the `pipe_frame`
/// fuzz target, which feeds arbitrary frames past the authentication.
pub fn seal_pipe_frame(
    key: &[u8; 32],
    role: crate::PipeRole,
    counter: u64,
    frame: &[u8],
) -> Option<Vec<u8>> {
    let mut s = crate::pipe::seal::Seal::new(key, role);
    s.set_next(counter);
    s.seal(frame)
}

/// The per-subscriber work of issue #19's owned send path, for the
/// `forward` bench to measure next to the router and the SRTP floor:
/// per subscriber a header with a transport-wide sequence number, the
/// payload copied behind it, SRTP, the RTX history, the send register and
/// the sender-report counts. No I/O, and no decryption of the input (the
/// router's str0m does that once per packet, whatever the fan-out).
#[derive(Debug)]
pub struct OwnedFanout {
    subscribers: Vec<OwnedSubscriber>,
    buf: Vec<u8>,
    kept: crate::transport::owned::kept::Kept,
    now: Instant,
}

#[derive(Debug)]
struct OwnedSubscriber {
    srtp: crate::crypto::srtp_tx::SrtpTx,
    roc: crate::crypto::srtp_tx::RolloverCounter,
    history: crate::transport::owned::history::History,
    register: crate::transport::owned::twcc::SendRegister,
    counts: crate::transport::owned::report::SendCounts,
    ssrc: u32,
    seq: u16,
}

impl OwnedFanout {
    /// `subscribers` of their own keys, in profile `profile`
    /// ("aes_128_cm_sha1_80", "aead_aes_128_gcm" or "aead_aes_256_gcm").
    pub fn new(profile: &str, subscribers: usize, now: Instant) -> OwnedFanout {
        use crate::crypto::srtp_tx::{RolloverCounter, SrtpSuite, SrtpTx};
        use crate::transport::owned::{history::History, report::SendCounts, twcc::SendRegister};
        let suite = match profile {
            "aes_128_cm_sha1_80" => SrtpSuite::Aes128CmSha1_80,
            "aead_aes_128_gcm" => SrtpSuite::AeadAes128Gcm,
            "aead_aes_256_gcm" => SrtpSuite::AeadAes256Gcm,
            other => panic!("unknown profile {other}"),
        };
        let subscribers = (0..subscribers)
            .map(|i| {
                let key: Vec<u8> = (0..suite.key_len()).map(|k| (k + i) as u8).collect();
                let salt: Vec<u8> = (0..suite.salt_len()).map(|k| (k * 3 + i) as u8).collect();
                OwnedSubscriber {
                    srtp: SrtpTx::new(suite, &key, &salt).expect("key sizes of the suite"),
                    roc: RolloverCounter::default(),
                    history: History::new(1024, std::time::Duration::from_secs(1)),
                    register: SendRegister::new(4096, 0),
                    counts: SendCounts::new(90_000),
                    ssrc: 0x1000 + i as u32,
                    seq: (i as u16).wrapping_mul(7919),
                }
            })
            .collect();
        OwnedFanout {
            subscribers,
            buf: Vec::with_capacity(2048),
            kept: crate::transport::owned::kept::Kept::new(std::time::Duration::from_secs(1)),
            now,
        }
    }

    /// One forwarded packet (`payload` shared, as the router holds it) to
    /// every subscriber; returns the bytes that would go out.
    pub fn forward(&mut self, payload: &std::sync::Arc<[u8]>, ts: u32, marker: bool) -> usize {
        use crate::transport::owned::header;
        /// The transport-wide sequence number's extension id.
        const TWCC_ID: u8 = 3;
        let mut bytes = 0;
        // Kept once for every subscriber's history, as the router does.
        let kept = self.kept.keep(payload, self.now);
        for s in &mut self.subscribers {
            let fields = header::RtpFields {
                pt: 96,
                marker,
                seq: s.seq,
                ts,
                ssrc: s.ssrc,
            };
            s.seq = s.seq.wrapping_add(1);
            let size = 12 + 8 + payload.len() + s.srtp.suite().rtp_overhead();
            let twcc = s.register.on_send(size, self.now).to_be_bytes();
            let len = header::write_header(&mut self.buf, &fields, &[(TWCC_ID, &twcc)]);
            self.buf.extend_from_slice(payload);
            let roc = s.roc.roc(fields.seq);
            s.srtp
                .protect_rtp(&mut self.buf, len, roc)
                .expect("a well-formed RTP packet");
            s.counts.on_sent(ts, payload.len(), self.now);
            s.history.push(&fields, kept, None);
            bytes += self.buf.len();
        }
        bytes
    }
}
