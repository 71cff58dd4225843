//! Operator endpoints: `GET /metrics` (Prometheus' text format, version
//! 0.0.4) and `GET /healthz`. Neither asks for the bearer token: they say
//! how much, never who or what.
//!
//! The metric names are a contract with dashboards and alerts; change them
//! only with a CHANGELOG entry:
//!
//! | name | type | what |
//! | --- | --- | --- |
//! | `manifold_transports` | gauge | open transports, every worker |
//! | `manifold_producers` | gauge | open producers |
//! | `manifold_consumers` | gauge | open consumers |
//! | `manifold_forwarded_packets_total` | counter | RTP packets written to consumers |
//! | `manifold_forwarded_bytes_total` | counter | their payload bytes |
//! | `manifold_dropped_datagrams_total{reason}` | counter | datagrams dropped, by reason |
//! | `manifold_tcp_connections` | gauge | open ICE-over-TCP connections (the routers' table) |
//! | `manifold_tcp_connections_dropped_total{reason}` | counter | ICE-over-TCP connections dropped by the server: `refused` (a connection limit), `frame_too_large`, `idle`, `slow_reader` |
//! | `manifold_join_seconds` | histogram | signaling request to media connected |
//! | `manifold_data_channels` | gauge | open data producers and data consumers (data channels through the SFU) |
//! | `manifold_data_messages_in_total` | counter | data channel messages received from clients and forwarded |
//! | `manifold_data_messages_out_total` | counter | data channel messages handed to data consumers |
//! | `manifold_data_messages_dropped_total` | counter | data channel messages dropped (size, rate, slow consumer) |
//! | `manifold_pipes` | gauge | open pipe ends between workers (two per pipe) |
//! | `manifold_pipe_messages_total` | counter | pipe messages handed from one worker to another |
//! | `manifold_pipe_dropped_total` | counter | piped RTP messages dropped: the target worker's inbox was full |
//! | `manifold_pipe_delayed_total` | counter | piped control messages that waited for room (never dropped) |
//!
//! Gauges and counters are read from each worker's router
//! ([`manifold_sfu::Router::counts`], [`manifold_sfu::Router::stats`]) and
//! its socket's counters at scrape time, through the worker's job queue like
//! every other command. The join histogram is observed by the workers
//! ([`Metrics::joined`]) when a transport connects: the clock starts when the
//! WHIP or WHEP POST or the room's WebSocket upgrade arrives.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use manifold_sfu::{RouterCounts, RouterStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::media::Sfu;
use crate::tcp::TcpStats;
use crate::udp::IoStats;
use crate::wires::WireStats;
use crate::App;

/// How long `/healthz` waits for each worker's loop to answer.
const HEALTH_WAIT: Duration = Duration::from_secs(2);

/// Upper bounds of `manifold_join_seconds`' buckets: 50 ms to about 13 s.
const JOIN_BUCKETS: [f64; 9] = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8];

/// Metrics the workers update as things happen (the rest is read at scrape
/// time). Cheap to clone: clones share the same values.
#[derive(Clone)]
pub struct Metrics {
    join: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            join: Histogram::new(JOIN_BUCKETS),
        }
    }
}

impl Metrics {
    /// A transport whose signaling request arrived at `requested` connected.
    pub fn joined(&self, requested: Instant) {
        self.join.observe(requested.elapsed().as_secs_f64());
    }
}

/// The HTTP routes of this module.
pub fn routes() -> axum::Router<App> {
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
}

/// 200 once every worker's loop ran a job; 503 if one did not in time.
async fn healthz(State(app): State<App>) -> Response {
    for (i, media) in app.workers.all().iter().enumerate() {
        let answered = tokio::time::timeout(HEALTH_WAIT, media.call(|_| ())).await;
        if !matches!(answered, Ok(Ok(()))) {
            let msg = format!("worker {i} does not answer\n");
            return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
        }
    }
    (StatusCode::OK, "ok\n").into_response()
}

