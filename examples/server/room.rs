//! Conference rooms: pages and WebSocket signaling.
//!
//! Each participant has one transport. It publishes camera and microphone
//! (its offer becomes producers) and consumes every other participant's
//! producers; new consumers reach the browser as server offers
//! ([`Event::RenegotiationNeeded`]). The router is the polite side of the
//! offer/answer exchange; the page is the impolite one.
//!
//! Messages are JSON objects with a `type` (see [`ClientMsg`] and
//! [`ServerMsg`]), at most [`MAX_MESSAGE`] bytes each.
//!
//! Operators (bearer token, like WHIP/WHEP): `GET /room/{room}/members`
//! lists a room's members and the router's object counts;
//! `DELETE /room/{room}/members/{member}/media` closes that member's media
//! session (its transport: the member leaves and its socket is told why and
//! closed); `DELETE /room/{room}/members/{member}/socket` drops its
//! WebSocket without a goodbye, like a lost network. Either way a page that
//! recovers rejoins: a new session, a new transport.
//!
//! Layers: the page says which layers it wants of each participant's video
//! (`layers`: a low encoding for thumbnails, the highest for the large
//! tile). The server applies it to the consumers there are and remembers it
//! for those made later (the participant republishes, or its track arrives
//! after the message).
//!
//! Active speaker: each room has one active speaker observer over its
//! members' microphones (made with the room's first microphone, closed
//! with its last member). When it names a new dominant speaker, every
//! member gets `{"type":"activeSpeaker","peer":name}` (a member joining
//! later gets the current one), and the speaker's video consumers get
//! bandwidth priority [`SPEAKER_PRIORITY`](speaker::SPEAKER_PRIORITY) (others keep the priority their
//! viewer asked for).
//!
//! Last-N (`--last-n N`, off at 0): each member receives video from at most
//! N other participants, the most recent speakers (members who never spoke
//! in the order they joined), plus anyone its page shows large (asked for
//! with priority 2 or more). The other video consumers are paused (they
//! cost nothing); audio is always forwarded. A consumer the page itself
//! turned off (`receive`) stays off.
//!
//! Screen sharing (`screen.rs`): before each offer the page says which of
//! its m-lines is a screen share (`{"type":"screen","mid":..}`); that
//! producer is the member's screen. The others get its track with
//! `screen: true`, at priority [`SCREEN_PRIORITY`](screen::SCREEN_PRIORITY),
//! never paused by last-N, and `{"type":"screen","peer":..,"on":false}` when
//! it stops. A camera mute does not pause it.
//!
//! Watch-only (`?watch=1` on the socket): the member publishes nothing (its
//! page offers to receive only), the others see it with `watching: true`,
//! and it takes no last-N place.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get};
use manifold_sfu::{
    ActiveSpeakerObserverOptions, ConsumerId, ConsumerOptions, Event, Layers, MediaKind,
    ObserverId, ProducerId, TransportId,
};
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::media::{Media, Session, Sfu};
use crate::signal::{
    on_frame, valid_name, valid_participant, ClientMsg, Frame, Kind, LayerPrefs, MessageBudget,
    Peer, ServerMsg, Step, MAX_MEMBERS, MAX_MESSAGE,
};
use crate::whip::{authorize, err, readable, ApiError};
use crate::App;

mod chat;
mod events;
mod operator;
mod remote;
mod screen;
mod speaker;
pub use chat::CHAT;
pub use events::on_event;
use operator::{close_media, drop_socket, members};
pub use remote::{forward_voice, remote_changed};
pub use remote::{
    local_members, local_roster, remote_joined, remote_left, remote_producer, remote_screen_ended,
};
use screen::{is_screen, on_producer_closed};
pub use speaker::on_observer_event;
use speaker::{apply_last_n, apply_speaker_priority, close_speaker, observe_microphone};

/// Messages queued for one participant's socket before it counts as stuck.
const QUEUE: usize = 256;
/// How long one WebSocket send may take before the page counts as gone.
const SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

const INDEX_HTML: &str = include_str!("page/index.html");
const ROOM_HTML: &str = include_str!("page/room.html");
const ROOM_JS: &str = include_str!("page/room.js");

