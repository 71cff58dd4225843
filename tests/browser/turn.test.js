// TURN through coturn when UDP is blocked (issue #16, the TURN half).
//
// The test builds its own little network and removes it at the end (also
// on failure): a network namespace for the client, joined to the root
// namespace by a veth pair on a private /24 of its own, with nftables rules
// on the namespace's outgoing packets. coturn (Debian's package) runs in the
// root namespace on the veth address with a config file and a self-signed
// certificate written to a temp dir, serving TURN over UDP, TCP and TLS
// with `use-auth-secret`; the reference server runs there too with
// `--turn-url` (three URLs) and `--turn-secret`. Chromium runs inside the
// namespace. Nothing leaves the machine.
//
// Four networks, each leaving exactly one path: everything open (direct
// UDP); UDP only to coturn's port and TCP to coturn refused (TURN/UDP); UDP
// dropped and TCP to coturn's TLS port refused (TURN/TCP); UDP dropped and
// TCP to coturn's plain port refused (TURN/TLS). The relay cases also refuse
// TCP to the SFU's media port (its ICE-over-TCP candidate, on by default). In each, Chromium
// publishes with WHIP and views with WHEP, taking its ICE servers from the
// 201's `Link: <turn:...>; rel="ice-server"` headers, and must decode
// video over that path (the selected candidate pair is checked, and every
// rule on a path the client always tries must have been hit; the SFU's TCP
// port may be tried or not before a relayed pair wins, so its counter is
// only printed). Over TURN/TCP and TURN/TLS, two room
// pages (ICE servers from the `welcome` message) must decode each other,
// and aiortc must publish and view, through the relay too. coturn must
// accept the minted credentials (username "<expiry>:manifold", password
// base64(HMAC-SHA1)) and refuse a wrong secret or an expired username.
// Connection and first-frame times are printed as diagnostics
// (docs/benchmarks.md).
//
// Needs root, iproute2, nftables, coturn and openssl (.ci/system-deps).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { startServer, launchChromium, waitFor, sleep, receiveStats, runClient } = require('./lib');
const { makeNetwork, run, tryRun, have } = require('./netns');

const AIORTC_PYTHON = process.env.AIORTC_PYTHON
  || path.join(__dirname, '..', 'interop', '.venv', 'bin', 'python');
const AIORTC_CLIENT = path.join(__dirname, '..', 'interop', 'aiortc_client.py');

const TTL = 600;
// coturn's ports: not 3478/5349, which a coturn service of the machine
// (Debian starts one on install where systemd runs) may hold on every address.
const TURN_PORT = 13478;
const TLS_PORT = 15349;