async fn metrics(State(app): State<App>) -> Response {
    let mut sum = Snapshot::default();
    for media in app.workers.all() {
        match media.call(Snapshot::of).await {
            Ok(one) => sum.add(&one),
            Err(_) => {
                let msg = "a worker does not answer\n";
                return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
            }
        }
    }
    let mut registry = Registry::default();
    registry.register(
        "manifold_join_seconds",
        "Time from the signaling request (WHIP or WHEP POST, room join) to media connected",
        app.metrics.join.clone(),
    );
    registry.register_collector(Box::new(sum));
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry) {
        let msg = format!("cannot encode metrics: {e}\n");
        return (StatusCode::INTERNAL_SERVER_ERROR, msg).into_response();
    }
    let content_type = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// What one or all workers hold and did, at one scrape.
#[derive(Debug, Default, Clone)]
struct Snapshot {
    counts: RouterCounts,
    stats: RouterStats,
    udp: IoStats,
    tcp: TcpStats,
    wires: WireStats,
}

impl Snapshot {
    /// One worker's figures, taken on its loop.
    fn of(sfu: &mut Sfu) -> Snapshot {
        Snapshot {
            counts: sfu.router.counts(),
            stats: sfu.router.stats(),
            udp: sfu.udp,
            tcp: sfu.tcp.unwrap_or_default(),
            wires: sfu.wires.stats,
        }
    }

    fn add(&mut self, o: &Snapshot) {
        let (c, oc) = (&mut self.counts, &o.counts);
        c.transports += oc.transports;
        c.producers += oc.producers;
        c.consumers += oc.consumers;
        c.tcp_connections += oc.tcp_connections;
        c.data_producers += oc.data_producers;
        c.data_consumers += oc.data_consumers;
        c.pipes += oc.pipes;
        self.wires.carried += o.wires.carried;
        self.wires.dropped += o.wires.dropped;
        self.wires.delayed += o.wires.delayed;
        self.stats.data_messages_in += o.stats.data_messages_in;
        self.stats.data_messages_out += o.stats.data_messages_out;
        self.stats.data_messages_dropped += o.stats.data_messages_dropped;
        self.stats.rtp_out += o.stats.rtp_out;
        self.stats.rtp_bytes_out += o.stats.rtp_bytes_out;
        for (sum, one) in self.drops().iter_mut().zip(o.drops_values()) {
            **sum += one;
        }
        self.stats.tcp_refused += o.stats.tcp_refused;
        self.stats.tcp_frames_too_large += o.stats.tcp_frames_too_large;
        self.stats.tcp_idle_closed += o.stats.tcp_idle_closed;
        self.tcp.slow_readers += o.tcp.slow_readers;
    }

