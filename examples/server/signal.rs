//! The server's signaling input, parsed and checked without any I/O: room
//! WebSocket messages, the WHEP layer request, stream, room and
//! participant names, the bearer token and SDP request bodies.
//!
//! Everything a client sends passes through here before it reaches the
//! router, so this file needs only serde and serde_json: the `signal` fuzz
//! target and `tests/fuzz_corpus.rs` include it by path, and
//! `signal_fuzzing.rs` holds the invariants they check.
//!
//! The HTTP handlers keep what needs axum: status codes, headers, the body
//! limit (`MAX_BODY`, answered with `413` before a handler runs) and the
//! WebSocket message limit ([`MAX_MESSAGE`], which closes the socket). The
//! same caps are checked again here so the parsers hold on their own.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Largest HTTP request body (an SDP offer, a layer request).
pub const MAX_BODY: usize = 64 * 1024;
/// Largest WebSocket message either way (an SDP of a big room fits).
pub const MAX_MESSAGE: usize = 256 * 1024;
/// Participants per room.
pub const MAX_MEMBERS: usize = 16;
/// Room messages a page may send per second, sustained.
pub const MAX_MESSAGES_PER_SECOND: u32 = 50;
/// Room messages a page may send at once before the rate applies.
pub const MAX_MESSAGE_BURST: u32 = 100;
/// Layer preferences remembered per member (names of past participants
/// included, so more than the room holds).
pub const MAX_PREFS: usize = 4 * MAX_MEMBERS;

/// Why a client's input was refused. `Display` is the text the client
/// gets back.
#[derive(Debug)]
pub enum SignalError {
    /// Longer than the cap.
    TooLarge { len: usize, max: usize },
    /// A room message that is not one of [`ClientMsg`].
    BadMessage(serde_json::Error),
    /// A participant name that breaks [`valid_participant`].
    BadParticipant,
    /// A layer request that is not a [`LayerRequest`].
    BadLayerRequest(serde_json::Error),
    /// A layer request with both `encodingId` and `spatialLayerId`.
    EncodingAndSpatial,
    /// A layer request without any layer.
    NoLayer,
    /// An `encodingId` the publisher does not send; `rids` are its rids.
    UnknownEncoding { rid: String, rids: Vec<String> },
    /// An SDP body that is not UTF-8.
    SdpNotUtf8,
    /// A body that does not start like an SDP.
    NotSdp,
}

/// Characters of a JSON parser's message a refusal repeats: the message
/// quotes the input, escaped (a control character becomes six), so an
/// uncapped refusal could be several times larger than what it refuses.
const MAX_PARSER_MESSAGE_CHARS: usize = 200;

/// A parser error's message, cut at [`MAX_PARSER_MESSAGE_CHARS`].
struct Capped<'a>(&'a serde_json::Error);

impl fmt::Display for Capped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        match text.char_indices().nth(MAX_PARSER_MESSAGE_CHARS) {
            Some((cut, _)) => write!(f, "{}…", &text[..cut]),
            None => f.write_str(&text),
        }
    }
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(f, "too large: {len} bytes, at most {max}")
            }
            Self::BadMessage(e) => write!(f, "bad message: {}", Capped(e)),
            Self::BadParticipant => f.write_str("bad participant name"),
            Self::BadLayerRequest(e) => write!(f, "bad layer request: {}", Capped(e)),
            Self::EncodingAndSpatial => f.write_str("give encodingId or spatialLayerId, not both"),
            Self::NoLayer => {
                f.write_str("no layer given: encodingId, spatialLayerId or temporalLayerId")
            }
            Self::UnknownEncoding { rid, rids } if rids.is_empty() => {
                write!(f, "unknown encodingId {rid}: the stream has no simulcast")
            }
            Self::UnknownEncoding { rid, rids } => {
                write!(
                    f,
                    "unknown encodingId {rid}: the stream has {}",
                    rids.join(", ")
                )
            }
            Self::SdpNotUtf8 => f.write_str("the SDP is not UTF-8"),
            Self::NotSdp => f.write_str("the body is not an SDP offer"),
        }
    }
}

