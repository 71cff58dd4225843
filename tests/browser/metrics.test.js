// Operator endpoints of the reference server: Chromium publishes with WHIP
// and two Chromium viewers decode it with WHEP; /metrics (parsed by
// Prometheus' own Python client, Debian's python3-prometheus-client) moves
// with them, /healthz answers 200 and /stats names the live transports.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const {
  startServer, launchChromium, waitFor, whipPublish, whepView, expectDecoding,
} = require('./lib');

// Parses Prometheus' text format on stdin and prints it as JSON:
// {name: {type, samples: [{name, labels, value}]}}.
const PARSER = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "samples": [
        {"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]}
print(json.dumps(out))
`;

/** Scrape /metrics and parse it with Prometheus' Python parser. */
async function scrape(srv) {
  const r = await fetch(`${srv.url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  const p = spawnSync('/usr/bin/python3', ['-c', PARSER], { input: text, encoding: 'utf8' });
  assert.equal(p.status, 0, `the Prometheus parser refused /metrics:\n${p.stderr}\n${text}`);
  return JSON.parse(p.stdout);
}

/** The value of the sample `name` (with `labels`) of family `family`. */
function value(m, family, name, labels = {}) {
  const f = m[family];
  assert.ok(f, `no metric family ${family}`);
  const s = f.samples.find((x) => x.name === name
    && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(s, `no sample ${name} ${JSON.stringify(labels)} in ${family}`);
  return s.value;
}

test('/metrics, /healthz and /stats follow a WHIP publish and two WHEP views',
  { timeout: 120000 }, async (t) => {
    // A short liveness timeout: the viewers' transports close soon after
    // the browser goes, even if its goodbyes are lost.
    const srv = await startServer(['--liveness-timeout', '5']);
    const browser = await launchChromium();
    t.after(async () => {
      await browser.close().catch(() => {});
      await srv.stop();
    });

    const health = await fetch(`${srv.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');

    // Before any session: the contract's names, at zero.
    const before = await scrape(srv);
    assert.deepEqual(
      ['manifold_transports', 'manifold_producers', 'manifold_consumers']
        .map((n) => [n, before[n].type, value(before, n, n)]),
      [['manifold_transports', 'gauge', 0], ['manifold_producers', 'gauge', 0],
        ['manifold_consumers', 'gauge', 0]],
    );
    // The Python parser names counter families without `_total`.
    for (const n of ['manifold_forwarded_packets', 'manifold_forwarded_bytes']) {
      assert.equal(before[n].type, 'counter');
      assert.equal(value(before, n, `${n}_total`), 0);
    }
    const drops = before.manifold_dropped_datagrams;
    assert.equal(drops.type, 'counter');
    const reasons = drops.samples.filter((s) => s.name === 'manifold_dropped_datagrams_total')
      .map((s) => s.labels.reason);
    assert.ok(reasons.includes('malformed') && reasons.includes('unknown_ufrag'), `${reasons}`);
    assert.equal(before.manifold_join_seconds.type, 'histogram');
    assert.equal(value(before, 'manifold_join_seconds', 'manifold_join_seconds_count'), 0);

    const publisher = await browser.newPage();
    await publisher.goto(`${srv.url}/`);
    await publisher.evaluate(whipPublish, { url: `${srv.url}/whip/live`, token: srv.token });
    await waitFor(() => publisher.evaluate(() => window.pc.connectionState === 'connected'),
      20000, 'the publisher to connect');
    const viewers = [];
    for (let i = 0; i < 2; i++) {
      const page = await browser.newPage();
      await page.goto(`${srv.url}/`);
      await page.evaluate(whepView, { url: `${srv.url}/whep/live`, token: srv.token });
      viewers.push(page);
    }
    for (const [i, page] of viewers.entries()) await expectDecoding(page, `viewer ${i + 1}`);

    const during = await scrape(srv);
    // One publisher (audio and video) and two viewers (two consumers each).
    assert.equal(value(during, 'manifold_transports', 'manifold_transports'), 3);
    assert.equal(value(during, 'manifold_producers', 'manifold_producers'), 2);
    assert.equal(value(during, 'manifold_consumers', 'manifold_consumers'), 4);
    const packets = value(during, 'manifold_forwarded_packets', 'manifold_forwarded_packets_total');
    const bytes = value(during, 'manifold_forwarded_bytes', 'manifold_forwarded_bytes_total');
    assert.ok(packets > 0, `forwarded packets ${packets}`);
    assert.ok(bytes > packets, `forwarded bytes ${bytes} for ${packets} packets`);
    // Every transport connected once: three joins, each well under the
    // histogram's last bucket.
    const join = (name, labels) => value(during, 'manifold_join_seconds', name, labels);
    assert.equal(join('manifold_join_seconds_count'), 3);
    assert.equal(join('manifold_join_seconds_bucket', { le: '12.8' }), 3);
    assert.ok(join('manifold_join_seconds_sum') > 0);
    t.diagnostic(`forwarded ${packets} packets, ${bytes} bytes; joins took `
      + `${(join('manifold_join_seconds_sum') / 3).toFixed(3)} s on average`);

    // The counters only move forward.
    await new Promise((r) => setTimeout(r, 1000));
    const later = await scrape(srv);
    assert.ok(value(later, 'manifold_forwarded_packets', 'manifold_forwarded_packets_total') > packets);

    // /stats (behind the token): JSON naming the three live transports.
    assert.equal((await fetch(`${srv.url}/stats`)).status, 401);
    const stats = await (await fetch(`${srv.url}/stats`, { headers: srv.auth })).json();
    const transports = stats.workers.flatMap((w) => w.transports);
    assert.deepEqual(transports.map((x) => x.session).sort(), ['publisher', 'viewer', 'viewer']);
    assert.ok(transports.every((x) => /^t[0-9]+$/.test(x.id) && x.connected), JSON.stringify(transports));
    // Each transport's snapshot (the library's TransportStats).
    for (const x of transports) {
      assert.equal(x.dtls_state, 'connected');
      assert.ok(['connected', 'completed'].includes(x.ice_state), x.ice_state);
      assert.equal(x.selected_pair.local, `${srv.udp.host}:${srv.udp.port}`);
      assert.match(x.selected_pair.remote, /^[0-9.]+:[0-9]+$/);
      assert.ok(x.packets_in > 0 && x.bytes_in > x.packets_in, JSON.stringify(x));
      assert.ok(x.packets_out > 0 && x.bytes_out > x.packets_out, JSON.stringify(x));
    }
    const pub = transports.find((x) => x.session === 'publisher');
    assert.deepEqual(pub.producers.map((p) => p.kind).sort(), ['audio', 'video']);
    assert.ok(pub.producers.every((p) => p.packets > 0 && p.consumers === 2), JSON.stringify(pub));
    for (const p of pub.producers) {
      assert.equal(p.layers.length, 1);
      assert.ok(p.layers[0].live && p.layers[0].bitrate_bps > 0, JSON.stringify(p));
      assert.equal(p.layers[0].packets, p.packets);
    }
    const consumers = transports.filter((x) => x.session === 'viewer').flatMap((x) => x.consumers);
    assert.equal(consumers.length, 4);
    assert.ok(consumers.every((c) => c.packets_sent > 0 && c.bytes_sent > c.packets_sent),
      JSON.stringify(consumers));
    assert.deepEqual(consumers.map((c) => c.kind).sort(), ['audio', 'audio', 'video', 'video']);
    // Estimation is on: the WebRTC stack's reports fill bitrate at once and
    // RTT once each viewer's receiver reports arrive (loss only when a
    // report says how much was lost since the last).
    assert.ok(consumers.every((c) => c.bitrate_bps > 0), JSON.stringify(consumers));
    const reported = await waitFor(async () => {
      const s = await (await fetch(`${srv.url}/stats`, { headers: srv.auth })).json();
      const cs = s.workers.flatMap((w) => w.transports).flatMap((x) => x.consumers);
      return cs.length === 4 && cs.every((c) => c.rtt !== null) && cs;
    }, 20000, 'receiver reports for every consumer');
    for (const c of reported) {
      assert.ok(c.loss === null || c.loss < 0.01, `loss on loopback: ${JSON.stringify(c)}`);
      assert.ok(c.rtt.secs === 0 && c.rtt.nanos < 100e6, `rtt on loopback: ${JSON.stringify(c)}`);
    }
    assert.equal(stats.total.transports, 3);

    // Sessions gone: the gauges fall back, the counters keep their totals.
    await browser.close();
    await waitFor(async () => {
      const m = await scrape(srv);
      return value(m, 'manifold_transports', 'manifold_transports') === 0
        && value(m, 'manifold_consumers', 'manifold_consumers') === 0;
    }, 30000, 'the transports to close');
    const after = await scrape(srv);
    assert.ok(value(after, 'manifold_forwarded_packets', 'manifold_forwarded_packets_total') >= packets);
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
  });
