//! Invariants of `signal.rs` under arbitrary input, checked by the `signal`
//! fuzz target and replayed by `tests/fuzz_corpus.rs`. Both include this
//! file and `signal.rs` by path as two modules side by side (`crate::signal`);
//! the server itself does not build this file.
//!
//! Panicking is this module's job: every `assert!`, `expect` and `panic!`
//! here states an invariant whose failure the fuzzer must report.
//!
//! [`check_signal`] reads the whole input every way a client can send it:
//!
//! * as a room WebSocket message: refused above [`MAX_MESSAGE`] bytes (the
//!   same message padded with spaces past the cap is refused); accepted
//!   exactly when serde accepts it and its names are valid;
//!   an accepted one serialises and parses back to an equal value; the
//!   error sent back for a refused one serialises and echoes at most a
//!   bounded multiple of the input;
//! * as a WHEP layer request: the same size, refusal and round-trip rules
//!   with [`MAX_BODY`]; an accepted request names one layer or more, never
//!   both an encoding and a spatial layer, and maps to valid layers only:
//!   an `encodingId` to the index of that rid of the publisher (refused if
//!   the publisher has no such rid or the index does not fit a `u8`), a
//!   layer given to itself, a layer left out to the one before;
//! * as a room or stream name and as a participant name: an accepted name
//!   is within its length, has no control, markup, path or quoting
//!   character, and no space other than inner `' '`;
//! * split at its first byte into a token and a guess: [`ct_eq`] agrees
//!   with `==`;
//! * as a WHIP/WHEP body: accepted exactly when it is UTF-8 starting with
//!   `v=0` (after white space) and within [`MAX_BODY`];
//! * split at `0xFF` bytes (never in UTF-8) into WebSocket frames, driven
//!   through one session: an empty piece is a ping, `0xFE` a close, UTF-8 a
//!   text frame, anything else a binary frame. Each frame gets the answer
//!   its kind calls for, the session ends at the close, and the layer
//!   preferences it keeps stay within [`MAX_PREFS`] valid names.

use crate::signal::{
    ct_eq, mime_is, on_frame, parse_client_msg, parse_layer_request, sdp_body, valid_name,
    valid_participant, ClientMsg, Frame, LayerPrefs, LayerRequest, ServerMsg, SignalError, Step,
    MAX_BODY, MAX_MESSAGE, MAX_PREFS,
};

/// Every check of the module doc on one input.
pub fn check_signal(data: &[u8]) {
    check_client_msg(data);
    check_layer_request(data);
    if let Ok(text) = std::str::from_utf8(data) {
        check_names(text);
    }
    check_token(data);
    check_sdp_body(data);
    check_session(data);
}

fn check_client_msg(data: &[u8]) {
    let raw = serde_json::from_slice::<ClientMsg>(data);
    match (parse_client_msg(data), raw) {
        (Ok(msg), Ok(raw)) => {
            assert_eq!(msg, raw, "parsing changed the message");
            if let ClientMsg::Layers { peer, .. } = &msg {
                assert!(valid_participant(peer), "layers for {peer:?} accepted");
            }
            let json = serde_json::to_vec(&msg).expect("a message serialises");
            let again = parse_client_msg(&json).expect("a re-serialised message parses");
            assert_eq!(again, msg, "the round trip changed the message");
            assert_cap(data, MAX_MESSAGE, parse_client_msg);
        }
        (Err(SignalError::TooLarge { len, max }), _) => {
            assert!(len == data.len() && max == MAX_MESSAGE && len > max);
        }
        (Err(SignalError::BadParticipant), Ok(ClientMsg::Layers { peer, .. })) => {
            assert!(!valid_participant(&peer), "{peer:?} refused");
        }
        (Err(SignalError::BadMessage(e)), Err(_)) => {
            refusal_fits(&SignalError::BadMessage(e), data.len());
        }
        (result, raw) => panic!("parse_client_msg gave {result:?}, serde {raw:?}"),
    }
}

