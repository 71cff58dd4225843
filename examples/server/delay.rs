//! How long the server holds a datagram: from its arrival in the socket
//! (the kernel's receive timestamp, `SO_TIMESTAMPNS`) to the moment the
//! output of the batch it was read in has been handed to the kernel. For
//! a forwarded packet that is the delay the server adds before its last
//! viewer's copy leaves, queueing in the socket included: issue #19's
//! "added latency", measured inside the server, apart from any load
//! generator's own delays.
//!
//! Each worker keeps one histogram since it started (the examples' shared
//! one, `examples/common/histogram.rs`: within 0.8 %); `GET /stats` shows it
//! per worker (`delay`: `count`, `p50_us`, `p99_us`, `max_us` and the
//! non-empty `buckets` as `[value_us, count]`, so that two readings can be
//! subtracted for a window: the load generator does).

use serde_json::{json, Value};

pub use crate::histogram::Histogram as Delays;

/// The `delay` object of `GET /stats`.
pub fn json(d: &Delays) -> Value {
    let us = |q| (d.count() > 0).then(|| (d.quantile_ms(q) * 1000.0).round() as u64);
    let buckets: Vec<Value> = d.buckets().map(|(v, n)| json!([v, n])).collect();
    json!({
        "count": d.count(),
        "p50_us": us(0.5),
        "p99_us": us(0.99),
        "max_us": (d.max_ms() * 1000.0).round() as u64,
        "buckets": buckets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn quantiles_of_a_known_spread() {
        let mut d = Delays::default();
        assert_eq!(json(&d)["p50_us"], Value::Null);
        for us in 1..=1000 {
            d.record(Duration::from_micros(us));
        }
        let j = json(&d);
        let p50 = j["p50_us"].as_u64().unwrap();
        let p99 = j["p99_us"].as_u64().unwrap();
        assert!((500..=560).contains(&p50), "{p50}");
        assert!((990..=1110).contains(&p99), "{p99}");
        assert_eq!(j["count"], 1000);
        assert_eq!(j["max_us"], 1000);
        let total: u64 = j["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[1].as_u64().unwrap())
            .sum();
        assert_eq!(total, 1000);
    }
}
