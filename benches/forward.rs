//! CPU cost of the media path: one publisher's SRTP packet forwarded to N
//! subscribers, with real DTLS-SRTP sessions, next to a floor that does only
//! the unavoidable work (decrypt once, then per subscriber copy, rewrite the
//! RTP header and encrypt) with the same crypto library.
//!
//! Both report throughput in forwarded packets (N per input packet), so
//! criterion's `thrpt` is forwarded packets per second.
//!
//! `router` setup: the deterministic harness connects one publisher and N
//! subscribers (str0m clients over in-memory links, ICE + DTLS) and checks
//! every subscriber receives video. The router runs without bandwidth
//! estimation (`initial_bandwidth_bps: None`): the timed section drops the
//! router's output, so subscribers send no congestion feedback and the
//! allocator would pause them; this measures the forwarding path itself.
//! The publisher client then writes VP8 packets (1000-byte payloads, 8 per
//! frame at 30 frames per second: 240 packets, about 2 Mbit/s, per second
//! of virtual time, over which the router's per-second work such as RTCP
//! is spread). Outside the timed section its SRTP datagrams are collected
//! in chunks of 500, and between chunks the simulation runs so clients keep
//! the transports alive (consent checks, RTCP). The timed section is what a
//! host does per datagram: `handle_input(Input::Receive)`, then
//! `poll_output` until `Timeout` (feeding `Input::Timeout` once when that
//! timeout is already due), dropping the transmits.
//!
//! SRTP profile: str0m 0.25's DTLS (dimpl 0.9) always offers all three
//! profiles, AES-256-GCM first, and neither the router nor a str0m client can
//! restrict the list; as DTLS server the router takes the client's first. So
//! by default the router is measured with AES-256-GCM (what any str0m
//! client gets). With `--features bench-openssl` the clients of two
//! more runs use an OpenSSL DTLS client offering only AES-128-GCM or only
//! AES-128-CM-SHA1-80 (`support/openssl_dtls.rs`), so the router is measured
//! with every profile. Each run asserts the profile every session
//! negotiated. The floor is measured for all three.

#[cfg(feature = "bench-openssl")]
#[path = "support/openssl_dtls.rs"]
mod openssl_dtls;
mod support;

use std::collections::VecDeque;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use manifold_sfu::{Input, MediaKind, Output, Router, RouterConfig};
use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
    SrtpProfile,
};
use str0m::crypto::{CryptoError, CryptoProvider};
use str0m::format::Codec;
use str0m::media::{Mid, Pt};
use str0m::net::Protocol;
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, RtcConfig};

use manifold_testkit::{LinkConfig, Sim};
use support::floor::{Floor, Profile};
use support::{thread_cpu, CpuTime};

const SUBSCRIBERS: [usize; 3] = [1, 10, 100];
const PAYLOAD_LEN: usize = 1000;
const PACKETS_PER_FRAME: u64 = 8;
/// Virtual time between two publisher packets.
const SPACING: Duration = Duration::from_nanos(33_333_333 / PACKETS_PER_FRAME);
/// Publisher datagrams generated at once, outside the timed section.
const CHUNK: usize = 500;

// ---------------------------------------------------------------------------
// A DTLS provider that records the SRTP profile each session negotiated.

static PROFILES: Mutex<Vec<SrtpProfile>> = Mutex::new(Vec::new());

#[derive(Debug)]
struct RecordingDtls(&'static dyn DtlsProvider);

#[derive(Debug)]
struct RecordingInstance(Box<dyn DtlsInstance>);

impl DtlsProvider for RecordingDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        self.0.generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let inner = self.0.new_dtls(cert, now, version, mtu)?;
        Ok(Box::new(RecordingInstance(inner)))
    }
}

impl DtlsInstance for RecordingInstance {
    fn set_active(&mut self, active: bool) {
        self.0.set_active(active)
    }
    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.0.handle_packet(packet)
    }
    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        let out = self.0.poll_output(buf);
        if let DtlsOutput::KeyingMaterial(_, profile) = &out {
            PROFILES.lock().unwrap().push(*profile);
        }
        out
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.0.handle_timeout(now)
    }
    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.0.send_application_data(data)
    }
    fn is_active(&self) -> bool {
        self.0.is_active()
    }
    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.0.protocol_version()
    }
    fn is_closing(&self) -> bool {
        self.0.is_closing()
    }
    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.0.close()
    }
}

