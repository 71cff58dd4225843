//! Simulcast test 1: three VP8 encodings with temporal layers; a subscriber
//! switches up and down many times, then again under 5% loss. Every switch
//! lands on a keyframe; the output has no sequence gaps, monotonic
//! timestamps and continuous picture IDs; rewriting causes no NACK.

mod common;

use std::time::Duration;

use common::{check, LinkConfig, Rx, Sim};
use manifold_sfu::{Event, Layers, MediaKind, RouterConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Packets ordered by output sequence number.
fn by_seq(rx: &[Rx]) -> Vec<Rx> {
    let mut v = rx.to_vec();
    v.sort_by_key(|r| r.seq);
    v.dedup_by_key(|r| r.seq);
    v
}

fn check_stream(rx: &[Rx]) -> usize {
    let v = by_seq(rx);
    let mut switches = 0;
    for w in v.windows(2) {
        let (a, b) = (w[0].vp8.unwrap(), w[1].vp8.unwrap());
        if a.layer != b.layer {
            switches += 1;
            assert!(
                b.keyframe,
                "switch {}→{} at seq {} not on a keyframe",
                a.layer, b.layer, w[1].seq
            );
        }
        if b.start && b.picture_id != a.picture_id {
            assert_eq!(
                b.picture_id,
                (a.picture_id + 1) & 0x7fff,
                "picture id jump at seq {}",
                w[1].seq
            );
        } else {
            assert_eq!(
                b.picture_id, a.picture_id,
                "picture id changes inside a frame at seq {}",
                w[1].seq
            );
        }
        if let (Some(x), Some(y)) = (a.tl0, b.tl0) {
            let d = y.wrapping_sub(x);
            assert!(d <= 1, "tl0picidx jump {x}→{y} at seq {}", w[1].seq);
        }
    }
    assert_eq!(check::missing_seqs(&v), 0, "sequence gap");
    assert!(check::timestamps_monotonic(&v), "timestamps go backwards");
    switches
}

#[test]
fn switches_land_on_keyframes_with_continuous_numbering() {
    // Switching is under test, not bandwidth: no allocator.
    let mut config = RouterConfig::default();
    config.seed = 21;
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
                .set_preferred_layers(Layers::new(s, tl));
            sim.drain_router();
            sim.run_for(Duration::from_millis(rng.random_range(300..900)));
        }
    };
    switch_to(&mut sim, &mut rng, 25);
    sim.run_for(Duration::from_secs(1));
    let lossless = sim.client(sub).track(MediaKind::Video).to_vec();
    let switches = check_stream(&lossless);
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
    assert!(check_stream(&all) > switches);
    // Keyframe requests stayed throttled: at most one per layer per 500 ms.
    let kf = sim.client(publisher).keyframe_requests;
    let secs = sim.elapsed().as_secs();
    assert!(kf <= 3 * secs * 2 + 6, "{kf} keyframe requests in {secs} s");
}
