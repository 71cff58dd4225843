//! Simulcast test 1: three VP8 encodings with temporal layers; a subscriber
//! switches up and down many times, then again under 5% loss. Every switch
//! lands on a keyframe; the output has no sequence gaps, monotonic
//! timestamps and continuous picture IDs; rewriting causes no NACK.

use std::time::Duration;

use manifold_sfu::{Event, Layers, MediaKind, RouterConfig};
use manifold_testkit::{check, LinkConfig, Sim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[test]
fn switches_land_on_keyframes_with_continuous_numbering() {
    // Switching is under test, not bandwidth: no allocator.
    let mut config = RouterConfig::default();
    config.seed = Some(21);
    config.initial_bandwidth_bps = None;
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish_simulcast(publisher, &["q", "h", "f"], 3);
    sim.run_for(Duration::from_secs(2));
    let video = producers[1];
    assert_eq!(sim.router.producer(video).unwrap().rids(), ["q", "h", "f"]);
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let t = sim.subscribe(sub, &producers);
    let consumer = sim.router.transport(t).unwrap().consumers()[1];
    // The allocator climbs to the top layer once the estimate has held.
    sim.run_for(Duration::from_secs(4));
    assert_eq!(
        sim.router
            .consumer(consumer)
            .unwrap()
            .current_layers()
            .map(|l| l.spatial),
        Some(2)
    );

    let mut rng = StdRng::seed_from_u64(21);
    let switch_to = |sim: &mut Sim, rng: &mut StdRng, rounds: usize| {
        for _ in 0..rounds {
            let s = rng.random_range(0..3u8);
            let tl = rng.random_range(0..3u8);
            sim.router
                .consumer(consumer)
                .unwrap()
                .set_preferred_layers(sim.now, Layers::new(s, tl));
            sim.drain_router();
            sim.run_for(Duration::from_millis(rng.random_range(300..900)));
        }
    };
    switch_to(&mut sim, &mut rng, 25);
    sim.run_for(Duration::from_secs(1));
    let lossless = sim.client(sub).track(MediaKind::Video).to_vec();
    let switches = check::simulcast_stream(&lossless);
    assert!(switches >= 10, "only {switches} switches landed");
    let changed = sim.count_events(
        |e| matches!(e, Event::ConsumerLayersChanged { consumer: c, .. } if *c == consumer),
    );
    assert!(changed >= switches, "layer change events: {changed}");
    // No loss on this link and no gap: nothing for the subscriber to NACK.
    assert_eq!(check::missing_seqs(&lossless), 0);

    // Same under 5% loss on the subscriber's link: NACK/RTX fills the holes.
    sim.peers[sub].down.config.loss = 0.05;
    switch_to(&mut sim, &mut rng, 25);
    sim.peers[sub].down.config.loss = 0.0;
    sim.run_for(Duration::from_secs(2));
    let all = sim.client(sub).track(MediaKind::Video).to_vec();
    assert!(check::simulcast_stream(&all) > switches);
    // Keyframe requests stayed throttled: at most one per layer per 500 ms.
    let kf = sim.client(publisher).keyframe_requests;
    let secs = sim.elapsed().as_secs();
    assert!(kf <= 3 * secs * 2 + 6, "{kf} keyframe requests in {secs} s");
}
