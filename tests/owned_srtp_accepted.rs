//! Scenario (issue #19, step 1 of `docs/owned-send-path.md`): a packet the
//! router protects itself, with its own copy of a subscriber transport's
//! DTLS-SRTP keys, is accepted by the subscriber's SRTP (str0m, an
//! implementation other than ours), in every profile the router
//! negotiates; the same packet with one byte changed is refused.
//!
//! The subscriber watches a VP8 producer until media flows, the publisher
//! stops, and a packet protected by `testkit_hooks::srtp_sender` goes
//! down the subscriber's link with the next sequence number of the
//! consumer's stream. The subscriber must report it with its payload.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use manifold_sfu::testkit_hooks::{srtp_sender, PacketFields, SrtpSender};
use manifold_sfu::{MediaKind, ProducerId};
use manifold_testkit::{Client, LinkConfig, Sim};
use str0m::RtcConfig;

/// The payload's length: no packet of the synthetic source has it.
const MARK_LEN: usize = 777;

/// A marked VP8 packet after `last` on its stream: (packet, header length, ROC).
fn next_packet(last: &manifold_testkit::Rx) -> (Vec<u8>, usize, u32) {
    let ext = last.seq + 1;
    let mut p = vec![0x80, 0x80 | last.pt];
    p.extend_from_slice(&(ext as u16).to_be_bytes());
    p.extend_from_slice(&last.ts.wrapping_add(3000).to_be_bytes());
    p.extend_from_slice(&last.ssrc.to_be_bytes());
    // VP8 payload descriptor: start of partition 0, then an interframe.
    p.push(0x10);
    p.extend((1..MARK_LEN).map(|i| (i * 31) as u8 | 1));
    (p, 12, (ext >> 16) as u32)
}

/// Watch `producers` from a new subscriber built by `make`, stop the
/// publisher, then check the router's own SRTP against the subscriber's.
/// Returns the negotiated profile's name.
fn check(
    sim: &mut Sim,
    publisher: usize,
    producers: &[ProducerId],
    name: &str,
    make: impl FnOnce(SocketAddr, Instant) -> Client,
) -> &'static str {
    let viewer = sim.add_peer(name, LinkConfig::default(), LinkConfig::default());
    let addr = sim.client(viewer).addr;
    sim.peers[viewer].client = make(addr, sim.now);
    let transport = sim.subscribe(viewer, producers);
    assert!(
        srtp_sender(&sim.router, transport).is_none(),
        "{name}: no keys before DTLS"
    );
    sim.run_for(Duration::from_secs(2));
    let sender = srtp_sender(&sim.router, transport).expect("keys once DTLS connected");

    // The stream goes quiet, so the next sequence number is free.
    let source = sim.client(publisher).source.take();
    sim.run_for(Duration::from_millis(300));
    let video = sim.client(viewer).track(MediaKind::Video).to_vec();
    assert!(video.len() > 60, "{name}: {} video packets", video.len());
    let last = video.last().unwrap().clone();

    // One byte changed in the ciphertext: the receiver must refuse it.
    let (mut bad, header, roc) = next_packet(&last);
    sender.protect_rtp(&mut bad, header, roc);
    bad[header + 5] ^= 0x40;
    sim.peers[viewer].down.send(sim.now, bad);
    sim.run_for(Duration::from_millis(100));
    let after = sim.client(viewer).track(MediaKind::Video).len();
    assert_eq!(after, video.len(), "{name}: a tampered packet was accepted");

    let (mut good, header, roc) = next_packet(&last);
    sender.protect_rtp(&mut good, header, roc);
    sim.peers[viewer].down.send(sim.now, good);
    sim.run_for(Duration::from_millis(100));
    let got = sim.client(viewer).track(MediaKind::Video).to_vec();
    let new = &got[video.len()..];
    assert_eq!(new.len(), 1, "{name}: the router's own packet arrived once");
    assert_eq!(new[0].seq, last.seq + 1, "{name}: sequence number");
    assert_eq!(new[0].ssrc, last.ssrc, "{name}: SSRC");
    assert_eq!(new[0].payload_len, MARK_LEN, "{name}: payload");
    assert!(new[0].marker, "{name}: marker");
    sim.client(publisher).source = source;
    sender.profile()
}

