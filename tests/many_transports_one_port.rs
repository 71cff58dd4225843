//! Scenario 7: 50 transports share one UDP port; every datagram reaches its
//! own transport.

use std::time::Duration;

use manifold_sfu::MediaKind;
use manifold_testkit::{check, LinkConfig, Sim};

#[test]
fn fifty_transports_on_one_port() {
    let mut sim = Sim::new(7);
    // 10 publishers, 40 subscribers (4 per publisher): 50 transports.
    let mut streams = Vec::new();
    for i in 0..10 {
        let p = sim.add_peer(
            &format!("pub{i}"),
            LinkConfig::default(),
            LinkConfig::default(),
        );
        let (_, producers) = sim.publish(p, true, true);
        sim.client(p)
            .source
            .as_mut()
            .unwrap()
            .video()
            .packets_per_frame = 1;
        streams.push(producers);
    }
    let mut subs = Vec::new();
    for (i, producers) in streams.iter().enumerate() {
        for j in 0..4 {
            let s = sim.add_peer(
                &format!("sub{i}.{j}"),
                LinkConfig::default(),
                LinkConfig::default(),
            );
            sim.subscribe(s, producers);
            subs.push((s, i));
        }
    }
    assert_eq!(sim.router.counts().transports, 50);
    sim.run_for(Duration::from_secs(4));

    let stats = sim.router.stats();
    assert_eq!(stats.dropped_unknown_source, 0);
    assert_eq!(stats.dropped_unknown_ufrag, 0);
    assert_eq!(stats.dropped_rejected, 0);
    assert_eq!(stats.transport_errors, 0);
    for (s, _) in subs {
        let c = sim.client(s);
        assert!(c.connected);
        let v = c.track(MediaKind::Video);
        let a = c.track(MediaKind::Audio);
        assert!(v.len() > 80, "{}: {} video", c.name, v.len());
        assert!(a.len() > 150, "{}: {} audio", c.name, a.len());
        assert_eq!(check::missing_seqs(v), 0);
    }
}
