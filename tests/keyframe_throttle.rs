//! Scenario 4: 20 subscribers each sending a PLI every 50 ms. The publisher
//! sees no more keyframe requests than the throttle allows.

use std::time::Duration;

use manifold_sfu::{MediaKind, RouterConfig};
use manifold_testkit::{LinkConfig, Sim};
use str0m::media::KeyframeRequestKind;

#[test]
fn pli_storm_is_throttled() {
    let mut config = RouterConfig::default();
    config.seed = Some(4);
    config.keyframe_min_interval = Duration::from_millis(500);
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, false, true);
    let subs: Vec<usize> = (0..20)
        .map(|i| {
            let s = sim.add_peer(
                &format!("s{i}"),
                LinkConfig::default(),
                LinkConfig::default(),
            );
            sim.subscribe(s, &producers);
            s
        })
        .collect();
    sim.run_for(Duration::from_secs(2));
    let before = sim.client(publisher).keyframe_requests;

    let storm = Duration::from_secs(10);
    let end = sim.now + storm;
    while sim.now < end {
        for &s in &subs {
            let c = sim.client(s);
            let mids: Vec<_> = c.tracks(MediaKind::Video).iter().map(|(m, _)| *m).collect();
            let ssrcs: Vec<_> = mids
                .into_iter()
                .filter_map(|mid| {
                    c.rtc
                        .direct_api()
                        .stream_rx_by_mid(mid, None)
                        .map(|r| r.ssrc())
                })
                .collect();
            for ssrc in ssrcs {
                if let Some(rx) = c.rtc.direct_api().stream_rx(&ssrc) {
                    rx.request_keyframe(KeyframeRequestKind::Pli);
                }
            }
            sim.flush_client(s);
        }
        sim.run_for(Duration::from_millis(50));
    }
    let during = sim.client(publisher).keyframe_requests - before;
    // 10 s at one request per 500 ms, plus one at each edge.
    assert!(during <= 22, "publisher saw {during} keyframe requests");
    assert!(during >= 10, "requests still get through: {during}");
    // Every subscriber still gets video.
    for s in subs {
        assert!(sim.client(s).track(MediaKind::Video).len() > 500);
    }
}
