//! WHIP (RFC 9725) publishing and WHEP viewing.
//!
//! * `POST /whip/{stream}` with an SDP offer: `201 Created`, the answer and
//!   `Location: /whip/{stream}/{session}`. One publisher per stream.
//! * `POST /whep/{stream}`: a viewer of every track of the stream's
//!   publisher. Any number of viewers.
//! * `DELETE` on a Location ends that session; when a publisher goes, its
//!   viewers' transports are closed too (their tracks end), on every worker.
//! * The publisher lives on the stream's owner worker; each viewer on the
//!   least-loaded worker, fed through a pipe if that is another one
//!   ([`crate::spread`]). A session id ends with its worker's index.
//! * `OPTIONS` answers CORS preflights (see [`crate::cors`]); `PATCH`
//!   (trickle ICE) is 405.
//! * A viewer's 201 links the layer extension (`{Location}/layer`, see
//!   [`crate::layer`]): the viewer picks its simulcast encoding or layers.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use manifold_sfu::{ConsumerOptions, Event, ProducerId, RouterError, SignalingError, TransportId};
use tracing::{debug, info, warn};

use crate::cors;
use crate::media::{Session, Sfu};
use crate::signal::{mime_is, sdp_body, valid_name, SignalError};
use crate::App;

/// The HTTP routes of this module.
pub fn routes() -> axum::Router<App> {
    use axum::http::Method;
    let endpoint = |m| cors::resource(m, &[Method::POST], true);
    let session = || {
        // PATCH (trickle ICE) is refused: not an allowed method.
        let m = axum::routing::delete(end_session).patch(no_trickle);
        cors::resource(m, &[Method::DELETE], false)
    };
    axum::Router::new()
        .route("/whip/{stream}", endpoint(post(publish)))
        .route("/whep/{stream}", endpoint(post(view)))
        .route("/whip/{stream}/{session}", session())
        .route("/whep/{stream}/{session}", session())
        .merge(crate::layer::routes())
}

/// WHIP/WHEP state inside the router's loop.
#[derive(Default)]
pub struct Streams {
    /// Stream name → its publisher's transport.
    by_name: HashMap<String, Stream>,
    /// Session id (the last part of a Location) → transport.
    by_session: HashMap<String, TransportId>,
}

struct Stream {
    publisher: TransportId,
    viewers: Vec<TransportId>,
}

/// A WHIP publisher's session.
pub struct Publisher {
    stream: String,
    id: String,
}

/// A WHEP viewer's session.
pub struct Viewer {
    stream: String,
    id: String,
}

/// An error answer: status and a readable message.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, format!("{}\n", self.1)).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl ApiError {
    /// The answer's status.
    pub fn status(&self) -> StatusCode {
        self.0
    }

    /// The answer's message.
    pub fn message(&self) -> String {
        format!("{} {}", self.0.as_u16(), self.1)
    }
}

pub fn err(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError(status, msg.into())
}

impl From<crate::media::Busy> for ApiError {
    fn from(_: crate::media::Busy) -> Self {
        err(StatusCode::SERVICE_UNAVAILABLE, "server busy, try again")
    }
}