/// A client crypto provider whose DTLS sessions record their SRTP profile.
/// `Profile::AeadAes256Gcm` keeps str0m's own DTLS (which offers all three
/// profiles, AES-256-GCM first, as browsers do); the other two offer only
/// that profile, through OpenSSL (`support/openssl_dtls.rs`).
fn recording_provider(profile: Profile) -> Arc<CryptoProvider> {
    let mut p = str0m::crypto::from_feature_flags();
    let dtls: &'static dyn DtlsProvider = match profile {
        Profile::AeadAes256Gcm => p.dtls_provider,
        #[cfg(feature = "bench-openssl")]
        Profile::AeadAes128Gcm | Profile::Aes128CmSha1_80 => {
            Box::leak(Box::new(openssl_dtls::OpensslDtls::single(profile.srtp())))
        }
        #[cfg(not(feature = "bench-openssl"))]
        Profile::AeadAes128Gcm | Profile::Aes128CmSha1_80 => {
            panic!("the router with {profile:?} needs `--features bench-openssl`")
        }
    };
    p.dtls_provider = Box::leak(Box::new(RecordingDtls(dtls)));
    Arc::new(p)
}

/// Give peer `i` a client whose DTLS sessions record their SRTP profile.
fn record_profiles(sim: &mut Sim, i: usize, provider: &Arc<CryptoProvider>) {
    let now = sim.now;
    let c = sim.client(i);
    let mut rtc = RtcConfig::new()
        .set_rtp_mode(true)
        .set_crypto_provider(provider.clone())
        .build(now);
    rtc.add_local_candidate(Candidate::host(c.addr, Protocol::Udp).expect("host candidate"));
    c.rtc = rtc;
}

// ---------------------------------------------------------------------------
// The router with one publisher and N connected subscribers.

struct Forward {
    sim: Sim,
    publisher: usize,
    source: SocketAddr,
    mid: Mid,
    pt: Pt,
    seq: u64,
    frame: u32,
    chunk: VecDeque<(Instant, Vec<u8>)>,
    /// Transmits seen in the timed section, for a sanity check.
    transmits: u64,
}

/// A VP8 RTP payload: descriptor with a 15-bit picture ID, the VP8 payload
/// header byte (P bit clear on keyframes), filler.
fn vp8_payload(picture_id: u16, start: bool, keyframe: bool, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(len);
    p.push(0x80 | if start { 0x10 } else { 0 });
    p.push(0x80);
    p.push(0x80 | (picture_id >> 8) as u8);
    p.push(picture_id as u8);
    p.push(if keyframe { 0x00 } else { 0x01 });
    p.resize(len, 0xab);
    p
}

fn is_rtp(d: &[u8]) -> bool {
    d.len() >= 12 && d[0] >> 6 == 2 && !(192..=223).contains(&d[1])
}

impl Forward {
    fn new(subscribers: usize, profile: Profile) -> Forward {
        PROFILES.lock().unwrap().clear();
        let provider = recording_provider(profile);
        let mut config = RouterConfig::default();
        config.seed = Some(7);
        config.initial_bandwidth_bps = None;
        let mut sim = Sim::with_config(config);
        let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
        record_profiles(&mut sim, publisher, &provider);
        let (_, producers) = sim.publish(publisher, false, true);
        assert_eq!(producers.len(), 1);
        // The bench writes the media itself.
        sim.client(publisher).source = None;
        let mid = sim.client(publisher).video_mid.expect("video mid");
        let pt = sim
            .client(publisher)
            .rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.spec().codec == Codec::Vp8)
            .map(|p| p.pt())
            .expect("vp8");
        let source = sim.client(publisher).addr;
        let mut f = Forward {
            sim,
            publisher,
            source,
            mid,
            pt,
            seq: 1000,
            frame: 0,
            chunk: VecDeque::new(),
            transmits: 0,
        };
        let deadline = f.sim.now + Duration::from_secs(5);
        assert!(
            f.run_with_keyframes(|s| s.client(publisher).connected, deadline),
            "the publisher connects"
        );

        let subs: Vec<usize> = (0..subscribers)
            .map(|i| {
                let s = f.sim.add_peer(
                    &format!("sub{i}"),
                    LinkConfig::default(),
                    LinkConfig::default(),
                );
                record_profiles(&mut f.sim, s, &provider);
                f.sim.subscribe(s, &producers);
                s
            })
            .collect();
        let deadline = f.sim.now + Duration::from_secs(10);
        let all_receive = |s: &mut Sim| {
            subs.iter()
                .all(|&i| !s.client(i).track(MediaKind::Video).is_empty())
        };
        assert!(
            f.run_with_keyframes(all_receive, deadline),
            "every subscriber receives video"
        );
        let profiles = PROFILES.lock().unwrap().clone();
        assert_eq!(
            profiles.len(),
            subscribers + 1,
            "one DTLS session per client"
        );
        assert!(
            profiles.iter().all(|p| *p == profile.srtp()),
            "negotiated {profiles:?}"
        );

