//! Quality tables: one row per second of a simulated run (estimate,
//! allocation, layers, freezes), written under `target/quality/` and locked
//! against a snapshot in `tests/snapshots/`.
//!
//! The simulation is seeded, but str0m keeps its streams in std `HashMap`s,
//! whose iteration order is random per instance, so the order in which
//! streams are paced (and with it the congestion controller's exact timing)
//! differs a little from run to run. A table is therefore compared with its
//! snapshot row by row with a tolerance: a row matches when each of its
//! cells agrees with the same column of a snapshot row at most [`SHIFT`]
//! seconds away (numbers within a factor of [`FACTOR`] plus [`SLACK`] or
//! [`SLACK_MS`], time frozen only checked for a rise and the estimate only
//! for a drop, layer columns within [`LAYER_SLACK`] steps in all, anything
//! else exactly). A real regression (a layer that no longer comes back, an
//! estimate that collapses, a new freeze) shows up as a diff.
//! `UPDATE_SNAPSHOTS=1` rewrites the snapshots.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use manifold_sfu::{ConsumerId, MediaKind, TransportId};

use crate::Sim;

/// How many seconds a row may be shifted against its snapshot.
pub const SHIFT: usize = 4;
/// How many times larger than the other a number may be. Loose: the
/// estimator's ramp after a cap is lifted varies most between runs (its
/// probes land at different times), and a real regression (a collapse, a
/// stuck estimate) is an order of magnitude.
pub const FACTOR: u64 = 4;
/// Absolute slack on numbers in kbit/s.
pub const SLACK: u64 = 300;
/// Absolute slack on numbers in a column whose header says "ms".
pub const SLACK_MS: u64 = 500;
/// A gap between complete frames longer than this is a freeze.
pub const FREEZE: Duration = Duration::from_millis(300);
/// How many layer steps a layer column may differ by, in all: this many,
/// or one per consumer in the column if more (mid-ramp, each consumer's
/// switch lands a little earlier or later).
pub const LAYER_SLACK: i64 = 3;

/// A quality table: a header and one row per sample.
#[derive(Default)]
pub struct Table {
    rows: Vec<String>,
}

impl Table {
    /// An empty table; columns are separated by ` | ` in `header`.
    pub fn new(header: &str) -> Table {
        Table {
            rows: vec![header.to_string()],
        }
    }

    /// Append a row.
    pub fn row(&mut self, cells: &[String]) {
        let mut line = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str(" | ");
            }
            write!(line, "{c:>8}").unwrap();
        }
        self.rows.push(line);
    }

    /// The table as text, one line per row.
    pub fn text(&self) -> String {
        self.rows.join("\n") + "\n"
    }

    /// Write the table under `target/quality/` for review; returns the path.
    /// The target directory is `CARGO_TARGET_DIR`, else `target/` in the
    /// package under test (see [`package_dir`]).
    pub fn save(&self, name: &str) -> PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| package_dir().join("target"));
        let out = target.join("quality").join(format!("{name}.txt"));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(&out, self.text()).unwrap();
        out
    }

    /// Write the table under `target/quality/` and compare it with its
    /// snapshot `tests/snapshots/{name}.txt` in the package under test (see
    /// the module docs); panics with both tables on a regression.
    pub fn lock(&self, name: &str) {
        let out = self.save(name);
        let snap = package_dir()
            .join("tests/snapshots")
            .join(format!("{name}.txt"));
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
            std::fs::write(&snap, self.text()).unwrap();
            return;
        }
        let Ok(expected) = std::fs::read_to_string(&snap) else {
            panic!(
                "no snapshot {}; run with UPDATE_SNAPSHOTS=1 to create it",
                snap.display()
            );
        };
        let bad = mismatches(&expected, &self.text());
        assert!(
            bad.is_empty(),
            "quality table {name} differs from its snapshot in rows {bad:?}\n\
             --- snapshot ({})\n{expected}--- this run ({})\n{}",
            snap.display(),
            out.display(),
            self.text()
        );
    }
}

/// The root of the package whose tests run: `CARGO_MANIFEST_DIR`, which
/// cargo sets when it runs a test binary, else the current directory (where
/// cargo runs tests).
pub fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Row numbers (1-based, header excluded) of `got` that match no row of
/// `expected` within the tolerance.
pub fn mismatches(expected: &str, got: &str) -> Vec<usize> {
    let parse = |t: &str| -> Vec<Vec<String>> {
        t.lines()
            .skip(1)
            .map(|l| l.split('|').skip(1).map(|c| c.trim().to_string()).collect())
            .collect()
    };
    let (e, g) = (parse(expected), parse(got));
    if e.len() != g.len() || e.is_empty() {
        return vec![0];
    }
    // Per column: the slack on numbers, and which way counts (time frozen:
    // only a rise; the estimate: only a drop, since a higher one, e.g. a
    // probe overshooting an unlimited link, is no regression).
    let rules: Vec<(u64, Way)> = got
        .lines()
        .next()
        .unwrap_or("")
        .split('|')
        .skip(1)
        .map(|h| {
            let slack = if h.contains("ms") { SLACK_MS } else { SLACK };
            let way = if h.contains("freeze") {
                Way::Rise
            } else if h.contains("estimate") {
                Way::Drop
            } else {
                Way::Both
            };
            (slack, way)
        })
        .collect();
    (0..g.len())
        .filter(|&i| {
            let near = i.saturating_sub(SHIFT)..=(i + SHIFT).min(e.len() - 1);
            g[i].len() != e[i].len()
                || g[i].iter().enumerate().any(|(c, cell)| {
                    let rule = rules.get(c).copied().unwrap_or((SLACK, Way::Both));
                    !near
                        .clone()
                        .any(|j| e[j].get(c).is_some_and(|x| cell_matches(x, cell, rule)))
                })
        })
        .map(|i| i + 1)
        .collect()
}

