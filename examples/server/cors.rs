//! Cross-origin use of the WHIP/WHEP endpoints: tower-http's `CorsLayer`,
//! and the answer to `OPTIONS` that WHIP (RFC 9725) clients rely on.
//!
//! `CorsLayer` answers every `OPTIONS` itself (a CORS preflight or not,
//! `200` with its preflight headers) and never reaches the route's handler.
//! A WHIP client's plain `OPTIONS` expects `204` with `Allow` and, on the
//! endpoints, `Accept-Post: application/sdp`: the layer around it adds them
//! to that answer. Everything CORS is the crate's.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn, Next};
use axum::routing::MethodRouter;
use tower_http::cors::{Any, CorsLayer};

use crate::App;

/// `methods` open to pages on any origin, answering `OPTIONS` with `Allow`
/// (the methods of `methods`, and `OPTIONS`) and, for a WHIP or WHEP
/// endpoint, `Accept-Post: application/sdp`.
pub fn resource(methods: MethodRouter<App>, allow: &[Method], sdp: bool) -> MethodRouter<App> {
    let mut allow = allow.to_vec();
    allow.push(Method::OPTIONS);
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods(allow.clone())
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::LOCATION, header::LINK])
        .max_age(Duration::from_secs(86400));
    let names: Vec<&str> = allow.iter().map(Method::as_str).collect();
    let allow = HeaderValue::from_str(&names.join(", ")).expect("method names");
    let options = move |req: Request, next: Next| {
        let allow = allow.clone();
        async move {
            let is_options = req.method() == Method::OPTIONS;
            let mut r = next.run(req).await;
            if is_options {
                *r.status_mut() = StatusCode::NO_CONTENT;
                let h = r.headers_mut();
                h.insert(header::ALLOW, allow);
                if sdp {
                    h.insert(
                        HeaderName::from_static("accept-post"),
                        HeaderValue::from_static("application/sdp"),
                    );
                }
            }
            r
        }
    };
    methods.layer(cors).layer(from_fn(options))
}
