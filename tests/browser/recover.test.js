// 6. The room page recovers by itself. Two Chromium members play each
//    other; the operator closes alice's media session (DELETE
//    .../members/alice/media), or drops her WebSocket (DELETE
//    .../members/alice/socket). Within 10 s, without a reload, alice's page
//    decodes bob's video again and bob's page decodes alice's new one, each
//    page has one tile per other member, and the server holds exactly the
//    two members' transports. Dropped again before it was stable, the page
//    waits longer each time (backoff), and the count starts over after 10 s
//    connected. A page replaced by a newer session with its name stops
//    instead of fighting it, and the replaced transport is gone.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer, launchChromium, waitFor, sleep } = require('./lib');

const ROOM = 'recover';
const RECOVER_MS = 10000;

/** Run in a page: what its tile of `peer` plays and decodes. */
async function probe(peer) {
  const tiles = document.querySelectorAll(`[data-tile="${peer}"]`).length;
  const v = document.querySelector(`video[data-peer="${peer}"]`);
  const track = v && v.srcObject && v.srcObject.getVideoTracks()[0];
  const status = document.getElementById('status');
  const out = {
    tiles,
    remote: document.querySelectorAll('video[data-remote]').length,
    state: status.dataset.state,
    attempt: status.dataset.attempt,
    text: status.textContent,
    marker: window.recoverMarker || null,
    states: window.recoverStates || [],
    times: window.recoverTimes || [],
    track: track ? track.id : null,
    playing: !!v && !v.paused && v.readyState >= 2 && v.videoWidth > 0,
    time: v ? v.currentTime : 0,
    frames: -1,
  };
  const pc = window.pcForTests();
  if (!track || !pc) return out;
  const stats = await pc.getStats();
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.trackIdentifier === track.id) out.frames = s.framesDecoded || 0;
  });
  return out;
}

/** Run in a page: set a marker a reload would lose; log status changes. */
function mark() {
  window.recoverMarker = `m${Math.random()}`;
  window.recoverStates = [];
  window.recoverTimes = [];
  const el = document.getElementById('status');
  new MutationObserver(() => {
    const s = `${el.dataset.state}:${el.dataset.attempt}`;
    if (window.recoverStates[window.recoverStates.length - 1] === s) return;
    window.recoverStates.push(s);
    window.recoverTimes.push(Date.now());
  }).observe(el, { attributes: true, attributeFilter: ['data-state', 'data-attempt'] });
  return window.recoverMarker;
}

async function members(srv) {
  const r = await fetch(`${srv.url}/room/${ROOM}/members`, { headers: srv.auth });
  assert.equal(r.status, 200);
  return r.json();
}

/** Wait until `page` decodes a new track of `peer` (not `oldTrack`) and both advance. */
async function waitDecoding(page, peer, oldTrack, deadline, what) {
  let first = null;
  return waitFor(async () => {
    const p = await page.evaluate(probe, peer);
    if (!p.track || p.track === oldTrack || !p.playing || p.frames <= 0) return false;
    if (!first || first.track !== p.track) { first = p; return false; }
    return p.frames > first.frames + 5 && p.time > first.time + 0.2 && p;
  }, Math.max(0, deadline - Date.now()), what);
}

/** Two members playing each other; resolves to { pages, before }. */
async function twoMembers(t, srv, browser) {
  const pages = {};
  for (const name of ['alice', 'bob']) {
    pages[name] = await browser.newPage();
    await pages[name].goto(`${srv.url}/room/${ROOM}?name=${name}&token=${srv.token}`);
  }
  const start = Date.now();
  const deadline = start + 60000;
  const before = {
    alice: await waitDecoding(pages.alice, 'bob', null, deadline, 'alice to play bob'),
    bob: await waitDecoding(pages.bob, 'alice', null, deadline, 'bob to play alice'),
  };
  await waitFor(async () => (await pages.alice.evaluate(probe, 'bob')).state === 'connected',
    5000, 'alice\'s status to say connected');
  t.diagnostic(`alice and bob play each other after ${Date.now() - start} ms`);
  return { pages, before };
}

