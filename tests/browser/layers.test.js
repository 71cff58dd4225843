// 5. Layers through the WHEP layer extension ({Location}/layer).
//    With bandwidth allocation off (--no-bwe), so only the viewer's choice
//    decides:
//    - Chromium publishes VP8 simulcast q/h/f; a WHEP viewer switches
//      q → f → h and its decoded width follows (320 → 1280 → 640);
//    - VP9 SVC (L3T3_KEY): the viewer's width follows spatialLayerId;
//    - AV1 L1T3 with the Dependency Descriptor: its frame rate follows
//      temporalLayerId.
//    With allocation on (the default; issue #5, test 7): a viewer whose
//    offer limits video to 300 kbps (b=TIAS and b=AS) gets a low layer while
//    an unlimited viewer of the same stream gets 1280.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  startServer, launchChromium, waitFor, sleep, videoStats, sendStats,
} = require('./lib');
const {
  postLayer, layerState, brief, viewer, expectWidth, fps, publisher, sendsAllEncodings,
} = require('./layers_lib');

test('layer switching through the WHEP layer extension', { timeout: 120000 }, async (t) => {
  const srv = await startServer(['--no-bwe']);
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => {});
    await srv.stop();
  });

  await t.test('simulcast: q → f → h', async (t) => {
    const pub = await publisher(browser, srv, 'sim', 'simulcast');
    await sendsAllEncodings(t, pub.page);
    const v = await viewer(browser, srv, 'sim');
    let r = await postLayer(srv, v.layer, { encodingId: 'q' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.tracks[0].preferred.encodingId, 'q');
    const q = await expectWidth(t, srv, v, 320, 15000, 'q');
    r = await postLayer(srv, v.layer, { encodingId: 'f' });
    assert.equal(r.status, 200);
    await expectWidth(t, srv, v, 1280, 15000, 'f');
    r = await postLayer(srv, v.layer, { encodingId: 'h' });
    assert.equal(r.status, 200);
    const h = await expectWidth(t, srv, v, 640, 15000, 'h');
    assert.ok(h.framesDecoded > q.framesDecoded + 30, 'frames keep being decoded');
    assert.ok(h.pliCount <= 10, `${h.pliCount} PLIs from the viewer`);

    // Errors: bad JSON, unknown encoding, both ways of naming a layer,
    // nothing named, wrong type, unknown session, wrong token.
    const expect = async (choice, status, what, headers) => {
      const r = await postLayer(srv, v.layer, choice, headers);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      t.diagnostic(`${what}: ${r.status} ${String(r.body).trim()}`);
    };
    await expect('{"encodingId":', 400, 'bad JSON');
    await expect({ encodingId: 'x' }, 400, 'unknown encoding');
    await expect({ encodingId: 'q', spatialLayerId: 0 }, 400, 'encodingId and spatialLayerId');
    await expect({}, 400, 'no layer');
    await expect({ spatialLayerId: -1 }, 400, 'negative layer');
    await expect({ encodingId: 'q' }, 415, 'not JSON', { 'Content-Type': 'text/plain' });
    await expect({ encodingId: 'q' }, 401, 'wrong token', { Authorization: 'Bearer nope' });
    const unknown = v.layer.replace(/[0-9a-f]{32}\/layer$/, `${'0'.repeat(32)}/layer`);
    const r404 = await postLayer(srv, unknown, { encodingId: 'q' });
    assert.equal(r404.status, 404);
    const onPublisher = `${pub.location.replace("/whip/", "/whep/")}/layer`;
    assert.equal((await postLayer(srv, onPublisher, { encodingId: 'q' })).status, 404, 'a WHIP session has no layers');
    // The viewer still decodes h.
    const after = await v.page.evaluate(videoStats);
    assert.equal(after.frameWidth, 640);
    await Promise.all([v.page.close(), pub.page.close()]);
  });

  await t.test('VP9 SVC L3T3_KEY: width follows spatialLayerId', async (t) => {
    const pub = await publisher(browser, srv, 'vp9', 'vp9');
    const sending = await waitFor(async () => {
      const s = await pub.page.evaluate(sendStats);
      return s.length === 1 && s[0].width === 1280 && s[0].fps > 0 && s[0];
    }, 20000, 'Chromium to send VP9 at 1280');
    t.diagnostic(`publisher sends ${sending.codec} ${sending.mode} ${sending.width}x${sending.height}@${sending.fps}`);
    assert.equal(sending.codec, 'video/VP9');
    assert.equal(sending.mode, 'L3T3_KEY');
    const v = await viewer(browser, srv, 'vp9');
    for (const [s, width] of [[0, 320], [2, 1280], [1, 640]]) {
      const r = await postLayer(srv, v.layer, { spatialLayerId: s, temporalLayerId: 2 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const st = await expectWidth(t, srv, v, width, 15000, `VP9 S${s}`);
      assert.equal(st.codec, 'video/VP9');
      assert.ok(st.pliCount <= 10, `${st.pliCount} PLIs from the viewer`);
    }
    await Promise.all([v.page.close(), pub.page.close()]);
  });

  await t.test('AV1 L1T3 with the Dependency Descriptor: frame rate follows temporalLayerId', async (t) => {
    // 640x360 is enough here and spares the CPU.
    const pub = await publisher(browser, srv, 'av1', 'av1', 2);
    const dd = (sdp) => sdp.split('\r\n').filter((l) => /dependency-descriptor/.test(l)).join(' ');
    t.diagnostic(`publisher offer: ${dd(pub.offer)}; answer: ${dd(pub.answer) || 'no DD'}`);
    assert.match(dd(pub.answer), /^a=extmap:\d+ /, 'the answer accepts the Dependency Descriptor');
    const sending = await waitFor(async () => {
      const s = await pub.page.evaluate(sendStats);
      return s.length === 1 && s[0].fps > 0 && s[0];
    }, 20000, 'Chromium to send AV1');
    t.diagnostic(`publisher sends ${sending.codec} ${sending.mode} ${sending.width}x${sending.height}@${sending.fps}`);
    assert.equal(sending.codec, 'video/AV1');
    const v = await viewer(browser, srv, 'av1', { dd: true });
    assert.match(dd(v.answer), /^a=extmap:\d+ /, 'the viewer gets the Dependency Descriptor');
    await waitFor(async () => (await v.page.evaluate(videoStats)).framesDecoded > 10, 15000, 'AV1 frames');
    const rates = [];
    for (const tl of [0, 2, 0]) {
      const r = await postLayer(srv, v.layer, { temporalLayerId: tl });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await sleep(700);
      const rate = await fps(v.page);
      const s = await v.page.evaluate(videoStats);
      rates.push(rate);
      t.diagnostic(`AV1 T${tl}: ${rate.toFixed(1)} fps decoded (${s.codec}, ${s.frameWidth}px, ${s.pliCount} PLIs) | ${brief(await layerState(srv, v.layer))}`);
      assert.equal(s.codec, 'video/AV1');
    }
    // L1T3: T0 is every 4th frame.
    assert.ok(rates[1] > 10, `T2 at ${rates[1]} fps`);
    assert.ok(rates[0] < rates[1] * 0.4 && rates[2] < rates[1] * 0.4, `T0 ${rates[0]}/${rates[2]} fps vs T2 ${rates[1]} fps`);
    assert.ok(rates[0] > 2 && rates[2] > 2, 'T0 still decodes');
    await Promise.all([v.page.close(), pub.page.close()]);
  });
  assert.ok(srv.alive());
});

test('issue #5 test 7: an SDP-limited viewer gets a low layer, an unlimited one 1280', { timeout: 90000 }, async (t) => {
  const srv = await startServer();
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => {});
    await srv.stop();
  });
  const pub = await publisher(browser, srv, 'sim', 'simulcast');
  await sendsAllEncodings(t, pub.page);
  // The limited viewer's offer carries b=AS:300 and b=TIAS:300000 in its video section.
  const limited = await viewer(browser, srv, 'sim', { limit: 300 });
  assert.match(limited.offer, /^m=video[^]*^b=AS:300\r\nb=TIAS:300000\r\n/m);
  const free = await viewer(browser, srv, 'sim');
  const capped = await layerState(srv, limited.layer);
  assert.equal(capped.bandwidth.sdpCap, 300000, 'the server reads the SDP limit');
  assert.equal((await layerState(srv, free.layer)).bandwidth.sdpCap, null);

  // Allocation starts 3 s after the first estimate: from then on the
  // limited viewer stays low; the unlimited one gets the top encoding.
  const low = await waitFor(async () => {
    const s = await layerState(srv, limited.layer);
    return s.bandwidth.allocated > 0 && s.tracks[0].current && s.tracks[0].current.spatialLayerId <= 1 && s;
  }, 15000, 'the allocator to hold the limited viewer low');
  t.diagnostic(`limited viewer held low: ${brief(low)}`);
  await waitFor(async () => [320, 640].includes((await limited.page.evaluate(videoStats)).frameWidth),
    5000, 'the limited viewer to decode a low layer');
  const widths = { limited: [], free: [] };
  const end = Date.now() + 6000;
  while (Date.now() < end || !widths.free.includes(1280)) {
    const [l, f] = await Promise.all([limited.page.evaluate(videoStats), free.page.evaluate(videoStats)]);
    widths.limited.push(l.frameWidth);
    widths.free.push(f.frameWidth);
    if (Date.now() > end + 14000) break;
    await sleep(250);
  }
  const share = (a, w) => `${Math.round((100 * a.filter((x) => x === w).length) / a.length)}%`;
  t.diagnostic(`limited viewer: ${share(widths.limited, 320)} of samples at 320, ${share(widths.limited, 640)} at 640 | ${brief(await layerState(srv, limited.layer))}`);
  t.diagnostic(`unlimited viewer: ${share(widths.free, 1280)} of samples at 1280, ${share(widths.free, 640)} at 640 | ${brief(await layerState(srv, free.layer))}`);
  assert.ok(widths.limited.every((w) => w === 320 || w === 640), `limited viewer widths ${widths.limited}`);
  assert.ok(widths.free.includes(1280), `unlimited viewer widths ${widths.free}`);
  const [l, f] = await Promise.all([limited.page.evaluate(videoStats), free.page.evaluate(videoStats)]);
  assert.ok(l.framesDecoded > 50 && f.framesDecoded > 50, 'both keep decoding');
  assert.ok(srv.alive());
});