/// The HTTP routes of this module.
pub fn routes() -> axum::Router<App> {
    axum::Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/room.js", get(script))
        .route("/room/{room}", get(room_page))
        .route("/room/{room}/ws", get(ws))
        .route("/room/{room}/members", get(members))
        .route("/room/{room}/members/{member}/media", delete(close_media))
        .route("/room/{room}/members/{member}/socket", delete(drop_socket))
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        ROOM_JS,
    )
        .into_response()
}

async fn room_page(Path(room): Path<String>) -> Response {
    match valid_name(&room) {
        true => Html(ROOM_HTML).into_response(),
        false => (StatusCode::BAD_REQUEST, "bad room name\n").into_response(),
    }
}

impl From<MediaKind> for Kind {
    fn from(k: MediaKind) -> Self {
        match k {
            MediaKind::Audio => Kind::Audio,
            // Video, and kinds a newer library adds (shown as video tiles).
            _ => Kind::Video,
        }
    }
}

/// From the router's loop to a participant's socket task.
#[derive(Debug)]
pub enum ToPeer {
    Msg(ServerMsg),
    /// A server offer made in negotiation generation `gen`.
    Offer {
        gen: u64,
        sdp: String,
    },
    /// The session is over (the transport closed or was replaced): say
    /// why and whether to rejoin, then close the socket.
    Close {
        why: String,
        rejoin: bool,
    },
    /// Drop the socket without a word or a close frame (an operator's
    /// `DELETE .../socket`: what a lost network looks like to the page).
    Drop,
}

/// Rooms, inside the router's loop: name → transports of its participants.
#[derive(Default)]
pub struct Rooms {
    rooms: HashMap<String, Vec<TransportId>>,
    /// Last-N: how many participants' video a member receives (0: all).
    last_n: usize,
    /// Each room's members, the most recent speaker first (members who
    /// never spoke last, in the order they joined).
    recent: HashMap<String, Vec<String>>,
    /// Each room's active speaker observer and its current speaker.
    speakers: HashMap<String, Speaker>,
    /// Observer → its room, for the observer's events.
    by_observer: HashMap<ObserverId, String>,
}

impl Rooms {
    /// Rooms whose members receive at most `last_n` videos (0: all).
    pub fn with_last_n(last_n: usize) -> Rooms {
        Rooms {
            last_n,
            ..Rooms::default()
        }
    }
}

/// A room's active speaker observer.
struct Speaker {
    observer: ObserverId,
    /// The member speaking (its name) and their microphone.
    current: Option<(String, ProducerId)>,
}

/// A participant's session.
pub struct Member {
    room: String,
    name: String,
    tx: mpsc::Sender<ToPeer>,
    /// Bumped at each page offer: server offers made before it are stale.
    gen: u64,
    audio_muted: bool,
    video_muted: bool,
    /// The layers and priority this member wants of each participant's
    /// video.
    prefs: LayerPrefs,
    /// Video consumers paused by last-N (to resume when visible again).
    last_n_paused: HashSet<ConsumerId>,
    /// Joined watch-only: no camera or microphone.
    watching: bool,
    /// The m-line of the page's screen share in its latest offer, if any.
    screen_mid: Option<String>,
    /// The member's screen share producer, if it shares.
    screen: Option<ProducerId>,
}

impl Member {
    pub fn peer(&self) -> Peer {
        Peer {
            name: self.name.clone(),
            audio_muted: self.audio_muted,
            video_muted: self.video_muted,
            watching: self.watching,
            sharing: self.screen.is_some(),
        }
    }
}

#[derive(Deserialize)]
struct WsQuery {
    name: Option<String>,
    token: Option<String>,
    /// `1`: join watch-only.
    watch: Option<String>,
}

async fn ws(
    State(app): State<App>,
    Path(room): Path<String>,
    Query(q): Query<WsQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let requested = Instant::now();
    if !app.token_ok(q.token.as_deref()) {
        return (StatusCode::UNAUTHORIZED, "missing or wrong token\n").into_response();
    }
    let name = q.name.unwrap_or_default();
    let watching = matches!(q.watch.as_deref(), Some("1" | "true"));
    if !valid_name(&room) || !valid_participant(&name) {
        return (StatusCode::BAD_REQUEST, "bad room or participant name\n").into_response();
    }
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| session(app, room, name, watching, socket, requested))
}

