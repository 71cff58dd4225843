// --workers 2: one stream's viewers spread over both workers. Chromium
// publishes with WHIP (on the stream's owner worker); four Chromium WHEP
// viewers go to the least-loaded worker each, so both workers serve some,
// the other worker through a pipe from the owner. Every viewer decodes.
// The last viewers on the piped worker leaving close the pipe; a new one
// there makes it again. The publisher leaving ends the viewers on both.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startServer, launchChromium, waitFor, whipPublish, whepView, receiveStats, expectDecoding,
} = require('./lib');

/** Per worker: { transports, pipes, sessions, carried, dropped }. */
async function perWorker(srv) {
  const r = await fetch(`${srv.url}/stats`, { headers: srv.auth });
  assert.equal(r.status, 200);
  const body = await r.json();
  return body.workers.map((w) => ({
    transports: w.counts.transports,
    pipes: w.counts.pipes,
    producers: w.counts.producers,
    sessions: w.sessions,
    carried: w.wires.carried,
    dropped: w.wires.dropped,
  }));
}

/** The worker a WHIP/WHEP Location's session lives on (its last 4 hex digits). */
function workerOf(location) {
  return parseInt(location.slice(-4), 16);
}

test('--workers 2: one stream, viewers on both workers through a pipe', { timeout: 180000 }, async (t) => {
  const srv = await startServer(['--workers', '2']);
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => {});
    await srv.stop();
  });

  const publisher = await browser.newPage();
  await publisher.goto(`${srv.url}/`);
  const whip = await publisher.evaluate(whipPublish, { url: `${srv.url}/whip/live`, token: srv.token });
  assert.match(whip, /\/whip\/live\/[0-9a-f]{32}$/);
  const owner = workerOf(whip);
  const other = 1 - owner;
  await waitFor(() => publisher.evaluate(() => window.pc.connectionState === 'connected'),
    20000, 'the publisher to connect');

  const viewers = [];
  for (let i = 0; i < 4; i++) {
    const page = await browser.newPage();
    await page.goto(`${srv.url}/`);
    const location = await page.evaluate(whepView, { url: `${srv.url}/whep/live`, token: srv.token });
    viewers.push({ page, location, worker: workerOf(location) });
  }
  const placed = viewers.map((v) => v.worker);
  t.diagnostic(`publisher on worker ${owner}; viewers on workers ${placed.join(', ')}`);
  // Fewest transports first, the owner on a tie: other, owner, other, owner.
  assert.deepEqual(placed, [other, owner, other, owner]);

  for (const [i, v] of viewers.entries()) {
    const s = await expectDecoding(v.page, `viewer ${i + 1} (worker ${v.worker})`);
    t.diagnostic(`viewer ${i + 1} on worker ${v.worker}: ${s.framesDecoded} frames at width ${s.frameWidth}, ${s.audioPackets} audio packets`);
  }

  // The server's view: transports on both workers, one pipe between them
  // (an end on each), the piped producers on the other worker, messages
  // carried from the owner.
  const w = await perWorker(srv);
  t.diagnostic(`per worker: ${JSON.stringify(w)}`);
  assert.equal(w[owner].transports, 3, 'publisher and two viewers on the owner');
  assert.equal(w[other].transports, 2, 'two viewers on the other worker');
  assert.equal(w[owner].pipes, 1);
  assert.equal(w[other].pipes, 1);
  assert.equal(w[other].producers, w[owner].producers, 'every track piped');
  assert.ok(w[owner].carried > 100, 'media carried to the other worker');
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /^manifold_pipes 2$/m);
  assert.match(metrics, /^manifold_pipe_dropped_total \d+$/m);

  // The other worker's viewers leave: the pipe closes on both workers.
  for (const v of viewers.filter((x) => x.worker === other)) {
    const r = await fetch(v.location, { method: 'DELETE', headers: srv.auth });
    assert.equal(r.status, 200);
    await v.page.close();
  }
  await waitFor(async () => {
    const now = await perWorker(srv);
    return now[owner].pipes === 0 && now[other].pipes === 0 && now[other].transports === 0;
  }, 5000, 'the pipe to close with its last viewer');
  const stay = viewers.filter((x) => x.worker === owner);
  // A new viewer goes to the empty worker; the pipe is made again.
  const page = await browser.newPage();
  await page.goto(`${srv.url}/`);
  const location = await page.evaluate(whepView, { url: `${srv.url}/whep/live`, token: srv.token });
  assert.equal(workerOf(location), other);
  const again = { page, location, worker: other };
  const s = await expectDecoding(page, 'a new viewer on the other worker');
  t.diagnostic(`new viewer on worker ${other}: ${s.framesDecoded} frames`);
  const left = [...stay, again];
  for (const v of stay) await expectDecoding(v.page, `viewer on worker ${v.worker}, still`);

  // The publisher leaves: viewers on both workers are told at once.
  const del = await fetch(whip, { method: 'DELETE', headers: srv.auth });
  assert.equal(del.status, 200);
  for (const v of left) {
    const st = await waitFor(async () => {
      const st = await v.page.evaluate(receiveStats);
      return st.dtls === 'closed' && st;
    }, 3000, `the viewer on worker ${v.worker} to be told the stream ended`);
    t.diagnostic(`viewer on worker ${v.worker} after the publisher left: DTLS ${st.dtls}`);
  }
  for (const v of left) {
    const r = await fetch(v.location, { method: 'DELETE', headers: srv.auth });
    assert.equal(r.status, 404, 'viewer sessions are cleaned up with their publisher');
  }
  await waitFor(async () => {
    const now = await perWorker(srv);
    return now.every((x) => x.pipes === 0 && x.transports === 0 && x.sessions === 0);
  }, 5000, 'both workers to be empty');
  assert.ok(srv.alive());
  const exit = await srv.stop();
  assert.equal(exit.code, 0, `clean exit on Ctrl-C\n${srv.log()}`);
});
