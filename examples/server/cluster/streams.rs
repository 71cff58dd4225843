//! A stream's viewers on every node: a WHEP viewer is served where it
//! arrives. If the stream's publisher is on another node (the directory
//! says which), this node makes sure it has a link to it, asks it to send
//! the stream's producers through (`POST /cluster/export`, answered with
//! their ids), waits until every piped copy arrived, and starts the viewer
//! on the copies. Later viewers here reuse them.
//!
//! The publisher leaving closes its producers, so their copies here close,
//! and so do the viewers of the stream here (as on the owner). The last
//! viewer here leaving closes the copies (the owner stops sending them).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use manifold_sfu::{PipeId, ProducerId, TransportId};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{control, links};
use crate::media::Sfu;
use crate::signal::valid_name;
use crate::whip::{self, err, ApiError};
use crate::App;

/// How long the piped copies may take to arrive.
const ARRIVAL_WAIT: Duration = Duration::from_secs(3);
/// How often the wait looks.
const ARRIVAL_POLL: Duration = Duration::from_millis(5);

/// Streams this node receives from their owners.
#[derive(Default)]
pub struct Imports {
    by_name: HashMap<String, Import>,
}

struct Import {
    /// The link they come through.
    pipe: PipeId,
    /// The piped copies of the publisher's producers.
    producers: Vec<ProducerId>,
    /// This node's viewers of the stream.
    viewers: Vec<TransportId>,
}

#[derive(Serialize, Deserialize)]
pub struct Export {
    stream: String,
    /// The node asking.
    to: String,
}

#[derive(Serialize, Deserialize)]
pub struct Exported {
    /// The stream's producers, as the owner names them.
    producers: Vec<u64>,
}

/// A WHEP viewer in cluster mode: `None` if the stream is not published
/// anywhere else (the caller serves or refuses it locally).
pub async fn view(
    app: &App,
    stream: &str,
    offer: &str,
    requested: Instant,
) -> Result<Option<(String, String)>, ApiError> {
    let Some(c) = &app.cluster else {
        return Ok(None);
    };
    let media = &app.workers.all()[0];
    let start = |stream: String, offer: String| async move {
        media
            .call(move |sfu| view_here(sfu, stream, &offer, requested))
            .await?
    };
    if let Some(r) = start(stream.to_owned(), offer.to_owned()).await? {
        return Ok(Some(r));
    }
    let owner = c
        .dir
        .owner("stream", stream)
        .await
        .map_err(|e| err(StatusCode::SERVICE_UNAVAILABLE, e))?;
    let Some(owner) = owner.filter(|o| *o != c.id) else {
        return Ok(None);
    };
    let node = c.node(&owner).await?;
    links::ensure(app, c, &node).await?;
    let ask = Export {
        stream: stream.to_owned(),
        to: c.id.clone(),
    };
    let sent: Exported = c.post(&node, "/cluster/export", &ask).await?;
    let until = Instant::now() + ARRIVAL_WAIT;
    loop {
        let (s, n, ids) = (stream.to_owned(), owner.clone(), sent.producers.clone());
        match media.call(move |sfu| import(sfu, s, &n, &ids)).await? {
            Some(true) => break,
            None => return Err(err(StatusCode::SERVICE_UNAVAILABLE, "link closed")),
            Some(false) if Instant::now() >= until => {
                return Err(err(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the stream did not arrive from its node in time",
                ))
            }
            Some(false) => tokio::time::sleep(ARRIVAL_POLL).await,
        }
    }
    info!(
        "stream {stream}: piped from node {owner} ({} producer(s))",
        sent.producers.len()
    );
    match start(stream.to_owned(), offer.to_owned()).await? {
        Some(r) => Ok(Some(r)),
        None => Err(err(StatusCode::SERVICE_UNAVAILABLE, "the stream ended")),
    }
}

/// Start a viewer here if the stream's publisher is here or its copies
/// arrived.
fn view_here(
    sfu: &mut Sfu,
    stream: String,
    offer: &str,
    requested: Instant,
) -> Result<Option<(String, String)>, ApiError> {
    if whip::publisher_producers(sfu, &stream).is_some() {
        return whip::start_viewer(sfu, stream, offer, requested).map(Some);
    }
    let Some(producers) = sfu
        .cluster
        .streams
        .by_name
        .get(&stream)
        .map(|i| i.producers.clone())
    else {
        return Ok(None);
    };
    match whip::new_viewer(sfu, stream.clone(), offer, requested, &producers) {
        Ok((tid, id, answer)) => {
            if let Some(i) = sfu.cluster.streams.by_name.get_mut(&stream) {
                i.viewers.push(tid);
            }
            Ok(Some((id, answer)))
        }
        Err(e) => {
            // A refused first viewer leaves no copies flowing for nobody.
            let unused = sfu.cluster.streams.by_name.get(&stream);
            if unused.is_some_and(|i| i.viewers.is_empty()) {
                end(sfu, &stream);
            }
            Err(e)
        }
    }
}

