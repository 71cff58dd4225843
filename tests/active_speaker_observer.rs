//! Scenario: three publishers with scripted audio levels (RFC 6464 header
//! extension) and an active speaker observer. A talks from 1 s to 6 s, B
//! coughs for 300 ms at 3 s, B talks from 7 s, C never speaks. A is the
//! dominant speaker within a second, B's cough does not switch, B takes
//! over within about a second of starting to talk; a closed producer
//! leaves the observer, a closed observer reports nothing more, and the
//! router's counts go back to zero.

use std::time::Duration;

use manifold_sfu::{ActiveSpeakerObserverOptions, Event, MediaKind, ObserverKind};
use manifold_testkit::{LinkConfig, Sim};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn active_speaker_observer() {
    let mut sim = Sim::new(7);
    let mut producers = Vec::new();
    let mut transports = Vec::new();
    let mut peers = Vec::new();
    for name in ["A", "B", "C"] {
        let i = sim.add_peer(name, LinkConfig::default(), LinkConfig::default());
        let (t, p) = sim.publish(i, true, false);
        assert_eq!(p.len(), 1);
        peers.push(i);
        transports.push(t);
        producers.push(p[0]);
    }
    let (a, b, c) = (producers[0], producers[1], producers[2]);
    sim.speak(peers[0], secs(1.0), secs(6.0), -20);
    sim.speak(peers[1], secs(3.0), secs(3.3), -10);
    sim.speak(peers[1], secs(7.0), secs(11.0), -25);
    // A subscriber of A's audio: the level travels with the packets.
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(sub, &[a]);

    let o = sim
        .router
        .create_active_speaker_observer(sim.now, ActiveSpeakerObserverOptions::default())
        .unwrap();
    {
        let mut view = sim.router.observer(o).unwrap();
        assert_eq!(view.kind(), ObserverKind::ActiveSpeaker);
        for p in &producers {
            view.add_producer(sim.now, *p).unwrap();
        }
        assert_eq!(view.producers(), producers);
    }
    assert_eq!(sim.router.counts().observers, 1);

    let deadline = sim.start + secs(11.0);
    sim.run_until(|s| s.now >= deadline, deadline);
    let changes: Vec<(Duration, _)> = sim
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::DominantSpeaker { observer, producer } if *observer == o => {
                Some((*at - sim.start, *producer))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes.iter().map(|c| c.1).collect::<Vec<_>>(),
        [a, b],
        "A then B, the cough ignored: {changes:?}"
    );
    assert!(
        changes[0].0 >= secs(1.0) && changes[0].0 <= secs(2.0),
        "A within a second: {changes:?}"
    );
    assert!(
        changes[1].0 >= secs(7.3) && changes[1].0 <= secs(8.1),
        "B takes over within about a second: {changes:?}"
    );
    assert_eq!(sim.router.observer(o).unwrap().dominant_speaker(), Some(b));

    // The level reached the subscriber with A's packets.
    let rx = sim.client(sub).track(MediaKind::Audio).to_vec();
    let levels: Vec<i8> = rx.iter().filter_map(|r| r.audio_level).collect();
    assert!(levels.contains(&-20), "forwarded levels: {levels:?}");

    // A closed producer leaves the observer.
    sim.router.transport(transports[2]).unwrap().close(sim.now);
    sim.drain_router();
    assert_eq!(sim.router.observer(o).unwrap().producers(), [a, b]);
    let _ = c;

    // A closed observer reports nothing more.
    sim.router.observer(o).unwrap().close(sim.now);
    assert!(sim.router.observer(o).is_none());
    let before = sim.events.len();
    sim.speak(peers[0], secs(11.0), secs(14.0), -10);
    sim.run_for(secs(3.0));
    assert_eq!(
        sim.events[before..]
            .iter()
            .filter(|(_, e)| e.observer().is_some())
            .count(),
        0
    );

    // Everything closed: nothing left.
    for t in sim.router.transport_ids() {
        sim.router.transport(t).unwrap().close(sim.now);
    }
    sim.drain_router();
    let counts = sim.router.counts();
    assert_eq!(
        (
            counts.transports,
            counts.producers,
            counts.consumers,
            counts.observers,
            counts.timers
        ),
        (0, 0, 0, 0, 0),
        "{counts:?}"
    );
}
