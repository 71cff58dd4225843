//! Pipes across hosts (issue #17, part 3): a VP8 simulcast producer on
//! router A reaches two consumers on router B through a *remote* pipe,
//! whose sealed datagrams cross seeded links losing 5 % each way and
//! reordering. Control messages are acknowledged and sent again, RTP is
//! repaired by the pipe's NACKs: B receives at least 99 % of what A
//! received, layer switches on B land on keyframes requested across the
//! pipe, closing the producer on A closes B's consumers. A forged, a
//! replayed and a truncated datagram are each dropped and counted, and
//! nothing breaks.

use std::time::Duration;

use manifold_sfu::{
    CloseReason, Event, Input, Layers, MediaKind, PipeRole, RemotePipeOptions, Router, RouterConfig,
};
use manifold_testkit::pipe::{piped_producers, send_through, RemotePipePair};
use manifold_testkit::{check, LinkConfig};

fn config(seed: u64) -> RouterConfig {
    let mut c = RouterConfig::default();
    c.seed = Some(seed);
    c.initial_bandwidth_bps = None;
    c
}

fn link() -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(15),
        jitter: Duration::ZERO,
        ..LinkConfig::lossy(0.05)
    }
}

#[test]
fn a_simulcast_producer_crosses_a_lossy_remote_pipe() {
    let mut pair = RemotePipePair::new(config(81), config(82), link(), link(), 83);
    // One datagram in fifty 3 ms late, overtaken by those sent just after.
    pair.reorder = 0.02;
    let publisher = pair
        .a
        .add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = pair.a.publish_simulcast(publisher, &["q", "h", "f"], 3);
    send_through(&mut pair.a, pair.pipe_a, &producers);
    // The announces cross (sent again if lost).
    pair.run_for(Duration::from_millis(500));
    let on_b = piped_producers(&mut pair.b, pair.pipe_b);
    assert_eq!(on_b.len(), producers.len());
    let subs: Vec<_> = ["sub1", "sub2"]
        .iter()
        .map(|name| {
            pair.b
                .add_peer(name, LinkConfig::default(), LinkConfig::default())
        })
        .collect();
    let transports: Vec<_> = subs.iter().map(|&s| pair.b.subscribe(s, &on_b)).collect();
    pair.run_for(Duration::from_secs(2));
    let a_before = pair
        .a
        .router
        .producer(producers[1])
        .unwrap()
        .packets_received();
    let b_before = pair.b.router.producer(on_b[1]).unwrap().packets_received();
    let consumers: Vec<_> = transports
        .iter()
        .map(|&t| pair.b.router.transport(t).unwrap().consumers()[1])
        .collect();
    for spatial in [0u8, 2, 1, 2] {
        let now = pair.now();
        for (i, &c) in consumers.iter().enumerate() {
            // The second subscriber switches the other way.
            let s = if i == 0 { spatial } else { 2 - spatial };
            pair.b
                .router
                .consumer(c)
                .unwrap()
                .set_preferred_layers(now, Layers::new(s, 2));
        }
        pair.run_for(Duration::from_millis(1500));
    }
    // The last repairs land.
    pair.a_to_b.config.loss = 0.0;
    pair.b_to_a.config.loss = 0.0;
    pair.run_for(Duration::from_millis(500));

    let (sa, sb) = (pair.a.router.stats(), pair.b.router.stats());
    println!(
        "links: A→B {} sent, {} lost; B→A {} sent, {} lost; A resent {} RTP, {} control; \
         B dropped {} duplicates",
        pair.a_to_b.sent,
        pair.a_to_b.lost,
        pair.b_to_a.sent,
        pair.b_to_a.lost,
        sa.pipe_retransmitted,
        sa.pipe_control_resent,
        sb.pipe_rtp_duplicates,
    );
    assert!(pair.a_to_b.lost > 20 && pair.b_to_a.lost > 0 && pair.reordered > 20);
    let a_got = pair
        .a
        .router
        .producer(producers[1])
        .unwrap()
        .packets_received()
        - a_before;
    let b_got = pair.b.router.producer(on_b[1]).unwrap().packets_received() - b_before;
    println!("video packets since the subscribers came: A received {a_got}, B received {b_got}");
    assert!(
        b_got * 100 >= a_got * 99,
        "B received {b_got} of the {a_got} packets A received"
    );
    assert!(sa.pipe_retransmitted > 0);
    assert_eq!(pair.stray, 0);
    assert_eq!(
        sb.pipe_datagrams_forged + sb.pipe_datagrams_replayed + sb.pipe_datagrams_malformed,
        0
    );
    for &s in &subs {
        let video = pair.b.client(s).track(MediaKind::Video).to_vec();
        let (switches, holes) = switches_and_holes(&video);
        println!("subscriber {s}: {switches} switches, {holes} packets missing");
        assert!(switches >= 3, "{switches} switches");
        // Rarely not zero with reordering on the pipe, as with a
        // publisher's reordering link: a consumer drops the packets of a
        // keyframe that overtake its first one (it waits for that one to
        // switch), and a packet repaired only after its consumer switched
        // layers.
        assert!(
            holes * 100 <= video.len(),
            "{holes} of {} packets missing",
            video.len()
        );
    }
    assert!(sb.keyframe_requests > 0);

    // Closing the producer on A closes both consumers on B.
    let now = pair.now();
    pair.a.router.producer(producers[1]).unwrap().close(now);
    pair.run_for(Duration::from_millis(500));
    let closed = pair.b.count_events(|e| {
        matches!(e, Event::ConsumerClosed { producer, reason: CloseReason::ProducerClosed, .. } if *producer == on_b[1])
    });
    assert_eq!(closed, 2);
    assert!(pair.b.router.producer(on_b[1]).is_none());
}