#[test]
fn router_protected_packets_are_accepted_by_the_subscriber() {
    let mut sim = Sim::new(61);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, false, true);
    sim.run_for(Duration::from_secs(1));

    // str0m's own DTLS on the client: the router picks AES-256-GCM.
    let profile = check(&mut sim, publisher, &producers, "dimpl", |addr, now| {
        Client::new("dimpl", addr, now)
    });
    assert_eq!(profile, "AEAD_AES_256_GCM");

    #[cfg(feature = "bench-openssl")]
    {
        #[path = "../benches/support/openssl_dtls.rs"]
        mod openssl_dtls;
        use openssl_dtls::{OpensslDtls, PeerKey};
        use str0m::crypto::dtls::SrtpProfile;
        for (name, only, expected) in [
            ("cm", SrtpProfile::AES128_CM_SHA1_80, "AES128_CM_SHA1_80"),
            ("gcm128", SrtpProfile::AEAD_AES_128_GCM, "AEAD_AES_128_GCM"),
        ] {
            let profile = check(&mut sim, publisher, &producers, name, |addr, now| {
                let dtls: &'static OpensslDtls = Box::leak(Box::new(OpensslDtls {
                    profiles: vec![only],
                    key: PeerKey::Rsa2048,
                    negotiated: Default::default(),
                }));
                let mut crypto = str0m::crypto::from_feature_flags();
                crypto.dtls_provider = dtls;
                Client::with_crypto(name, addr, now, crypto)
            });
            assert_eq!(profile, expected, "{name}");
        }
    }
}

/// The first `a=` value with `prefix` in `sdp`'s section of `kind`.
fn sdp_attr<'a>(sdp: &'a str, kind: &str, prefix: &str) -> Option<&'a str> {
    sdp.split("\nm=")
        .filter(|s| s.starts_with(kind))
        .flat_map(|s| s.lines())
        .find_map(|l| l.trim().strip_prefix(prefix))
}

/// The id `sdp` gives the header extension whose URI ends with `uri_end`.
fn extmap_id(sdp: &str, uri_end: &str) -> Option<u8> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=extmap:"))
        .find(|v| v.ends_with(uri_end))
        .and_then(|v| v.split(['/', ' ']).next()?.parse().ok())
}

/// A subscriber (`client`, or the default one) of `producers` whose media
/// has flowed and stopped: the publisher's source is taken away, so the
/// next sequence numbers on the subscriber's streams are free. Returns it,
/// its transport and the router's sending parts for it.
fn quiet_subscriber(
    sim: &mut Sim,
    publisher: usize,
    producers: &[ProducerId],
    client: Option<RtcConfig>,
) -> (usize, SrtpSender) {
    let viewer = sim.add_peer("viewer", LinkConfig::default(), LinkConfig::default());
    if let Some(config) = client {
        let addr = sim.client(viewer).addr;
        sim.peers[viewer].client = Client::from_config("viewer", addr, sim.now, config);
    }
    let transport = sim.subscribe(viewer, producers);
    sim.run_for(Duration::from_secs(2));
    let sender = srtp_sender(&sim.router, transport).expect("keys once DTLS connected");
    sim.client(publisher).source = None;
    sim.run_for(Duration::from_millis(300));
    (viewer, sender)
}

