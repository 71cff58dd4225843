#!/usr/bin/env bash
# Soak of examples/server (issue #13, tests item 4): 1,000 real WebRTC
# sessions (the load generator's str0m peers: WHIP publishers and WHEP
# viewers, ICE + DTLS + a few seconds of media) join and leave one server in
# 5 bursts of 200, about 5 minutes in all. Half of the sessions leave with
# DELETE, the others just stop sending, so the server's liveness timeout
# must clean them up. After each burst comes a quiet gap of 45 s in which
# no datagram reaches the server, longer than twice the liveness timeout: the
# silent sessions expire within it and the router then hears nothing for
# more than a liveness timeout before the next burst starts (the stale-clock
# case of issue #13, defect 1).
#
# Asserts: every session of every burst connected (and every viewer got
# video); after the last gap the routers' counts (GET /stats: transports,
# producers, consumers, ufrags, routes, timers, queued outputs) and the
# server's sessions are all zero; the server's resident memory (VmRSS in
# /proc/<pid>/status) after the last burst's gap is at most 10 % above the
# level the first burst brought it to (its peak, VmHWM, read after the
# first gap); the memory the server's allocator holds for live objects
# (GET /stats `memory.heap_in_use_bytes`, glibc's mallinfo2) after the last
# gap is at most 10 % above what it held after the first gap: the leak
# check, which the RSS of the quiet server (it hands its allocator's free
# pages back once a worker's last transport closes) cannot be, as it moves
# by a few MiB with how the live objects happen to lie in the heap's pages;
# and no datagram reached the server in any
# gap (its routers' `datagrams_in`, from 1 s after the load generator exited
# to the gap's end). Memory and counts are read at the end of each gap,
# when that burst's sessions should be gone.
#
# Loopback only; every wait is bounded. Sizes can be changed for a quick
# run, e.g. SOAK_BURSTS=2 SOAK_SESSIONS=20 SOAK_LIVENESS=2 SOAK_GAP=5.
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

BURSTS="${SOAK_BURSTS:-5}"
SESSIONS="${SOAK_SESSIONS:-200}"
LIVENESS="${SOAK_LIVENESS:-15}"   # the server's default liveness timeout
GAP="${SOAK_GAP:-45}"             # > 2 x LIVENESS
HOLD="${SOAK_HOLD:-3}"
GOODBYE="${SOAK_GOODBYE:-0.5}"
if [ "$GAP" -le $((2 * LIVENESS)) ]; then
  echo "SOAK_GAP ($GAP) must exceed twice SOAK_LIVENESS ($LIVENESS)" >&2
  exit 1
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

token="soak-$$-$RANDOM$RANDOM"
"$SERVER" --http 127.0.0.1:0 --udp 127.0.0.1:0 --log warn --token "$token" \
  --liveness-timeout "$LIVENESS" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
url=""
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

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status"; }
stats() { curl -sS --max-time 10 -H "Authorization: Bearer $token" "$url/stats"; }

# The operator endpoint wants the token.
code="$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$url/stats")"
[ "$code" = 401 ] || { echo "GET /stats without the token: $code, expected 401" >&2; exit 1; }

echo "soak: $BURSTS bursts of $SESSIONS sessions, liveness timeout ${LIVENESS}s, gaps ${GAP}s, hold ${HOLD}s, goodbye $GOODBYE; server pid $server_pid, RSS $(rss_kib) KiB at start"
start=$SECONDS
: >"$work/bursts.json"
: >"$work/gaps.json"
for b in $(seq "$BURSTS"); do
  # One load-generator process per burst: when it exits, every peer socket
  # is closed and the gap is quiet.
  if ! timeout 180 "$LOADGEN" --server "$url" --token "$token" --server-pid "$server_pid" --soak \
      --bursts 1 --burst-sessions "$SESSIONS" --hold "$HOLD" --goodbye "$GOODBYE" \
      --setup-timeout 20 --soak-name "soak$b" >"$work/burst.json" 2>"$work/loadgen.err"; then
    echo "burst $b: the load generator reported failures:" >&2
    tail -n 5 "$work/loadgen.err" >&2
  fi
  if [ ! -s "$work/burst.json" ]; then
    echo "burst $b: no result from the load generator" >&2
    cat "$work/loadgen.err" >&2
    exit 1
  fi
  cat "$work/burst.json" >>"$work/bursts.json"
  # The gap: datagrams the server took in at its start and end must match.
  sleep 1
  quiet_from="$(stats)"
  sleep $((GAP - 1))
  kill -0 "$server_pid" 2>/dev/null || { echo "the server died:" >&2; cat "$work/server.err" >&2; exit 1; }
  printf '{"burst":%d,"seconds":%d,"rss_kib":%d,"hwm_kib":%d,"stats":%s,"gap_start":%s}\n' \
    "$b" $((SECONDS - start)) "$(rss_kib)" "$(hwm_kib)" "$(stats)" "$quiet_from" >>"$work/gaps.json"
  # Through files, not the environment: /stats lists every live transport,
  # more than one environment string may hold.
  BURST_FILE="$work/burst.json" GAPS_FILE="$work/gaps.json" node -e '
    const fs = require("fs");
    const r = JSON.parse(fs.readFileSync(process.env.BURST_FILE, "utf8"));
    const g = JSON.parse(fs.readFileSync(process.env.GAPS_FILE, "utf8").trim().split("\n").pop());
    const t = g.stats.total;
    const dgrams = (s) => s.workers.reduce((n, w) => n + w.stats.datagrams_in, 0);
    const quiet = dgrams(g.stats) - dgrams(g.gap_start);
    console.log(`burst ${g.burst}: ${r.connected}/${r.sessions} connected, ${r.failed} failed ` +
      `${JSON.stringify(r.failures)}, ${r.viewers_with_video}/${r.viewers} viewers with video, ` +
      `${r.goodbyes} DELETE / ${r.silent} silent, set up in ${r.setup_seconds}s; ` +
      `RSS ${r.server_rss_kib_after} KiB as they left; after the gap (t=${g.seconds}s): ` +
      `RSS ${g.rss_kib} KiB (peak so far ${g.hwm_kib}), ` +
      `heap in use ${g.stats.memory ? Math.round(g.stats.memory.heap_in_use_bytes / 1024) : "n/a"} KiB, transports ${t.transports}, ` +
      `producers ${t.producers}, consumers ${t.consumers}, timers ${t.timers}, sessions ${t.sessions}; ` +
      `datagrams in during the gap: ${quiet}`);
  '
