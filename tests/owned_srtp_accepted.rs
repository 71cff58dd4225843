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
use std::time::{Duration, Instant};

use manifold_sfu::testkit_hooks::srtp_sender;
use manifold_sfu::{MediaKind, ProducerId};
use manifold_testkit::{Client, LinkConfig, Sim};

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
