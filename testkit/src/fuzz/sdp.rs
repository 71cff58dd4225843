//! The `sdp` target: arbitrary bytes, as lossy UTF-8, handed to
//! [`TransportApi::accept_offer`](manifold_sfu::TransportApi::accept_offer) and
//! [`TransportApi::accept_answer`](manifold_sfu::TransportApi::accept_answer).

use super::canned::{CHROMIUM_SENDRECV, WHEP_RECVONLY};
use super::host::{small_config, Host};
use manifold_sfu::ConsumerOptions;

/// The SDP as an offer to a fresh transport, as an answer to a fresh
/// transport (no offer of ours is pending), and as a renegotiation on a
/// publisher and on a subscriber of it (unless the text alone is refused:
/// too large, or unparseable). Each call returns an answer or an
/// error, never panics; an error leaves the router's counts unchanged
/// ([`Host::offer`], [`Host::answer`]); closing everything afterwards
/// leaves nothing behind.
pub fn check_sdp(data: &[u8]) {
    let sdp = String::from_utf8_lossy(data);
    let mut host = Host::new(small_config());

    let fresh = host.create_transport(1).expect("transport");
    host.offer(fresh, &sdp);

    let fresh = host.create_transport(1).expect("transport");
    assert!(
        !host.answer(fresh, &sdp),
        "answer accepted without an offer"
    );

    // A text refused on its own (too large, or one str0m cannot parse) is
    // refused the same way, before any state is read, by every transport:
    // the renegotiations below would replay one input-independent run.
    if manifold_sfu::testkit_hooks::sdp_refused_as_text(&sdp, &host.router.config().limits) {
        host.close_all_and_check_empty();
        return;
    }

    let publisher = host.create_transport(1).expect("transport");
    host.offer(publisher, CHROMIUM_SENDRECV)
        .expect("canned offer");
    let subscriber = host.create_transport(1).expect("transport");
    host.offer(subscriber, WHEP_RECVONLY).expect("canned offer");
    let mut producers: Vec<_> = host
        .producers
        .iter()
        .filter(|(_, t)| **t == publisher)
        .map(|(p, _)| *p)
        .collect();
    producers.sort();
    assert_eq!(producers.len(), 2, "canned offer makes two producers");
    for p in producers {
        host.consume(subscriber, p, ConsumerOptions::default())
            .expect("consumer");
    }
    host.offer(publisher, &sdp);
    host.offer(subscriber, &sdp);
    host.close_all_and_check_empty();
}