/// Steps 2, 3 and 5: headers with this subscriber's extension ids reach
/// the subscriber; a lost packet is NACKed by the subscriber, the NACK is
/// read with the router's copy of the keys, and the packet resent as RTX
/// from the history arrives; a sender report and its CNAME are read.
#[test]
fn router_built_headers_and_retransmissions_are_accepted() {
    let mut sim = Sim::new(62);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    sim.run_for(Duration::from_secs(1));
    // str0m's raw packets on: the client records the sender reports.
    let config = RtcConfig::new().set_rtp_mode(true).enable_raw_packets(true);
    let (viewer, mut sender) = quiet_subscriber(&mut sim, publisher, &producers, Some(config));

    let sdp = sim.client(viewer).remote_sdp.clone();
    let level_id = extmap_id(&sdp, "ssrc-audio-level").expect("the audio level extension");
    let fid = sdp_attr(&sdp, "video", "a=ssrc-group:FID ").expect("an RTX stream");
    let rtx_ssrc: u32 = fid.split(' ').nth(1).unwrap().parse().unwrap();
    let video = sim.client(viewer).track(MediaKind::Video).to_vec();
    let last_video = video.last().unwrap().clone();
    let rtx_pt: u8 = sdp
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a=fmtp:"))
        .find(|v| v.ends_with(&format!("apt={}", last_video.pt)))
        .and_then(|v| v.split(' ').next()?.parse().ok())
        .expect("the RTX payload type of the video's");

    // Audio with a level of -30 dBov, voice active.
    let audio = sim.client(viewer).track(MediaKind::Audio).to_vec();
    let last = audio.last().unwrap().clone();
    let f = PacketFields {
        pt: last.pt,
        marker: false,
        seq: last.seq + 1,
        ts: last.ts.wrapping_add(960),
        ssrc: last.ssrc,
    };
    let level = [0x80 | 30];
    let pkt = sender.packet(
        f,
        &[(level_id, &level)],
        Bytes::from(vec![0xf8; 60]),
        sim.now,
    );
    sim.peers[viewer].down.send(sim.now, pkt);
    sim.run_for(Duration::from_millis(100));
    let got = sim.client(viewer).track(MediaKind::Audio).to_vec();
    assert_eq!(got.len(), audio.len() + 1, "the audio packet arrived");
    let rx = got.last().unwrap();
    assert_eq!((rx.seq, rx.payload_len), (last.seq + 1, 60));
    assert_eq!(
        rx.audio_level,
        Some(-30),
        "its audio level extension was read"
    );

    // Video: n+1 and n+3 sent, n+2 kept but lost, then resent as RTX.
    let n = last_video.seq;
    let mut send = |sim: &mut Sim, k: u64, deliver: bool| {
        let f = PacketFields {
            pt: last_video.pt,
            marker: true,
            seq: n + k,
            ts: last_video.ts.wrapping_add(3000 * k as u32),
            ssrc: last_video.ssrc,
        };
        let mut payload = vec![0x10];
        payload.extend(std::iter::repeat_n(k as u8 | 1, 499 + k as usize));
        let pkt = sender.packet(f, &[], Bytes::from(payload), sim.now);
        if deliver {
            sim.peers[viewer].down.send(sim.now, pkt);
        }
    };
    // What the subscriber sends from now on is kept, to read its NACKs.
    sim.peers[viewer].up.recorded = Some(Vec::new());
    send(&mut sim, 1, true);
    send(&mut sim, 2, false);
    send(&mut sim, 3, true);
    sim.run_for(Duration::from_millis(100));
    let lost = (n + 2) as u16;
    let sent_up = sim.peers[viewer].up.recorded.take().unwrap();
    let asked: Vec<(u32, u16)> = sent_up.iter().flat_map(|d| sender.nacks(d)).collect();
    assert!(
        asked.contains(&(last_video.ssrc, lost)),
        "the subscriber's str0m NACKed the lost packet, read with our SRTCP keys: {asked:?}"
    );
    let rtx = sender
        .resend(lost, rtx_ssrc, rtx_pt, sim.now)
        .expect("the lost packet is in the history");
    assert!(sender
        .resend(lost.wrapping_add(10), rtx_ssrc, rtx_pt, sim.now)
        .is_none());
    sim.peers[viewer].down.send(sim.now, rtx);
    sim.run_for(Duration::from_millis(100));
    let got = sim.client(viewer).track(MediaKind::Video).to_vec();
    let mut new: Vec<(u64, usize)> = got[video.len()..]
        .iter()
        .map(|r| (r.seq - n, r.payload_len))
        .collect();
    new.sort();
    assert_eq!(
        new,
        [(1, 501), (2, 502), (3, 503)],
        "n+1 and n+3 directly, n+2 through RTX"
    );

    // Step 5: a sender report of those three packets, 200 ms after the
    // last one was sent, at a wall-clock time of our choosing.
    let wall = Duration::from_secs(1_800_000_000) + Duration::from_millis(250);
    let sr = sender
        .sender_report(last_video.ssrc, 90_000, wall, sim.now, "manifold-owned")
        .expect("packets were sent");
    sim.peers[viewer].down.send(sim.now, sr);
    sim.run_for(Duration::from_millis(100));
    let at = SystemTime::UNIX_EPOCH + wall;
    let ours: Vec<_> = sim
        .client(viewer)
        .sender_reports
        .iter()
        .filter(|i| {
            let d = i
                .ntp_time
                .duration_since(at)
                .unwrap_or_else(|e| e.duration());
            d < Duration::from_micros(1)
        })
        .copied()
        .collect();
    assert_eq!(ours.len(), 1, "the subscriber read our sender report");
    let sr = ours[0];
    assert_eq!(*sr.ssrc, last_video.ssrc);
    assert_eq!(sr.sender_packet_count, 3);
    assert_eq!(sr.sender_octet_count, 501 + 502 + 503);
    // 200 ms of a 90 kHz clock after the third packet's timestamp.
    let third = last_video.ts.wrapping_add(9000);
    assert_eq!(sr.rtp_time.numer() as u32, third.wrapping_add(18_000));
    // The SDES after it in the same compound packet was read too.
    let cname = (last_video.ssrc, "manifold-owned".to_string());
    assert!(
        sim.client(viewer).cnames.contains(&cname),
        "the CNAME after the report: {:?}",
        sim.client(viewer).cnames
    );
}