impl std::error::Error for SignalError {}

/// Refuse `data` if it is longer than `max`.
fn capped(data: &[u8], max: usize) -> Result<(), SignalError> {
    match data.len() > max {
        true => Err(SignalError::TooLarge {
            len: data.len(),
            max,
        }),
        false => Ok(()),
    }
}

/// Stream and room names: 1 to 64 of `A-Z a-z 0-9 - _ .`.
pub fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Participant names: 1 to 32 letters, digits, spaces or `-_.`, not
/// starting or ending with a space.
pub fn valid_participant(s: &str) -> bool {
    let n = s.chars().count();
    (1..=32).contains(&n)
        && s.trim() == s
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || "-_.".contains(c))
}

/// Compare secrets in time that depends only on their lengths (`subtle`).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// Whether a `Content-Type` value names `mime` (parameters ignored).
pub fn mime_is(content_type: &str, mime: &str) -> bool {
    let given = content_type.split(';').next().unwrap_or("").trim();
    given.eq_ignore_ascii_case(mime)
}

/// The SDP of a WHIP/WHEP `POST` body: UTF-8 that starts with `v=0`.
pub fn sdp_body(body: &[u8]) -> Result<&str, SignalError> {
    capped(body, MAX_BODY)?;
    let sdp = std::str::from_utf8(body).map_err(|_| SignalError::SdpNotUtf8)?;
    match sdp.trim_start().starts_with("v=0") {
        true => Ok(sdp),
        false => Err(SignalError::NotSdp),
    }
}

/// Audio or video, as the page names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Audio,
    Video,
}

/// From the page: a JSON object with a `type`. Read with
/// [`parse_client_msg`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClientMsg {
    /// An offer of the page (its first one publishes camera and microphone).
    Offer { sdp: String },
    /// The answer to our latest `offer`.
    Answer { sdp: String },
    /// Pause (`muted: true`) or resume the page's own producer of a kind.
    Mute { kind: Kind, muted: bool },
    /// Sent before an offer: the `a=mid` of the page's screen share in it
    /// (`null`: none). The producer on that m-line is the member's screen.
    /// `mid` is only compared with the producers' mids (one is kept per
    /// member, within the message size cap).
    Screen { mid: Option<String> },
    /// Stop (`on: false`) or restart receiving one participant's track.
    /// `peer` is only compared with the names of the room's members (it
    /// is not kept), so any string is accepted.
    Receive { peer: String, kind: Kind, on: bool },
    /// The layers wanted of `peer`'s video: `spatial` is the simulcast
    /// encoding (0 lowest) or SVC spatial layer, `temporal` the temporal
    /// layer; both are clamped to what the stream has (255: the highest).
    /// `priority` (default 1) is its bandwidth priority: e.g. 2 for the
    /// pinned tile. `peer` is kept (see [`LayerPrefs`]), so it must be a
    /// [`valid_participant`] name.
    Layers {
        peer: String,
        spatial: u8,
        temporal: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<u8>,
    },
}

/// A room message: at most [`MAX_MESSAGE`] bytes of JSON, one of
/// [`ClientMsg`], names checked.
pub fn parse_client_msg(data: &[u8]) -> Result<ClientMsg, SignalError> {
    capped(data, MAX_MESSAGE)?;
    let msg: ClientMsg = serde_json::from_slice(data).map_err(SignalError::BadMessage)?;
    match &msg {
        ClientMsg::Layers { peer, .. } if !valid_participant(peer) => {
            Err(SignalError::BadParticipant)
        }
        _ => Ok(msg),
    }
}

/// One `RTCIceServer` handed to a client: TURN URLs and short-lived
/// credentials (minted by `turn.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

