//! Scenario: DTLS peers with RSA and with ECDSA certificates both connect
//! and their media flows, in both DTLS roles.
//!
//! GStreamer's `webrtcbin`, older libwebrtc builds and SIP gateways present
//! an RSA-2048 certificate. The peers here are OpenSSL DTLS endpoints
//! (`benches/support/openssl_dtls.rs`) inside str0m clients: an RSA peer
//! offering `actpass` (the router answers `passive` and is the DTLS server,
//! as with a WHIP client), an RSA peer offering `passive` (the router is the
//! DTLS client), and an ECDSA peer. A browser-like str0m client subscribes
//! to all three and must receive their audio and video. Every peer offers
//! AES-GCM first and must end up on AES-256-GCM.

#![cfg(feature = "bench-openssl")]

#[path = "../benches/support/openssl_dtls.rs"]
mod openssl_dtls;

use std::time::Duration;

use manifold_sfu::{MediaKind, ProducerId};
use manifold_testkit::{Client, LinkConfig, Sim, Source};
use openssl_dtls::{OpensslDtls, PeerKey};
use str0m::crypto::dtls::SrtpProfile;

/// A peer whose DTLS is OpenSSL with a `key` certificate; returns its index
/// and its DTLS provider (to read the negotiated SRTP profile).
fn openssl_peer(sim: &mut Sim, name: &str, key: PeerKey) -> (usize, &'static OpensslDtls) {
    let i = sim.add_peer(name, LinkConfig::default(), LinkConfig::default());
    let dtls: &'static OpensslDtls = Box::leak(Box::new(OpensslDtls::all_profiles(key)));
    let mut crypto = str0m::crypto::from_feature_flags();
    crypto.dtls_provider = dtls;
    let addr = sim.client(i).addr;
    sim.peers[i].client = Client::with_crypto(name, addr, sim.now, crypto);
    (i, dtls)
}

/// Publish audio + video from peer `i`; `setup` is the `a=setup` its offer
/// carries (`actpass`: the router is the DTLS server; `passive`: client).
fn publish(sim: &mut Sim, i: usize, setup: &str) -> Vec<ProducerId> {
    let offer = sim.client(i).offer_send(true, true);
    assert!(offer.contains("a=setup:actpass"));
    let offer = offer.replace("a=setup:actpass", &format!("a=setup:{setup}"));
    let source = Source::new(sim.now, true, true);
    let (_, producers) = sim.connect_publisher(i, &offer, source);
    assert_eq!(producers.len(), 2, "audio and video producers");
    producers
}

#[test]
fn rsa_and_ecdsa_peers_connect_in_both_roles_and_media_flows() {
    let mut sim = Sim::new(13);
    let (rsa_server_side, rsa_a) = openssl_peer(&mut sim, "rsa-actpass", PeerKey::Rsa2048);
    let (rsa_client_side, rsa_b) = openssl_peer(&mut sim, "rsa-passive", PeerKey::Rsa2048);
    let (ecdsa, ecdsa_dtls) = openssl_peer(&mut sim, "ecdsa", PeerKey::EcdsaP256);

    let mut producers = publish(&mut sim, rsa_server_side, "actpass");
    producers.extend(publish(&mut sim, rsa_client_side, "passive"));
    producers.extend(publish(&mut sim, ecdsa, "actpass"));
    sim.run_for(Duration::from_secs(1));

    for (name, i) in [
        ("rsa-actpass", rsa_server_side),
        ("rsa-passive", rsa_client_side),
        ("ecdsa", ecdsa),
    ] {
        assert!(sim.client(i).connected, "{name}: not connected");
    }
    // Each peer offered AES-256-GCM first: the router, as DTLS server
    // (first and third) or client (second), ends up on it.
    for (name, dtls) in [
        ("rsa-actpass", rsa_a),
        ("rsa-passive", rsa_b),
        ("ecdsa", ecdsa_dtls),
    ] {
        assert_eq!(
            *dtls.negotiated.lock().unwrap(),
            [SrtpProfile::AEAD_AES_256_GCM],
            "{name}: SRTP profile"
        );
    }

    // A browser-like str0m (dimpl, ECDSA) subscriber receives all of it.
    let viewer = sim.add_peer("viewer", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(viewer, &producers);
    sim.run_for(Duration::from_secs(5));
    assert!(sim.client(viewer).connected, "viewer not connected");

    let tracks = sim.client(viewer).tracks(MediaKind::Video);
    assert_eq!(tracks.len(), 3, "three video tracks");
    for (mid, rx) in &tracks {
        let bytes: usize = rx.iter().map(|r| r.payload_len).sum();
        let frames = rx.iter().filter(|r| r.marker).count();
        // 30 fps for about 5 s, starting on a keyframe.
        assert!(frames >= 100, "video {mid}: {frames} frames");
        assert!(bytes >= 100_000, "video {mid}: {bytes} bytes");
        assert!(
            rx.iter().any(|r| r.keyframe_start),
            "video {mid}: no keyframe"
        );
    }
    let audio = sim.client(viewer).tracks(MediaKind::Audio);
    assert_eq!(audio.len(), 3, "three audio tracks");
    for (mid, rx) in &audio {
        // One packet per 20 ms.
        assert!(rx.len() >= 200, "audio {mid}: {} packets", rx.len());
    }
    let failed = sim.count_events(|e| matches!(e, manifold_sfu::Event::TransportClosed { .. }));
    assert_eq!(failed, 0, "no transport closed");
}
