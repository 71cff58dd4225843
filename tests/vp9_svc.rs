//! Simulcast test 6 (VP9 part, simulated): one VP9 k-SVC stream with three
//! spatial layers and L1T3 temporal layers. The consumer drops spatial
//! layers above the chosen one (down at the next picture, up at a
//! keyframe), moves the RTP marker to the last forwarded layer, drops
//! temporal layers, and keeps the sequence continuous.

use std::time::Duration;

use manifold_sfu::{ConsumerId, Layers, MediaKind};
use manifold_testkit::{check, Rx, Sim};

fn window(sim: &mut Sim, sub: usize, from: std::time::Instant) -> Vec<Rx> {
    let mut v: Vec<Rx> = sim
        .client(sub)
        .track(MediaKind::Video)
        .iter()
        .filter(|r| r.at > from)
        .cloned()
        .collect();
    v.sort_by_key(|r| r.seq);
    v
}

/// A VP9 3-spatial-layer SVC publisher (L3T3, keyframes every
/// `keyframe_interval` or on request) and one subscriber, with no bandwidth
/// allocator. Returns the sim, the subscriber's peer and its video consumer.
fn vp9_session(seed: u64, keyframe_interval: Duration) -> (Sim, usize, ConsumerId) {
    Sim::layer_session(seed, |s| {
        s.vp9_svc = true;
        s.temporal_layers = 3;
        s.keyframe_interval = keyframe_interval;
    })
}

#[test]
fn vp9_spatial_and_temporal_layers() {
    let (mut sim, sub, consumer) = vp9_session(25, Duration::from_secs(2));
    sim.run_for(Duration::from_secs(3));

    for (spatial, temporal) in [(2u8, 2u8), (0, 2), (1, 0), (2, 1)] {
        sim.router
            .consumer(consumer)
            .unwrap()
            .set_preferred_layers(sim.now, Layers::new(spatial, temporal));
        // Up-switches wait for a keyframe (every 2 s here).
        sim.run_for(Duration::from_millis(2500));
        let from = sim.now;
        sim.run_for(Duration::from_secs(2));
        let v = window(&mut sim, sub, from);
        assert!(!v.is_empty());
        let max_sid = v.iter().filter_map(|r| r.vp9).map(|x| x.0).max().unwrap();
        let max_tid = v.iter().filter_map(|r| r.vp9).map(|x| x.1).max().unwrap();
        assert_eq!((max_sid, max_tid), (spatial, temporal), "forwarded layers");
        // The marker closes each picture on its highest forwarded layer.
        for r in v.iter().filter(|r| r.marker) {
            assert_eq!(r.vp9.unwrap().0, spatial, "marker on layer {:?}", r.vp9);
        }
        let pictures = v
            .iter()
            .filter(|r| r.vp9.is_some_and(|x| x.0 == 0 && x.2))
            .count() as f64
            / 2.0;
        let markers = v.iter().filter(|r| r.marker).count() as f64 / 2.0;
        assert!(
            (pictures - markers).abs() <= 1.0,
            "one marker per picture: {pictures} vs {markers}"
        );
        let want = [7.5, 15.0, 30.0][temporal as usize];
        assert!(
            (pictures - want).abs() <= 1.0,
            "{pictures} pictures/s at temporal {temporal}"
        );
        assert_eq!(
            sim.router.consumer(consumer).unwrap().current_layers(),
            Some(Layers::new(spatial, temporal))
        );
    }
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    assert_eq!(check::missing_seqs(&v), 0);
}

/// A publisher that sends keyframes only when asked (as Chromium does for
/// VP9 SVC): a spatial up-switch asks for the keyframe it needs.
#[test]
fn vp9_up_switch_asks_for_a_keyframe() {
    let (mut sim, _, consumer) = vp9_session(26, Duration::from_secs(600));
    sim.router
        .consumer(consumer)
        .unwrap()
        .set_preferred_layers(sim.now, Layers::new(0, 2));
    sim.run_for(Duration::from_secs(3));
    assert_eq!(
        sim.router.consumer(consumer).unwrap().current_layers(),
        Some(Layers::new(0, 2))
    );
    for spatial in [2u8, 0, 1] {
        sim.router
            .consumer(consumer)
            .unwrap()
            .set_preferred_layers(sim.now, Layers::new(spatial, 2));
        sim.run_for(Duration::from_secs(1));
        assert_eq!(
            sim.router.consumer(consumer).unwrap().current_layers(),
            Some(Layers::new(spatial, 2)),
            "switched to S{spatial} within 1 s without a periodic keyframe"
        );
    }
}
