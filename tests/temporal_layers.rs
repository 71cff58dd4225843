//! Simulcast test 3 (VP8 part): temporal layers above the preferred one are
//! dropped; the output frame rate follows the chosen temporal layer, the
//! sequence stays continuous, and a layer is only added back at one of its
//! layer-sync frames (VP8 Y bit).

use std::time::Duration;

use manifold_sfu::{Layers, MediaKind, RouterConfig};
use manifold_testkit::{check, LinkConfig, Sim};

#[test]
fn output_frame_rate_follows_temporal_layer() {
    // Switching is under test, not bandwidth: no allocator.
    let mut config = RouterConfig::default();
    config.seed = Some(23);
    config.initial_bandwidth_bps = None;
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish_simulcast(publisher, &["q", "h", "f"], 3);
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let t = sim.subscribe(sub, &producers);
    let consumer = sim.router.transport(t).unwrap().consumers()[1];
    sim.run_for(Duration::from_secs(4));

    let mut rates = Vec::new();
    for tl in [0u8, 1, 2, 0, 2] {
        let before = sim.now;
        let prev = sim.router.consumer(consumer).unwrap().current_layers();
        sim.router
            .consumer(consumer)
            .unwrap()
            .set_preferred_layers(sim.now, Layers::new(2, tl));
        sim.run_for(Duration::from_millis(500));
        // Going up, each newly forwarded layer starts on a layer-sync frame
        // (its references were forwarded); T2 after T1 is never first.
        let old = prev.map_or(0, |l| l.temporal);
        for layer in old.saturating_add(1)..=tl {
            let first = sim
                .client(sub)
                .track(MediaKind::Video)
                .iter()
                .filter(|r| r.at > before)
                .filter_map(|r| r.vp8)
                .find(|v| v.start && v.tid == Some(layer));
            assert!(
                first.is_some_and(|v| v.sync),
                "T{layer} resumed on {first:?}"
            );
        }
        let from = sim.now;
        sim.run_for(Duration::from_secs(4));
        let frames = sim
            .client(sub)
            .track(MediaKind::Video)
            .iter()
            .filter(|r| r.at > from && r.vp8.is_some_and(|v| v.start))
            .count() as f64
            / 4.0;
        rates.push(frames);
        assert_eq!(
            sim.router.consumer(consumer).unwrap().current_layers(),
            Some(Layers::new(2, tl))
        );
    }
    // 30 fps source in an L1T3 pattern: 7.5, 15 and 30 fps.
    let expect = [7.5, 15.0, 30.0, 7.5, 30.0];
    for (got, want) in rates.iter().zip(expect) {
        assert!((got - want).abs() <= 1.0, "frame rates {rates:?}");
    }
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    assert_eq!(check::missing_seqs(&v), 0);
    // Only base-layer-or-allowed temporal ids reached the subscriber.
    assert!(v.iter().all(|r| r.vp8.is_some()));
}
