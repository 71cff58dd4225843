// 5. Layers through the WHEP layer extension ({Location}/layer):
//    - Chromium publishes VP8 simulcast q/h/f; a WHEP viewer switches
//      q → f → h and its decoded width follows (320 → 1280 → 640);
//    - a viewer whose offer limits video to 300 kbps (b=TIAS/b=AS) gets a
//      low layer while an unlimited viewer of the same stream keeps 1280;
//    - VP9 SVC (L3T3_KEY): the viewer's width follows spatialLayerId;
//    - AV1 L1T3 with the Dependency Descriptor: its frame rate follows
//      temporalLayerId.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startServer, launchChromium, waitFor, sleep,
  whipPublishLayered, whepViewVideo, videoStats, sendStats,
} = require('./lib');

const REL = 'urn:ietf:params:whep:ext:core:layer';

/** POST a layer choice; resolves to { status, body }. */
async function postLayer(srv, layerUrl, choice, headers = {}) {
  const r = await fetch(layerUrl, {
    method: 'POST',
    headers: { ...srv.auth, 'Content-Type': 'application/json', ...headers },
    body: typeof choice === 'string' ? choice : JSON.stringify(choice),
  });
  const text = await r.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* an error message */ }
  return { status: r.status, body };
}

/** The server's view of a viewer: layers, allocation, bandwidth. */
async function layerState(srv, layerUrl) {
  const r = await fetch(layerUrl, { headers: srv.auth });
  return r.status === 200 ? r.json() : { status: r.status };
}

function brief(state) {
  if (!state || !state.tracks) return JSON.stringify(state);
  const l = (x) => (x ? `${x.encodingId || `S${x.spatialLayerId}`}T${x.temporalLayerId}` : '-');
  const t = state.tracks.map((t) => `preferred ${l(t.preferred)} target ${l(t.target)} current ${l(t.current)}`
    + ` alloc ${t.allocatedBitrate} paused ${t.pausedForBandwidth}`
    + ` enc [${t.encodings.map((e) => `${e.encodingId}:${e.live ? Math.round(e.bitrate / 1000) : 'off'}`).join(' ')}]`);
  const b = state.bandwidth;
  return `${t.join('; ')} | estimate ${b.estimate} allocated ${b.allocated} desired ${b.desired} sdpCap ${b.sdpCap}`;
}

/** A new page viewing `stream`; resolves to { page, location, layer }. */
async function viewer(browser, srv, stream, opts = {}) {
  const page = await browser.newPage();
  await page.goto(`${srv.url}/`);
  const v = await page.evaluate(whepViewVideo, { url: `${srv.url}/whep/${stream}`, token: srv.token, ...opts });
  const path = new URL(v.location).pathname;
  assert.equal(v.link, `<${path}/layer>; rel="${REL}"`, 'the 201 links the layer extension');
  return { page, ...v, layer: `${srv.url}${path}/layer` };
}

/** Wait until the viewer decodes at `width`, and keeps decoding. */
async function expectWidth(t, srv, v, width, ms, what) {
  const start = Date.now();
  let s;
  try {
    s = await waitFor(async () => {
      const s = await v.page.evaluate(videoStats);
      return s.frameWidth === width && s;
    }, ms, `${what} to decode at width ${width}`);
  } catch (e) {
    e.message += `\n  server: ${brief(await layerState(srv, v.layer))}`;
    throw e;
  }
  const later = await waitFor(async () => {
    const n = await v.page.evaluate(videoStats);
    return n.framesDecoded > s.framesDecoded + 10 && n;
  }, 10000, `${what} to keep decoding at ${width}`);
  assert.equal(later.frameWidth, width, `${what} stays at ${width}`);
  t.diagnostic(`${what}: width ${width} after ${Date.now() - start} ms; ${later.framesDecoded} frames, `
    + `${later.pliCount} PLIs | ${brief(await layerState(srv, v.layer))}`);
  return later;
}

