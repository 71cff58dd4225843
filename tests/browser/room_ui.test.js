// The room page's controls (issue #15), in one room of three Chromium
// pages at 1280x800: alice and bob publish, carol joins watch-only.
// - watch-only: carol's page never calls getUserMedia, plays alice and bob
//   and receives their audio; the others show her as a member without
//   video (data-watching) and receive nothing from her;
// - camera and microphone toggles: alice's camera off pauses her producer
//   (bob's inbound video from her stops growing, her tile says so), on
//   again restores it; the same for her microphone;
// - each remote tile shows a network quality hint (data-quality, an icon);
// - layout: the stage and the filmstrip are both inside the 1280x800
//   window and the page does not scroll.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer, launchChromium, waitFor, sleep } = require('./lib');

/** The remote videos that play here: peer → { time, width }. */
function playing() {
  const out = {};
  for (const v of document.querySelectorAll('video[data-remote]:not([data-screen])')) {
    if (!v.paused && v.readyState >= 2 && v.videoWidth > 0) {
      out[v.dataset.peer] = { time: v.currentTime, width: v.videoWidth };
    }
  }
  return out;
}

/** Inbound bytes of `peer`'s tile on this page, per kind (-1: no such track). */
async function bytesOf(peer) {
  const v = document.querySelector(`video[data-remote][data-peer="${peer}"]:not([data-screen])`);
  const out = { audio: -1, video: -1 };
  const tracks = v && v.srcObject ? v.srcObject.getTracks() : [];
  const stats = await window.pcForTests().getStats();
  stats.forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    for (const t of tracks) if (t.id === s.trackIdentifier) out[t.kind] = s.bytesReceived;
  });
  return out;
}

/** A tile's state as the page shows it. */
function tileState(peer) {
  const el = document.querySelector(`[data-tile="${peer}"]`);
  if (!el) return null;
  const v = el.querySelector('video[data-remote]');
  const icon = el.querySelector('.quality').getBoundingClientRect();
  return {
    watching: el.hasAttribute('data-watching'),
    videoMuted: el.hasAttribute('data-video-muted'),
    audioMuted: el.hasAttribute('data-audio-muted'),
    quality: el.dataset.quality || null,
    icon: icon.width > 0 && icon.height > 0,
    videoTracks: v.srcObject ? v.srcObject.getVideoTracks().length : 0,
    videoWidth: v.videoWidth,
    peer: v.dataset.peer,
  };
}

/** Where the stage and the filmstrip are, and whether the page scrolls. */
function geometry() {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return { top: r.top, left: r.left, bottom: r.bottom, right: r.right, width: r.width, height: r.height };
  };
  return {
    stage: box(document.getElementById('stage')),
    filmstrip: box(document.getElementById('filmstrip')),
    chat: box(document.getElementById('chat-input')),
    thumbs: [...document.querySelectorAll('#filmstrip .tile:not([hidden])')].map(box),
    large: (document.querySelector('#stage video[data-remote]') || {}).dataset?.peer || null,
    scrollHeight: document.scrollingElement.scrollHeight,
    scrollWidth: document.scrollingElement.scrollWidth,
    innerHeight: window.innerHeight,
    innerWidth: window.innerWidth,
  };
}

let srv;
let browser;
const pages = {};

test.before(async () => {
  srv = await startServer();
  browser = await launchChromium();
  for (const [name, extra] of [['alice', '&video=low'], ['bob', '&video=low'], ['carol', '&watch=1']]) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Count getUserMedia calls (a watch-only page makes none).
    await page.addInitScript(() => {
      window.gumCalls = 0;
      const md = navigator.mediaDevices;
      const gum = md.getUserMedia.bind(md);
      md.getUserMedia = (c) => { window.gumCalls += 1; return gum(c); };
    });
    await page.goto(`${srv.url}/room/ui?name=${name}&token=${srv.token}${extra}`);
    pages[name] = page;
  }
});

test.after(async () => {
  await browser?.close().catch(() => {});
  await srv?.stop();
});

test('watch-only: sees and hears the others, shown to them without video', { timeout: 60000 }, async (t) => {
  const { carol, alice, bob } = pages;
  const first = await waitFor(async () => {
    const p = await carol.evaluate(playing);
    return p.alice && p.bob && p;
  }, 40000, 'carol (watch-only) to play alice and bob');
  await waitFor(async () => {
    const p = await carol.evaluate(playing);
    return p.alice.time > first.alice.time + 0.5 && p.bob.time > first.bob.time + 0.5;
  }, 10000, 'carol\'s videos to keep playing');
  const a0 = await carol.evaluate(bytesOf, 'alice');
  await sleep(1500);
  const a1 = await carol.evaluate(bytesOf, 'alice');
  assert.ok(a1.audio > a0.audio && a0.audio > 0, `carol receives alice's audio (${a0.audio} → ${a1.audio})`);
  assert.equal(await carol.evaluate(() => window.gumCalls), 0, 'the watch-only page called getUserMedia');
  assert.equal(await alice.evaluate(() => window.gumCalls), 1);
  assert.equal(await carol.getAttribute('#status', 'data-state'), 'connected');
  // The others: carol is a member, with a tile but no video.
  for (const [name, page] of [['alice', alice], ['bob', bob]]) {
    const s = await waitFor(() => page.evaluate(tileState, 'carol'), 5000, `carol's tile on ${name}'s page`);
    assert.deepEqual([s.watching, s.videoTracks, s.videoWidth, s.peer], [true, 0, 0, 'carol'], `${name}: ${JSON.stringify(s)}`);
    assert.ok(!(await page.evaluate(playing)).carol);
    const onStage = await page.evaluate(() => document.querySelector('#stage video[data-remote]').dataset.peer);
    assert.notEqual(onStage, 'carol', `${name}'s stage shows a participant with a camera`);
  }
  const list = await (await fetch(`${srv.url}/room/ui/members`, { headers: srv.auth })).json();
  const c = list.members.find((m) => m.name === 'carol');
  assert.equal(c.producers, 0, 'carol publishes nothing');
  assert.equal(c.consumers, 4, 'carol consumes alice\'s and bob\'s audio and video');
  t.diagnostic(`carol plays alice (${first.alice.width} px) and bob (${first.bob.width} px) watch-only`);
});

