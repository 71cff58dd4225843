//! Links between nodes: one remote pipe per pair of nodes that share a
//! stream or a room, between their media ports.
//!
//! The node with the smaller id makes a link: it draws a fresh key from
//! the OS CSPRNG, creates its end ([`PipeRole::A`]) and hands the key to
//! the other node (`POST /cluster/link`), which creates the other end
//! ([`PipeRole::B`]), replacing any end it had towards that node (the
//! other node restarted). A node with the larger id that needs a link asks
//! the other to make one (`POST /cluster/link-request`). So the two ends
//! never race with two keys.
//!
//! A link ends when either end closes it or when its pipe fails (the other
//! node is gone: the pipe hears nothing for 15 s); what came through it
//! ends with it ([`super::streams`], [`super::rooms`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::State as Http;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use manifold_sfu::pipe::{PipeRole, RemotePipeOptions};
use manifold_sfu::{Event, PipeId, ProducerId};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use tracing::{debug, info};

use super::directory::NodeInfo;
use super::{control, rooms, streams, Cluster};
use crate::media::Sfu;
use crate::whip::{err, ApiError};
use crate::wires::Far;
use crate::App;

/// The cluster's state inside the router's loop.
#[derive(Default)]
pub struct State {
    /// Node id → this node's end of the link to it.
    by_node: HashMap<String, PipeId>,
    /// Link end → the node at its other end.
    by_pipe: HashMap<PipeId, String>,
    /// (link, producer id as the other node names it) → its piped copy.
    arrived: HashMap<(PipeId, u64), ProducerId>,
    /// Piped copy → (link, the other node's producer id).
    copies: HashMap<ProducerId, (PipeId, u64)>,
    /// Linked nodes missing from the directory: since when.
    missing: HashMap<String, Instant>,
    /// Streams received from their owner nodes.
    pub streams: streams::Imports,
    /// Rooms shared with other nodes.
    pub rooms: rooms::Shared,
    /// Their chat.
    pub chat: super::chat::Chats,
}

impl State {
    /// This node's end of the link to `node`.
    pub fn link_to(&self, node: &str) -> Option<PipeId> {
        self.by_node.get(node).copied()
    }

    /// The piped copy of producer `remote` (as the node at the other end
    /// of `pipe` names it), once it arrived.
    pub fn copy(&self, pipe: PipeId, remote: u64) -> Option<ProducerId> {
        self.arrived.get(&(pipe, remote)).copied()
    }

    /// Rooms this node is the hub of.
    pub fn hosted_rooms(&self) -> Vec<String> {
        self.rooms.hosted()
    }

    /// Every link end and its node.
    pub fn links(&self) -> Vec<(String, PipeId)> {
        self.by_node.iter().map(|(n, p)| (n.clone(), *p)).collect()
    }
}

/// Cluster events of the router: true if the event was the cluster's.
pub fn on_event(sfu: &mut Sfu, e: &Event) -> bool {
    if super::chat::on_event(sfu, e) {
        return true;
    }
    match *e {
        Event::PipeProducerAdded {
            producer,
            pipe,
            remote_producer,
            ..
        } if sfu.cluster.by_pipe.contains_key(&pipe) => {
            let remote = remote_producer.as_u64();
            sfu.cluster.arrived.insert((pipe, remote), producer);
            sfu.cluster.copies.insert(producer, (pipe, remote));
            rooms::on_arrived(sfu, pipe, remote, producer);
            true
        }
        Event::PipeClosed { pipe, reason } if sfu.cluster.by_pipe.contains_key(&pipe) => {
            let node = sfu.cluster.by_pipe.get(&pipe).cloned().unwrap_or_default();
            info!("cluster: link {pipe} to node {node} closed ({reason:?})");
            forget(sfu, pipe);
            true
        }
        Event::ProducerClosed { producer, .. } if sfu.cluster.copies.contains_key(&producer) => {
            if let Some(from) = sfu.cluster.copies.remove(&producer) {
                sfu.cluster.arrived.remove(&from);
            }
            streams::copy_closed(sfu, producer);
            rooms::copy_closed(sfu, producer);
            true
        }
        _ => false,
    }
}

