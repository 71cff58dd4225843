// 4. Screen sharing (issue #15): three Chromium pages in one room. alice
//    presses #share-screen (headless getDisplayMedia gives a fake screen):
//    bob's and carol's pages get a playing
//    video[data-remote][data-screen][data-peer="alice"] on the stage, the
//    router forwards it at priority 3, and a pinned tile still overrides
//    the stage. Pressed again, the share stops and leaves the others'
//    pages; a second share works the same way, and stops when its capture
//    track ends.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { serverAndChromium, openRoom, waitFor } = require('./lib');

const SCREEN = (peer) => `video[data-remote][data-screen][data-peer="${peer}"]`;

/** The screen video of `peer` on this page: whether it plays, where it is. */
function screenOf(peer) {
  const v = document.querySelector(`video[data-remote][data-screen][data-peer="${peer}"]`);
  if (!v) return null;
  const r = v.getBoundingClientRect();
  return {
    time: v.currentTime,
    width: v.videoWidth,
    playing: !v.paused && v.readyState >= 2 && v.videoWidth > 0,
    onStage: !!v.closest('#stage') && v.closest('.tile').classList.contains('large'),
    box: { width: r.width, height: r.height },
  };
}

/** Which tile is on the stage: { peer, screen }. */
function onStage() {
  const v = document.querySelector('#stage video[data-remote]');
  return v ? { peer: v.dataset.peer, screen: v.hasAttribute('data-screen') } : null;
}

/** The camera videos that play here (peer names). */
function cameras() {
  return [...document.querySelectorAll('video[data-remote]:not([data-screen])')]
    .filter((v) => !v.paused && v.readyState >= 2 && v.videoWidth > 0)
    .map((v) => v.dataset.peer);
}

/** The video consumers' priorities on `member`'s transport (from /stats). */
async function priorities(srv, room, member) {
  const list = await (await fetch(`${srv.url}/room/${room}/members`, { headers: srv.auth })).json();
  const m = list.members.find((x) => x.name === member);
  const stats = await (await fetch(`${srv.url}/stats`, { headers: srv.auth })).json();
  for (const w of stats.workers) {
    const t = w.transports.find((x) => x.id === m.transport);
    if (t) return t.consumers.filter((c) => c.kind === 'video').map((c) => c.priority).sort();
  }
  return null;
}

test('a shared screen plays large on the others\' pages and goes when stopped', { timeout: 110000 }, async (t) => {
  const { srv, browser } = await serverAndChromium(t);
  const names = ['alice', 'bob', 'carol'];
  const viewport = { width: 1280, height: 800 };
  const pages = await openRoom(browser, srv, 'share', names, { query: '&video=low', viewport });
  for (const name of names) {
    const others = names.filter((n) => n !== name);
    await waitFor(async () => {
      const p = await pages[name].evaluate(cameras);
      return others.every((o) => p.includes(o));
    }, 60000, `${name} to play ${others.join(' and ')}`);
  }

  for (const round of [1, 2]) {
    const clicked = Date.now();
    await pages.alice.click('#share-screen');
    for (const name of ['bob', 'carol']) {
      const first = await waitFor(async () => {
        const s = await pages[name].evaluate(screenOf, 'alice');
        return s && s.playing && s.onStage && s;
      }, 20000, `alice's screen to play on ${name}'s stage`);
      // It moves on, and it is large: the stage is most of a 1280x800 window.
      await waitFor(async () => {
        const s = await pages[name].evaluate(screenOf, 'alice');
        return s && s.time > first.time + 0.5;
      }, 10000, `alice's screen to keep playing on ${name}'s page`);
      assert.ok(first.box.width >= 800 && first.box.height >= 450, `stage size ${JSON.stringify(first.box)}`);
      assert.equal(await pages[name].locator(SCREEN('alice')).count(), 1);
      t.diagnostic(`round ${round}: alice's screen (${first.width} px) plays on ${name}'s stage ${Date.now() - clicked} ms after the click`);
    }
    // The router gives the screen priority 3 (the cameras 1 or 2).
    for (const name of ['bob', 'carol']) {
      const p = await waitFor(() => priorities(srv, 'share', name).then((p) => p && p.includes(3) && p),
        5000, `a priority 3 consumer on ${name}'s transport`);
      assert.equal(p.filter((x) => x === 3).length, 1, `${name}'s video priorities ${p}`);
    }
    if (round === 1) {
      // A pinned tile overrides the screen; unpinned, the screen is back.
      await pages.bob.click('[data-tile="carol"] video');
      await waitFor(async () => {
        const s = await pages.bob.evaluate(onStage);
        return s && s.peer === 'carol' && !s.screen;
      }, 5000, 'carol pinned on bob\'s stage over the screen');
      await pages.bob.click('[data-tile="carol"] video');
      await waitFor(async () => {
        const s = await pages.bob.evaluate(onStage);
        return s && s.peer === 'alice' && s.screen;
      }, 5000, 'alice\'s screen back on bob\'s stage once unpinned');
    }
    // alice's own page shows her cameras of the others, not a remote screen.
    assert.equal(await pages.alice.locator('video[data-remote][data-screen]').count(), 0);

    const stopped = Date.now();
    if (round === 1) {
      await pages.alice.click('#share-screen');
    } else {
      // The capture ends (the browser's own "stop sharing"): its track
      // fires 'ended', which a page cannot cause with track.stop().
      await pages.alice.evaluate(() => screen.getVideoTracks()[0].dispatchEvent(new Event('ended')));
    }
    for (const name of ['bob', 'carol']) {
      await waitFor(async () => (await pages[name].evaluate(screenOf, 'alice')) === null,
        10000, `alice's screen to leave ${name}'s page`);
      const s = await pages[name].evaluate(onStage);
      assert.ok(s && !s.screen, `a camera on ${name}'s stage after the share (${JSON.stringify(s)})`);
    }
    t.diagnostic(`round ${round}: the share left the others' pages ${Date.now() - stopped} ms after ${round === 1 ? 'the click' : 'the track ended'}`);
    assert.equal(await pages.alice.getAttribute('#share-screen', 'class'), '', 'the button is off');
    await waitFor(() => priorities(srv, 'share', 'bob').then((p) => p && !p.includes(3)),
      5000, 'the screen consumer to close');
  }
  // The cameras still play everywhere.
  for (const name of names) {
    const others = names.filter((n) => n !== name);
    await waitFor(async () => {
      const p = await pages[name].evaluate(cameras);
      return others.every((o) => p.includes(o));
    }, 10000, `${name} to still play ${others.join(' and ')}`);
  }
  assert.ok(srv.alive());
});
