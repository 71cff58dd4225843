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
//!   "stats":{"datagrams_in":1234,...}}],
//!  "total":{"sessions":0,"transports":0,...}}
//! ```
//!
//! `counts` is [`manifold_sfu::RouterCounts`] (transports, producers,
//! consumers, ufrags, routes, timers, queued_outputs); `stats` is
//! [`manifold_sfu::RouterStats`]; `sessions` the server's own WHIP, WHEP
//! and room sessions. `total` sums `sessions` and `counts` over workers.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Json;
use manifold_sfu::{RouterCounts, RouterStats};
use serde_json::{json, Map, Value};

use crate::media::Sfu;
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
    })
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
        "keyframe_requests": s.keyframe_requests,
        "dropped_unknown_layer": s.dropped_unknown_layer,
        "ignored_layers": s.ignored_layers,
    })
}
