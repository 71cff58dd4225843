//! Fuzz target: arbitrary SDP offers and answers; see
//! `manifold_testkit::fuzz::check_sdp` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| manifold_testkit::fuzz::check_sdp(data));
