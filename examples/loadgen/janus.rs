//! Janus's HTTP API and VideoRoom plugin, so that the same peers, media and
//! measures can run against Janus on the same machine (`--janus`;
//! `examples/loadgen/janus.sh`, docs/benchmarks.md "Against Janus").
//!
//! Each peer has its own Janus session and plugin handle, as a browser
//! would. A publisher joins room `1000 + stream` with its offer and gets
//! Janus's answer; a viewer joins as a subscriber to that room's publisher,
//! gets Janus's offer, answers it and starts. Janus's asynchronous replies
//! come by long-polling the session (`GET /janus/{session}`).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::signal;

/// How long one HTTP exchange may take (a long poll included).
const HTTP_TIMEOUT: Duration = Duration::from_secs(35);
/// Longest wait for Janus's asynchronous reply to one request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// Janus's "room already exists" error code.
const ROOM_EXISTS: u64 = 427;

pub struct Janus {
    agent: ureq::Agent,
    /// `http://host:port/janus`, no trailing slash.
    base: String,
    /// The publisher (feed) id of each stream, by stream index.
    feeds: Vec<Option<u64>>,
    transaction: std::cell::Cell<u64>,
}

/// A viewer's handle between Janus's offer and the answer.
pub struct Pending {
    session: u64,
    handle: u64,
}

impl Janus {
    pub fn new(base: &str) -> Result<Self, String> {
        Ok(Janus {
            agent: signal::agent(HTTP_TIMEOUT),
            base: signal::base_url(base, "http://HOST:PORT/janus")?,
            feeds: Vec::new(),
            transaction: Default::default(),
        })
    }

    /// Publish stream `stream` with `offer`: Janus's answer and the session's
    /// URL (to destroy at the end).
    pub fn publish(&mut self, stream: usize, offer: &str) -> Result<(String, String), String> {
        let (session, handle) = self.session_and_handle()?;
        let room = room(stream);
        let created = self.message(
            session,
            handle,
            json!({
                "request": "create", "room": room, "publishers": 16, "bitrate": 0,
                "fir_freq": 0, "audiocodec": "opus", "videocodec": "vp8",
            }),
            None,
        )?;
        let data = &created["plugindata"]["data"];
        if data["videoroom"] != "created" && data["error_code"].as_u64() != Some(ROOM_EXISTS) {
            return Err(format!("Janus: creating room {room}: {data}"));
        }
        let jsep = json!({ "type": "offer", "sdp": offer });
        let body = json!({
            "request": "joinandconfigure", "room": room, "ptype": "publisher",
            "display": format!("pub-{stream}"), "audio": true, "video": true,
        });
        let (data, sdp) = self.request_for_sdp(session, handle, body, Some(jsep))?;
        let feed = data["id"]
            .as_u64()
            .ok_or_else(|| format!("Janus: no publisher id in {data}"))?;
        if self.feeds.len() <= stream {
            self.feeds.resize(stream + 1, None);
        }
        self.feeds[stream] = Some(feed);
        self.trickle_done(session, handle)?;
        Ok((sdp, self.session_url(session)))
    }

    /// Join stream `stream` as a viewer: Janus's offer.
    pub fn view(&mut self, stream: usize) -> Result<(String, Pending), String> {
        let feed = self
            .feeds
            .get(stream)
            .copied()
            .flatten()
            .ok_or_else(|| format!("Janus: stream {stream} is not published"))?;
        let (session, handle) = self.session_and_handle()?;
        let body = json!({
            "request": "join", "room": room(stream), "ptype": "subscriber",
            "streams": [{ "feed": feed }],
        });
        let (_, sdp) = self.request_for_sdp(session, handle, body, None)?;
        Ok((sdp, Pending { session, handle }))
    }

    /// Answer Janus's offer and start the viewer; the session's URL.
    pub fn start(&self, pending: Pending, answer: &str) -> Result<String, String> {
        let Pending { session, handle } = pending;
        let jsep = json!({ "type": "answer", "sdp": answer });
        let ack = self.message(session, handle, json!({ "request": "start" }), Some(jsep))?;
        if ack["janus"] != "ack" && ack["janus"] != "success" {
            return Err(format!("Janus: start: {ack}"));
        }
        self.trickle_done(session, handle)?;
        Ok(self.session_url(session))
    }