/** Decoded frames per second over `ms`. */
async function fps(page, ms = 2000) {
  const a = await page.evaluate(videoStats);
  await sleep(ms);
  const b = await page.evaluate(videoStats);
  return ((b.framesDecoded - a.framesDecoded) * 1000) / (b.at - a.at);
}

test('layers through the WHEP layer extension', { timeout: 170000 }, async (t) => {
  const srv = await startServer();
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => {});
    await srv.stop();
  });

  await t.test('simulcast q → f → h; SDP-limited viewer stays low', async (t) => {
    const pub = await browser.newPage();
    await pub.goto(`${srv.url}/`);
    const p = await pub.evaluate(whipPublishLayered, { url: `${srv.url}/whip/sim`, token: srv.token, mode: 'simulcast' });
    for (const rid of ['q', 'h', 'f']) assert.match(p.answer, new RegExp(`^a=rid:${rid} recv`, 'm'));
    assert.match(p.answer, /^a=simulcast:recv q;h;f/m);
    // Chromium adds encodings as its own estimate grows.
    const sending = await waitFor(async () => {
      const s = await pub.evaluate(sendStats);
      return s.length === 3 && s.every((e) => e.width > 0 && e.fps > 0) && s;
    }, 20000, 'Chromium to send all three encodings');
    t.diagnostic(`publisher sends ${sending.map((e) => `${e.rid} ${e.width}x${e.height}@${e.fps}`).join(', ')}`);

    const v = await viewer(browser, srv, 'sim');
    let r = await postLayer(srv, v.layer, { encodingId: 'q' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const q = await expectWidth(t, srv, v, 320, 15000, 'q');
    r = await postLayer(srv, v.layer, { encodingId: 'f' });
    assert.equal(r.status, 200);
    await expectWidth(t, srv, v, 1280, 20000, 'f');
    r = await postLayer(srv, v.layer, { encodingId: 'h' });
    assert.equal(r.status, 200);
    const h = await expectWidth(t, srv, v, 640, 15000, 'h');
    assert.ok(h.framesDecoded > q.framesDecoded, 'frames keep being decoded');
    assert.ok(h.pliCount <= 10, `${h.pliCount} PLIs from the viewer`);

    // Errors: bad JSON, unknown encoding, both ways of naming a layer, unknown session.
    assert.equal((await postLayer(srv, v.layer, '{"encodingId":')).status, 400);
    assert.equal((await postLayer(srv, v.layer, { encodingId: 'x' })).status, 400);
    assert.equal((await postLayer(srv, v.layer, { encodingId: 'q', spatialLayerId: 0 })).status, 400);
    assert.equal((await postLayer(srv, v.layer, {})).status, 400);
    const unknown = v.layer.replace(/[0-9a-f]{32}\/layer$/, `${'0'.repeat(32)}/layer`);
    assert.equal((await postLayer(srv, unknown, { encodingId: 'q' })).status, 404);
    assert.equal((await postLayer(srv, v.layer, { encodingId: 'q' }, { Authorization: 'Bearer nope' })).status, 401);
    await v.page.close();

    // Issue #5, test 7: the viewer's SDP limits it to 300 kbps.
    const limited = await viewer(browser, srv, 'sim', { limit: 300 });
    const free = await viewer(browser, srv, 'sim');
    const state = await waitFor(async () => {
      const s = await layerState(srv, limited.layer);
      return s.bandwidth && s.bandwidth.sdpCap && s;
    }, 5000, 'the server to see the SDP limit');
    assert.equal(state.bandwidth.sdpCap, 300000);
    await expectWidth(t, srv, free, 1280, 20000, 'unlimited viewer');
    const low = await waitFor(async () => {
      const s = await limited.page.evaluate(videoStats);
      return s.framesDecoded > 10 && [320, 640].includes(s.frameWidth) && s;
    }, 20000, 'the limited viewer to get a low layer');
    await sleep(3000);
    const [l2, f2] = await Promise.all([limited.page.evaluate(videoStats), free.page.evaluate(videoStats)]);
    t.diagnostic(`limited viewer: width ${l2.frameWidth}, ${l2.framesDecoded} frames | ${brief(await layerState(srv, limited.layer))}`);
    t.diagnostic(`unlimited viewer: width ${f2.frameWidth} | ${brief(await layerState(srv, free.layer))}`);
    assert.ok([320, 640].includes(l2.frameWidth), `limited viewer at ${l2.frameWidth}`);
    assert.ok(l2.framesDecoded > low.framesDecoded, 'the limited viewer keeps decoding');
    assert.equal(f2.frameWidth, 1280);
    await Promise.all([limited.page.close(), free.page.close(), pub.close()]);
  });

  await t.test('VP9 SVC L3T3_KEY: width follows spatialLayerId', async (t) => {
    const pub = await browser.newPage();
    await pub.goto(`${srv.url}/`);
    const p = await pub.evaluate(whipPublishLayered, { url: `${srv.url}/whip/vp9`, token: srv.token, mode: 'vp9' });
    t.diagnostic(`answer: ${p.answer.split('\r\n').filter((l) => /^a=(rtpmap|fmtp):\d+ (VP9|profile)/.test(l)).slice(0, 2).join(' ')}`);
    const sending = await waitFor(async () => {
      const s = await pub.evaluate(sendStats);
      return s.length === 1 && s[0].width === 1280 && s[0].fps > 0 && s;
    }, 20000, 'Chromium to send VP9 SVC at 1280');
    t.diagnostic(`publisher sends ${JSON.stringify(sending)}`);
    const v = await viewer(browser, srv, 'vp9');
    const w = await waitFor(async () => (await v.page.evaluate(videoStats)).framesDecoded > 5, 15000, 'VP9 frames');
    assert.ok(w);
    for (const [s, width] of [[0, 320], [2, 1280], [1, 640]]) {
      const r = await postLayer(srv, v.layer, { spatialLayerId: s, temporalLayerId: 2 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const st = await expectWidth(t, srv, v, width, 15000, `VP9 S${s}`);
      assert.equal(st.codec, 'video/VP9');
    }
    await Promise.all([v.page.close(), pub.close()]);
  });

  await t.test('AV1 L1T3 with the Dependency Descriptor: frame rate follows temporalLayerId', async (t) => {
    const pub = await browser.newPage();
    await pub.goto(`${srv.url}/`);
    const p = await pub.evaluate(whipPublishLayered, { url: `${srv.url}/whip/av1`, token: srv.token, mode: 'av1' });
    const ddLines = (sdp) => sdp.split('\r\n').filter((l) => /dependency-descriptor/.test(l)).join(' ');
    t.diagnostic(`publisher offer: ${ddLines(p.offer)}; answer: ${ddLines(p.answer) || 'no DD'}`);
    const sending = await waitFor(async () => {
      const s = await pub.evaluate(sendStats);
      return s.length === 1 && s[0].fps > 0 && s;
    }, 20000, 'Chromium to send AV1');
    t.diagnostic(`publisher sends ${JSON.stringify(sending)}`);
    const v = await viewer(browser, srv, 'av1', { dd: true });
    t.diagnostic(`viewer offer: ${ddLines(v.offer)}; answer: ${ddLines(v.answer) || 'no DD'}`);
    await waitFor(async () => (await v.page.evaluate(videoStats)).framesDecoded > 10, 15000, 'AV1 frames');
    const rates = {};
    for (const tl of [0, 2, 0]) {
      const r = await postLayer(srv, v.layer, { temporalLayerId: tl });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await sleep(1000);
      rates[tl] = await fps(v.page);
      const s = await v.page.evaluate(videoStats);
      t.diagnostic(`AV1 T${tl}: ${rates[tl].toFixed(1)} fps, codec ${s.codec}, ${s.pliCount} PLIs | ${brief(await layerState(srv, v.layer))}`);
    }
    assert.ok(rates[0] < rates[2] * 0.5, `T0 ${rates[0]} fps vs T2 ${rates[2]} fps`);
    await Promise.all([v.page.close(), pub.close()]);
  });
  assert.ok(srv.alive());
});
