// 2. Three Chromium participants in one room: each page plays the two
//    others. The large tile gets a high layer and the thumbnail the lowest
//    (320 px), and pinning the thumbnail swaps them. A muted camera stops
//    reaching the others; a leaver's tile goes away from the others' pages
//    within 2 s.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  serverAndChromium, openRoom, waitFor, sleep, playing,
} = require('./lib');

/** The decoded width of each remote video, and which tile is large. */
function layout() {
  const out = { widths: {}, large: null };
  for (const v of document.querySelectorAll('video[data-remote]')) {
    out.widths[v.dataset.peer] = v.videoWidth;
    if (v.closest('.tile').classList.contains('large')) out.large = v.dataset.peer;
  }
  return out;
}

/** Packets received on the video track of `peer`'s tile. */
async function videoPackets(peer) {
  const v = document.querySelector(`video[data-peer="${peer}"]`);
  const track = v && v.srcObject && v.srcObject.getVideoTracks()[0];
  if (!track) return -1;
  let n = -1;
  const stats = await window.pcForTests().getStats();
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.trackIdentifier === track.id) n = s.packetsReceived;
  });
  return n;
}

test('three participants see each other; a leaver disappears within 2 s', { timeout: 150000 }, async (t) => {
  const { srv, browser } = await serverAndChromium(t);
  const names = ['alice', 'bob', 'carol'];
  const start = Date.now();
  const pages = await openRoom(browser, srv, 'r1', names);
  for (const name of names) {
    const others = names.filter((n) => n !== name);
    const first = await waitFor(async () => {
      const p = await pages[name].evaluate(playing);
      return others.every((o) => p[o]) && p;
    }, 60000, `${name} to play ${others.join(' and ')}`);
    // And the videos move on.
    await waitFor(async () => {
      const p = await pages[name].evaluate(playing);
      return others.every((o) => p[o] && p[o].time > first[o].time + 0.5);
    }, 20000, `${name}'s remote videos to keep playing`);
    t.diagnostic(`${name} plays ${others.map((o) => `${o} (${first[o].width}px)`).join(', ')} after ${Date.now() - start} ms`);
  }
  assert.equal(await pages.alice.locator('video[data-remote]').count(), 2);

  // Layers: on alice's page the large tile (the first remote) asks for the
  // highest layer, the thumbnail for q (1280 / 4 = 320 px). The large one
  // gets h or f: the allocator decides which fits alice's estimate.
  const { large } = await pages.alice.evaluate(layout);
  const thumb = large === 'bob' ? 'carol' : 'bob';
  assert.ok(large === 'bob' || large === 'carol', `a large tile (${large})`);
  let l = await waitFor(async () => {
    const l = await pages.alice.evaluate(layout);
    return l.widths[thumb] === 320 && l.widths[large] > 320 && l;
  }, 15000, `alice to play ${large} large and ${thumb} at 320 px`);
  t.diagnostic(`alice: ${large} large at ${l.widths[large]} px, ${thumb} at ${l.widths[thumb]} px`);
  // Pin the thumbnail: the layers swap.
  const pinned = Date.now();
  await pages.alice.click(`[data-tile="${thumb}"] video`);
  l = await waitFor(async () => {
    const l = await pages.alice.evaluate(layout);
    return l.large === thumb && l.widths[large] === 320 && l.widths[thumb] > 320 && l;
  }, 15000, `alice to play ${thumb} large and ${large} at 320 px once pinned`);
  t.diagnostic(`alice pinned ${thumb}: ${thumb} at ${l.widths[thumb]} px, ${large} at ${l.widths[large]} px after ${Date.now() - pinned} ms`);

  // bob stops his camera: the server pauses his producer, nothing reaches carol.
  await pages.bob.click('#cam');
  await waitFor(() => pages.carol.locator('[data-tile="bob"] .flags').textContent()
    .then((s) => s.includes('camera off')), 5000, 'carol to see bob\'s camera off');
  await sleep(500);
  const before = await pages.carol.evaluate(videoPackets, 'bob');
  await sleep(1500);
  const after = await pages.carol.evaluate(videoPackets, 'bob');
  assert.ok(before > 0, 'carol received bob\'s video before');
  assert.ok(after - before <= 2, `bob's paused video still reached carol (${before} → ${after})`);
  await pages.bob.click('#cam');
  await waitFor(async () => (await pages.carol.evaluate(videoPackets, 'bob')) > after + 20,
    10000, 'bob\'s video to reach carol again');

  // alice closes her tab.
  const left = Date.now();
  await pages.alice.close();
  for (const name of ['bob', 'carol']) {
    await waitFor(() => pages[name].evaluate(() => !document.querySelector('[data-peer="alice"]')),
      2000 - (Date.now() - left), `alice's tile to leave ${name}'s page`);
  }
  t.diagnostic(`alice's tile left the others' pages in ${Date.now() - left} ms`);
  // The others still play each other after renegotiating.
  await sleep(1000);
  for (const [name, other] of [['bob', 'carol'], ['carol', 'bob']]) {
    const p0 = await pages[name].evaluate(playing);
    await waitFor(async () => {
      const p = await pages[name].evaluate(playing);
      return p0[other] && p[other] && p[other].time > p0[other].time + 0.5 && !p.alice;
    }, 10000, `${name} to keep playing ${other} after alice left`);
  }
  assert.ok(srv.alive());
});
