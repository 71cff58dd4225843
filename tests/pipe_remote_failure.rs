//! A remote pipe whose other end goes silent (host down, link cut): A's
//! control messages (here the announce of a producer) are sent again,
//! backing off, and after ten unanswered tries A's end fails: the pipe
//! closes with `CloseReason::Failed`, its producers stop being sent, its
//! route and timer are gone, and the router carries on. B, which had
//! nothing to send, heard nothing either (not even a heartbeat) and fails
//! 15 s after the pipe was made.

use std::time::{Duration, Instant};

use manifold_sfu::{CloseReason, Event, RouterConfig};
use manifold_testkit::pipe::RemotePipePair;
use manifold_testkit::{LinkConfig, Sim};

fn config(seed: u64) -> RouterConfig {
    let mut c = RouterConfig::default();
    c.seed = Some(seed);
    c
}

/// When (after `start`) the sim's router reported a pipe failed.
fn failures(sim: &Sim, start: Instant) -> Vec<Duration> {
    sim.events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::PipeClosed {
                    reason: CloseReason::Failed,
                    ..
                }
            )
        })
        .map(|(at, _)| *at - start)
        .collect()
}

#[test]
fn a_silent_other_end_fails_the_pipe() {
    let dead = LinkConfig::lossy(1.0);
    let mut pair = RemotePipePair::new(config(1), config(2), dead, dead, 3);
    let publisher = pair
        .a
        .add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = pair.a.publish_simulcast(publisher, &["q", "h"], 2);
    let now = pair.now();
    pair.a
        .router
        .pipe(pair.pipe_a)
        .unwrap()
        .send_producer(now, producers[1])
        .unwrap();
    let start = pair.now();
    pair.run_for(Duration::from_secs(8));
    assert_eq!(pair.a.router.counts().pipes, 1, "still trying after 8 s");
    assert!(pair.a.router.stats().pipe_control_resent >= 5);
    pair.run_for(Duration::from_secs(8));
    let failed = failures(&pair.a, start);
    assert_eq!(failed.len(), 1, "{failed:?}");
    println!("the pipe failed after {:?}", failed[0]);
    assert!(failed[0] > Duration::from_secs(8) && failed[0] < Duration::from_secs(15));
    assert_eq!(pair.a.router.counts().pipes, 0);
    assert!(pair.a.router.pipe(pair.pipe_a).is_none());
    // Nothing more is sent or scheduled for it; the publisher lives on.
    let sent = pair.a_to_b.sent;
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.a_to_b.sent, sent);
    assert!(pair.a.router.producer(producers[1]).is_some());
    // B never heard a thing: its end failed after 15 s of silence.
    let b_failed = failures(&pair.b, start);
    assert_eq!(b_failed.len(), 1, "{b_failed:?}");
    assert!(b_failed[0] >= Duration::from_secs(15), "{b_failed:?}");
    assert_eq!(pair.b.router.counts().pipes, 0);
}