/// How long a linked node may be missing from the directory (while this
/// node is listed) before its link is closed: longer than a Redis restart
/// takes to be refilled (every node writes itself again within a
/// heartbeat), shorter than a pipe takes to fail on its own (15 s).
const MISSING_FOR: std::time::Duration = std::time::Duration::from_secs(3);

/// The directory lists `live` (this node among them): close the links to
/// nodes it has not listed for [`MISSING_FOR`] (they died; their keys
/// expired), so what came through them ends now rather than when their
/// pipes fail. Counted in time, not in reads: heartbeats delayed by a slow
/// Redis may run back to back.
pub fn prune(sfu: &mut Sfu, live: &[String]) {
    let linked: Vec<(String, PipeId)> = sfu.cluster.links();
    sfu.cluster.missing.retain(|n, _| !live.contains(n));
    let now = Instant::now();
    for (node, pipe) in linked {
        if live.contains(&node) {
            continue;
        }
        let since = *sfu.cluster.missing.entry(node.clone()).or_insert(now);
        if now.duration_since(since) >= MISSING_FOR {
            sfu.cluster.missing.remove(&node);
            info!("cluster: node {node} left the directory: closing its link");
            close(sfu, pipe);
        }
    }
}

/// Close link end `pipe`.
fn close(sfu: &mut Sfu, pipe: PipeId) {
    forget(sfu, pipe);
    if let Some(p) = sfu.router.pipe(pipe) {
        p.close(Instant::now());
    }
}

/// Forget link `pipe` and everything that came through it.
fn forget(sfu: &mut Sfu, pipe: PipeId) {
    let Some(node) = sfu.cluster.by_pipe.remove(&pipe) else {
        return;
    };
    if sfu.cluster.by_node.get(&node) == Some(&pipe) {
        sfu.cluster.by_node.remove(&node);
    }
    sfu.wires.unlink(pipe);
    sfu.cluster.arrived.retain(|(p, _), _| *p != pipe);
    sfu.cluster.copies.retain(|_, (p, _)| *p != pipe);
    streams::link_gone(sfu, pipe);
    rooms::link_gone(sfu, pipe, &node);
}

/// Create this node's end of the link to `node`, replacing an older one.
fn open_end(
    sfu: &mut Sfu,
    node: String,
    local: SocketAddr,
    remote: SocketAddr,
    key: [u8; 32],
    role: PipeRole,
) -> Result<PipeId, ApiError> {
    if let Some(old) = sfu.cluster.by_node.get(&node).copied() {
        debug!("cluster: replacing link {old} to node {node}");
        close(sfu, old);
    }
    let options = RemotePipeOptions::new(local, remote, key, role);
    let pipe = sfu.router.create_remote_pipe(Instant::now(), options)?;
    info!("cluster: link {pipe} to node {node} at {remote}");
    sfu.cluster.by_node.insert(node.clone(), pipe);
    sfu.cluster.by_pipe.insert(pipe, node);
    Ok(pipe)
}

/// (`--workers`) Make sure workers `a` and `b` have a link: an in-process
/// pipe, its messages carried by [`crate::wires`].
pub async fn ensure_local(app: &App, a: usize, b: usize) -> Result<(), ApiError> {
    let _one_at_a_time = app.spread_lock.lock().await;
    let (ma, mb) = (&app.workers.all()[a], &app.workers.all()[b]);
    let nb = rooms::worker_node(b);
    if ma
        .call(move |sfu| sfu.cluster.by_node.contains_key(&nb))
        .await?
    {
        return Ok(());
    }
    let nb = rooms::worker_node(b);
    let pa = ma.call(move |sfu| open_local(sfu, nb)).await??;
    let na = rooms::worker_node(a);
    let made = mb
        .call(move |sfu| {
            let pb = open_local(sfu, na)?;
            sfu.wires.link(
                pb,
                Far {
                    worker: a,
                    pipe: pa,
                },
            );
            Ok::<_, ApiError>(pb)
        })
        .await;
    let pb = match made {
        Ok(Ok(pb)) => pb,
        failed => {
            let _ = ma.call(move |sfu| close(sfu, pa)).await;
            return Err(match failed {
                Ok(Err(e)) => e,
                _ => crate::media::Busy.into(),
            });
        }
    };
    ma.call(move |sfu| {
        sfu.wires.link(
            pa,
            Far {
                worker: b,
                pipe: pb,
            },
        )
    })
    .await?;
    Ok(())
}

