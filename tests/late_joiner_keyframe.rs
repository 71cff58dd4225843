//! Scenario 2: a subscriber joining 10 s into the stream receives a keyframe
//! within two round trips of connecting.

use std::time::Duration;

use manifold_sfu::{Event, MediaKind};
use manifold_testkit::{LinkConfig, Sim};

#[test]
fn late_joiner_gets_keyframe_within_two_round_trips() {
    let mut sim = Sim::new(2);
    let link = LinkConfig {
        delay: Duration::from_millis(25),
        ..Default::default()
    };
    let publisher = sim.add_peer("pub", link, link);
    let (_, producers) = sim.publish(publisher, true, true);
    // Keyframes only every 30 s unless asked: the joiner must not wait for one.
    sim.client(publisher)
        .source
        .as_mut()
        .unwrap()
        .keyframe_interval = Duration::from_secs(30);
    sim.run_for(Duration::from_secs(10));

    let sub = sim.add_peer("late", link, link);
    let t = sim.subscribe(sub, &producers);
    sim.run_for(Duration::from_secs(3));

    let connected_at = sim
        .events
        .iter()
        .find_map(|(at, e)| match e {
            Event::TransportConnected { transport } if *transport == t => Some(*at),
            _ => None,
        })
        .expect("subscriber connected");
    let video = sim.client(sub).track(MediaKind::Video).to_vec();
    assert!(!video.is_empty(), "video arrived");
    assert!(video[0].keyframe_start, "first packet starts a keyframe");
    // Round trip subscriber-router-publisher: 4 links of 25 ms.
    let round_trip = Duration::from_millis(100);
    let waited = video[0].at - connected_at;
    assert!(waited <= 2 * round_trip, "keyframe after {waited:?}");
    assert!(video.len() > 200, "stream continues: {}", video.len());
}
