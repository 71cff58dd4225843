//! A panic inside one transport's WebRTC stack closes that transport only.

use std::time::Duration;

use manifold_sfu::{testkit_hooks, CloseReason, Event, MediaKind};
use manifold_testkit::{check, LinkConfig, Sim};

#[test]
fn panic_in_one_transport_closes_only_that_transport() {
    let mut sim = Sim::new(12);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    let a = sim.add_peer("a", LinkConfig::default(), LinkConfig::default());
    let b = sim.add_peer("b", LinkConfig::default(), LinkConfig::default());
    let ta = sim.subscribe(a, &producers);
    sim.subscribe(b, &producers);
    sim.run_for(Duration::from_secs(2));

    // The test kit's hook (feature `testkit-hooks`): the next call into
    // `ta`'s WebRTC stack panics.
    testkit_hooks::inject_panic(&mut sim.router, ta);
    sim.run_for(Duration::from_secs(3));
    assert!(sim.events.iter().any(|(_, e)| matches!(
        e,
        Event::TransportClosed { transport, reason: CloseReason::Failed } if *transport == ta
    )));
    let c = sim.router.counts();
    assert_eq!((c.transports, c.producers, c.consumers), (2, 2, 2));
    let v = sim.client(b).track(MediaKind::Video).to_vec();
    assert!(v.len() > 400);
    assert_eq!(check::missing_seqs(&v), 0);
}
