// Shared helpers of the browser tests: start the example server on free
// ports with a fresh token, launch Debian's Chromium (playwright-core) or
// Firefox ESR (puppeteer-core), and the WHIP/WHEP clients run in pages.
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
const SERVER = process.env.MANIFOLD_SERVER || path.join(TARGET, 'release', 'examples', 'server');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns a truthy value; throw after `ms`. */
async function waitFor(check, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${describe(last)})`);
    }
    await sleep(200);
  }
}

function describe(v) {
  if (v instanceof Error) return v.message;
  try { return JSON.stringify(v); } catch { return String(v); }
}

/**
 * Start the server; resolves once it printed its URLs. `host`: the address
 * its HTTP and UDP sockets bind (default 127.0.0.1); `token`: the bearer
 * token (default: a fresh one).
 */
async function startServer(extra = [], { host = '127.0.0.1', token = crypto.randomBytes(16).toString('hex') } = {}) {
  if (!fs.existsSync(SERVER)) {
    throw new Error(`${SERVER} is missing: run cargo build --release --example server`);
  }
  // SERVER_ARGS (split on spaces) is appended to every server's arguments,
  // e.g. SERVER_ARGS='--send-path owned' runs a test on the owned path.
  const more = (process.env.SERVER_ARGS || '').split(' ').filter(Boolean);
  const args = ['--http', `${host}:0`, '--udp', `${host}:0`, '--token', token, ...extra, ...more];
  const proc = spawn(SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let log = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => {
    log += d;
    if (process.env.SERVER_LOG) fs.appendFileSync(process.env.SERVER_LOG, d);
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`server exited: ${out}${log}`);
    const m = out.match(/conference rooms: (http:\/\/[0-9.:]+)\//);
    return m && m[1];
  }, 10000, 'the server to start');
  const udp = out.match(/media: +(?:\d+ workers, )?udp ([0-9.]+):([0-9]+)/);
  let stopped = null;
  return {
    url,
    udp: { host: udp[1], port: Number(udp[2]) },
    token,
    auth: { Authorization: `Bearer ${token}` },
    log: () => log,
    stdout: () => out,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    /** SIGKILL (a crash: no clean shutdown); resolves once it is gone. */
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      return exited;
    },
    /** Ctrl-C, then wait for a clean exit (SIGKILL after 8 s). */
    async stop() {
      if (stopped) return stopped;
      if (proc.exitCode !== null || proc.signalCode !== null) return (stopped = exited);
      proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 8000);
      stopped = exited.finally(() => clearTimeout(timer));
      return stopped;
    },
  };
}

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/**
 * Debian's Chromium, headless. `executablePath`: another launcher (e.g. a
 * script running Chromium in a network namespace); `args`: extra flags.
 */
async function launchChromium({ executablePath = CHROMIUM, args = [] } = {}) {
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...args] });
}

/** Firefox ESR over WebDriver BiDi, with fake media and loopback ICE. */
async function launchFirefox() {
  const puppeteer = require('puppeteer-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'manifold-ff-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'media.navigator.permission.disabled': true,
      'permissions.default.camera': 1,
      'permissions.default.microphone': 1,
      'media.peerconnection.ice.loopback': true,
      'media.peerconnection.ice.obfuscate_host_addresses': false,
      'media.autoplay.default': 0,
    },
  });
  const close = browser.close.bind(browser);
  browser.close = async () => {
    await close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return browser;
}

// ---- Run inside pages (serialized by the drivers: no outside references). ----

/** WHIP-publish fake camera and microphone; resolves to the Location. */
async function whipPublish({ url, token }) {
  const media = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: 640, height: 360 },
  });
  const pc = new RTCPeerConnection();
  for (const track of media.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
    body: pc.localDescription.sdp,
  });
  const body = await r.text();
  if (r.status !== 201) throw new Error(`WHIP answered ${r.status}: ${body}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  window.pc = pc;
  return new URL(r.headers.get('Location'), url).href;
}