/// To the page.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMsg {
    /// Joined; these participants were already there.
    Welcome {
        you: String,
        peers: Vec<Peer>,
        /// TURN servers with fresh credentials (`RTCIceServer`s), when the
        /// server has `--turn-url`; left out otherwise.
        #[serde(rename = "iceServers", skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
    },
    /// Someone joined.
    Join { peer: Peer },
    /// Someone left: drop their tile.
    Leave { peer: String },
    /// A server offer: answer it.
    Offer { sdp: String },
    /// The answer to the page's offer.
    Answer { sdp: String },
    /// The m-line `mid` carries `peer`'s `kind` track.
    Track {
        mid: String,
        peer: String,
        kind: Kind,
        /// The track is `peer`'s screen share (left out when not).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        screen: bool,
    },
    /// `peer` started (`on`) or stopped sharing a screen.
    Screen { peer: String, on: bool },
    /// A participant paused or resumed a producer.
    Muted {
        peer: String,
        kind: Kind,
        muted: bool,
    },
    /// The quality score (0 to 10, the library's consumer score) of
    /// `peer`'s `kind` track as this page receives it changed.
    Quality { peer: String, kind: Kind, score: u8 },
    /// `peer` is the room's active speaker now (the library's active
    /// speaker observer over the members' microphones): put them on the
    /// stage.
    #[serde(rename = "activeSpeaker")]
    ActiveSpeaker { peer: String },
    /// Something the page sent was refused.
    Error { message: String },
    /// The server ended this session (the socket closes next). `rejoin`:
    /// whether the page should come back (false when a newer session with
    /// the same name replaced it: rejoining would evict that one).
    Closed { message: String, rejoin: bool },
}

/// A participant as others see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Peer {
    pub name: String,
    pub audio_muted: bool,
    pub video_muted: bool,
    /// Joined watch-only (publishes nothing).
    pub watching: bool,
    /// Shares a screen now.
    pub sharing: bool,
}

/// One WebSocket frame from the page, as a session sees it.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    Text(&'a str),
    Binary,
    /// Ping or pong (the socket answers pings itself).
    Control,
    /// A close frame, or the end of the stream.
    Close,
}

/// What a session does with a [`Frame`].
#[derive(Debug)]
pub enum Step {
    /// Run the message on the router's loop.
    Run(ClientMsg),
    /// Send this back.
    Reply(ServerMsg),
    Ignore,
    /// The page is gone: end the session.
    End,
}

/// The session's answer to one frame.
pub fn on_frame(frame: Frame<'_>) -> Step {
    let refuse = |message: String| Step::Reply(ServerMsg::Error { message });
    match frame {
        Frame::Text(text) => match parse_client_msg(text.as_bytes()) {
            Ok(msg) => Step::Run(msg),
            Err(e) => refuse(e.to_string()),
        },
        Frame::Binary => refuse("binary messages are not understood".into()),
        Frame::Control => Step::Ignore,
        Frame::Close => Step::End,
    }
}

/// One connection's message budget: a token bucket of
/// [`MAX_MESSAGE_BURST`] refilled at [`MAX_MESSAGES_PER_SECOND`]. A message
/// past it is dropped; only the first of a run is answered (with
/// [`RATE_REFUSAL`]) so a flood is not echoed back.
#[derive(Debug)]
pub struct MessageBudget {
    tokens: f64,
    at: Option<Instant>,
    refusing: bool,
}

/// The error text for messages past the budget.
pub const RATE_REFUSAL: &str = "too many messages: at most 50 per second";

impl Default for MessageBudget {
    fn default() -> Self {
        MessageBudget {
            tokens: f64::from(MAX_MESSAGE_BURST),
            at: None,
            refusing: false,
        }
    }
}

impl MessageBudget {
    /// Spend one message at `now`: `None` if it may run, otherwise what to
    /// do with it.
    pub fn take(&mut self, now: Instant) -> Option<Step> {
        let elapsed = self
            .at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        self.at = Some(now);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * f64::from(MAX_MESSAGES_PER_SECOND))
            .min(f64::from(MAX_MESSAGE_BURST));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.refusing = false;
            return None;
        }
        if std::mem::replace(&mut self.refusing, true) {
            return Some(Step::Ignore);
        }
        Some(Step::Reply(ServerMsg::Error {
            message: RATE_REFUSAL.into(),
        }))
    }
}

