//! The `router` target: a whole [`Router`](manifold_sfu::Router) driven by an
//! arbitrary sequence of operations decoded from the fuzz input.
//!
//! Input format: one byte choosing how the run ends (bit 0: close
//! everything through the API, else let liveness expire it), then up to
//! 256 operations, each an opcode byte (`% 16`) and its arguments. A
//! missing byte reads as zero; `t`, `p`, `c` pick among every id handed
//! out so far, closed ones included.
//!
//! | op | arguments | operation |
//! |---|---|---|
//! | 0 | `mask` | create a transport on the listen addresses in `mask` |
//! | 1 | `t, i` | canned offer `i` on `t` |
//! | 2 | `t, i, n, mutations…` | canned offer `i` with `n` line mutations |
//! | 3 | `t, len:u16, bytes` | raw bytes (lossy UTF-8) as an offer |
//! | 4 | `t, kind, …` | an answer: canned, mutated, the router's last offer, raw |
//! | 5 | `t, p, flags, spatial, temporal` | consume `p` on `t` |
//! | 6 | `p, what` | pause, resume, close or inspect a producer |
//! | 7 | `c, what, x, y:u32` | pause, resume, close, keyframe, layers, cap, inspect |
//! | 8 | `t, what` | close, restart ICE or inspect a transport |
//! | 9, 10 | `src, dst, ufrag, shape, txid, integrity, extra` | a STUN message |
//! | 11 | `src, dst, pt, seq, ts, ssrc, len:u16, payload` | an RTP packet |
//! | 12 | `src, dst, count, kind, ssrc, len, body` | an RTCP packet |
//! | 13 | `src, dst, type, epoch, len:u16, body` | a DTLS record |
//! | 14 | `src, dst, len:u16, bytes` | a raw datagram |
//! | 15 | `what, ms:u16` | jump to the deadline, or advance the clock by `ms` |
//!
//! After every operation [`Host`] drains the output and checks its
//! invariants.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::bytes::Bytes;
use super::canned::OFFERS;
use super::host::{small_config, Host, LISTEN};
use super::wire::{self, StunShape};
use manifold_sfu::{ConsumerOptions, Layers};

/// Most operations decoded from one input.
const MAX_OPS: usize = 256;

/// Remote addresses datagrams come from (more can be decoded from input).
const SOURCES: [&str; 6] = [
    "198.51.100.1:50000",
    "198.51.100.1:50001",
    "198.51.100.2:50000",
    "192.0.2.10:50000",
    "[2001:db8::10]:50000",
    "[2001:db8::11]:3478",
];

/// A local address that is no listen address.
const STRAY_LOCAL: &str = "192.0.2.1:40001";

/// SDP lines worth inserting into a canned offer.
const SDP_LINES: [&str; 18] = [
    "a=sendrecv",
    "a=sendonly",
    "a=recvonly",
    "a=inactive",
    "a=rid:x send",
    "a=simulcast:send q;h;f;x",
    "a=simulcast:recv q",
    "a=mid:",
    "m=video 0 UDP/TLS/RTP/SAVPF 96",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "a=ssrc-group:FID 2001 2001",
    "a=ssrc-group:SIM 2001 2003 2005 2007 2009 2001",
    "a=ssrc:2003 cname:f",
    "a=ice-ufrag:r3st",
    "a=setup:passive",
    "a=extmap:15 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=rtpmap:96 VP8/0",
    "a=bundle-only",
];

/// Run the operations in `data` against a router and check the invariants
/// after each; then close everything (or let it expire) and check that
/// nothing is left.
pub fn check_router(data: &[u8]) {
    let mut b = Bytes::new(data);
    let close_at_end = b.u8() & 1 == 1;
    let mut host = Host::new(small_config());
    let mut ops = 0;
    while !b.is_empty() && ops < MAX_OPS {
        ops += 1;
        run_op(&mut host, &mut b);
    }
    if close_at_end {
        host.close_all_and_check_empty();
    } else {
        host.expire_all_and_check_empty();
    }
}