/** Wait until something accepts TCP connections on host:port. */
async function tcpOpen(host, port, ms) {
  await waitFor(() => new Promise((resolve) => {
    const s = net.connect({ host, port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), ms, `TCP ${host}:${port} to accept`);
}

/**
 * coturn on `ip`: TURN over UDP and TCP on TURN_PORT, TLS on TLS_PORT (self-signed
 * certificate made here with openssl), relay ports on `ip`, shared-secret
 * auth, peers limited to `ip` (the SFU). Resolves to { stop, log, conf }.
 */
async function startCoturn(dir, ip, secret) {
  const cert = path.join(dir, 'turn-cert.pem');
  const key = path.join(dir, 'turn-key.pem');
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=turn.manifold.test',
    '-addext', `subjectAltName=IP:${ip},DNS:turn.manifold.test`]);
  const conf = path.join(dir, 'turnserver.conf');
  fs.writeFileSync(conf, [
    `listening-ip=${ip}`,
    `relay-ip=${ip}`,
    `listening-port=${TURN_PORT}`,
    `tls-listening-port=${TLS_PORT}`,
    'min-port=49160',
    'max-port=49400',
    'fingerprint',
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    'realm=manifold.test',
    `cert=${cert}`,
    `pkey=${key}`,
    'no-tlsv1',
    'no-tlsv1_1',
    'no-dtls',
    'no-cli',
    'no-multicast-peers',
    'denied-peer-ip=0.0.0.0-255.255.255.255',
    `allowed-peer-ip=${ip}`,
    `userdb=${path.join(dir, 'turndb')}`,
    `pidfile=${path.join(dir, 'turnserver.pid')}`,
    'log-file=stdout',
    'simple-log',
    'verbose',
    '',
  ].join('\n'));
  const proc = spawn('turnserver', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  try {
    await tcpOpen(ip, TURN_PORT, 10000);
    await tcpOpen(ip, TLS_PORT, 10000);
  } catch (e) {
    await stop();
    e.message += `\n--- coturn log ---\n${log}`;
    throw e;
  }
  return { stop, log: () => log, conf, cert, pid: proc.pid };
}

/** coturn's shared-secret password for a username. */
function coturnPassword(secret, username) {
  return crypto.createHmac('sha1', secret).update(username).digest('base64');
}

/** Check one minted credential against coturn's scheme. */
function checkCredential(secret, username, credential, what) {
  const m = /^(\d+):manifold$/.exec(username);
  assert.ok(m, `${what}: username ${username} is <expiry>:manifold`);
  const left = Number(m[1]) - Date.now() / 1000;
  assert.ok(left > TTL - 30 && left <= TTL + 1, `${what}: expires in ${left} s, --turn-ttl ${TTL}`);
  assert.equal(credential, coturnPassword(secret, username), `${what}: password = base64(HMAC-SHA1(secret, username))`);
}

// ---- Run inside pages. ----

/**
 * WHIP-publish (publish: true) or WHEP-view over a connection configured
 * with the ICE servers of the 201's Link headers: the offer is created and
 * POSTed first, then applied once the ICE servers are known, so ICE
 * gathering starts with them. Keeps the connection in window.pc and times
 * (ms from the start) in window.times. Resolves to { location, links, iceServers }.
 */
async function turnSession({ url, token, publish }) {
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
  const offer = await pc.createOffer();
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
    body: offer.sdp,
  });
  const body = await r.text();
  if (r.status !== 201) throw new Error(`${publish ? 'WHIP' : 'WHEP'} answered ${r.status}: ${body}`);
  // RFC 9725 section 4.6: Link: <url>; rel="ice-server"; username="..."; credential="..."
  const links = r.headers.get('Link') || '';
  const iceServers = [];
  for (const link of links.split(/,\s*(?=<)/)) {
    const m = /^<([^>]*)>(.*)$/.exec(link.trim());
    if (!m) continue;
    const p = {};
    for (const kv of m[2].matchAll(/;\s*([a-z-]+)="([^"]*)"/g)) p[kv[1]] = kv[2];
    if (p.rel !== 'ice-server') continue;
    const s = { urls: m[1] };
    if (p.username !== undefined) { s.username = p.username; s.credential = p.credential; }
    iceServers.push(s);
  }
  pc.setConfiguration({ iceServers });
  await pc.setLocalDescription(offer);
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  window.pc = pc;
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
  return { location: new URL(r.headers.get('Location'), url).href, links, iceServers };
}

/** The selected candidate pair of window.pc and the local candidates gathered. */
async function selectedPair() {
  const pc = window.pc || window.pcForTests();
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  const cand = (c) => c && {
    type: c.candidateType, protocol: c.protocol, relayProtocol: c.relayProtocol || null,
    address: c.address, port: c.port, url: c.url || null,
  };
  const local = [];
  stats.forEach((s) => { if (s.type === 'local-candidate') local.push(cand(s)); });
  return {
    gathering: pc.iceGatheringState,
    local: pair && cand(stats.get(pair.localCandidateId)),
    remote: pair && cand(stats.get(pair.remoteCandidateId)),
    relays: local.filter((c) => c.type === 'relay').map((c) => c.relayProtocol).sort(),
  };
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
  for (const cmd of ['ip', 'nft', 'turnserver', 'openssl']) if (!have(cmd)) return `needs ${cmd} (bash .ci/system-deps)`;
  return null;
};

