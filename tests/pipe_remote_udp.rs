//! A remote pipe over real UDP sockets on 127.0.0.1, between two routers
//! in one process: the sealed datagrams go through the kernel, their
//! source addresses are the ones it reports, and a simulcast producer on
//! A reaches a consumer on B, whose layer switch lands on a keyframe
//! requested across the pipe. The routers run on the harness's virtual
//! clock; each datagram is waited for at most 500 ms of real time.

use std::time::Duration;

use manifold_sfu::{Layers, MediaKind, RouterConfig};
use manifold_testkit::pipe::RemotePipePair;
use manifold_testkit::LinkConfig;

fn config(seed: u64) -> RouterConfig {
    let mut c = RouterConfig::default();
    c.seed = Some(seed);
    c.initial_bandwidth_bps = None;
    c
}

#[test]
fn a_remote_pipe_over_loopback_udp() {
    let mut pair = RemotePipePair::over_udp(config(11), config(12), 13).unwrap();
    assert!(pair.addr_a.ip().is_loopback() && pair.addr_a != pair.addr_b);
    let publisher = pair
        .a
        .add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = pair.a.publish_simulcast(publisher, &["q", "h"], 2);
    let now = pair.now();
    for id in &producers {
        pair.a
            .router
            .pipe(pair.pipe_a)
            .unwrap()
            .send_producer(now, *id)
            .unwrap();
    }
    pair.run_for(Duration::from_millis(200));
    let on_b: Vec<_> = pair
        .b
        .router
        .pipe(pair.pipe_b)
        .unwrap()
        .received_producers()
        .iter()
        .map(|(_, local)| *local)
        .collect();
    assert_eq!(on_b.len(), 2);
    let sub = pair
        .b
        .add_peer("sub", LinkConfig::default(), LinkConfig::default());
    let t = pair.b.subscribe(sub, &on_b);
    pair.run_for(Duration::from_secs(2));
    let consumer = pair.b.router.transport(t).unwrap().consumers()[1];
    let now = pair.now();
    pair.b
        .router
        .consumer(consumer)
        .unwrap()
        .set_preferred_layers(now, Layers::new(0, 2));
    pair.run_for(Duration::from_secs(2));

    let (sa, sb) = (pair.a.router.stats(), pair.b.router.stats());
    println!(
        "udp: A sent {} RTP, B received {}, {} lost in the kernel",
        sa.pipe_rtp_out, sb.pipe_rtp_in, pair.udp_lost
    );
    assert!(sb.pipe_datagrams_in > 100);
    assert_eq!(
        sb.pipe_datagrams_forged + sb.pipe_datagrams_replayed + sb.pipe_datagrams_malformed,
        0
    );
    let video = pair.b.client(sub).track(MediaKind::Video).to_vec();
    let switches = manifold_testkit::check::simulcast_stream(&video);
    assert!(switches >= 1, "{switches} switches");
    assert!(sb.keyframe_requests > 0);
}
