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

/** Start the server; resolves once it printed its URLs. */
async function startServer(extra = []) {
  if (!fs.existsSync(SERVER)) {
    throw new Error(`${SERVER} is missing: run cargo build --release --example server`);
  }
  const token = crypto.randomBytes(16).toString('hex');
  const args = ['--http', '127.0.0.1:0', '--udp', '127.0.0.1:0', '--token', token, ...extra];
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
  const udp = out.match(/media: +udp ([0-9.]+):([0-9]+)/);
  let stopped = null;
  return {
    url,
    udp: { host: udp[1], port: Number(udp[2]) },
    token,
    auth: { Authorization: `Bearer ${token}` },
    log: () => log,
    alive: () => proc.exitCode === null && proc.signalCode === null,
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

async function launchChromium() {
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
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

module.exports = {
  sleep, waitFor, startServer, launchChromium, launchFirefox,
  whipPublish, whepView, receiveStats, expectDecoding,
};