        // From now on, delta frames only. Check one chunk is forwarded to
        // everyone before timing anything.
        f.refill();
        let before = f.sim.router.stats().rtp_out;
        let batch: Vec<_> = f.chunk.drain(..).collect();
        let n = batch.len() as u64;
        warm(&mut f.sim.router, f.source, f.sim.server, &batch);
        if let Some((at, _)) = batch.last() {
            f.sim.now = f.sim.now.max(*at);
        }
        let forwarded = f.sim.router.stats().rtp_out - before;
        assert_eq!(forwarded, n * subscribers as u64, "forwarded packets");
        f
    }

    /// Run the simulation with the publisher sending keyframes only, until
    /// `done` or `deadline`.
    fn run_with_keyframes(
        &mut self,
        mut done: impl FnMut(&mut Sim) -> bool,
        deadline: Instant,
    ) -> bool {
        while self.sim.now < deadline {
            if done(&mut self.sim) {
                return true;
            }
            self.sim.run_for(SPACING);
            let now = self.sim.now;
            self.write(now, true);
            self.sim.flush_client(self.publisher);
        }
        false
    }

    /// Write the publisher's next VP8 packet.
    fn write(&mut self, now: Instant, keyframe: bool) {
        let i = self.seq % PACKETS_PER_FRAME;
        if i == 0 && self.seq != 1000 {
            self.frame += 1;
        }
        let payload = vp8_payload((self.frame & 0x7fff) as u16, i == 0, keyframe, PAYLOAD_LEN);
        let ts = self.frame.wrapping_mul(3000); // 90 kHz, 30 frames per second
        let (mid, pt, seq) = (self.mid, self.pt, self.seq);
        let mut api = self.sim.client(self.publisher).rtc.direct_api();
        let tx = api.stream_tx_by_mid(mid, None).expect("publisher stream");
        tx.write_rtp(
            RtpWrite::new(pt, SeqNo::from(seq), ts, now, payload)
                .marker(i + 1 == PACKETS_PER_FRAME)
                .nackable(true),
        );
        self.seq += 1;
    }

    /// Keep the peers alive, then generate the next chunk of publisher SRTP
    /// datagrams (anything else the publisher sends goes on its uplink).
    fn refill(&mut self) {
        if let Some((at, _)) = self.chunk.back() {
            self.sim.now = self.sim.now.max(*at);
        }
        self.sim.run_for(SPACING);
        let mut at = self.sim.now;
        for _ in 0..CHUNK {
            at += SPACING;
            let c = self.sim.client(self.publisher);
            if c.timeout <= at {
                c.handle_timeout(at);
            }
            self.write(at, false);
            for (_, data) in self.sim.client(self.publisher).drain(at) {
                if is_rtp(&data) {
                    self.chunk.push_back((at, data));
                } else {
                    self.sim.peers[self.publisher].up.send(at, data);
                }
            }
        }
    }

    /// Feed `iters` publisher datagrams; returns the CPU time spent in the router.
    fn run(&mut self, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = iters as usize;
        let (source, destination) = (self.source, self.sim.server);
        while left > 0 {
            if self.chunk.is_empty() {
                self.refill();
            }
            let take = left.min(self.chunk.len());
            let batch: Vec<_> = self.chunk.drain(..take).collect();
            let start = thread_cpu();
            self.transmits += feed(&mut self.sim.router, source, destination, &batch);
            total += thread_cpu() - start;
            // Keep the sim's clock with the router's.
            if let Some((at, _)) = batch.last() {
                self.sim.now = self.sim.now.max(*at);
            }
            left -= take;
        }
        total
    }
}

/// The timed section: what a host does with each datagram. Not inlined, so
/// a profiler can collect exactly this (`--toggle-collect='*forward::feed*'`).
#[inline(never)]
fn feed(
    router: &mut Router,
    source: SocketAddr,
    destination: SocketAddr,
    batch: &[(Instant, Vec<u8>)],
) -> u64 {
    feed_all(router, source, destination, batch)
}

/// The same outside the timed section (not collected by the profiler).
#[inline(never)]
fn warm(
    router: &mut Router,
    source: SocketAddr,
    destination: SocketAddr,
    batch: &[(Instant, Vec<u8>)],
) -> u64 {
    feed_all(router, source, destination, batch)
}

#[inline(always)]
fn feed_all(
    router: &mut Router,
    source: SocketAddr,
    destination: SocketAddr,
    batch: &[(Instant, Vec<u8>)],
) -> u64 {
    let mut transmits = 0;
    for (now, data) in batch {
        router.handle_input(Input::receive(*now, source, destination, data));
        transmits += drain(router, *now);
    }
    transmits
}

