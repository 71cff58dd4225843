// 3. The active speaker in a room of three (issue #15 test 3): one
//    Chromium process per member, each fake microphone fed from its own
//    WAV file (--use-file-for-fake-audio-capture). alice's file speaks for
//    its first 15 s, then is silent; bob's is silent for 20 s, then speaks;
//    carol's is silent. Within 3 s of a page playing alice, it shows alice
//    speaking (data-speaking) on the stage; when bob starts (alice has
//    stopped), the stage and the indicator follow him on alice's and
//    carol's pages within 3 s of his first syllable.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, launchChromium, waitFor, writeWav, speech } = require('./lib');

const ALICE_STOPS_S = 15;
const BOB_STARTS_S = 20;

/** Who has data-speaking and who is on the stage on this page. */
function stage() {
  const speaking = [...document.querySelectorAll('video[data-remote][data-speaking]')].map((v) => v.dataset.peer);
  const large = document.querySelector('#stage .tile.large video[data-remote]');
  return { speaking, large: large ? large.dataset.peer : null };
}

/** The remote peers whose camera plays on this page. */
function playing() {
  return [...document.querySelectorAll('video[data-remote]')]
    .filter((v) => !v.paused && v.readyState >= 2 && v.videoWidth > 0)
    .map((v) => v.dataset.peer);
}

test('three members: every other page shows the speaker, and follows the next one', { timeout: 110000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifold-speaker3-'));
  const wav = {
    alice: (i, rate) => (i < ALICE_STOPS_S * rate ? speech(i, rate) : 0),
    bob: (i, rate) => (i >= BOB_STARTS_S * rate ? speech(i, rate) : 0),
    carol: () => 0,
  };
  const srv = await startServer();
  const browsers = {};
  t.after(async () => {
    for (const b of Object.values(browsers)) await b.close().catch(() => {});
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const [name, sample] of Object.entries(wav)) {
    const file = path.join(dir, `${name}.wav`);
    writeWav(file, 60, sample);
    browsers[name] = await launchChromium({ args: [`--use-file-for-fake-audio-capture=${file}`] });
  }
  // Each page notes when its microphone started (its file plays from there).
  const pages = {};
  await Promise.all(Object.keys(wav).map(async (name) => {
    const page = await browsers[name].newPage({ viewport: { width: 1280, height: 800 } });
    await page.addInitScript(() => {
      const md = navigator.mediaDevices;
      const gum = md.getUserMedia.bind(md);
      md.getUserMedia = async (c) => { const s = await gum(c); window.micAt = Date.now(); return s; };
    });
    await page.goto(`${srv.url}/room/talk3?name=${name}&token=${srv.token}&video=low`);
    pages[name] = page;
  }));

  for (const name of ['bob', 'carol']) {
    const page = pages[name];
    await waitFor(async () => (await page.evaluate(playing)).includes('alice'), 30000, `${name} to play alice`);
    const played = Date.now();
    const s = await waitFor(async () => {
      const s = await page.evaluate(stage);
      return s.speaking.includes('alice') && s;
    }, 10000, `alice speaking on ${name}'s page`);
    const took = Date.now() - played;
    t.diagnostic(`alice speaking on ${name}'s page ${took} ms after her video played there`);
    assert.ok(took <= 3000, `alice took ${took} ms to be the speaker on ${name}'s page`);
    assert.deepEqual(s, { speaking: ['alice'], large: 'alice' });
  }
  // alice does not see herself among the remote videos; nobody else speaks.
  assert.deepEqual((await pages.alice.evaluate(stage)).speaking, []);
  const aliceStops = (await pages.alice.evaluate(() => window.micAt)) + ALICE_STOPS_S * 1000;
  assert.ok(Date.now() < aliceStops, 'alice was still speaking when the pages showed her');

  // bob starts once alice has stopped.
  const bobStarts = (await pages.bob.evaluate(() => window.micAt)) + BOB_STARTS_S * 1000;
  assert.ok(bobStarts > aliceStops, 'bob starts after alice stops');
  for (const name of ['alice', 'carol']) {
    await waitFor(async () => {
      const s = await pages[name].evaluate(stage);
      return s.speaking.length === 1 && s.speaking[0] === 'bob' && s.large === 'bob';
    }, bobStarts - Date.now() + 8000, `bob on the stage of ${name}'s page`);
    const took = Date.now() - bobStarts;
    t.diagnostic(`bob on ${name}'s stage ${took} ms after his first syllable (alice stopped ${bobStarts - aliceStops} ms before)`);
    assert.ok(took <= 3000, `bob took ${took} ms to take ${name}'s stage`);
  }
  assert.deepEqual((await pages.bob.evaluate(stage)).speaking, []);
  assert.equal((await pages.bob.evaluate(stage)).large, 'alice', 'bob\'s stage keeps the last other speaker');
});
