//! Simulcast test 7: simulcast signalled by SSRC group, as legacy Chromium
//! SDP munging does (`a=ssrc-group:SIM 111 222 333`, FID pairs for RTX, no
//! rids anywhere). The three SSRCs become the producer's three layers;
//! keyframe requests go to the SSRC of the layer that needs one; a
//! subscriber switches between them exactly as with rid simulcast, and falls
//! back when the high SSRC stops.

use std::time::Duration;

use manifold_sfu::{ConsumerId, Layers, MediaKind, RouterConfig};
use manifold_testkit::check::{self, first_at_layer};
use manifold_testkit::client::ssrc_label;
use manifold_testkit::{LinkConfig, Sim};
use str0m::media::Rid;

/// (SSRC, RTX SSRC), lowest encoding first.
const LAYERS: [(u32, u32); 3] = [(111, 112), (222, 223), (333, 334)];

fn rid_of(ssrc: u32) -> Option<Rid> {
    Some(Rid::from(ssrc_label(ssrc).as_str()))
}

/// A publisher of three VP8 encodings by SSRC group (L1T3 each, keyframes
/// only when asked) and one subscriber, with no bandwidth allocator.
fn session(config: RouterConfig) -> (Sim, usize, usize, ConsumerId) {
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish_ssrc_simulcast(publisher, &LAYERS, 3);
    sim.client(publisher)
        .source
        .as_mut()
        .unwrap()
        .keyframe_interval = Duration::from_secs(600);
    sim.run_for(Duration::from_secs(2));
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let t = sim.subscribe(sub, &producers);
    let consumer = sim.router.transport(t).unwrap().consumers()[1];
    (sim, publisher, sub, consumer)
}

fn config(seed: u64) -> RouterConfig {
    let mut config = RouterConfig::default();
    config.seed = Some(seed);
    config.initial_bandwidth_bps = None;
    config
}

#[test]
fn ssrc_group_layers_switch_like_rid_simulcast() {
    let (mut sim, publisher, sub, consumer) = session(config(27));
    let pid = sim.router.consumer(consumer).unwrap().producer();
    let layers = sim.router.producer(pid).unwrap().layers();
    let ssrcs: Vec<_> = layers.iter().map(|l| l.ssrc).collect();
    assert_eq!(ssrcs, [Some(111), Some(222), Some(333)], "layers from SIM");
    assert!(layers.iter().all(|l| l.live && l.rid.is_none()));
    assert!(sim.router.producer(pid).unwrap().rids().is_empty());

    // Starts on the top layer (preferred: the highest).
    sim.run_for(Duration::from_secs(2));
    let current = |sim: &mut Sim| {
        sim.router
            .consumer(consumer)
            .unwrap()
            .current_layers()
            .map(|l| l.spatial)
    };
    assert_eq!(current(&mut sim), Some(2));

    // Keyframes come only on request, so each switch within 1 s shows the
    // request reached the SSRC of the target layer.
    for spatial in [0u8, 2, 1, 2, 0, 1] {
        let (ssrc, _) = LAYERS[spatial as usize];
        let asked = |sim: &mut Sim| {
            let c = sim.client(publisher);
            c.keyframe_requests_by_rid
                .get(&rid_of(ssrc))
                .copied()
                .unwrap_or(0)
        };
        let before = asked(&mut sim);
        let from = sim.now;
        sim.router
            .consumer(consumer)
            .unwrap()
            .set_preferred_layers(sim.now, Layers::new(spatial, 2));
        sim.drain_router();
        sim.run_for(Duration::from_secs(1));
        assert_eq!(current(&mut sim), Some(spatial), "switched to {spatial}");
        assert!(asked(&mut sim) > before, "keyframe asked of SSRC {ssrc}");
        let at = first_at_layer(sim.client(sub).track(MediaKind::Video), spatial, from);
        assert!(at.is_some_and(|t| t - from <= Duration::from_secs(1)));
    }
    // Every request named one of the group's SSRCs, never the m-line alone.
    let by_rid = &sim.client(publisher).keyframe_requests_by_rid;
    assert!(by_rid
        .keys()
        .all(|r| LAYERS.iter().any(|(s, _)| rid_of(*s) == *r)));

    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    let switches = check::simulcast_stream(&v);
    assert!(switches >= 6, "only {switches} switches landed");

    // The high SSRC stops: on a lower layer within 1 s, from a keyframe.
    sim.router
        .consumer(consumer)
        .unwrap()
        .set_preferred_layers(sim.now, Layers::MAX);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(current(&mut sim), Some(2));
    sim.client(publisher).source.as_mut().unwrap().layers[2].enabled = false;
    let stopped = sim.now;
    sim.run_for(Duration::from_secs(2));
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    let down = first_at_layer(&v, 1, stopped).expect("fell back to the middle SSRC");
    assert!(
        down - stopped <= Duration::from_secs(1),
        "fallback took {:?}",
        down - stopped
    );
    assert!(v.iter().find(|r| r.at == down).unwrap().keyframe_start);
    let layers = sim.router.producer(pid).unwrap().layers();
    assert!(!layers[2].live && layers[1].live);
    check::simulcast_stream(&v);
    assert_eq!(sim.router.stats().dropped_unknown_layer, 0);
}

/// More SSRCs in the group than the layer limit: the extra one is ignored
/// (counted), its packets dropped (counted), and the rest work.
#[test]
fn ssrc_group_past_layer_limit_is_counted() {
    let mut config = config(28);
    config.limits.max_layers_per_producer = 2;
    let (mut sim, _, sub, consumer) = session(config);
    sim.run_for(Duration::from_secs(2));
    let pid = sim.router.consumer(consumer).unwrap().producer();
    let ssrcs: Vec<_> = sim
        .router
        .producer(pid)
        .unwrap()
        .layers()
        .iter()
        .map(|l| l.ssrc)
        .collect();
    assert_eq!(ssrcs, [Some(111), Some(222)]);
    let stats = sim.router.stats();
    assert_eq!(stats.ignored_layers, 1);
    assert!(stats.dropped_unknown_layer > 0);
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    assert!(!v.is_empty());
    assert!(v.iter().all(|r| r.vp8.is_some_and(|x| x.layer <= 1)));
    assert!(first_at_layer(&v, 1, sim.start).is_some());
    check::simulcast_stream(&v);
}
