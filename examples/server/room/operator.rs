//! The room's operator endpoints (bearer token, like WHIP/WHEP): list a
//! room's members, close a member's media session, drop its socket.

use super::*;

/// The transport of `room`'s member called `name`, if there is one.
fn member(sfu: &Sfu, room: &str, name: &str) -> Option<TransportId> {
    let list = sfu.rooms.rooms.get(room)?;
    list.iter()
        .copied()
        .find(|t| matches!(sfu.sessions.get(t), Some(Session::Member(m)) if m.name == name))
}

/// Check the token and the names of an operator request.
fn operator(
    app: &App,
    headers: &HeaderMap,
    room: &str,
    name: Option<&str>,
) -> Result<(), ApiError> {
    authorize(app, headers)?;
    match valid_name(room) && name.is_none_or(valid_participant) {
        true => Ok(()),
        false => Err(err(StatusCode::BAD_REQUEST, "bad room or participant name")),
    }
}

/// `GET /room/{room}/members`: who is in the room, with their transports,
/// whether they watch only, their screen share producer (`screen`, or
/// null) and the routers' object counts (summed over every worker: other
/// rooms and WHIP/WHEP sessions count too).
pub(super) async fn members(
    State(app): State<App>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operator(&app, &headers, &room, None)?;
    // A room's members may be on every worker (`--workers N`).
    let mut all = Vec::new();
    let mut counts = [0usize; 3];
    for media in app.workers.all() {
        let r = room.clone();
        let (members, c) = media.call(move |sfu| worker_members(sfu, &r)).await?;
        all.extend(members);
        for (sum, n) in counts.iter_mut().zip(c) {
            *sum += n;
        }
    }
    let body = serde_json::json!({
        "room": room,
        "members": all,
        "router": {
            "transports": counts[0],
            "producers": counts[1],
            "consumers": counts[2],
        },
    });
    Ok(axum::Json(body).into_response())
}

/// One worker's members of `room`, and its router's transports,
/// producers and consumers.
fn worker_members(sfu: &mut Sfu, room: &str) -> (Vec<serde_json::Value>, [usize; 3]) {
    let list = sfu.rooms.rooms.get(room).cloned().unwrap_or_default();
    let members: Vec<_> = list
        .iter()
        .filter_map(|&tid| {
            let Some(Session::Member(m)) = sfu.sessions.get(&tid) else {
                return None;
            };
            let name = m.name.clone();
            let (audio_muted, video_muted) = (m.audio_muted, m.video_muted);
            let (watching, screen) = (m.watching, m.screen.map(|p| p.to_string()));
            let t = sfu.router.transport(tid)?;
            Some(serde_json::json!({
                "name": name,
                "transport": tid.to_string(),
                "connected": t.is_connected(),
                "producers": t.producers().len(),
                "consumers": t.consumers().len(),
                "audio_muted": audio_muted,
                "video_muted": video_muted,
                "watching": watching,
                "screen": screen,
            }))
        })
        .collect();
    let c = sfu.router.counts();
    (members, [c.transports, c.producers, c.consumers])
}

async fn act_on_member(
    app: &App,
    headers: &HeaderMap,
    room: &str,
    name: &str,
    act: fn(&mut Sfu, TransportId),
) -> Result<TransportId, ApiError> {
    operator(app, headers, room, Some(name))?;
    for media in app.workers.all() {
        let (r, n) = (room.to_owned(), name.to_owned());
        let found = media
            .call(move |sfu| {
                let tid = member(sfu, &r, &n)?;
                act(sfu, tid);
                Some(tid)
            })
            .await?;
        if let Some(tid) = found {
            return Ok(tid);
        }
    }
    Err(err(StatusCode::NOT_FOUND, "no such member"))
}

/// `DELETE /room/{room}/members/{member}/media`: close the member's
/// transport. Its producers and consumers close with it, the others see it
/// leave, and its socket gets `closed` (rejoin) before it closes.
pub(super) async fn close_media(
    State(app): State<App>,
    Path((room, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tid = act_on_member(&app, &headers, &room, &name, |sfu, tid| {
        sfu.close_transport(tid)
    })
    .await?;
    info!("room {room}: {name}'s media session ({tid}) closed by the operator");
    Ok((StatusCode::OK, "media session closed\n").into_response())
}

/// `DELETE /room/{room}/members/{member}/socket`: drop the member's
/// WebSocket without a close frame. The server then cleans up as for any
/// lost socket (the member leaves, its transport closes).
pub(super) async fn drop_socket(
    State(app): State<App>,
    Path((room, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    act_on_member(&app, &headers, &room, &name, |sfu, tid| {
        send_to(sfu, tid, ToPeer::Drop)
    })
    .await?;
    info!("room {room}: {name}'s socket dropped by the operator");
    Ok((StatusCode::OK, "socket dropped\n").into_response())
}
