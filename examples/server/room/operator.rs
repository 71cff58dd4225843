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
/// null) and the router's object counts (the room's worker: other rooms
/// and WHIP/WHEP sessions placed there count too).
pub(super) async fn members(
    State(app): State<App>,
    Path(room): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operator(&app, &headers, &room, None)?;
    let media = app.workers.of(&room).clone();
    let body = media
        .call(move |sfu| {
            let list = sfu.rooms.rooms.get(&room).cloned().unwrap_or_default();
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
            serde_json::json!({
                "room": room,
                "members": members,
                "router": {
                    "transports": c.transports,
                    "producers": c.producers,
                    "consumers": c.consumers,
                },
            })
        })
        .await?;
    Ok(axum::Json(body).into_response())
}

/// Run `act` on the transport of member `name` of `room` (operator only);
/// `404` when there is no such member.
async fn act_on_member(
    app: &App,
    headers: &HeaderMap,
    room: &str,
    name: &str,
    act: fn(&mut Sfu, TransportId),
) -> Result<TransportId, ApiError> {
    operator(app, headers, room, Some(name))?;
    let media = app.workers.of(room).clone();
    let (r, n) = (room.to_owned(), name.to_owned());
    let found = media
        .call(move |sfu| {
            let tid = member(sfu, &r, &n)?;
            act(sfu, tid);
            Some(tid)
        })
        .await?;
    found.ok_or_else(|| err(StatusCode::NOT_FOUND, "no such member"))
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