/// Step 4 without its estimator: packets numbered transport-wide by the
/// send register reach the subscriber, whose str0m reports their arrival
/// in its transport-wide feedback; read with the router's copy of the
/// keys and joined with the register, every packet has its send time, its
/// size and an arrival time, 5 ms apart as they were sent.
#[test]
fn router_reads_transport_wide_feedback_on_its_own_packets() {
    // Estimation off: the router's str0m sends no padding of its own
    // that would take transport-wide numbers while the test sends.
    let mut config = manifold_sfu::RouterConfig::default();
    config.initial_bandwidth_bps = None;
    config.seed = Some(63);
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, false, true);
    sim.run_for(Duration::from_secs(1));
    let (viewer, mut sender) = quiet_subscriber(&mut sim, publisher, &producers, None);
    let sdp = sim.client(viewer).remote_sdp.clone();
    let twcc_id = extmap_id(&sdp, "transport-wide-cc-extensions-01")
        .expect("the subscriber negotiated transport-wide sequence numbers");
    let video = sim.client(viewer).track(MediaKind::Video).to_vec();
    let last = video.last().unwrap().clone();
    let last_twcc = last.twcc.expect("str0m numbers its packets transport-wide");
    sender.start_twcc(last_twcc.wrapping_add(1));

    sim.peers[viewer].up.recorded = Some(Vec::new());
    let mut ours = Vec::new();
    for k in 1..=10u64 {
        let f = PacketFields {
            pt: last.pt,
            marker: true,
            seq: last.seq + k,
            ts: last.ts.wrapping_add(3000 * k as u32),
            ssrc: last.ssrc,
        };
        let mut payload = vec![0x10];
        payload.extend(std::iter::repeat_n(7u8, 300 + 10 * k as usize));
        let (seq, pkt) = sender.twcc_packet(f, twcc_id, Bytes::from(payload), sim.now);
        ours.push((seq, sim.now, 12 + 4 + 301 + 10 * k as usize));
        sim.peers[viewer].down.send(sim.now, pkt);
        sim.run_for(Duration::from_millis(5));
    }
    sim.run_for(Duration::from_millis(400));
    let got = sim.client(viewer).track(MediaKind::Video).len();
    assert_eq!(got, video.len() + 10, "all ten arrived");

    let sent_up = sim.peers[viewer].up.recorded.take().unwrap();
    let reported: Vec<_> = sent_up
        .iter()
        .flat_map(|d| sender.twcc_feedback(d))
        .collect();
    let mut arrivals = Vec::new();
    for (seq, at, size) in &ours {
        let r = reported
            .iter()
            .find(|(s, _, a)| s == seq && a.is_some())
            .unwrap_or_else(|| panic!("packet {seq} reported received: {reported:?}"));
        assert_eq!(
            r.1,
            Some((*at, *size)),
            "packet {seq}: send time and size from the register"
        );
        arrivals.push(r.2.unwrap());
    }
    let gaps: Vec<i64> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [5000; 9], "arrivals 5 ms apart, in 250 µs units");
}
