//! Secure randomness by default: two routers built with the default
//! configuration answer the same offer with different ICE credentials, and
//! each password carries at least 128 bits of entropy. A fixed seed, the
//! explicit opt-in for reproducible tests, gives the same credentials.

use std::net::SocketAddr;
use std::time::Instant;

use manifold_sfu::{ListenInfo, Router, RouterConfig, WebRtcTransportOptions};
use manifold_testkit::Client;

/// The ICE ufrag and password of an SDP.
fn creds(sdp: &str) -> (String, String) {
    let attr = |name: &str| {
        sdp.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {sdp}"))
            .trim()
            .to_string()
    };
    (attr("a=ice-ufrag:"), attr("a=ice-pwd:"))
}

fn answer(config: RouterConfig, offer: &str) -> (String, String) {
    let now = Instant::now();
    let server: SocketAddr = manifold_testkit::SERVER.parse().unwrap();
    let mut router = Router::new(config, now);
    let t = router
        .create_webrtc_transport(now, WebRtcTransportOptions::new([ListenInfo::new(server)]))
        .unwrap();
    let answer = router
        .transport(t)
        .unwrap()
        .accept_offer(now, offer)
        .unwrap();
    creds(&answer)
}

#[test]
fn default_routers_hand_out_different_ice_credentials() {
    let mut client = Client::new("c", "127.0.0.1:50000".parse().unwrap(), Instant::now());
    let offer = client.offer_send(true, true);

    let a = answer(RouterConfig::default(), &offer);
    let b = answer(RouterConfig::default(), &offer);
    assert_ne!(a.0, b.0, "same ufrag from two default routers");
    assert_ne!(a.1, b.1, "same password from two default routers");
    for (ufrag, pwd) in [&a, &b] {
        // RFC 8445: ufrag at least 24 bits, password at least 128 bits.
        // Letters and digits carry log2(62) ≈ 5.95 bits each.
        let bits = |s: &str| {
            assert!(s.bytes().all(|c| c.is_ascii_alphanumeric()), "{s}");
            s.len() as f64 * 62f64.log2()
        };
        assert!(bits(ufrag) >= 24.0, "ufrag {ufrag}");
        assert!(bits(pwd) >= 128.0, "password {pwd}: {} bits", bits(pwd));
    }

    // The explicit opt-in: the same seed, the same credentials.
    let mut seeded = RouterConfig::default();
    seeded.seed = Some(5);
    assert_eq!(answer(seeded.clone(), &offer), answer(seeded, &offer));
}
