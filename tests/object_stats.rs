//! Per-object stats snapshots against what the scenario did: one publisher
//! (audio and video), a clean subscriber and one with 5 % loss on its
//! downlink. Every figure of `TransportStats`, `ProducerStats` and
//! `ConsumerStats` is checked against the links' own counters.

use std::time::Duration;

use manifold_sfu::{DtlsState, Event, IceState, MediaKind};
use manifold_testkit::{LinkConfig, Sim};

#[test]
fn snapshots_match_what_the_links_carried() {
    let mut sim = Sim::new(31);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (tp, producers) = sim.publish(publisher, true, true);
    sim.run_for(Duration::from_millis(500));
    let lossy = sim.add_peer("lossy", LinkConfig::default(), LinkConfig::lossy(0.05));
    let clean = sim.add_peer("clean", LinkConfig::default(), LinkConfig::default());
    let t_lossy = sim.subscribe(lossy, &producers);
    let t_clean = sim.subscribe(clean, &producers);
    sim.run_for(Duration::from_secs(10));

    // Transports: states, the pair in use and the links' datagram counts.
    for (peer, tid) in [(publisher, tp), (lossy, t_lossy), (clean, t_clean)] {
        let s = sim.router.transport(tid).unwrap().stats();
        let p = &sim.peers[peer];
        assert_eq!(s.id, tid);
        assert_eq!(s.dtls_state, DtlsState::Connected);
        assert!(
            matches!(s.ice_state, IceState::Connected | IceState::Completed),
            "{:?}",
            s.ice_state
        );
        let pair = s.selected_pair.expect("a pair in use");
        assert_eq!(pair.local, sim.server);
        assert_eq!(pair.remote, p.client.addr);
        // Everything the router sent went onto the peer's downlink; what
        // its uplink delivered was handed to the transport (but the few
        // datagrams still in flight on the link).
        assert_eq!(s.packets_out, p.down.sent, "{}", p.client.name);
        let delivered = p.up.sent - p.up.lost;
        assert!(
            s.packets_in <= delivered && s.packets_in + 10 >= delivered,
            "{}: {} in, {delivered} delivered",
            p.client.name,
            s.packets_in
        );
        assert!(s.bytes_out > s.packets_out * 12 && s.bytes_in > s.packets_in * 12);
        // RTT and the estimate come from feedback on what the router sends:
        // subscribers only (a publisher receives nothing).
        let subscriber = peer != publisher;
        assert_eq!(
            s.rtt.is_some(),
            subscriber,
            "{}: {:?}",
            p.client.name,
            s.rtt
        );
        if subscriber {
            assert!(s.rtt.unwrap() < Duration::from_millis(500));
            assert!(s.estimate_bps.is_some_and(|e| e > 0), "{s:?}");
        }
    }
    let pub_stats = sim.router.transport(tp).unwrap().stats();
    assert_eq!((pub_stats.producers, pub_stats.consumers), (2, 0));
    let sub_stats = sim.router.transport(t_clean).unwrap().stats();
    assert_eq!((sub_stats.producers, sub_stats.consumers), (0, 2));

    // Producers: one layer each, every packet the publisher sent counted.
    let mut sent_rtp = 0;
    for &pid in &producers {
        let s = sim.router.producer(pid).unwrap().stats();
        assert_eq!((s.id, s.transport, s.consumers), (pid, tp, 2));
        assert_eq!(s.layers.len(), 1);
        let l = &s.layers[0];
        assert_eq!(l.packets, s.packets);
        assert!(l.live && l.bitrate_bps > 0);
        assert_eq!(l.loss, Some(0.0), "clean uplink: {l:?}");
        assert_eq!((l.nacks, l.firs), (0, 0), "clean uplink: {l:?}");
        if s.kind == MediaKind::Video {
            // Keyframe requests went out when each subscriber connected.
            assert!(l.plis >= 1, "{l:?}");
        }
        sent_rtp += s.packets;
    }
    assert!(sent_rtp > 500, "{sent_rtp}");

    // Consumers: the lossy subscriber reports its loss and NACKs.
    let consumers = |sim: &mut Sim, tid| {
        let ids = sim.router.transport(tid).unwrap().consumers();
        ids.into_iter()
            .map(|c| sim.router.consumer(c).unwrap().stats())
            .collect::<Vec<_>>()
    };
    let lossy_stats = consumers(&mut sim, t_lossy);
    let clean_stats = consumers(&mut sim, t_clean);
    let by_kind = |v: &[manifold_sfu::ConsumerStats], sim: &mut Sim, tid, kind| {
        let ids = sim.router.transport(tid).unwrap().consumers();
        let i = ids
            .iter()
            .position(|c| sim.router.consumer(*c).unwrap().kind() == kind)
            .unwrap();
        v[i]
    };
    let video_layer_bps = {
        let v = producers
            .iter()
            .map(|p| sim.router.producer(*p).unwrap().stats())
            .find(|s| s.kind == MediaKind::Video)
            .unwrap();
        v.layers[0].bitrate_bps
    };
    let lv = by_kind(&lossy_stats, &mut sim, t_lossy, MediaKind::Video);
    let cv = by_kind(&clean_stats, &mut sim, t_clean, MediaKind::Video);
    let la = by_kind(&lossy_stats, &mut sim, t_lossy, MediaKind::Audio);
    let ca = by_kind(&clean_stats, &mut sim, t_clean, MediaKind::Audio);
    // Both subscribers got the same packets from the router.
    assert_eq!(lv.packets_sent, cv.packets_sent);
    assert_eq!(la.packets_sent, ca.packets_sent);
    assert!(lv.packets_sent > 500 && la.packets_sent > 300);
    // Video loss is repaired by NACK and retransmission: the NACKs the
    // router served are the downlink's 5 %, and the subscriber's receiver
    // reports (which count repaired packets as received) show none.
    let wire = sim.peers[lossy].down.lost as f64 / sim.peers[lossy].down.sent as f64;
    assert!((wire - 0.05).abs() < 0.02, "the link lost {wire}");
    let nacked = lv.nacks_served as f64 / lv.packets_sent as f64;
    assert!(
        (nacked - 0.05).abs() <= 0.02,
        "NACKed share {nacked}: {lv:?}"
    );
    assert_eq!(cv.nacks_served, 0, "{cv:?}");
    for c in [&lv, &cv] {
        assert_eq!(c.loss, Some(0.0), "{c:?}");
        // The last report may count a packet whose retransmission is
        // still on its way (the lossy link loses 5 % of those too).
        let in_flight = if c == &lv { 2 } else { 0 };
        assert!(c.packets_lost.is_some_and(|l| l <= in_flight), "{c:?}");
        assert!(c.jitter.is_some() && c.rtt.is_some_and(|r| r < Duration::from_millis(500)));
        // What was sent between the last two reports (250 ms apart, so
        // bursty: a keyframe or retransmissions fall in one), against the
        // publisher's layer over its last second.
        let bps = c.bitrate_bps.unwrap() as f64;
        let ratio = bps / video_layer_bps as f64;
        assert!(
            (0.5..2.0).contains(&ratio),
            "{bps} sent, layer {video_layer_bps}"
        );
        assert!(c.current_layers.is_some());
        assert_eq!((c.plis_received, c.firs_received), (0, 0));
    }
    // Audio has no retransmission: the lossy subscriber reports real loss.
    assert!(la.packets_lost.is_some_and(|n| n > 0), "{la:?}");
    assert_eq!(ca.packets_lost, Some(0), "{ca:?}");
    assert_eq!((la.nacks_served, ca.nacks_served), (0, 0));
}