/// One participant's socket: page messages become jobs on the router's
/// loop; what the loop sends comes back out as JSON.
/// `requested`: when the WebSocket upgrade (the join) arrived.
async fn session(
    app: App,
    room: String,
    name: String,
    watching: bool,
    mut socket: WebSocket,
    requested: Instant,
) {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let (r, n) = (room.clone(), name.clone());
    // Every member of a room is on the same worker.
    // The member's worker, and the room's hub if it is another worker or
    // node (linked to this one by then).
    let (worker, hub) = match crate::cluster::rooms::place(&app, &room).await {
        Ok(placed) => placed,
        Err(message) => return refuse(socket, message).await,
    };
    let media = app.workers.all()[worker].clone();
    let joined = media
        .call(move |sfu| {
            let joined = join(sfu, r.clone(), n, watching, tx, requested);
            if let Ok((tid, _)) = &joined {
                crate::cluster::rooms::member_joined(sfu, &r, *tid, hub);
            }
            joined
        })
        .await;
    let (tid, peers) = match joined {
        Ok(Ok(j)) => j,
        Ok(Err(message)) => return refuse(socket, message).await,
        Err(_) => return refuse(socket, "server busy".into()).await,
    };
    info!("room {room}: {name} joined ({tid})");
    let mut gen = 0;
    let mut stopping = app.stopping.clone();
    let welcome = ServerMsg::Welcome {
        you: name.clone(),
        peers,
        ice_servers: app.ice_servers(),
    };
    let mut ok = send(&mut socket, &welcome).await;
    let mut budget = MessageBudget::default();
    let mut abrupt = false;
    while ok {
        tokio::select! {
            m = socket.recv() => {
                let frame = match &m {
                    Some(Ok(Message::Text(text))) => {
                        debug!("room {room}: {name} sent {}", text.get(..20).unwrap_or(text));
                        Frame::Text(text)
                    }
                    Some(Ok(Message::Binary(_))) => Frame::Binary,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Frame::Control,
                    Some(Ok(Message::Close(_))) | None => Frame::Close,
                    Some(Err(e)) => {
                        debug!("room {room}: {name}: socket error: {e}");
                        Frame::Close
                    }
                };
                let counted = matches!(frame, Frame::Text(_) | Frame::Binary);
                let over = if counted { budget.take(Instant::now()) } else { None };
                let reply = match over.unwrap_or_else(|| on_frame(frame)) {
                    Step::Run(msg) => handle(&media, tid, &mut gen, msg).await,
                    Step::Reply(reply) => Some(reply),
                    Step::Ignore => None,
                    Step::End => break,
                };
                if let Some(reply) = reply {
                    ok = send(&mut socket, &reply).await;
                }
            }
            out = rx.recv() => match out {
                Some(ToPeer::Msg(m)) => ok = send(&mut socket, &m).await,
                // Offers the router dropped when the page offered are stale.
                Some(ToPeer::Offer { gen: g, sdp }) if g == gen => {
                    debug!("room {room}: offer to {name}");
                    ok = send(&mut socket, &ServerMsg::Offer { sdp }).await;
                }
                Some(ToPeer::Offer { .. }) => debug!("room {room}: {name}: stale offer dropped"),
                Some(ToPeer::Close { why, rejoin }) => {
                    let _ = send(&mut socket, &ServerMsg::Closed { message: why, rejoin }).await;
                    break;
                }
                Some(ToPeer::Drop) => {
                    abrupt = true;
                    break;
                }
                None => break,
            },
            _ = crate::stopped(&mut stopping) => {
                let message = "server shutting down".to_owned();
                let _ = send(&mut socket, &ServerMsg::Closed { message, rejoin: true }).await;
                break;
            }
        }
    }
    match abrupt {
        // Dropping the socket closes the TCP connection: the page sees 1006.
        true => drop(socket),
        false => {
            let _ = tokio::time::timeout(SEND_WAIT, socket.send(Message::Close(None))).await;
        }
    }
    let _ = media.call(move |sfu| leave(sfu, tid)).await;
    info!("room {room}: {name} left");
}

async fn refuse(mut socket: WebSocket, message: String) {
    let _ = send(&mut socket, &error(message)).await;
    let _ = tokio::time::timeout(SEND_WAIT, socket.send(Message::Close(None))).await;
}

fn error(message: String) -> ServerMsg {
    ServerMsg::Error { message }
}

/// Send one message; false if the socket is gone or stuck for 5 s.
async fn send(socket: &mut WebSocket, msg: &ServerMsg) -> bool {
    let Ok(text) = serde_json::to_string(msg) else {
        return true;
    };
    let sent = tokio::time::timeout(SEND_WAIT, socket.send(Message::Text(text.into()))).await;
    matches!(sent, Ok(Ok(())))
}

