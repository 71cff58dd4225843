// 3. The active speaker (issue #15): Chromium's fake microphone fed from a
//    WAV file (--use-file-for-fake-audio-capture, one per browser process):
//    "speech" (syllable-long tones with short gaps, about -15 dBov) in one
//    browser, digital silence in the other. alice speaks, bob is silent:
//    within 3 s of bob's page playing alice, alice's video carries
//    data-speaking and is on the large stage. Then alice mutes her
//    microphone and dave (speech) joins: the stage and the indicator follow
//    dave on bob's and carol's pages.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, launchChromium, waitFor, writeWav, speech } = require('./lib');

/** Who has data-speaking and which tile is large on this page. */
function stage() {
  const speaking = [...document.querySelectorAll('video[data-remote][data-speaking]')].map((v) => v.dataset.peer);
  const large = document.querySelector('.tile.large video[data-remote]');
  return { speaking, large: large ? large.dataset.peer : null };
}

/** The remote peers whose video plays on this page. */
function playing() {
  return [...document.querySelectorAll('video[data-remote]')]
    .filter((v) => !v.paused && v.readyState >= 2 && v.videoWidth > 0)
    .map((v) => v.dataset.peer);
}

test('the active speaker takes the stage, and the stage follows a new speaker', { timeout: 150000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifold-speaker-'));
  const speechWav = path.join(dir, 'speech.wav');
  const silenceWav = path.join(dir, 'silence.wav');
  writeWav(speechWav, 10, speech);
  writeWav(silenceWav, 10, () => 0);
  const srv = await startServer();
  const loud = await launchChromium({ args: [`--use-file-for-fake-audio-capture=${speechWav}`] });
  const quiet = await launchChromium({ args: [`--use-file-for-fake-audio-capture=${silenceWav}`] });
  t.after(async () => {
    await loud.close().catch(() => {});
    await quiet.close().catch(() => {});
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const join = async (browser, name) => {
    const page = await browser.newPage();
    await page.goto(`${srv.url}/room/talk?name=${name}&token=${srv.token}`);
    return page;
  };

  const alice = await join(loud, 'alice');
  const bob = await join(quiet, 'bob');
  await waitFor(async () => (await bob.evaluate(playing)).includes('alice'), 60000, 'bob to play alice');
  const played = Date.now();
  const first = await waitFor(async () => {
    const s = await bob.evaluate(stage);
    return s.speaking.includes('alice') && s;
  }, 10000, 'alice speaking on bob\'s page');
  const took = Date.now() - played;
  t.diagnostic(`alice speaking on bob's page ${took} ms after her video played there`);
  assert.ok(took <= 3000, `alice took ${took} ms to be the speaker`);
  assert.deepEqual(first, { speaking: ['alice'], large: 'alice' });
  // bob is silent: alice's page never shows him speaking.
  assert.deepEqual((await alice.evaluate(stage)).speaking, []);

  // alice stops (mutes), dave starts (joins speaking); carol is silent.
  const carol = await join(quiet, 'carol');
  await waitFor(async () => (await carol.evaluate(playing)).includes('alice'), 60000, 'carol to play alice');
  await alice.click('#mic');
  const dave = await join(loud, 'dave');
  for (const [name, page] of [['bob', bob], ['carol', carol]]) {
    await waitFor(async () => (await page.evaluate(playing)).includes('dave'), 60000, `${name} to play dave`);
  }
  const daveOn = Date.now();
  for (const [name, page] of [['bob', bob], ['carol', carol], ['alice', alice]]) {
    await waitFor(async () => {
      const s = await page.evaluate(stage);
      return s.speaking.length === 1 && s.speaking[0] === 'dave' && s.large === 'dave';
    }, 10000, `dave on the stage of ${name}'s page`);
  }
  t.diagnostic(`the stage followed dave ${Date.now() - daveOn} ms after his video played`);
  assert.deepEqual((await dave.evaluate(stage)).speaking, []);
});