done
wall=$((SECONDS - start))

BURSTS_FILE="$work/bursts.json" GAPS_FILE="$work/gaps.json" WALL="$wall" \
  SESSIONS="$SESSIONS" node -e '
  const fs = require("fs");
  const lines = (f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  const bursts = lines(process.env.BURSTS_FILE), gaps = lines(process.env.GAPS_FILE);
  const fail = [];
  let sessions = 0, connected = 0;
  bursts.forEach((r, i) => {
    const b = i + 1;
    sessions += r.sessions;
    connected += r.connected;
    if (r.sessions !== Number(process.env.SESSIONS)) fail.push(`burst ${b}: ${r.sessions} sessions`);
    if (r.connected !== r.sessions || r.failed !== 0 || r.failed_after_connecting !== 0)
      fail.push(`burst ${b}: ${r.connected}/${r.sessions} connected, ` +
        `${r.failed_after_connecting} failed after connecting: ${JSON.stringify(r.failures)}`);
    if (r.viewers_with_video !== r.viewers) fail.push(`burst ${b}: ${r.viewers_with_video}/${r.viewers} viewers with video`);
  });
  const dgrams = (s) => s.workers.reduce((n, w) => n + w.stats.datagrams_in, 0);
  gaps.forEach((g) => {
    const n = dgrams(g.stats) - dgrams(g.gap_start);
    if (n !== 0) fail.push(`gap after burst ${g.burst}: ${n} datagrams reached the server`);
  });
  const last = gaps[gaps.length - 1], first = gaps[0];
  const total = last.stats.total;
  const nonzero = Object.entries(total).filter(([, v]) => v !== 0);
  if (nonzero.length) fail.push(`counts at the end not zero: ${JSON.stringify(Object.fromEntries(nonzero))}`);
  // The level of the first burst: the peak it brought the server to (VmHWM).
  const growth = (last.rss_kib - first.hwm_kib) / first.hwm_kib * 100;
  if (growth > 10) fail.push(`RSS ${last.rss_kib} KiB after the last burst, more than 10 % above the level of the first burst, ${first.hwm_kib} KiB (${growth.toFixed(1)} %)`);
  // Leaks: the bytes allocated and not freed, quiet against quiet. The
  // server trims its allocator when a worker goes idle
  // (examples/server/media.rs, release_freed_memory), so the idle RSS is
  // small, but its pages hold live objects wherever they happen to lie.
  const heap = (g) => g.stats.memory ? g.stats.memory.heap_in_use_bytes : null;
  let heap_growth = null;
  if (heap(first) !== null && heap(last) !== null) {
    heap_growth = (heap(last) - heap(first)) / heap(first) * 100;
    if (heap_growth > 10) fail.push(`heap in use ${heap(last)} bytes after the last burst, more than 10 % above ${heap(first)} after the first (${heap_growth.toFixed(1)} %)`);
  }
  console.log(JSON.stringify({ sessions, connected, wall_seconds: Number(process.env.WALL),
    rss_kib_first_burst_peak: first.hwm_kib, rss_kib_after_first: first.rss_kib,
    rss_kib_after_last: last.rss_kib, rss_vs_first_burst_pct: Number(growth.toFixed(1)),
    heap_in_use_vs_first_gap_pct: heap_growth === null ? null : Number(heap_growth.toFixed(1)),
    rss_kib_per_gap: gaps.map((g) => g.rss_kib), peak_kib_per_gap: gaps.map((g) => g.hwm_kib),
    heap_in_use_kib_per_gap: gaps.map((g) => g.stats.memory ? Math.round(g.stats.memory.heap_in_use_bytes / 1024) : null),
    counts_at_end: total }));
  if (fail.length) {
    console.error("soak: failed:\n  " + fail.join("\n  "));
    process.exit(1);
  }
  console.log(`soak: passed: ${connected}/${sessions} sessions connected in ${process.env.WALL}s, counts back to zero, RSS and heap in use within 10 %`);
'
