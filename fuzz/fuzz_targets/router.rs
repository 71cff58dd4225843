//! Fuzz target: a whole router driven by an operation sequence; see
//! `manifold_testkit::fuzz::check_router` for the input format and invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| manifold_testkit::fuzz::check_router(data));