/// Drain the router until its timeout, feeding the timeout once if it is due.
fn drain(router: &mut Router, now: Instant) -> u64 {
    let mut transmits = 0;
    let mut ticked = false;
    loop {
        match router.poll_output() {
            Output::Transmit(t) => {
                black_box(&t);
                transmits += 1;
            }
            Output::Timeout(at) if at <= now && !ticked => {
                ticked = true;
                router.handle_input(Input::Timeout(now));
            }
            Output::Timeout(_) => return transmits,
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// ---------------------------------------------------------------------------

fn forward(c: &mut Criterion<CpuTime>) {
    use manifold_sfu::testkit_hooks::OwnedFanout;
    let mut g = c.benchmark_group("forward");
    let sizes: &[usize] = if support::measuring() {
        &SUBSCRIBERS
    } else {
        &SUBSCRIBERS[..2]
    };
    for &n in sizes {
        g.throughput(Throughput::Elements(n as u64));
        let mut sample = None;
        for &profile in Profile::ROUTER {
            let setup = Instant::now();
            let mut f = Forward::new(n, profile);
            eprintln!(
                "forward: setup with {n} subscribers ({}) took {:?}",
                profile.name(),
                setup.elapsed()
            );
            f.transmits = 0;
            let before = f.sim.router.stats();
            g.bench_function(
                BenchmarkId::new(format!("router/{}", profile.name()), n),
                |b| b.iter_custom(|iters| f.run(iters)),
            );
            let after = f.sim.router.stats();
            let fed = after.rtp_in - before.rtp_in;
            eprintln!(
                "forward: {n} subscribers: {fed} packets in, {:.2} transmits per input packet",
                f.transmits as f64 / fed.max(1) as f64
            );
            // Every packet went to every subscriber: the figure is per forwarded packet.
            assert_eq!(
                after.rtp_out - before.rtp_out,
                fed * n as u64,
                "forwarded packets"
            );
            if profile == Profile::AeadAes256Gcm {
                f.refill();
                sample = Some(f.chunk.front().expect("a publisher packet").1.clone());
            }
        }
        let sample = sample.expect("an AES-256-GCM sample");
        for profile in Profile::ALL {
            let mut floor = Floor::new(profile, n, &sample);
            g.bench_function(
                BenchmarkId::new(format!("floor/{}", profile.name()), n),
                |b| b.iter(|| floor.forward()),
            );
        }
        // Issue #19's owned send path, its per-subscriber work only (no
        // decryption of the input): the same payload size as the floor's.
        let payload: std::sync::Arc<[u8]> = vec![7u8; support::floor::payload_len(&sample)].into();
        for profile in Profile::ALL {
            let mut owned = OwnedFanout::new(profile.name(), n, Instant::now());
            let mut ts = 0u32;
            g.bench_function(
                BenchmarkId::new(format!("owned/{}", profile.name()), n),
                |b| {
                    b.iter(|| {
                        ts = ts.wrapping_add(3000);
                        owned.forward(&payload, ts, true)
                    })
                },
            );
        }
    }
    g.finish();
}

/// `FORWARD_PROFILE=<subscribers>[,<packets>[,<srtp profile>]]`: set up,
/// feed that many publisher packets (default 2000, profile
/// `aead_aes_256_gcm`) once and print what the router did; for
/// profilers (`valgrind --tool=callgrind --toggle-collect='*forward::feed*'`).
fn profile(spec: &str) {
    let fields: Vec<&str> = spec.split(',').map(str::trim).collect();
    let number = |i: usize| fields.get(i).map(|v| v.parse::<u64>().expect("number"));
    let n = number(0).expect("subscribers") as usize;
    let packets = number(1).unwrap_or(2000);
    let profile = fields
        .get(2)
        .map_or(Profile::AeadAes256Gcm, |name| Profile::from_name(name));
    let mut f = Forward::new(n, profile);
    f.transmits = 0;
    let before = f.sim.router.stats();
    let t = f.run(packets);
    let after = f.sim.router.stats();
    println!(
        "{n} subscribers: {} packets in, {} RTP out, {} transmits, {:?} CPU in the router ({:?} per input)",
        after.rtp_in - before.rtp_in,
        after.rtp_out - before.rtp_out,
        f.transmits,
        t,
        t / packets as u32,
    );
}

fn main() {
    if let Ok(spec) = std::env::var("FORWARD_PROFILE") {
        profile(&spec);
        return;
    }
    if !cfg!(feature = "bench-openssl") {
        eprintln!(
            "forward: the router is measured with AES-256-GCM only; \
             `--features bench-openssl` adds AES-128-GCM and AES-128-CM-SHA1-80"
        );
    }
    let mut c = support::criterion();
    forward(&mut c);
    c.final_summary();
}
