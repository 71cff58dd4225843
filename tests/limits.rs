//! Every configured limit, tested at its edge: the limit holds, with the
//! documented error or a counted drop.

use std::net::SocketAddr;
use std::time::Duration;

use manifold_sfu::{ConsumerOptions, Input, RouterConfig, RouterError, SignalingError};
use manifold_testkit::hostile::stun_request;
use manifold_testkit::{LinkConfig, Sim};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn sim_with(f: impl FnOnce(&mut RouterConfig)) -> Sim {
    let mut config = RouterConfig::default();
    config.seed = Some(13);
    f(&mut config);
    Sim::with_config(config)
}

#[test]
fn max_transports() {
    let mut sim = sim_with(|c| c.limits.max_transports = 5);
    for _ in 0..5 {
        sim.router
            .create_webrtc_transport(sim.now, sim.transport_options())
            .unwrap();
    }
    let err = sim
        .router
        .create_webrtc_transport(sim.now, sim.transport_options())
        .unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::Limit {
                what: "max_transports",
                max: 5
            }
        ),
        "{err}"
    );
    assert_eq!(sim.router.counts().transports, 5);
}

#[test]
fn max_consumers_per_transport_and_per_producer() {
    let mut sim = sim_with(|c| {
        c.limits.max_consumers_per_transport = 1;
        c.limits.max_consumers_per_producer = 2;
    });
    let p = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(p, true, true);
    let t1 = sim
        .router
        .create_webrtc_transport(sim.now, sim.transport_options())
        .unwrap();
    sim.router
        .consume(sim.now, t1, producers[0], ConsumerOptions::default())
        .unwrap();
    let err = sim
        .router
        .consume(sim.now, t1, producers[1], ConsumerOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::Limit {
                what: "max_consumers_per_transport",
                ..
            }
        ),
        "{err}"
    );
    let t2 = sim
        .router
        .create_webrtc_transport(sim.now, sim.transport_options())
        .unwrap();
    let t3 = sim
        .router
        .create_webrtc_transport(sim.now, sim.transport_options())
        .unwrap();
    sim.router
        .consume(sim.now, t2, producers[0], ConsumerOptions::default())
        .unwrap();
    let err = sim
        .router
        .consume(sim.now, t3, producers[0], ConsumerOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::Limit {
                what: "max_consumers_per_producer",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(sim.router.counts().consumers, 2);
}

#[test]
fn max_producers_per_transport() {
    let mut sim = sim_with(|c| c.limits.max_producers_per_transport = 1);
    let p = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(p, true, true);
    assert_eq!(producers.len(), 1);
    assert_eq!(sim.router.stats().refused_producers, 1);
}

#[test]
fn sdp_size_and_m_line_count() {
    let mut sim = sim_with(|c| {
        c.limits.max_sdp_bytes = 4096;
        c.limits.max_m_lines = 2;
    });
    let t = sim
        .router
        .create_webrtc_transport(sim.now, sim.transport_options())
        .unwrap();
    let big = "v=0\r\n".to_string() + &"a=x\r\n".repeat(2000);
    let err = sim
        .router
        .transport(t)
        .unwrap()
        .accept_offer(sim.now, &big)
        .unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::Signaling(SignalingError::SdpTooLarge { max: 4096, .. })
        ),
        "{err}"
    );
    let many = "v=0\r\n".to_string() + &"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n".repeat(3);
    let err = sim
        .router
        .transport(t)
        .unwrap()
        .accept_offer(sim.now, &many)
        .unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::Signaling(SignalingError::TooManyMLines { count: 3, max: 2 })
        ),
        "{err}"
    );
    let err = sim
        .router
        .transport(t)
        .unwrap()
        .accept_offer(sim.now, "v=0\r\ngarbage")
        .unwrap_err();
    assert!(
        matches!(err, RouterError::Signaling(SignalingError::BadSdp(_))),
        "{err}"
    );
    assert!(
        !err.to_string().contains("PointerOffset"),
        "clean message: {err}"
    );
    // The transport survives bad SDP and still negotiates.
    let p = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let offer = sim.client(p).offer_send(true, false);
    assert!(sim
        .router
        .transport(t)
        .unwrap()
        .accept_offer(sim.now, &offer)
        .is_ok());
}

#[test]
fn unauthenticated_stun_is_rate_limited_per_source() {
    let mut sim = sim_with(|c| c.limits.max_unauthenticated_stun_per_source = 10);
    let p = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    sim.publish(p, true, false);
    sim.run_for(Duration::from_secs(1));
    let ufrag = sim.client(p).server_ufrag();
    let mut rng = StdRng::seed_from_u64(1);
    let attacker: SocketAddr = "127.0.0.9:4444".parse().unwrap();
    let before = sim.router.stats();
    for _ in 0..1000 {
        let data = stun_request(&mut rng, &format!("{ufrag}:x"));
        let server = sim.server;
        sim.router
            .handle_input(Input::receive(sim.now, attacker, server, &data));
        sim.drain_router();
    }
    let s = sim.router.stats();
    assert_eq!(s.dropped_rate_limited - before.dropped_rate_limited, 990);
    assert_eq!(sim.stray_transmits, 0, "no answer to forged checks");
    // The real peer, already authenticated, is not limited.
    sim.run_for(Duration::from_secs(2));
    let t = sim.client(p).transport.unwrap();
    assert!(sim.router.transport(t).unwrap().is_connected());
}