/// A page message: run it on the loop; maybe reply.
async fn handle(
    media: &Media,
    tid: TransportId,
    gen: &mut u64,
    msg: ClientMsg,
) -> Option<ServerMsg> {
    let result = media
        .call(move |sfu| {
            let reply = command(sfu, tid, msg);
            match sfu.sessions.get(&tid) {
                Some(Session::Member(me)) => (Some(me.gen), reply),
                _ => (None, reply),
            }
        })
        .await;
    let Ok((now, reply)) = result else {
        return Some(error("server busy".into()));
    };
    // Whether the page's offer worked or not, offers made before it are stale.
    *gen = now.unwrap_or(*gen);
    match reply {
        Ok(Reply::Answer(sdp)) => Some(ServerMsg::Answer { sdp }),
        Ok(Reply::Nothing) => None,
        Err(message) => Some(error(message)),
    }
}

enum Reply {
    Nothing,
    Answer(String),
}

/// A page message, on the loop.
fn command(sfu: &mut Sfu, tid: TransportId, msg: ClientMsg) -> Result<Reply, String> {
    let Some(Session::Member(me)) = sfu.sessions.get_mut(&tid) else {
        return Err("session closed".into());
    };
    match msg {
        ClientMsg::Offer { sdp } => {
            me.gen += 1;
            let mut t = sfu.router.transport(tid).ok_or("session closed")?;
            let sdp = t
                .accept_offer(Instant::now(), &sdp)
                .map_err(|e| readable(&e))?;
            Ok(Reply::Answer(sdp))
        }
        ClientMsg::Answer { sdp } => {
            let mut t = sfu.router.transport(tid).ok_or("session closed")?;
            t.accept_answer(Instant::now(), &sdp)
                .map_err(|e| readable(&e))?;
            Ok(Reply::Nothing)
        }
        ClientMsg::Screen { mid } => {
            me.screen_mid = mid;
            Ok(Reply::Nothing)
        }
        ClientMsg::Mute { kind, muted } => {
            match kind {
                Kind::Audio => me.audio_muted = muted,
                Kind::Video => me.video_muted = muted,
            }
            let (room, peer) = (me.room.clone(), me.name.clone());
            apply_mute(sfu, tid, kind, muted);
            broadcast(sfu, &room, tid, ServerMsg::Muted { peer, kind, muted });
            if let Some(Session::Member(me)) = sfu.sessions.get(&tid) {
                let peer = me.peer();
                crate::cluster::rooms::member_changed(sfu, &room, peer);
            }
            Ok(Reply::Nothing)
        }
        ClientMsg::Receive { peer, kind, on } => {
            let Some(t) = sfu.router.transport(tid) else {
                return Err("session closed".into());
            };
            for c in t.consumers() {
                let Some((p, k)) = sfu.router.consumer(c).map(|c| (c.producer(), c.kind())) else {
                    continue;
                };
                if Kind::from(k) != kind || owner_name(sfu, p).as_deref() != Some(&peer) {
                    continue;
                }
                // Hiding a participant's camera leaves their screen share.
                if is_screen(sfu, p) {
                    continue;
                }
                if let Some(Session::Member(me)) = sfu.sessions.get_mut(&tid) {
                    me.last_n_paused.remove(&c);
                }
                if let Some(mut c) = sfu.router.consumer(c) {
                    match on {
                        true => c.resume(Instant::now()),
                        false => c.pause(Instant::now()),
                    }
                }
            }
            Ok(Reply::Nothing)
        }
        ClientMsg::Layers { .. } => {
            // parse_client_msg checked the name.
            let Some((peer, want)) = me.prefs.apply(&msg) else {
                return Ok(Reply::Nothing);
            };
            let peer = peer.to_owned();
            let want = (Layers::new(want.spatial, want.temporal), want.priority);
            let consumers = sfu.router.transport(tid).map(|t| t.consumers());
            for c in consumers.unwrap_or_default() {
                let Some((p, k)) = sfu.router.consumer(c).map(|c| (c.producer(), c.kind())) else {
                    continue;
                };
                if k != MediaKind::Video || owner_name(sfu, p).as_deref() != Some(&peer) {
                    continue;
                }
                if let Some(mut c) = sfu.router.consumer(c) {
                    debug!("{tid}: {peer}'s video at {:?}, priority {}", want.0, want.1);
                    c.set_preferred_layers(Instant::now(), want.0);
                }
                // The priority asked for, raised for the active speaker.
                apply_speaker_priority(sfu, tid, c);
            }
            // What the page shows large is always received.
            if let Some(Session::Member(me)) = sfu.sessions.get(&tid) {
                let room = me.room.clone();
                apply_last_n(sfu, &room);
            }
            Ok(Reply::Nothing)
        }
    }
}

