//! Scenario 8: hostile input (random bytes, truncated RTP/RTCP, STUN with
//! unknown or forged credentials, DTLS garbage) from known and unknown
//! sources is counted and dropped: no panic, no new state, and the running
//! session is unaffected. 100,000 datagrams; nothing is ever sent to an
//! address that did not authenticate.

use std::net::SocketAddr;
use std::time::Duration;

use manifold_sfu::{Input, MediaKind};
use manifold_testkit::hostile::garbage;
use manifold_testkit::{check, LinkConfig, Sim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[test]
fn hostile_datagrams_are_dropped_without_side_effects() {
    let mut sim = Sim::new(8);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(sub, &producers);
    sim.run_for(Duration::from_secs(2));

    // Genuine datagrams to mutate: what the publisher sends.
    let mut real = Vec::new();
    for _ in 0..50 {
        sim.run_for(Duration::from_millis(20));
        let now = sim.now;
        for (_, d) in sim.client(publisher).drain(now) {
            sim.peers[publisher].up.send(now, d.clone());
            real.push(d);
        }
    }
    let ufrag = sim.client(publisher).server_ufrag();
    assert!(!ufrag.is_empty());
    let known: Vec<SocketAddr> = vec![sim.peers[publisher].client.addr, sim.peers[sub].client.addr];
    let before = sim.router.counts();
    let stats_before = sim.router.stats();
    let mut rng = StdRng::seed_from_u64(88);
    let rx_before = sim.client(sub).track(MediaKind::Video).len();

    let rounds = 1000;
    let per_round = 100;
    for _ in 0..rounds {
        for _ in 0..per_round {
            let data = garbage(&mut rng, &real, &ufrag);
            let source = if rng.random_bool(0.5) {
                known[rng.random_range(0..known.len())]
            } else {
                SocketAddr::from((
                    [127, 0, 0, rng.random_range(2..250)],
                    rng.random_range(1024..65535),
                ))
            };
            let server = sim.server;
            sim.router
                .handle_input(Input::receive(sim.now, source, server, &data));
            sim.drain_router();
        }
        sim.run_for(Duration::from_millis(20));
    }
    sim.run_for(Duration::from_secs(1));

    // No new state: same objects and demux entries as before the attack.
    let after = sim.router.counts();
    assert_eq!(
        (
            after.transports,
            after.producers,
            after.consumers,
            after.ufrags,
            after.routes
        ),
        (
            before.transports,
            before.producers,
            before.consumers,
            before.ufrags,
            before.routes
        )
    );
    // Every hostile datagram was counted somewhere.
    let s = sim.router.stats();
    let d = |f: fn(&manifold_sfu::RouterStats) -> u64| f(&s) - f(&stats_before);
    let dropped = d(|s| s.dropped_malformed)
        + d(|s| s.dropped_unknown_ufrag)
        + d(|s| s.dropped_unknown_source)
        + d(|s| s.dropped_rejected)
        + d(|s| s.dropped_rate_limited);
    // Garbage from a peer's own address reaches its transport, whose
    // WebRTC stack discards it (SRTP authentication, replay window).
    let routed = d(|s| s.datagrams_routed);
    assert_eq!(dropped + routed, d(|s| s.datagrams_in), "{s:?}");
    assert!(dropped > 50_000, "counted drops: {dropped} ({s:?})");
    // No reply to anyone who did not authenticate (no amplification).
    assert_eq!(sim.stray_transmits, 0);
    // The session kept going without a hole.
    let video = sim.client(sub).track(MediaKind::Video).to_vec();
    assert!(
        video.len() > rx_before + 400,
        "video kept flowing: {} -> {}",
        rx_before,
        video.len()
    );
    assert_eq!(check::missing_seqs(&video), 0);
    assert!(sim.client(sub).connected);
}
