//! The cluster's directory in Redis: which nodes are alive (with their
//! addresses and load) and which node owns each stream and room.
//!
//! Keys (every one expires, so a node that dies leaves no trace after
//! [`TTL`]):
//!
//! * `manifold:node:{id}`: the node's [`NodeInfo`] as JSON, set again at
//!   every heartbeat ([`BEAT`]);
//! * `manifold:nodes`: a set of node ids, pruned of ids whose key expired;
//! * `manifold:stream:{name}`: the node where the stream's publisher is,
//!   set by that node at every heartbeat;
//! * `manifold:room:{name}`: the room's hub node, claimed once (`SET NX`)
//!   by the node where the room is first used, then kept alive by the hub
//!   at every heartbeat while the room has members.
//!
//! Because a node writes everything it owns at every heartbeat, a Redis
//! that restarts empty is refilled within one [`BEAT`]; media never
//! depends on Redis (only finding a stream or room does).

use std::net::SocketAddr;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::{info, warn};

/// How often a node writes its keys.
pub const BEAT: Duration = Duration::from_secs(1);
/// How long a key outlives its last heartbeat: a node that stops beating
/// leaves the directory after this long.
pub const TTL: Duration = Duration::from_secs(5);
/// How long one Redis exchange may take.
const REDIS_WAIT: Duration = Duration::from_secs(2);

/// A node as the directory lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeInfo {
    /// `--node-id`.
    pub id: String,
    /// Its HTTP base URL (`http://host:port`): signaling and the cluster's
    /// own endpoints.
    pub url: String,
    /// Its media address (UDP): where pipes from other nodes go.
    pub media: SocketAddr,
    /// Open transports, as of its last heartbeat.
    pub load: usize,
}

/// What a heartbeat writes.
pub struct Beat<'a> {
    pub me: &'a NodeInfo,
    /// Streams published on this node.
    pub streams: &'a [String],
    /// Rooms this node is the hub of.
    pub rooms: &'a [String],
}

/// The directory: one Redis connection, made again after any failure.
pub struct Directory {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    /// Whether the last exchange worked (to log changes only).
    up: std::sync::atomic::AtomicBool,
}

/// A Redis failure, as text (logged or answered as 503).
pub type DirError = String;

const NODES: &str = "manifold:nodes";

fn node_key(id: &str) -> String {
    format!("manifold:node:{id}")
}

/// The key of a stream's or a room's owner (`kind`: `stream` or `room`).
fn owner_key(kind: &str, name: &str) -> String {
    format!("manifold:{kind}:{name}")
}

impl Directory {
    /// A directory at `url` (`redis://host:port`); connects on first use.
    pub fn new(url: &str) -> Result<Directory, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--cluster {url}: {e}"))?;
        Ok(Directory {
            client,
            conn: Mutex::new(None),
            up: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Run `f` on the connection (made if needed), within [`REDIS_WAIT`];
    /// a failure drops the connection so the next call makes a new one.
    async fn with<T, F, Fut>(&self, f: F) -> Result<T, DirError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = {
            let mut slot = self.conn.lock().await;
            match &*slot {
                Some(c) => c.clone(),
                None => {
                    let made = tokio::time::timeout(
                        REDIS_WAIT,
                        self.client.get_multiplexed_async_connection(),
                    )
                    .await;
                    match made {
                        Ok(Ok(c)) => {
                            *slot = Some(c.clone());
                            c
                        }
                        Ok(Err(e)) => return Err(self.failed(e.to_string())),
                        Err(_) => return Err(self.failed("connect timed out".into())),
                    }
                }
            }
        };
        match tokio::time::timeout(REDIS_WAIT, f(conn)).await {
            Ok(Ok(v)) => {
                if !self.up.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    info!("cluster: directory reachable");
                }
                Ok(v)
            }
            Ok(Err(e)) => {
                *self.conn.lock().await = None;
                Err(self.failed(e.to_string()))
            }
            Err(_) => {
                *self.conn.lock().await = None;
                Err(self.failed("timed out".into()))
            }
        }
    }