/// Consume producer `p` on member `viewer`'s transport, with the layers
/// and priority `viewer` asked for of its owner.
fn consume_for(sfu: &mut Sfu, viewer: TransportId, p: ProducerId) {
    let owner = owner_name(sfu, p);
    let mut options = ConsumerOptions::default();
    if let (Some(Session::Member(m)), Some(owner)) = (sfu.sessions.get(&viewer), owner) {
        if let Some(want) = m.prefs.get(&owner) {
            options = options.with_preferred_layers(Layers::new(want.spatial, want.temporal));
            options.priority = want.priority;
        }
    }
    match sfu.router.consume(Instant::now(), viewer, p, options) {
        Ok(c) => apply_speaker_priority(sfu, viewer, c),
        Err(e) => warn!("cannot consume {p} on {viewer}: {e}"),
    }
}

/// Pause or resume a member's producers of `kind` (its screen share
/// excepted): paused, they cost nobody bandwidth.
fn apply_mute(sfu: &mut Sfu, tid: TransportId, kind: Kind, muted: bool) {
    let producers = sfu.router.transport(tid).map(|t| t.producers());
    let screen = match sfu.sessions.get(&tid) {
        Some(Session::Member(m)) => m.screen,
        _ => None,
    };
    for p in producers.unwrap_or_default() {
        if Some(p) == screen {
            continue;
        }
        if let Some(mut p) = sfu.router.producer(p) {
            if Kind::from(p.kind()) == kind {
                match muted {
                    true => p.pause(Instant::now()),
                    false => p.resume(Instant::now()),
                }
            }
        }
    }
}

/// The name of the member whose transport carries producer `p`.
fn owner_name(sfu: &mut Sfu, p: manifold_sfu::ProducerId) -> Option<String> {
    if let Some((name, _)) = sfu.cluster.rooms.ghost(p) {
        return Some(name.to_owned());
    }
    let owner = sfu.router.producer(p)?.transport();
    match sfu.sessions.get(&owner) {
        Some(Session::Member(m)) => Some(m.name.clone()),
        _ => None,
    }
}

