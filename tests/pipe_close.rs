//! Pipe test 2: closing either end of a pipe cascades, with events on both
//! routers: the producers it brought into B close with their consumers, A
//! stops sending; once the clients leave too, both routers hold nothing.

use std::time::Duration;

use manifold_sfu::{CloseReason, Event, ProducerId, RouterConfig, TransportId};
use manifold_testkit::pipe::{piped_producers, send_through, PipePair};
use manifold_testkit::LinkConfig;

struct Setup {
    pair: PipePair,
    publisher: TransportId,
    subscriber: TransportId,
    on_b: Vec<ProducerId>,
}

/// A publisher (audio and video) on A, both producers piped to B, one
/// subscriber on B receiving them.
fn setup(seed: u64) -> Setup {
    let mut a = RouterConfig::default();
    a.seed = Some(seed);
    let mut b = RouterConfig::default();
    b.seed = Some(seed + 1);
    let mut pair = PipePair::new(a, b, seed);
    let p = pair
        .a
        .add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (publisher, producers) = pair.a.publish(p, true, true);
    send_through(&mut pair.a, pair.pipe_a, &producers);
    pair.carry();
    let on_b = piped_producers(&mut pair.b, pair.pipe_b);
    assert_eq!(on_b.len(), 2);
    let s = pair
        .b
        .add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let subscriber = pair.b.subscribe(s, &on_b);
    pair.run_for(Duration::from_secs(2));
    assert!(
        pair.b
            .router
            .transport(subscriber)
            .unwrap()
            .stats()
            .packets_out
            > 0
    );
    assert_eq!(pair.b.router.counts().consumers, 2);
    Setup {
        pair,
        publisher,
        subscriber,
        on_b,
    }
}

/// What B saw of the cascade: its pipe closed for `reason`, both piped
/// producers closed with their consumers.
fn assert_b_cascaded(s: &Setup, reason: CloseReason) {
    let b = &s.pair.b;
    let pipe = s.pair.pipe_b;
    assert_eq!(
        b.count_events(
            |e| matches!(e, Event::PipeClosed { pipe: p, reason: r } if *p == pipe && *r == reason)
        ),
        1
    );
    for id in &s.on_b {
        assert_eq!(
            b.count_events(|e| matches!(e,
                Event::ProducerClosed { producer, transport, reason: CloseReason::TransportClosed }
                    if producer == id && *transport == pipe.as_transport())),
            1
        );
        assert_eq!(
            b.count_events(|e| matches!(e,
                Event::ConsumerClosed { producer, reason: CloseReason::ProducerClosed, .. }
                    if producer == id)),
            1
        );
    }
    let counts = b.router.counts();
    assert_eq!(
        (counts.pipes, counts.producers, counts.consumers),
        (0, 0, 0)
    );
}

/// A stops sending, and once every client leaves both routers are empty.
fn assert_a_stopped_then_empty(mut s: Setup, reason: CloseReason) {
    let pipe = s.pair.pipe_a;
    assert_eq!(
        s.pair.a.count_events(
            |e| matches!(e, Event::PipeClosed { pipe: p, reason: r } if *p == pipe && *r == reason)
        ),
        1
    );
    assert_eq!(s.pair.a.router.counts().pipes, 0);
    let sent = s.pair.a.router.stats().pipe_rtp_out;
    s.pair.run_for(Duration::from_secs(1));
    assert_eq!(s.pair.a.router.stats().pipe_rtp_out, sent, "A still sends");
    assert!(s.pair.a.router.pipe(pipe).is_none());

    let now = s.pair.now();
    s.pair.a.router.transport(s.publisher).unwrap().close(now);
    s.pair.b.router.transport(s.subscriber).unwrap().close(now);
    s.pair.run_for(Duration::from_secs(1));
    for r in [&s.pair.a.router, &s.pair.b.router] {
        let c = r.counts();
        assert_eq!(
            (c.transports, c.producers, c.consumers, c.pipes),
            (0, 0, 0, 0)
        );
        assert_eq!(
            (c.ufrags, c.routes, c.timers, c.queued_outputs),
            (0, 0, 0, 0)
        );
        assert_eq!(r.stats().pipe_dropped, 0);
    }
}

#[test]
fn closing_the_pipe_on_a_cascades_to_b() {
    let mut s = setup(41);
    let now = s.pair.now();
    s.pair.a.router.pipe(s.pair.pipe_a).unwrap().close(now);
    s.pair.carry();
    assert_b_cascaded(&s, CloseReason::PeerClosed);
    assert_a_stopped_then_empty(s, CloseReason::Requested);
}

#[test]
fn closing_the_pipe_on_b_cascades_on_b_and_stops_a() {
    let mut s = setup(43);
    let now = s.pair.now();
    s.pair.b.router.pipe(s.pair.pipe_b).unwrap().close(now);
    s.pair.carry();
    assert_b_cascaded(&s, CloseReason::Requested);
    assert_a_stopped_then_empty(s, CloseReason::PeerClosed);
}

#[test]
fn closing_a_piped_producer_on_b_stops_a_sending_it() {
    let mut s = setup(45);
    let now = s.pair.now();
    let video_b = s.on_b[1];
    s.pair.b.router.producer(video_b).unwrap().close(now);
    s.pair.carry();
    let sent = s
        .pair
        .a
        .router
        .pipe(s.pair.pipe_a)
        .unwrap()
        .sent_producers();
    assert_eq!(sent.len(), 1, "A sends only the audio now");
    assert_eq!(s.pair.b.router.counts().producers, 1);
    assert_eq!(s.pair.b.router.counts().consumers, 1);
    s.pair.run_for(Duration::from_millis(500));
    assert_eq!(s.pair.b.router.stats().pipe_dropped, 0, "no video after");
}
