//! Simulcast test 3 (AV1 SVC part): one AV1 stream with three spatial and
//! three temporal layers (L3T3 full SVC, the specification's example
//! Dependency Descriptor structure). The consumer forwards only the chosen
//! (and lower) layers, read back from the forwarded descriptor; every
//! forwarded frame's references were forwarded too (so up-switches happen
//! only where the descriptor allows: spatial at a keyframe, temporal at a
//! switch point); the RTP marker ends each temporal unit on its highest
//! forwarded layer; sequence numbers stay continuous.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use manifold_sfu::packet::{DependencyDescriptor, FrameDependencyStructure};
use manifold_sfu::{ConsumerId, Layers, MediaKind};
use manifold_testkit::av1::example_structure_l3t3;
use manifold_testkit::{check, Rx, Sim};

/// One forwarded packet with its descriptor.
struct Fwd {
    rx: Rx,
    dd: DependencyDescriptor,
}

fn forwarded(sim: &mut Sim, sub: usize, from: Instant, s: &FrameDependencyStructure) -> Vec<Fwd> {
    let v = check::by_seq(sim.client(sub).track(MediaKind::Video));
    v.into_iter()
        .filter(|r| r.at > from)
        .map(|rx| {
            let bytes = rx
                .dd
                .as_ref()
                .expect("descriptor forwarded on every packet");
            let dd = DependencyDescriptor::parse(bytes, Some(s)).expect("valid descriptor");
            Fwd { rx, dd }
        })
        .collect()
}

/// An AV1 L3T3 publisher (keyframes only on request) and one subscriber,
/// with no bandwidth allocator.
fn session(seed: u64) -> (Sim, usize, ConsumerId) {
    Sim::layer_session(seed, |s| {
        s.av1 = true;
        s.av1_l3t3 = true;
        s.keyframe_interval = Duration::from_secs(600);
    })
}

/// Every forwarded layer frame references only forwarded frames (after the
/// first keyframe): a spatial up-switch anywhere but at a keyframe, or a
/// temporal one anywhere but at a switch point, forwards a frame whose
/// reference was dropped.
fn assert_decodable(all: &[Fwd]) {
    let mut have = HashSet::new();
    let mut started = false;
    for f in all.iter().filter(|f| f.dd.start_of_frame) {
        // A keyframe starts over: nothing after it references what came before.
        if f.dd.attached_structure.is_some() {
            started = true;
            have.clear();
        }
        if !started {
            continue;
        }
        for d in &f.dd.fdiffs {
            let r = f.dd.frame_number.wrapping_sub(*d);
            assert!(
                have.contains(&r),
                "frame {} (S{}T{}) references frame {r}, never forwarded",
                f.dd.frame_number,
                f.dd.spatial_id,
                f.dd.temporal_id
            );
        }
        have.insert(f.dd.frame_number);
    }
    assert!(started, "no keyframe forwarded");
}

#[test]
fn av1_l3t3_spatial_and_temporal_layers_follow_the_descriptor() {
    let (mut sim, sub, consumer) = session(29);
    let structure = example_structure_l3t3();
    sim.run_for(Duration::from_secs(3));
    let current = sim.router.consumer(consumer).unwrap().current_layers();
    assert_eq!(current.map(|l| l.spatial), Some(2), "on the top layer");

    for (spatial, temporal) in [(0u8, 0u8), (2, 2), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1)] {
        sim.router
            .consumer(consumer)
            .unwrap()
            .set_preferred_layers(sim.now, Layers::new(spatial, temporal));
        sim.drain_router();
        // Up-switches ask for the keyframe they need.
        sim.run_for(Duration::from_secs(1));
        assert_eq!(
            sim.router.consumer(consumer).unwrap().current_layers(),
            Some(Layers::new(spatial, temporal)),
            "switched to S{spatial}T{temporal} within 1 s"
        );
        let from = sim.now;
        sim.run_for(Duration::from_secs(2));
        let v = forwarded(&mut sim, sub, from, &structure);
        assert!(!v.is_empty());
        for f in &v {
            let (s, t) = (f.dd.spatial_id, f.dd.temporal_id);
            assert!(
                s <= spatial && t <= temporal,
                "S{s}T{t} forwarded at S{spatial}T{temporal}"
            );
            // The marker ends the unit: the last packet of its top layer.
            assert_eq!(
                f.rx.marker,
                f.dd.end_of_frame && s == spatial,
                "marker of S{s}T{t} packet at seq {} (end of frame {})",
                f.rx.seq,
                f.dd.end_of_frame
            );
        }
        let top = v.iter().map(|f| (f.dd.spatial_id, f.dd.temporal_id));
        assert_eq!(top.clone().map(|x| x.0).max(), Some(spatial));
        assert_eq!(top.map(|x| x.1).max(), Some(temporal));
        let units = v
            .iter()
            .filter(|f| f.dd.start_of_frame && f.dd.spatial_id == 0)
            .count() as f64
            / 2.0;
        let want = [7.5, 15.0, 30.0][temporal as usize];
        assert!(
            (units - want).abs() <= 1.0,
            "{units} units/s at temporal {temporal}"
        );
        // Each unit has every layer up to the chosen one, one marker each.
        let markers = v.iter().filter(|f| f.rx.marker).count() as f64 / 2.0;
        assert!(
            (units - markers).abs() <= 1.0,
            "{units} units, {markers} markers/s"
        );
    }

    let start = sim.start;
    let all = forwarded(&mut sim, sub, start, &structure);
    assert_decodable(&all);
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    assert_eq!(check::missing_seqs(&v), 0, "sequence gap");
    assert!(check::timestamps_monotonic(&v), "timestamps go backwards");
}

/// Temporal up-switches requested at every point of the 4-unit cycle: each
/// lands where the descriptor marks a switch point for the new decode
/// target, never on a frame whose reference was dropped.
#[test]
fn av1_l3t3_temporal_up_switch_waits_for_a_switch_point() {
    let (mut sim, sub, consumer) = session(30);
    let structure = example_structure_l3t3();
    sim.run_for(Duration::from_secs(2));
    for k in 0..8u64 {
        for temporal in [0u8, 2, 1, 2] {
            sim.router
                .consumer(consumer)
                .unwrap()
                .set_preferred_layers(sim.now, Layers::new(1, temporal));
            sim.drain_router();
            sim.run_for(Duration::from_millis(300 + 33 * k));
        }
    }
    sim.run_for(Duration::from_secs(1));
    assert_eq!(
        sim.router.consumer(consumer).unwrap().current_layers(),
        Some(Layers::new(1, 2))
    );
    let start = sim.start;
    let all = forwarded(&mut sim, sub, start, &structure);
    assert_decodable(&all);
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    assert_eq!(check::missing_seqs(&v), 0, "sequence gap");
}
