//! Simulcast test 2: the high layer stops; the consumer is on a lower layer
//! within 1 s, and back within 1 s of the layer's return.

use std::time::Duration;

use manifold_sfu::{MediaKind, RouterConfig};
use manifold_testkit::check::first_at_layer;
use manifold_testkit::{LinkConfig, Sim};

#[test]
fn falls_back_when_a_layer_stops_and_returns_when_it_comes_back() {
    // Layer liveness is under test, not bandwidth: no allocator.
    let mut config = RouterConfig::default();
    config.seed = Some(22);
    config.initial_bandwidth_bps = None;
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish_simulcast(publisher, &["q", "h", "f"], 1);
    sim.client(publisher)
        .source
        .as_mut()
        .unwrap()
        .keyframe_interval = Duration::from_secs(30);
    sim.run_for(Duration::from_secs(2));
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(sub, &producers);
    sim.run_for(Duration::from_secs(2));
    let start = sim.start;
    assert!(
        first_at_layer(sim.client(sub).track(MediaKind::Video), 2, start).is_some(),
        "on the high layer"
    );

    // The sender drops the high layer (e.g. CPU or bandwidth limited).
    sim.client(publisher).source.as_mut().unwrap().layers[2].enabled = false;
    let stopped = sim.now;
    sim.run_for(Duration::from_secs(3));
    let down = first_at_layer(sim.client(sub).track(MediaKind::Video), 1, stopped)
        .expect("fell back to h");
    assert!(
        down - stopped <= Duration::from_secs(1),
        "fallback took {:?}",
        down - stopped
    );
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    let fell = v.iter().find(|r| r.at == down).unwrap();
    assert!(fell.keyframe_start);

    // It comes back.
    sim.client(publisher).source.as_mut().unwrap().layers[2].enabled = true;
    let back = sim.now;
    sim.run_for(Duration::from_secs(3));
    let up = first_at_layer(sim.client(sub).track(MediaKind::Video), 2, back).expect("back on f");
    assert!(
        up - back <= Duration::from_secs(1),
        "return took {:?}",
        up - back
    );
}