/// Note the stream as received once every producer `ids` arrived from
/// `node`; `None` if there is no link to it.
fn import(sfu: &mut Sfu, stream: String, node: &str, ids: &[u64]) -> Option<bool> {
    let pipe = sfu.cluster.link_to(node)?;
    if sfu.cluster.streams.by_name.contains_key(&stream) {
        return Some(true);
    }
    let copies: Option<Vec<ProducerId>> = ids.iter().map(|&r| sfu.cluster.copy(pipe, r)).collect();
    let Some(producers) = copies else {
        return Some(false);
    };
    let import = Import {
        pipe,
        producers,
        viewers: Vec::new(),
    };
    sfu.cluster.streams.by_name.insert(stream, import);
    Some(true)
}

/// `POST /cluster/export`: send a stream published here to a node.
pub async fn on_export(
    State(app): State<App>,
    headers: HeaderMap,
    Json(ask): Json<Export>,
) -> Result<Json<Exported>, ApiError> {
    control(&app, &headers)?;
    if !valid_name(&ask.stream) {
        return Err(err(StatusCode::BAD_REQUEST, "bad stream name"));
    }
    app.workers.all()[0]
        .call(move |sfu| export(sfu, &ask.stream, &ask.to))
        .await?
        .map(Json)
}

fn export(sfu: &mut Sfu, stream: &str, to: &str) -> Result<Exported, ApiError> {
    let pipe = sfu
        .cluster
        .link_to(to)
        .ok_or_else(|| err(StatusCode::CONFLICT, "no link from that node"))?;
    let producers = whip::publisher_producers(sfu, stream)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "nobody publishes this stream"))?;
    send(sfu, pipe, &producers)?;
    Ok(Exported {
        producers: producers.iter().map(|p| p.as_u64()).collect(),
    })
}

/// Send `producers` through link `pipe` (those not sent yet).
pub fn send(sfu: &mut Sfu, pipe: PipeId, producers: &[ProducerId]) -> Result<(), ApiError> {
    let mut p = sfu
        .router
        .pipe(pipe)
        .ok_or_else(|| err(StatusCode::CONFLICT, "link closed"))?;
    let sent = p.sent_producers();
    for &producer in producers.iter().filter(|x| !sent.contains(x)) {
        p.send_producer(Instant::now(), producer)?;
    }
    Ok(())
}

/// A viewer here left: the last one closes the copies.
pub fn viewer_left(sfu: &mut Sfu, stream: &str, viewer: TransportId) {
    let Some(i) = sfu.cluster.streams.by_name.get_mut(stream) else {
        return;
    };
    i.viewers.retain(|v| *v != viewer);
    if !i.viewers.is_empty() {
        return;
    }
    let Some(i) = sfu.cluster.streams.by_name.remove(stream) else {
        return;
    };
    info!("stream {stream}: last viewer on this node left");
    for p in i.producers {
        if let Some(p) = sfu.router.producer(p) {
            p.close(Instant::now());
        }
    }
}

/// A piped copy closed (the publisher's producer closed, or the link
/// went): a stream left without copies ends here too.
pub fn copy_closed(sfu: &mut Sfu, copy: ProducerId) {
    let ended: Vec<String> = sfu
        .cluster
        .streams
        .by_name
        .iter_mut()
        .filter_map(|(name, i)| {
            let had = i.producers.len();
            i.producers.retain(|p| *p != copy);
            (had > 0 && i.producers.is_empty()).then(|| name.clone())
        })
        .collect();
    for name in ended {
        end(sfu, &name);
    }
}

/// Link `pipe` went: the streams that came through it end here.
pub fn link_gone(sfu: &mut Sfu, pipe: PipeId) {
    let ended: Vec<String> = sfu
        .cluster
        .streams
        .by_name
        .iter()
        .filter(|(_, i)| i.pipe == pipe)
        .map(|(n, _)| n.clone())
        .collect();
    for name in ended {
        end(sfu, &name);
    }
}

/// The stream's publisher is gone: close its viewers here.
fn end(sfu: &mut Sfu, stream: &str) {
    let Some(i) = sfu.cluster.streams.by_name.remove(stream) else {
        return;
    };
    info!(
        "stream {stream}: gone from its node, closing {} viewer(s)",
        i.viewers.len()
    );
    for v in i.viewers {
        whip::forget(sfu, v);
        sfu.close_transport(v);
    }
    for p in i.producers {
        if let Some(p) = sfu.router.producer(p) {
            p.close(Instant::now());
        }
    }
}

/// Before a WHIP publisher starts here: refuse it if another live node
/// has the stream's publisher (409, as for a second publisher on one
/// node). A directory that cannot answer does not stop publishing.
pub async fn check_publisher(app: &App, stream: &str) -> Result<(), ApiError> {
    let Some(c) = &app.cluster else {
        return Ok(());
    };
    let owner = match c.dir.owner("stream", stream).await {
        Ok(Some(o)) if o != c.id => o,
        _ => return Ok(()),
    };
    match c.dir.node(&owner).await {
        Ok(Some(_)) => Err(err(
            StatusCode::CONFLICT,
            format!("the stream already has a publisher, on node {owner}"),
        )),
        _ => Ok(()),
    }
}

/// A publisher started here: the directory says so now (the heartbeat
/// keeps saying it).
pub fn published(app: &App, stream: &str) {
    let Some(c) = app.cluster.clone() else {
        return;
    };
    let stream = stream.to_owned();
    tokio::spawn(async move {
        if let Err(e) = c.dir.own_stream(&stream, &c.id).await {
            warn!("stream {stream}: {e}");
        }
    });
}
