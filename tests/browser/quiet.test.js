// 6. Chromium and Firefox against a quiet server (issue #13): runs that
//    start after the server has received no datagram at all for longer than
//    its liveness timeout (the default 15 s, and 3 s twice: after the quiet
//    start, and after a run). One page WHIP-publishes the fake camera and
//    microphone and WHEP-views the same stream; both sessions are created
//    before either connection sends a datagram. The publisher must connect
//    and send audio and video, the viewer must connect and keep decoding.
//    A control run right after the server started comes first.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startServer, launchChromium, launchFirefox, waitFor, expectDecoding, quietSpell,
  withServerLog, whipThenWhep, publishStats,
} = require('./lib');

/**
 * One run after a quiet spell longer than `liveness` seconds (none when
 * null: a control run right after the server started).
 */
async function quietRun(t, srv, browser, liveness, stream) {
  if (liveness !== null) await quietSpell(t, liveness);
  const page = await browser.newPage();
  let sessions = [];
  let last = {};
  try {
    await withServerLog(srv, async () => {
      await page.goto(`${srv.url}/`);
      sessions = await page.evaluate(whipThenWhep, {
        whip: `${srv.url}/whip/${stream}`, whep: `${srv.url}/whep/${stream}`, token: srv.token,
      });
      await waitFor(async () => {
        last = await page.evaluate(publishStats);
        return last.state === 'connected' && last.videoBytes > 0 && last.audioBytes > 0 && last;
      }, 20000, 'the publisher to connect and send audio and video');
      const s = await expectDecoding(page, 'the viewer', 20000);
      assert.equal(s.state, 'connected', 'the viewer is connected');
      last = await page.evaluate(publishStats);
      assert.equal(last.state, 'connected', 'the publisher is still connected');
      t.diagnostic(`${stream}: publisher sent ${last.videoBytes} video and ${last.audioBytes} audio bytes; `
        + `viewer decoded ${s.framesDecoded} frames at width ${s.frameWidth}, ${s.audioPackets} audio packets`);
    }, () => `page's connection states: ${JSON.stringify(last.states || null)}`);
  } finally {
    // Leave nothing behind that could talk to the server during the next quiet spell.
    await page.close().catch(() => {});
    for (const loc of sessions.reverse()) {
      await fetch(loc, { method: 'DELETE', headers: srv.auth }).catch(() => {});
    }
  }
}

// A control run right after the server started (within its liveness
// timeout) tells a broken page script from the quiet-server bug.
for (const [name, launch, defaultTimeout] of [['Chromium', launchChromium, true], ['Firefox', launchFirefox, false]]) {
  test(`${name}: WHIP publish and WHEP view against a quiet server`, { timeout: 180000 }, async (t) => {
    const browser = await launch();
    t.after(() => browser.close().catch(() => {}));
    const srv15 = await startServer();
    t.after(() => srv15.stop());
    await t.test('control: right after the server started (not quiet)', (st) => quietRun(st, srv15, browser, null, 'control'));
    if (defaultTimeout) {
      await t.test('after a quiet spell longer than the default liveness timeout (15 s)',
        (st) => quietRun(st, srv15, browser, 15, 'quiet-default'));
    }
    const srv3 = await startServer(['--liveness-timeout', '3']);
    t.after(() => srv3.stop());
    await t.test('after the quiet start (liveness timeout 3 s)', (st) => quietRun(st, srv3, browser, 3, 'quiet-1'));
    await t.test('after a run, then a quiet spell (liveness timeout 3 s)', (st) => quietRun(st, srv3, browser, 3, 'quiet-2'));
    assert.ok(srv15.alive() && srv3.alive(), 'the servers are alive');
  });
}
