// Helpers of the layer tests (layers.test.js, owned_send_path.test.js):
// the WHEP layer extension, layered publishers and viewers.
'use strict';

const assert = require('node:assert/strict');
const {
  waitFor, sleep, whipPublishLayered, whepViewVideo, videoStats, sendStats,
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

/** A page publishing `stream` in layers; checks the answer's simulcast lines. */
async function publisher(browser, srv, stream, mode, scale) {
  const page = await browser.newPage();
  await page.goto(`${srv.url}/`);
  const p = await page.evaluate(whipPublishLayered, { url: `${srv.url}/whip/${stream}`, token: srv.token, mode, scale });
  if (mode === 'simulcast') {
    for (const rid of ['q', 'h', 'f']) assert.match(p.answer, new RegExp(`^a=rid:${rid} recv`, 'm'));
    assert.match(p.answer, /^a=simulcast:recv q;h;f/m);
  }
  return { page, ...p };
}

/** Wait until Chromium sends all three simulcast encodings (it adds them as its estimate grows). */
async function sendsAllEncodings(t, pub) {
  const sending = await waitFor(async () => {
    const s = await pub.evaluate(sendStats);
    return s.length === 3 && s.every((e) => e.width > 0 && e.fps > 0) && s;
  }, 20000, 'Chromium to send all three encodings');
  t.diagnostic(`publisher sends ${sending.map((e) => `${e.rid} ${e.width}x${e.height}@${e.fps}`).join(', ')}`);
}

module.exports = {
  REL, postLayer, layerState, brief, viewer, expectWidth, fps, publisher, sendsAllEncodings,
};
