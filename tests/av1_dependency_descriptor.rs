//! Simulcast test 3 (AV1 part): an AV1 stream with the Dependency Descriptor
//! (L1T3). The descriptor is negotiated and forwarded; temporal layers are
//! dropped from the descriptor alone (the payload is never read for it), so
//! the output frame rate follows the chosen temporal layer.

use std::time::Duration;

use manifold_sfu::packet::DependencyDescriptor;
use manifold_sfu::{Layers, MediaKind};
use manifold_testkit::av1::example_structure_l1t3;
use manifold_testkit::{check, LinkConfig, Sim};

#[test]
fn av1_temporal_layers_follow_the_dependency_descriptor() {
    let mut sim = Sim::new(24);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish_layers(publisher, &[], 3, true);
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let t = sim.subscribe(sub, &producers);
    let consumer = sim.router.transport(t).unwrap().consumers()[1];
    // Let the bandwidth estimate ramp up past this single ~1 Mbit/s encoding.
    sim.run_for(Duration::from_secs(9));
    assert!(
        !sim.router
            .consumer(consumer)
            .unwrap()
            .stats()
            .paused_for_bandwidth
    );
    let structure = example_structure_l1t3();

    let mut rates = Vec::new();
    for tl in [0u8, 1, 2, 0] {
        sim.router
            .consumer(consumer)
            .unwrap()
            .set_preferred_layers(sim.now, Layers::new(0, tl));
        sim.run_for(Duration::from_millis(500));
        let from = sim.now;
        sim.run_for(Duration::from_secs(4));
        let v = sim.client(sub).track(MediaKind::Video).to_vec();
        let mut frames = 0;
        for r in v.iter().filter(|r| r.at > from) {
            let dd = r.dd.as_ref().expect("descriptor forwarded on every packet");
            let d = DependencyDescriptor::parse(dd, Some(&structure)).expect("valid descriptor");
            assert!(
                d.temporal_id <= tl,
                "temporal layer {} forwarded at {tl}",
                d.temporal_id
            );
            frames += d.start_of_frame as usize;
        }
        rates.push(frames as f64 / 4.0);
    }
    let expect = [7.5, 15.0, 30.0, 7.5];
    for (got, want) in rates.iter().zip(expect) {
        assert!((got - want).abs() <= 1.0, "frame rates {rates:?}");
    }
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    assert_eq!(check::missing_seqs(&v), 0);
}
