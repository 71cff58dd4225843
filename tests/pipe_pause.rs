//! Pipe test 4: pausing a producer on router A pauses its piped copy on
//! router B; resuming it resumes B's consumers without a sequence gap,
//! video from a keyframe.

use std::time::Duration;

use manifold_sfu::{MediaKind, RouterConfig};
use manifold_testkit::pipe::{piped_producers, send_through, PipePair};
use manifold_testkit::{check, LinkConfig};

#[test]
fn pause_and_resume_cross_the_pipe() {
    let mut a = RouterConfig::default();
    a.seed = Some(61);
    let mut b = RouterConfig::default();
    b.seed = Some(62);
    let mut pair = PipePair::new(a, b, 63);
    let publisher = pair
        .a
        .add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = pair.a.publish(publisher, true, true);
    send_through(&mut pair.a, pair.pipe_a, &producers);
    pair.carry();
    let on_b = piped_producers(&mut pair.b, pair.pipe_b);
    let sub = pair
        .b
        .add_peer("sub", LinkConfig::default(), LinkConfig::default());
    pair.b.subscribe(sub, &on_b);
    pair.run_for(Duration::from_secs(2));
    let before = pair.b.client(sub).track(MediaKind::Video).len();
    assert!(before > 50, "{before} video packets before the pause");

    let now = pair.now();
    pair.a.router.producer(producers[1]).unwrap().pause(now);
    pair.carry();
    assert!(pair.b.router.producer(on_b[1]).unwrap().is_paused());
    pair.run_for(Duration::from_secs(1));
    let paused = pair.b.client(sub).track(MediaKind::Video).len();
    pair.run_for(Duration::from_secs(1));
    assert_eq!(pair.b.client(sub).track(MediaKind::Video).len(), paused);

    let now = pair.now();
    let kf = pair.a.client(publisher).keyframe_requests;
    pair.a.router.producer(producers[1]).unwrap().resume(now);
    pair.carry();
    assert!(!pair.b.router.producer(on_b[1]).unwrap().is_paused());
    pair.run_for(Duration::from_secs(2));
    assert!(pair.a.client(publisher).keyframe_requests > kf);
    let video = pair.b.client(sub).track(MediaKind::Video).to_vec();
    assert!(video.len() > paused + 50, "video resumed");
    assert!(video[paused].keyframe_start, "resumes on a keyframe");
    assert_eq!(check::missing_seqs(&video), 0);
    assert_eq!(pair.b.router.stats().pipe_dropped, 0);
}