impl From<RouterError> for ApiError {
    fn from(e: RouterError) -> Self {
        let status = match &e {
            RouterError::Signaling(SignalingError::SdpTooLarge { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            RouterError::Signaling(_) => StatusCode::BAD_REQUEST,
            RouterError::Limit { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        err(status, readable(&e))
    }
}

impl From<SignalError> for ApiError {
    fn from(e: SignalError) -> Self {
        let status = match e {
            SignalError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        err(status, e.to_string())
    }
}

/// An error as one line, without the SDP parser's pointer offsets.
pub fn readable(e: &dyn std::fmt::Display) -> String {
    let mut text = e.to_string();
    while let Some(at) = text.find(" at PointerOffset(") {
        let end = text[at..].find(')').map_or(text.len(), |i| at + i + 1);
        text.replace_range(at..end, "");
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("; ")
}

/// Check the bearer token, the content type and the body of an SDP POST.
fn check_request(app: &App, headers: &HeaderMap, body: &Bytes) -> Result<String, ApiError> {
    authorize(app, headers)?;
    if !mime_is(content_type(headers), "application/sdp") {
        return Err(err(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/sdp",
        ));
    }
    Ok(sdp_body(body)?.to_owned())
}

/// A request's `Content-Type`, or "" without a readable one.
pub fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match app.token_ok(given) {
        true => Ok(()),
        false => Err(err(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token",
        )),
    }
}

fn created(
    kind: &str,
    stream: &str,
    session: &str,
    answer: String,
    ice: &[crate::turn::IceServer],
) -> Response {
    let location = format!("/{kind}/{stream}/{session}");
    let mut r = (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_owned()),
            (header::LOCATION, location.clone()),
        ],
        answer,
    )
        .into_response();
    if kind == "whep" {
        let link = format!("<{location}/layer>; rel=\"{}\"", crate::layer::REL);
        if let Ok(v) = HeaderValue::from_str(&link) {
            r.headers_mut().insert(header::LINK, v);
        }
    }
    // TURN servers with fresh credentials (RFC 9725 section 4.6).
    for link in ice.iter().flat_map(|s| s.links()) {
        if let Ok(v) = HeaderValue::from_str(&link) {
            r.headers_mut().append(header::LINK, v);
        }
    }
    r
}

async fn publish(
    State(app): State<App>,
    Path(stream): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    open(app, stream, &headers, &body, "whip", Start::Publisher).await
}

/// What a POST starts.
enum Start {
    /// A WHIP publisher, on the stream's owner worker.
    Publisher,
    /// A WHEP viewer, on the least-loaded worker ([`crate::spread`]).
    Viewer,
}

/// A WHIP or WHEP POST: check it, start the session on its worker and
/// answer 201 with the session's resource.
async fn open(
    app: App,
    stream: String,
    headers: &HeaderMap,
    body: &Bytes,
    kind: &'static str,
    start: Start,
) -> Result<Response, ApiError> {
    let requested = Instant::now();
    if !valid_name(&stream) {
        return Err(err(StatusCode::BAD_REQUEST, "bad stream name"));
    }
    let offer = check_request(&app, headers, body)?;
    let name = stream.clone();
    let (session, answer) = match start {
        Start::Publisher => {
            crate::cluster::streams::check_publisher(&app, &stream).await?;
            let started = app
                .workers
                .of(&stream)
                .call(move |sfu| start_publisher(sfu, name, &offer, requested))
                .await??;
            crate::cluster::streams::published(&app, &stream);
            started
        }
        Start::Viewer => match crate::cluster::streams::view(&app, &name, &offer, requested).await?
        {
            Some(started) => started,
            None => crate::spread::view(&app, name, offer, requested).await?,
        },
    };
    let role = if kind == "whip" {
        "publisher"
    } else {
        "viewer"
    };
    info!("stream {stream}: {role} {session}");
    Ok(created(kind, &stream, &session, answer, &app.ice_servers()))
}

fn start_publisher(
    sfu: &mut Sfu,
    stream: String,
    offer: &str,
    requested: Instant,
) -> Result<(String, String), ApiError> {
    if sfu.streams.by_name.contains_key(&stream) {
        return Err(err(
            StatusCode::CONFLICT,
            "the stream already has a publisher",
        ));
    }
    let tid = sfu.new_transport(requested)?;
    let answer = answer_offer(sfu, tid, offer)?;
    let tracks = sfu.router.transport(tid).map(|t| t.producers().len());
    if tracks.unwrap_or(0) == 0 {
        sfu.close_transport(tid);
        return Err(err(StatusCode::BAD_REQUEST, "the offer sends no media"));
    }
    let id = crate::media::session_id(sfu.wires.index);
    sfu.streams.by_session.insert(id.clone(), tid);
    sfu.streams.by_name.insert(
        stream.clone(),
        Stream {
            publisher: tid,
            viewers: Vec::new(),
        },
    );
    let session = Publisher {
        stream,
        id: id.clone(),
    };
    sfu.sessions.insert(tid, Session::Publisher(session));
    Ok((id, answer))
}

/// Answer on a fresh transport, closing it if the offer is refused.
fn answer_offer(sfu: &mut Sfu, tid: TransportId, offer: &str) -> Result<String, ApiError> {
    let result = match sfu.router.transport(tid) {
        Some(mut t) => t.accept_offer(Instant::now(), offer),
        None => Err(RouterError::UnknownTransport(tid)),
    };
    result.map_err(|e| {
        sfu.close_transport(tid);
        ApiError::from(e)
    })
}

async fn view(
    State(app): State<App>,
    Path(stream): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    open(app, stream, &headers, &body, "whep", Start::Viewer).await
}

/// A viewer on the stream's owner worker.
pub fn start_viewer(
    sfu: &mut Sfu,
    stream: String,
    offer: &str,
    requested: Instant,
) -> Result<(String, String), ApiError> {
    let Some(producers) = publisher_producers(sfu, &stream) else {
        return Err(err(StatusCode::NOT_FOUND, "nobody publishes this stream"));
    };
    let (tid, id, answer) = new_viewer(sfu, stream.clone(), offer, requested, &producers)?;
    if let Some(s) = sfu.streams.by_name.get_mut(&stream) {
        s.viewers.push(tid);
    }
    Ok((id, answer))
}

/// The streams whose publisher is on this worker.
pub fn published(sfu: &Sfu) -> Vec<String> {
    sfu.streams.by_name.keys().cloned().collect()
}

/// The producers of the publisher of `stream`, if it is on this worker.
pub fn publisher_producers(sfu: &mut Sfu, stream: &str) -> Option<Vec<ProducerId>> {
    let publisher = sfu.streams.by_name.get(stream)?.publisher;
    Some(sfu.router.transport(publisher)?.producers())
}

/// A viewer session consuming `producers` (the publisher's, or their
/// piped copies): (transport, session id, SDP answer).
pub fn new_viewer(
    sfu: &mut Sfu,
    stream: String,
    offer: &str,
    requested: Instant,
    producers: &[ProducerId],
) -> Result<(TransportId, String, String), ApiError> {
    let tid = sfu.new_transport(requested)?;
    let answer = answer_offer(sfu, tid, offer)?;
    consume(sfu, tid, producers);
    let id = crate::media::session_id(sfu.wires.index);
    sfu.streams.by_session.insert(id.clone(), tid);
    let session = Viewer {
        stream,
        id: id.clone(),
    };
    sfu.sessions.insert(tid, Session::Viewer(session));
    Ok((tid, id, answer))
}

async fn end_session(
    State(app): State<App>,
    Path((stream, session)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let ended = app
        .workers
        .of_session(&stream, &session)
        .call(move |sfu| end(sfu, &stream, &session))
        .await?;
    match ended {
        true => Ok((StatusCode::OK, "session ended\n").into_response()),
        false => Err(err(StatusCode::NOT_FOUND, "no such session")),
    }
}

/// End a session by id; false if there is none by that id and stream.
fn end(sfu: &mut Sfu, stream: &str, id: &str) -> bool {
    let Some(&tid) = sfu.streams.by_session.get(id) else {
        return false;
    };
    let stream_matches = match sfu.sessions.get(&tid) {
        Some(Session::Publisher(p)) => p.stream == stream,
        Some(Session::Viewer(v)) => v.stream == stream,
        _ => false,
    };
    if !stream_matches {
        return false;
    }
    forget(sfu, tid);
    sfu.close_transport(tid);
    true
}

/// The transport of WHEP viewer session `id` of `stream`, if there is one.
pub fn viewer_transport(sfu: &Sfu, stream: &str, id: &str) -> Option<TransportId> {
    let tid = *sfu.streams.by_session.get(id)?;
    match sfu.sessions.get(&tid) {
        Some(Session::Viewer(v)) if v.stream == stream => Some(tid),
        _ => None,
    }
}

/// Drop a session's state; a publisher's viewers are closed too (on other
/// workers through its pipes' close).
pub fn forget(sfu: &mut Sfu, tid: TransportId) {
    match sfu.sessions.remove(&tid) {
        Some(Session::Publisher(p)) => {
            sfu.streams.by_session.remove(&p.id);
            let viewers = match sfu.streams.by_name.remove(&p.stream) {
                Some(s) => s.viewers,
                None => Vec::new(),
            };
            info!(
                "stream {}: publisher left, closing {} viewer(s)",
                p.stream,
                viewers.len()
            );
            for v in viewers {
                forget(sfu, v);
                sfu.close_transport(v);
            }
            crate::spread::publisher_left(sfu, &p.stream);
        }
        Some(Session::Viewer(v)) => {
            sfu.streams.by_session.remove(&v.id);
            if let Some(s) = sfu.streams.by_name.get_mut(&v.stream) {
                s.viewers.retain(|x| *x != tid);
            }
            crate::spread::viewer_left(sfu, &v.stream, tid);
            crate::cluster::streams::viewer_left(sfu, &v.stream, tid);
        }
        Some(other) => {
            sfu.sessions.insert(tid, other);
        }
        None => {}
    }
}

/// Consume `producers` on `viewer`: consumers bind to the receive-only
/// m-lines of its offer. A track it has no m-line for stays unsent (WHEP
/// has no renegotiation).
pub fn consume(sfu: &mut Sfu, viewer: TransportId, producers: &[ProducerId]) {
    for &p in producers {
        if let Err(e) = sfu
            .router
            .consume(Instant::now(), viewer, p, ConsumerOptions::default())
        {
            warn!("viewer {viewer} cannot consume {p}: {e}");
        }
    }
}

/// The stream a WHIP/WHEP transport belongs to.
fn stream_of(sfu: &Sfu, tid: TransportId) -> Option<&Stream> {
    let name = match sfu.sessions.get(&tid)? {
        Session::Publisher(p) => &p.stream,
        Session::Viewer(v) => &v.stream,
        Session::Member(_) => return None,
    };
    sfu.streams.by_name.get(name)
}

/// Events for WHIP/WHEP transports.
pub fn on_event(sfu: &mut Sfu, tid: TransportId, e: Event) {
    let is_viewer = matches!(sfu.sessions.get(&tid), Some(Session::Viewer(_)));
    match e {
        Event::TransportClosed { .. } => forget(sfu, tid),
        // A publisher's track added later goes to every viewer too.
        Event::ProducerAdded { producer, .. } if !is_viewer => {
            let viewers = stream_of(sfu, tid).map(|s| s.viewers.clone());
            for v in viewers.unwrap_or_default() {
                consume(sfu, v, &[producer]);
            }
            if let Some(Session::Publisher(p)) = sfu.sessions.get(&tid) {
                let stream = p.stream.clone();
                crate::spread::producer_added(sfu, &stream, producer);
            }
        }
        // WHEP has no way to take a new offer: tracks the viewer did not
        // offer to receive stay unsent.
        Event::RenegotiationNeeded { .. } => debug!("no renegotiation on WHIP/WHEP {tid}"),
        _ => {}
    }
}

async fn no_trickle() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "DELETE, OPTIONS")],
        "trickle ICE and ICE restarts are not supported\n",
    )
        .into_response()
}
