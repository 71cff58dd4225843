//! A cluster of reference servers on Redis (`--cluster redis://HOST:PORT
//! --node-id NAME`).
//!
//! * **Directory** ([`directory`]): every node writes its address, media
//!   address and load to Redis every second with a 5 s TTL, and the streams
//!   and rooms it owns. A node that dies drops out within the TTL; a Redis
//!   that restarts empty is refilled by the next heartbeats.
//! * **Placement**: a stream is owned by the node its WHIP publisher
//!   connects to (its media enters there). A room is placed on the
//!   least-loaded live node when it is first used; that node is its *hub*.
//! * **Links** ([`links`]): two nodes that share a stream or a room are
//!   joined by one remote pipe ([`manifold_sfu::Router::create_remote_pipe`])
//!   between their media ports: AES-256-GCM with a key from the OS CSPRNG,
//!   made by the node with the smaller id and handed to the other over the
//!   HTTP control endpoints below (bearer token: the cluster's `--token`).
//! * **Streams** ([`streams`]): a WHEP viewer arriving at any node is served
//!   there; its node asks the owner to send the stream's producers through
//!   their link and consumes the piped copies.
//! * **Rooms** ([`rooms`]): members are served where they arrive; each
//!   node sends its members' producers to the hub, which sends every
//!   member's producers to every other node of the room, with who they
//!   belong to.
//!
//! Control endpoints (POST, JSON, bearer token): `/cluster/link`,
//! `/cluster/link-request`, `/cluster/export`, `/cluster/room`; and
//! `GET /cluster/nodes` (no token): the live nodes, for clients that fail
//! over to another node.
//!
//! In cluster mode a node runs one worker (the cluster spreads load over
//! nodes; `--workers` spreads it over cores of one node).

pub mod chat;
pub mod directory;
pub mod links;
pub mod rooms;
pub mod streams;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::whip::{self, authorize, err, ApiError};
use crate::App;
use directory::{Beat, Directory, NodeInfo, BEAT};

/// How long one request to another node may take.
const NODE_WAIT: Duration = Duration::from_secs(4);

/// This node's place in the cluster (shared by the HTTP handlers).
pub struct Cluster {
    /// `--node-id`.
    pub id: String,
    /// This node's HTTP base URL.
    pub url: String,
    /// The media address other nodes send pipe datagrams to.
    pub media: SocketAddr,
    /// The UDP socket's own address (what the router sees as destination).
    pub local: SocketAddr,
    pub dir: Directory,
    token: Option<Arc<str>>,
    agent: ureq::Agent,
    /// Held while a link to another node is made (one at a time).
    pub link_lock: tokio::sync::Mutex<()>,
}

impl Cluster {
    pub fn new(
        id: String,
        url: String,
        media: SocketAddr,
        local: SocketAddr,
        redis: &str,
        token: Option<Arc<str>>,
    ) -> Result<Cluster, String> {
        let dir = Directory::new(redis)?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(NODE_WAIT))
            .proxy(None)
            .build()
            .new_agent();
        Ok(Cluster {
            id,
            url,
            media,
            local,
            dir,
            token,
            agent,
            link_lock: Default::default(),
        })
    }

    /// POST `body` as JSON to another node's `path`; its JSON answer.
    pub async fn post<B: Serialize, R: DeserializeOwned + Send + 'static>(
        &self,
        node: &NodeInfo,
        path: &str,
        body: &B,
    ) -> Result<R, ApiError> {
        let url = format!("{}{path}", node.url);
        let body = serde_json::to_string(body).map_err(|e| internal(e.to_string()))?;
        let mut req = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json");
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let answer = tokio::task::spawn_blocking(move || {
            let mut resp = req.send(body).map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let text = resp
                .body_mut()
                .read_to_string()
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((status, text))
        })
        .await
        .map_err(|e| internal(e.to_string()))?;
        match answer {
            Ok((200, text)) => serde_json::from_str(&text)
                .map_err(|e| internal(format!("POST {url}: bad answer: {e}"))),
            Ok((status, text)) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Err(err(status, format!("node {}: {}", node.id, text.trim())))
            }
            Err(e) => Err(err(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("node {} unreachable: {e}", node.id),
            )),
        }
    }

    /// A live node by id (from the directory).
    pub async fn node(&self, id: &str) -> Result<NodeInfo, ApiError> {
        match self.dir.node(id).await {
            Ok(Some(n)) => Ok(n),
            Ok(None) => Err(err(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("node {id} is gone"),
            )),
            Err(e) => Err(err(StatusCode::SERVICE_UNAVAILABLE, e)),
        }
    }
}

