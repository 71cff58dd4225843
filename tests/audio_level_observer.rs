//! Scenario: three publishers with scripted audio levels (RFC 6464 header
//! extension) and an audio level observer reporting every 500 ms. A talks
//! at -20 dBov and B at -35 dBov from 1 s to 5 s, C is silent: each report
//! lists A then B with their levels (within 2 dB), at the interval; then
//! one silence report when they stop (none before they start, as in
//! mediasoup). A paused observer reports nothing; a closed one
//! neither, and the router's observer count goes back to zero.

use std::time::Duration;

use manifold_sfu::{AudioLevelObserverOptions, Event, ObserverKind};
use manifold_testkit::{LinkConfig, Sim};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn audio_level_observer() {
    let mut sim = Sim::new(11);
    let mut producers = Vec::new();
    let mut peers = Vec::new();
    for name in ["A", "B", "C"] {
        let i = sim.add_peer(name, LinkConfig::default(), LinkConfig::default());
        let (_, p) = sim.publish(i, true, false);
        peers.push(i);
        producers.push(p[0]);
    }
    let (a, b) = (producers[0], producers[1]);
    sim.speak(peers[0], secs(1.0), secs(5.0), -20);
    sim.speak(peers[1], secs(1.0), secs(5.0), -35);
    // C's packets say silence all along.
    sim.speak(peers[2], secs(0.0), secs(0.0), -127);

    let options = AudioLevelObserverOptions::default()
        .with_interval(Duration::from_millis(500))
        .with_threshold_dbov(-70)
        .with_max_entries(3);
    let o = sim
        .router
        .create_audio_level_observer(sim.now, options)
        .unwrap();
    for p in &producers {
        sim.router
            .observer(o)
            .unwrap()
            .add_producer(sim.now, *p)
            .unwrap();
    }
    assert_eq!(
        sim.router.observer(o).unwrap().kind(),
        ObserverKind::AudioLevel
    );

    let deadline = sim.start + secs(8.0);
    sim.run_until(|s| s.now >= deadline, deadline);
    let reports: Vec<(Duration, Option<Vec<_>>)> = sim
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::AudioLevels { observer, levels } if *observer == o => {
                Some((*at - sim.start, Some(levels.clone())))
            }
            Event::Silence { observer } if *observer == o => Some((*at - sim.start, None)),
            _ => None,
        })
        .collect();
    let loud: Vec<_> = reports
        .iter()
        .filter(|(at, _)| *at >= secs(1.6) && *at <= secs(5.0))
        .collect();
    assert!(loud.len() >= 6, "{reports:?}");
    for (at, levels) in &loud {
        let levels = levels.as_ref().expect("levels while A and B talk");
        assert_eq!(levels.len(), 2, "at {at:?}: {levels:?}");
        assert_eq!(levels[0].0, a, "A loudest at {at:?}");
        assert_eq!(levels[1].0, b, "then B at {at:?}");
        assert!((levels[0].1 + 20).abs() <= 2, "A's level {levels:?}");
        assert!((levels[1].1 + 35).abs() <= 2, "B's level {levels:?}");
    }
    // At the interval.
    for w in loud.windows(2) {
        assert_eq!(w[1].0 - w[0].0, Duration::from_millis(500), "{reports:?}");
    }
    // Nothing before they talk (nobody was heard yet), one silence report
    // once they stop.
    assert!(
        reports.iter().all(|(at, _)| *at > secs(1.0)),
        "nothing before anyone talks: {reports:?}"
    );
    let after: Vec<_> = reports.iter().filter(|(at, _)| *at > secs(5.1)).collect();
    assert_eq!(after.len(), 1, "one silence report: {reports:?}");
    assert!(after[0].1.is_none());

    // Paused: nothing, even while A talks.
    sim.router.observer(o).unwrap().pause(sim.now);
    sim.speak(peers[0], secs(8.0), secs(12.0), -20);
    let before = sim.events.len();
    sim.run_for(secs(2.0));
    let observed = |sim: &Sim, from: usize| {
        sim.events[from..]
            .iter()
            .filter(|(_, e)| e.observer() == Some(o))
            .count()
    };
    assert_eq!(observed(&sim, before), 0);
    sim.router.observer(o).unwrap().resume(sim.now);
    let before = sim.events.len();
    sim.run_for(secs(1.1));
    assert_eq!(observed(&sim, before), 2, "reports again after resume");

    sim.router.observer(o).unwrap().close(sim.now);
    let before = sim.events.len();
    sim.run_for(secs(2.0));
    assert_eq!(observed(&sim, before), 0);
    assert_eq!(sim.router.counts().observers, 0);
}
