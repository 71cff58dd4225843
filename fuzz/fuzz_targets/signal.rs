//! Fuzz target: the example server's signaling input (room WebSocket
//! messages, WHEP layer requests, names, tokens, SDP bodies, a WebSocket
//! session's frames); see `examples/server/signal_fuzzing.rs` for the
//! invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The server's own parsing code, not a copy: only serde and serde_json.
// Parts of it only the server uses.
#[allow(dead_code)]
#[path = "../../examples/server/signal.rs"]
mod signal;
#[path = "../../examples/server/signal_fuzzing.rs"]
mod signal_fuzzing;

fuzz_target!(|data: &[u8]| signal_fuzzing::check_signal(data));
