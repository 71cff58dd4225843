//! A command on a view is settled before it returns: what it set off
//! (here, a panic inside the publisher's WebRTC stack while the producer's
//! resume asks for a keyframe) is handled at once, and the host's next
//! drain sees the transport closed, without waiting for another input.

use std::time::Duration;

use manifold_sfu::{testkit_hooks, CloseReason, Event, MediaKind, Output};
use manifold_testkit::{LinkConfig, Sim};

#[test]
fn a_failure_a_command_causes_is_reported_before_the_next_input() {
    let mut sim = Sim::new(21);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (tp, producers) = sim.publish(publisher, true, true);
    let viewer = sim.add_peer("view", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(viewer, &producers);
    sim.run_for(Duration::from_secs(2));
    let video = *producers
        .iter()
        .find(|p| sim.router.producer(**p).unwrap().kind() == MediaKind::Video)
        .unwrap();
    let now = sim.now;
    sim.router.producer(video).unwrap().pause(now);
    sim.drain_router();

    testkit_hooks::inject_panic(&mut sim.router, tp);
    // Resuming asks the publisher for a keyframe: the first call into its
    // WebRTC stack panics.
    sim.router.producer(video).unwrap().resume(now);
    let mut closed = None;
    loop {
        match sim.router.poll_output() {
            Output::Timeout(_) => break,
            Output::Event(Event::TransportClosed { transport, reason }) => {
                closed = Some((transport, reason));
            }
            _ => {}
        }
    }
    assert_eq!(closed, Some((tp, CloseReason::Failed)));
    assert_eq!(sim.router.counts().producers, 0);
}
