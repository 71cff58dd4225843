//! Quality tables: one row per second of a simulated run, written under
//! `target/quality/` for review.

use std::fmt::Write;
use std::path::PathBuf;

#[derive(Default)]
pub struct Table {
    rows: Vec<String>,
}

impl Table {
    pub fn new(header: &str) -> Table {
        Table {
            rows: vec![header.to_string()],
        }
    }

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

    pub fn text(&self) -> String {
        self.rows.join("\n") + "\n"
    }

    /// Write the table for review under `target/quality/` (the simulation
    /// is seeded, but str0m's own randomness, SSRCs and DTLS, shifts its
    /// congestion controller's timing a little between runs, so it is not
    /// compared byte for byte).
    pub fn write(&self, name: &str) {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        let path = target.join("quality").join(format!("{name}.txt"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, self.text()).unwrap();
    }
}

/// Kilobits per second, rounded to 50.
pub fn kbps(bps: Option<u64>) -> String {
    match bps {
        Some(b) => format!("{}", (b / 1000 + 25) / 50 * 50),
        None => "-".into(),
    }
}