/// `data`, still valid JSON when padded with spaces, is refused as too
/// large past `max` bytes. (That it is accepted padded up to `max` is a
/// unit test in `signal.rs`: parsing up to 256 KiB in every run would
/// slow the fuzzer down.)
fn assert_cap<T: std::fmt::Debug>(
    data: &[u8],
    max: usize,
    parse: fn(&[u8]) -> Result<T, SignalError>,
) {
    let mut padded = data.to_vec();
    padded.resize(max.max(data.len()) + 1, b' ');
    let result = parse(&padded);
    assert!(
        matches!(result, Err(SignalError::TooLarge { len, max: m }) if len == padded.len() && m == max),
        "{} bytes past a cap of {max}: {result:?}",
        padded.len()
    );
}

/// The error message a refusal sends back serialises, and repeats at most
/// twice the input's length (plus the fixed text).
fn refusal_fits(e: &SignalError, input_len: usize) {
    let reply = ServerMsg::Error {
        message: e.to_string(),
    };
    let json = serde_json::to_string(&reply).expect("an error reply serialises");
    assert!(
        json.len() <= 2 * input_len + 1024,
        "a {input_len}-byte input got a {}-byte refusal",
        json.len()
    );
}

fn check_layer_request(data: &[u8]) {
    let raw = serde_json::from_slice::<LayerRequest>(data);
    let result = parse_layer_request(data);
    let req = match (result, raw) {
        (Ok(req), Ok(raw)) => {
            assert_eq!(req, raw, "parsing changed the request");
            req
        }
        (Err(SignalError::TooLarge { len, max }), _) => {
            return assert!(len == data.len() && max == MAX_BODY && len > max);
        }
        (Err(SignalError::BadLayerRequest(e)), Err(_)) => {
            return refusal_fits(&SignalError::BadLayerRequest(e), data.len());
        }
        (Err(SignalError::EncodingAndSpatial), Ok(r)) => {
            return assert!(r.encoding_id.is_some() && r.spatial_layer_id.is_some());
        }
        (Err(SignalError::NoLayer), Ok(r)) => {
            let none = r.encoding_id.is_none() && r.spatial_layer_id.is_none();
            return assert!(none && r.temporal_layer_id.is_none());
        }
        (result, raw) => panic!("parse_layer_request gave {result:?}, serde {raw:?}"),
    };
    assert!(req.encoding_id.is_none() || req.spatial_layer_id.is_none());
    assert!(
        req.encoding_id.is_some()
            || req.spatial_layer_id.is_some()
            || req.temporal_layer_id.is_some()
    );
    let json = serde_json::to_vec(&req).expect("a request serialises");
    let again = parse_layer_request(&json).expect("a re-serialised request parses");
    assert_eq!(again, req, "the round trip changed the request");
    assert_cap(data, MAX_BODY, parse_layer_request);

    let old = (
        data.first().copied().unwrap_or(0),
        data.last().copied().unwrap_or(0),
    );
    let chromium = ["q", "h", "f"].map(String::from).to_vec();
    let wanted = req.encoding_id.clone().unwrap_or_default();
    // The wanted rid second, after a rid that differs from it.
    let other = if wanted == "x" { "y" } else { "x" };
    let own = vec![other.to_owned(), wanted.clone()];
    // The rid at an index no layer id can hold.
    let mut many: Vec<String> = (0..300).map(|i| format!("r{i}")).collect();
    many[280].clone_from(&wanted);
    for rids in [&[][..], &chromium, &own, &many] {
        check_layers(&req, rids, old);
    }
    if req.encoding_id.is_some() {
        assert_eq!(req.layers(&own, old).ok().map(|l| l.0), Some(1));
    }
}

/// What `req` maps to for a publisher with `rids` and a viewer at `old`.
fn check_layers(req: &LayerRequest, rids: &[String], old: (u8, u8)) {
    let first = |rid: &String| rids.iter().position(|r| r == rid);
    match req.layers(rids, old) {
        Ok((spatial, temporal)) => {
            assert_eq!(temporal, req.temporal_layer_id.unwrap_or(old.1));
            match (&req.encoding_id, req.spatial_layer_id) {
                (Some(rid), _) => assert_eq!(first(rid), Some(usize::from(spatial))),
                (None, Some(s)) => assert_eq!(spatial, s),
                (None, None) => assert_eq!(spatial, old.0),
            }
        }
        Err(SignalError::UnknownEncoding { rid, rids: listed }) => {
            assert_eq!(req.encoding_id.as_ref(), Some(&rid));
            assert!(first(&rid).is_none_or(|i| i > usize::from(u8::MAX)));
            assert_eq!(listed, rids, "the error lists the stream's rids");
        }
        Err(e) => panic!("layers of {req:?} over {} rids: {e:?}", rids.len()),
    }
}