/** WHEP-view audio and video; resolves to the Location. */
async function whepView({ url, token }) {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  window.ended = 0;
  pc.ontrack = (e) => e.track.addEventListener('ended', () => { window.ended += 1; });
  await pc.setLocalDescription(await pc.createOffer());
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
    body: pc.localDescription.sdp,
  });
  const body = await r.text();
  if (r.status !== 201) throw new Error(`WHEP answered ${r.status}: ${body}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  window.pc = pc;
  return new URL(r.headers.get('Location'), url).href;
}

/** What window.pc receives and its connection state. */
async function receiveStats() {
  const out = { framesDecoded: 0, frameWidth: 0, audioPackets: 0, videoPackets: 0 };
  const stats = await window.pc.getStats();
  stats.forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    const kind = s.kind || s.mediaType;
    if (kind === 'video') {
      out.framesDecoded += s.framesDecoded || 0;
      out.frameWidth = Math.max(out.frameWidth, s.frameWidth || 0);
      out.videoPackets += s.packetsReceived || 0;
    } else if (kind === 'audio') {
      out.audioPackets += s.packetsReceived || 0;
    }
  });
  out.state = window.pc.connectionState;
  const rx = window.pc.getReceivers();
  out.dtls = rx[0] && rx[0].transport ? rx[0].transport.state : null;
  out.muted = rx.filter((r) => r.track.muted).length;
  out.ice = window.pc.iceConnectionState;
  out.ended = window.ended || 0;
  return out;
}

/** Wait until a page's window.pc decodes video and receives audio, and keeps doing so. */
async function expectDecoding(page, label, ms = 30000) {
  const first = await waitFor(async () => {
    const s = await page.evaluate(receiveStats);
    return s.framesDecoded > 10 && s.frameWidth > 0 && s.audioPackets > 20 && s;
  }, ms, `${label} to decode video and receive audio`);
  const later = await waitFor(async () => {
    const s = await page.evaluate(receiveStats);
    return s.framesDecoded > first.framesDecoded + 10 && s.audioPackets > first.audioPackets + 20 && s;
  }, ms, `${label} to keep decoding`);
  return later;
}

/**
 * WHIP-publish the fake camera at 1280x720 in layers (no audio). `mode`:
 * 'simulcast' (VP8 rids q/h/f, scaled down by 4/2/1), 'vp9' (VP9 SVC
 * L3T3_KEY) or 'av1' (AV1 L1T3 with the Dependency Descriptor). Resolves to
 * { location, offer, answer }; keeps the connection in window.pc.
 */
async function whipPublishLayered({ url, token, mode, scale = 1 }) {
  const media = await navigator.mediaDevices.getUserMedia({
    video: { width: 1280, height: 720, frameRate: 30 },
  });
  const [track] = media.getVideoTracks();
  const pc = new RTCPeerConnection();
  const sendEncodings = {
    simulcast: [
      { rid: 'q', scaleResolutionDownBy: 4 },
      { rid: 'h', scaleResolutionDownBy: 2 },
      { rid: 'f', scaleResolutionDownBy: 1 },
    ],
    vp9: [{ scalabilityMode: 'L3T3_KEY' }],
    av1: [{ scalabilityMode: 'L1T3' }],
  }[mode];
  if (scale !== 1) sendEncodings[0].scaleResolutionDownBy = scale;
  const mime = { simulcast: 'video/VP8', vp9: 'video/VP9', av1: 'video/AV1' }[mode];
  const codecs = RTCRtpSender.getCapabilities('video').codecs;
  const first = codecs.filter((c) => c.mimeType === mime && !/profile-id=[^0]/.test(c.sdpFmtpLine || ''));
  // The server answers with its own codec order (VP8 first), which is what
  // Chromium sends by default: name the codec per encoding as well.
  if (mode !== 'simulcast') sendEncodings[0].codec = first[0];
  const tr = pc.addTransceiver(track, { direction: 'sendonly', sendEncodings });
  tr.setCodecPreferences([...first, ...codecs.filter((c) => !first.includes(c))]);
  if (mode === 'av1') {
    // Chromium offers the Dependency Descriptor only when asked to.
    const exts = tr.getHeaderExtensionsToNegotiate();
    for (const e of exts) if (/dependency-descriptor/.test(e.uri)) e.direction = 'sendrecv';
    tr.setHeaderExtensionsToNegotiate(exts);
  }
  await pc.setLocalDescription(await pc.createOffer());
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
    body: pc.localDescription.sdp,
  });
  const body = await r.text();
  if (r.status !== 201) throw new Error(`WHIP answered ${r.status}: ${body}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  // Keep the resolutions under test: no CPU or quality downscaling.
  const params = tr.sender.getParameters();
  params.degradationPreference = 'maintain-resolution';
  await tr.sender.setParameters(params).catch(() => {});
  window.pc = pc;
  return { location: new URL(r.headers.get('Location'), url).href, offer: pc.localDescription.sdp, answer: body };
}

