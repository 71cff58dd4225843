// examples/minimal.rs, the smallest embedding: Chromium publishes with WHIP
// and another Chromium page views it with WHEP; the viewer decodes video and
// receives audio.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const {
  launchChromium, waitFor, whipPublish, whepView, expectDecoding,
} = require('./lib');

const ROOT = path.resolve(__dirname, '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
const MINIMAL = path.join(TARGET, 'release', 'examples', 'minimal');

test('examples/minimal: WHIP publish, WHEP view', { timeout: 120000 }, async (t) => {
  assert.ok(fs.existsSync(MINIMAL), `${MINIMAL} is missing: run cargo build --release --example minimal`);
  const proc = spawn(MINIMAL, ['127.0.0.1:0', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => {});
    proc.kill('SIGKILL');
  });
  const url = await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`minimal exited: ${out}`);
    const m = out.match(/(http:\/\/[0-9.:]+)\//);
    return m && m[1];
  }, 10000, 'the example to start');

  const publisher = await browser.newPage();
  await publisher.goto(`${url}/`);
  const whip = await publisher.evaluate(whipPublish, { url: `${url}/whip`, token: '' });
  assert.match(whip, /\/whip\/\S+$/);
  await waitFor(() => publisher.evaluate(() => window.pc.connectionState === 'connected'),
    20000, 'the publisher to connect');

  const viewer = await browser.newPage();
  await viewer.goto(`${url}/`);
  const whep = await viewer.evaluate(whepView, { url: `${url}/whep`, token: '' });
  assert.match(whep, /\/whep\/\S+$/);
  const s = await expectDecoding(viewer, 'the WHEP viewer');
  assert.ok(s.framesDecoded > 20 && s.frameWidth > 0 && s.audioPackets > 40);
  t.diagnostic(`viewer: ${s.framesDecoded} frames at width ${s.frameWidth}, ${s.audioPackets} audio packets`);
  assert.match(out, /TransportConnected/, 'the example prints the router\'s events');
});