/// The layers and bandwidth priority a member wants of someone's video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    pub spatial: u8,
    pub temporal: u8,
    pub priority: u8,
}

/// What a member asked for of each participant's video, kept for the
/// consumers made later. At most [`MAX_PREFS`] names: a new name past that
/// starts the map over (the page sends its wishes again as tiles change).
#[derive(Debug, Default)]
pub struct LayerPrefs {
    by_peer: HashMap<String, Want>,
}

impl LayerPrefs {
    /// Remember what a `layers` message asks for; `None` for any other.
    pub fn apply<'m>(&mut self, msg: &'m ClientMsg) -> Option<(&'m str, Want)> {
        let ClientMsg::Layers {
            peer,
            spatial,
            temporal,
            priority,
        } = msg
        else {
            return None;
        };
        let want = Want {
            spatial: *spatial,
            temporal: *temporal,
            priority: priority.unwrap_or(1),
        };
        if self.by_peer.len() >= MAX_PREFS && !self.by_peer.contains_key(peer) {
            self.by_peer.clear();
        }
        self.by_peer.insert(peer.clone(), want);
        Some((peer, want))
    }

    pub fn get(&self, peer: &str) -> Option<Want> {
        self.by_peer.get(peer).copied()
    }

    // The fuzz checks read these; the server does not.
    #[allow(dead_code)]
    pub fn len(&self) -> usize {
        self.by_peer.len()
    }

    #[allow(dead_code)]
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_peer.keys().map(String::as_str)
    }
}

/// The body of a WHEP layer `POST`; read with [`parse_layer_request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LayerRequest {
    /// Only the video track on this `a=mid`; all of them without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// A simulcast rid of the publisher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spatial_layer_id: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporal_layer_id: Option<u8>,
}

/// A layer request: at most [`MAX_BODY`] bytes of JSON naming at least one
/// layer, and not both an encoding and a spatial layer.
pub fn parse_layer_request(data: &[u8]) -> Result<LayerRequest, SignalError> {
    capped(data, MAX_BODY)?;
    let req: LayerRequest = serde_json::from_slice(data).map_err(SignalError::BadLayerRequest)?;
    if req.encoding_id.is_some() && req.spatial_layer_id.is_some() {
        return Err(SignalError::EncodingAndSpatial);
    }
    if req.encoding_id.is_none()
        && req.spatial_layer_id.is_none()
        && req.temporal_layer_id.is_none()
    {
        return Err(SignalError::NoLayer);
    }
    Ok(req)
}

