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
//! `transports` lists each open transport with its session's kind
//! (`publisher`, `viewer`, `member`, or `none`), its producers and
//! consumers and their counters.
//!
//! `counts` is [`manifold_sfu::RouterCounts`] (transports, producers,
//! consumers, ufrags, routes, timers, queued_outputs); `stats` is
//! [`manifold_sfu::RouterStats`]; `sessions` the server's own WHIP, WHEP
//! and room sessions. `total` sums `sessions` and `counts` over workers.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Json;
use manifold_sfu::{ConsumerApi, Layers, MediaKind, ProducerApi, RouterCounts, RouterStats};
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
    Ok(Json(json!({ "workers": workers, "total": total })))
}

/// One worker's figures, taken on its loop.
fn snapshot(sfu: &mut Sfu) -> Value {
    json!({
        "sessions": sfu.sessions.len(),
        "counts": counts_json(&sfu.router.counts()),
        "stats": stats_json(&sfu.router.stats()),
        "transports": transports_json(sfu),
    })
}

/// Every open transport of one worker, with its producers and consumers.
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
        let (connected, bw) = (t.is_connected(), t.bandwidth());
        let (producers, consumers) = (t.producers(), t.consumers());
        let producers: Vec<Value> = producers
            .into_iter()
            .filter_map(|p| sfu.router.producer(p).map(|p| producer_json(&p)))
            .collect();
        let consumers: Vec<Value> = consumers
            .into_iter()
            .filter_map(|c| sfu.router.consumer(c).map(|c| consumer_json(&c)))
            .collect();
        out.push(json!({
            "id": tid.to_string(),
            "session": session,
            "connected": connected,
            "producers": producers,
            "consumers": consumers,
            "bandwidth": {
                "estimate_bps": bw.estimate_bps,
                "allocated_bps": bw.allocated_bps,
                "desired_bps": bw.desired_bps,
                "sdp_cap_bps": bw.sdp_cap_bps,
            },
        }));
    }
    Value::Array(out)
}

fn producer_json(p: &ProducerApi<'_>) -> Value {
    let layers: Vec<Value> = p
        .layers()
        .iter()
        .map(
            |l| json!({"rid": l.rid, "ssrc": l.ssrc, "live": l.live, "bitrate_bps": l.bitrate_bps}),
        )
        .collect();
    json!({
        "id": p.id().to_string(),
        "kind": kind_str(p.kind()),
        "paused": p.is_paused(),
        "packets": p.packets_received(),
        "keyframe_requests": p.keyframe_requests_sent(),
        "layers": layers,
    })
}

fn consumer_json(c: &ConsumerApi<'_>) -> Value {
    let s = c.stats();
    let layers =
        |l: Option<Layers>| l.map(|l| json!({"spatial": l.spatial, "temporal": l.temporal}));
    json!({
        "id": c.id().to_string(),
        "producer": c.producer().to_string(),
        "kind": kind_str(c.kind()),
        "paused": c.is_paused(),
        "packets": s.packets_sent,
        "bytes": s.bytes_sent,
        "allocated_bps": s.allocated_bps,
        "paused_for_bandwidth": s.paused_for_bandwidth,
        "current_layers": layers(s.current_layers),
        "target_layers": layers(Some(s.target_layers)),
        "preferred_layers": layers(Some(c.preferred_layers())),
    })
}

fn kind_str(k: MediaKind) -> &'static str {
    match k {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
    }
}

fn counts_json(c: &RouterCounts) -> Value {
    json!({
        "transports": c.transports,
        "producers": c.producers,
        "consumers": c.consumers,
        "ufrags": c.ufrags,
        "routes": c.routes,
        "timers": c.timers,
        "queued_outputs": c.queued_outputs,
    })
}

fn stats_json(s: &RouterStats) -> Value {
    json!({
        "datagrams_in": s.datagrams_in,
        "dropped_malformed": s.dropped_malformed,
        "dropped_unknown_ufrag": s.dropped_unknown_ufrag,
        "dropped_unknown_source": s.dropped_unknown_source,
        "dropped_rate_limited": s.dropped_rate_limited,
        "refused_producers": s.refused_producers,
        "dropped_rejected": s.dropped_rejected,
        "datagrams_routed": s.datagrams_routed,
        "transport_errors": s.transport_errors,
        "dropped_output": s.dropped_output,
        "rtp_in": s.rtp_in,
        "rtp_out": s.rtp_out,
        "rtp_bytes_out": s.rtp_bytes_out,
        "keyframe_requests": s.keyframe_requests,
        "dropped_unknown_layer": s.dropped_unknown_layer,
        "ignored_layers": s.ignored_layers,
    })
}
