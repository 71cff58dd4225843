//! Scenario: DTLS handshakes through OpenSSL survive lost datagrams, on the
//! host's (here virtual) clock.
//!
//! OpenSSL's own retransmission timer reads the system clock, which a
//! sans-IO host does not drive; the router's DTLS session resends an
//! unanswered flight itself at the host's timeouts (1 s, 2 s, 4 s, ...).
//! Peers with RSA and ECDSA certificates and a browser-like str0m peer
//! connect over links losing 15 % of datagrams each way (str0m's own DTLS
//! client gives up after four retransmissions, so much more loss makes
//! the test depend on luck), in virtual time
//! far shorter than the wall-clock time OpenSSL's own timer would need.

#![cfg(feature = "bench-openssl")]

#[path = "../benches/support/openssl_dtls.rs"]
mod openssl_dtls;

use std::time::{Duration, Instant};

use manifold_testkit::{Client, LinkConfig, Sim};
use openssl_dtls::{OpensslDtls, PeerKey};

#[test]
fn handshakes_complete_over_lossy_links() {
    let wall = Instant::now();
    let mut sim = Sim::new(41);
    let mut peers = Vec::new();
    for (name, key) in [
        ("rsa", Some(PeerKey::Rsa2048)),
        ("ecdsa", Some(PeerKey::EcdsaP256)),
        ("str0m", None),
    ] {
        for n in 0..4 {
            let name = format!("{name}-{n}");
            let i = sim.add_peer(&name, LinkConfig::lossy(0.15), LinkConfig::lossy(0.15));
            if let Some(key) = key {
                let dtls: &'static OpensslDtls =
                    Box::leak(Box::new(OpensslDtls::all_profiles(key)));
                let mut crypto = str0m::crypto::from_feature_flags();
                crypto.dtls_provider = dtls;
                let addr = sim.client(i).addr;
                sim.peers[i].client = Client::with_crypto(&name, addr, sim.now, crypto);
            }
            sim.publish(i, true, true);
            peers.push((name, i));
        }
    }
    let deadline = sim.now + Duration::from_secs(60);
    let all = |s: &mut Sim| s.peers.iter().all(|p| p.client.connected);
    let done = sim.run_until(all, deadline);
    let failed: Vec<_> = peers
        .iter()
        .filter(|(_, i)| !sim.client(*i).connected)
        .map(|(name, _)| name.clone())
        .collect();
    assert!(failed.is_empty(), "not connected after 60 s: {failed:?}");
    assert!(done);
    // The virtual clock, not the wall clock, drove the retransmissions.
    assert!(
        wall.elapsed() < Duration::from_secs(20),
        "took {:?}",
        wall.elapsed()
    );
    eprintln!("all connected after {:?} (virtual)", sim.elapsed());
}
