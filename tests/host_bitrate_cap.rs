//! The host's bitrate ceiling and the bandwidth allocator combine: a host
//! that caps a consumer (a thumbnail tile, a plan limit) keeps its cap while
//! the allocator runs every 250 ms on a wide link, the lower of the two
//! wins, and lifting the cap brings the top layer back.

use std::time::Duration;

use manifold_sfu::ConsumerId;
use manifold_testkit::table::video_consumers;
use manifold_testkit::{LinkConfig, Sim};

/// The spatial layer forwarded at each 100 ms step for `dur`.
fn watch(sim: &mut Sim, c: ConsumerId, dur: Duration) -> Vec<Option<u8>> {
    let end = sim.now + dur;
    let mut seen = Vec::new();
    while sim.now < end {
        sim.run_for(Duration::from_millis(100));
        let layers = sim.router.consumer(c).unwrap().current_layers();
        seen.push(layers.map(|l| l.spatial));
    }
    seen
}

#[test]
fn host_ceiling_survives_the_allocator() {
    let mut sim = Sim::new(51);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish_simulcast(publisher, &["q", "h", "f"], 1);
    sim.client(publisher)
        .source
        .as_mut()
        .unwrap()
        .keyframe_interval = Duration::from_secs(2);
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let t = sim.subscribe(sub, &producers);
    let video = video_consumers(&mut sim, t)[0];
    // A wide link: the allocator gives the top layer.
    let before = watch(&mut sim, video, Duration::from_secs(8));
    assert_eq!(before.last(), Some(&Some(2)), "top layer first: {before:?}");

    // The host caps the consumer below the middle layer's bitrate.
    let q = sim.router.producer(producers[1]).unwrap().layers()[0].bitrate_bps;
    let h = sim.router.producer(producers[1]).unwrap().layers()[1].bitrate_bps;
    assert!(q > 0 && h > q, "measured layers {q} {h}");
    let cap = (q + h) / 2;
    let now = sim.now;
    sim.router
        .consumer(video)
        .unwrap()
        .set_max_bitrate(now, Some(cap));
    let capped = watch(&mut sim, video, Duration::from_secs(10));
    // Within 3 s on the lowest layer, and there for the remaining 7 s while
    // the allocator ran about 28 times.
    assert!(
        capped[30..].iter().all(|l| *l == Some(0)),
        "the allocator overrode the host's ceiling: {capped:?}"
    );
    let stats = sim.router.consumer(video).unwrap().stats();
    assert_eq!(stats.max_bitrate_bps, Some(cap));
    assert!(
        stats.allocated_bps.is_some_and(|a| a >= q),
        "the allocator still gives a share: {stats:?}"
    );

    // The ceiling is lifted: back to the top layer.
    let now = sim.now;
    sim.router
        .consumer(video)
        .unwrap()
        .set_max_bitrate(now, None);
    let lifted = watch(&mut sim, video, Duration::from_secs(6));
    assert_eq!(lifted.last(), Some(&Some(2)), "top layer again: {lifted:?}");
}
