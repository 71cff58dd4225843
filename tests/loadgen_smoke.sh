#!/usr/bin/env bash
# Smoke test of examples/loadgen against examples/server: one publisher, four
# viewers for four seconds at 300 kbit/s on loopback must lose nothing; then
# the same with two publishers on a server with two workers (--workers 2); then
# one publisher and four viewers through Janus (--janus, examples/loadgen/janus/).
# Needs both examples built in release:
#   cargo build --release --example server --example loadgen
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
SERVER="$TARGET/release/examples/server"
LOADGEN="$TARGET/release/examples/loadgen"
for bin in "$SERVER" "$LOADGEN"; do
  [ -x "$bin" ] || { echo "missing $bin: cargo build --release --example server --example loadgen" >&2; exit 1; }
done

work="$(mktemp -d)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

# run_case PUBLISHERS [SERVER ARGS...]: four viewers spread over the streams.
run_case() {
  local publishers="$1"
  shift
  # Free ports: the server binds port 0 and prints what it got.
  "$SERVER" --http 127.0.0.1:0 --udp 127.0.0.1:0 --log warn "$@" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  local url=""
  for _ in $(seq 100); do
    url="$(sed -n 's|.*conference rooms: \(http://[0-9.:]*\)/.*|\1|p' "$work/server.out")"
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "the server did not start:" >&2
    cat "$work/server.out" "$work/server.err" >&2
    exit 1
  fi

  # No --server-pid: the loadgen finds the server by its UDP port.
  if ! timeout 60 "$LOADGEN" --server "$url" --publishers "$publishers" --subscribers 4 --seconds 4 \
      --bitrate 300000 >"$work/result.json" 2>"$work/loadgen.err"; then
    echo "loadgen failed:" >&2
    cat "$work/loadgen.err" "$work/server.err" >&2
    exit 1
  fi
  cat "$work/loadgen.err" >&2
  local result
  result="$(cat "$work/result.json")"
  echo "$result"

  check "$result" "$publishers" "$server_pid"
  # The server's own delay histogram (GET /stats `delay`) covered the
  # steady phase: every datagram it read then, at least the forwarded ones'
  # inputs, within a second each on an idle loopback.
  RESULT="$result" node -e '
    const r = JSON.parse(process.env.RESULT);
    if (!(r.server_delay_samples > 0 && r.server_delay_p99_ms > 0 && r.server_delay_p99_ms < 1000 &&
          r.server_delay_p50_ms <= r.server_delay_p99_ms)) {
      console.error("loadgen smoke: failed: server_delay figures: " + JSON.stringify(
        [r.server_delay_samples, r.server_delay_p50_ms, r.server_delay_p99_ms]));
      process.exit(1);
    }
  '
  stop_server
}

# check RESULT_JSON PUBLISHERS SERVER_PID: the run's figures are whole.
check() {
  RESULT="$1" PUBLISHERS="$2" SERVER_PID="$3" node -e '
    const r = JSON.parse(process.env.RESULT);
    const fail = [];
    if (r.publishers !== Number(process.env.PUBLISHERS)) fail.push("publishers");
    if (r.subscribers !== 4 || r.subscribers_with_video !== 4) fail.push("4 viewers with video");
    if (!(r.forwarded_pps > 0)) fail.push("forwarded_pps > 0");
    if (r.loss_pct !== 0 || r.lost_packets !== 0) fail.push("loss_pct == 0");
    if (r.server_pid !== Number(process.env.SERVER_PID)) fail.push("server pid found from its UDP port");
    if (!(r.server_cpu_us_per_packet >= 0)) fail.push("server_cpu_us_per_packet present");
    if (!(r.latency_p50_ms > 0 && r.latency_p99_ms >= r.latency_p50_ms)) fail.push("latency percentiles");
    if (fail.length) {
      console.error("loadgen smoke: failed: " + fail.join(", "));
      process.exit(1);
    }
  '
}

# The same peers against Janus (examples/loadgen/janus/, --janus): the
# comparison in docs/benchmarks.md stays runnable.
run_janus() {
  local conf="$work/janus"
  cp -r examples/loadgen/janus "$conf"
  (cd "$work" && exec janus -F "$conf" -C "$conf/janus.jcfg") >"$work/server.out" 2>&1 &
  server_pid=$!
  local up=""
  for _ in $(seq 100); do
    if curl -sf -X POST -d '{"janus":"info","transaction":"x"}' http://127.0.0.1:8088/janus >/dev/null 2>&1; then
      up=1
      break
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$up" ]; then
    echo "Janus did not start:" >&2
    cat "$work/server.out" >&2
    exit 1
  fi
  # Janus offers the machine's interface addresses, not loopback.
  local ip
  ip="$(hostname -I | awk '{print $1}')"
  if ! timeout 60 "$LOADGEN" --janus --server http://127.0.0.1:8088/janus --bind "$ip" \
      --publishers 1 --subscribers 4 --seconds 4 --bitrate 300000 \
      >"$work/result.json" 2>"$work/loadgen.err"; then
    echo "loadgen --janus failed:" >&2
    cat "$work/loadgen.err" "$work/server.out" >&2
    exit 1
  fi
  cat "$work/loadgen.err" >&2
  local result
  result="$(cat "$work/result.json")"
  echo "$result"
  check "$result" 1 "$server_pid"
  stop_server
}

# The default server: one worker, one UDP port.
run_case 1
# Two workers: streams load-0 and load-1 live on different routers and ports.
run_case 2 --workers 2
run_janus
echo "loadgen: 3 passed, 0 failed"
