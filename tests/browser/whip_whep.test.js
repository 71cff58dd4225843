// 1. Chromium publishes with WHIP; two Chromium viewers decode it with WHEP.
//    When the publisher leaves, the viewers' sessions end.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startServer, launchChromium, waitFor, whipPublish, whepView, receiveStats, expectDecoding,
} = require('./lib');

test('WHIP publish, two WHEP viewers, publisher leaves', { timeout: 120000 }, async (t) => {
  const srv = await startServer();
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => {});
    await srv.stop();
  });

  const publisher = await browser.newPage();
  await publisher.goto(`${srv.url}/`);
  const whip = await publisher.evaluate(whipPublish, { url: `${srv.url}/whip/live`, token: srv.token });
  assert.match(whip, /\/whip\/live\/[0-9a-f]{32}$/);
  await waitFor(() => publisher.evaluate(() => window.pc.connectionState === 'connected'),
    20000, 'the publisher to connect');

  const viewers = [];
  const wheps = [];
  for (let i = 0; i < 2; i++) {
    const page = await browser.newPage();
    await page.goto(`${srv.url}/`);
    wheps.push(await page.evaluate(whepView, { url: `${srv.url}/whep/live`, token: srv.token }));
    viewers.push(page);
  }
  for (const [i, page] of viewers.entries()) {
    const s = await expectDecoding(page, `viewer ${i + 1}`);
    t.diagnostic(`viewer ${i + 1}: ${s.framesDecoded} frames at width ${s.frameWidth}, ${s.audioPackets} audio packets`);
  }

  // The publisher leaves: its viewers' transports are closed and their
  // sessions are gone.
  const del = await fetch(whip, { method: 'DELETE', headers: srv.auth });
  assert.equal(del.status, 200);
  // They are told at once: DTLS close_notify closes their DTLS transport.
  for (const [i, page] of viewers.entries()) {
    const s = await waitFor(async () => {
      const s = await page.evaluate(receiveStats);
      return s.dtls === 'closed' && s;
    }, 3000, `viewer ${i + 1} to be told the stream ended`);
    t.diagnostic(`viewer ${i + 1} after the publisher left: DTLS ${s.dtls}, connection ${s.state}`);
  }
  for (const loc of wheps) {
    const r = await fetch(loc, { method: 'DELETE', headers: srv.auth });
    assert.equal(r.status, 404, 'viewer sessions are cleaned up with their publisher');
  }
  const gone = await fetch(`${srv.url}/whep/live`, {
    method: 'POST',
    headers: { ...srv.auth, 'Content-Type': 'application/sdp' },
    body: 'v=0\r\n',
  });
  assert.equal(gone.status, 404);
  assert.ok(srv.alive());
  const exit = await srv.stop();
  assert.equal(exit.code, 0, `clean exit on Ctrl-C\n${srv.log()}`);
});
