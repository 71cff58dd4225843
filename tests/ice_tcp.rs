//! ICE over TCP (RFC 6544 passive candidate, RFC 4571 framing): clients
//! whose only path is TCP publish and consume with the same delivery as
//! over UDP, however the host's reads cut the byte stream; hostile TCP
//! peers stay bounded and leave a running session untouched.

use std::net::SocketAddr;
use std::time::Duration;

use manifold_sfu::{Event, Input, MediaKind, TcpCloseReason, TcpConnId};
use manifold_testkit::{check, LinkConfig, Sim};

/// A TCP publisher and a TCP subscriber (and a UDP one to compare), run for
/// `secs`; asserts continuous delivery to both subscribers.
fn session(sim: &mut Sim, secs: u64) -> (usize, usize) {
    let publisher = sim.add_tcp_peer("pub", LinkConfig::default(), LinkConfig::default());
    let (_, producers) = sim.publish(publisher, true, true);
    assert_eq!(producers.len(), 2);
    sim.run_for(Duration::from_secs(1));
    let tcp_sub = sim.add_tcp_peer("tcp-sub", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(tcp_sub, &producers);
    let udp_sub = sim.add_peer("udp-sub", LinkConfig::default(), LinkConfig::default());
    sim.subscribe(udp_sub, &producers);
    sim.run_for(Duration::from_secs(secs));
    (tcp_sub, udp_sub)
}

fn assert_delivery(sim: &mut Sim, sub: usize, secs: u64) {
    let c = sim.client(sub);
    assert!(c.connected, "{} connected", c.name);
    let video = c.track(MediaKind::Video).to_vec();
    let audio = c.track(MediaKind::Audio).to_vec();
    // 30 fps, at least 3 packets a frame; 50 audio packets a second.
    assert!(
        video.len() as u64 > 85 * secs,
        "{}: {} video packets",
        c.name,
        video.len()
    );
    assert!(
        audio.len() as u64 > 45 * secs,
        "{}: {} audio packets",
        c.name,
        audio.len()
    );
    assert!(video[0].keyframe_start, "{}: starts on a keyframe", c.name);
    assert_eq!(check::missing_seqs(&video), 0, "{}: video gaps", c.name);
    assert_eq!(check::missing_seqs(&audio), 0, "{}: audio gaps", c.name);
}

/// Every transmit the router made for the TCP peers went out on their
/// connection with a correct length prefix.
fn assert_framing(sim: &Sim) {
    assert_eq!(
        sim.bad_tcp_frames, 0,
        "transmits with a wrong length prefix"
    );
    assert_eq!(sim.stray_transmits, 0, "transmits to nobody");
}

#[test]
fn tcp_only_clients_publish_and_consume() {
    let mut sim = Sim::new(7);
    let (tcp_sub, udp_sub) = session(&mut sim, 10);
    assert_delivery(&mut sim, tcp_sub, 10);
    assert_delivery(&mut sim, udp_sub, 10);
    assert_framing(&sim);
    // The TCP peers' transports selected TCP: their traffic arrived as frames.
    let stats = sim.router.stats();
    assert_eq!(stats.tcp_accepted, 2);
    assert_eq!(sim.router.counts().tcp_connections, 2);
    assert_eq!(sim.router.counts().tcp_buffered_bytes, 0);
    // Same delivery as the UDP subscriber, packet for packet.
    let tcp = sim.client(tcp_sub).track(MediaKind::Video).len() as i64;
    let udp = sim.client(udp_sub).track(MediaKind::Video).len() as i64;
    assert!(
        (tcp - udp).abs() < 40,
        "tcp {tcp} against udp {udp} video packets"
    );
}

#[test]
fn offer_has_a_passive_tcp_candidate_below_udp() {
    let mut sim = Sim::new(3);
    let p = sim.add_tcp_peer("pub", LinkConfig::default(), LinkConfig::default());
    let offer = sim.client(p).offer_send(true, true);
    let t = sim
        .router
        .create_webrtc_transport(sim.now, sim.transport_options())
        .unwrap();
    let answer = sim
        .router
        .transport(t)
        .unwrap()
        .accept_offer(sim.now, &offer)
        .unwrap();
    let prio = |proto: &str| -> u32 {
        let line = answer
            .lines()
            .find(|l| l.starts_with("a=candidate:") && l.contains(&format!(" {proto} ")))
            .unwrap_or_else(|| panic!("no {proto} candidate in {answer}"));
        line.split(' ').nth(3).unwrap().parse().unwrap()
    };
    assert!(
        answer.contains(" tcp ") && answer.contains("typ host tcptype passive"),
        "{answer}"
    );
    assert!(prio("udp") > prio("tcp"), "UDP must win where it works");
}

#[test]
fn reads_of_one_byte_and_coalesced_reads() {
    let mut sim = Sim::new(11);
    sim.tcp_read_size = Some(1);
    let (tcp_sub, _) = session(&mut sim, 4);
    assert_delivery(&mut sim, tcp_sub, 4);
    assert_framing(&sim);

    let mut sim = Sim::new(12);
    sim.tcp_coalesce = true;
    let (tcp_sub, _) = session(&mut sim, 4);
    assert_delivery(&mut sim, tcp_sub, 4);
    assert_framing(&sim);

    // Both at once: several frames per read, cut at odd places.
    let mut sim = Sim::new(13);
    sim.tcp_coalesce = true;
    sim.tcp_read_size = Some(777);
    let (tcp_sub, _) = session(&mut sim, 4);
    assert_delivery(&mut sim, tcp_sub, 4);
    assert_framing(&sim);
}

fn closed(sim: &Sim, conn: TcpConnId) -> Option<TcpCloseReason> {
    sim.events.iter().find_map(|(_, e)| match e {
        Event::TcpConnectionClosed { conn: c, reason } if *c == conn => Some(*reason),
        _ => None,
    })
}

#[test]
fn hostile_tcp_is_bounded_and_leaves_the_session_alone() {
    let mut sim = Sim::new(21);
    let (tcp_sub, udp_sub) = session(&mut sim, 2);
    let before: Vec<usize> = [tcp_sub, udp_sub]
        .iter()
        .map(|&s| sim.client(s).track(MediaKind::Video).len())
        .collect();
    let server = sim.server;
    let attacker: SocketAddr = "10.9.9.9:40000".parse().unwrap();
    let limits = sim.router.config().limits.clone();
    let now = sim.now;

    // A 65,535-byte length prefix with nothing after it: refused before
    // anything is buffered.
    let huge = TcpConnId(1);
    sim.router
        .handle_input(Input::tcp_data(now, huge, attacker, server, &[0xff, 0xff]));
    sim.drain_router();
    assert_eq!(closed(&sim, huge), Some(TcpCloseReason::FrameTooLarge));

    // A frame that is never completed (and one byte a second of another),
    // and a connection that never sends a byte.
    let never = TcpConnId(2);
    sim.router.handle_input(Input::tcp_data(
        now,
        never,
        attacker,
        server,
        &[5, 0xdc, 1, 2, 3],
    ));
    let half_open = TcpConnId(4);
    let other_port: SocketAddr = "10.9.9.9:40001".parse().unwrap();
    sim.router
        .handle_input(Input::tcp_accepted(now, half_open, other_port, server));
    let trickle = TcpConnId(3);
    let trickler: SocketAddr = "10.9.9.8:40000".parse().unwrap();
    sim.router
        .handle_input(Input::tcp_data(now, trickle, trickler, server, &[5]));
    sim.drain_router();

    // 1,000 connections from one address: only the per-IP limit is taken.
    for n in 0..1_000u64 {
        let src = SocketAddr::new(attacker.ip(), 10_000 + n as u16);
        sim.router.handle_input(Input::tcp_data(
            sim.now,
            TcpConnId(1_000_000 + n),
            src,
            server,
            &[0, 40],
        ));
    }
    sim.drain_router();
    let counts = sim.router.counts();
    // The two honest connections, the trickle, and the per-IP limit from
    // the attacker.
    let per_ip = limits.max_tcp_connections_per_ip;
    assert_eq!(counts.tcp_connections, 2 + 1 + per_ip);
    assert!(
        counts.tcp_buffered_bytes <= counts.tcp_connections * (limits.max_tcp_frame + 2),
        "{counts:?}"
    );
    let stats = sim.router.stats();
    assert_eq!(stats.tcp_frames_too_large, 1);
    // `never` and `half_open` took two of the attacker's places.
    assert_eq!(stats.tcp_refused, 1_000 - (per_ip as u64 - 2));

    // Time passes with the session running; the trickle sends a byte a
    // second of a 1,500-byte frame it never finishes.
    let start = sim.now;
    let mut trickled = 0;
    while sim.now < start + limits.tcp_idle_timeout + Duration::from_secs(2) {
        sim.run_for(Duration::from_secs(1));
        // A host obeys the router's close (and drops what follows).
        if closed(&sim, trickle).is_some() {
            continue;
        }
        sim.router
            .handle_input(Input::tcp_data(sim.now, trickle, trickler, server, &[0]));
        trickled += 1;
        sim.drain_router();
    }
    assert!(trickled >= 29, "{trickled} bytes trickled");
    // Every attacker connection timed out (or was refused); the honest
    // ones were kept.
    let counts = sim.router.counts();
    assert_eq!(counts.tcp_connections, 2, "{counts:?}");
    assert_eq!(counts.tcp_buffered_bytes, 0);
    assert_eq!(closed(&sim, never), Some(TcpCloseReason::Idle));
    assert_eq!(closed(&sim, half_open), Some(TcpCloseReason::Idle));
    assert_eq!(closed(&sim, trickle), Some(TcpCloseReason::Idle));
    let stats = sim.router.stats();
    assert_eq!(stats.tcp_idle_closed, per_ip as u64 + 1);
    assert!(sim
        .tcp_conn(tcp_sub)
        .is_some_and(|c| closed(&sim, c).is_none()));

    // The session never noticed.
    for (s, n) in [tcp_sub, udp_sub].into_iter().zip(before) {
        let c = sim.client(s);
        let video = c.track(MediaKind::Video);
        assert!(
            video.len() > n + 85 * 30,
            "{}: {} then {}",
            c.name,
            n,
            video.len()
        );
        assert_eq!(check::missing_seqs(video), 0, "{}: video gaps", c.name);
    }
    assert_framing(&sim);
}

#[test]
fn a_tcp_client_that_reconnects_resumes() {
    let mut sim = Sim::new(31);
    let (tcp_sub, _) = session(&mut sim, 3);
    let before = sim.client(tcp_sub).track(MediaKind::Video).len();
    let accepted = sim.router.stats().tcp_accepted;
    // Both TCP peers lose their connection and open a new one.
    let publisher = 0;
    let at = sim.now;
    let sub_conn = sim.reconnect_tcp(tcp_sub);
    sim.reconnect_tcp(publisher);
    assert_eq!(sim.router.counts().tcp_connections, 0);
    sim.run_for(Duration::from_secs(10));
    // The new connections were taken and bound by ICE (STUN by ufrag):
    // media flows again, and the transports survived (no liveness close).
    assert_eq!(sim.router.stats().tcp_accepted, accepted + 2);
    assert_eq!(sim.router.counts().tcp_connections, 2);
    assert_eq!(sim.router.counts().transports, 3);
    assert!(closed(&sim, sub_conn).is_none());
    let c = sim.client(tcp_sub);
    let video = c.track(MediaKind::Video);
    // Flowing again well before the end: 5 s of video after the first 5.
    let late = video
        .iter()
        .filter(|r| r.at > at + Duration::from_secs(5))
        .count();
    assert!(
        late > 85 * 5,
        "{}: {} video packets before the reconnect, {} in the last 5 s",
        c.name,
        before,
        late
    );
    assert_framing(&sim);
}

#[test]
fn random_hostile_streams_stay_bounded() {
    use rand::{Rng, SeedableRng};
    let mut sim = Sim::new(41);
    let (tcp_sub, udp_sub) = session(&mut sim, 2);
    let limits = sim.router.config().limits.clone();
    let server = sim.server;
    let mut rng = rand::rngs::StdRng::seed_from_u64(41);
    let mut open: Vec<(TcpConnId, SocketAddr)> = Vec::new();
    let mut next = 5_000_000u64;
    let before: Vec<usize> = [tcp_sub, udp_sub]
        .iter()
        .map(|&s| sim.client(s).track(MediaKind::Video).len())
        .collect();
    for step in 0..3_000 {
        // Every 100 steps, 20 ms of the session.
        if step % 100 == 0 {
            sim.run_for(Duration::from_millis(20));
        }
        let now = sim.now;
        match rng.random_range(0..10) {
            // A new connection from one of 8 addresses.
            0..=1 => {
                let ip = rng.random_range(1..=8u8);
                let src = SocketAddr::from(([10, 7, 0, ip], rng.random_range(1024..65535)));
                let conn = TcpConnId(next);
                next += 1;
                sim.router
                    .handle_input(Input::tcp_accepted(now, conn, src, server));
                open.push((conn, src));
            }
            // Random bytes on an open one: random length prefixes, random
            // bodies (some whole frames of garbage, some partial).
            2..=7 if !open.is_empty() => {
                let (conn, src) = open[rng.random_range(0..open.len())];
                let len = rng.random_range(0..3_000);
                let mut data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                if rng.random_bool(0.5) && data.len() > 2 {
                    let n = rng.random_range(1..=1500u16).min(data.len() as u16 - 2);
                    data[..2].copy_from_slice(&n.to_be_bytes());
                }
                sim.router
                    .handle_input(Input::tcp_data(now, conn, src, server, &data));
            }
            // The host closes one.
            8 if !open.is_empty() => {
                let (conn, _) = open.swap_remove(rng.random_range(0..open.len()));
                sim.router.handle_input(Input::tcp_closed(now, conn));
            }
            _ => {}
        }
        sim.drain_router();
        // The host obeys the router's closes.
        open.retain(|(c, _)| closed(&sim, *c).is_none());
        let counts = sim.router.counts();
        assert!(counts.tcp_connections <= 2 + 8 * limits.max_tcp_connections_per_ip);
        assert!(
            counts.tcp_buffered_bytes <= counts.tcp_connections * (limits.max_tcp_frame + 2),
            "{counts:?}"
        );
    }
    // The input did reach the deframer both ways: frames cut and refused.
    let stats = sim.router.stats();
    assert!(stats.tcp_accepted > 300, "{stats:?}");
    assert!(stats.tcp_frames_too_large > 100, "{stats:?}");
    assert!(
        stats.dropped_malformed + stats.dropped_unknown_ufrag > 100,
        "{stats:?}"
    );
    // Idle connections go; the session's two stay.
    sim.run_for(limits.tcp_idle_timeout + Duration::from_secs(1));
    let counts = sim.router.counts();
    assert_eq!(counts.tcp_connections, 2, "{counts:?}");
    assert_eq!(counts.tcp_buffered_bytes, 0);
    assert_eq!(counts.transports, 3, "no transport was hurt");
    for (s, n) in [tcp_sub, udp_sub].into_iter().zip(before) {
        let c = sim.client(s);
        let video = c.track(MediaKind::Video);
        assert!(
            video.len() > n + 85 * 30,
            "{}: {} then {}",
            c.name,
            n,
            video.len()
        );
        assert_eq!(check::missing_seqs(video), 0, "{}: video gaps", c.name);
    }
    assert_framing(&sim);
}
