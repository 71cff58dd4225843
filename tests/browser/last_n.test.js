// 5. Last-N (issue #15): a room of four on a `--last-n 1` server, nobody
//    speaking. Each page has a tile for each of the three others, but
//    receives video from at most two of them (the most recent speaker, or
//    the first who joined, plus the one it shows large); the others'
//    video consumers are paused: their inbound video stops growing.
//    Audio keeps flowing from everyone.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { serverAndChromium, openRoom, waitFor, sleep } = require('./lib');

/** Inbound bytes per remote peer and kind on this page. */
async function inbound() {
  const byTrack = {};
  const stats = await window.pcForTests().getStats();
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp') byTrack[s.trackIdentifier] = s.bytesReceived;
  });
  const out = {};
  for (const v of document.querySelectorAll('video[data-remote]')) {
    const tracks = v.srcObject ? v.srcObject.getTracks() : [];
    out[v.dataset.peer] = {};
    for (const t of tracks) out[v.dataset.peer][t.kind] = byTrack[t.id] || 0;
  }
  return out;
}

test('last-N: each member receives at most N videos plus its large tile', { timeout: 150000 }, async (t) => {
  const { srv, browser } = await serverAndChromium(t, ['--last-n', '1']);
  const names = ['alice', 'bob', 'carol', 'dave'];
  const pages = await openRoom(browser, srv, 'lastn', names);
  // Everyone's tracks arrive (audio from all three others).
  for (const name of names) {
    await waitFor(async () => {
      const b = await pages[name].evaluate(inbound);
      const others = names.filter((n) => n !== name);
      return others.every((o) => b[o] && b[o].audio > 0) && b;
    }, 60000, `${name} to receive everyone's audio`);
  }
  await sleep(2000);
  const before = {};
  for (const name of names) before[name] = await pages[name].evaluate(inbound);
  await sleep(3000);
  for (const name of names) {
    const after = await pages[name].evaluate(inbound);
    const others = names.filter((n) => n !== name);
    const videos = others.filter((o) => (after[o].video || 0) > (before[name][o].video || 0) + 1000);
    const audios = others.filter((o) => after[o].audio > before[name][o].audio);
    t.diagnostic(`${name} receives video from ${videos.join(', ') || 'nobody'}`);
    assert.ok(videos.length >= 1 && videos.length <= 2, `${name} receives video from ${videos}`);
    assert.deepEqual(audios, others, `${name} receives everyone's audio`);
  }
});
