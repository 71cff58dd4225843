//! Scenario 5: pausing a producer and a consumer forwards nothing while
//! paused; after resume the subscriber's sequence numbers continue with no
//! gap it would NACK, and video resumes on a keyframe.

use std::time::Duration;

use manifold_sfu::MediaKind;
use manifold_testkit::{check, LinkConfig, Sim};

#[test]
fn producer_and_consumer_pause_resume_without_gaps() {
    let mut sim = Sim::new(5);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    let a = sim.add_peer("a", LinkConfig::default(), LinkConfig::default());
    let b = sim.add_peer("b", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(a, &producers);
    let tb = sim.subscribe(b, &producers);
    sim.run_for(Duration::from_secs(3));

    // Pause the video producer: both subscribers stop getting video.
    let video = producers[1];
    sim.router.producer(video).unwrap().pause(sim.now);
    let paused_at = sim.now;
    sim.run_for(Duration::from_secs(2));
    let resumed_at = sim.now;
    sim.router.producer(video).unwrap().resume(sim.now);
    sim.drain_router();
    sim.run_for(Duration::from_secs(2));

    // Pause b's audio consumer only.
    let b_audio = sim
        .router
        .transport(tb)
        .unwrap()
        .consumers()
        .into_iter()
        .find(|c| sim.router.consumer(*c).unwrap().kind() == MediaKind::Audio)
        .unwrap();
    sim.router.consumer(b_audio).unwrap().pause(sim.now);
    let c_paused_at = sim.now;
    sim.run_for(Duration::from_secs(2));
    let c_resumed_at = sim.now;
    sim.router.consumer(b_audio).unwrap().resume(sim.now);
    sim.run_for(Duration::from_secs(2));

    let in_flight = Duration::from_millis(100);
    for s in [a, b] {
        let c = sim.client(s);
        let v = c.track(MediaKind::Video).to_vec();
        let during = v
            .iter()
            .filter(|r| r.at > paused_at + in_flight && r.at <= resumed_at)
            .count();
        assert_eq!(
            during, 0,
            "{}: video forwarded while producer paused",
            c.name
        );
        let after = v
            .iter()
            .find(|r| r.at > resumed_at)
            .expect("video after resume");
        assert!(after.keyframe_start, "{}: resumes on a keyframe", c.name);
        assert_eq!(check::missing_seqs(&v), 0, "{}: video seq gap", c.name);
        assert!(check::timestamps_monotonic(&v));
    }
    let audio_b = sim.client(b).track(MediaKind::Audio).to_vec();
    let during = audio_b
        .iter()
        .filter(|r| r.at > c_paused_at + in_flight && r.at <= c_resumed_at)
        .count();
    assert_eq!(during, 0, "audio forwarded while consumer paused");
    assert!(audio_b.iter().any(|r| r.at > c_resumed_at + in_flight));
    assert_eq!(
        check::missing_seqs(&audio_b),
        0,
        "audio seq gap after consumer resume"
    );
    // a's audio was never paused.
    let audio_a = sim.client(a).track(MediaKind::Audio).to_vec();
    assert!(audio_a
        .iter()
        .any(|r| r.at > c_paused_at + in_flight && r.at <= c_resumed_at));
}