fn run_op(host: &mut Host, b: &mut Bytes) {
    match b.u8() % 16 {
        0 => {
            let mask = b.u8() % 4;
            host.create_transport(mask);
        }
        1 => {
            let t = b.pick(&host.transport_ids);
            let sdp = OFFERS[b.index(OFFERS.len())];
            if let Some(t) = t {
                host.offer(t, sdp);
            }
        }
        2 => {
            let t = b.pick(&host.transport_ids);
            let sdp = mutate(OFFERS[b.index(OFFERS.len())], b);
            if let Some(t) = t {
                host.offer(t, &sdp);
            }
        }
        3 => {
            let t = b.pick(&host.transport_ids);
            let sdp = String::from_utf8_lossy(b.slice(8192)).into_owned();
            if let Some(t) = t {
                host.offer(t, &sdp);
            }
        }
        4 => {
            let t = b.pick(&host.transport_ids);
            let sdp = match b.u8() % 4 {
                0 => OFFERS[b.index(OFFERS.len())].to_string(),
                1 => mutate(OFFERS[b.index(OFFERS.len())], b),
                2 => host.offers.last().cloned().unwrap_or_default(),
                _ => String::from_utf8_lossy(b.slice(4096)).into_owned(),
            };
            if let Some(t) = t {
                host.answer(t, &sdp);
            }
        }
        5 => {
            let t = b.pick(&host.transport_ids);
            let p = b.pick(&host.producer_ids);
            let flags = b.u8();
            let layers = Layers::new(b.u8(), b.u8());
            let mut options = ConsumerOptions::default().with_preferred_layers(layers);
            options.paused = flags & 1 == 1;
            if let (Some(t), Some(p)) = (t, p) {
                host.consume(t, p, options);
            }
        }
        6 => producer_op(host, b),
        7 => consumer_op(host, b),
        8 => transport_op(host, b),
        9 | 10 => {
            let (src, dst) = (source(b), destination(b));
            let which = b.u8();
            let ufrag: Vec<u8> = match host.ufrags.get(usize::from(which)) {
                Some(u) if which < 200 => u.as_bytes().to_vec(),
                _ => b.short_slice(40).to_vec(),
            };
            let shape = StunShape(b.u8());
            let mut username = ufrag;
            if shape.0 & 0x80 == 0 {
                username.push(b':');
                username.extend_from_slice(b.short_slice(24));
            }
            let (txid, integrity) = (b.array(), b.array());
            let extra = if b.u8() & 1 == 1 {
                b.short_slice(96)
            } else {
                &[]
            };
            let m = wire::stun(shape, txid, &username, integrity, extra);
            host.receive(src, dst, &m);
        }
        11 => {
            let (src, dst) = (source(b), destination(b));
            let (pt, seq, ts, ssrc) = (b.u8(), b.u16(), b.u32(), ssrc(b));
            let d = wire::rtp(pt, seq, ts, ssrc, b.slice(1200));
            host.receive(src, dst, &d);
        }
        12 => {
            let (src, dst) = (source(b), destination(b));
            let (count, kind, ssrc) = (b.u8(), b.u8(), ssrc(b));
            let d = wire::rtcp(count, kind, ssrc, b.short_slice(256));
            host.receive(src, dst, &d);
        }
        13 => {
            let (src, dst) = (source(b), destination(b));
            let (kind, epoch) = (b.u8(), b.u16());
            let d = wire::dtls(kind, epoch, b.slice(600));
            host.receive(src, dst, &d);
        }
        14 => {
            let (src, dst) = (source(b), destination(b));
            let d = b.slice(1500);
            host.receive(src, dst, d);
        }
        _ => {
            let what = b.u8();
            let ms = b.u16();
            if what & 1 == 0 {
                host.advance_to_deadline();
            } else {
                host.advance(Duration::from_millis(u64::from(ms)));
            }
        }
    }
}

fn producer_op(host: &mut Host, b: &mut Bytes) {
    let now = host.now;
    let Some(p) = b.pick(&host.producer_ids) else {
        return;
    };
    let byte = b.u8();
    let what = byte % 4;
    if what == 3 && byte >= 128 {
        // Observers (the top half of the check arm, so older corpus
        // inputs keep most of their meaning).
        let (op, arg) = (b.u8(), b.u8());
        let o = b.pick(&host.observer_ids);
        host.observer_op(op, arg, o, p);
        return;
    }
    let open = host.producers.get(&p).copied();
    let before = host.router.counts();
    let max_layers = host.router.config().limits.max_layers_per_producer;
    let Some(mut api) = host.router.producer(p) else {
        assert!(open.is_none(), "no view of open producer {p}");
        return;
    };
    assert_eq!(Some(api.transport()), open, "view of {p}");
    match what {
        0 => api.pause(now),
        1 => api.resume(now),
        2 => {
            host.closing = true;
            api.close(now);
        }
        _ => {
            let layers = api.layers();
            assert!(
                !layers.is_empty() && layers.len() <= max_layers,
                "{layers:?}"
            );
            assert!(api.rids().len() <= max_layers);
            assert_eq!(api.packets_received(), 0, "media without a connection");
            let consumers = api.consumers();
            for c in consumers {
                assert_eq!(host.consumers.get(&c).map(|x| x.1), Some(p), "{c} of {p}");
            }
        }
    }
    host.step(before);
    host.closing = false;
}

