//! `GET /watch/{stream}`: a page that plays a stream over WHEP, for people
//! rather than programs. `?token=` (optional) is sent as the WHEP bearer
//! token. In cluster mode the page learns the other nodes from
//! `/cluster/nodes` and, when its node fails, views the stream at another
//! one (see `page/watch.html`).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::signal::valid_name;
use crate::App;

const WATCH_HTML: &str = include_str!("page/watch.html");

/// The HTTP routes of this module.
pub fn routes() -> axum::Router<App> {
    axum::Router::new().route("/watch/{stream}", get(watch_page))
}

async fn watch_page(Path(stream): Path<String>) -> Response {
    match valid_name(&stream) {
        true => Html(WATCH_HTML).into_response(),
        false => (StatusCode::BAD_REQUEST, "bad stream name\n").into_response(),
    }
}
