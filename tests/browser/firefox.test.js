// 3. Firefox publishes and Chromium views, and the reverse.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startServer, launchChromium, launchFirefox, waitFor, whipPublish, whepView, expectDecoding,
} = require('./lib');

async function publishAndView(t, srv, from, to, stream) {
  const pub = await from.newPage();
  await pub.goto(`${srv.url}/`);
  const whip = await pub.evaluate(whipPublish, { url: `${srv.url}/whip/${stream}`, token: srv.token });
  await waitFor(() => pub.evaluate(() => window.pc.connectionState === 'connected'),
    20000, 'the publisher to connect');
  const view = await to.newPage();
  await view.goto(`${srv.url}/`);
  await view.evaluate(whepView, { url: `${srv.url}/whep/${stream}`, token: srv.token });
  const s = await expectDecoding(view, 'the viewer');
  t.diagnostic(`${stream}: ${s.framesDecoded} frames at width ${s.frameWidth}, ${s.audioPackets} audio packets`);
  const del = await fetch(whip, { method: 'DELETE', headers: srv.auth });
  assert.equal(del.status, 200);
  await pub.close();
  await view.close();
}

test('Firefox publishes, Chromium views; Chromium publishes, Firefox views', { timeout: 150000 }, async (t) => {
  const srv = await startServer();
  const chromium = await launchChromium();
  t.after(() => chromium.close().catch(() => {}));
  const firefox = await launchFirefox();
  t.after(() => firefox.close());
  t.after(() => srv.stop());

  await t.test('Firefox → Chromium', () => publishAndView(t, srv, firefox, chromium, 'from-firefox'));
  await t.test('Chromium → Firefox', () => publishAndView(t, srv, chromium, firefox, 'from-chromium'));
  assert.ok(srv.alive());
});
