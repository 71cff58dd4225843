//! Scenario: a consumer that cannot keep up. One publisher sends two
//! channels at about 6 Mbit/s each way through the router: `ticks`
//! (unreliable: no retransmission, unordered) and `file` (reliable,
//! ordered). One subscriber sits behind a 300 kbit/s link with 5 % loss;
//! another has a clean link.
//!
//! * The slow subscriber's unreliable consumer drops what its SCTP send
//!   buffer cannot hold (counted) and stays open.
//! * Its reliable consumer is closed with `TooSlow` (its client sees the
//!   channel close); memory stays bounded.
//! * The fast subscriber gets every message of both channels, in order for
//!   `file`: one slow consumer does not hold anyone else back.

use std::time::Duration;

use manifold_sfu::{CloseReason, DataConsumerOptions, DataProducerId, Event};
use manifold_testkit::{LinkConfig, Sim};
use str0m::channel::{ChannelConfig, Reliability};

#[test]
fn slow_consumer_drops_or_closes_alone() {
    let mut sim = Sim::new(7);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    sim.client(publisher).offer_channel(ChannelConfig {
        label: "ticks".into(),
        ordered: false,
        reliability: Reliability::MaxRetransmits { retransmits: 0 },
        ..Default::default()
    });
    sim.client(publisher).offer_channel(ChannelConfig {
        label: "file".into(),
        ..Default::default()
    });
    let (pt, _) = sim.publish(publisher, true, false);
    sim.run_for(Duration::from_secs(2));
    let dps: Vec<(String, DataProducerId)> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::DataProducerAdded {
                data_producer,
                transport,
                params,
            } if *transport == pt => Some((params.label.clone(), *data_producer)),
            _ => None,
        })
        .collect();
    assert_eq!(dps.len(), 2, "{dps:?}");
    let dp = |label: &str| dps.iter().find(|(l, _)| l == label).unwrap().1;
    let ticks = dp("ticks");
    let file = dp("file");
    let params = sim.router.data_producer(ticks).unwrap().params();
    assert!(
        !params.ordered && !params.reliability.is_reliable(),
        "{params:?}"
    );

    let slow_link = LinkConfig {
        rate_bps: Some(300_000),
        loss: 0.05,
        ..Default::default()
    };
    let slow = sim.add_peer("slow", LinkConfig::default(), slow_link);
    let fast = sim.add_peer("fast", LinkConfig::default(), LinkConfig::default());
    let mut consumers = Vec::new();
    for peer in [slow, fast] {
        // A data-only subscriber: its offer brings the SCTP m-line.
        sim.client(peer).offer_channel(ChannelConfig {
            label: "hello".into(),
            ..Default::default()
        });
        let t = sim.subscribe(peer, &[]);
        for p in [ticks, file] {
            let c = sim
                .router
                .consume_data(sim.now, t, p, DataConsumerOptions::default())
                .unwrap();
            consumers.push(c);
        }
        sim.drain_router();
    }
    let [slow_ticks, slow_file, _, _] = consumers[..] else {
        unreachable!()
    };
    sim.run_for(Duration::from_secs(2));
    for peer in [slow, fast] {
        let open = &sim.client(peer).channels.open;
        assert_eq!(open.len(), 3, "{open:?}");
    }

    // 4 s of 8 KiB messages, 50 a second on each channel.
    let sent = 200;
    for n in 0..sent {
        let mut msg = vec![(n % 251) as u8; 8 * 1024];
        msg[..4].copy_from_slice(&(n as u32).to_be_bytes());
        let c = sim.client(publisher);
        assert!(c.send_channel("ticks", true, &msg));
        assert!(c.send_channel("file", true, &msg));
        sim.flush_client(publisher);
        sim.run_for(Duration::from_millis(20));
    }
    sim.run_for(Duration::from_secs(5));

    // The fast subscriber got everything, `file` in order.
    let c = sim.client(fast);
    assert_eq!(c.channels.messages("ticks").len(), sent);
    let file_seq: Vec<u32> = c
        .channels
        .messages("file")
        .iter()
        .map(|m| u32::from_be_bytes(m[..4].try_into().unwrap()))
        .collect();
    assert_eq!(file_seq, (0..sent as u32).collect::<Vec<_>>());

    // The slow one: unreliable dropped and counted, still open.
    let st = sim
        .router
        .data_consumer(slow_ticks)
        .expect("still open")
        .stats();
    let got = sim.client(slow).channels.messages("ticks").len() as u64;
    assert!(st.messages_dropped > 0, "{st:?}");
    assert!(got > 0 && got < sent as u64, "slow got {got}");
    assert_eq!(
        st.messages_sent + st.messages_dropped,
        sent as u64,
        "{st:?}"
    );
    // Reliable: closed, with the reason, and its client told.
    assert!(sim.router.data_consumer(slow_file).is_none());
    assert_eq!(
        sim.count_events(|e| matches!(
            e,
            Event::DataConsumerClosed { data_consumer, reason: CloseReason::TooSlow, .. }
                if *data_consumer == slow_file
        )),
        1
    );
    // The client hears of it once its SCTP stack gets to the stream reset,
    // behind what was already buffered on the slow link.
    let deadline = sim.now + Duration::from_secs(30);
    let told = sim.run_until(
        |s| s.client(slow).channels.closed.iter().any(|l| l == "file"),
        deadline,
    );
    assert!(told, "the slow client sees its reliable channel close");
    let rs = sim.router.stats();
    assert_eq!(rs.data_messages_in, 2 * sent as u64);
    assert!(rs.data_messages_dropped > st.messages_dropped);
}
