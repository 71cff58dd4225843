//! The WHEP layer extension: a viewer picks the simulcast encoding or the
//! spatial/temporal layers it receives.
//!
//! The WHEP `201` carries `Link: <{session}/layer>;
//! rel="urn:ietf:params:whep:ext:core:layer"`, where `{session}` is the
//! `Location` path. On that URL:
//!
//! * `POST` with `Content-Type: application/json` and
//!   `{"encodingId":"q"}` (a simulcast rid of the publisher) or
//!   `{"spatialLayerId":1,"temporalLayerId":2}` (either may be left out:
//!   the other stays as it was). `"mediaId"` (the viewer's `a=mid`) limits
//!   it to one video track; without it every video track of the session
//!   switches. `200` with the state below; `400` for bad JSON, an unknown
//!   encoding or no layer at all; `404` for an unknown session.
//! * `GET`: the state: per video track its preferred, target and current
//!   layers and the allocator's share; the transport's bandwidth view.
//!
//! Layers above what the stream has are clamped by the router; the
//! bandwidth allocator may hold a viewer below its choice.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use manifold_sfu::{ConsumerId, Layers, MediaKind, TransportId};
use serde::Serialize;
use std::time::Instant;
use tracing::info;

use crate::media::Sfu;
use crate::signal::{mime_is, parse_layer_request, LayerRequest};
use crate::whip::{authorize, content_type, err, viewer_transport, ApiError};
use crate::App;

/// The link relation of the layer extension.
pub const REL: &str = "urn:ietf:params:whep:ext:core:layer";

/// Layers as the extension names them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LayerIds {
    spatial_layer_id: u8,
    temporal_layer_id: u8,
    /// The simulcast rid of the spatial layer, if the stream has rids.
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_id: Option<String>,
}

/// One video track of the session.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TrackState {
    media_id: Option<String>,
    /// What the viewer asked for (255: the highest there is).
    preferred: LayerIds,
    /// What the router moves to (preference, live layers and allocation).
    target: LayerIds,
    /// What is forwarded now (`null` until the first keyframe).
    current: Option<LayerIds>,
    /// The allocator's cap for this track, bits per second.
    allocated_bitrate: Option<u64>,
    paused_for_bandwidth: bool,
    /// The publisher's encodings, lowest first: rid, live, bits per second.
    encodings: Vec<Encoding>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Encoding {
    encoding_id: Option<String>,
    live: bool,
    bitrate: u64,
}

/// The session's bandwidth as the allocator sees it, bits per second.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Bandwidth {
    estimate: Option<u64>,
    allocated: u64,
    desired: u64,
    sdp_cap: Option<u64>,
}

#[derive(Debug, Serialize)]
struct SessionState {
    tracks: Vec<TrackState>,
    bandwidth: Bandwidth,
}

/// The HTTP routes of this module.
pub fn routes() -> axum::Router<App> {
    use axum::http::Method;
    let methods = axum::routing::post(select).get(show);
    axum::Router::new().route(
        "/whep/{stream}/{session}/layer",
        crate::cors::resource(methods, &[Method::GET, Method::POST], false),
    )
}