/**
 * WHEP-view video only. `limit` (kbps) adds b=TIAS and b=AS to the video
 * section of the offer POSTed (not to the local description); `dd` asks
 * for the Dependency Descriptor. Resolves to { location, link, answer }.
 */
async function whepViewVideo({ url, token, limit, dd }) {
  const pc = new RTCPeerConnection();
  const tr = pc.addTransceiver('video', { direction: 'recvonly' });
  if (dd) {
    const exts = tr.getHeaderExtensionsToNegotiate();
    for (const e of exts) if (/dependency-descriptor/.test(e.uri)) e.direction = 'sendrecv';
    tr.setHeaderExtensionsToNegotiate(exts);
  }
  await pc.setLocalDescription(await pc.createOffer());
  let sdp = pc.localDescription.sdp;
  if (limit) {
    sdp = sdp.replace(/(m=video[^\r\n]*\r\nc=[^\r\n]*\r\n)/,
      `$1b=AS:${limit}\r\nb=TIAS:${limit * 1000}\r\n`);
  }
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
    body: sdp,
  });
  const body = await r.text();
  if (r.status !== 201) throw new Error(`WHEP answered ${r.status}: ${body}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  window.pc = pc;
  return {
    location: new URL(r.headers.get('Location'), url).href,
    link: r.headers.get('Link'),
    offer: sdp,
    answer: body,
  };
}

/** window.pc's inbound video: decoded frames, size, PLIs, losses, codec. */
async function videoStats() {
  const out = { framesDecoded: 0, frameWidth: 0, frameHeight: 0, pliCount: 0, nackCount: 0, packetsLost: 0, codec: null };
  const stats = await window.pc.getStats();
  stats.forEach((s) => {
    if (s.type !== 'inbound-rtp' || (s.kind || s.mediaType) !== 'video') return;
    out.framesDecoded += s.framesDecoded || 0;
    out.frameWidth = s.frameWidth || 0;
    out.frameHeight = s.frameHeight || 0;
    out.pliCount += s.pliCount || 0;
    out.nackCount += s.nackCount || 0;
    out.packetsLost += s.packetsLost || 0;
    const c = s.codecId && stats.get(s.codecId);
    out.codec = c ? c.mimeType : out.codec;
  });
  out.state = window.pc.connectionState;
  out.at = performance.now();
  return out;
}

/** window.pc's outbound video per encoding: rid, size, fps, bitrate so far. */
async function sendStats() {
  const out = [];
  const stats = await window.pc.getStats();
  stats.forEach((s) => {
    if (s.type !== 'outbound-rtp' || (s.kind || s.mediaType) !== 'video') return;
    out.push({
      rid: s.rid || null, width: s.frameWidth || 0, height: s.frameHeight || 0,
      fps: s.framesPerSecond || 0, bytes: s.bytesSent || 0, mode: s.scalabilityMode || null,
      limit: s.qualityLimitationReason || null, active: s.active,
      codec: (s.codecId && stats.get(s.codecId) && stats.get(s.codecId).mimeType) || null,
    });
  });
  out.sort((a, b) => (a.rid || '').localeCompare(b.rid || ''));
  return out;
}

// ---- Audio files for Chromium's fake microphone (speaker tests). ----

/** A mono 16-bit 48 kHz WAV file of `seconds`, sample `i` from `sample(i)` (-1 to 1). */
function writeWav(file, seconds, sample) {
  const rate = 48000;
  const n = rate * seconds;
  const buf = Buffer.alloc(44 + 2 * n);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + 2 * n, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    const v = Math.max(-1, Math.min(1, sample(i, rate)));
    buf.writeInt16LE(Math.round(v * 32767), 44 + 2 * i);
  }
  fs.writeFileSync(file, buf);
}

/** Speech-like: 200 ms syllables (180 ms tone at 200-500 Hz, 20 ms gap). */
function speech(i, rate) {
  const t = i / rate;
  const syllable = Math.floor(t / 0.2);
  const inSyllable = t - syllable * 0.2;
  if (inSyllable > 0.18) return 0;
  const f = 200 + 60 * (syllable % 6);
  const fade = Math.min(1, inSyllable / 0.01, (0.18 - inSyllable) / 0.01);
  return 0.3 * fade * (Math.sin(2 * Math.PI * f * t) + 0.5 * Math.sin(4 * Math.PI * f * t));
}

// ---- Runs after a quiet spell (issue #13). ----

/**
 * Keep the server quiet (no datagram at all) for longer than its liveness
 * timeout: every earlier client has closed and DELETEd its sessions, and
 * nothing runs while this sleeps. `seconds` is the server's
 * --liveness-timeout; the margin covers timers of transports just closed.
 */
async function quietSpell(t, seconds) {
  const ms = Math.round(seconds * 1000 + 1500);
  t.diagnostic(`server quiet for ${ms} ms (liveness timeout ${seconds} s)`);
  await sleep(ms);
}

/** Append the server's log (and `extra`) to an error's message. */
async function withServerLog(srv, fn, extra = () => '') {
  try {
    return await fn();
  } catch (e) {
    const more = extra();
    e.message += `${more ? `\n${more}` : ''}\n--- server log ---\n${srv.log() || '(empty)'}`;
    throw e;
  }
}

/**
 * Run a client program; resolves to { code, signal, stdout, stderr, result }
 * where result is the last stdout line parsed as JSON (null if none).
 * Killed (SIGKILL) after `ms`.
 */
function runClient(command, args, ms, env = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, ms);
    proc.on('error', (e) => { stderr += `\nspawn ${command}: ${e.message}`; });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      let result = null;
      const lines = stdout.trim().split('\n').filter(Boolean);
      try { result = JSON.parse(lines[lines.length - 1]); } catch { result = null; }
      if (timedOut) stderr += `\n(killed after ${ms} ms)`;
      resolve({ code, signal, stdout, stderr, result, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/**
 * In a page: WHIP-publish fake camera and microphone and WHEP-view the same
 * stream, creating both sessions (both POSTs answered) before either
 * connection applies its answer, so that after a quiet spell both
 * transports are made before any datagram reaches the server. Keeps the
 * publisher in window.pub, the viewer in window.pc; resolves to the two
 * session URLs.
 */
async function whipThenWhep({ whip, whep, token }) {
  const post = async (url, sdp, what) => {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` },
      body: sdp,
    });
    const body = await r.text();
    if (r.status !== 201) throw new Error(`${what} answered ${r.status}: ${body.trim()}`);
    return { location: new URL(r.headers.get('Location'), url).href, body };
  };
  const media = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: 640, height: 360 },
  });
  const pub = new RTCPeerConnection();
  for (const track of media.getTracks()) pub.addTransceiver(track, { direction: 'sendonly' });
  await pub.setLocalDescription(await pub.createOffer());
  const view = new RTCPeerConnection();
  view.addTransceiver('audio', { direction: 'recvonly' });
  view.addTransceiver('video', { direction: 'recvonly' });
  window.ended = 0;
  view.ontrack = (e) => e.track.addEventListener('ended', () => { window.ended += 1; });
  await view.setLocalDescription(await view.createOffer());
  window.states = { pub: [], view: [] };
  pub.onconnectionstatechange = () => window.states.pub.push(pub.connectionState);
  view.onconnectionstatechange = () => window.states.view.push(view.connectionState);
  const a = await post(whip, pub.localDescription.sdp, 'WHIP');
  let b;
  try {
    b = await post(whep, view.localDescription.sdp, 'WHEP');
  } catch (e) {
    // Leave nothing behind; say what a 404 right after a 201 means.
    const del = await fetch(a.location, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
    pub.close();
    view.close();
    if (!/answered 404/.test(e.message)) throw e;
    // A new Error: the drivers report the stack captured at construction.
    throw new Error(`${e.message} (the WHIP publish was answered 201 just before: the server closed the `
      + `publisher's session in between${del.status === 404 ? '; it is gone' : ''}; see the server log)`);
  }
  await pub.setRemoteDescription({ type: 'answer', sdp: a.body });
  await view.setRemoteDescription({ type: 'answer', sdp: b.body });
  window.pub = pub;
  window.pc = view;
  return [a.location, b.location];
}