fn check_names(text: &str) {
    if valid_name(text) {
        assert!(
            (1..=64).contains(&text.len()),
            "name of {} bytes",
            text.len()
        );
        assert!(text.bytes().all(|b| b.is_ascii_graphic()));
        assert!(safe_chars(text), "name {text:?}");
    }
    if valid_participant(text) {
        assert!((1..=32).contains(&text.chars().count()));
        assert!(text.len() <= 32 * 4);
        assert!(!text.starts_with(' ') && !text.ends_with(' '));
        assert!(safe_chars(text), "participant {text:?}");
        assert!(text.chars().all(|c| c == ' ' || !c.is_whitespace()));
    }
    // Content types: parameters and case do not matter, anything else does.
    if mime_is(text, "application/sdp") {
        let mime = text.split(';').next().unwrap_or("").trim();
        assert!(mime.eq_ignore_ascii_case("application/sdp"));
    }
}

/// No control, markup, path, escape or quoting character.
fn safe_chars(s: &str) -> bool {
    s.chars()
        .all(|c| !c.is_control() && !"<>&\"'`/\\%?#=;:".contains(c))
}

fn check_token(data: &[u8]) {
    let Some((&at, rest)) = data.split_first() else {
        return;
    };
    let (token, guess) = rest.split_at(usize::from(at).min(rest.len()));
    assert_eq!(ct_eq(token, guess), token == guess);
    assert!(ct_eq(token, token) && ct_eq(guess, guess));
}

fn check_sdp_body(data: &[u8]) {
    let utf8 = std::str::from_utf8(data);
    match sdp_body(data) {
        Ok(sdp) => {
            assert_eq!(sdp.as_bytes(), data);
            assert!(sdp.trim_start().starts_with("v=0") && data.len() <= MAX_BODY);
        }
        Err(SignalError::TooLarge { len, max }) => assert!(len == data.len() && len > max),
        Err(SignalError::SdpNotUtf8) => assert!(utf8.is_err()),
        Err(SignalError::NotSdp) => {
            assert!(utf8.is_ok_and(|s| !s.trim_start().starts_with("v=0")));
        }
        Err(e) => panic!("sdp_body: {e:?}"),
    }
}

fn check_session(data: &[u8]) {
    let mut prefs = LayerPrefs::default();
    for piece in data.split(|&b| b == 0xFF) {
        let frame = match piece {
            [] => Frame::Control,
            [0xFE] => Frame::Close,
            _ => std::str::from_utf8(piece).map_or(Frame::Binary, Frame::Text),
        };
        match (frame, on_frame(frame)) {
            (Frame::Close, Step::End) => return,
            (Frame::Control, Step::Ignore) => {}
            (Frame::Binary, Step::Reply(ServerMsg::Error { .. })) => {}
            (Frame::Text(text), Step::Run(msg)) => {
                let parsed = parse_client_msg(text.as_bytes()).ok();
                assert_eq!(parsed.as_ref(), Some(&msg), "ran another message");
                if let Some((peer, want)) = prefs.apply(&msg) {
                    assert_eq!(prefs.get(peer), Some(want), "{peer:?} not remembered");
                }
                assert!(prefs.len() <= MAX_PREFS, "{} preferences kept", prefs.len());
                assert!(prefs.names().all(valid_participant));
            }
            (Frame::Text(text), Step::Reply(ServerMsg::Error { message })) => {
                let e = parse_client_msg(text.as_bytes()).expect_err("refused a valid message");
                assert_eq!(message, e.to_string());
            }
            (frame, step) => panic!("{frame:?} answered with {step:?}"),
        }
    }
}