#[test]
fn scores_fall_with_loss_and_recover() {
    let mut sim = Sim::new(32);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, false, true);
    sim.run_for(Duration::from_millis(500));
    let lossy = sim.add_peer("lossy", LinkConfig::default(), LinkConfig::lossy(0.05));
    let clean = sim.add_peer("clean", LinkConfig::default(), LinkConfig::default());
    let t_lossy = sim.subscribe(lossy, &producers);
    let t_clean = sim.subscribe(clean, &producers);
    let score = |sim: &mut Sim, tid| {
        let c = sim.router.transport(tid).unwrap().consumers()[0];
        sim.router.consumer(c).unwrap().stats().score
    };
    let events = |sim: &Sim, tid, from: usize| -> Vec<u8> {
        sim.events[from..]
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ConsumerScore {
                    transport, score, ..
                } if *transport == tid => Some(*score),
                _ => None,
            })
            .collect()
    };
    sim.run_for(Duration::from_secs(10));
    let (lossy_score, clean_score) = (score(&mut sim, t_lossy), score(&mut sim, t_clean));
    assert_eq!(clean_score, 10);
    // 5 % loss: about 8 of 10 (between 6 and 9 as the loss samples vary).
    assert!((6..=9).contains(&lossy_score), "{lossy_score}");
    let down = events(&sim, t_lossy, 0);
    assert_eq!(down.last(), Some(&lossy_score), "{down:?}");
    assert!(events(&sim, t_clean, 0).is_empty());
    let p = sim.router.producer(producers[0]).unwrap().stats();
    assert_eq!(p.score, 10, "clean uplink");

    // The link heals: the score comes back to 10, and says so.
    sim.peers[lossy].down.config.loss = 0.0;
    let mark = sim.events.len();
    sim.run_for(Duration::from_secs(10));
    assert_eq!(score(&mut sim, t_lossy), 10);
    let up = events(&sim, t_lossy, mark);
    assert_eq!(up.last(), Some(&10), "{up:?}");
    assert!(up.windows(2).all(|w| w[0] < w[1]), "{up:?}");

    // Loss on the publisher's uplink lowers the producer's score, and with
    // it every consumer's.
    sim.peers[publisher].up.config.loss = 0.1;
    sim.run_for(Duration::from_secs(10));
    let p = sim.router.producer(producers[0]).unwrap().stats();
    assert!(p.score < 10, "{p:?}");
    assert!(score(&mut sim, t_clean) <= p.score);
    assert!(sim.events.iter().any(|(_, e)| matches!(
        e,
        Event::ProducerScore { producer, score, .. } if *producer == producers[0] && *score == p.score
    )));
}