/** window.pub's outbound RTP: bytes per kind, connection state, states seen. */
async function publishStats() {
  const out = { audioBytes: 0, videoBytes: 0, state: window.pub.connectionState, states: window.states };
  const stats = await window.pub.getStats();
  stats.forEach((s) => {
    if (s.type !== 'outbound-rtp') return;
    out[`${s.kind || s.mediaType}Bytes`] += s.bytesSent || 0;
  });
  return out;
}

/** A server (started with `args`) and one Chromium (`chromium` options),
 *  both stopped when test `t` ends. */
async function serverAndChromium(t, args = [], chromium = {}) {
  const srv = await startServer(args);
  const browser = await launchChromium(chromium);
  t.after(async () => {
    await browser.close().catch(() => {});
    await srv.stop();
  });
  return { srv, browser };
}

/** Open room `room` as each of `names`, in order, in `browser`; `query` is
 *  appended to each page's URL (e.g. '&video=low'). Returns name → page. */
async function openRoom(browser, srv, room, names, { query = '', viewport } = {}) {
  const pages = {};
  for (const name of names) {
    const page = await browser.newPage(viewport ? { viewport } : undefined);
    await page.goto(`${srv.url}/room/${room}?name=${name}&token=${srv.token}${query}`);
    pages[name] = page;
  }
  return pages;
}

