//! Pipe test 5 (issue #17's harness test): a VP8 simulcast producer piped
//! from router A to router B under 5 % loss of the RTP messages on the
//! pipe. B asks for every gap (`PipeMessage::Nack`, retried) and A sends
//! from its history: B receives at least 99 % of what A received, the
//! subscriber's stream has no hole, switches land on keyframes requested
//! across the pipe.

use std::time::Duration;

use manifold_sfu::{Layers, MediaKind, RouterConfig};
use manifold_testkit::pipe::{piped_producers, send_through, PipePair};
use manifold_testkit::{check, LinkConfig};

fn config(seed: u64) -> RouterConfig {
    let mut c = RouterConfig::default();
    c.seed = Some(seed);
    c.initial_bandwidth_bps = None;
    c
}

#[test]
fn nacks_across_the_pipe_repair_five_percent_loss() {
    let mut pair = PipePair::new(config(71), config(72), 73);
    pair.loss = 0.05;
    let publisher = pair
        .a
        .add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = pair.a.publish_simulcast(publisher, &["q", "h", "f"], 3);
    send_through(&mut pair.a, pair.pipe_a, &producers);
    pair.carry();
    let on_b = piped_producers(&mut pair.b, pair.pipe_b);
    let sub = pair
        .b
        .add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let t = pair.b.subscribe(sub, &on_b);
    pair.run_for(Duration::from_secs(3));
    let consumer = pair.b.router.transport(t).unwrap().consumers()[1];
    for spatial in [0u8, 2, 1, 2] {
        let now = pair.now();
        pair.b
            .router
            .consumer(consumer)
            .unwrap()
            .set_preferred_layers(now, Layers::new(spatial, 2));
        pair.run_for(Duration::from_millis(1500));
    }
    // The last repairs land.
    pair.loss = 0.0;
    pair.run_for(Duration::from_millis(500));

    assert!(pair.lost > 20, "the pipe lost {} packets", pair.lost);
    println!(
        "pipe: {} RTP messages A→B, {} lost, {} sent again",
        pair.rtp_a_to_b,
        pair.lost,
        pair.a.router.stats().pipe_retransmitted
    );
    let a_got = pair
        .a
        .router
        .producer(producers[1])
        .unwrap()
        .packets_received();
    let b_got = pair.b.router.producer(on_b[1]).unwrap().packets_received();
    assert!(
        b_got * 100 >= a_got * 99,
        "B received {b_got} of the {a_got} packets A received"
    );
    assert!(pair.a.router.stats().pipe_retransmitted > 0);
    println!("video packets: A received {a_got}, B received {b_got}");
    let video = pair.b.client(sub).track(MediaKind::Video).to_vec();
    // One continuous stream: every switch on a keyframe, no hole (a
    // retransmission lost too is asked for again), picture IDs continuous.
    let switches = check::simulcast_stream(&video);
    assert!(switches >= 3, "{switches} switches");
    assert!(pair.keyframe_requests_b_to_a > 0);
    assert_eq!(pair.b.router.stats().pipe_dropped, 0);
}
