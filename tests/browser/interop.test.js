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
const FRAMES = 30;

const CLIENTS = {
  aiortc: { python: VENV_PYTHON, script: 'aiortc_client.py', setup: 'bash tests/interop/setup-venv.sh' },
  gstreamer: { python: SYSTEM_PYTHON, script: 'gst_client.py', setup: 'bash .ci/system-deps' },
};

/** One client run after a quiet spell; asserts the client's own report. */
async function quietRun(t, srv, client, liveness, stream) {
  const { python, script, setup } = CLIENTS[client];
  assert.ok(fs.existsSync(python), `${python} is missing: run ${setup}`);
  await quietSpell(t, liveness);
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

test('aiortc: WHIP publish and WHEP view after quiet spells (liveness timeout 3 s)', { timeout: 180000 }, async (t) => {
  const srv = await startServer(['--liveness-timeout', '3']);
  t.after(() => srv.stop());
  await t.test('after the quiet start', () => quietRun(t, srv, 'aiortc', 3, 'aiortc-1'));
  await t.test('after a busy then quiet spell', () => quietRun(t, srv, 'aiortc', 3, 'aiortc-2'));
  assert.ok(srv.alive());
});

test('GStreamer webrtcbin (stock RSA certificate): WHIP publish and WHEP view after quiet spells (liveness timeout 3 s)', { timeout: 180000 }, async (t) => {
  const srv = await startServer(['--liveness-timeout', '3']);
  t.after(() => srv.stop());
  await t.test('after the quiet start', () => quietRun(t, srv, 'gstreamer', 3, 'gst-1'));
  await t.test('after a busy then quiet spell', () => quietRun(t, srv, 'gstreamer', 3, 'gst-2'));
  assert.ok(srv.alive());
});