test('camera and microphone toggles pause and resume what the others receive', { timeout: 60000 }, async (t) => {
  const { alice, bob } = pages;
  await waitFor(async () => (await bob.evaluate(playing)).alice, 30000, 'bob to play alice');
  for (const [button, kind, attr] of [['#cam', 'video', 'videoMuted'], ['#mic', 'audio', 'audioMuted']]) {
    const before = await bob.evaluate(bytesOf, 'alice');
    assert.ok(before[kind] > 0, `bob received alice's ${kind}`);
    await sleep(2000);
    const flowing = (await bob.evaluate(bytesOf, 'alice'))[kind] - before[kind];
    await alice.click(button);
    await waitFor(async () => (await bob.evaluate(tileState, 'alice'))[attr], 5000, `bob's tile of alice to show her ${kind} off`);
    await sleep(700);
    const off0 = await bob.evaluate(bytesOf, 'alice');
    await sleep(2000);
    const off1 = await bob.evaluate(bytesOf, 'alice');
    // Nothing but a straggler or two (a retransmission): the producer is
    // paused. Compared with the same 2 s while it flowed.
    const off = off1[kind] - off0[kind];
    assert.ok(off * 10 <= flowing, `alice's ${kind} still reaches bob (${off} bytes in 2 s, ${flowing} while on)`);
    t.diagnostic(`${kind} off: bob received ${off} bytes of it in 2 s (${flowing} while on)`);
    await alice.click(button);
    await waitFor(async () => !(await bob.evaluate(tileState, 'alice'))[attr], 5000, `bob's tile of alice to show her ${kind} on`);
    const on = await waitFor(async () => {
      const b = await bob.evaluate(bytesOf, 'alice');
      return b[kind] > off1[kind] + 5000 && b;
    }, 10000, `alice's ${kind} to reach bob again`);
    t.diagnostic(`${kind} on again: ${on[kind] - off1[kind]} bytes since`);
  }
  // And the video plays again.
  const p0 = await bob.evaluate(playing);
  await waitFor(async () => {
    const p = await bob.evaluate(playing);
    return p0.alice && p.alice && p.alice.time > p0.alice.time + 0.5;
  }, 10000, 'alice\'s video to play on bob\'s page again');
});

test('tiles show a network quality hint; the layout fits 1280x800', { timeout: 30000 }, async (t) => {
  for (const [name, others] of [['alice', ['bob', 'carol']], ['bob', ['alice', 'carol']], ['carol', ['alice', 'bob']]]) {
    for (const o of others) {
      const s = await waitFor(async () => {
        const s = await pages[name].evaluate(tileState, o);
        return s && (s.watching || s.quality) && s;
      }, 10000, `${name}'s tile of ${o} to show its quality`);
      if (!s.watching) {
        assert.ok(['good', 'fair', 'poor'].includes(s.quality), `${name}/${o}: ${s.quality}`);
        assert.ok(s.icon, `${name}/${o}: the quality icon is visible`);
      }
    }
    const g = await pages[name].evaluate(geometry);
    t.diagnostic(`${name}: stage ${Math.round(g.stage.width)}x${Math.round(g.stage.height)} (${g.large}), filmstrip ${Math.round(g.filmstrip.width)}x${Math.round(g.filmstrip.height)} at ${Math.round(g.filmstrip.top)}, page ${g.scrollWidth}x${g.scrollHeight}`);
    assert.equal(g.innerWidth, 1280);
    assert.equal(g.innerHeight, 800);
    for (const part of ['stage', 'filmstrip', 'chat']) {
      const b = g[part];
      assert.ok(b.top >= 0 && b.left >= 0 && b.bottom <= g.innerHeight && b.right <= g.innerWidth && b.height > 0,
        `${name}: the ${part} ${JSON.stringify(b)} is inside the window`);
    }
    assert.ok(g.stage.width >= 800 && g.stage.height >= 450, `${name}: a large stage ${JSON.stringify(g.stage)}`);
    assert.ok(g.stage.bottom <= g.filmstrip.top, `${name}: the filmstrip is below the stage`);
    for (const b of g.thumbs) assert.ok(b.top >= g.filmstrip.top && b.bottom <= g.filmstrip.bottom + 0.5, `${name}: a thumbnail inside the filmstrip`);
    assert.ok(g.scrollHeight <= g.innerHeight, `${name}: the page scrolls (${g.scrollHeight} > ${g.innerHeight})`);
    assert.ok(g.scrollWidth <= g.innerWidth, `${name}: the page scrolls sideways`);
    assert.ok(g.large, `${name}: someone on the stage`);
  }
});