/// Which change of a number counts as a difference.
#[derive(Clone, Copy)]
enum Way {
    Both,
    Rise,
    Drop,
}

/// Whether `b` (this run) matches `a` (the snapshot) under a column's
/// (slack, way) rule.
fn cell_matches(a: &str, b: &str, (slack, way): (u64, Way)) -> bool {
    let num = |s: &str| {
        if s == "-" {
            Some(0)
        } else {
            s.parse::<u64>().ok()
        }
    };
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        let rise_ok = y <= FACTOR * x + slack;
        let drop_ok = x <= FACTOR * y + slack;
        return match way {
            Way::Both => rise_ok && drop_ok,
            Way::Rise => rise_ok,
            Way::Drop => drop_ok,
        };
    }
    if let (Some(x), Some(y)) = (layer_score(a), layer_score(b)) {
        let letters = b.chars().filter(|c| *c != ' ').count() as i64;
        return (x - y).abs() <= LAYER_SLACK.max(letters);
    }
    a == b
}

/// A layer column ("fhq-", several groups with spaces) as a number: q = 1,
/// h = 2, f = 3, paused or unknown = 0.
fn layer_score(s: &str) -> Option<i64> {
    s.chars()
        .filter(|c| *c != ' ')
        .map(|c| match c {
            'q' => Some(1),
            'h' => Some(2),
            'f' => Some(3),
            '-' | '?' => Some(0),
            _ => None,
        })
        .sum()
}

/// Kilobits per second, rounded to 50.
pub fn kbps(bps: Option<u64>) -> String {
    match bps {
        Some(b) => format!("{}", (b / 1000 + 25) / 50 * 50),
        None => "-".into(),
    }
}

/// The video consumers of a subscriber transport.
pub fn video_consumers(sim: &mut Sim, t: TransportId) -> Vec<ConsumerId> {
    sim.router
        .transport(t)
        .unwrap()
        .consumers()
        .into_iter()
        .filter(|c| sim.router.consumer(*c).unwrap().kind() == MediaKind::Video)
        .collect()
}

/// The layer each consumer forwards, one letter each: q, h, f by spatial
/// layer, `-` paused for bandwidth, `?` nothing yet.
pub fn layers(sim: &mut Sim, consumers: &[ConsumerId]) -> String {
    consumers
        .iter()
        .map(|c| {
            let st = sim.router.consumer(*c).unwrap().stats();
            match (st.paused_for_bandwidth, st.current_layers) {
                (true, _) => '-',
                (false, Some(l)) => ['q', 'h', 'f'][l.spatial.min(2) as usize],
                (false, None) => '?',
            }
        })
        .collect()
}

/// How much of the last `window` the worst video track of `peer` spent
/// frozen, in milliseconds rounded to 100: the part of the window covered
/// by a gap between complete frames longer than [`FREEZE`] (a paused track
/// is frozen for the whole window).
pub fn freeze_ms(sim: &mut Sim, peer: usize, window: Duration) -> u64 {
    let now = sim.now;
    let since = now - window;
    let mut worst = Duration::ZERO;
    for (_, rx) in sim.client(peer).tracks(MediaKind::Video) {
        let mut frames = rx.iter().filter(|r| r.marker).map(|r| r.at).peekable();
        let mut prev: Option<Instant> = None;
        let mut track = Duration::ZERO;
        loop {
            let next = frames.next();
            let end = next.unwrap_or(now);
            if let Some(p) = prev {
                if end - p > FREEZE && end > since {
                    track += end.min(now) - p.max(since);
                }
            } else if next.is_none() {
                track = window;
            }
            if next.is_none() {
                break;
            }
            prev = next;
        }
        worst = worst.max(track.min(window));
    }
    (worst.as_millis() as u64 + 50) / 100 * 100
}

/// The longest gap between complete frames of one track within
/// `[from, to]` (a gap still open at `to` counts up to `to`).
pub fn longest_freeze(rx: &[crate::Rx], from: Instant, to: Instant) -> Duration {
    let mut last = from;
    let mut worst = Duration::ZERO;
    for at in rx.iter().filter(|r| r.marker).map(|r| r.at) {
        if at > from && at <= to {
            worst = worst.max(at - last);
            last = at;
        }
    }
    worst.max(to - last)
}

/// The usual row: estimate, allocation, layers and freeze of one subscriber.
pub fn quality_row(
    sim: &mut Sim,
    t: TransportId,
    peer: usize,
    video: &[ConsumerId],
) -> Vec<String> {
    let bw = sim.router.transport(t).unwrap().bandwidth();
    vec![
        kbps(bw.estimate_bps),
        kbps(Some(bw.allocated_bps)),
        layers(sim, video),
        freeze_ms(sim, peer, Duration::from_secs(1)).to_string(),
    ]
}