/** The operator cuts alice off with `DELETE .../members/alice/{what}`; she comes back. */
async function cutAndRecover(t, what) {
  const srv = await startServer();
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => {});
    await srv.stop();
  });
  const { pages, before } = await twoMembers(t, srv, browser);
  // Why the page rejoined (its console: "session N: <why>").
  const why = [];
  pages.alice.on('console', (m) => { if (/^session \d+:/.test(m.text())) why.push(m.text()); });
  const marker = await pages.alice.evaluate(mark);
  const m0 = await members(srv);
  const alice0 = m0.members.find((m) => m.name === 'alice');
  assert.ok(alice0 && alice0.connected, JSON.stringify(m0));

  // No token: refused. Unknown member: 404.
  let r = await fetch(`${srv.url}/room/${ROOM}/members/alice/${what}`, { method: 'DELETE' });
  assert.equal(r.status, 401);
  r = await fetch(`${srv.url}/room/${ROOM}/members/nobody/${what}`, { method: 'DELETE', headers: srv.auth });
  assert.equal(r.status, 404);

  const cut = Date.now();
  r = await fetch(`${srv.url}/room/${ROOM}/members/alice/${what}`, { method: 'DELETE', headers: srv.auth });
  assert.equal(r.status, 200, await r.text());
  const deadline = cut + RECOVER_MS;
  const alice = await waitDecoding(pages.alice, 'bob', before.alice.track, deadline,
    'alice to decode bob again');
  const bob = await waitDecoding(pages.bob, 'alice', before.bob.track, deadline,
    'bob to decode alice again');
  const took = Date.now() - cut;
  t.diagnostic(`${what} cut: both decode each other again after ${took} ms ` +
    `(alice: ${why.join('; ')}; ${alice.states.join(' → ')})`);
  assert.ok(took <= RECOVER_MS, `recovered in ${took} ms`);

  // No reload; the page said what it did and is connected again.
  assert.equal(alice.marker, marker, 'alice\'s page was reloaded');
  assert.ok(alice.states.includes('reconnecting:1'), `alice's states: ${alice.states}`);
  await waitFor(async () => (await pages.alice.evaluate(probe, 'bob')).state === 'connected',
    3000, 'alice\'s status to say connected');
  // One tile per other member on each page: no ghost.
  for (const [name, other] of [['alice', 'bob'], ['bob', 'alice']]) {
    const p = await pages[name].evaluate(probe, other);
    assert.equal(p.tiles, 1, `${name} has ${p.tiles} tiles of ${other}`);
    assert.equal(p.remote, 1, `${name} has ${p.remote} remote videos`);
  }
  // The server: alice on a new transport, the old one gone, nothing leaked.
  const m1 = await waitFor(async () => {
    const m = await members(srv);
    const ok = m.members.length === 2 && m.router.transports === 2 && m.router.producers === 4 &&
      m.router.consumers === 4 && m.members.every((x) => x.connected && x.producers === 2 && x.consumers === 2);
    return ok && m;
  }, 5000, 'the server to hold exactly two members with 2 producers and 2 consumers each');
  const alice1 = m1.members.find((m) => m.name === 'alice');
  assert.notEqual(alice1.transport, alice0.transport);
  assert.ok(srv.alive());
  return { srv, browser, pages };
}

test('the operator closes a member\'s media session: the page rejoins within 10 s', { timeout: 120000 }, async (t) => {
  await cutAndRecover(t, 'media');
});

test('the server drops a member\'s WebSocket: the page rejoins within 10 s; a replaced page stops', { timeout: 120000 }, async (t) => {
  const { srv, browser, pages } = await cutAndRecover(t, 'socket');
  const drop = () => fetch(`${srv.url}/room/${ROOM}/members/alice/socket`, { method: 'DELETE', headers: srv.auth });
  // On a timeout, say where the page is (its states and status text).
  const connected = (n) => waitFor(async () => {
    const p = await pages.alice.evaluate(probe, 'bob');
    if (p.states.filter((x) => x.startsWith('connected')).length >= n && p.state === 'connected') return p;
    throw new Error(`${p.state} "${p.text}" after ${p.states.join(' → ')}`);
  }, 15000, `alice to connect (${n})`);

  // Dropped again before it was stable (10 s): the waits grow (attempt 2:
  // 1-2 s, attempt 3: 2-4 s), and the status says so.
  await pages.alice.evaluate(mark);
  assert.equal((await drop()).status, 200);
  await connected(1);
  assert.equal((await drop()).status, 200);
  const p = await connected(2);
  const waited = (k) => {
    const from = p.states.indexOf(`reconnecting:${k}`);
    const to = p.states.indexOf(`connecting:${k}`);
    assert.ok(from >= 0 && to > from, `states ${p.states}`);
    return p.times[to] - p.times[from];
  };
  const [w2, w3] = [waited(2), waited(3)];
  t.diagnostic(`backoff: attempt 2 after ${w2} ms, attempt 3 after ${w3} ms (${p.states.join(' → ')})`);
  assert.ok(w2 >= 900 && w2 <= 2300, `attempt 2 waited ${w2} ms`);
  assert.ok(w3 >= 1900 && w3 <= 4300, `attempt 3 waited ${w3} ms`);
  // Connected for 10 s: the count starts over.
  await waitFor(async () => (await pages.alice.evaluate(probe, 'bob')).attempt === '0',
    13000, 'alice\'s attempt count to reset after a stable period');

  // Another session with alice's name replaces hers: her page stops (no
  // rejoin war), the newcomer keeps the name.
  const other = await browser.newPage();
  await other.goto(`${srv.url}/`);
  const got = await other.evaluate(async ({ room, token }) => {
    const q = new URLSearchParams({ name: 'alice', token });
    window.imposter = new WebSocket(`ws://${location.host}/room/${room}/ws?${q}`);
    return new Promise((resolve) => { window.imposter.onmessage = (e) => resolve(JSON.parse(e.data)); });
  }, { room: ROOM, token: srv.token });
  assert.equal(got.type, 'welcome');
  const ended = await waitFor(async () => {
    const p = await pages.alice.evaluate(probe, 'bob');
    return p.state === 'ended' && p;
  }, 5000, 'alice\'s replaced page to stop');
  t.diagnostic(`replaced page: "${ended.text}"`);
  const m0 = await members(srv);
  await sleep(3000);
  const m1 = await members(srv);
  const transports = (m) => m.members.map((x) => `${x.name}=${x.transport}`).sort().join(' ');
  assert.equal(transports(m1), transports(m0), 'the replaced page came back');
  assert.equal(m1.members.length, 2);
  // The replaced session's transport is gone: bob's and the newcomer's remain.
  assert.equal(m1.router.transports, 2, JSON.stringify(m1));
  assert.equal((await pages.alice.evaluate(probe, 'bob')).state, 'ended');
});