test('TURN over UDP, TCP and TLS through coturn, UDP blocked in a network namespace', { timeout: 300000, skip: missing() || false }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifold-turn-'));
  const cleanups = [() => fs.rmSync(dir, { recursive: true, force: true })];
  const cleanup = async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()()).catch(() => {});
  };
  // Also on Ctrl-C or a crash of the test runner: no namespace left behind.
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

  network = makeNetwork(dir, { prefix: 'mfturn', link: 'mft', table: 'manifold_turn' });
  cleanups.push(() => network.remove());
  const ip = network.hostIp;
  const secret = crypto.randomBytes(18).toString('base64');
  const coturn = await startCoturn(dir, ip, secret);
  cleanups.push(() => coturn.stop());
  process.once('exit', () => { try { process.kill(coturn.pid, 'SIGKILL'); } catch { /* gone */ } });
  const urls = [
    `turn:${ip}:${TURN_PORT}?transport=udp`,
    `turn:${ip}:${TURN_PORT}?transport=tcp`,
    `turns:${ip}:${TLS_PORT}?transport=tcp`,
  ];
  const srv = await startServer([
    ...urls.flatMap((u) => ['--turn-url', u]),
    '--turn-secret', secret, '--turn-ttl', String(TTL),
  ], { host: ip });
  cleanups.push(() => srv.stop());
  t.diagnostic(`client namespace ${network.ns} (${network.clientIp}), server and coturn on ${ip}; ${srv.url}`);
  const logs = () => `--- coturn log (tail) ---\n${coturn.log().split('\n').slice(-40).join('\n')}\n--- server log ---\n${srv.log()}`;

  const launch = async () => {
    const browser = await launchChromium({
      executablePath: network.launcher,
      args: [
        // The pages come from http://<veth address>: a secure context for getUserMedia.
        `--unsafely-treat-insecure-origin-as-secure=${srv.url}`,
        // coturn's certificate is self-signed.
        '--ignore-certificate-errors',
      ],
    });
    cleanups.push(() => browser.close());
    return browser;
  };

  // One network after another: direct UDP, then TURN/TCP, then TURN/TLS.
  // The SFU's own TCP port (ICE over TCP, ice_tcp.test.js) is refused in
  // every relay case: it would be a path around the relay.
  const sfuTcp = `ip daddr ${ip} tcp dport ${srv.udp.port} counter reject with tcp reset`;
  // `block`: paths the client always tries (host UDP, every TURN URL while
  // gathering), so each rule must count packets. `guard`: the SFU's TCP
  // candidate, closed so it cannot carry the session; Chromium may or may
  // not have tried it by the time a relayed pair is selected, so its
  // counter is only printed.
  const cases = [
    { name: 'UDP open', block: [], guard: [], relay: null },
    {
      name: 'UDP only to coturn, TCP to coturn and the SFU refused: TURN/UDP',
      block: [`udp dport != ${TURN_PORT} counter drop`,
        `tcp dport { ${TURN_PORT}, ${TLS_PORT} } counter reject with tcp reset`],
      guard: [sfuTcp],
      relay: 'udp',
    },
    {
      name: 'UDP dropped, TLS port and the SFU refused: TURN/TCP',
      block: ['meta l4proto udp counter drop', `tcp dport ${TLS_PORT} counter reject with tcp reset`],
      guard: [sfuTcp],
      relay: 'tcp',
    },
    {
      name: 'UDP dropped, plain TURN port and the SFU refused: TURN/TLS',
      block: ['meta l4proto udp counter drop', `tcp dport ${TURN_PORT} counter reject with tcp reset`],
      guard: [sfuTcp],
      relay: 'tls',
    },
  ];
  const times = {};
  for (const c of cases) {
    await t.test(`${c.name}: WHIP publish and WHEP view`, async () => {
      network.block([...c.block, ...c.guard]);
      const browser = await launch();
      try {
        const stream = `turn-${c.relay || 'direct'}`;
        const pub = await browser.newPage();
        await pub.goto(`${srv.url}/`);
        const whip = await pub.evaluate(turnSession, { url: `${srv.url}/whip/${stream}`, token: srv.token, publish: true });
        // The 201 carries one Link per TURN URL, with coturn-scheme credentials.
        assert.deepEqual(whip.iceServers.map((s) => s.urls), urls, `Link headers: ${whip.links}`);
        for (const s of whip.iceServers) checkCredential(secret, s.username, s.credential, `WHIP Link ${s.urls}`);
        assert.match(whip.links, /<turns:[^>]+>; rel="ice-server"; username="\d+:manifold"; credential="[A-Za-z0-9+/=]+"; credential-type="password"/);
        await waitFor(() => pub.evaluate(() => window.pc.connectionState === 'connected'), 30000, 'the publisher to connect');

        const view = await browser.newPage();
        await view.goto(`${srv.url}/`);
        const whep = await view.evaluate(turnSession, { url: `${srv.url}/whep/${stream}`, token: srv.token, publish: false });
        assert.match(whep.links, /rel="urn:ietf:params:whep:ext:core:layer"/, 'the layer extension link stays');
        assert.equal(whep.iceServers.length, 3);
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
          // Wait for gathering to end so every relay candidate is listed.
          const p = await waitFor(async () => {
            const s = await page.evaluate(selectedPair);
            return s.local && s.gathering === 'complete' && s;
          }, 20000, `${who}'s ICE gathering to complete`);
          t.diagnostic(`${c.name}, ${who}: local ${JSON.stringify(p.local)} remote ${p.remote.address}:${p.remote.port}; relay candidates ${p.relays.join(',') || 'none'}`);
          if (c.relay) {
            assert.equal(p.local.type, 'relay', `${who} connects through the relay`);
            assert.equal(p.local.relayProtocol, c.relay, `${who}'s relay protocol`);
            assert.equal(p.local.address, ip, `${who}'s relayed address is coturn's`);
          } else {
            assert.notEqual(p.local.type, 'relay', `${who} connects directly when UDP works`);
            assert.equal(p.local.protocol, 'udp');
          }
        }
        if (c.block.length) {
          // The client did try every path the firewall closes for it.
          const counters = network.counters();
          t.diagnostic(`${c.name}: firewall counters ${JSON.stringify(counters)}`);
          assert.equal(counters.length, c.block.length + c.guard.length, 'one counter per rule');
          // nft lists the rules in order: the `block` ones first.
          for (const k of counters.slice(0, c.block.length)) assert.ok(k.packets > 0, `the client tried what "${k.rule}" blocks`);
        }
        times[c.name] = { publisherConnected: pt.connected, viewerConnected: vt.connected, viewerFirstFrame: vt.firstFrame };
        t.diagnostic(`${c.name}: publisher connected after ${Math.round(pt.connected)} ms; viewer connected after ${Math.round(vt.connected)} ms, first frame after ${Math.round(vt.firstFrame)} ms; ${later.framesDecoded} frames at ${later.frameWidth} px`);
        for (const loc of [whip.location]) await fetch(loc, { method: 'DELETE', headers: srv.auth });
      } catch (e) {
        e.message += `\n${logs()}`;
        throw e;
      } finally {
        await browser.close().catch(() => {});
      }
    });
  }

  await t.test('coturn accepts minted credentials and refuses a wrong secret or an expired username', async () => {
    network.block([]);
    const browser = await launch();
    try {
      const page = await browser.newPage();
      await page.goto(`${srv.url}/`);
      const now = Math.floor(Date.now() / 1000);
      const creds = {
        minted: (() => { const u = `${now + TTL}:manifold`; return [u, coturnPassword(secret, u)]; })(),
        'wrong secret': (() => { const u = `${now + TTL}:manifold`; return [u, coturnPassword(`${secret}x`, u)]; })(),
        expired: (() => { const u = `${now - 60}:manifold`; return [u, coturnPassword(secret, u)]; })(),
      };
      for (const [what, [username, credential]] of Object.entries(creds)) {
        const relays = await page.evaluate(async ({ urls, username, credential }) => {
          const pc = new RTCPeerConnection({ iceServers: [{ urls, username, credential }], iceTransportPolicy: 'relay' });
          pc.createDataChannel('x');
          await pc.setLocalDescription(await pc.createOffer());
          // coturn answers within milliseconds; Chromium gives up on a
          // refused server much later: 4 s is plenty for either outcome.
          const end = Date.now() + 4000;
          while (pc.iceGatheringState !== 'complete' && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
          const out = [];
          (await pc.getStats()).forEach((c) => { if (c.type === 'local-candidate') out.push(c.relayProtocol); });
          pc.close();
          return out.sort();
        }, { urls, username, credential });
        t.diagnostic(`${what} credentials: relay candidates ${relays.join(',') || 'none'}`);
        // Minted: an allocation over each of UDP, TCP and TLS.
        if (what === 'minted') assert.deepEqual([...new Set(relays)], ['tcp', 'tls', 'udp'], `${what} credentials`);
        else assert.deepEqual(relays, [], `${what}: coturn refuses`);
      }
    } finally {
      await browser.close().catch(() => {});
    }
  });

  for (const c of cases.filter((x) => x.relay === 'tcp' || x.relay === 'tls')) {
    await t.test(`${c.name}: two room pages see each other through the relay`, async () => {
      network.block([...c.block, ...c.guard]);
      const browser = await launch();
      try {
        const room = `turn-room-${c.relay}`;
        const pages = {};
        const welcomes = {};
        for (const name of ['alice', 'bob']) {
          const page = await browser.newPage();
          page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
            try {
              const m = JSON.parse(payload);
              if (m.type === 'welcome') welcomes[name] = m;
            } catch { /* not JSON */ }
          }));
          await page.goto(`${srv.url}/room/${room}?name=${name}&token=${srv.token}`);
          pages[name] = page;
        }
        const started = Date.now();
        for (const [name, other] of [['alice', 'bob'], ['bob', 'alice']]) {
          const seen = await waitFor(async () => {
            const p = await pages[name].evaluate(playing);
            return p[other] > 0 && p;
          }, 40000, `${name} to play ${other}'s video`);
          t.diagnostic(`${c.name}: ${name} plays ${other} at ${seen[other]} px after ${Date.now() - started} ms`);
        }
        for (const name of ['alice', 'bob']) {
          const w = welcomes[name];
          assert.ok(w, `${name} got a welcome`);
          assert.deepEqual(w.iceServers.map((s) => s.urls), [urls], `${name}'s welcome iceServers`);
          checkCredential(secret, w.iceServers[0].username, w.iceServers[0].credential, `${name}'s welcome`);
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
          t.diagnostic(`${c.name}, room ${name}: ${decoded} frames decoded; local ${JSON.stringify(p.local)}`);
          assert.equal(p.local.type, 'relay', `${name} connects through the relay`);
          assert.equal(p.local.relayProtocol, c.relay, `${name}'s relay protocol`);
          assert.equal(await pages[name].evaluate(() => document.getElementById('status').dataset.state), 'connected');
        }
      } catch (e) {
        e.message += `\n${logs()}`;
        throw e;
      } finally {
        await browser.close().catch(() => {});
      }
    });
  }

  // Another stack: aiortc (tests/interop/.venv) as WHIP publisher and WHEP
  // viewer in the namespace, its TURN server taken from the Link headers.
  for (const c of cases.filter((x) => x.relay === 'tcp' || x.relay === 'tls')) {
    const why = fs.existsSync(AIORTC_PYTHON) ? false : `no ${AIORTC_PYTHON} (bash tests/interop/setup-venv.sh)`;
    await t.test(`${c.name}: aiortc publishes and views through the relay of the Link headers`, { skip: why }, async () => {
      network.block([...c.block, ...c.guard]);
      const stream = `aiortc-${c.relay}`;
      const r = await runClient('ip', ['netns', 'exec', network.ns, AIORTC_PYTHON, AIORTC_CLIENT,
        '--whip', `${srv.url}/whip/${stream}`, '--whep', `${srv.url}/whep/${stream}`,
        '--token', srv.token, '--turn', c.relay, '--frames', '30'], 90000,
      // Python verifies coturn's certificate (issued for its IP) against this file.
      { SSL_CERT_FILE: coturn.cert });
      const res = r.result || {};
      const detail = `\n--- aiortc stderr ---\n${r.stderr}\n${logs()}`;
      assert.ok(res.ok, `aiortc: ${res.error}${detail}`);
      t.diagnostic(`aiortc ${c.relay}: ${r.seconds} s; TURN ${res.turn}; publisher ${JSON.stringify(res.publisher.candidate)}; `
        + `viewer ${JSON.stringify(res.viewer.candidate)}, ${res.viewer.videoFrames} frames ${res.viewer.width}x${res.viewer.height}`);
      assert.equal(res.turn, c.relay === 'tls' ? urls[2] : urls[1]);
      for (const s of res.iceServers) checkCredential(secret, s.username, s.credential, `aiortc's Link ${s.urls}`);
      for (const who of ['publisher', 'viewer']) {
        assert.equal(res[who].candidate && res[who].candidate.type, 'relay', `aiortc ${who} connects through the relay`);
        assert.equal(res[who].candidate.host, ip, `aiortc ${who}'s relayed address is coturn's`);
      }
      assert.ok(res.viewer.videoFrames >= 30 && res.viewer.width > 0, 'aiortc decodes video');
    });
  }

  t.diagnostic(`times (ms): ${JSON.stringify(times)}`);
  assert.ok(srv.alive(), 'the server still runs');
  await sleep(0);
});
