//! The opt-in trace events for the moments people debug (the crate
//! documentation's "Logging"): under loss on both legs, the NACKs a
//! subscriber sends and the NACKs the router sends its publisher are
//! traced per stats report, and their counts add up to the stats
//! snapshots; keyframe requests, keyframes forwarded, layer switches and
//! estimates appear too.

use std::time::Duration;

use manifold_testkit::logs::{capture, field};
use manifold_testkit::{LinkConfig, Sim};

/// The sum of `nacks=` over the lines with `message` and `key=value`.
fn nacks(log: &str, message: &str, key: &str, value: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains(message) && field(l, key) == Some(value))
        .map(|l| field(l, "nacks").unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn nacks_are_traced_under_loss_and_add_up_to_the_stats() {
    let mut sim = Sim::new(5);
    // The router's own events only (str0m traces every packet).
    let ((publisher, producers, lossy, clean, t_lossy), log) =
        capture("manifold_sfu=trace", || {
            let publisher = sim.add_peer("pub", LinkConfig::lossy(0.05), LinkConfig::default());
            let (_, producers) = sim.publish(publisher, true, true);
            sim.run_for(Duration::from_millis(500));
            let lossy = sim.add_peer("lossy", LinkConfig::default(), LinkConfig::lossy(0.05));
            let clean = sim.add_peer("clean", LinkConfig::default(), LinkConfig::default());
            let t_lossy = sim.subscribe(lossy, &producers);
            sim.subscribe(clean, &producers);
            sim.run_for(Duration::from_secs(8));
            (publisher, producers, lossy, clean, t_lossy)
        });
    assert!(sim.peers[publisher].up.lost > 10);
    assert!(sim.peers[lossy].down.lost > 10);
    let _ = clean;

    // The lossy subscriber's video consumer: its NACKs are traced, and the
    // traced counts add up to what its snapshot says it served.
    let video = sim.router.transport(t_lossy).unwrap().consumers()[1];
    let served = sim.router.consumer(video).unwrap().stats().nacks_served;
    let traced = nacks(
        &log,
        "NACKs received from the subscriber",
        "consumer",
        &video.to_string(),
    );
    assert!(served > 0, "no NACK served");
    assert_eq!(traced, served, "traced NACKs of {video}");

    // The router's NACKs to the publisher for its video, likewise.
    let pid = producers[1];
    let sent: u64 = (sim.router.producer(pid).unwrap().stats().layers)
        .iter()
        .map(|l| l.nacks)
        .sum();
    let traced = nacks(
        &log,
        "NACKs sent to the publisher",
        "producer",
        &pid.to_string(),
    );
    assert!(sent > 0, "no NACK sent to the publisher");
    assert_eq!(traced, sent, "traced NACKs to the publisher of {pid}");

    // The other moments: a keyframe requested from the publisher, each
    // consumer's first layer switch (onto a keyframe), estimates.
    for moment in [
        "keyframe request (PLI) sent to the publisher",
        "consumer switched layers",
        "bandwidth estimate",
    ] {
        assert!(log.contains(moment), "no {moment:?} in the log");
    }
    let keyframes = log
        .lines()
        .filter(|l| {
            l.contains("keyframe forwarded to the subscriber")
                && field(l, "consumer") == Some(&video.to_string())
        })
        .count();
    assert!(keyframes > 0, "no keyframe forwarded to {video}");
    let switch = log
        .lines()
        .find(|l| {
            l.contains("consumer switched layers")
                && field(l, "consumer") == Some(&video.to_string())
        })
        .unwrap_or_else(|| panic!("no layer switch of {video}"));
    assert!(switch.contains("from=None"), "{switch}");
}
