//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through the
//! same invariant checks the fuzz targets run, so every seed and every
//! minimised crash stays covered by `cargo test` without cargo-fuzz.

use manifold_testkit::fuzz::{self, packet};
use std::path::Path;

// The example server's signaling code and its checks, as the `signal` fuzz
// target includes them. Parts of it only the server uses.
#[allow(dead_code)]
#[path = "../examples/server/signal.rs"]
mod signal;
#[path = "../examples/server/signal_fuzzing.rs"]
mod signal_fuzzing;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    for path in files {
        let data = std::fs::read(&path).expect("read corpus file");
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "invariant broken by {}", path.display());
    }
}

#[test]
fn classify() {
    replay("classify", packet::check_classify);
}

#[test]
fn vp8() {
    replay("vp8", packet::check_vp8);
}

#[test]
fn vp9() {
    replay("vp9", packet::check_vp9);
}

#[test]
fn h264() {
    replay("h264", packet::check_h264);
}

#[test]
fn av1_dd() {
    replay("av1_dd", packet::check_av1_dd);
}

#[test]
fn router() {
    replay("router", fuzz::check_router);
}

#[test]
fn tcp() {
    replay("tcp", fuzz::check_tcp);
}

#[test]
fn sdp() {
    replay("sdp", fuzz::check_sdp);
}

#[test]
fn signal() {
    replay("signal", signal_fuzzing::check_signal);
}

#[test]
fn pipe_message() {
    replay("pipe_message", packet::check_pipe_message);
}

#[test]
fn pipe_frame() {
    replay("pipe_frame", fuzz::check_pipe_frames);
}
