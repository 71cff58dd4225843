#!/usr/bin/env bash
# Run the load generator at several load levels against a fresh reference
# server, the server pinned to one CPU and the load generator to another,
# and print a Markdown table (docs/benchmarks.md, "Load generator").
#
#   cargo build --release --example server --example loadgen
#   examples/loadgen/levels.sh [SUBSCRIBERS...]        # default: 50 100 200
#
# Environment: PUBLISHERS (1), BITRATE (1500000), RUN_SECONDS (10),
# WARMUP (2), SETUP_TIMEOUT (30 s), SERVER_CPU (0; a taskset list such as 0,1 for several workers),
# LOADGEN_CPU (1), SERVER_ARGS (more server flags, e.g. "--workers 2"),
# LOADGEN_ARGS (more load-generator flags, e.g. "--pace 2.5") and
# PRIO: a command prefix for both processes, e.g. PRIO="chrt -f 10" (root) so
# that other work on a shared machine does not preempt them.
#
# PEER=janus runs Janus 1.1 (Debian: apt-get install janus) in the server's
# place, with examples/loadgen/janus/ as its configuration (HTTP API on port
# 8088, VideoRoom plugin), and the load generator with --janus: the same
# peers, media and measures against a peer SFU. Janus offers only the
# machine's interface addresses, so the peers bind to PEER_IP (default: the
# first address `hostname -I` lists). JANUS_EVENT_LOOPS=N sets Janus's
# event_loops (default 1: its handles share one media thread).
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET="${CARGO_TARGET_DIR:-target}"
SERVER="$TARGET/release/examples/server"
LOADGEN="$TARGET/release/examples/loadgen"
PUBLISHERS="${PUBLISHERS:-1}"
BITRATE="${BITRATE:-1500000}"
SECS="${RUN_SECONDS:-10}"
SERVER_CPU="${SERVER_CPU:-0}"
LOADGEN_CPU="${LOADGEN_CPU:-1}"
WARMUP="${WARMUP:-2}"
PRIO="${PRIO:-}"
SERVER_ARGS="${SERVER_ARGS:-}"
LOADGEN_ARGS="${LOADGEN_ARGS:-}"
LEVELS=("$@")
[ ${#LEVELS[@]} -gt 0 ] || LEVELS=(50 100 200)

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -INT "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

PEER="${PEER:-manifold}"
peer_args=()
url=""
if [ "$PEER" = janus ]; then
  conf="$work/janus"
  cp -r examples/loadgen/janus "$conf"
  if [ -n "${JANUS_EVENT_LOOPS:-}" ]; then
    sed -i "s|^\tevent_loops = .*|\tevent_loops = $JANUS_EVENT_LOOPS|" "$conf/janus.jcfg"
  fi
  # shellcheck disable=SC2086 # PRIO is meant to split into words.
  (cd "$work" && exec $PRIO taskset -c "$SERVER_CPU" janus -F "$conf" -C "$conf/janus.jcfg" \
    >"$work/server.out" 2>"$work/server.err") &
  server_pid=$!
  ip="${PEER_IP:-$(hostname -I | awk '{print $1}')}"
  peer_args=(--janus --bind "$ip")
  for _ in $(seq 100); do
    if curl -sf -X POST -d '{"janus":"info","transaction":"x"}' http://127.0.0.1:8088/janus >/dev/null 2>&1; then
      url=http://127.0.0.1:8088/janus
      break
    fi
    sleep 0.1
  done
else
  # shellcheck disable=SC2086 # PRIO and SERVER_ARGS are meant to split into words.
  $PRIO taskset -c "$SERVER_CPU" "$SERVER" --http 127.0.0.1:0 --udp 127.0.0.1:0 \
    --log warn $SERVER_ARGS >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    url="$(sed -n 's|.*conference rooms: \(http://[0-9.:]*\)/.*|\1|p' "$work/server.out")"
    [ -n "$url" ] && break
    sleep 0.1
  done
fi
[ -n "$url" ] || { cat "$work/server.out" "$work/server.err" >&2; exit 1; }

for s in "${LEVELS[@]}"; do
  # shellcheck disable=SC2206 # PRIO and LOADGEN_ARGS are meant to split into words.
  cmd=($PRIO taskset -c "$LOADGEN_CPU" "$LOADGEN" --server "$url" --publishers "$PUBLISHERS"
       --subscribers "$s" --seconds "$SECS" --warmup "$WARMUP" --bitrate "$BITRATE"
       --setup-timeout "${SETUP_TIMEOUT:-30}" "${peer_args[@]}" $LOADGEN_ARGS)
  echo "--- ${cmd[*]}" >&2
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  if ! "${cmd[@]}" --server-pid "$server_pid" 2>"$work/progress" | tee -a "$work/results"; then
    echo "level S=$s failed" >&2
  fi
  tail -n 3 "$work/progress" >&2
  sleep 2
done

node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const f = (x, d = 1) => (x === null || x === undefined ? "n/a" : Number(x).toFixed(d));
  console.log("| P | S | forwarded pkt/s | delivered | loss | latency p50 / p99 | server delay p50 / p99 | server CPU | server µs/packet | loadgen CPU |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.publishers} | ${r.subscribers} | ${f(r.forwarded_pps, 0)} | ${f(r.delivered_pct)} % | ` +
      `${f(r.loss_pct, 2)} % | ${f(r.latency_p50_ms)} / ${f(r.latency_p99_ms)} ms | ` +
      `${f(r.server_delay_p50_ms, 2)} / ${f(r.server_delay_p99_ms, 2)} ms | ${f(r.server_cpu_pct)} % | ` +
      `${f(r.server_cpu_us_per_packet)} | ${f(r.loadgen_cpu_pct)} % |`);
  }
' "$work/results"
