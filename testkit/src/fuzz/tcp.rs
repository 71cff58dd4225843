//! The `tcp` target: ICE-over-TCP byte streams from hostile peers, decoded
//! from the fuzz input, against a router with one transport offering a
//! passive TCP candidate and small TCP limits.
//!
//! Input format: up to 512 operations, each an opcode byte (`% 5`) and its
//! arguments (a missing byte reads as zero). `conn` picks one of 32
//! connection ids, `ip` one of 6 peer addresses.
//!
//! | op | arguments | operation |
//! |---|---|---|
//! | 0 | `conn, ip` | the host accepted `conn` from `ip` |
//! | 1 | `conn, ip, len:u16, bytes` | bytes read from `conn` |
//! | 2 | `conn, ip, prefix:u16, len:u8, bytes` | a length prefix, then bytes |
//! | 3 | `conn` | the host closed `conn` |
//! | 4 | `ms:u16` | the clock advances |
//!
//! After every operation the output is drained and checked: nothing is
//! transmitted (no peer can authenticate), the router's TCP table stays
//! within `max_tcp_connections`, and it holds at most one partial frame of
//! at most `max_tcp_frame + 2` bytes per connection. At the end, once the
//! idle timeout has passed, no connection and no buffered byte is left.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::bytes::Bytes;
use super::host::small_config;
use manifold_sfu::{Event, Input, ListenInfo, Output, Router, TcpConnId, WebRtcTransportOptions};

/// Most operations decoded from one input.
const MAX_OPS: usize = 512;

/// The router's TCP listener.
const TCP_LISTEN: &str = "192.0.2.1:40000";

/// Run the operations in `data` and check the invariants after each.
pub fn check_tcp(data: &[u8]) {
    let mut b = Bytes::new(data);
    let mut config = small_config();
    let l = &mut config.limits;
    l.max_tcp_connections = 12;
    l.max_tcp_connections_per_ip = 4;
    l.max_tcp_frame = 1500;
    l.tcp_idle_timeout = Duration::from_secs(2);
    let limits = config.limits.clone();
    let mut now = Instant::now();
    let mut router = Router::new(config, now);
    let listen: SocketAddr = TCP_LISTEN.parse().expect("listen address");
    let options = WebRtcTransportOptions::new([ListenInfo::new(listen).with_tcp(listen)]);
    router
        .create_webrtc_transport(now, options)
        .expect("one transport");
    drain(&mut router);
    let mut ops = 0;
    while !b.is_empty() && ops < MAX_OPS {
        ops += 1;
        match b.u8() % 5 {
            0 => {
                let (conn, src) = (conn(&mut b), peer(&mut b));
                router.handle_input(Input::tcp_accepted(now, conn, src, listen));
            }
            1 => {
                let (conn, src) = (conn(&mut b), peer(&mut b));
                let len = usize::from(b.u16()) % 4096;
                let bytes = b.take(len);
                router.handle_input(Input::tcp_data(now, conn, src, listen, bytes));
            }
            2 => {
                let (conn, src) = (conn(&mut b), peer(&mut b));
                let mut bytes = b.u16().to_be_bytes().to_vec();
                let len = usize::from(b.u8());
                bytes.extend_from_slice(b.take(len));
                router.handle_input(Input::tcp_data(now, conn, src, listen, &bytes));
            }
            3 => {
                let conn = conn(&mut b);
                router.handle_input(Input::tcp_closed(now, conn));
            }
            _ => {
                now += Duration::from_millis(u64::from(b.u16()));
                router.handle_input(Input::Timeout(now));
            }
        }
        drain(&mut router);
        let counts = router.counts();
        assert!(
            counts.tcp_connections <= limits.max_tcp_connections,
            "{counts:?}"
        );
        assert!(
            counts.tcp_buffered_bytes <= counts.tcp_connections * (limits.max_tcp_frame + 2),
            "{counts:?}"
        );
    }
    now += limits.tcp_idle_timeout + Duration::from_secs(1);
    router.handle_input(Input::Timeout(now));
    drain(&mut router);
    let counts = router.counts();
    assert_eq!(counts.tcp_connections, 0, "{counts:?}");
    assert_eq!(counts.tcp_buffered_bytes, 0, "{counts:?}");
}

fn conn(b: &mut Bytes) -> TcpConnId {
    TcpConnId(u64::from(b.u8() % 32))
}

fn peer(b: &mut Bytes) -> SocketAddr {
    let n = b.u8() % 6;
    SocketAddr::from(([198, 51, 100, 1 + n / 2], 50_000 + u16::from(n % 2)))
}

/// Drain the router; nothing may be sent, events must be well formed.
fn drain(router: &mut Router) {
    for _ in 0..100_000 {
        match router.poll_output() {
            Output::Transmit(t) => panic!("a transmit to an unauthenticated peer: {t:?}"),
            Output::Event(Event::TcpConnectionClosed { .. }) => {}
            Output::Event(e) => assert!(e.transport().is_some(), "{e:?}"),
            Output::Timeout(_) => return,
            other => panic!("unknown output {other:?}"),
        }
    }
    panic!("the router never stops producing output");
}
