//! Fuzz target: hostile ICE-over-TCP byte streams; see
//! `manifold_testkit::fuzz::check_tcp` for the input format and invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| manifold_testkit::fuzz::check_tcp(data));