#[test]
fn output_queue_is_bounded() {
    let mut sim = sim_with(|c| c.limits.max_queued_outputs = 8);
    let p = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(p, true, true);
    let s = sim.add_peer("sub", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(s, &producers);
    sim.run_for(Duration::from_secs(1));
    // A host that stops draining: forwarded media beyond the bound is
    // dropped and counted, the queue does not grow.
    let before = sim.router.stats().dropped_output;
    let mut fed = 0;
    for _ in 0..50 {
        sim.now += Duration::from_millis(20);
        let now = sim.now;
        sim.client(p).write_media(now);
        sim.client(p).handle_timeout(now);
        let server = sim.server;
        let source = sim.client(p).addr;
        for (_, d) in sim.client(p).drain(now) {
            sim.router
                .handle_input(Input::receive(now, source, server, &d));
            fed += 1;
        }
        sim.router.handle_input(Input::Timeout(now));
    }
    assert!(fed > 100);
    let c = sim.router.counts();
    assert!(
        c.queued_outputs <= 8 + 8,
        "queue bounded: {}",
        c.queued_outputs
    );
    let dropped = sim.router.stats().dropped_output - before;
    assert!(dropped > 50, "dropped {dropped}, counts {c:?}");
}

#[test]
fn observer_limits() {
    use manifold_sfu::{ActiveSpeakerObserverOptions, AudioLevelObserverOptions};
    let mut sim = sim_with(|c| {
        c.limits.max_observers = 2;
        c.limits.max_producers_per_observer = 1;
        c.limits.max_observers_per_producer = 1;
    });
    let a = sim.add_peer("a", LinkConfig::default(), LinkConfig::default());
    let (_, pa) = sim.publish(a, true, true);
    let b = sim.add_peer("b", LinkConfig::default(), LinkConfig::default());
    let (_, pb) = sim.publish(b, true, false);
    let levels = AudioLevelObserverOptions::default();
    let o1 = sim
        .router
        .create_audio_level_observer(sim.now, levels)
        .unwrap();
    let o2 = sim
        .router
        .create_active_speaker_observer(sim.now, ActiveSpeakerObserverOptions::default())
        .unwrap();
    let err = sim
        .router
        .create_audio_level_observer(sim.now, levels)
        .unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::Limit {
                what: "max_observers",
                max: 2
            }
        ),
        "{err}"
    );
    let now = sim.now;
    let mut v = sim.router.observer(o1).unwrap();
    // Video is refused; audio is taken once.
    assert!(matches!(
        v.add_producer(now, pa[1]),
        Err(RouterError::InvalidOptions(_))
    ));
    v.add_producer(now, pa[0]).unwrap();
    v.add_producer(now, pa[0]).unwrap();
    let err = v.add_producer(now, pb[0]).unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::Limit {
                what: "max_producers_per_observer",
                max: 1
            }
        ),
        "{err}"
    );
    let err = sim
        .router
        .observer(o2)
        .unwrap()
        .add_producer(now, pa[0])
        .unwrap_err();
    assert!(
        matches!(
            err,
            RouterError::Limit {
                what: "max_observers_per_producer",
                max: 1
            }
        ),
        "{err}"
    );
    assert_eq!(sim.router.counts().observers, 2);
}

#[test]
fn data_channels_per_transport() {
    let mut sim = sim_with(|c| c.limits.max_data_channels_per_transport = 2);
    let a = sim.add_peer("a", LinkConfig::default(), LinkConfig::default());
    for label in ["one", "two", "three"] {
        sim.client(a).offer_channel(str0m::channel::ChannelConfig {
            label: label.into(),
            ..Default::default()
        });
    }
    let (t, _) = sim.publish(a, true, false);
    sim.run_for(Duration::from_secs(2));
    // The third channel is refused, counted and closed at the client.
    assert_eq!(sim.router.transport(t).unwrap().data_producers().len(), 2);
    assert_eq!(sim.router.stats().data_channels_refused, 1);
    assert_eq!(sim.client(a).channels.open.len(), 2);
    // A transport at its limit takes no data consumer either.
    // (its own channel counts).
    let b = sim.add_peer("b", LinkConfig::default(), LinkConfig::default());
    sim.client(b).offer_channel(str0m::channel::ChannelConfig {
        label: "own".into(),
        ..Default::default()
    });
    let tb = sim.subscribe(b, &[]);
    sim.run_for(Duration::from_secs(2));
    let dps = sim.router.transport(t).unwrap().data_producers();
    sim.router
        .consume_data(sim.now, tb, dps[0], Default::default())
        .unwrap();
    let err = sim
        .router
        .consume_data(sim.now, tb, dps[1], Default::default())
        .unwrap_err();
    assert!(matches!(
        err,
        RouterError::Limit {
            what: "max_data_channels_per_transport",
            max: 2
        }
    ));
}
