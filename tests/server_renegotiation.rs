//! Scenario 9: server-initiated renegotiation. A consumer added to a
//! connected subscriber appears as a new track after offer/answer; two
//! additions queued during a pending offer both land; glare resolves.

use std::time::Duration;

use manifold_sfu::{ConsumerOptions, Event, MediaKind, ProducerId, RouterConfig, TransportId};
use manifold_testkit::{LinkConfig, Sim};
use str0m::media::Direction;

fn offers(sim: &Sim, t: TransportId) -> Vec<String> {
    sim.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::RenegotiationNeeded { transport, offer } if *transport == t => {
                Some(offer.clone())
            }
            _ => None,
        })
        .collect()
}

fn video_of(sim: &mut Sim, producers: &[ProducerId]) -> ProducerId {
    *producers
        .iter()
        .find(|p| sim.router.producer(**p).unwrap().kind() == MediaKind::Video)
        .unwrap()
}

#[test]
fn consumers_added_to_connected_transport_renegotiate() {
    // Signaling is under test here, not bandwidth: no allocator pausing the
    // third video track while the estimate ramps up.
    let mut config = RouterConfig::default();
    config.seed = Some(9);
    config.initial_bandwidth_bps = None;
    let mut sim = Sim::with_config(config);
    let mut streams = Vec::new();
    for i in 0..3 {
        let p = sim.add_peer(
            &format!("pub{i}"),
            LinkConfig::default(),
            LinkConfig::default(),
        );
        streams.push(sim.publish(p, true, true).1);
    }
    // The subscriber starts with audio of publisher 0 only.
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let t = sim.subscribe(sub, &streams[0][..1]);
    sim.run_for(Duration::from_secs(1));
    assert!(sim.client(sub).connected);
    assert_eq!(sim.client(sub).tracks(MediaKind::Video).len(), 0);

    // 1. One consumer on a connected transport: offer, answer (automatic), new track.
    let v0 = video_of(&mut sim, &streams[0]);
    sim.router
        .consume(sim.now, t, v0, ConsumerOptions::default())
        .unwrap();
    sim.drain_router();
    assert_eq!(offers(&sim, t).len(), 1);
    sim.run_for(Duration::from_secs(2));
    let tracks = sim.client(sub).tracks(MediaKind::Video);
    assert_eq!(tracks.len(), 1);
    assert!(tracks[0].1.len() > 100, "new track carries video");
    assert!(tracks[0].1[0].keyframe_start);

    // 2. Two additions while an offer is pending: both land, in two offers.
    sim.auto_answer = false;
    let v1 = video_of(&mut sim, &streams[1]);
    let v2 = video_of(&mut sim, &streams[2]);
    sim.router
        .consume(sim.now, t, v1, ConsumerOptions::default())
        .unwrap();
    sim.drain_router();
    sim.router
        .consume(sim.now, t, v2, ConsumerOptions::default())
        .unwrap();
    sim.drain_router();
    let o = offers(&sim, t);
    assert_eq!(o.len(), 2, "second change waits for the first answer");
    sim.answer_offer(t, &o[1]);
    let o = offers(&sim, t);
    assert_eq!(o.len(), 3, "queued change offered after the answer");
    sim.answer_offer(t, &o[2]);
    sim.run_for(Duration::from_secs(2));
    let tracks = sim.client(sub).tracks(MediaKind::Video);
    assert_eq!(tracks.len(), 3);
    for (mid, rx) in &tracks {
        assert!(rx.len() > 50, "track {mid} carries video");
    }

    // 3. Glare: the router offers, the client offers at the same time.
    let a1 = streams[1][0];
    sim.router
        .consume(sim.now, t, a1, ConsumerOptions::default())
        .unwrap();
    sim.drain_router();
    assert_eq!(offers(&sim, t).len(), 4);
    let client_offer = {
        let c = sim.client(sub);
        let mut api = c.rtc.sdp_api();
        let mid = api.add_media(
            str0m::media::MediaKind::Video,
            Direction::RecvOnly,
            None,
            None,
            None,
        );
        c.kinds.insert(mid, str0m::media::MediaKind::Video);
        let (offer, pending) = api.apply().unwrap();
        c.pending = Some(pending);
        offer.to_sdp_string()
    };
    // The router yields: it answers the client's offer...
    let answer = sim
        .router
        .transport(t)
        .unwrap()
        .accept_offer(sim.now, &client_offer)
        .unwrap();
    sim.drain_router();
    sim.client(sub).accept_answer(&answer);
    sim.flush_client(sub);
    // ...and offers its own change again.
    let o = offers(&sim, t);
    assert_eq!(o.len(), 5, "router re-offers after glare");
    sim.answer_offer(t, &o[4]);
    sim.run_for(Duration::from_secs(2));
    let audio = sim.client(sub).tracks(MediaKind::Audio);
    assert_eq!(audio.len(), 2);
    for (mid, rx) in &audio {
        assert!(rx.len() > 50, "audio track {mid} carries audio");
    }
    // A stale answer to the dropped offer is refused, not crashed on.
    assert!(sim
        .router
        .transport(t)
        .unwrap()
        .accept_answer(sim.now, &answer)
        .is_err());
}
