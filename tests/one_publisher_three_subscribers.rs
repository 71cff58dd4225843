//! Scenario 1: one publisher (Opus + VP8), three subscribers. Each receives
//! both tracks continuously and its first video packet starts a keyframe.

use std::time::Duration;

use manifold_sfu::MediaKind;
use manifold_testkit::{check, LinkConfig, Sim};

#[test]
fn one_publisher_three_subscribers() {
    let mut sim = Sim::new(1);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    assert_eq!(producers.len(), 2);
    sim.run_for(Duration::from_secs(1));

    let subs: Vec<usize> = (0..3)
        .map(|i| {
            let s = sim.add_peer(
                &format!("sub{i}"),
                LinkConfig::default(),
                LinkConfig::default(),
            );
            sim.subscribe(s, &producers);
            s
        })
        .collect();
    sim.run_for(Duration::from_secs(10));

    // The producers know what they carry.
    let audio = sim.router.producer(producers[0]).unwrap();
    assert_eq!(audio.codecs(), ["opus"]);
    assert_eq!(audio.ssrcs().len(), 1);
    assert_eq!(sim.router.producer(producers[1]).unwrap().codecs(), ["VP8"]);
    for s in subs {
        let c = sim.client(s);
        assert!(c.connected, "{} connected", c.name);
        let video = c.track(MediaKind::Video).to_vec();
        let audio = c.track(MediaKind::Audio).to_vec();
        // 10 s of 30 fps video, at least 3 packets a frame; 50 audio packets a second.
        assert!(
            video.len() > 850,
            "{}: {} video packets",
            c.name,
            video.len()
        );
        assert!(
            audio.len() > 450,
            "{}: {} audio packets",
            c.name,
            audio.len()
        );
        assert!(
            video[0].keyframe_start,
            "{}: first video packet starts a keyframe",
            c.name
        );
        assert_eq!(check::missing_seqs(&video), 0, "{}: video gaps", c.name);
        assert_eq!(check::missing_seqs(&audio), 0, "{}: audio gaps", c.name);
        assert!(check::timestamps_monotonic(&video));
        // Continuous: no silence longer than 200 ms once started.
        let longest = video.windows(2).map(|w| w[1].at - w[0].at).max().unwrap();
        assert!(
            longest < Duration::from_millis(200),
            "{}: video stalled {longest:?}",
            c.name
        );
    }
}
