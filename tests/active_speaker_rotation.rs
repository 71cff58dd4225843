//! Scenario (issue #15, harness test 2): three publishers over links with
//! 5 % loss and jitter; the speaker changes every 3 s (A, B, C, A, B), and
//! between changes the two others interject for 300 ms each. Every change
//! is reported within 1 s of the new speaker starting, no interjection
//! causes a switch, and an audio level observer beside it reports at its
//! interval with the speaker loudest.

use std::time::Duration;

use manifold_sfu::{ActiveSpeakerObserverOptions, AudioLevelObserverOptions, Event};
use manifold_testkit::{LinkConfig, Sim};

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn active_speaker_rotation() {
    let mut sim = Sim::new(23);
    let link = LinkConfig {
        loss: 0.05,
        jitter: ms(15),
        ..LinkConfig::default()
    };
    let mut peers = Vec::new();
    let mut producers = Vec::new();
    for name in ["A", "B", "C"] {
        let i = sim.add_peer(name, link, link);
        let (_, p) = sim.publish(i, true, false);
        peers.push(i);
        producers.push(p[0]);
    }
    // Turns of 3 s from 1 s: speaker k talks at -22 dBov; in each turn the
    // two others interject for 300 ms at -15 dBov (louder than the speaker),
    // at 1.0 s and 2.0 s into the turn.
    let turns = [0usize, 1, 2, 0, 1];
    let start = 1000;
    for (n, &k) in turns.iter().enumerate() {
        let t0 = start + 3000 * n as u64;
        sim.speak(peers[k], ms(t0), ms(t0 + 3000), -22);
        let others: Vec<usize> = (0..3).filter(|o| *o != k).collect();
        sim.speak(peers[others[0]], ms(t0 + 1000), ms(t0 + 1300), -15);
        sim.speak(peers[others[1]], ms(t0 + 2000), ms(t0 + 2300), -15);
    }

    let speaker = sim
        .router
        .create_active_speaker_observer(sim.now, ActiveSpeakerObserverOptions::default())
        .unwrap();
    let levels = sim
        .router
        .create_audio_level_observer(
            sim.now,
            AudioLevelObserverOptions::default()
                .with_interval(ms(250))
                .with_max_entries(3)
                .with_threshold_dbov(-60),
        )
        .unwrap();
    for o in [speaker, levels] {
        let mut v = sim.router.observer(o).unwrap();
        for p in &producers {
            v.add_producer(sim.now, *p).unwrap();
        }
    }
    let end = sim.start + ms(start + 3000 * turns.len() as u64);
    sim.run_until(|s| s.now >= end, end);

    let changes: Vec<(Duration, usize)> = sim
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::DominantSpeaker { observer, producer } if *observer == speaker => Some((
                *at - sim.start,
                producers.iter().position(|p| p == producer).unwrap(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes.iter().map(|c| c.1).collect::<Vec<_>>(),
        turns,
        "one change per turn, none for an interjection: {changes:?}"
    );
    for (n, (at, _)) in changes.iter().enumerate() {
        let t0 = ms(start + 3000 * n as u64);
        assert!(
            *at >= t0 && *at <= t0 + ms(1000),
            "turn {n} reported at {at:?}, started at {t0:?}: {changes:?}"
        );
    }

    // Levels at the interval, the speaker loudest outside interjections.
    let reports: Vec<(Duration, Vec<(usize, i8)>)> = sim
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::AudioLevels {
                observer,
                levels: l,
            } if *observer == levels => Some((
                *at - sim.start,
                l.iter()
                    .map(|(p, db)| (producers.iter().position(|x| x == p).unwrap(), *db))
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    for w in reports.windows(2) {
        assert_eq!(w[1].0 - w[0].0, ms(250), "{:?} then {:?}", w[0], w[1]);
    }
    let mut checked = 0;
    for (n, &k) in turns.iter().enumerate() {
        // Reports covering 0.25 to 1 s into the turn (before the first
        // interjection): the speaker alone.
        let t0 = ms(start + 3000 * n as u64);
        for (at, l) in reports
            .iter()
            .filter(|(at, _)| *at >= t0 + ms(500) && *at <= t0 + ms(1000))
        {
            assert_eq!(l.len(), 1, "only the speaker at {at:?}: {l:?}");
            assert_eq!(l[0].0, k, "at {at:?}");
            assert!((l[0].1 + 22).abs() <= 2, "level at {at:?}: {l:?}");
            checked += 1;
        }
    }
    assert!(checked >= 2 * turns.len(), "{checked} reports checked");
}
