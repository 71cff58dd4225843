//! The `pipe_frame` fuzz target: arbitrary frames, sealed with the pipe's
//! key (so they pass authentication), fed to a router's remote pipe end.
//!
//! Input: chunks of `[length: u16 BE][frame]` (a short last chunk takes
//! what is left). Each frame is sealed as the other end (role A) with the
//! next packet counter and fed to the router 10 ms apart; then the clock
//! jumps past every resend. The router must not panic and its invariants
//! must hold after every datagram.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use manifold_sfu::testkit_hooks::{
    check_invariants, router_with_shared_certificate, seal_pipe_frame,
};
use manifold_sfu::{Input, Output, PipeRole, RemotePipeOptions};

use super::small_config;

const KEY: [u8; 32] = [0x5a; 32];

/// Run one input (see the module).
pub fn check_pipe_frames(data: &[u8]) {
    let mut now = Instant::now();
    let mut router = router_with_shared_certificate(small_config(), now);
    let ours: SocketAddr = "192.0.2.1:40000".parse().unwrap();
    let theirs: SocketAddr = "198.51.100.7:40000".parse().unwrap();
    let options = RemotePipeOptions::new(ours, theirs, KEY, PipeRole::B);
    router.create_remote_pipe(now, options).unwrap();
    let mut rest = data;
    let mut counter = 0;
    while let Some((len, body)) = rest.split_first_chunk::<2>() {
        let n = (u16::from_be_bytes(*len) as usize).min(body.len());
        let (frame, tail) = body.split_at(n);
        rest = tail;
        let Some(datagram) = seal_pipe_frame(&KEY, PipeRole::A, counter, frame) else {
            return;
        };
        counter += 1;
        now += Duration::from_millis(10);
        router.handle_input(Input::receive(now, theirs, ours, &datagram));
        drain(&mut router);
        check_invariants(&mut router);
    }
    router.handle_input(Input::Timeout(now + Duration::from_secs(30)));
    drain(&mut router);
    check_invariants(&mut router);
}

fn drain(router: &mut manifold_sfu::Router) {
    while !matches!(router.poll_output(), Output::Timeout(_)) {}
}
