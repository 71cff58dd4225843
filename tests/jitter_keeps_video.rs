//! A jittery link (10 ms of random extra delay per datagram, so datagrams
//! reorder) makes the send-side estimate fall well below a single-layer
//! video's bitrate without any loss. The video that already flows when the
//! allocator first decides is not switched off: before the fix it stalled
//! for about 3.8 s (seed 7 then), from the allocator's first round until
//! the estimate climbed back.
//!
//! The premise is the WebRTC stack's estimator's (str0m's): the owned send
//! path's estimator does not take reordering for a queue, so there the
//! estimate stays above the video's bitrate and the video never stalls
//! (the second test).

use std::time::Duration;

use manifold_sfu::{Event, MediaKind, RouterConfig, SendPath};
use manifold_testkit::{LinkConfig, Sim};

/// One viewer on a jittery link for 10 s: the lowest estimate seen, the
/// longest gap in its video, and whether the allocator ever paused it.
fn run(seed: u64, path: SendPath) -> (u64, Duration, usize) {
    let mut config = RouterConfig::default();
    config.seed = Some(seed);
    config.send_path = path;
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    let jittery = LinkConfig {
        jitter: Duration::from_millis(10),
        ..LinkConfig::default()
    };
    let viewer = sim.add_peer("viewer", jittery, jittery);
    let tv = sim.subscribe(viewer, &producers);
    let mut lowest_estimate = u64::MAX;
    for _ in 0..20 {
        sim.run_for(Duration::from_millis(500));
        let bw = sim.router.transport(tv).unwrap().bandwidth();
        lowest_estimate = lowest_estimate.min(bw.estimate_bps.unwrap_or(u64::MAX));
    }
    let video = sim.client(viewer).track(MediaKind::Video).to_vec();
    let mut last = video.first().expect("video arrives").at;
    let mut longest = Duration::ZERO;
    for r in &video {
        longest = longest.max(r.at.saturating_duration_since(last));
        last = r.at;
    }
    longest = longest.max(sim.now.saturating_duration_since(last));
    let paused =
        sim.count_events(|e| matches!(e, Event::ConsumerAllocationChanged { bitrate: None, .. }));
    (lowest_estimate, longest, paused)
}

#[test]
fn a_flowing_video_survives_an_estimate_that_falls_without_loss() {
    let mut fell = 0;
    for seed in 1..=12 {
        let (lowest, longest, paused) = run(seed, SendPath::WebRtcStack);
        // The premise: the estimate fell below the video's bitrate.
        if lowest >= 600_000 {
            continue;
        }
        fell += 1;
        assert!(
            longest < Duration::from_millis(500),
            "seed {seed}: estimate down to {lowest}, video stalled for {longest:?}"
        );
        assert_eq!(paused, 0, "seed {seed}: the allocator paused the video");
    }
    assert!(fell >= 3, "only {fell} seeds made the estimate fall");
}

#[test]
fn the_owned_paths_estimate_does_not_fall_for_jitter() {
    for seed in 1..=6 {
        let (lowest, longest, paused) = run(seed, SendPath::Owned);
        assert!(
            lowest >= 600_000,
            "seed {seed}: estimate down to {lowest} on a jittery link without loss"
        );
        assert!(
            longest < Duration::from_millis(500),
            "seed {seed}: video stalled for {longest:?} (lowest estimate {lowest}, paused {paused})"
        );
        assert_eq!(paused, 0, "seed {seed}: the allocator paused the video");
    }
}
