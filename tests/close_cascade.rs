//! Scenario 6: closing a producer closes its consumers with events; closing
//! transports frees every entry of the router.

use std::time::Duration;

use manifold_sfu::{CloseReason, Event, SendPath};
use manifold_testkit::{LinkConfig, Sim};

#[test]
fn producer_close_cascades_and_transport_close_frees_everything() {
    let mut sim = Sim::new(6);
    let empty = sim.router.counts();
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (tp, producers) = sim.publish(publisher, true, true);
    let subs: Vec<_> = (0..3)
        .map(|i| {
            let s = sim.add_peer(
                &format!("s{i}"),
                LinkConfig::default(),
                LinkConfig::default(),
            );
            sim.subscribe(s, &producers)
        })
        .collect();
    sim.run_for(Duration::from_secs(2));
    let c = sim.router.counts();
    assert_eq!((c.transports, c.producers, c.consumers), (4, 2, 6));
    assert!(c.routes >= 4);
    let owned = sim.router.config().send_path == SendPath::Owned;
    // The owned path keeps the forwarded video's payloads for RTX answers.
    assert_eq!(c.kept_payloads > 0, owned, "{c:?}");

    // Close the video producer: its three consumers go first, with events.
    let video = producers[1];
    let mark = sim.events.len();
    sim.router.producer(video).unwrap().close(sim.now);
    sim.drain_router();
    let closed_consumers = sim.events[mark..]
        .iter()
        .filter(|(_, e)| {
            matches!(e, Event::ConsumerClosed { producer, reason: CloseReason::ProducerClosed, .. } if *producer == video)
        })
        .count();
    assert_eq!(closed_consumers, 3);
    assert!(sim.events[mark..].iter().any(|(_, e)| matches!(
        e,
        Event::ProducerClosed { producer, reason: CloseReason::Requested, .. } if *producer == video
    )));
    assert_eq!(sim.router.counts().consumers, 3);
    sim.run_for(Duration::from_secs(1));
    // Within two seconds of the last forwarded video packet (one sweep
    // period to age, one to sweep) the kept payloads are released, while
    // the transports stay open and audio flows.
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.router.counts().kept_payloads, 0);

    // Close the publisher's transport: the audio producer and its consumers go too.
    let mark = sim.events.len();
    sim.router.transport(tp).unwrap().close(sim.now);
    sim.drain_router();
    assert!(sim.events[mark..].iter().any(|(_, e)| matches!(
        e,
        Event::TransportClosed { transport, reason: CloseReason::Requested } if *transport == tp
    )));
    assert_eq!(
        sim.count_events(|e| matches!(
            e,
            Event::ConsumerClosed {
                reason: CloseReason::ProducerClosed,
                ..
            }
        )),
        6
    );
    let c = sim.router.counts();
    assert_eq!((c.transports, c.producers, c.consumers), (3, 0, 0));

    for t in subs {
        sim.router.transport(t).unwrap().close(sim.now);
    }
    sim.drain_router();
    let c = sim.router.counts();
    assert_eq!((c.transports, c.producers, c.consumers), (0, 0, 0));
    assert_eq!((c.ufrags, c.routes, c.timers), (0, 0, 0));
    assert_eq!(c, empty);
}
