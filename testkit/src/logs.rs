//! What the router logs through `tracing`, captured for a test to assert
//! on.
//!
//! ```
//! let ((), log) = manifold_testkit::logs::capture("manifold_sfu=debug", || {
//!     tracing::debug!(target: "manifold_sfu", "hello");
//! });
//! assert!(log.contains("hello"));
//! ```

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Run `f` with a plain-text subscriber filtered by `filter` (an
/// `EnvFilter` directive such as `"debug"` or `"manifold_sfu=trace"`);
/// returns what `f` returned and everything the subscriber wrote.
pub fn capture<R>(filter: &str, f: impl FnOnce() -> R) -> (R, String) {
    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_ansi(false)
        .with_writer(out.clone())
        .finish();
    let r = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&out.0.lock().expect("log buffer")).into_owned();
    (r, text)
}

/// The value of `name=` on a log line, if it has one.
pub fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=");
    let start = line.find(&key)? + key.len();
    line[start..].split_whitespace().next()
}

/// Everything the subscriber wrote, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}
