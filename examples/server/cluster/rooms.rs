//! One room over several nodes.
//!
//! A room's *hub* is the node the directory names for it: claimed for the
//! least-loaded live node by the node where the room is first used. A
//! member is served where it arrives. A node with members of a room whose
//! hub is elsewhere makes sure it has a link to the hub, then tells it it
//! takes part (`Join`); the hub answers with every member and producer it
//! knows that is not on that node. From then on:
//!
//! * a member node sends its members' producers to the hub through the
//!   link and says whose they are (`Producers`), and tells it of members
//!   joining and leaving (`Member`);
//! * the hub does the same towards every member node, for its own members
//!   and for what it received from the other member nodes (a piped copy is
//!   a producer like any other: it can be piped on).
//!
//! So on every node the room sees the members of the other nodes as
//! *remote members*: their producers are piped copies, consumed by the
//! local members like local producers, with the same page messages
//! (`join`, `track`, `leave`, `activeSpeaker`). Each node runs its own
//! active speaker observer over every microphone it sees (audio levels
//! travel in the RTP header extension, through the pipes).
//!
//! Control messages travel as `POST /cluster/room` from one queue per
//! server ([`post_loop`]), in order. A piped copy and the message naming
//! its owner may arrive in either order (UDP and HTTP): whichever is
//! second completes it.
//!
//! Chat crosses nodes as room messages ([`super::chat`]). Not shared across
//! nodes (yet): mute indicators.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use manifold_sfu::{PipeId, ProducerId, TransportId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::control;
use super::links::{self, Ack};
use crate::media::{Session, Sfu};
use crate::signal::{valid_name, Peer};
use crate::whip::{err, ApiError};
use crate::App;

/// Messages waiting to go to other nodes, at most.
pub const OUTBOX: usize = 4096;
/// Piped copies or descriptions waiting for their other half, per node.
const MAX_PENDING: usize = 4096;
/// Rooms shared with other nodes, at most (a node asking for more is
/// refused and logged).
const MAX_SHARED_ROOMS: usize = 4096;
/// Members of other nodes one room may list (a room holds at most
/// [`MAX_MEMBERS`](crate::signal::MAX_MEMBERS) on each node).
const MAX_REMOTE_MEMBERS: usize = 4 * crate::signal::MAX_MEMBERS;

/// A message between the nodes of a room.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum RoomMsg {
    /// Member node → hub: this node has members in the room.
    Join { room: String, node: String },
    /// Member node → hub: this node has no members left.
    Leave { room: String, node: String },
    /// A member arrived (`present`) or left, on the sender's side.
    Member {
        room: String,
        node: String,
        peer: Peer,
        present: bool,
    },
    /// These producers, sent through the link by `node` (and named as it
    /// names them), are `member`'s.
    Producers {
        room: String,
        node: String,
        member: String,
        producers: Vec<Described>,
    },
    /// `member` said something in the room's chat ([`super::chat`]);
    /// `data` in base64.
    Chat {
        room: String,
        node: String,
        member: String,
        binary: bool,
        data: String,
    },
}

/// A [`RoomMsg::Member`].
fn member_msg(
    room: impl Into<String>,
    node: impl Into<String>,
    peer: Peer,
    present: bool,
) -> RoomMsg {
    RoomMsg::Member {
        room: room.into(),
        node: node.into(),
        peer,
        present,
    }
}

/// One producer as a room message describes it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub struct Described {
    pub id: u64,
    pub screen: bool,
}

/// A piped copy in a room: whose it is.
#[derive(Clone, Debug)]
struct Ghost {
    room: String,
    member: String,
    screen: bool,
    /// The node it came from (the link's other end).
    via: String,
}

/// A room shared with other nodes.
#[derive(Default)]
struct Share {
    /// The hub, if it is another node.
    hub: Option<String>,
    /// (Hub) the member nodes taking part.
    nodes: BTreeSet<String>,
    /// Members on other nodes: name → (the node it came via, its state).
    remote: HashMap<String, (String, Peer)>,
}

/// The cluster's rooms, inside the router's loop.
#[derive(Default)]
pub struct Shared {
    rooms: HashMap<String, Share>,
    ghosts: HashMap<ProducerId, Ghost>,
    /// Descriptions whose copy did not arrive yet: (link, id) → ghost.
    pending: HashMap<(PipeId, u64), Ghost>,
    /// Rooms with members here whose hub went away.
    rehome: Vec<String>,
    outbox: Option<mpsc::Sender<(String, RoomMsg)>>,
}

