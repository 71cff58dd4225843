//! Bandwidth tests 3, 4 and 5: priorities decide who gets the one high
//! layer that fits; random loss alone on a wide link does not collapse the
//! allocation; a publisher's maximum incoming bitrate reaches its sender.
//! The first two lock their per-second quality tables (`manifold_testkit::table`).

use std::time::Duration;

use manifold_sfu::{ConsumerId, ListenInfo, TransportId, WebRtcTransportOptions};
use manifold_testkit::table::{quality_row, video_consumers, Table};
use manifold_testkit::{LinkConfig, Sim};

/// Run for `secs` seconds, one quality-table row per second.
fn run_rows(sim: &mut Sim, table: &mut Table, t: TransportId, peer: usize, secs: u64) {
    let video = video_consumers(sim, t);
    for _ in 0..secs {
        sim.run_for(Duration::from_secs(1));
        let mut row = vec![format!("{}", sim.elapsed().as_secs())];
        row.extend(quality_row(sim, t, peer, &video));
        table.row(&row);
    }
}

const HEADER: &str = "       s | estimate |    alloc |   layers | freeze ms";

fn spatial(sim: &mut Sim, c: ConsumerId) -> Option<u8> {
    sim.router
        .consumer(c)
        .unwrap()
        .current_layers()
        .map(|l| l.spatial)
}

#[test]
fn pinned_consumer_gets_the_only_high_layer() {
    let mut sim = Sim::new(41);
    let a = sim.add_peer("a", LinkConfig::default(), LinkConfig::default());
    let b = sim.add_peer("b", LinkConfig::default(), LinkConfig::default());
    let (_, pa) = sim.publish_simulcast(a, &["q", "h", "f"], 1);
    let (_, pb) = sim.publish_simulcast(b, &["q", "h", "f"], 1);
    // Room for one full layer (about 1.1 Mbit/s) plus a lower one and audio.
    let down = LinkConfig {
        rate_bps: Some(2_000_000),
        ..Default::default()
    };
    let sub = sim.add_peer("sub", LinkConfig::default(), down);
    let all: Vec<_> = pa.iter().chain(&pb).copied().collect();
    let t = sim.subscribe(sub, &all);
    let v = video_consumers(&mut sim, t);
    // The second publisher is pinned (or screen share): higher priority.
    sim.router.consumer(v[1]).unwrap().set_priority(sim.now, 3);
    let mut table = Table::new(HEADER);
    run_rows(&mut sim, &mut table, t, sub, 20);
    // The estimate settles a little below the link: the pinned consumer
    // always gets the higher layer of the two.
    let (pinned, other) = (spatial(&mut sim, v[1]), spatial(&mut sim, v[0]));
    assert!(
        pinned > other && pinned >= Some(1),
        "pinned {pinned:?}, other {other:?}\n{}",
        table.text()
    );
    // Swap the priorities: the high layer follows.
    sim.router.consumer(v[1]).unwrap().set_priority(sim.now, 1);
    sim.router.consumer(v[0]).unwrap().set_priority(sim.now, 3);
    run_rows(&mut sim, &mut table, t, sub, 10);
    table.save("bandwidth_priorities");
    let (pinned, other) = (spatial(&mut sim, v[0]), spatial(&mut sim, v[1]));
    assert!(
        pinned > other && pinned >= Some(1),
        "pinned {pinned:?}, other {other:?}\n{}",
        table.text()
    );
    table.lock("bandwidth_priorities");
}

#[test]
fn random_loss_alone_does_not_collapse_allocation() {
    let mut sim = Sim::new(42);
    let p = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish_simulcast(p, &["q", "h", "f"], 1);
    let down = LinkConfig {
        loss: 0.05,
        rate_bps: Some(10_000_000),
        ..Default::default()
    };
    let sub = sim.add_peer("sub", LinkConfig::default(), down);
    let t = sim.subscribe(sub, &producers);
    let v = video_consumers(&mut sim, t)[0];
    let mut table = Table::new(HEADER);
    run_rows(&mut sim, &mut table, t, sub, 8);
    let mut low = 0;
    for _ in 0..20 {
        run_rows(&mut sim, &mut table, t, sub, 1);
        if spatial(&mut sim, v) == Some(0)
            || sim.router.consumer(v).unwrap().stats().paused_for_bandwidth
        {
            low += 1;
        }
    }
    assert_eq!(
        low,
        0,
        "fell to the lowest layer on loss alone:\n{}",
        table.text()
    );
    assert_eq!(spatial(&mut sim, v), Some(2));
    table.lock("bandwidth_lossy_link");
}

#[test]
fn publisher_is_told_its_max_incoming_bitrate() {
    let mut sim = Sim::new(43);
    let p = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    let offer = sim.client(p).offer_send(true, true);
    let options = WebRtcTransportOptions::new([ListenInfo::new(sim.server)])
        .with_max_incoming_bitrate(1_000_000);
    let t = sim
        .router
        .create_webrtc_transport(sim.now, options)
        .unwrap();
    let answer = sim
        .router
        .transport(t)
        .unwrap()
        .accept_offer(sim.now, &offer)
        .unwrap();
    sim.drain_router();
    sim.client(p).accept_answer(&answer);
    let now = sim.now;
    sim.client(p).source = Some(manifold_testkit::Source::new(now, true, true));
    sim.flush_client(p);
    sim.run_for(Duration::from_secs(5));
    let remb = &sim.client(p).remb;
    assert!(remb.len() >= 2, "REMB received {} times", remb.len());
    assert!(remb.iter().all(|b| *b == 1_000_000), "{remb:?}");
}