impl LayerRequest {
    /// The `(spatial, temporal)` layers for a track whose publisher sends
    /// the simulcast `rids` (lowest first) and whose viewer now prefers
    /// `old`: a layer left out stays as it was; an `encodingId` becomes
    /// the index of that rid.
    pub fn layers(&self, rids: &[String], old: (u8, u8)) -> Result<(u8, u8), SignalError> {
        let spatial = match (&self.encoding_id, self.spatial_layer_id) {
            (Some(rid), _) => rids
                .iter()
                .position(|r| r == rid)
                .and_then(|i| u8::try_from(i).ok())
                .ok_or_else(|| SignalError::UnknownEncoding {
                    rid: rid.clone(),
                    rids: rids.to_vec(),
                })?,
            (None, Some(s)) => s,
            (None, None) => old.0,
        };
        Ok((spatial, self.temporal_layer_id.unwrap_or(old.1)))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn message_budget_holds_at_its_edge() {
        let t0 = Instant::now();
        let mut b = MessageBudget::default();
        for _ in 0..MAX_MESSAGE_BURST {
            assert!(b.take(t0).is_none());
        }
        // One past the burst: refused with the error, then silently.
        assert!(
            matches!(b.take(t0), Some(Step::Reply(ServerMsg::Error { message })) if message == RATE_REFUSAL)
        );
        assert!(matches!(b.take(t0), Some(Step::Ignore)));
        // One message's worth of time later, exactly one more.
        let t1 = t0 + Duration::from_secs(1) / MAX_MESSAGES_PER_SECOND;
        assert!(b.take(t1).is_none());
        assert!(b.take(t1).is_some());
        // A full second refills the sustained rate, never past the burst.
        let t2 = t1 + Duration::from_secs(10);
        let ok = (0..2 * MAX_MESSAGE_BURST)
            .filter(|_| b.take(t2).is_none())
            .count();
        assert_eq!(ok, MAX_MESSAGE_BURST as usize);
    }
    use super::*;

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"secret", b"secret"));
        assert!(!ct_eq(b"secret", b"secreT"));
        assert!(!ct_eq(b"secret", b"secret2"));
        assert!(!ct_eq(b"secret", b""));
    }

    #[test]
    fn quality_message_is_what_the_page_reads() {
        let msg = ServerMsg::Quality {
            peer: "bob".into(),
            kind: Kind::Video,
            score: 6,
        };
        assert_eq!(
            serde_json::to_string(&msg).unwrap(),
            r#"{"type":"quality","peer":"bob","kind":"video","score":6}"#
        );
    }

    #[test]
    fn active_speaker_message_is_what_the_page_reads() {
        let msg = ServerMsg::ActiveSpeaker { peer: "bob".into() };
        assert_eq!(
            serde_json::to_string(&msg).unwrap(),
            r#"{"type":"activeSpeaker","peer":"bob"}"#
        );
    }

    #[test]
    fn error_texts() {
        let msg = |s: &str| parse_client_msg(s.as_bytes()).map_err(|e| e.to_string());
        assert!(msg("not json").unwrap_err().starts_with("bad message: "));
        let bad_peer = r#"{"type":"layers","peer":" x","spatial":0,"temporal":0}"#;
        assert_eq!(msg(bad_peer).unwrap_err(), "bad participant name");
        let layer = |s: &str| parse_layer_request(s.as_bytes()).map_err(|e| e.to_string());
        assert!(layer(r#"{"encodingId":"#)
            .unwrap_err()
            .starts_with("bad layer request: "));
        let both = r#"{"encodingId":"q","spatialLayerId":0}"#;
        assert_eq!(
            layer(both).unwrap_err(),
            "give encodingId or spatialLayerId, not both"
        );
        let rids = ["q", "h"].map(String::from);
        let req = parse_layer_request(br#"{"encodingId":"x"}"#).unwrap();
        assert_eq!(
            req.layers(&rids, (0, 0)).unwrap_err().to_string(),
            "unknown encodingId x: the stream has q, h"
        );
        let req = parse_layer_request(br#"{"encodingId":"h","temporalLayerId":1}"#).unwrap();
        assert_eq!(req.layers(&rids, (0, 2)).unwrap(), (1, 1));
    }

    /// Messages padded with spaces up to the caps are still accepted.
    #[test]
    fn caps_are_exact() {
        let mut msg = br#"{"type":"mute","kind":"audio","muted":true}"#.to_vec();
        msg.resize(MAX_MESSAGE, b' ');
        assert!(parse_client_msg(&msg).is_ok());
        msg.push(b' ');
        assert!(matches!(
            parse_client_msg(&msg),
            Err(SignalError::TooLarge { .. })
        ));
        let mut req = br#"{"temporalLayerId":0}"#.to_vec();
        req.resize(MAX_BODY, b' ');
        assert!(parse_layer_request(&req).is_ok());
        let mut sdp = b"v=0\r\n".to_vec();
        sdp.resize(MAX_BODY, b' ');
        assert!(sdp_body(&sdp).is_ok());
        sdp.push(b' ');
        assert!(matches!(sdp_body(&sdp), Err(SignalError::TooLarge { .. })));
    }
}
