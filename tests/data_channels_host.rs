//! Scenario: data channels the client never offered, and the host's own.
//!
//! * A WHEP-style subscriber offered media only (no SCTP m-line). Consuming
//!   a data producer on its transport makes the router offer the SCTP
//!   m-line (renegotiation); the channel opens and the messages sent
//!   meanwhile arrive, in order.
//! * The host's own data producer reaches that client; the host's direct
//!   data consumer receives a client's messages as `Event::DataMessage`.
//! * A message over `max_data_message_bytes` is dropped and counted.

use std::time::Duration;

use manifold_sfu::{DataChannelParams, DataConsumerOptions, DataReliability, Event};
use manifold_testkit::{LinkConfig, Sim};
use str0m::channel::ChannelConfig;

#[test]
fn renegotiated_channel_and_host_messages() {
    let mut sim = Sim::new(3);
    let publisher = sim.add_peer("pub", LinkConfig::default(), LinkConfig::default());
    sim.client(publisher).offer_channel(ChannelConfig {
        label: "chat".into(),
        protocol: "json".into(),
        ..Default::default()
    });
    let (pt, producers) = sim.publish(publisher, true, true);
    sim.run_for(Duration::from_secs(2));
    let chat = sim
        .events
        .iter()
        .find_map(|(_, e)| match e {
            Event::DataProducerAdded {
                data_producer,
                transport,
                params,
            } if *transport == pt => {
                assert_eq!(params.protocol, "json");
                Some(*data_producer)
            }
            _ => None,
        })
        .expect("the chat channel is a data producer");

    // Media only: no m=application in its offer.
    let viewer = sim.add_peer("viewer", LinkConfig::default(), LinkConfig::default());
    let vt = sim.subscribe(viewer, &producers);
    assert!(!sim.client(viewer).remote_sdp.contains("m=application"));
    let renegotiations = sim.count_events(|e| matches!(e, Event::RenegotiationNeeded { .. }));
    let dc = sim
        .router
        .consume_data(sim.now, vt, chat, DataConsumerOptions::default())
        .unwrap();
    let announce = sim
        .router
        .create_data_producer(sim.now, DataChannelParams::new("announcements"));
    sim.router
        .consume_data(sim.now, vt, announce, DataConsumerOptions::default())
        .unwrap();
    sim.drain_router();
    // Sent before the channel exists: waits.
    for n in 0..5 {
        let text = format!("early {n}");
        assert!(sim
            .client(publisher)
            .send_channel("chat", false, text.as_bytes()));
    }
    sim.flush_client(publisher);
    let deadline = sim.now + Duration::from_secs(10);
    let opened = sim.run_until(
        |s| s.router.data_consumer(dc).is_some_and(|c| c.is_open()),
        deadline,
    );
    assert!(opened, "the renegotiated channel opens");
    let offers: Vec<&String> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::RenegotiationNeeded { transport, offer } if *transport == vt => Some(offer),
            _ => None,
        })
        .collect();
    assert!(sim.count_events(|e| matches!(e, Event::RenegotiationNeeded { .. })) > renegotiations);
    assert!(
        offers.iter().any(|o| o.contains("m=application")),
        "the router offered the SCTP m-line"
    );
    assert!(
        sim.count_events(
            |e| matches!(e, Event::DataConsumerOpen { data_consumer, .. } if *data_consumer == dc)
        ) == 1
    );

    // The host speaks; and listens to the publisher's chat.
    let ear = sim.router.consume_data_direct(sim.now, chat).unwrap();
    assert!(sim
        .router
        .data_producer(announce)
        .unwrap()
        .send(sim.now, false, &b"welcome"[..]));
    sim.drain_router();
    for n in 0..5 {
        let text = format!("late {n}");
        assert!(sim
            .client(publisher)
            .send_channel("chat", false, text.as_bytes()));
    }
    sim.flush_client(publisher);
    // Too large: dropped and counted, nobody gets it.
    let max = sim.router.config().limits.max_data_message_bytes;
    assert!(!sim
        .router
        .data_producer(announce)
        .unwrap()
        .send(sim.now, true, vec![0u8; max + 1]));
    sim.run_for(Duration::from_secs(2));

    let c = sim.client(viewer);
    assert!(c.remote_sdp.contains("m=application") || !c.channels.open.is_empty());
    let chat_got: Vec<String> = c
        .channels
        .messages("chat")
        .iter()
        .map(|m| String::from_utf8(m.to_vec()).unwrap())
        .collect();
    let want: Vec<String> = (0..5)
        .map(|n| format!("early {n}"))
        .chain((0..5).map(|n| format!("late {n}")))
        .collect();
    assert_eq!(chat_got, want);
    assert_eq!(c.channels.messages("announcements"), vec![&b"welcome"[..]]);
    let heard: Vec<Vec<u8>> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::DataMessage {
                data_consumer,
                data_producer,
                binary: false,
                data,
            } if *data_consumer == ear => {
                assert_eq!(*data_producer, chat);
                Some(data.to_vec())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        heard.len(),
        5,
        "the host heard what was said after it listened"
    );
    assert_eq!(heard[0], b"late 0");
    let st = sim.router.data_producer(announce).unwrap().stats();
    assert_eq!((st.messages_received, st.messages_dropped_size), (1, 1));
    let params = sim.router.data_consumer(dc).unwrap().params();
    assert_eq!(params.reliability, DataReliability::Reliable);

    // The host closes its producer: the client's channel closes.
    sim.router.data_producer(announce).unwrap().close(sim.now);
    sim.drain_router();
    sim.run_for(Duration::from_secs(1));
    assert!(sim
        .client(viewer)
        .channels
        .closed
        .iter()
        .any(|l| l == "announcements"));
    assert_eq!(
        sim.router.counts().data_consumers,
        2,
        "viewer's chat and the host's ear"
    );
}
