// ICE over TCP when UDP is blocked (issue #16, the ICE-TCP half).
//
// Chromium runs in a network namespace of its own (netns.js: a veth pair
// on a private /24, created and removed by the test) whose outgoing UDP is
// dropped by an nftables rule, and no TURN server is offered: the only path
// to the SFU is its passive TCP candidate on the media port (RFC 6544,
// RFC 4571 framing). Chromium publishes with WHIP, views with WHEP and
// must decode video; the selected candidate pair of both must be TCP on
// both ends, the remote end the server's TCP media port, and the firewall
// must have dropped UDP the client tried. Then two room pages must see
// each other over TCP, and a control run without the firewall must still
// pick UDP (the TCP candidate's priority is lower); `--tcp ADDR` and
// `--no-tcp` move and remove the TCP candidate. Connection and
// first-frame times are printed as diagnostics (docs/benchmarks.md).
//
// Needs root, iproute2 and nftables (.ci/system-deps).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, launchChromium, waitFor, receiveStats } = require('./lib');
const { makeNetwork, tryRun, have } = require('./netns');

// ---- Run inside pages. ----

/**
 * WHIP-publish (publish: true) or WHEP-view with no ICE servers. Keeps the
 * connection in window.pc and times (ms from the start) in window.times.
 * Resolves to the session's URL.
 */
