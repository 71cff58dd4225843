//! Scenario: the router prefers the AES-GCM SRTP profiles whatever order a
//! peer lists them in.
//!
//! As DTLS server the router picks by its own preference, AES-256-GCM, then
//! AES-128-GCM, then AES-128-CM-SHA1-80, among the profiles the client
//! offers. Clients here (OpenSSL DTLS, RSA and ECDSA certificates) list
//! AES-128-CM-SHA1-80 first; a client offering only AES-128-CM-SHA1-80
//! still connects with it. Media must flow on each.

#![cfg(feature = "bench-openssl")]

#[path = "../benches/support/openssl_dtls.rs"]
mod openssl_dtls;

use std::time::Duration;

use manifold_sfu::MediaKind;
use manifold_testkit::{Client, LinkConfig, Sim};
use openssl_dtls::{OpensslDtls, PeerKey};
use str0m::crypto::dtls::SrtpProfile;

const CM: SrtpProfile = SrtpProfile::AES128_CM_SHA1_80;
const GCM128: SrtpProfile = SrtpProfile::AEAD_AES_128_GCM;
const GCM256: SrtpProfile = SrtpProfile::AEAD_AES_256_GCM;

#[test]
fn router_prefers_aes_gcm_over_the_clients_order() {
    let cases: [(&str, PeerKey, Vec<SrtpProfile>, SrtpProfile); 4] = [
        ("rsa cm,gcm128", PeerKey::Rsa2048, vec![CM, GCM128], GCM128),
        (
            "rsa cm,gcm128,gcm256",
            PeerKey::Rsa2048,
            vec![CM, GCM128, GCM256],
            GCM256,
        ),
        (
            "ecdsa cm,gcm256",
            PeerKey::EcdsaP256,
            vec![CM, GCM256],
            GCM256,
        ),
        ("ecdsa cm only", PeerKey::EcdsaP256, vec![CM], CM),
    ];
    let mut sim = Sim::new(29);
    let mut peers = Vec::new();
    for (name, key, profiles, expected) in cases {
        let i = sim.add_peer(name, LinkConfig::default(), LinkConfig::default());
        let dtls: &'static OpensslDtls = Box::leak(Box::new(OpensslDtls {
            profiles,
            key,
            negotiated: Default::default(),
        }));
        let mut crypto = str0m::crypto::from_feature_flags();
        crypto.dtls_provider = dtls;
        let addr = sim.client(i).addr;
        sim.peers[i].client = Client::with_crypto(name, addr, sim.now, crypto);
        let (_, producers) = sim.publish(i, true, true);
        let viewer = sim.add_peer("viewer", LinkConfig::default(), LinkConfig::default());
        sim.subscribe(viewer, &producers);
        peers.push((name, dtls, expected, viewer));
    }
    sim.run_for(Duration::from_secs(3));

    for (name, dtls, expected, viewer) in peers {
        assert_eq!(*dtls.negotiated.lock().unwrap(), [expected], "{name}");
        let video = sim.client(viewer).track(MediaKind::Video).to_vec();
        let frames = video.iter().filter(|r| r.marker).count();
        let bytes: usize = video.iter().map(|r| r.payload_len).sum();
        assert!(frames >= 60, "{name}: {frames} video frames forwarded");
        assert!(bytes >= 50_000, "{name}: {bytes} video bytes forwarded");
    }
}
