//! A router that heard nothing for 10 minutes behaves exactly like a fresh
//! one. The same 30 s call runs twice: on a new router, and on a router fed
//! no input at all (not even a timeout) for 10 virtual minutes before the
//! first client arrives. Each timer-driven behaviour is measured in both runs
//! and must meet the same bounds, with the same figures:
//! * liveness and ICE consent: nothing closes but the one peer that goes
//!   silent, 15 s after its last datagram; every packet arrives;
//! * keyframe throttle: a subscriber asking every 50 ms gets the publisher
//!   asked at most once per 500 ms, and at once the first time;
//! * layer liveness: the top layer stops, the subscriber falls back within
//!   1 s, and returns within 1 s of its return;
//! * allocator start-up and holds, estimator: a subscriber whose downlink is
//!   capped leaves the top layer within 3 s;
//! * pending renegotiation: a consumer added to a connected transport is
//!   offered by the server and ready within 1 s.

use std::time::Duration;

use manifold_sfu::{CloseReason, ConsumerOptions, Event, MediaKind, RouterConfig};
use manifold_testkit::check::{first_at_layer, missing_seqs};
use manifold_testkit::table::video_consumers;
use manifold_testkit::{LinkConfig, Sim};

/// What one run measured, times relative to the first client's arrival.
#[derive(Debug)]
struct Outcome {
    /// Transports closed: (when, why).
    closed: Vec<(Duration, CloseReason)>,
    connected: usize,
    /// From the silent peer's last datagram to its close.
    liveness_close_after: Duration,
    /// Keyframe requests the publisher saw during a 3 s request storm.
    storm_requests: u64,
    /// From the first request of the storm to the publisher seeing one.
    first_request_after: Duration,
    fallback_after: Duration,
    return_after: Duration,
    capped_down_after: Duration,
    renegotiated_after: Duration,
    /// Video and audio packets the steady subscriber received, and the
    /// sequence numbers it is missing.
    received: (usize, usize),
    missing: (usize, usize),
}

fn run(quiet: Duration) -> Outcome {
    let mut config = RouterConfig::default();
    config.seed = Some(41);
    let mut sim = Sim::with_config(config);
    // A server nobody used for a while: the router hears nothing at all.
    sim.idle(quiet);
    let t0 = sim.now;

    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish_simulcast(publisher, &["q", "h", "f"], 1);
    sim.client(publisher)
        .source
        .as_mut()
        .unwrap()
        .keyframe_interval = Duration::from_secs(30);
    let steady = sim.add_peer("steady", LinkConfig::default(), LinkConfig::default());
    let t_steady = sim.subscribe(steady, &producers);
    let capped = sim.add_peer("capped", LinkConfig::default(), LinkConfig::default());
    let t_capped = sim.subscribe(capped, &producers);
    let silent = sim.add_peer("silent", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(silent, &producers);
    sim.run_for(Duration::from_secs(4));
    let connected = sim.count_events(|e| matches!(e, Event::TransportConnected { .. }));
    let steady_video = video_consumers(&mut sim, t_steady)[0];
    let capped_video = video_consumers(&mut sim, t_capped)[0];

    // One subscriber's tab closes without a goodbye.
    sim.peers[silent].up.config.loss = 1.0;
    let silent_at = sim.now;

    // Keyframe throttle: the steady subscriber asks every 50 ms for 3 s.
    let before = sim.client(publisher).keyframe_requests;
    let storm_start = sim.now;
    let mut first_request = None;
    while sim.now < storm_start + Duration::from_secs(3) {
        let now = sim.now;
        sim.router
            .consumer(steady_video)
            .unwrap()
            .request_keyframe(now);
        sim.drain_router();
        sim.run_for(Duration::from_millis(50));
        if first_request.is_none() && sim.client(publisher).keyframe_requests > before {
            first_request = Some(sim.now - storm_start);
        }
    }
    let storm_requests = sim.client(publisher).keyframe_requests - before;

    // Layer liveness: the sender drops its top layer, then brings it back.
    sim.client(publisher).source.as_mut().unwrap().layers[2].enabled = false;
    let stopped = sim.now;
    sim.run_for(Duration::from_secs(3));
    let down = first_at_layer(sim.client(steady).track(MediaKind::Video), 1, stopped)
        .expect("fell back to h");
    sim.client(publisher).source.as_mut().unwrap().layers[2].enabled = true;
    let back = sim.now;
    sim.run_for(Duration::from_secs(3));
    let up =
        first_at_layer(sim.client(steady).track(MediaKind::Video), 2, back).expect("back on f");

    // Allocator: one downlink drops to 250 kbit/s.
    sim.peers[capped].down.config.rate_bps = Some(250_000);
    let cap_at = sim.now;
    let mut capped_down = None;
    while sim.now < cap_at + Duration::from_secs(6) {
        sim.run_for(Duration::from_millis(100));
        let layers = sim.router.consumer(capped_video).unwrap().current_layers();
        if capped_down.is_none() && layers.is_some_and(|l| l.spatial < 2) {
            capped_down = Some(sim.now - cap_at);
        }
    }

    // Server-initiated renegotiation on a connected transport: a second
    // publisher's audio is added to the steady subscriber.
    let late = sim.add_peer("late", LinkConfig::default(), LinkConfig::default());
    let (_, late_producers) = sim.publish(late, true, false);
    sim.run_for(Duration::from_secs(1));
    let now = sim.now;
    let added = sim
        .router
        .consume(now, t_steady, late_producers[0], ConsumerOptions::default())
        .unwrap();
    sim.drain_router();
    let offered = sim.now;
    sim.run_until(
        |s| {
            s.count_events(
                |e| matches!(e, Event::ConsumerReady { consumer, .. } if *consumer == added),
            ) > 0
        },
        offered + Duration::from_secs(5),
    );
    let renegotiated_after = sim.now - offered;

    // The call goes on to 30 s.
    let end = t0 + Duration::from_secs(30);
    sim.run_for(end.saturating_duration_since(sim.now));

    let closed: Vec<(Duration, CloseReason)> = sim
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::TransportClosed { reason, .. } => Some((*at - t0, *reason)),
            _ => None,
        })
        .collect();
    let liveness_close_after = closed
        .first()
        .map(|(at, _)| t0 + *at - silent_at)
        .unwrap_or(Duration::MAX);
    let video = sim.client(steady).track(MediaKind::Video).to_vec();
    // The publisher's audio, not the late one's (bound 10 s later).
    let audio = (sim.client(steady).tracks(MediaKind::Audio).into_iter())
        .map(|(_, rx)| rx.to_vec())
        .max_by_key(|rx| rx.len())
        .unwrap();
    assert!(
        video
            .last()
            .is_some_and(|r| r.at + Duration::from_millis(200) >= sim.now),
        "video still flowing at the end"
    );
    Outcome {
        closed,
        connected,
        liveness_close_after,
        storm_requests,
        first_request_after: first_request.unwrap_or(Duration::MAX),
        fallback_after: down - stopped,
        return_after: up - back,
        capped_down_after: capped_down.unwrap_or(Duration::MAX),
        renegotiated_after,
        received: (video.len(), audio.len()),
        missing: (missing_seqs(&video), missing_seqs(&audio)),
    }
}

