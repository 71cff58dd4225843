//! Fuzz target: see `manifold_testkit::fuzz::check_pipe_frames` for the input and invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| manifold_testkit::fuzz::check_pipe_frames(data));