impl Shared {
    /// Rooms this node is the hub of.
    pub fn hosted(&self) -> Vec<String> {
        self.rooms
            .iter()
            .filter(|(_, s)| s.hub.is_none())
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// The member a piped copy belongs to, and whether it is a screen.
    pub fn ghost(&self, p: ProducerId) -> Option<(&str, bool)> {
        self.ghosts.get(&p).map(|g| (g.member.as_str(), g.screen))
    }

    /// Remote members of `room`.
    pub fn remote_peers(&self, room: &str) -> Vec<Peer> {
        self.rooms
            .get(room)
            .map(|s| s.remote.values().map(|(_, p)| p.clone()).collect())
            .unwrap_or_default()
    }

    /// Piped copies of `room`'s remote members.
    pub fn ghost_producers(&self, room: &str) -> Vec<ProducerId> {
        self.ghosts
            .iter()
            .filter(|(_, g)| g.room == room)
            .map(|(p, _)| *p)
            .collect()
    }
}

/// Make the loop able to send room messages (cluster mode only).
pub fn set_outbox(sfu: &mut Sfu, tx: mpsc::Sender<(String, RoomMsg)>) {
    sfu.cluster.rooms.outbox = Some(tx);
}

fn post(sfu: &mut Sfu, node: &str, msg: RoomMsg) {
    let Some(tx) = &sfu.cluster.rooms.outbox else {
        return;
    };
    if tx.try_send((node.to_owned(), msg)).is_err() {
        warn!("cluster: outbox full, a room message to node {node} is dropped");
    }
}

/// The node name of worker `i` (`--workers`, outside a cluster): the
/// workers of one server share rooms as the nodes of a cluster do, through
/// in-process pipes ([`links::ensure_local`]) and jobs instead of HTTP.
pub fn worker_node(i: usize) -> String {
    format!("w{i}")
}

/// Send every queued room message, in order, until the server stops: to
/// another node over HTTP, or (`--workers`) as a job to another worker.
pub async fn post_loop(app: App, mut rx: mpsc::Receiver<(String, RoomMsg)>) {
    while let Some((node, msg)) = rx.recv().await {
        let Some(cluster) = app.cluster.clone() else {
            let worker = node.strip_prefix('w').and_then(|i| i.parse::<usize>().ok());
            if let Some(media) = worker.and_then(|i| app.workers.all().get(i)) {
                if media.call(move |sfu| receive(sfu, msg)).await.is_err() {
                    warn!("room message to worker {node} not delivered (busy)");
                }
            }
            continue;
        };
        let info = match cluster.node(&node).await {
            Ok(n) => n,
            Err(_) => {
                debug!("cluster: node {node} gone, room message dropped");
                continue;
            }
        };
        if let Err(e) = cluster.post::<_, Ack>(&info, "/cluster/room", &msg).await {
            warn!("cluster: room message to node {node}: {}", e.message());
        }
    }
}

/// Where a member of `room` is served: the worker, and the room's hub if
/// it is another node or worker. In a cluster, [`prepare`]; with
/// `--workers N`, the least-loaded worker, the room's hub being its owner
/// worker (a hash of its name).
pub async fn place(app: &App, room: &str) -> Result<(usize, Option<String>), String> {
    if app.cluster.is_some() {
        return Ok((0, prepare(app, room).await?));
    }
    if app.workers.all().len() == 1 {
        return Ok((0, None));
    }
    let owner = app.workers.owner(room);
    let w = app.workers.least_loaded(owner);
    if w == owner {
        return Ok((owner, None));
    }
    links::ensure_local(app, w, owner)
        .await
        .map_err(|e| e.message())?;
    Ok((w, Some(worker_node(owner))))
}

/// Before a member joins `room` here: find (or place) its hub and make
/// sure this node has a link to it. Returns the hub if it is another node.
pub async fn prepare(app: &App, room: &str) -> Result<Option<String>, String> {
    let Some(c) = &app.cluster else {
        return Ok(None);
    };
    let hub = match c.dir.owner("room", room).await {
        Ok(Some(hub)) => hub,
        Ok(None) => {
            let nodes = c.dir.nodes().await.unwrap_or_default();
            let least = nodes
                .iter()
                .min_by_key(|n| (n.load, n.id != c.id))
                .map_or(c.id.clone(), |n| n.id.clone());
            c.dir.claim("room", room, &least).await?
        }
        Err(e) => {
            warn!("room {room}: {e}; served on this node alone");
            return Ok(None);
        }
    };
    if hub == c.id {
        return Ok(None);
    }
    let node = c.node(&hub).await.map_err(|e| e.message())?;
    links::ensure(app, c, &node)
        .await
        .map_err(|e| e.message())?;
    info!("room {room}: hub is node {hub}");
    Ok(Some(hub))
}

/// Whether `room` is shared with other nodes or workers.
pub fn is_shared(sfu: &Sfu, room: &str) -> bool {
    sfu.cluster.rooms.rooms.contains_key(room)
}

/// Send `msg` to the room's other nodes (all but `except`): the hub, or
/// (on the hub) the member nodes.
pub fn send_on(sfu: &mut Sfu, room: &str, except: Option<&str>, msg: RoomMsg) {
    for node in targets(sfu, room, except) {
        post(sfu, &node, msg.clone());
    }
}

pub fn me(sfu: &Sfu) -> String {
    sfu.cluster_id.clone().unwrap_or_default()
}

/// The nodes a room message about this node's members goes to.
fn targets(sfu: &Sfu, room: &str, except: Option<&str>) -> Vec<String> {
    match sfu.cluster.rooms.rooms.get(room) {
        Some(Share { hub: Some(h), .. }) => vec![h.clone()],
        Some(s) => s
            .nodes
            .iter()
            .filter(|n| Some(n.as_str()) != except)
            .cloned()
            .collect(),
        None => Vec::new(),
    }
}

/// A member `tid` joined `room` here (`hub`: from [`prepare`]).
pub fn member_joined(sfu: &mut Sfu, room: &str, tid: TransportId, hub: Option<String>) {
    if sfu.cluster_id.is_none() {
        return;
    }
    let me = me(sfu);
    if !sfu.cluster.rooms.rooms.contains_key(room) {
        let share = Share {
            hub: hub.clone(),
            ..Share::default()
        };
        sfu.cluster.rooms.rooms.insert(room.to_owned(), share);
        if let Some(h) = &hub {
            let join = RoomMsg::Join {
                room: room.to_owned(),
                node: me.clone(),
            };
            post(sfu, h, join);
        }
    }
    let Some(Session::Member(m)) = sfu.sessions.get(&tid) else {
        return;
    };
    let peer = m.peer();
    for node in targets(sfu, room, None) {
        let msg = member_msg(room.to_owned(), me.clone(), peer.clone(), true);
        post(sfu, &node, msg);
    }
}

/// A member here changed (muted or unmuted): the other nodes are told.
pub fn member_changed(sfu: &mut Sfu, room: &str, peer: Peer) {
    if sfu.cluster_id.is_none() {
        return;
    }
    let msg = member_msg(room.to_owned(), me(sfu), peer, true);
    send_on(sfu, room, None, msg);
}

/// A member left `room` here.
pub fn member_left(sfu: &mut Sfu, room: &str, peer: Peer) {
    if sfu.cluster_id.is_none() || !sfu.cluster.rooms.rooms.contains_key(room) {
        return;
    }
    let me = me(sfu);
    for node in targets(sfu, room, None) {
        let msg = member_msg(room.to_owned(), me.clone(), peer.clone(), false);
        post(sfu, &node, msg);
    }
    let locals = crate::room::local_members(sfu, room);
    let share = &sfu.cluster.rooms.rooms[room];
    if locals == 0 && (share.hub.is_some() || share.nodes.is_empty()) {
        if let Some(Share { hub: Some(h), .. }) = sfu.cluster.rooms.rooms.remove(room) {
            post(
                sfu,
                &h,
                RoomMsg::Leave {
                    room: room.to_owned(),
                    node: me,
                },
            );
        }
        forget_room(sfu, room);
    }
}

/// A producer of member `member` (local, or a copy when this is the hub)
/// is sent to the room's other nodes (all but `except`).
pub fn producer_added(
    sfu: &mut Sfu,
    room: &str,
    member: &str,
    p: ProducerId,
    screen: bool,
    except: Option<&str>,
) {
    if sfu.cluster_id.is_none() {
        return;
    }
    let me = me(sfu);
    for node in targets(sfu, room, except) {
        let Some(pipe) = sfu.cluster.link_to(&node) else {
            continue;
        };
        if let Err(e) = super::streams::send(sfu, pipe, &[p]) {
            warn!(
                "room {room}: cannot pipe {p} to node {node}: {}",
                e.message()
            );
            continue;
        }
        let msg = RoomMsg::Producers {
            room: room.to_owned(),
            node: me.clone(),
            member: member.to_owned(),
            producers: vec![Described {
                id: p.as_u64(),
                screen,
            }],
        };
        post(sfu, &node, msg);
    }
}

/// `POST /cluster/room`.
pub async fn on_room(
    State(app): State<App>,
    headers: HeaderMap,
    Json(msg): Json<RoomMsg>,
) -> Result<Json<Ack>, ApiError> {
    control(&app, &headers)?;
    let room = match &msg {
        RoomMsg::Join { room, .. }
        | RoomMsg::Leave { room, .. }
        | RoomMsg::Member { room, .. }
        | RoomMsg::Producers { room, .. }
        | RoomMsg::Chat { room, .. } => room,
    };
    if !valid_name(room) {
        return Err(err(StatusCode::BAD_REQUEST, "bad room name"));
    }
    app.workers.all()[0]
        .call(move |sfu| receive(sfu, msg))
        .await?;
    Ok(Json(Ack {}))
}

pub fn receive(sfu: &mut Sfu, msg: RoomMsg) {
    match msg {
        RoomMsg::Join { room, node } => hub_join(sfu, room, node),
        RoomMsg::Leave { room, node } => hub_leave(sfu, &room, &node),
        RoomMsg::Member {
            room,
            node,
            peer,
            present,
        } => remote_member(sfu, &room, &node, peer, present),
        RoomMsg::Chat {
            room,
            node,
            member,
            binary,
            data,
        } => {
            let Some(share) = sfu.cluster.rooms.rooms.get(&room) else {
                return;
            };
            let hub = share.hub.is_none();
            super::chat::said(sfu, &room, &member, binary, &data);
            if hub {
                let msg = RoomMsg::Chat {
                    room: room.clone(),
                    node: me(sfu),
                    member,
                    binary,
                    data,
                };
                send_on(sfu, &room, Some(&node), msg);
            }
        }
        RoomMsg::Producers {
            room,
            node,
            member,
            producers,
        } => {
            let Some(pipe) = sfu.cluster.link_to(&node) else {
                return;
            };
            for d in producers {
                let ghost = Ghost {
                    room: room.clone(),
                    member: member.clone(),
                    screen: d.screen,
                    via: node.clone(),
                };
                match sfu.cluster.copy(pipe, d.id) {
                    Some(copy) => ghost_ready(sfu, copy, ghost),
                    None if sfu.cluster.rooms.pending.len() < MAX_PENDING => {
                        sfu.cluster.rooms.pending.insert((pipe, d.id), ghost);
                    }
                    None => warn!("cluster: too many pending room producers"),
                }
            }
        }
    }
}

/// (Hub) node `node` takes part in `room`: send it everything it lacks.
fn hub_join(sfu: &mut Sfu, room: String, node: String) {
    let me = me(sfu);
    let rooms = &mut sfu.cluster.rooms.rooms;
    if !rooms.contains_key(&room) && rooms.len() >= MAX_SHARED_ROOMS {
        return warn!("room {room}: node {node} refused, {MAX_SHARED_ROOMS} rooms shared already");
    }
    let share = rooms.entry(room.clone()).or_default();
    if share.hub.is_some() {
        warn!("room {room}: node {node} takes it for hub, but this node is not");
        return;
    }
    share.nodes.insert(node.clone());
    info!("room {room}: node {node} takes part");
    let remote: Vec<(String, Peer)> = share.remote.values().cloned().collect();
    for (_, peer) in remote.into_iter().filter(|(via, _)| *via != node) {
        let msg = member_msg(room.clone(), me.clone(), peer, true);
        post(sfu, &node, msg);
    }
    for (peer, producers) in crate::room::local_roster(sfu, &room) {
        let msg = member_msg(room.clone(), me.clone(), peer.clone(), true);
        post(sfu, &node, msg);
        for (p, screen) in producers {
            send_one(sfu, &room, &node, &peer.name, p, screen);
        }
    }
    let ghosts: Vec<(ProducerId, Ghost)> = sfu
        .cluster
        .rooms
        .ghosts
        .iter()
        .filter(|(_, g)| g.room == room && g.via != node)
        .map(|(p, g)| (*p, g.clone()))
        .collect();
    for (p, g) in ghosts {
        send_one(sfu, &room, &node, &g.member, p, g.screen);
    }
}

fn send_one(sfu: &mut Sfu, room: &str, node: &str, member: &str, p: ProducerId, screen: bool) {
    let Some(pipe) = sfu.cluster.link_to(node) else {
        return;
    };
    if let Err(e) = super::streams::send(sfu, pipe, &[p]) {
        return warn!(
            "room {room}: cannot pipe {p} to node {node}: {}",
            e.message()
        );
    }
    let msg = RoomMsg::Producers {
        room: room.to_owned(),
        node: me(sfu),
        member: member.to_owned(),
        producers: vec![Described {
            id: p.as_u64(),
            screen,
        }],
    };
    post(sfu, node, msg);
}

/// (Hub) node `node` has no members left in `room`.
fn hub_leave(sfu: &mut Sfu, room: &str, node: &str) {
    let Some(share) = sfu.cluster.rooms.rooms.get_mut(room) else {
        return;
    };
    share.nodes.remove(node);
    info!("room {room}: node {node} left");
    let gone: Vec<Peer> = share
        .remote
        .values()
        .filter(|(v, _)| v == node)
        .map(|(_, p)| p.clone())
        .collect();
    for peer in gone {
        remote_member(sfu, room, node, peer, false);
    }
    // Stop sending this room's producers there.
    if let Some(pipe) = sfu.cluster.link_to(node) {
        let mine = crate::room::local_roster(sfu, room)
            .into_iter()
            .flat_map(|(_, ps)| ps.into_iter().map(|(p, _)| p));
        let ghosts = sfu.cluster.rooms.ghost_producers(room);
        let all: Vec<ProducerId> = mine.chain(ghosts).collect();
        if let Some(mut p) = sfu.router.pipe(pipe) {
            for x in all {
                p.stop_producer(Instant::now(), x);
            }
        }
    }
    maybe_forget(sfu, room);
}

/// A member of another node arrived or left.
fn remote_member(sfu: &mut Sfu, room: &str, via: &str, peer: Peer, present: bool) {
    let me = me(sfu);
    let Some(share) = sfu.cluster.rooms.rooms.get_mut(room) else {
        return;
    };
    let name = peer.name.clone();
    if present && !share.remote.contains_key(&name) && share.remote.len() >= MAX_REMOTE_MEMBERS {
        return warn!("room {room}: {name} on node {via} refused, the room is full");
    }
    let before = match present {
        true => share
            .remote
            .insert(name.clone(), (via.to_owned(), peer.clone())),
        false => share.remote.remove(&name),
    };
    let changed = before.is_none() == present;
    let hub = share.hub.is_none();
    if hub {
        for node in targets(sfu, room, Some(via)) {
            let msg = member_msg(room.to_owned(), me.clone(), peer.clone(), present);
            post(sfu, &node, msg);
        }
    }
    if let (true, Some((_, was))) = (present, &before) {
        crate::room::remote_changed(sfu, room, was, &peer);
    }
    if changed {
        match present {
            true => {
                super::chat::voice(sfu, room, &name);
                crate::room::remote_joined(sfu, room, peer);
            }
            false => {
                super::chat::left(sfu, room, &name);
                crate::room::remote_left(sfu, room, &name);
            }
        }
    }
}

/// A piped copy arrived on `pipe`: complete a pending description.
pub fn on_arrived(sfu: &mut Sfu, pipe: PipeId, remote: u64, copy: ProducerId) {
    if let Some(ghost) = sfu.cluster.rooms.pending.remove(&(pipe, remote)) {
        ghost_ready(sfu, copy, ghost);
    }
}

/// A remote member's producer is here: the room's members consume it; the
/// hub sends it on to the other member nodes.
fn ghost_ready(sfu: &mut Sfu, copy: ProducerId, ghost: Ghost) {
    let (room, member, screen, via) = (
        ghost.room.clone(),
        ghost.member.clone(),
        ghost.screen,
        ghost.via.clone(),
    );
    if !sfu.cluster.rooms.rooms.contains_key(&room) {
        // Nobody here takes part any more: not wanted.
        if let Some(p) = sfu.router.producer(copy) {
            p.close(Instant::now());
        }
        return;
    }
    debug!("room {room}: {member}'s {copy} arrived from node {via}");
    sfu.cluster.rooms.ghosts.insert(copy, ghost);
    crate::room::remote_producer(sfu, &room, copy);
    let hub = sfu
        .cluster
        .rooms
        .rooms
        .get(&room)
        .is_some_and(|s| s.hub.is_none());
    if hub {
        producer_added(sfu, &room, &member, copy, screen, Some(&via));
    }
}

/// A piped copy closed.
pub fn copy_closed(sfu: &mut Sfu, copy: ProducerId) {
    if let Some(g) = sfu.cluster.rooms.ghosts.remove(&copy) {
        if g.screen {
            crate::room::remote_screen_ended(sfu, &g.room, &g.member);
        }
    }
}

/// Link `pipe` went: the members that came through it are gone.
/// If it led to a room's hub, the room's members here take part again
/// through the hub the directory names next ([`take_rehome`], [`rehome`]).
pub fn link_gone(sfu: &mut Sfu, pipe: PipeId, node: &str) {
    sfu.cluster.rooms.pending.retain(|(p, _), _| *p != pipe);
    let rooms: Vec<String> = sfu.cluster.rooms.rooms.keys().cloned().collect();
    for room in rooms {
        let gone: Vec<Peer> = sfu.cluster.rooms.rooms[&room]
            .remote
            .values()
            .filter(|(v, _)| *v == node)
            .map(|(_, p)| p.clone())
            .collect();
        for peer in gone {
            remote_member(sfu, &room, node, peer, false);
        }
        let Some(s) = sfu.cluster.rooms.rooms.get_mut(&room) else {
            continue;
        };
        s.nodes.remove(node);
        if s.hub.as_deref() == Some(node) {
            warn!("room {room}: its hub, node {node}, is gone");
            sfu.cluster.rooms.rooms.remove(&room);
            forget_room(sfu, &room);
            if crate::room::local_members(sfu, &room) > 0 {
                sfu.cluster.rooms.rehome.push(room);
            }
            continue;
        }
        maybe_forget(sfu, &room);
    }
}

/// Rooms whose hub went away, to take part in again (the heartbeat asks,
/// finds the next hub with [`prepare`] and calls [`rehome`]).
pub fn take_rehome(sfu: &mut Sfu) -> Vec<String> {
    std::mem::take(&mut sfu.cluster.rooms.rehome)
}

/// Put a room back to be re-homed later (its new hub was not ready).
pub fn retry_rehome(sfu: &mut Sfu, room: String) {
    if !sfu.cluster.rooms.rehome.contains(&room) {
        sfu.cluster.rooms.rehome.push(room);
    }
}

/// Take part in `room` again through `hub` (`None`: this node is the hub
/// now): tell it of every member here and send it their producers.
pub fn rehome(sfu: &mut Sfu, room: &str, hub: Option<String>) {
    if crate::room::local_members(sfu, room) == 0 || sfu.cluster.rooms.rooms.contains_key(room) {
        return;
    }
    info!(
        "room {room}: new hub {}",
        hub.as_deref().unwrap_or("(this node)")
    );
    let share = Share {
        hub: hub.clone(),
        ..Share::default()
    };
    sfu.cluster.rooms.rooms.insert(room.to_owned(), share);
    let me = me(sfu);
    let Some(hub) = hub else {
        return;
    };
    let join = RoomMsg::Join {
        room: room.to_owned(),
        node: me.clone(),
    };
    post(sfu, &hub, join);
    for (peer, producers) in crate::room::local_roster(sfu, room) {
        let msg = member_msg(room.to_owned(), me.clone(), peer.clone(), true);
        post(sfu, &hub, msg);
        for (p, screen) in producers {
            producer_added(sfu, room, &peer.name, p, screen, None);
        }
    }
}

/// Forget a room nobody here or elsewhere takes part in any more.
fn maybe_forget(sfu: &mut Sfu, room: &str) {
    let Some(s) = sfu.cluster.rooms.rooms.get(room) else {
        return;
    };
    if s.hub.is_none() && s.nodes.is_empty() && crate::room::local_members(sfu, room) == 0 {
        sfu.cluster.rooms.rooms.remove(room);
        forget_room(sfu, room);
    }
}

fn forget_room(sfu: &mut Sfu, room: &str) {
    super::chat::forget_room(sfu, room);
    let copies = sfu.cluster.rooms.ghost_producers(room);
    for p in copies {
        sfu.cluster.rooms.ghosts.remove(&p);
        if let Some(p) = sfu.router.producer(p) {
            p.close(Instant::now());
        }
    }
    debug!("room {room}: no longer shared");
}