    /// Destroy a session (best effort).
    pub fn destroy(&self, session_url: &str) {
        let body = json!({ "janus": "destroy", "transaction": self.next_transaction() });
        let _ = self.post(session_url, &body);
    }

    fn session_and_handle(&self) -> Result<(u64, u64), String> {
        let created = self.post(
            &self.base,
            &json!({ "janus": "create", "transaction": self.next_transaction() }),
        )?;
        let session = id(&created, "session")?;
        let attached = self.post(
            &self.session_url(session),
            &json!({
                "janus": "attach", "plugin": "janus.plugin.videoroom",
                "transaction": self.next_transaction(),
            }),
        )?;
        Ok((session, id(&attached, "handle")?))
    }

    /// Send a plugin request and wait for its event carrying an SDP: the
    /// event's plugin data and the SDP.
    fn request_for_sdp(
        &self,
        session: u64,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> Result<(Value, String), String> {
        let request = body["request"].as_str().unwrap_or("?").to_string();
        let ack = self.message(session, handle, body, jsep)?;
        if ack["janus"] != "ack" {
            return Err(format!("Janus: {request}: {ack}"));
        }
        let transaction = ack["transaction"].clone();
        let deadline = Instant::now() + REPLY_TIMEOUT;
        while Instant::now() < deadline {
            let url = format!("{}?maxev=8", self.session_url(session));
            let mut resp = self
                .agent
                .get(&url)
                .call()
                .map_err(|e| format!("GET {url}: {e}"))?;
            let events = json_body(&mut resp).map_err(|e| format!("GET {url}: {e}"))?;
            let events = match events {
                Value::Array(v) => v,
                one => vec![one],
            };
            for e in events {
                if e["janus"] != "event" || e["transaction"] != transaction {
                    continue;
                }
                let data = e["plugindata"]["data"].clone();
                if data.get("error").is_some() {
                    return Err(format!("Janus: {request}: {data}"));
                }
                if let Some(sdp) = e["jsep"]["sdp"].as_str() {
                    return Ok((data, sdp.to_string()));
                }
            }
        }
        Err(format!("Janus: {request}: no SDP within {REPLY_TIMEOUT:?}"))
    }

    /// Our candidates are all in our SDP.
    fn trickle_done(&self, session: u64, handle: u64) -> Result<(), String> {
        let body = json!({
            "janus": "trickle", "candidate": { "completed": true },
            "transaction": self.next_transaction(),
        });
        self.post(&format!("{}/{handle}", self.session_url(session)), &body)
            .map(drop)
    }

    fn message(
        &self,
        session: u64,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> Result<Value, String> {
        let mut msg = json!({
            "janus": "message", "transaction": self.next_transaction(), "body": body,
        });
        if let Some(jsep) = jsep {
            msg["jsep"] = jsep;
        }
        self.post(&format!("{}/{handle}", self.session_url(session)), &msg)
    }

    fn post(&self, url: &str, body: &Value) -> Result<Value, String> {
        let mut resp = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = resp.status().as_u16();
        let reply = json_body(&mut resp).map_err(|e| format!("POST {url}: {status}: {e}"))?;
        match reply["janus"].as_str() {
            Some("error") => Err(format!("POST {url}: {}", reply["error"])),
            _ => Ok(reply),
        }
    }

    fn session_url(&self, session: u64) -> String {
        format!("{}/{session}", self.base)
    }

    fn next_transaction(&self) -> String {
        let t = self.transaction.get() + 1;
        self.transaction.set(t);
        format!("t{t}")
    }
}

/// A reply's body as JSON.
fn json_body(resp: &mut ureq::http::Response<ureq::Body>) -> Result<Value, String> {
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// The VideoRoom room of a stream.
fn room(stream: usize) -> u64 {
    1000 + stream as u64
}

fn id(reply: &Value, what: &str) -> Result<u64, String> {
    reply["data"]["id"]
        .as_u64()
        .ok_or_else(|| format!("Janus: no {what} id in {reply}"))
}