/** In a room page: the remote videos that play: peer → { time, width }. */
function playing() {
  const out = {};
  for (const v of document.querySelectorAll('video[data-remote]')) {
    if (!v.paused && v.readyState >= 2 && v.videoWidth > 0) {
      out[v.dataset.peer] = { time: v.currentTime, width: v.videoWidth };
    }
  }
  return out;
}

/** In the watch page: note (Date.now()) each change of the current
 *  connection's state and of the page's state, into window.timeline. */
function recordTimeline() {
  window.timeline = [];
  const pc = window.pc;
  pc.addEventListener('connectionstatechange', () => window.timeline.push([Date.now(), `pc ${pc.connectionState}`]));
  new MutationObserver(() => window.timeline.push([Date.now(), `page ${document.body.dataset.state}`]))
    .observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
}

/** A timeline as "event +ms" from `t0`, deduplicated. */
function describeTimeline(timeline, t0) {
  const out = [];
  for (const [at, what] of timeline) {
    if (out.length && out[out.length - 1].what === what) continue;
    out.push({ what, at });
  }
  return out.map((e) => `${e.what} +${e.at - t0} ms`).join(', ');
}

/** The watch page's state, node and status line. */
function pageState() {
  return { state: document.body.dataset.state, node: document.body.dataset.node || null,
    status: document.getElementById('status').textContent };
}

module.exports = {
  sleep, waitFor, startServer, launchChromium, launchFirefox,
  whipPublish, whepView, receiveStats, expectDecoding,
  whipPublishLayered, whepViewVideo, videoStats, sendStats,
  quietSpell, withServerLog, runClient, whipThenWhep, publishStats,
  writeWav, speech, serverAndChromium, openRoom,
  playing, recordTimeline, describeTimeline, pageState,
};