async function session({ url, token, publish }) {
  const t0 = performance.now();
  window.times = { connected: null, firstFrame: null };
  const pc = new RTCPeerConnection();
  if (publish) {
    const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
    for (const track of media.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
  } else {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  }
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected' && window.times.connected === null) {
      window.times.connected = performance.now() - t0;
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
    body: pc.localDescription.sdp,
  });
  const body = await r.text();
  if (r.status !== 201) throw new Error(`${publish ? 'WHIP' : 'WHEP'} answered ${r.status}: ${body}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  window.pc = pc;
  window.answer = body;
  if (!publish) {
    const poll = async () => {
      const stats = await pc.getStats();
      let frames = 0;
      stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0; });
      if (frames > 0) window.times.firstFrame = performance.now() - t0;
      else setTimeout(poll, 20);
    };
    poll();
  }
  return new URL(r.headers.get('Location'), url).href;
}

/** The selected candidate pair of window.pc (or the room page's connection). */
async function selectedPair() {
  const pc = window.pc || window.pcForTests();
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  const cand = (c) => c && {
    type: c.candidateType, protocol: c.protocol, tcpType: c.tcpType || null, address: c.address, port: c.port,
  };
  return pair && { local: cand(stats.get(pair.localCandidateId)), remote: cand(stats.get(pair.remoteCandidateId)) };
}

/** Room page: its remote videos that play (peer → width). */
function playing() {
  const out = {};
  for (const v of document.querySelectorAll('video[data-remote]')) {
    if (!v.paused && v.readyState >= 2 && v.videoWidth > 0) out[v.dataset.peer] = v.videoWidth;
  }
  return out;
}

// ---- The test. ----

const missing = () => {
  if (process.getuid && process.getuid() !== 0) return 'needs root (network namespaces)';
  for (const cmd of ['ip', 'nft']) if (!have(cmd)) return `needs ${cmd} (bash .ci/system-deps)`;
  return null;
};

test('ICE over TCP to the media port, UDP dropped in a network namespace', { timeout: 240000, skip: missing() || false }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifold-icetcp-'));
  const cleanups = [() => fs.rmSync(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()()).catch(() => {});
  };
  const onSignal = () => { cleanup().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let network = null;
  process.once('exit', () => { if (network) network.remove(); });
  t.after(async () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
    assert.equal(tryRun('ip', ['netns', 'list'])?.includes(network?.ns ?? '\0'), false, 'the namespace is gone');
  });

  network = makeNetwork(dir, { prefix: 'mfitcp', link: 'mfi', table: 'manifold_icetcp' });
  cleanups.push(() => network.remove());
  const ip = network.hostIp;
  const srv = await startServer([], { host: ip });
  cleanups.push(() => srv.stop());
  const media = srv.udp.port;
  t.diagnostic(`client namespace ${network.ns} (${network.clientIp}), server on ${ip}, media port ${media} (UDP and TCP); ${srv.url}`);

  const launch = async () => {
    const browser = await launchChromium({
      executablePath: network.launcher,
      // The pages come from http://<veth address>: a secure context for getUserMedia.
      args: [`--unsafely-treat-insecure-origin-as-secure=${srv.url}`],
    });
    cleanups.push(() => browser.close());
    return browser;
  };

  const cases = [
    { name: 'UDP dropped: ICE over TCP', block: ['meta l4proto udp counter drop'], protocol: 'tcp' },
    { name: 'UDP open: UDP still wins', block: [], protocol: 'udp' },
  ];
  const times = {};
  for (const c of cases) {
    await t.test(`${c.name}: WHIP publish and WHEP view`, async () => {
      network.block(c.block);
      const browser = await launch();
      try {
        const stream = `icetcp-${c.protocol}`;
        const pub = await browser.newPage();
        await pub.goto(`${srv.url}/`);
        const whip = await pub.evaluate(session, { url: `${srv.url}/whip/${stream}`, token: srv.token, publish: true });
        const answer = await pub.evaluate(() => window.answer);
        assert.match(answer, new RegExp(`a=candidate:\\S+ 1 tcp \\d+ ${ip.replace(/\./g, '\\.')} ${media} typ host tcptype passive`),
          'the answer offers a passive TCP candidate on the media port');
        await waitFor(() => pub.evaluate(() => window.pc.connectionState === 'connected'), 30000, 'the publisher to connect');

        const view = await browser.newPage();
        await view.goto(`${srv.url}/`);
        await view.evaluate(session, { url: `${srv.url}/whep/${stream}`, token: srv.token, publish: false });
        const first = await waitFor(async () => {
          const s = await view.evaluate(receiveStats);
          return s.framesDecoded > 30 && s.frameWidth > 0 && s;
        }, 30000, 'the WHEP viewer to decode 30 frames');
        const later = await waitFor(async () => {
          const s = await view.evaluate(receiveStats);
          return s.framesDecoded > first.framesDecoded + 30 && s;
        }, 15000, 'the WHEP viewer to keep decoding');
        const vt = await view.evaluate(() => window.times);
        const pt = await pub.evaluate(() => window.times);
        for (const [who, page] of [['publisher', pub], ['viewer', view]]) {
          const p = await page.evaluate(selectedPair);
          t.diagnostic(`${c.name}, ${who}: local ${JSON.stringify(p.local)} remote ${JSON.stringify(p.remote)}`);
          assert.equal(p.local.protocol, c.protocol, `${who}'s local candidate protocol`);
          assert.equal(p.remote.protocol, c.protocol, `${who}'s remote candidate protocol`);
          assert.equal(p.remote.address, ip, `${who} talks to the server`);
          assert.equal(p.remote.port, media, `${who} uses the media port`);
          if (c.protocol === 'tcp') assert.equal(p.remote.tcpType, 'passive');
        }
        if (c.block.length) {
          const counters = network.counters();
          t.diagnostic(`${c.name}: firewall counters ${JSON.stringify(counters)}`);
          for (const k of counters) assert.ok(k.packets > 0, `the client tried what "${k.rule}" blocks`);
        }
        times[c.name] = { publisherConnected: pt.connected, viewerConnected: vt.connected, viewerFirstFrame: vt.firstFrame };
        t.diagnostic(`${c.name}: publisher connected after ${Math.round(pt.connected)} ms; viewer connected after ${Math.round(vt.connected)} ms, first frame after ${Math.round(vt.firstFrame)} ms; ${later.framesDecoded} frames at ${later.frameWidth} px`);
        const del = await fetch(whip, { method: 'DELETE', headers: srv.auth });
        assert.equal(del.status, 200);
      } catch (e) {
        e.message += `\n--- server log ---\n${srv.log()}`;
        throw e;
      } finally {
        await browser.close().catch(() => {});
      }
    });
  }

  await t.test('UDP dropped: two room pages see each other over TCP', async () => {
    network.block(cases[0].block);
    const browser = await launch();
    try {
      const pages = {};
      for (const name of ['alice', 'bob']) {
        const page = await browser.newPage();
        await page.goto(`${srv.url}/room/icetcp?name=${name}&token=${srv.token}`);
        pages[name] = page;
      }
      const started = Date.now();
      for (const [name, other] of [['alice', 'bob'], ['bob', 'alice']]) {
        const seen = await waitFor(async () => {
          const p = await pages[name].evaluate(playing);
          return p[other] > 0 && p;
        }, 40000, `${name} to play ${other}'s video`);
        t.diagnostic(`room: ${name} plays ${other} at ${seen[other]} px after ${Date.now() - started} ms`);
      }
      for (const name of ['alice', 'bob']) {
        const decoded = await waitFor(async () => {
          const s = await pages[name].evaluate(async () => {
            window.pc = window.pcForTests();
            const stats = await window.pc.getStats();
            let frames = 0;
            stats.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video') frames += x.framesDecoded || 0; });
            return frames;
          });
          return s > 30 && s;
        }, 20000, `${name} to decode 30 frames`);
        const p = await pages[name].evaluate(selectedPair);
        t.diagnostic(`room ${name}: ${decoded} frames decoded; local ${JSON.stringify(p.local)} remote ${JSON.stringify(p.remote)}`);
        assert.equal(p.local.protocol, 'tcp', `${name}'s local candidate protocol`);
        assert.equal(p.remote.protocol, 'tcp', `${name}'s remote candidate protocol`);
        assert.equal(p.remote.port, media);
      }
    } catch (e) {
      e.message += `\n--- server log ---\n${srv.log()}`;
      throw e;
    } finally {
      await browser.close().catch(() => {});
    }
  });

  await t.test('flags: --tcp ADDR moves the TCP candidate, --no-tcp removes it', async () => {
    const answerTo = async (server) => {
      const page = await browser.newPage();
      await page.goto(`${server.url}/`);
      const sdp = await page.evaluate(async ({ url, token }) => {
        const pc = new RTCPeerConnection();
        pc.addTransceiver('audio', { direction: 'sendonly' });
        pc.addTransceiver('video', { direction: 'sendonly' });
        await pc.setLocalDescription(await pc.createOffer());
        const r = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
          body: pc.localDescription.sdp,
        });
        pc.close();
        const body = await r.text();
        if (r.status !== 201) throw new Error(`WHIP answered ${r.status}: ${body}`);
        return body;
      }, { url: `${server.url}/whip/flags`, token: server.token });
      await page.close();
      return sdp.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
    };
    const browser = await launchChromium();
    cleanups.push(() => browser.close());
    const moved = await startServer(['--tcp', '127.0.0.1:0']);
    cleanups.push(() => moved.stop());
    const off = await startServer(['--no-tcp']);
    cleanups.push(() => off.stop());
    try {
      const a = await answerTo(moved);
      t.diagnostic(`--tcp 127.0.0.1:0: ${JSON.stringify(a)}`);
      const tcp = a.filter((l) => / tcp /.test(l));
      assert.equal(tcp.length, 1, 'one TCP candidate');
      assert.match(tcp[0], / typ host tcptype passive/);
      assert.notEqual(Number(tcp[0].split(' ')[5]), moved.udp.port, 'on its own port, not the UDP one');
      assert.equal(a.filter((l) => / udp /.test(l)).length, 1, 'and the UDP candidate');
      const b = await answerTo(off);
      t.diagnostic(`--no-tcp: ${JSON.stringify(b)}`);
      assert.deepEqual(b.filter((l) => / tcp /.test(l)), [], 'no TCP candidate');
      assert.equal(b.length, 1, 'only the UDP candidate');
    } finally {
      await browser.close().catch(() => {});
      for (const s of [moved, off]) assert.equal((await s.stop()).code, 0);
    }
  });

  t.diagnostic(`times (ms): ${JSON.stringify(times)}`);
  assert.ok(srv.alive(), 'the server still runs');
  const exit = await srv.stop();
  assert.equal(exit.code, 0, `clean exit on Ctrl-C\n${srv.log()}`);
});
