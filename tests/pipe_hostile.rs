//! Pipe test 3: messages that do not fit the receiver's state. Messages
//! cannot be forged (only a router builds them), but a host can deliver
//! real ones late, twice, out of order or to the wrong pipe end: each is
//! dropped and counted, never a panic, and the limits hold.

use std::time::Duration;

use manifold_sfu::{Input, PipeMessage, RouterConfig, RouterError};
use manifold_testkit::pipe::PipePair;
use manifold_testkit::LinkConfig;

fn pair(seed: u64, max_producers_per_pipe: usize) -> PipePair {
    let mut a = RouterConfig::default();
    a.seed = Some(seed);
    let mut b = RouterConfig::default();
    b.seed = Some(seed + 1);
    b.limits.max_producers_per_pipe = max_producers_per_pipe;
    PipePair::new(a, b, seed)
}

#[test]
fn misdelivered_pipe_messages_are_dropped_and_counted() {
    let mut p = pair(51, 1_024);
    let publisher =
        p.a.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = p.a.publish(publisher, true, true);
    let now = p.now();
    for id in &producers {
        let mut pipe = p.a.router.pipe(p.pipe_a).unwrap();
        pipe.send_producer(now, *id).unwrap();
        // Sending twice is a no-op.
        pipe.send_producer(now, *id).unwrap();
    }
    // Run A alone and keep what it sends: announces, codecs, RTP.
    p.a.drain_router();
    p.a.run_for(Duration::from_secs(1));
    let msgs = std::mem::take(&mut p.a.pipe_out);
    let announces: Vec<PipeMessage> = msgs
        .iter()
        .filter(|(_, m)| matches!(m, PipeMessage::ProducerAnnounce(_)))
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(announces.len(), 2);
    let rtp: Vec<PipeMessage> = msgs
        .iter()
        .filter(|(_, m)| m.is_media())
        .map(|(_, m)| m.clone())
        .take(20)
        .collect();
    assert_eq!(rtp.len(), 20);
    let now = p.now();
    let b = &mut p.b.router;

    // RTP before any announce: unknown producer.
    for m in &rtp {
        b.handle_input(Input::pipe(now, p.pipe_b, m.clone()));
    }
    assert_eq!(b.stats().pipe_dropped, 20);
    assert_eq!(b.counts().producers, 0);

    // The announces, twice: the second copy is dropped.
    for m in announces.iter().chain(&announces) {
        b.handle_input(Input::pipe(now, p.pipe_b, m.clone()));
    }
    assert_eq!(b.counts().producers, 2);
    assert_eq!(b.stats().pipe_dropped, 22);

    // RTP whose codec was never announced to B (the codec messages were
    // held back): dropped.
    for m in &rtp {
        b.handle_input(Input::pipe(now, p.pipe_b, m.clone()));
    }
    assert_eq!(b.stats().pipe_dropped, 42);

    // Now everything A sent, in order: accepted.
    for (_, m) in &msgs {
        if !matches!(m, PipeMessage::ProducerAnnounce(_)) {
            b.handle_input(Input::pipe(now, p.pipe_b, m.clone()));
        }
    }
    assert_eq!(b.stats().pipe_dropped, 42);
    assert!(b.stats().pipe_rtp_in > 0);

    // Delivered to another pipe end of B, which was never told of them.
    let other = b.create_pipe(now).unwrap();
    for m in announces.iter().skip(1).chain(&rtp) {
        if !matches!(m, PipeMessage::ProducerAnnounce(_)) {
            b.handle_input(Input::pipe(now, other, m.clone()));
        }
    }
    assert_eq!(b.stats().pipe_dropped, 62);
    // A piped producer cannot go back through the pipe it came from, but
    // may go on through another.
    let (_, video_b) = b.pipe(p.pipe_b).unwrap().received_producers()[1];
    assert!(matches!(
        b.pipe(p.pipe_b).unwrap().send_producer(now, video_b),
        Err(RouterError::InvalidOptions(_))
    ));
    b.pipe(other).unwrap().send_producer(now, video_b).unwrap();

    // The producer closes on A: later RTP for it is dropped on B.
    let video_a = producers[1];
    p.a.router.producer(video_a).unwrap().close(now);
    p.carry();
    let b = &mut p.b.router;
    assert_eq!(b.counts().producers, 1);
    let before = b.stats().pipe_dropped;
    let video_rtp: Vec<_> = rtp
        .iter()
        .filter(|m| m.producer() == Some(video_a))
        .cloned()
        .collect();
    assert!(!video_rtp.is_empty());
    for m in &video_rtp {
        b.handle_input(Input::pipe(now, p.pipe_b, m.clone()));
    }
    assert_eq!(b.stats().pipe_dropped, before + video_rtp.len() as u64);

    // After the pipe closes, everything for it is dropped, a stale
    // PipeClosed included.
    b.pipe(p.pipe_b).unwrap().close(now);
    assert!(b.pipe(p.pipe_b).is_none());
    let before = b.stats().pipe_dropped;
    for (_, m) in &msgs {
        b.handle_input(Input::pipe(now, p.pipe_b, m.clone()));
    }
    assert_eq!(b.stats().pipe_dropped, before + msgs.len() as u64);
    assert_eq!(b.counts().producers, 0);
}

#[test]
fn producers_per_pipe_are_bounded_on_both_ends() {
    let mut p = pair(53, 1);
    let publisher =
        p.a.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = p.a.publish(publisher, true, true);
    let now = p.now();
    // B takes one producer per pipe; A is told nothing of B's limit.
    for id in &producers {
        p.a.router
            .pipe(p.pipe_a)
            .unwrap()
            .send_producer(now, *id)
            .unwrap();
    }
    p.carry();
    assert_eq!(p.b.router.counts().producers, 1);
    assert!(p.b.router.stats().pipe_dropped >= 1);
    // A stops sending the one B refused: B's close of it is dropped too.
    let before = p.b.router.stats().pipe_dropped;
    let mut a = p.a.router.pipe(p.pipe_a).unwrap();
    assert!(a.stop_producer(now, producers[1]));
    assert!(!a.stop_producer(now, producers[1]));
    p.carry();
    assert_eq!(p.b.router.stats().pipe_dropped, before + 1);
    assert_eq!(p.b.router.counts().producers, 1);

    // A's own limits refuse the commands.
    let mut config = RouterConfig::default();
    config.limits.max_producers_per_pipe = 1;
    config.limits.max_pipes = 1;
    let mut solo = PipePair::new(config.clone(), config, 55);
    let i = solo
        .a
        .add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, two) = solo.a.publish(i, true, true);
    let now = solo.now();
    let mut pipe = solo.a.router.pipe(solo.pipe_a).unwrap();
    pipe.send_producer(now, two[0]).unwrap();
    assert!(matches!(
        pipe.send_producer(now, two[1]),
        Err(RouterError::Limit {
            what: "max_producers_per_pipe",
            ..
        })
    ));
    assert!(matches!(
        solo.a.router.create_pipe(now),
        Err(RouterError::Limit {
            what: "max_pipes",
            ..
        })
    ));
    solo.run_for(Duration::from_secs(1));
    assert_eq!(solo.b.router.counts().producers, 1);
}
