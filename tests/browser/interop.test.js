// 7. Unmodified third-party WebRTC stacks against a quiet server (issue #13):
//    aiortc (PyPI, in the virtualenv tests/interop/setup-venv.sh makes) and
//    GStreamer webrtcbin (Debian packages, stock RSA certificate), each
//    driven by a small script in tests/interop/ that does the WHIP/WHEP HTTP
//    itself. Each run starts after the server has received no datagram at
//    all for longer than its liveness timeout; it publishes (WHIP) and views
//    (WHEP) the same stream, both sessions created before either peer sends
//    a datagram. The client's own outcome is asserted: both connections
//    connected, the publisher sent RTP, the viewer decoded video frames and
//    audio.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, quietSpell, runClient } = require('./lib');

const INTEROP = path.resolve(__dirname, '..', 'interop');
const VENV_PYTHON = process.env.AIORTC_PYTHON || path.join(INTEROP, '.venv', 'bin', 'python');
const SYSTEM_PYTHON = '/usr/bin/python3'; // python3-gi: Debian's interpreter, not pyenv's
const FRAMES = 60;

const CLIENTS = {
  aiortc: { python: VENV_PYTHON, script: 'aiortc_client.py', setup: 'bash tests/interop/setup-venv.sh' },
  gstreamer: { python: SYSTEM_PYTHON, script: 'gst_client.py', setup: 'bash .ci/system-deps' },
};

/**
 * One client run after a quiet spell longer than `liveness` seconds (none
 * when null: a control run right after the server started); asserts the
 * client's own report.
 */
async function quietRun(t, srv, client, liveness, stream) {
  const { python, script, setup } = CLIENTS[client];
  assert.ok(fs.existsSync(python), `${python} is missing: run ${setup}`);
  if (liveness !== null) await quietSpell(t, liveness);
  const run = await runClient(python, [
    path.join(INTEROP, script),
    '--whip', `${srv.url}/whip/${stream}`, '--whep', `${srv.url}/whep/${stream}`,
    '--token', srv.token, '--frames', String(FRAMES),
    '--connect-timeout', '20', '--decode-timeout', '20',
  ], 60000);
  const r = run.result;
  const report = () => [
    `${client} exited with ${run.code ?? run.signal} after ${run.seconds} s`,
    `--- ${client} stdout ---`, run.stdout.trim() || '(empty)',
    `--- ${client} stderr ---`, run.stderr.trim() || '(empty)',
    '--- server log ---', srv.log().trim() || '(empty)',
  ].join('\n');
  try {
    assert.ok(r, 'the client printed its JSON report');
    assert.equal(r.error, null, `the client's run failed: ${r.error}`);
    assert.equal(r.publisher.state, 'connected', 'the publisher is connected');
    assert.equal(r.viewer.state, 'connected', 'the viewer is connected');
    assert.ok(r.publisher.bytesSent > 10000, `the publisher sent RTP (${r.publisher.bytesSent} bytes)`);
    assert.ok(r.viewer.videoFrames >= FRAMES, `the viewer decoded ${r.viewer.videoFrames} video frames`);
    const audio = r.viewer.audioFrames ?? r.viewer.audioBuffers;
    assert.ok(audio >= FRAMES, `the viewer decoded ${audio} audio frames`);
    assert.equal(run.code, 0, 'the client exits 0');
  } catch (e) {
    e.message += `\n${report()}`;
    throw e;
  }
  t.diagnostic(`${client} ${r.version || ''} ${stream}: publisher sent ${r.publisher.bytesSent} bytes; viewer decoded `
    + `${r.viewer.videoFrames} video frames${r.viewer.width ? ` (${r.viewer.width}x${r.viewer.height})` : ''}, `
    + `${r.viewer.audioFrames ?? r.viewer.audioBuffers} audio; ${run.seconds} s`);
}

// A control run right after the server started (within its liveness
// timeout) tells a broken driver or a refused DTLS peer from the quiet-
// server bug; then runs after quiet spells, at the default liveness
// timeout and at 3 s (twice: after the quiet start, and after a run).
async function clientCases(t, client, { defaultTimeout }) {
  const srv15 = await startServer();
  t.after(() => srv15.stop());
  await t.test('control: right after the server started (not quiet)', (st) => quietRun(st, srv15, client, null, `${client}-control`));
  if (defaultTimeout) {
    await t.test('after a quiet spell longer than the default liveness timeout (15 s)',
      (st) => quietRun(st, srv15, client, 15, `${client}-default`));
  }
  const srv3 = await startServer(['--liveness-timeout', '3']);
  t.after(() => srv3.stop());
  await t.test('after the quiet start (liveness timeout 3 s)', (st) => quietRun(st, srv3, client, 3, `${client}-1`));
  await t.test('after a run, then a quiet spell (liveness timeout 3 s)', (st) => quietRun(st, srv3, client, 3, `${client}-2`));
  assert.ok(srv15.alive() && srv3.alive(), 'the servers are alive');
}

test('aiortc (PyPI): WHIP publish and WHEP view against a quiet server', { timeout: 240000 },
  (t) => clientCases(t, 'aiortc', { defaultTimeout: true }));

test('GStreamer webrtcbin (Debian, stock RSA certificate): WHIP publish and WHEP view against a quiet server',
  { timeout: 180000 }, (t) => clientCases(t, 'gstreamer', { defaultTimeout: false }));