async fn select(
    State(app): State<App>,
    Path((stream, session)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    if !mime_is(content_type(&headers), "application/json") {
        return Err(err(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    let req = parse_layer_request(&body)?;
    let log = format!("{req:?}");
    let state = app
        .workers
        .of_session(&stream, &session)
        .call(move |sfu| {
            let tid = viewer_or_404(sfu, &stream, &session)?;
            apply(sfu, tid, &req)?;
            Ok::<_, ApiError>((tid, state(sfu, tid)))
        })
        .await??;
    info!("viewer {}: layers {log}", state.0);
    Ok(Json(state.1).into_response())
}

/// The viewer session's transport, or 404.
fn viewer_or_404(sfu: &mut Sfu, stream: &str, session: &str) -> Result<TransportId, ApiError> {
    viewer_transport(sfu, stream, session)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "no such session"))
}

async fn show(
    State(app): State<App>,
    Path((stream, session)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let state = app
        .workers
        .of_session(&stream, &session)
        .call(move |sfu| {
            let tid = viewer_or_404(sfu, &stream, &session)?;
            Ok::<_, ApiError>(state(sfu, tid))
        })
        .await??;
    Ok(Json(state).into_response())
}

/// The video consumers of a viewer, with their `a=mid`.
fn video_consumers(sfu: &mut Sfu, tid: TransportId) -> Vec<(ConsumerId, Option<String>)> {
    let consumers = sfu.router.transport(tid).map(|t| t.consumers());
    consumers
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            let c = sfu.router.consumer(c)?;
            (c.kind() == MediaKind::Video).then(|| (c.id(), c.mid()))
        })
        .collect()
}

/// Check the whole request first, then switch every chosen track.
fn apply(sfu: &mut Sfu, tid: TransportId, req: &LayerRequest) -> Result<(), ApiError> {
    let mut chosen = video_consumers(sfu, tid);
    if let Some(mid) = &req.media_id {
        chosen.retain(|(_, m)| m.as_deref() == Some(mid.as_str()));
    }
    if chosen.is_empty() {
        return Err(err(
            StatusCode::BAD_REQUEST,
            match &req.media_id {
                Some(mid) => format!("no video track on mediaId {mid}"),
                None => "the session receives no video".into(),
            },
        ));
    }
    let mut plan = Vec::with_capacity(chosen.len());
    for (cid, _) in chosen {
        let Some(c) = sfu.router.consumer(cid) else {
            continue;
        };
        let (pid, old) = (c.producer(), c.preferred_layers());
        let rids = sfu.router.producer(pid).map(|p| p.rids());
        let (spatial, temporal) =
            req.layers(&rids.unwrap_or_default(), (old.spatial, old.temporal))?;
        plan.push((cid, Layers::new(spatial, temporal)));
    }
    for (cid, layers) in plan {
        if let Some(mut c) = sfu.router.consumer(cid) {
            c.set_preferred_layers(Instant::now(), layers);
        }
    }
    Ok(())
}

fn ids(layers: Layers, rids: &[String]) -> LayerIds {
    LayerIds {
        spatial_layer_id: layers.spatial,
        temporal_layer_id: layers.temporal,
        encoding_id: rids.get(layers.spatial as usize).cloned(),
    }
}

/// What the session receives and why.
fn state(sfu: &mut Sfu, tid: TransportId) -> SessionState {
    let mut tracks = Vec::new();
    for (cid, mid) in video_consumers(sfu, tid) {
        let Some(c) = sfu.router.consumer(cid) else {
            continue;
        };
        let (pid, preferred, stats) = (c.producer(), c.preferred_layers(), c.stats());
        let Some(p) = sfu.router.producer(pid) else {
            continue;
        };
        let rids = p.rids();
        let encodings = p
            .layers()
            .into_iter()
            .map(|l| Encoding {
                encoding_id: l.rid,
                live: l.live,
                bitrate: l.bitrate_bps,
            })
            .collect();
        tracks.push(TrackState {
            media_id: mid,
            preferred: ids(preferred, &rids),
            target: ids(stats.target_layers, &rids),
            current: stats.current_layers.map(|l| ids(l, &rids)),
            allocated_bitrate: stats.allocated_bps,
            paused_for_bandwidth: stats.paused_for_bandwidth,
            encodings,
        });
    }
    let bw = sfu.router.transport(tid).map(|t| t.bandwidth());
    let bandwidth = match bw {
        Some(b) => Bandwidth {
            estimate: b.estimate_bps,
            allocated: b.allocated_bps,
            desired: b.desired_bps,
            sdp_cap: b.sdp_cap_bps,
        },
        None => Bandwidth {
            estimate: None,
            allocated: 0,
            desired: 0,
            sdp_cap: None,
        },
    };
    SessionState { tracks, bandwidth }
}