    /// The TCP drop counters, by the `reason` label of
    /// `manifold_tcp_connections_dropped_total`.
    fn tcp_drops(&self) -> [(&'static str, u64); 4] {
        [
            ("refused", self.stats.tcp_refused),
            ("frame_too_large", self.stats.tcp_frames_too_large),
            ("idle", self.stats.tcp_idle_closed),
            ("slow_reader", self.tcp.slow_readers),
        ]
    }

    /// The drop counters, in [`DROP_REASONS`]' order.
    fn drops(&mut self) -> [&mut u64; 10] {
        let (s, u) = (&mut self.stats, &mut self.udp);
        [
            &mut s.dropped_malformed,
            &mut s.dropped_unknown_ufrag,
            &mut s.dropped_unknown_source,
            &mut s.dropped_rate_limited,
            &mut s.dropped_rejected,
            &mut s.transport_errors,
            &mut s.dropped_output,
            &mut u.unreadable,
            &mut u.send_errors,
            &mut u.queue_drops,
        ]
    }

    fn drops_values(&self) -> [u64; 10] {
        self.clone().drops().map(|v| *v)
    }
}

/// The `reason` label of `manifold_dropped_datagrams_total`, one per drop
/// counter (see [`RouterStats`] and [`IoStats`] for what each means).
const DROP_REASONS: [&str; 10] = [
    "malformed",
    "unknown_ufrag",
    "unknown_source",
    "rate_limited",
    "rejected",
    "transport_error",
    "output_queue_full",
    "unreadable",
    "send_refused",
    "send_queue_full",
];

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauges = [
            (
                "manifold_transports",
                "Open transports",
                self.counts.transports,
            ),
            (
                "manifold_producers",
                "Open producers",
                self.counts.producers,
            ),
            (
                "manifold_consumers",
                "Open consumers",
                self.counts.consumers,
            ),
            (
                "manifold_tcp_connections",
                "Open ICE-over-TCP connections",
                self.counts.tcp_connections,
            ),
            (
                "manifold_data_channels",
                "Open data producers and data consumers",
                self.counts.data_producers + self.counts.data_consumers,
            ),
            (
                "manifold_pipes",
                "Open pipe ends between workers",
                self.counts.pipes,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value as i64);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let counters = [
            (
                "manifold_forwarded_packets",
                "RTP packets written to consumers",
                self.stats.rtp_out,
            ),
            (
                "manifold_forwarded_bytes",
                "Payload bytes of the RTP packets written to consumers",
                self.stats.rtp_bytes_out,
            ),
            (
                "manifold_data_messages_in",
                "Data channel messages received from clients and forwarded",
                self.stats.data_messages_in,
            ),
            (
                "manifold_data_messages_out",
                "Data channel messages handed to data consumers",
                self.stats.data_messages_out,
            ),
            (
                "manifold_data_messages_dropped",
                "Data channel messages dropped (size, rate, slow consumer)",
                self.stats.data_messages_dropped,
            ),
            (
                "manifold_pipe_messages",
                "Pipe messages handed from one worker to another",
                self.wires.carried,
            ),
            (
                "manifold_pipe_dropped",
                "Piped RTP messages dropped: the target worker's inbox was full",
                self.wires.dropped,
            ),
            (
                "manifold_pipe_delayed",
                "Piped control messages that waited for room in the target's inbox",
                self.wires.delayed,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let mut family = encoder.encode_descriptor(
            "manifold_dropped_datagrams",
            "Datagrams dropped, by reason",
            None,
            MetricType::Counter,
        )?;
        for (reason, value) in DROP_REASONS.iter().zip(self.drops_values()) {
            let labels = [("reason", *reason)];
            ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "manifold_tcp_connections_dropped",
            "ICE-over-TCP connections dropped by the server, by reason",
            None,
            MetricType::Counter,
        )?;
        for (reason, value) in self.tcp_drops() {
            let labels = [("reason", reason)];
            ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_the_contract() {
        let mut one = Snapshot::default();
        one.counts.transports = 2;
        one.stats.rtp_out = 7;
        one.stats.rtp_bytes_out = 700;
        one.stats.dropped_malformed = 1;
        one.udp.queue_drops = 3;
        one.counts.tcp_connections = 5;
        one.stats.tcp_frames_too_large = 1;
        one.tcp.slow_readers = 2;
        one.stats.data_messages_in = 3;
        one.counts.data_consumers = 1;
        let mut sum = Snapshot::default();
        sum.add(&one);
        sum.add(&one);
        let mut registry = Registry::default();
        let metrics = Metrics::default();
        metrics.joined(Instant::now());
        registry.register("manifold_join_seconds", "join", metrics.join.clone());
        registry.register_collector(Box::new(sum));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        for line in [
            "manifold_transports 4",
            "manifold_producers 0",
            "manifold_forwarded_packets_total 14",
            "manifold_forwarded_bytes_total 1400",
            "manifold_dropped_datagrams_total{reason=\"malformed\"} 2",
            "manifold_dropped_datagrams_total{reason=\"send_queue_full\"} 6",
            "manifold_tcp_connections 10",
            "manifold_tcp_connections_dropped_total{reason=\"frame_too_large\"} 2",
            "manifold_tcp_connections_dropped_total{reason=\"slow_reader\"} 4",
            "manifold_tcp_connections_dropped_total{reason=\"idle\"} 0",
            "manifold_join_seconds_count 1",
            "manifold_data_messages_in_total 6",
            "manifold_data_channels 2",
            "manifold_join_seconds_bucket{le=\"0.05\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        let reasons = text
            .lines()
            .filter(|l| l.starts_with("manifold_dropped_datagrams_total{reason="));
        assert_eq!(reasons.count(), DROP_REASONS.len());
    }
}
