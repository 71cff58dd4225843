//! Scenario: data channels under random operations from clients and the
//! host, seeded. Three clients (with media) open and close channels, send
//! messages of every size (some past `max_data_message_bytes`), and floods;
//! the host consumes, closes and sends at random, and closes a transport
//! now and then (the client then joins again). After every step the
//! router's invariants hold (data producers, consumers and transports name
//! each other; nothing is held past its limit); at the end, closing every
//! transport and the host's producers leaves no data object behind, and
//! every message is accounted for.

use std::time::Duration;

use manifold_sfu::testkit_hooks::check_invariants;
use manifold_sfu::{
    DataChannelParams, DataConsumerOptions, DataProducerId, Event, RouterConfig, TransportId,
};
use manifold_testkit::{LinkConfig, Sim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use str0m::channel::{ChannelConfig, Reliability};

fn join(sim: &mut Sim, peer: usize, n: usize) -> TransportId {
    let c = sim.client(peer);
    c.offer_channel(ChannelConfig {
        label: format!("c{n}"),
        ..Default::default()
    });
    sim.publish(peer, true, n.is_multiple_of(2)).0
}

fn data_producers(sim: &Sim) -> Vec<DataProducerId> {
    let mut ids: Vec<DataProducerId> = sim
        .router
        .transport_ids()
        .into_iter()
        .flat_map(|t| sim.router.transport_ref(t).unwrap().data_producers())
        .collect();
    ids.sort();
    ids
}

#[test]
fn random_data_channel_operations_keep_state_consistent() {
    let mut config = RouterConfig::default();
    config.seed = Some(99);
    config.limits.max_data_channels_per_transport = 6;
    config.limits.max_data_message_bytes = 16 * 1024;
    config.limits.max_data_buffered_bytes = 64 * 1024;
    let mut sim = Sim::with_config(config);
    let mut rng = StdRng::seed_from_u64(99);
    let host = sim
        .router
        .create_data_producer(sim.now, DataChannelParams::new("host"));
    let mut peers: Vec<(usize, TransportId)> = Vec::new();
    let mut joins = 0;
    for i in 0..3 {
        let p = sim.add_peer(
            &format!("p{i}"),
            LinkConfig::lossy(0.02),
            LinkConfig::lossy(0.02),
        );
        joins += 1;
        let t = join(&mut sim, p, joins);
        peers.push((p, t));
    }
    sim.run_for(Duration::from_secs(2));
    let mut sent_by_clients = 0u64;
    for step in 0..400 {
        let (peer, t) = peers[rng.random_range(0..peers.len())];
        match rng.random_range(0..100) {
            // A client opens another channel (SCTP is up: no renegotiation).
            0..=7 => {
                let reliability = match rng.random_range(0..3) {
                    0 => Reliability::Reliable,
                    1 => Reliability::MaxRetransmits { retransmits: 0 },
                    _ => Reliability::MaxPacketLifetime { lifetime: 100 },
                };
                sim.client(peer)
                    .rtc
                    .direct_api()
                    .create_data_channel(ChannelConfig {
                        label: format!("s{step}"),
                        ordered: rng.random_bool(0.5),
                        reliability,
                        ..Default::default()
                    });
                sim.flush_client(peer);
            }
            // A client sends on one of its open channels.
            8..=59 => {
                let labels: Vec<String> =
                    sim.client(peer).channels.open.values().cloned().collect();
                if let Some(label) = labels.get(rng.random_range(0..labels.len().max(1))) {
                    let len = match rng.random_range(0..10) {
                        0 => 20_000,
                        1..=2 => rng.random_range(1_000..16_000),
                        _ => rng.random_range(1..200),
                    };
                    let burst = if rng.random_bool(0.1) { 50 } else { 1 };
                    for _ in 0..burst {
                        let data = vec![rng.random::<u8>(); len];
                        sent_by_clients += u64::from(sim.client(peer).send_channel(
                            label,
                            rng.random_bool(0.5),
                            &data,
                        ));
                    }
                    sim.flush_client(peer);
                }
            }
            // A client closes one of its channels.
            60..=64 => {
                let labels: Vec<String> =
                    sim.client(peer).channels.open.values().cloned().collect();
                if let Some(label) = labels.first() {
                    sim.client(peer).close_channel(label);
                    sim.flush_client(peer);
                }
            }
            // The host forwards a data producer to a transport.
            65..=79 => {
                let mut dps = data_producers(&sim);
                dps.push(host);
                let dp = dps[rng.random_range(0..dps.len())];
                let label = format!("fwd{step}");
                let _ = sim.router.consume_data(
                    sim.now,
                    t,
                    dp,
                    DataConsumerOptions::default().with_label(label),
                );
                sim.drain_router();
            }
            // The host closes a data consumer or producer.
            80..=86 => {
                let dcs = sim.router.transport(t).unwrap().data_consumers();
                if let Some(dc) = dcs.first() {
                    sim.router.data_consumer(*dc).unwrap().close(sim.now);
                } else if let Some(dp) = data_producers(&sim).first() {
                    sim.router.data_producer(*dp).unwrap().close(sim.now);
                }
                sim.drain_router();
            }
            // The host speaks.
            87..=96 => {
                let len = rng.random_range(1..20_000);
                sim.router
                    .data_producer(host)
                    .unwrap()
                    .send(sim.now, true, vec![7u8; len]);
                sim.drain_router();
            }
            // A member leaves and joins again with a new client.
            _ => {
                sim.router.transport(t).unwrap().close(sim.now);
                sim.drain_router();
                let i = peers.iter().position(|x| x.1 == t).unwrap();
                let p = sim.add_peer(
                    &format!("r{step}"),
                    LinkConfig::default(),
                    LinkConfig::default(),
                );
                joins += 1;
                let t = join(&mut sim, p, joins);
                peers[i] = (p, t);
            }
        }
        sim.run_for(Duration::from_millis(rng.random_range(5..120)));
        check_invariants(&mut sim.router);
    }
    sim.run_for(Duration::from_secs(3));
    check_invariants(&mut sim.router);
    let stats = sim.router.stats();
    assert!(
        stats.data_messages_in > 0 && stats.data_messages_out > 0,
        "{stats:?}"
    );
    assert!(
        stats.data_messages_dropped > 0,
        "oversized and flooded messages dropped"
    );
    assert!(
        stats.data_messages_in <= sent_by_clients + 100,
        "no message invented: {} in, {sent_by_clients} sent by clients",
        stats.data_messages_in
    );
    assert!(sim.count_events(|e| matches!(e, Event::DataProducerAdded { .. })) > 3);

    for (_, t) in peers {
        sim.router.transport(t).unwrap().close(sim.now);
        sim.drain_router();
    }
    sim.router.data_producer(host).unwrap().close(sim.now);
    sim.drain_router();
    let counts = sim.router.counts();
    assert_eq!(
        (counts.data_producers, counts.data_consumers),
        (0, 0),
        "{counts:?}"
    );
    assert_eq!(counts.transports, 0);
}