/// Join a room, on the loop: a transport that consumes everyone else.
fn join(
    sfu: &mut Sfu,
    room: String,
    name: String,
    watching: bool,
    tx: mpsc::Sender<ToPeer>,
    requested: Instant,
) -> Result<(TransportId, Vec<Peer>), String> {
    let others = sfu.rooms.rooms.get(&room).cloned().unwrap_or_default();
    // A reloaded page replaces its old session at once.
    for &o in &others {
        if matches!(sfu.sessions.get(&o), Some(Session::Member(m)) if m.name == name) {
            let why = "replaced by a new session with your name";
            drop_member(sfu, o, Some((why, false)));
            sfu.close_transport(o);
        }
    }
    let others = sfu.rooms.rooms.get(&room).cloned().unwrap_or_default();
    if others.len() >= MAX_MEMBERS {
        return Err(format!("room is full ({MAX_MEMBERS} participants)"));
    }
    let tid = sfu.new_transport(requested).map_err(|e| e.to_string())?;
    let mut peers = Vec::new();
    for &o in &others {
        if let Some(Session::Member(m)) = sfu.sessions.get(&o) {
            peers.push(m.peer());
        }
        let producers = sfu.router.transport(o).map(|t| t.producers());
        for p in producers.unwrap_or_default() {
            if let Err(e) = sfu
                .router
                .consume(Instant::now(), tid, p, ConsumerOptions::default())
            {
                warn!("room {room}: {name} cannot consume {p}: {e}");
            }
        }
    }
    // Members on other nodes of a cluster, and their piped producers.
    peers.extend(sfu.cluster.rooms.remote_peers(&room));
    let first_here = others.is_empty();
    for p in sfu.cluster.rooms.ghost_producers(&room) {
        if first_here && sfu.router.producer(p).map(|p| p.kind()) == Some(MediaKind::Audio) {
            observe_microphone(sfu, &room, p);
        }
        if let Err(e) = sfu
            .router
            .consume(Instant::now(), tid, p, ConsumerOptions::default())
        {
            warn!("room {room}: {name} cannot consume {p}: {e}");
        }
    }
    let me = Member {
        room: room.clone(),
        name,
        tx,
        gen: 0,
        audio_muted: false,
        video_muted: false,
        prefs: LayerPrefs::default(),
        last_n_paused: HashSet::new(),
        watching,
        screen_mid: None,
        screen: None,
    };
    let joined = ServerMsg::Join { peer: me.peer() };
    let order = sfu.rooms.recent.entry(room.clone()).or_default();
    order.retain(|n| *n != me.name);
    order.push(me.name.clone());
    sfu.sessions.insert(tid, Session::Member(me));
    sfu.rooms.rooms.entry(room.clone()).or_default().push(tid);
    broadcast(sfu, &room, tid, joined);
    chat::on_join(sfu, tid, &others);
    for (member, dp) in sfu.cluster.chat.voices(&room) {
        chat::forward(sfu, tid, &member, dp);
    }
    // The active speaker's video first; the page learns who it is (after
    // `welcome`, which the session sends before reading its queue).
    let consumers = sfu.router.transport(tid).map(|t| t.consumers());
    for c in consumers.unwrap_or_default() {
        apply_speaker_priority(sfu, tid, c);
    }
    let current = sfu
        .rooms
        .speakers
        .get(&room)
        .and_then(|s| s.current.clone());
    if let Some((peer, _)) = current {
        send_to(sfu, tid, ToPeer::Msg(ServerMsg::ActiveSpeaker { peer }));
    }
    apply_last_n(sfu, &room);
    Ok((tid, peers))
}

/// The page is gone: close its transport.
fn leave(sfu: &mut Sfu, tid: TransportId) {
    if matches!(sfu.sessions.get(&tid), Some(Session::Member(_))) {
        drop_member(sfu, tid, None);
        sfu.close_transport(tid);
    }
}

/// Forget a member, tell the others, and end its socket with `why`
/// (`(message, whether the page should rejoin)`).
fn drop_member(sfu: &mut Sfu, tid: TransportId, why: Option<(&str, bool)>) {
    let Some(Session::Member(m)) = sfu.sessions.remove(&tid) else {
        return;
    };
    if let Some(list) = sfu.rooms.rooms.get_mut(&m.room) {
        list.retain(|x| *x != tid);
        if list.is_empty() {
            sfu.rooms.rooms.remove(&m.room);
            sfu.rooms.recent.remove(&m.room);
            close_speaker(sfu, &m.room);
        }
    }
    if let Some(order) = sfu.rooms.recent.get_mut(&m.room) {
        order.retain(|n| *n != m.name);
    }
    if let Some(s) = sfu.rooms.speakers.get_mut(&m.room) {
        if s.current.as_ref().is_some_and(|(name, _)| *name == m.name) {
            s.current = None;
        }
    }
    if let Some((why, rejoin)) = why {
        info!("room {}: {} dropped: {why}", m.room, m.name);
        let why = why.to_owned();
        let _ = m.tx.try_send(ToPeer::Close { why, rejoin });
    }
    let peer = m.peer();
    broadcast(sfu, &m.room, tid, ServerMsg::Leave { peer: m.name });
    apply_last_n(sfu, &m.room);
    crate::cluster::rooms::member_left(sfu, &m.room, peer);
}

/// Send to every member of `room` but `except`. A member whose queue is
/// full is stuck: it is dropped.
fn broadcast(sfu: &mut Sfu, room: &str, except: TransportId, msg: ServerMsg) {
    let members = sfu.rooms.rooms.get(room).cloned().unwrap_or_default();
    for tid in members.into_iter().filter(|t| *t != except) {
        send_to(sfu, tid, ToPeer::Msg(msg.clone()));
    }
}

fn send_to(sfu: &mut Sfu, tid: TransportId, msg: ToPeer) {
    let Some(Session::Member(m)) = sfu.sessions.get(&tid) else {
        return;
    };
    if m.tx.try_send(msg).is_err() {
        drop_member(sfu, tid, Some(("too slow to read its messages", true)));
        sfu.close_transport(tid);
    }
}
