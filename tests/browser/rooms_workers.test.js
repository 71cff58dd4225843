// --workers 2: one room's members spread over both workers (issue #17,
// "one room's members over all workers"). Three Chromium members join one
// room; each lands on the least-loaded worker, so both workers serve
// members and the room's owner worker is the hub the other links to with
// an in-process pipe. Each page plays the two others (frames decoded),
// a chat message crosses workers, a camera turned off shows on the other
// worker's pages, the operator's member list sees all three, and a leaver
// is gone from the others' pages.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { serverAndChromium, openRoom, waitFor, sleep } = require('./lib');

/** Frames decoded per remote video: peer → frames. */
function frames() {
  const out = {};
  for (const v of document.querySelectorAll('video[data-remote]')) {
    out[v.dataset.peer] = v.getVideoPlaybackQuality().totalVideoFrames;
  }
  return out;
}

/** Chat messages shown on the page: [{ from, text }]. */
function shown() {
  return [...document.querySelectorAll('[data-chat-from]')].map((e) => ({
    from: e.dataset.chatFrom,
    text: e.textContent,
  }));
}

async function perWorker(srv) {
  const r = await fetch(`${srv.url}/stats`, { headers: srv.auth });
  const body = await r.json();
  return body.workers.map((w) => ({ transports: w.counts.transports, pipes: w.counts.pipes }));
}

test('--workers 2: one room over both workers', { timeout: 180000 }, async (t) => {
  const { srv, browser } = await serverAndChromium(t, ['--workers', '2']);
  const names = ['alice', 'bob', 'carol'];
  const pages = await openRoom(browser, srv, 'spread', names);

  // Every page decodes the two others' video.
  for (const name of names) {
    const others = names.filter((n) => n !== name);
    const first = await waitFor(() => pages[name].evaluate(frames)
      .then((f) => others.every((o) => f[o] > 0) && f), 60000, `${name} to decode the others`);
    await sleep(1000);
    const later = await pages[name].evaluate(frames);
    for (const o of others) {
      assert.ok(later[o] > first[o], `${name} keeps decoding ${o} (${first[o]} → ${later[o]})`);
    }
    t.diagnostic(`${name} decodes ${others.map((o) => `${o} ${later[o]} frames`).join(', ')}`);
  }

  // Members on both workers, a pipe between them.
  const w = await perWorker(srv);
  t.diagnostic(`per worker: ${JSON.stringify(w)}`);
  assert.ok(w.every((x) => x.transports > 0), 'members on both workers');
  assert.ok(w.every((x) => x.pipes === 1), 'one pipe end on each worker');
  const list = await (await fetch(`${srv.url}/room/spread/members`, { headers: srv.auth })).json();
  assert.deepEqual(list.members.map((m) => m.name).sort(), names);

  // Chat crosses workers: every page hears every other.
  for (const name of names) {
    await waitFor(async () => {
      const open = await pages[name].evaluate(() =>
        window.chatChannelsForTests().filter((c) => c.readyState === 'open').length);
      return open >= 3;
    }, 30000, `${name}'s chat channels to open`);
  }
  for (const from of names) {
    const input = await pages[from].$('#chat-input');
    await input.type(`hello from ${from}`);
    const sent = Date.now();
    await input.press('Enter');
    for (const to of names.filter((n) => n !== from)) {
      await waitFor(async () => (await pages[to].evaluate(shown))
        .some((m) => m.from === from && m.text.includes(`hello from ${from}`)), 5000,
      `${to} to show ${from}'s message`);
      t.diagnostic(`chat ${from} → ${to}: ${Date.now() - sent} ms`);
    }
  }

  // A camera turned off shows on every other page.
  await pages.bob.click('#cam');
  for (const to of ['alice', 'carol']) {
    await waitFor(() => pages[to].locator('[data-tile="bob"] .flags').textContent()
      .then((s) => s.includes('camera off')), 5000, `${to} to see bob's camera off`);
  }

  // carol leaves: her tile goes from the others' pages.
  await pages.carol.close();
  for (const name of ['alice', 'bob']) {
    await waitFor(() => pages[name].locator('video[data-peer="carol"]').count().then((n) => n === 0),
      5000, `carol's tile to leave ${name}'s page`);
  }
  assert.ok(srv.alive());
});