    fn failed(&self, e: String) -> DirError {
        if self.up.swap(false, std::sync::atomic::Ordering::Relaxed) {
            warn!("cluster: directory unreachable: {e}");
        }
        format!("cluster directory: {e}")
    }

    /// Write this node's keys (see the module doc).
    pub async fn beat(&self, beat: Beat<'_>) -> Result<(), DirError> {
        let ttl = TTL.as_secs();
        let me = serde_json::to_string(beat.me).map_err(|e| e.to_string())?;
        let id = beat.me.id.clone();
        let owned: Vec<String> = beat
            .streams
            .iter()
            .map(|s| owner_key("stream", s))
            .chain(beat.rooms.iter().map(|r| owner_key("room", r)))
            .collect();
        self.with(|mut c| async move {
            let mut p = redis::pipe();
            p.set_ex(node_key(&id), me, ttl).ignore();
            p.sadd(NODES, &id).ignore();
            for k in &owned {
                p.set_ex(k, &id, ttl).ignore();
            }
            p.query_async::<()>(&mut c).await
        })
        .await
    }

    /// Remove this node's own key (a clean shutdown: others see it gone at
    /// once instead of after [`TTL`]).
    pub async fn leave(&self, id: &str) -> Result<(), DirError> {
        let id = id.to_owned();
        self.with(|mut c| async move {
            let mut p = redis::pipe();
            p.del(node_key(&id)).ignore();
            p.srem(NODES, &id).ignore();
            p.query_async::<()>(&mut c).await
        })
        .await
    }

    /// Every live node, sorted by id.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, DirError> {
        let ids: Vec<String> = self
            .with(|mut c| async move { c.smembers(NODES).await })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|i| node_key(i)).collect();
        let values: Vec<Option<String>> =
            self.with(|mut c| async move { c.mget(keys).await }).await?;
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for (id, v) in ids.into_iter().zip(values) {
            match v.and_then(|v| serde_json::from_str::<NodeInfo>(&v).ok()) {
                Some(n) => live.push(n),
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            let _ = self
                .with(|mut c| async move { c.srem::<_, _, ()>(NODES, gone).await })
                .await;
        }
        live.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(live)
    }

    /// One live node by id.
    pub async fn node(&self, id: &str) -> Result<Option<NodeInfo>, DirError> {
        let key = node_key(id);
        let v: Option<String> = self.with(|mut c| async move { c.get(key).await }).await?;
        Ok(v.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// The node owning stream or room `name`, if any (`kind`: `stream` or
    /// `room`).
    pub async fn owner(&self, kind: &str, name: &str) -> Result<Option<String>, DirError> {
        let key = owner_key(kind, name);
        self.with(|mut c| async move { c.get(key).await }).await
    }

    /// Make `node` the owner of `name` unless it has one; returns the owner.
    pub async fn claim(&self, kind: &str, name: &str, node: &str) -> Result<String, DirError> {
        let key = owner_key(kind, name);
        let node = node.to_owned();
        let ttl = TTL.as_secs();
        self.with(|mut c| async move {
            let opts = redis::SetOptions::default()
                .conditional_set(redis::ExistenceCheck::NX)
                .with_expiration(redis::SetExpiry::EX(ttl));
            let _: Option<String> = c.set_options(&key, &node, opts).await?;
            let owner: Option<String> = c.get(&key).await?;
            Ok(owner.unwrap_or(node))
        })
        .await
    }

    /// Set `node` as the owner of stream `name` now (its publisher just
    /// arrived there), before the next heartbeat would.
    pub async fn own_stream(&self, name: &str, node: &str) -> Result<(), DirError> {
        let key = owner_key("stream", name);
        let node = node.to_owned();
        let ttl = TTL.as_secs();
        self.with(|mut c| async move { c.set_ex::<_, _, ()>(key, node, ttl).await })
            .await
    }
}