/// A new in-process link end towards worker `node`, replacing an older one.
fn open_local(sfu: &mut Sfu, node: String) -> Result<PipeId, ApiError> {
    if let Some(old) = sfu.cluster.by_node.get(&node).copied() {
        close(sfu, old);
    }
    let pipe = sfu.router.create_pipe(Instant::now())?;
    debug!("link {pipe} to worker {node}");
    sfu.cluster.by_node.insert(node.clone(), pipe);
    sfu.cluster.by_pipe.insert(pipe, node);
    Ok(pipe)
}

/// `POST /cluster/link`: a node with a smaller id made a link to this one.
#[derive(Serialize, Deserialize)]
pub struct Link {
    from: String,
    media: SocketAddr,
    /// The AES-256-GCM key, 64 hex digits.
    key: String,
}

/// `POST /cluster/link-request`: a node with a larger id asks for a link.
#[derive(Serialize, Deserialize)]
pub struct LinkRequest {
    from: String,
}

/// An empty JSON answer.
#[derive(Serialize, Deserialize)]
pub struct Ack {}

/// Make sure this node has a link to `node` (made or asked for).
pub async fn ensure(app: &App, c: &Cluster, node: &NodeInfo) -> Result<(), ApiError> {
    let media = &app.workers.all()[0];
    let has = |id: String| async move {
        media
            .call(move |sfu| sfu.cluster.by_node.contains_key(&id))
            .await
    };
    if has(node.id.clone()).await? {
        return Ok(());
    }
    let _one_at_a_time = c.link_lock.lock().await;
    if has(node.id.clone()).await? {
        return Ok(());
    }
    if c.id < node.id {
        return make(app, c, node).await;
    }
    let ask = LinkRequest { from: c.id.clone() };
    c.post::<_, Ack>(node, "/cluster/link-request", &ask)
        .await?;
    Ok(())
}

/// Make a link to `node` (this node has the smaller id).
async fn make(app: &App, c: &Cluster, node: &NodeInfo) -> Result<(), ApiError> {
    let mut key = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let media = &app.workers.all()[0];
    let (id, local, remote) = (node.id.clone(), c.local, node.media);
    let ours = media
        .call(move |sfu| open_end(sfu, id, local, remote, key, PipeRole::A))
        .await??;
    let link = Link {
        from: c.id.clone(),
        media: c.media,
        key: hex(&key),
    };
    match c.post::<_, Ack>(node, "/cluster/link", &link).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let _ = media.call(move |sfu| close(sfu, ours)).await;
            Err(e)
        }
    }
}

pub async fn on_link(
    Http(app): Http<App>,
    headers: HeaderMap,
    Json(link): Json<Link>,
) -> Result<Json<Ack>, ApiError> {
    let c = control(&app, &headers)?;
    if link.from >= c.id {
        return Err(err(StatusCode::BAD_REQUEST, "links come from smaller ids"));
    }
    let key = unhex(&link.key).ok_or_else(|| err(StatusCode::BAD_REQUEST, "bad key"))?;
    let local = c.local;
    app.workers.all()[0]
        .call(move |sfu| open_end(sfu, link.from, local, link.media, key, PipeRole::B))
        .await??;
    Ok(Json(Ack {}))
}

pub async fn on_link_request(
    Http(app): Http<App>,
    headers: HeaderMap,
    Json(ask): Json<LinkRequest>,
) -> Result<Json<Ack>, ApiError> {
    let c = control(&app, &headers)?;
    if ask.from <= c.id {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "links are made by smaller ids",
        ));
    }
    let node = c.node(&ask.from).await?;
    let _one_at_a_time = c.link_lock.lock().await;
    // The asking node has no link to this one: whatever this one has is
    // stale (it restarted), so make a new one.
    make(&app, c, &node).await?;
    Ok(Json(Ack {}))
}

fn hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_as_hex() {
        let key: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(unhex(&hex(&key)), Some(key));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&"g".repeat(64)), None);
    }
}
