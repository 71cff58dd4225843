//! Read-only views: several at once from a shared borrow of the router,
//! reading the same state as the command views.

use std::time::Duration;

use manifold_sfu::{MediaKind, Router};
use manifold_testkit::{LinkConfig, Sim};

#[test]
fn read_only_views_share_the_router() {
    let mut sim = Sim::new(31);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (tp, producers) = sim.publish(publisher, true, true);
    let viewer = sim.add_peer("view", LinkConfig::default(), LinkConfig::default());
    let tv = sim.subscribe(viewer, &producers);
    sim.run_for(Duration::from_secs(2));

    let router: &Router = &sim.router;
    // Two transports, a producer and a consumer viewed at the same time.
    let (publisher_t, viewer_t) = (
        router.transport_ref(tp).unwrap(),
        router.transport_ref(tv).unwrap(),
    );
    assert!(publisher_t.is_connected() && viewer_t.is_connected());
    assert_eq!(publisher_t.producers(), producers);
    let video = producers
        .iter()
        .map(|p| router.producer_ref(*p).unwrap())
        .find(|p| p.kind() == MediaKind::Video)
        .unwrap();
    assert!(video.packets_received() > 50);
    let consumers = viewer_t.consumers();
    assert_eq!(consumers.len(), 2);
    let c = router.consumer_ref(consumers[0]).unwrap();
    assert_eq!(c.transport(), tv);
    let (sent_ref, stats_ref) = (c.packets_sent(), viewer_t.stats().packets_out);
    assert!(sent_ref > 0);

    // The command view reads the same.
    let cid = consumers[0];
    assert_eq!(sim.router.consumer(cid).unwrap().packets_sent(), sent_ref);
    assert_eq!(
        sim.router.transport(tv).unwrap().stats().packets_out,
        stats_ref
    );
    assert!(sim.router.transport_ref(tv).is_some());
    // Stale ids reach nothing.
    sim.router.transport(tv).unwrap().close(sim.now);
    assert!(sim.router.transport_ref(tv).is_none());
    assert!(sim.router.consumer_ref(cid).is_none());
}