fn internal(e: String) -> ApiError {
    err(StatusCode::INTERNAL_SERVER_ERROR, e)
}

/// The cluster's HTTP routes (empty without `--cluster`).
pub fn routes() -> axum::Router<App> {
    axum::Router::new()
        .route("/cluster/nodes", get(nodes))
        .route("/cluster/link", post(links::on_link))
        .route("/cluster/link-request", post(links::on_link_request))
        .route("/cluster/export", post(streams::on_export))
        .route("/cluster/room", post(rooms::on_room))
}

/// The cluster of a request, or 404 without `--cluster`.
pub fn of(app: &App) -> Result<&Arc<Cluster>, ApiError> {
    app.cluster
        .as_ref()
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "not in a cluster"))
}

/// A control request: the cluster and the checked token.
pub fn control<'a>(app: &'a App, headers: &HeaderMap) -> Result<&'a Arc<Cluster>, ApiError> {
    let c = of(app)?;
    authorize(app, headers)?;
    Ok(c)
}

#[derive(Serialize)]
struct NodesAnswer {
    #[serde(rename = "self")]
    me: String,
    nodes: Vec<PublicNode>,
}

#[derive(Serialize)]
struct PublicNode {
    id: String,
    url: String,
    load: usize,
}

/// `GET /cluster/nodes`: the live nodes, sorted by id.
async fn nodes(State(app): State<App>) -> Result<Response, ApiError> {
    let c = of(&app)?;
    let nodes = c
        .dir
        .nodes()
        .await
        .map_err(|e| err(StatusCode::SERVICE_UNAVAILABLE, e))?;
    let nodes = nodes
        .into_iter()
        .map(|n| PublicNode {
            id: n.id,
            url: n.url,
            load: n.load,
        })
        .collect();
    let answer = NodesAnswer {
        me: c.id.clone(),
        nodes,
    };
    Ok((
        [(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        Json(answer),
    )
        .into_response())
}

/// The heartbeat: write this node's keys every [`BEAT`] until the server
/// stops, then remove its node key.
pub async fn heartbeat(app: App, cluster: Arc<Cluster>) {
    let mut stopping = app.stopping.clone();
    let mut tick = tokio::time::interval(BEAT);
    // A beat that waited on a slow Redis is not followed by a burst of them.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = crate::stopped(&mut stopping) => break,
        }
        let owned = app.workers.all()[0]
            .call(|sfu| (whip::published(sfu), sfu.cluster.hosted_rooms()))
            .await;
        let Ok((streams, rooms)) = owned else {
            continue;
        };
        let load = (0..app.workers.all().len())
            .map(|i| app.workers.load(i))
            .sum();
        let me = NodeInfo {
            id: cluster.id.clone(),
            url: cluster.url.clone(),
            media: cluster.media,
            load,
        };
        let beat = Beat {
            me: &me,
            streams: &streams,
            rooms: &rooms,
        };
        // Failures are logged once by the directory; the next beat retries.
        if cluster.dir.beat(beat).await.is_ok() {
            prune(&app, &cluster).await;
        }
        rehome(&app).await;
    }
    if let Err(e) = cluster.dir.leave(&cluster.id).await {
        warn!("cluster: could not leave the directory: {e}");
    } else {
        info!("cluster: node {} left the directory", cluster.id);
    }
}

/// Rooms whose hub went away: find the next hub and take part through it
/// (retried at the next beat if it is not ready).
async fn rehome(app: &App) {
    let media = &app.workers.all()[0];
    let Ok(rooms) = media.call(rooms::take_rehome).await else {
        return;
    };
    for room in rooms {
        let r = room.clone();
        match rooms::prepare(app, &room).await {
            Ok(hub) => {
                let _ = media.call(move |sfu| rooms::rehome(sfu, &r, hub)).await;
            }
            Err(e) => {
                debug!("room {room}: no new hub yet: {e}");
                let _ = media.call(move |sfu| rooms::retry_rehome(sfu, r)).await;
            }
        }
    }
}

/// Close links to nodes gone from the directory ([`links::prune`]).
async fn prune(app: &App, cluster: &Cluster) {
    let Ok(nodes) = cluster.dir.nodes().await else {
        return;
    };
    let live: Vec<String> = nodes.into_iter().map(|n| n.id).collect();
    if live.contains(&cluster.id) {
        let _ = app.workers.all()[0]
            .call(move |sfu| links::prune(sfu, &live))
            .await;
    }
}
