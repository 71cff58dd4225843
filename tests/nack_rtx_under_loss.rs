//! Scenario 3: 5% random loss on the publisher's uplink and on one
//! subscriber's downlink. NACK/RTX on both legs repair at least 99% of the
//! media; the other subscribers see the publisher-leg repair only and are
//! otherwise unaffected.

use std::time::Duration;

use manifold_sfu::MediaKind;
use manifold_testkit::{check, LinkConfig, Sim};

#[test]
fn nack_and_rtx_repair_loss_on_both_legs() {
    let mut sim = Sim::new(3);
    let publisher = sim.add_peer("pub", LinkConfig::lossy(0.05), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    sim.run_for(Duration::from_millis(500));
    let lossy = sim.add_peer("lossy", LinkConfig::default(), LinkConfig::lossy(0.05));
    let clean = sim.add_peer("clean", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(lossy, &producers);
    sim.subscribe(clean, &producers);
    sim.run_for(Duration::from_secs(20));
    // Stop sending and let the last repairs land.
    sim.client(publisher).source = None;
    sim.run_for(Duration::from_secs(1));

    for s in [lossy, clean] {
        let c = sim.client(s);
        let video = c.track(MediaKind::Video);
        let delivered = check::delivered_share(video);
        assert!(
            delivered >= 0.99,
            "{}: delivered {:.4} of video",
            c.name,
            delivered
        );
        assert!(
            video.len() > 1500,
            "{}: {} video packets",
            c.name,
            video.len()
        );
    }
    // The publisher really lost packets and the router really repaired them.
    assert!(sim.peers[publisher].up.lost > 50);
    assert!(sim.peers[lossy].down.lost > 50);
}
