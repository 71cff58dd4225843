//! Liveness and ICE restart: a silent peer is closed after the liveness
//! timeout with its consumers; ICE restarts from either side keep media
//! flowing on new credentials.

use std::time::Duration;

use manifold_sfu::{CloseReason, Event, MediaKind, RouterConfig};
use manifold_testkit::{check, LinkConfig, Sim};

#[test]
fn silent_peer_is_closed_after_liveness_timeout() {
    let mut config = RouterConfig::default();
    config.seed = Some(10);
    config.liveness_timeout = Duration::from_secs(4);
    let mut sim = Sim::with_config(config);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    let stays = sim.add_peer("stays", LinkConfig::default(), LinkConfig::default());
    let leaves = sim.add_peer("leaves", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(stays, &producers);
    let t = sim.subscribe(leaves, &producers);
    sim.run_for(Duration::from_secs(5));
    assert_eq!(sim.router.counts().consumers, 4);

    // The tab closes: nothing more comes from that peer.
    sim.peers[leaves].up.config.loss = 1.0;
    let gone_at = sim.now;
    sim.run_for(Duration::from_secs(8));
    let closed_at = sim
        .events
        .iter()
        .find_map(|(at, e)| match e {
            Event::TransportClosed {
                transport,
                reason: CloseReason::LivenessTimeout,
            } if *transport == t => Some(*at),
            _ => None,
        })
        .expect("silent transport closed");
    let after = closed_at - gone_at;
    assert!(
        after >= Duration::from_secs(3) && after <= Duration::from_secs(5),
        "closed after {after:?}"
    );
    assert_eq!(sim.router.counts().consumers, 2);
    assert_eq!(sim.router.counts().transports, 2);
    // The other subscriber is unaffected (and ICE consent keeps it alive).
    let v = sim.client(stays).track(MediaKind::Video).to_vec();
    assert!(v.iter().any(|r| r.at > closed_at + Duration::from_secs(2)));
    assert_eq!(check::missing_seqs(&v), 0);
}

#[test]
fn ice_restart_from_client_and_from_server() {
    let mut sim = Sim::new(11);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    let sub = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let t = sim.subscribe(sub, &producers);
    sim.run_for(Duration::from_secs(2));
    let first_ufrag = sim.client(sub).server_ufrag();

    // The client restarts ICE with a new offer.
    let offer = {
        let c = sim.client(sub);
        let mut api = c.rtc.sdp_api();
        api.ice_restart(false);
        let (offer, pending) = api.apply().unwrap();
        c.pending = Some(pending);
        offer.to_sdp_string()
    };
    let answer = sim
        .router
        .transport(t)
        .unwrap()
        .accept_offer(sim.now, &offer)
        .unwrap();
    sim.drain_router();
    sim.client(sub).accept_answer(&answer);
    sim.flush_client(sub);
    let second_ufrag = sim.client(sub).server_ufrag();
    assert_ne!(first_ufrag, second_ufrag, "new local credentials");
    let mark = sim.now;
    sim.run_for(Duration::from_secs(3));
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    assert!(
        v.iter()
            .filter(|r| r.at > mark + Duration::from_secs(1))
            .count()
            > 100
    );
    assert_eq!(sim.router.counts().ufrags, 2, "old ufrag no longer routed");

    // The server restarts ICE: an offer with new credentials, answered.
    sim.router
        .transport(t)
        .unwrap()
        .restart_ice(sim.now)
        .unwrap();
    sim.drain_router();
    let offered = sim
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::RenegotiationNeeded { transport, offer } if *transport == t && !offer.contains(&second_ufrag)));
    assert!(offered, "restart offer with new ufrag");
    let mark = sim.now;
    sim.run_for(Duration::from_secs(3));
    let v = sim.client(sub).track(MediaKind::Video).to_vec();
    assert!(
        v.iter()
            .filter(|r| r.at > mark + Duration::from_secs(1))
            .count()
            > 100
    );
    assert_eq!(check::missing_seqs(&v), 0);
    assert_eq!(sim.router.counts().ufrags, 2);
}
