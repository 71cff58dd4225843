//! Fuzz target: see `manifold_testkit::fuzz::packet::check_pipe_message` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| manifold_testkit::fuzz::packet::check_pipe_message(data));