#[test]
fn forged_replayed_and_truncated_datagrams_are_dropped_and_counted() {
    let quiet = LinkConfig::default();
    let mut pair = RemotePipePair::new(config(91), config(92), quiet, quiet, 93);
    let publisher = pair
        .a
        .add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = pair.a.publish_simulcast(publisher, &["q", "h", "f"], 3);
    let now = pair.now();
    pair.a
        .router
        .pipe(pair.pipe_a)
        .unwrap()
        .send_producer(now, producers[1])
        .unwrap();
    pair.run_for(Duration::from_secs(1));
    let received = |pair: &RemotePipePair| pair.b.router.stats().pipe_rtp_in;
    let before = received(&pair);
    assert!(before > 0);

    // Forged: sealed with another key by a router that claims A's address.
    let now = pair.now();
    let mut mallory = Router::new(config(94), now);
    let wrong = [0x55u8; 32];
    let m = mallory
        .create_remote_pipe(
            now,
            RemotePipeOptions::new(pair.addr_a, pair.addr_b, wrong, PipeRole::A),
        )
        .unwrap();
    mallory.pipe(m).unwrap().close(now);
    let mut forged = Vec::new();
    while let manifold_sfu::Output::Transmit(t) = mallory.poll_output() {
        forged.push(t.contents.to_vec());
    }
    assert!(!forged.is_empty());
    // A datagram of A's, its counter changed (the header is authenticated).
    let mut bent = pair.sent_a_to_b[pair.sent_a_to_b.len() - 30].clone();
    bent[9] ^= 0x40;
    forged.push(bent);
    for d in &forged {
        pair.inject_into_b(d);
    }
    // Replayed: the first datagram and the most recent one.
    let first = pair.sent_a_to_b[0].clone();
    let last = pair.sent_a_to_b[pair.sent_a_to_b.len() - 20].clone();
    pair.inject_into_b(&first);
    pair.inject_into_b(&last);
    // Truncated: the tag cut (fails authentication), and cut below a
    // pipe datagram's header (not even classified as one).
    pair.inject_into_b(&last[..last.len() - 4]);
    pair.inject_into_b(&last[..20]);
    // From an address pair no pipe uses.
    let now = pair.now();
    let stranger = "10.9.0.3:7000".parse().unwrap();
    pair.b
        .router
        .handle_input(Input::receive(now, stranger, pair.addr_b, &last));

    let s = pair.b.router.stats();
    assert_eq!(s.pipe_datagrams_forged, forged.len() as u64 + 1);
    assert_eq!(s.pipe_datagrams_replayed, 2);
    assert_eq!(s.pipe_datagrams_malformed, 0);
    assert_eq!(
        s.dropped_malformed, 1,
        "the datagram cut below a pipe header"
    );
    assert_eq!(s.dropped_unknown_source, 1, "the stranger's");
    // Nothing broke: the pipe is open and media still flows.
    pair.run_for(Duration::from_secs(1));
    assert!(received(&pair) > before + 50);
    assert_eq!(pair.b.router.counts().pipes, 1);
    assert_eq!(
        pair.b
            .count_events(|e| matches!(e, Event::PipeClosed { .. })),
        0
    );
}

/// Every switch between encodings lands on a keyframe; returns the
/// switches and the holes in the subscriber's sequence numbers.
fn switches_and_holes(rx: &[manifold_testkit::Rx]) -> (usize, usize) {
    let v = check::by_seq(rx);
    let mut switches = 0;
    for w in v.windows(2) {
        let (a, b) = (w[0].vp8.unwrap(), w[1].vp8.unwrap());
        if a.layer != b.layer {
            switches += 1;
            assert!(b.keyframe, "switch at seq {} not on a keyframe", w[1].seq);
        }
    }
    (switches, check::missing_seqs(&v))
}
