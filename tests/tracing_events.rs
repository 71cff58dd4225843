//! What the router logs through `tracing`: a failure keeps its reason (at
//! warn, inside the transport's span), refusals say which limit, and state
//! changes are debug events.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use manifold_sfu::{
    CloseReason, Event, Input, ListenInfo, Output, Router, RouterConfig, RouterError,
    WebRtcTransportOptions,
};

/// Run `f` with a subscriber recording `level` and above; returns its output.
fn capture(level: tracing::Level, f: impl FnOnce()) -> String {
    manifold_testkit::logs::capture(&level.to_string().to_lowercase(), f).1
}

fn options() -> WebRtcTransportOptions {
    let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    WebRtcTransportOptions::new([ListenInfo::new(addr)])
}

fn drain(router: &mut Router) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        match router.poll_output() {
            Output::Event(e) => events.push(e),
            Output::Timeout(_) => return events,
            _ => {}
        }
    }
}

#[test]
fn a_failed_transport_logs_its_reason_in_its_span() {
    let mut config = RouterConfig::default();
    config.seed = Some(1);
    let now = Instant::now();
    let mut router = Router::new(config, now);
    let mut events = Vec::new();
    let log = capture(tracing::Level::DEBUG, || {
        let t = router.create_webrtc_transport(now, options()).unwrap();
        drain(&mut router);
        manifold_sfu::testkit_hooks::inject_panic(&mut router, t);
        // A command that calls into the transport's WebRTC stack at once
        // (an idle one may have no timer of its own before its liveness
        // deadline).
        let later = now + Duration::from_secs(1);
        let _ = router.transport(t).unwrap().restart_ice(later);
        router.handle_input(Input::Timeout(later));
        events = drain(&mut router);
    });
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::TransportClosed {
                reason: CloseReason::Failed,
                ..
            }
        )),
        "{events:?}"
    );
    let warn = log
        .lines()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("no warning in\n{log}"));
    assert!(warn.contains("transport{id=t1}"), "{warn}");
    assert!(warn.contains("transport failed"), "{warn}");
    assert!(
        warn.contains("reason=panic: injected transport panic"),
        "{warn}"
    );
    // State changes are debug events: created, then closed with its reason.
    let debug: Vec<&str> = log.lines().filter(|l| l.contains("DEBUG")).collect();
    assert!(
        debug.iter().any(|l| l.contains("transport created")),
        "{log}"
    );
    assert!(
        debug
            .iter()
            .any(|l| l.contains("TransportClosed") && l.contains("Failed")),
        "{log}"
    );
}

#[test]
fn a_refusal_says_which_limit_at_warn_and_info_stays_quiet() {
    let mut config = RouterConfig::default();
    config.seed = Some(2);
    config.limits.max_transports = 1;
    let now = Instant::now();
    let mut router = Router::new(config, now);
    let mut second = None;
    let log = capture(tracing::Level::INFO, || {
        router.create_webrtc_transport(now, options()).unwrap();
        second = Some(router.create_webrtc_transport(now, options()));
        drain(&mut router);
    });
    assert!(matches!(
        second,
        Some(Err(RouterError::Limit {
            what: "max_transports",
            max: 1
        }))
    ));
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "only the refusal is above debug:\n{log}");
    assert!(lines[0].contains("WARN"), "{log}");
    assert!(
        lines[0].contains("transport refused: max_transports reached"),
        "{log}"
    );
    assert!(lines[0].contains("max=1"), "{log}");
}
