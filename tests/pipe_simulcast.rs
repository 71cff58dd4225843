//! Pipe test 1: a VP8 simulcast publisher (three encodings, three temporal
//! layers) on router A; a pipe carries its producers to router B, where two
//! subscribers consume them like local producers. They receive every
//! packet A received (in-process, no loss), their layer switches land on
//! keyframes requested across the pipe, and closing the producer on A
//! closes the consumers on B.

use std::time::Duration;

use manifold_sfu::{Event, Layers, MediaKind, ProducerId, RouterConfig};
use manifold_testkit::pipe::PipePair;
use manifold_testkit::{check, LinkConfig};

fn config(seed: u64) -> RouterConfig {
    let mut c = RouterConfig::default();
    c.seed = Some(seed);
    // Switching is under test, not bandwidth: no allocator.
    c.initial_bandwidth_bps = None;
    c
}

#[test]
fn piped_simulcast_switches_on_keyframes_requested_across_the_pipe() {
    let mut pair = PipePair::new(config(31), config(32), 33);
    let publisher = pair
        .a
        .add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = pair.a.publish_simulcast(publisher, &["q", "h", "f"], 3);
    pair.run_for(Duration::from_secs(1));
    let video_a = producers[1];

    // A sends both producers through the pipe; B announces them.
    let now = pair.now();
    let (pipe_a, pipe_b) = (pair.pipe_a, pair.pipe_b);
    for p in &producers {
        let mut pipe = pair.a.router.pipe(pipe_a).unwrap();
        pipe.send_producer(now, *p).unwrap();
    }
    let a_before = pair.a.router.producer(video_a).unwrap().packets_received();
    pair.carry();
    let piped: Vec<(ProducerId, ProducerId, MediaKind)> = pair
        .b
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::PipeProducerAdded {
                producer,
                pipe,
                remote_producer,
                kind,
            } if *pipe == pipe_b => Some((*producer, *remote_producer, *kind)),
            _ => None,
        })
        .collect();
    assert_eq!(piped.len(), 2);
    assert_eq!(piped[1].1, video_a);
    assert_eq!(piped[1].2, MediaKind::Video);
    let on_b: Vec<ProducerId> = piped.iter().map(|p| p.0).collect();
    let video_b = on_b[1];
    assert_eq!(
        pair.b.router.pipe(pipe_b).unwrap().received_producers(),
        vec![(producers[0], on_b[0]), (video_a, video_b)]
    );
    assert_eq!(
        pair.b.router.producer(video_b).unwrap().rids(),
        ["q", "h", "f"]
    );

    // Two subscribers on B.
    let s1 = pair
        .b
        .add_peer("sub1", LinkConfig::default(), LinkConfig::default());
    let s2 = pair
        .b
        .add_peer("sub2", LinkConfig::default(), LinkConfig::default());
    let t1 = pair.b.subscribe(s1, &on_b);
    let t2 = pair.b.subscribe(s2, &on_b);
    pair.run_for(Duration::from_secs(3));
    for s in [s1, s2] {
        let video = pair.b.client(s).track(MediaKind::Video).to_vec();
        let frames = video.iter().filter(|r| r.marker).count();
        assert!(frames > 60, "subscriber {s}: {frames} frames in 3 s");
        assert!(video[0].keyframe_start, "decoding starts on a keyframe");
        assert!(!pair.b.client(s).track(MediaKind::Audio).is_empty());
    }
    // The first keyframes were asked for across the pipe.
    assert!(pair.keyframe_requests_b_to_a > 0);
    assert!(pair.a.client(publisher).keyframe_requests > 0);

    // Sub 2 switches down, then up: each switch needs a keyframe of the new
    // layer, which only the publisher on A can make.
    let consumer = pair.b.router.transport(t2).unwrap().consumers()[1];
    let kf_publisher = pair.a.client(publisher).keyframe_requests;
    let kf_pipe = pair.keyframe_requests_b_to_a;
    for (spatial, _) in [(0u8, ()), (2, ()), (1, ())] {
        let now = pair.now();
        pair.b
            .router
            .consumer(consumer)
            .unwrap()
            .set_preferred_layers(now, Layers::new(spatial, 2));
        pair.run_for(Duration::from_millis(1500));
        let current = pair.b.router.consumer(consumer).unwrap().current_layers();
        assert_eq!(current.map(|l| l.spatial), Some(spatial));
    }
    assert!(pair.keyframe_requests_b_to_a > kf_pipe);
    assert!(pair.a.client(publisher).keyframe_requests > kf_publisher);
    let video2 = pair.b.client(s2).track(MediaKind::Video).to_vec();
    let switches = check::simulcast_stream(&video2);
    assert!(switches >= 3, "{switches} switches");
    let video1 = pair.b.client(s1).track(MediaKind::Video).to_vec();
    check::simulcast_stream(&video1);
    assert_eq!(check::missing_seqs(&video1), 0);

    // Everything A received after the export reached B.
    let a_got = pair.a.router.producer(video_a).unwrap().packets_received() - a_before;
    let b_got = pair.b.router.producer(video_b).unwrap().packets_received();
    assert!(
        b_got * 100 >= a_got * 99,
        "B received {b_got} of the {a_got} packets A received"
    );
    assert_eq!(pair.lost, 0);
    assert_eq!(pair.b.router.stats().pipe_dropped, 0);
    assert_eq!(pair.a.router.stats().pipe_dropped, 0);

    // Closing the producer on A closes the piped producer and its two
    // consumers on B.
    let now = pair.now();
    pair.a.router.producer(video_a).unwrap().close(now);
    pair.carry();
    assert_eq!(
        pair.b.count_events(|e| matches!(e,
            Event::ProducerClosed { producer, transport, .. }
                if *producer == video_b && *transport == pipe_b.as_transport())),
        1
    );
    assert_eq!(
        pair.b.count_events(|e| matches!(e,
            Event::ConsumerClosed { producer, .. } if *producer == video_b)),
        2
    );
    for t in [t1, t2] {
        assert_eq!(pair.b.router.transport(t).unwrap().consumers().len(), 1);
    }
    assert_eq!(
        pair.b.router.pipe(pipe_b).unwrap().received_producers(),
        vec![(producers[0], on_b[0])]
    );
    assert_eq!(
        pair.a.router.pipe(pipe_a).unwrap().sent_producers(),
        vec![producers[0]]
    );
}
