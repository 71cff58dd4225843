// 4. Error paths: each bad request gets its 4xx with a message, and the
//    server keeps serving whatever clients send.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const crypto = require('node:crypto');
const { startServer, launchChromium } = require('./lib');

// A minimal offer that sends one Opus track (no ICE will ever happen).
function offer() {
  const fp = Array.from(crypto.randomBytes(32), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
  return [
    'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
    'a=group:BUNDLE 0', 'a=msid-semantic: WMS',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:Zx9q', 'a=ice-pwd:4bSWoBkqWqMIXeWgUhdq2Ewh', 'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fp}`, 'a=setup:actpass', 'a=mid:0', 'a=sendonly',
    'a=msid:s a', 'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1', 'a=ssrc:11111111 cname:test', '',
  ].join('\r\n');
}

test('error paths answer 4xx and the server stays up', { timeout: 60000 }, async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  const sdp = { 'Content-Type': 'application/sdp' };
  const post = (path, body, headers = { ...srv.auth, ...sdp }) =>
    fetch(`${srv.url}${path}`, { method: 'POST', headers, body });
  const expect = async (res, status, what) => {
    const text = await res.text();
    assert.equal(res.status, status, `${what}: ${text}`);
    if (status >= 400) assert.ok(text.trim().length > 0, `${what} has a message`);
    t.diagnostic(`${what}: ${res.status} ${text.trim().split('\n')[0].slice(0, 80)}`);
    return res;
  };

  await expect(await post('/whip/s1', 'v=0\r\nthis is not sdp\r\n'), 400, 'bad SDP');
  await expect(await post('/whip/s1', 'hello'), 400, 'not SDP at all');
  await expect(await post('/whip/s1', offer(), { ...srv.auth, 'Content-Type': 'text/plain' }), 415, 'wrong content type');
  await expect(await post('/whep/nobody', offer()), 404, 'unknown stream');
  await expect(await post('/whip/s1', offer(), sdp), 401, 'no token');
  await expect(await post('/whip/s1', offer(), { ...sdp, Authorization: 'Bearer wrong' }), 401, 'wrong token');
  await expect(await post('/whip/s1', 'v=0\r\n' + 'a=x\r\n'.repeat(30000)), 413, 'oversized body');
  await expect(await post('/whip/bad%20name', offer()), 400, 'bad stream name');
  await expect(await fetch(`${srv.url}/nope`), 404, 'unknown resource');

  const created = await expect(await post('/whip/s1', offer()), 201, 'publish');
  assert.equal(created.headers.get('content-type'), 'application/sdp');
  const loc = created.headers.get('location');
  assert.match(loc, /^\/whip\/s1\/[0-9a-f]{32}$/);
  await expect(await post('/whip/s1', offer()), 409, 'second publisher');
  const pre = await fetch(`${srv.url}/whip/s1`, { method: 'OPTIONS' });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  // Header names are case-insensitive (tower-http's CorsLayer writes them in lower case).
  assert.match(pre.headers.get('access-control-allow-headers'), /authorization/i);
  assert.equal(pre.headers.get('accept-post'), 'application/sdp');
  assert.match(pre.headers.get('allow'), /POST/);
  // A browser's preflight (Origin and Access-Control-Request-Method) gets the same answer.
  const preflight = await fetch(`${srv.url}/whip/s1`, {
    method: 'OPTIONS',
    headers: { Origin: 'https://example.org', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.match(preflight.headers.get('access-control-allow-methods'), /POST/);
  assert.match(preflight.headers.get('access-control-allow-headers'), /content-type/i);
  // A session (its Location) answers OPTIONS with its own methods.
  const session = await fetch(`${srv.url}${loc}`, { method: 'OPTIONS' });
  assert.equal(session.status, 204);
  assert.equal(session.headers.get('allow'), 'DELETE, OPTIONS');
  assert.equal(session.headers.get('access-control-allow-origin'), '*');
  // The 201 of a cross-origin request lets the page read its Location.
  assert.equal(created.headers.get('access-control-allow-origin'), '*');
  assert.match(created.headers.get('access-control-expose-headers'), /location/i);
  await expect(await fetch(`${srv.url}${loc}`, { method: 'PATCH', headers: srv.auth }), 405, 'PATCH (trickle)');
  await expect(await fetch(`${srv.url}${loc}`, { method: 'DELETE' }), 401, 'DELETE without token');
  await expect(await fetch(`${srv.url}/whip/s1/${'0'.repeat(32)}`, { method: 'DELETE', headers: srv.auth }), 404, 'DELETE unknown session');
  await expect(await fetch(`${srv.url}${loc}`, { method: 'DELETE', headers: srv.auth }), 200, 'DELETE');
  await expect(await fetch(`${srv.url}${loc}`, { method: 'DELETE', headers: srv.auth }), 404, 'DELETE twice');
  await expect(await post('/whip/s1', offer()), 201, 'publish again after DELETE');

  // Garbage on the media port.
  const sock = dgram.createSocket('udp4');
  for (let i = 0; i < 300; i++) {
    const junk = crypto.randomBytes(1 + (i * 7) % 1400);
    if (i % 3 === 0) junk[0] = 0x80; // looks like RTP
    if (i % 3 === 1) { junk[0] = 0; junk[1] = 1; } // looks like STUN
    sock.send(junk, srv.udp.port, srv.udp.host);
  }
  await new Promise((r) => setTimeout(r, 300));
  sock.close();

  // Garbage on the room WebSocket, from a page.
  const browser = await launchChromium();
  t.after(() => browser.close().catch(() => {}));
  const page = await browser.newPage();
  await page.goto(`${srv.url}/`);
  const ws = await page.evaluate(async ({ token }) => {
    const open = (q) => new Promise((resolve) => {
      const ws = new WebSocket(`ws://${location.host}/room/r/ws?${q}`);
      const got = [];
      ws.onmessage = (e) => got.push(JSON.parse(e.data));
      ws.onopen = () => resolve({ ws, got, open: true });
      ws.onerror = () => resolve({ ws, got, open: false });
    });
    const wait = (ms) => new Promise((r) => setTimeout(r, ms));
    const denied = await open(`name=x&token=wrong`);
    const bad = await open(`name=${'x'.repeat(100)}&token=${token}`);
    const c = await open(`name=eve&token=${token}`);
    c.ws.send('not json');
    c.ws.send(JSON.stringify({ type: 'answer', sdp: 'v=0' }));
    c.ws.send(JSON.stringify({ type: 'offer', sdp: 'garbage' }));
    c.ws.send(JSON.stringify({ type: 'mute', kind: 'smell', muted: true }));
    c.ws.send(new Uint8Array([1, 2, 3]));
    await wait(500);
    const closed = new Promise((r) => { c.ws.onclose = () => r(true); });
    c.ws.send('x'.repeat(300 * 1024));
    const big = await Promise.race([closed, wait(3000).then(() => false)]);
    return { denied: denied.open, bad: bad.open, got: c.got, closedOnBig: big };
  }, { token: srv.token });
  assert.equal(ws.denied, false, 'wrong token: no WebSocket');
  assert.equal(ws.bad, false, 'bad participant name: no WebSocket');
  assert.equal(ws.got[0].type, 'welcome');
  const errors = ws.got.filter((m) => m.type === 'error');
  assert.equal(errors.length, 5, JSON.stringify(ws.got));
  t.diagnostic(`WebSocket errors: ${errors.map((m) => m.message.slice(0, 50)).join(' | ')}`);
  assert.equal(ws.closedOnBig, true, 'an oversized WebSocket message closes the socket');

  // Still serving.
  assert.ok(srv.alive());
  await expect(await fetch(`${srv.url}/`), 200, 'index page');
  await expect(await post('/whip/s2', offer()), 201, 'a new publisher');
  const exit = await srv.stop();
  assert.equal(exit.code, 0, `clean exit on Ctrl-C\n${srv.log()}`);
});
