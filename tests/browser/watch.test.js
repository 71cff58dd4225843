// The WHEP viewer page, /watch/{stream}, on one plain server (no cluster:
// /cluster/nodes answers 404). Opened before anyone publishes, it keeps
// trying and plays once Chromium publishes with WHIP; when the publisher
// leaves and comes back, the page plays the new publisher; leaving the
// page ends its WHEP session on the server. A bad stream name is 400.
// Failover without a cluster: two plain servers, each with a publisher of
// the stream, and /cluster/nodes answered by the test (Playwright routes)
// naming both; the server the page plays from crashes (SIGKILL), and the
// page plays from the other within 10 s.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  serverAndChromium, startServer, launchChromium, waitFor, whipPublish, receiveStats, expectDecoding,
  recordTimeline, describeTimeline, pageState,
} = require('./lib');

/** The server's transports (publishers and viewers). */
async function transports(srv) {
  const r = await fetch(`${srv.url}/stats`, { headers: srv.auth });
  assert.equal(r.status, 200);
  const body = await r.json();
  return body.workers.reduce((n, w) => n + w.counts.transports, 0);
}

test('watch page: plays a WHEP stream on a plain server, waits for it, follows a new publisher', { timeout: 120000 }, async (t) => {
  const { srv, browser } = await serverAndChromium(t);

  const bad = await fetch(`${srv.url}/watch/no%20spaces`);
  assert.equal(bad.status, 400);
  assert.equal((await fetch(`${srv.url}/cluster/nodes`)).status, 404, 'not a cluster');

  // The page first: nobody publishes yet (WHEP 404), it keeps trying.
  const opened = Date.now();
  const watch = await browser.newPage();
  await watch.goto(`${srv.url}/watch/live?token=${srv.token}`);
  assert.equal(await watch.locator('video[data-remote]').count(), 1);
  const waiting = await waitFor(async () => {
    const s = await watch.evaluate(pageState);
    return /404/.test(s.status) && s;
  }, 10000, 'the page to report that nobody publishes yet');
  assert.equal(waiting.state, 'connecting');
  t.diagnostic(`before the publisher: "${waiting.status}"`);

  const publisher = await browser.newPage();
  await publisher.goto(`${srv.url}/`);
  const whip = await publisher.evaluate(whipPublish, { url: `${srv.url}/whip/live`, token: srv.token });
  const published = Date.now();
  const s = await expectDecoding(watch, 'the watch page');
  const page = await watch.evaluate(pageState);
  assert.equal(page.state, 'playing');
  assert.equal(page.node, srv.url, 'it plays from its own origin');
  const shown = await watch.evaluate(() => {
    const v = document.querySelector('video[data-remote]');
    return { width: v.videoWidth, time: v.currentTime, paused: v.paused };
  });
  assert.ok(shown.width > 0 && !shown.paused, `the video element plays (${JSON.stringify(shown)})`);
  t.diagnostic(`playing ${Date.now() - published} ms after the publisher (page opened ${published - opened} ms before): `
    + `${s.framesDecoded} frames at ${s.frameWidth} px, ${s.audioPackets} audio packets`);
  assert.equal(await transports(srv), 2, 'publisher and the page\'s viewer');

  // The publisher leaves: the server ends the viewer's session; the page
  // keeps trying and plays the next publisher of the stream.
  const del = await fetch(whip, { method: 'DELETE', headers: srv.auth });
  assert.equal(del.status, 200);
  await waitFor(async () => (await watch.evaluate(pageState)).state === 'reconnecting',
    5000, 'the page to notice the end of the stream');
  const again = Date.now();
  await publisher.evaluate(() => window.pc.close());
  await publisher.evaluate(whipPublish, { url: `${srv.url}/whip/live`, token: srv.token });
  const s2 = await waitFor(async () => {
    const st = await watch.evaluate(receiveStats);
    return st.framesDecoded > 10 && st.state === 'connected' && st;
  }, 20000, 'the page to play the new publisher');
  await expectDecoding(watch, 'the watch page, new publisher');
  assert.equal((await watch.evaluate(pageState)).state, 'playing');
  t.diagnostic(`plays the new publisher after ${Date.now() - again} ms (${s2.framesDecoded} frames on the new connection)`);

  // Leaving the page ends its WHEP session (DELETE on pagehide).
  await waitFor(async () => (await transports(srv)) === 2, 5000, 'one publisher and one viewer');
  await watch.goto('about:blank');
  await waitFor(async () => (await transports(srv)) === 1, 5000, 'the viewer\'s session to end when the page goes');
  assert.ok(srv.alive());
});

test('watch page: moves to the next node of /cluster/nodes when its server crashes', { timeout: 120000 }, async (t) => {
  const a = await startServer();
  const b = await startServer([], { token: a.token });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => {});
    await a.stop();
    await b.stop();
  });
  const { token } = a;
  for (const srv of [a, b]) {
    const publisher = await browser.newPage();
    await publisher.goto(`${srv.url}/`);
    await publisher.evaluate(whipPublish, { url: `${srv.url}/whip/live`, token });
  }
  // Both servers "are" the cluster, whichever origin the page asks.
  const nodes = { self: 'a', nodes: [{ id: 'a', url: a.url, load: 0 }, { id: 'b', url: b.url, load: 0 }] };
  const asked = [];
  const watch = await browser.newPage();
  await watch.route('**/cluster/nodes', (route) => {
    asked.push(route.request().url());
    return route.fulfill({
      status: 200, contentType: 'application/json', body: JSON.stringify(nodes),
      headers: { 'Access-Control-Allow-Origin': '*' },
    });
  });
  await watch.goto(`${a.url}/watch/live?token=${token}`);
  await expectDecoding(watch, 'the watch page on a');
  assert.equal((await watch.evaluate(pageState)).node, a.url);
  assert.ok(asked.includes(`${a.url}/cluster/nodes`), `the page asked its node for the others (${asked})`);

  await watch.evaluate(recordTimeline);
  const killed = Date.now();
  await a.kill();
  const moved = await waitFor(async () => {
    const p = await watch.evaluate(pageState);
    if (p.state !== 'playing' || p.node !== b.url) throw new Error(`page ${JSON.stringify(p)}`);
    const s = await watch.evaluate(receiveStats);
    return s.framesDecoded > 0 && s.frameWidth > 0 && { ...s, ...p };
  }, 10000, 'the page to play from b');
  const failover = Date.now() - killed;
  t.diagnostic(`a killed: the page decodes from b after ${failover} ms `
    + `(${describeTimeline(await watch.evaluate(() => window.timeline), killed)})`);
  assert.ok(failover < 10000);
  assert.equal(moved.state, 'playing');
  await expectDecoding(watch, 'the watch page, moved to b');
  assert.ok(asked.includes(`${b.url}/cluster/nodes`), `the page asked b for the nodes once there (${asked})`);
});
