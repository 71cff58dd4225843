//! The operator endpoint `GET /stats`: what every worker's router holds
//! and has done, as JSON, for checks that state is freed (the soak test,
//! `tests/soak.sh`) and for a look at a running server.
//!
//! It asks for the bearer token like WHIP/WHEP. Each worker answers from its
//! own loop (a job, like every other command), so the figures of one worker
//! are consistent with each other:
//!
//! ```json
//! {"workers":[{"worker":0,"sessions":0,"counts":{"transports":0,...},
//!   "stats":{"datagrams_in":1234,...},
//!   "transports":[{"id":"t1","session":"publisher","connected":true,
//!     "producers":[{"id":"p1","kind":"video","packets":812,...}],
//!     "consumers":[],"bandwidth":{...}}]}],
//!  "total":{"sessions":0,"transports":0,...}}
//! ```
//!
//! `transports` lists each open transport's
//! [`manifold_sfu::TransportStats`] with its session's kind (`publisher`,
//! `viewer`, `member`, or `none`), `connected`, its
//! [`manifold_sfu::TransportBandwidth`] and, in place of their counts, its
//! producers' [`manifold_sfu::ProducerStats`] and consumers'
//! [`manifold_sfu::ConsumerStats`] (with `id`, `producer`, `kind`). All of
//! it is the library's own `Serialize` (feature `serde`).
//!
//! `counts` is [`manifold_sfu::RouterCounts`] (transports, producers,
//! consumers, ufrags, routes, timers, queued_outputs); `stats` is
//! [`manifold_sfu::RouterStats`]; `sessions` the server's own WHIP, WHEP
//! and room sessions; `tcp` the TCP listener's counters (`tcp.rs`: accepted,
//! closed, slow_readers, queued; null with `--no-tcp`); `wires` the pipe
//! messages handed to other workers (`wires.rs`: carried, dropped,
//! delayed, stray). `total` sums
//! `sessions` and `counts` over workers. Each worker's `delay` is the time
//! its datagrams spent in the server, from the socket to the kernel's
//! taking their output (`delay.rs`). `memory` is the allocator's view
//! of the whole process (glibc's `mallinfo2`; null elsewhere):
//! `heap_in_use_bytes` allocated and not freed, `heap_free_bytes` free
//! inside the heaps, `heap_mapped_bytes` in large blocks of their own; a
//! leak shows as `heap_in_use_bytes` rising from one quiet moment to the
//! next, whatever the RSS does.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Json;
use manifold_sfu::ConsumerApi;
use serde_json::{json, Map, Value};

use crate::media::{Session, Sfu};
use crate::whip::{authorize, ApiError};
use crate::App;

/// The HTTP routes of this module.
pub fn routes() -> axum::Router<App> {
    axum::Router::new().route("/stats", get(stats))
}

async fn stats(State(app): State<App>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let mut workers = Vec::new();
    let mut total = Map::new();
    for (i, media) in app.workers.all().iter().enumerate() {
        let one = media.call(snapshot).await?;
        if let Some(fields) = one.as_object() {
            let counts = fields.get("counts").and_then(Value::as_object);
            let summed = counts
                .into_iter()
                .flatten()
                .chain(fields.get_key_value("sessions"));
            for (k, v) in summed {
                let sum = total.get(k).and_then(Value::as_u64).unwrap_or(0);
                total.insert(k.clone(), json!(sum + v.as_u64().unwrap_or(0)));
            }
        }
        let mut one = one;
        one["worker"] = json!(i);
        workers.push(one);
    }
    Ok(Json(
        json!({ "workers": workers, "total": total, "memory": memory() }),
    ))
}

/// The allocator's figures for the whole process (see the module doc).
fn memory() -> Value {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads glibc's arena statistics under its
        // own locks.
        let m = unsafe { libc::mallinfo2() };
        json!({
            "heap_in_use_bytes": m.uordblks + m.hblkhd,
            "heap_free_bytes": m.fordblks,
            "heap_mapped_bytes": m.hblkhd,
        })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    Value::Null
}

/// One worker's figures, taken on its loop.
fn snapshot(sfu: &mut Sfu) -> Value {
    json!({
        "sessions": sfu.sessions.len(),
        "counts": to_json(&sfu.router.counts()),
        // Pipe messages to other workers (see wires.rs).
        "wires": {
            "carried": sfu.wires.stats.carried,
            "dropped": sfu.wires.stats.dropped,
            "delayed": sfu.wires.stats.delayed,
            "stray": sfu.wires.stats.stray,
        },
        "stats": to_json(&sfu.router.stats()),
        // Time each datagram spent in the server (delay.rs).
        "delay": crate::delay::json(&sfu.delays),
        // The TCP listener's own counters (ICE over TCP), null with --no-tcp.
        "tcp": to_json(&sfu.tcp),
        "transports": transports_json(sfu),
    })
}

fn to_json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| json!({ "error": e.to_string() }))
}

/// Every open transport of one worker: its [`manifold_sfu::TransportStats`]
/// with the server's session kind, and its producers' and consumers'
/// snapshots in place of their counts.
fn transports_json(sfu: &mut Sfu) -> Value {
    let mut out = Vec::new();
    for tid in sfu.router.transport_ids() {
        let session = match sfu.sessions.get(&tid) {
            Some(Session::Publisher(_)) => "publisher",
            Some(Session::Viewer(_)) => "viewer",
            Some(Session::Member(_)) => "member",
            None => "none",
        };
        let Some(t) = sfu.router.transport(tid) else {
            continue;
        };
        let (stats, bw) = (t.stats(), t.bandwidth());
        let (connected, producers, consumers) = (t.is_connected(), t.producers(), t.consumers());
        let producers: Vec<Value> = producers
            .into_iter()
            .filter_map(|p| sfu.router.producer(p).map(|p| to_json(&p.stats())))
            .collect();
        let consumers: Vec<Value> = consumers
            .into_iter()
            .filter_map(|c| sfu.router.consumer(c).map(|c| consumer_json(&c)))
            .collect();
        let mut one = to_json(&stats);
        one["session"] = json!(session);
        one["connected"] = json!(connected);
        one["producers"] = Value::Array(producers);
        one["consumers"] = Value::Array(consumers);
        one["bandwidth"] = to_json(&bw);
        out.push(one);
    }
    Value::Array(out)
}

/// A consumer's [`manifold_sfu::ConsumerStats`] with what it consumes.
fn consumer_json(c: &ConsumerApi<'_>) -> Value {
    let mut one = to_json(&c.stats());
    one["id"] = json!(c.id().to_string());
    one["producer"] = json!(c.producer().to_string());
    one["kind"] = to_json(&c.kind());
    one["paused"] = json!(c.is_paused());
    one
}
