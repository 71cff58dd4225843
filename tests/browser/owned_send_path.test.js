// Issue #19: both send paths (--send-path owned, the default, which every
// other browser test runs on too; and --send-path stack, str0m's) with
// clients we did not write.
//  - Chromium publishes with WHIP; a Chromium and a Firefox WHEP viewer
//    decode video and receive audio (on the owned path protected with the
//    router's own copy of their DTLS-SRTP keys: no str0m send stream
//    carries it);
//  - Chromium publishes VP8 simulcast; a viewer switches q → f → h and its
//    decoded width follows: the VP8 picture IDs the router renumbers in
//    each viewer's copy of the payload keep its decoder going.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startServer, launchChromium, launchFirefox, waitFor, whipPublish, whepView, expectDecoding,
} = require('./lib');
const {
  postLayer, viewer, expectWidth, publisher, sendsAllEncodings,
} = require('./layers_lib');

for (const path of ['owned', 'stack']) test(`the ${path} send path: Chromium and Firefox viewers, simulcast switching`, { timeout: 180000 }, async (t) => {
  // --no-bwe: the viewers' choice alone decides the layer, as in
  // layers.test.js.
  const srv = await startServer(['--send-path', path, '--no-bwe']);
  const chromium = await launchChromium();
  t.after(() => chromium.close().catch(() => {}));
  const firefox = await launchFirefox();
  t.after(() => firefox.close());
  t.after(() => srv.stop());

  await t.test('Chromium publishes; Chromium and Firefox view', async (t) => {
    const pub = await chromium.newPage();
    await pub.goto(`${srv.url}/`);
    const whip = await pub.evaluate(whipPublish, { url: `${srv.url}/whip/owned`, token: srv.token });
    await waitFor(() => pub.evaluate(() => window.pc.connectionState === 'connected'),
      20000, 'the publisher to connect');
    for (const [name, browser] of [['Chromium', chromium], ['Firefox', firefox]]) {
      const page = await browser.newPage();
      await page.goto(`${srv.url}/`);
      await page.evaluate(whepView, { url: `${srv.url}/whep/owned`, token: srv.token });
      const s = await expectDecoding(page, `the ${name} viewer`);
      t.diagnostic(`${name}: ${s.framesDecoded} frames at width ${s.frameWidth}, ${s.audioPackets} audio packets`);
      await page.close();
    }
    const del = await fetch(whip, { method: 'DELETE', headers: srv.auth });
    assert.equal(del.status, 200);
    await pub.close();
  });

  await t.test('simulcast: q → f → h', async (t) => {
    const pub = await publisher(chromium, srv, 'owned-sim', 'simulcast');
    await sendsAllEncodings(t, pub.page);
    const v = await viewer(chromium, srv, 'owned-sim');
    for (const [rid, width] of [['q', 320], ['f', 1280], ['h', 640]]) {
      const r = await postLayer(srv, v.layer, { encodingId: rid });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await expectWidth(t, srv, v, width, 15000, rid);
    }
  });
  assert.ok(srv.alive());
});