fn check(o: &Outcome, what: &str) {
    let ms = Duration::from_millis;
    assert_eq!(o.connected, 4, "{what}: every transport connects: {o:#?}");
    assert_eq!(
        o.closed.len(),
        1,
        "{what}: only the silent peer closes: {o:#?}"
    );
    assert_eq!(
        o.closed[0].1,
        CloseReason::LivenessTimeout,
        "{what}: {o:#?}"
    );
    assert!(
        o.liveness_close_after >= ms(14_000) && o.liveness_close_after <= ms(16_000),
        "{what}: silent peer closed after {:?}",
        o.liveness_close_after
    );
    // 3 s at one request per 500 ms, plus one at each edge.
    assert!(
        (4..=8).contains(&o.storm_requests),
        "{what}: {} keyframe requests in the storm",
        o.storm_requests
    );
    assert!(o.first_request_after <= ms(100), "{what}: {o:#?}");
    assert!(o.fallback_after <= ms(1_000), "{what}: {o:#?}");
    assert!(o.return_after <= ms(1_000), "{what}: {o:#?}");
    assert!(o.capped_down_after <= ms(3_000), "{what}: {o:#?}");
    assert!(o.renegotiated_after <= ms(1_000), "{what}: {o:#?}");
    assert_eq!(o.missing, (0, 0), "{what}: every packet arrives: {o:#?}");
    assert!(
        o.received.0 > 1_000 && o.received.1 > 1_000,
        "{what}: {o:#?}"
    );
}

/// Two durations agree within `tol`.
fn near(a: Duration, b: Duration, tol: Duration) -> bool {
    a.abs_diff(b) <= tol
}

#[test]
fn a_router_quiet_for_ten_minutes_behaves_like_a_fresh_one() {
    let fresh = run(Duration::ZERO);
    check(&fresh, "fresh router");
    let quiet = run(Duration::from_secs(600));
    check(&quiet, "router quiet for 10 min");

    let tol = Duration::from_millis(300);
    let same = near(fresh.liveness_close_after, quiet.liveness_close_after, tol)
        && near(fresh.fallback_after, quiet.fallback_after, tol)
        && near(fresh.return_after, quiet.return_after, tol)
        && near(
            fresh.capped_down_after,
            quiet.capped_down_after,
            Duration::from_secs(1),
        )
        && near(fresh.renegotiated_after, quiet.renegotiated_after, tol)
        && fresh.storm_requests.abs_diff(quiet.storm_requests) <= 1
        && fresh.received.0.abs_diff(quiet.received.0) * 50 <= fresh.received.0
        && fresh.received.1.abs_diff(quiet.received.1) * 50 <= fresh.received.1;
    assert!(same, "fresh: {fresh:#?}\nquiet: {quiet:#?}");
}