fn consumer_op(host: &mut Host, b: &mut Bytes) {
    let now = host.now;
    let Some(c) = b.pick(&host.consumer_ids) else {
        return;
    };
    let what = b.u8() % 8;
    let (x, y) = (b.u8(), b.u32());
    let open = host.consumers.get(&c).copied();
    let before = host.router.counts();
    let Some(mut api) = host.router.consumer(c) else {
        assert!(open.is_none(), "no view of open consumer {c}");
        return;
    };
    assert_eq!(Some((api.transport(), api.producer())), open, "view of {c}");
    match what {
        0 => api.pause(now),
        1 => api.resume(now),
        2 => {
            host.closing = true;
            api.close(now);
        }
        3 => api.request_keyframe(now),
        4 => {
            let layers = Layers::new(x, (y & 0xff) as u8);
            api.set_preferred_layers(now, layers);
            assert_eq!(api.preferred_layers(), layers);
        }
        5 => api.set_max_bitrate(now, (x & 1 == 1).then_some(u64::from(y))),
        _ => {
            assert_eq!(api.packets_sent(), 0, "media without a connection");
            assert_eq!(api.current_layers(), None, "layers without media");
            let _ = (api.kind(), api.mid(), api.is_paused(), api.target_layers());
        }
    }
    host.step(before);
    host.closing = false;
}

fn transport_op(host: &mut Host, b: &mut Bytes) {
    let now = host.now;
    let Some(t) = b.pick(&host.transport_ids) else {
        return;
    };
    let what = b.u8() % 3;
    let open = host.transports.contains_key(&t);
    let before = host.router.counts();
    let Some(mut api) = host.router.transport(t) else {
        assert!(!open, "no view of open transport {t}");
        return;
    };
    match what {
        0 => {
            host.closing = true;
            api.close(now);
        }
        1 => {
            // Nothing connects here, so no offer can follow; either answer is fine.
            let _ = api.restart_ice(now);
        }
        _ => {
            assert!(!api.is_connected(), "{t} connected without authentication");
            let mut producers = api.producers();
            let mut consumers = api.consumers();
            producers.sort();
            consumers.sort();
            let mut want_p: Vec<_> = host
                .producers
                .iter()
                .filter(|(_, x)| **x == t)
                .map(|(p, _)| *p)
                .collect();
            let mut want_c: Vec<_> = host
                .consumers
                .iter()
                .filter(|(_, x)| x.0 == t)
                .map(|(c, _)| *c)
                .collect();
            want_p.sort();
            want_c.sort();
            assert_eq!(producers, want_p, "producers of {t}");
            assert_eq!(consumers, want_c, "consumers of {t}");
        }
    }
    host.step(before);
    host.closing = false;
}

/// A remote address: one of [`SOURCES`] or one decoded from the input.
fn source(b: &mut Bytes) -> SocketAddr {
    let i = usize::from(b.u8() % 8);
    match SOURCES.get(i) {
        Some(s) => s.parse().expect("source address"),
        None if i == 6 => SocketAddr::new(IpAddr::from(b.array::<4>()), b.u16()),
        None => SocketAddr::new(IpAddr::from(b.array::<16>()), b.u16()),
    }
}

/// The local address a datagram arrives on: a listen address or a stray one.
fn destination(b: &mut Bytes) -> SocketAddr {
    let s = match b.u8() % 3 {
        0 => LISTEN[0],
        1 => LISTEN[1],
        _ => STRAY_LOCAL,
    };
    s.parse().expect("local address")
}

/// An SSRC: one the canned offers announce, or any.
fn ssrc(b: &mut Bytes) -> u32 {
    match b.u8() % 4 {
        0 => 1001,
        1 => 2001,
        2 => 3001,
        _ => b.u32(),
    }
}

/// `base` with a few line-level mutations: drop, duplicate, swap, truncate
/// or overwrite a byte of a line, or insert a line from another offer, from
/// [`SDP_LINES`] or from the input.
fn mutate(base: &str, b: &mut Bytes) -> String {
    let mut lines: Vec<String> = base.lines().map(str::to_owned).collect();
    for _ in 0..(b.u8() % 4 + 1) {
        let i = b.index(lines.len() + 1);
        let kind = b.u8() % 8;
        if i >= lines.len() {
            lines.push(String::new());
            continue;
        }
        match kind {
            0 => {
                lines.remove(i);
            }
            1 => lines.insert(i, lines[i].clone()),
            2 => {
                let other = OFFERS[b.index(OFFERS.len())];
                let line = other.lines().nth(b.u8().into()).unwrap_or_default();
                lines.insert(i, line.to_string());
            }
            3 => {
                let mut bytes = lines[i].clone().into_bytes();
                let (at, v) = (b.u8(), b.u8());
                if !bytes.is_empty() {
                    let at = usize::from(at) % bytes.len();
                    bytes[at] = v;
                }
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
            }
            4 => {
                let at = usize::from(b.u8());
                let mut cut = at.min(lines[i].len());
                while !lines[i].is_char_boundary(cut) {
                    cut -= 1;
                }
                lines[i].truncate(cut);
            }
            5 => {
                let j = b.index(lines.len());
                lines.swap(i, j);
            }
            6 => lines.insert(i, SDP_LINES[b.index(SDP_LINES.len())].to_string()),
            _ => {
                let line = String::from_utf8_lossy(b.short_slice(128)).into_owned();
                lines.insert(i, line);
            }
        }
    }
    let mut sdp = lines.join("\r\n");
    sdp.push_str("\r\n");
    sdp
}
