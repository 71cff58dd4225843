// Conference room page: publishes camera + microphone (video in three
// simulcast encodings) and shows one tile per other participant.
//
// Layout and layers: one remote tile is on the stage (the pinned one, else
// the newest screen share, else the active speaker the server names (while
// this member speaks, the last other one who did), else the first); the others are thumbnails in the filmstrip. The active
// speaker's tile has a speaking indicator (and its video data-speaking, for
// tools). Click a tile to pin it (again to unpin). The page asks the server
// for the highest layers of the large tile's video and the lowest encoding
// of each thumbnail's, so a room costs each participant one
// high-resolution stream.
//
// Chat (#chat-input, Enter sends) goes through the SFU's data channels,
// never peer to peer: the page opens one channel labelled 'chat' with its
// offer; the server forwards it to every other member as a channel
// labelled 'chat:{name}' (the server's name for the sender, not the
// sender's claim). Each message shown is an element with
// data-chat-from="{name}" holding the text; the list keeps the last
// CHAT_KEEP.
//
// Screen sharing (#share-screen): getDisplayMedia's track is a second
// video m-line; before each offer the page tells the server which mid it
// is ('screen'), so the others get it marked as a screen ('track' with
// screen: true): a video[data-remote][data-screen][data-peer] tile. Pressed
// again, or when the capture ends, the m-line goes inactive (the server
// closes the producer and says 'screen' on: false to the others).
//
// Watch-only (?watch=1, or "join watch-only" on the start page): no
// getUserMedia; the page's offer only receives (one audio and one video
// m-line, which the first consumers take; the server offers the rest). The
// others see its tile with data-watching.
//
// Tiles say what the others do: data-audio-muted / data-video-muted (their
// mic or camera toggles) and data-quality="good|fair|poor" with an icon
// (the server's quality score of what this page receives of them).
//
// Signaling is a WebSocket of JSON messages (see room.rs). The page offers
// once to publish, after the server's 'welcome' (whose iceServers, TURN
// servers with short-lived credentials, it configures first); the server then offers whenever participants come and go.
// The server is the polite side: if both offer at once, the page ignores the
// server's offer and the server offers again after answering ours.
//
// Recovery: a session is one WebSocket and one RTCPeerConnection. When
// either fails or closes (media failed, closed or disconnected for 5 s, the
// socket dropped, the server said goodbye, 20 s without connecting), the
// page tears the session down and rejoins after an exponential backoff
// (1 s doubling to 30 s, each wait a random 50-100 % of that; the count
// starts over once a session stayed connected for 10 s), with the same
// camera and microphone: it publishes them again and resubscribes to the
// others, whose pages see it leave and come back. Only a session replaced
// by a newer one with the same name (another tab) or the leave button
// stop it. #status shows what happens; its data-state says it to tools:
// connecting | connected | reconnecting | ended | left (data-attempt: the
// rejoin attempt, 0 on the first join).
//
// In a cluster (the server answers GET /cluster/nodes), a session whose
// socket to its node drops or never opens rejoins at the next node of the
// list (the room is one room on every node); #status's data-node says
// which node the page uses.
'use strict';

const room = decodeURIComponent(location.pathname.split('/')[2] || '');
const params = new URLSearchParams(location.search);
const me = (params.get('name') || '').trim();
const watching = ['1', 'true'].includes(params.get('watch'));
if (!me) location.replace(`/?room=${encodeURIComponent(room)}`);

const $ = (id) => document.getElementById(id);
$('title').textContent = `Room ${room}`;
$('self-name').textContent = `${me} (you${watching ? ', watching' : ''})`;
document.title = `${room} – Manifold`;

// Backoff between rejoins, and when a session counts as failed or stable.
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_CAP_MS = 30000;
const STABLE_MS = 10000;       // connected this long: the attempt count starts over
const CONNECT_MS = 20000;      // a session not connected by then has failed
const DISCONNECTED_MS = 5000;  // media 'disconnected' this long has failed

let local = null;
let screen = null;        // the MediaStream this page shares (getDisplayMedia), if any
let session = null;       // { id, ws, pc, why, makingOffer, chain, screenTx }: the current session, if any
let sessions = 0;         // sessions started (ids)
let attempt = 0;          // rejoins since the last stable session
let over = false;         // left or replaced: no more rejoins
const timers = {};        // name -> timeout id (connect, stable, disconnected, retry, tick)
const tracks = new Map(); // mid -> MediaStreamTrack (from ontrack)
const owners = new Map(); // mid -> { peer, kind, screen } (from the server)
const tiles = new Map();  // participant -> { el, video, stream, flags, sent, muted, quality }
const screens = new Map(); // participant -> { el, video, stream }: their screen share, newest last
let pinned = null;        // the tile pinned large ({ peer, screen }), if any
let node = location.host; // the node this page joins at (host:port)
let nodes = [];           // the cluster's nodes (host:port), if in one
let speaker = null;       // the room's active speaker (the server's 'activeSpeaker'), if any
let lastOther = null;     // the last active speaker other than this member: the stage while this member speaks

/** Show the connection state: text for people, data-* for tools. */
function setState(state, text) {
  const el = $('status');
  el.dataset.state = state;
  el.dataset.attempt = String(attempt);
  el.textContent = text;
}

function clear(name) {
  clearTimeout(timers[name]);
  delete timers[name];
}

function later(name, ms, fn) {
  clear(name);
  timers[name] = setTimeout(() => { delete timers[name]; fn(); }, ms);
}

// Layers asked of the server (255: the highest the stream has).
const HIGH = { spatial: 255, temporal: 255, priority: 2 };
const LOW = { spatial: 0, temporal: 255, priority: 1 };

// Handle a session's messages one at a time, in order. Each session has its
// own chain: an operation on a peer connection closed meanwhile never
// settles (the WebRTC spec abandons it), so a shared chain would stall every
// later session behind it.
const serially = (cur, fn) => { cur.chain = cur.chain.then(fn).catch((e) => console.warn(e)); };

function send(msg) {
  const ws = session && session.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(msg));
  return true;
}

// The tile on the stage: the pinned one, else the newest screen share,
// else the active speaker (while this member speaks, the last other speaker:
// nobody watches themselves on the stage), else the first remote participant
// with a camera.
function largeTile() {
  if (pinned) {
    const t = (pinned.screen ? screens : tiles).get(pinned.peer);
    if (t) return t;
  }
  const shared = [...screens.values()];
  if (shared.length) return shared[shared.length - 1];
  if (speaker && tiles.has(speaker)) return tiles.get(speaker);
  if (lastOther && tiles.has(lastOther)) return tiles.get(lastOther);
  const all = [...tiles.values()];
  return all.find((t) => !t.el.hasAttribute('data-watching')) || all[0] || null;
}

// Lay the tiles out (the large one on the stage, the others in the
// filmstrip) and tell the server which layers each camera needs. The server
// remembers them for tracks that arrive later.
function layout() {
  const large = largeTile();
  const stage = $('stage');
  for (const t of [...tiles.values(), ...screens.values()]) {
    const isLarge = t === large;
    t.el.classList.toggle('large', isLarge);
    t.el.classList.toggle('pinned', !!pinned && t.peer === pinned.peer && t.screen === pinned.screen);
    const home = isLarge ? stage : $('filmstrip');
    if (t.el.parentElement !== home) {
      home.append(t.el);
      // Moving a playing video in the DOM pauses it.
      t.video.play().catch(() => {});
    }
  }
  stage.classList.toggle('empty', !large);
  for (const [peer, t] of tiles) {
    t.el.classList.toggle('speaking', peer === speaker);
    if (peer === speaker) t.video.dataset.speaking = '';
    else delete t.video.dataset.speaking;
    const want = t === large ? HIGH : LOW;
    if (t.sent !== want && send({ type: 'layers', peer, ...want })) t.sent = want;
  }
}

/** A tile: a video and a bar with the name, indicators and `buttons`. */
function makeTile(peer, isScreen) {
  const el = document.createElement('div');
  el.className = isScreen ? 'tile screen' : 'tile';
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.dataset.remote = '';
  if (isScreen) video.dataset.screen = '';
  video.dataset.peer = peer;
  const bar = document.createElement('div');
  bar.className = 'bar';
  const talk = document.createElement('span');
  talk.className = 'talk';
  talk.title = 'speaking';
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = isScreen ? `${peer}'s screen` : peer;
  bar.append(talk, name);
  el.append(video, bar);
  el.title = `Click to pin ${name.textContent} large`;
  // The stream goes in with its first track: a video with an empty
  // stream would hold the page's load event back.
  const stream = new MediaStream();
  const t = { peer, screen: isScreen, el, video, bar, stream };
  video.addEventListener('click', () => {
    const same = pinned && pinned.peer === peer && pinned.screen === isScreen;
    pinned = same ? null : { peer, screen: isScreen };
    layout();
  });
  return t;
}

function tile(peer) {
  let t = tiles.get(peer);
  if (t) return t;
  t = makeTile(peer, false);
  t.el.dataset.tile = peer;
  // Network quality: three bars, lit by the server's score.
  const q = document.createElement('span');
  q.className = 'quality';
  q.innerHTML = '<i></i><i></i><i></i>';
  const flags = document.createElement('span');
  flags.className = 'flags';
  const mute = button('mute', `Mute ${peer} for you only`, (on) => {
    t.video.muted = on;
    send({ type: 'receive', peer, kind: 'audio', on: !on });
  });
  const hide = button('hide', `Hide ${peer} for you only`, (on) => {
    t.el.classList.toggle('hidden', on);
    send({ type: 'receive', peer, kind: 'video', on: !on });
  });
  t.bar.append(flags, q, mute, hide);
  Object.assign(t, { flags, quality: {}, muted: { audio: false, video: false }, sent: null });
  $('filmstrip').append(t.el);
  tiles.set(peer, t);
  layout();
  return t;
}

function screenTile(peer) {
  let t = screens.get(peer);
  if (t) return t;
  t = makeTile(peer, true);
  t.el.dataset.screenTile = peer;
  $('filmstrip').append(t.el);
  screens.set(peer, t);
  layout();
  return t;
}

function button(label, title, toggle) {
  const b = document.createElement('button');
  b.textContent = label;
  b.title = title;
  b.addEventListener('click', () => toggle(b.classList.toggle('on')));
  return b;
}

// The quality hint of a score (0-10, the server's): good from 8 (under
// about 5 % loss), poor under 5.
const grade = (score) => (score >= 8 ? 'good' : score >= 5 ? 'fair' : 'poor');

function showFlags(peer) {
  const t = tiles.get(peer);
  if (!t) return;
  const f = [];
  if (t.muted.audio) f.push('mic off');
  if (t.muted.video) f.push('camera off');
  t.el.toggleAttribute('data-audio-muted', t.muted.audio);
  t.el.toggleAttribute('data-video-muted', t.muted.video);
  const scores = Object.values(t.quality);
  if (scores.length) {
    const worst = Math.min(...scores);
    t.el.dataset.quality = grade(worst);
    t.el.querySelector('.quality').title = `network: ${grade(worst)} (${worst}/10)`;
    for (const kind of ['video', 'audio']) {
      const q = t.quality[kind];
      if (q !== undefined && q < 8) f.push(`weak ${kind} (${q}/10)`);
    }
  }
  t.flags.textContent = f.join(' · ');
}

function removeScreen(peer) {
  const t = screens.get(peer);
  if (!t) return;
  t.video.srcObject = null;
  t.el.remove();
  screens.delete(peer);
  for (const [mid, o] of owners) if (o.peer === peer && o.screen) owners.delete(mid);
  if (pinned && pinned.screen && pinned.peer === peer) pinned = null;
  layout();
}

function removeTile(peer) {
  removeScreen(peer);
  const t = tiles.get(peer);
  if (!t) return;
  t.video.srcObject = null;
  t.el.remove();
  tiles.delete(peer);
  for (const [mid, o] of owners) if (o.peer === peer) owners.delete(mid);
  if (pinned && pinned.peer === peer) pinned = null;
  if (speaker === peer) speaker = null;
  if (lastOther === peer) lastOther = null;
  layout();
}

// Put the track of `mid` into its owner's tile once both are known.
function attach(mid) {
  const track = tracks.get(mid);
  const owner = owners.get(mid);
  if (!track || !owner || track.readyState === 'ended') return;
  const t = owner.screen ? screenTile(owner.peer) : tile(owner.peer);
  for (const old of t.stream.getTracks()) {
    if (old.kind === track.kind && old !== track) t.stream.removeTrack(old);
  }
  if (!t.stream.getTracks().includes(track)) t.stream.addTrack(track);
  if (t.video.srcObject !== t.stream) t.video.srcObject = t.stream;
  // Browsers may refuse unmuted autoplay: fall back to muted playback.
  t.video.play().catch(() => { t.video.muted = true; t.video.play().catch(() => {}); });
}

// Offer what this page sends (on the session's chain). An offer still
// waiting for its answer: offer again once it is answered.
async function negotiate(cur) {
  if (cur !== session) return;
  if (cur.pc.signalingState !== 'stable') { cur.again = true; return; }
  cur.makingOffer = true;
  try {
    await cur.pc.setLocalDescription(await cur.pc.createOffer());
    if (cur !== session) return;
    // Which m-line is the screen share (mids are set by now).
    const tx = cur.screenTx;
    send({ type: 'screen', mid: tx && tx.direction === 'sendonly' ? tx.mid : null });
    send({ type: 'offer', sdp: cur.pc.localDescription.sdp });
  } finally {
    cur.makingOffer = false;
  }
}

async function onMessage(cur, m) {
  // Messages of a session torn down meanwhile are stale.
  if (cur !== session) return;
  const pc = cur.pc;
  switch (m.type) {
    case 'welcome': {
      // Tiles of participants gone while this page was away go too.
      const here = new Set(m.peers.map((p) => p.name));
      for (const peer of [...tiles.keys()]) if (!here.has(peer)) removeTile(peer);
      for (const p of m.peers) peerInfo(p);
      if (pc.connectionState !== 'connected') {
        setState('connecting', watching ? 'joined watch-only, waiting for media…' : 'joined, connecting media…');
      }
      // TURN servers with fresh credentials (server flag --turn-url): set
      // before the first offer, so ICE gathering uses them from the start.
      if (!cur.offered) {
        cur.offered = true;
        if (Array.isArray(m.iceServers) && m.iceServers.length) {
          pc.setConfiguration({ bundlePolicy: 'max-bundle', iceServers: m.iceServers });
        }
        await negotiate(cur);
      }
      break;
    }
    case 'join':
      // A participant that rejoins was removed by its 'leave' first; a stale
      // tile (a missed 'leave') is replaced, not doubled.
      removeTile(m.peer.name);
      peerInfo(m.peer);
      break;
    case 'leave':
      removeTile(m.peer);
      break;
    case 'offer':
      // Impolite side: during our own offer, the server's one is dropped.
      if (cur.makingOffer || pc.signalingState !== 'stable') return;
      await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      if (cur === session) send({ type: 'answer', sdp: pc.localDescription.sdp });
      break;
    case 'answer':
      if (pc.signalingState === 'have-local-offer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        if (cur.again) { cur.again = false; await negotiate(cur); }
      }
      break;
    case 'track':
      owners.set(m.mid, { peer: m.peer, kind: m.kind, screen: !!m.screen });
      attach(m.mid);
      break;
    case 'screen':
      if (!m.on) removeScreen(m.peer);
      break;
    case 'muted': {
      const t = tiles.get(m.peer);
      if (t) { t.muted[m.kind] = m.muted; showFlags(m.peer); }
      break;
    }
    case 'activeSpeaker':
      speaker = m.peer;
      if (speaker && speaker !== me) lastOther = speaker;
      $('self').classList.toggle('speaking', speaker === me);
      layout();
      break;
    case 'quality': {
      const t = tiles.get(m.peer);
      if (t) {
        t.quality = { ...t.quality, [m.kind]: m.score };
        t.el.dataset[`${m.kind}Score`] = String(m.score);
        showFlags(m.peer);
      }
      break;
    }
    case 'closed':
      // The server ended this session; the socket closes next.
      cur.why = m.message;
      if (!m.rejoin) end(`${m.message}: reload to rejoin`);
      break;
    case 'error':
      console.warn('server:', m.message);
      cur.why = m.message;
      break;
  }
}

/** A participant's tile with what the server says of them. */
function peerInfo(p) {
  const t = tile(p.name);
  t.muted = { audio: p.audio_muted, video: p.video_muted };
  t.el.toggleAttribute('data-watching', !!p.watching);
  showFlags(p.name);
  layout();
}

function ownToggle(id, kind, onLabel, offLabel) {
  const b = $(id);
  b.addEventListener('click', () => {
    const muted = b.classList.toggle('on');
    b.textContent = muted ? onLabel : offLabel;
    b.setAttribute('aria-pressed', String(muted));
    for (const t of local.getTracks()) if (t.kind === kind) t.enabled = !muted;
    // The server pauses the producer: nobody receives (or pays for) it.
    send({ type: 'mute', kind, muted });
  });
}

/** Publish the screen share on session `cur` (a new m-line each time). */
function publishScreen(cur) {
  const [track] = screen.getVideoTracks();
  cur.screenTx = cur.pc.addTransceiver(track, { direction: 'sendonly', streams: [screen] });
  // Sharp text over smooth motion.
  track.contentHint = 'detail';
}

async function shareScreen() {
  if (screen) { stopSharing(); return; }
  const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
  screen = s;
  const [track] = s.getVideoTracks();
  track.addEventListener('ended', () => { if (screen === s) stopSharing(); });
  const b = $('share-screen');
  b.classList.add('on');
  b.textContent = 'stop sharing';
  $('self-screen').srcObject = s;
  $('self-screen-tile').hidden = false;
  const cur = session;
  if (cur && cur.offered) {
    publishScreen(cur);
    serially(cur, () => negotiate(cur));
  }
}

function stopSharing() {
  const s = screen;
  if (!s) return;
  screen = null;
  for (const t of s.getTracks()) t.stop();
  const b = $('share-screen');
  b.classList.remove('on');
  b.textContent = 'share screen';
  $('self-screen').srcObject = null;
  $('self-screen-tile').hidden = true;
  const cur = session;
  const tx = cur && cur.screenTx;
  if (!tx) return;
  cur.screenTx = null;
  // Inactive: the server closes the producer and tells the others.
  serially(cur, async () => {
    tx.direction = 'inactive';
    await tx.sender.replaceTrack(null);
    await negotiate(cur);
  });
}

/** Start a session: a socket, a connection publishing `local`. */
function connect() {
  const cur = { id: ++sessions, ws: null, pc: null, why: null, makingOffer: false, offered: false, again: false, screenTx: null, chain: Promise.resolve() };
  session = cur;
  setState('connecting', attempt ? `connecting (attempt ${attempt})…` : 'connecting…');
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  cur.pc = pc;
  const [audio] = local.getAudioTracks();
  const [video] = local.getVideoTracks();
  if (audio) pc.addTransceiver(audio, { direction: 'sendonly', streams: [local] });
  if (video) {
    pc.addTransceiver(video, {
      direction: 'sendonly',
      streams: [local],
      sendEncodings: [
        { rid: 'q', scaleResolutionDownBy: 4 },
        { rid: 'h', scaleResolutionDownBy: 2 },
        { rid: 'f', scaleResolutionDownBy: 1 },
      ],
    });
  }
  // Chat: our channel out, the others' channels in (see the top).
  cur.chat = pc.createDataChannel('chat');
  cur.chats = [cur.chat];
  cur.chat.onopen = () => { if (cur === session) chatReady(true); };
  cur.chat.onclose = () => { if (cur === session) chatReady(false); };
  pc.ondatachannel = (e) => {
    if (cur !== session) return;
    const ch = e.channel;
    cur.chats.push(ch);
    if (!ch.label.startsWith('chat:')) return;
    const from = ch.label.slice('chat:'.length);
    ch.onmessage = (m) => { if (typeof m.data === 'string') showChat(from, m.data); };
  };
  // Still sharing from an earlier session: share again.
  if (screen) publishScreen(cur);
  // Watch-only: an offer needs an m-line, and these take the first consumers.
  if (watching) {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  }
  pc.ontrack = (e) => {
    if (cur !== session) return;
    const mid = e.transceiver.mid;
    tracks.set(mid, e.track);
    e.track.addEventListener('ended', () => {
      if (tracks.get(mid) === e.track) tracks.delete(mid);
      for (const t of [...tiles.values(), ...screens.values()]) t.stream.removeTrack(e.track);
    });
    attach(mid);
  };
  pc.onconnectionstatechange = () => {
    if (cur !== session) return;
    const state = pc.connectionState;
    if (state === 'connected') {
      clear('disconnected');
      clear('connect');
      setState('connected', watching ? 'connected (watch-only)' : 'connected');
      learnNodes();
      // Connected long enough: the next failure starts the backoff over.
      if (attempt) later('stable', STABLE_MS, () => { attempt = 0; $('status').dataset.attempt = '0'; });
    } else if (state === 'disconnected') {
      setState('connecting', 'media interrupted, waiting…');
      later('disconnected', DISCONNECTED_MS, () => fail(cur, 'media disconnected'));
    } else if (state === 'failed' || state === 'closed') {
      fail(cur, `media ${state}`);
    }
  };
  // Not connected in time (e.g. UDP blocked): try again.
  later('connect', CONNECT_MS, () => fail(cur, 'no media connection'));

  const q = new URLSearchParams({ name: me });
  if (params.get('token')) q.set('token', params.get('token'));
  if (watching) q.set('watch', '1');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${node}/room/${encodeURIComponent(room)}/ws?${q}`);
  cur.ws = ws;
  $('status').dataset.node = node;
  ws.onmessage = (e) => serially(cur, () => onMessage(cur, JSON.parse(e.data)));
  ws.onclose = () => {
    // The node is gone (or never answered): in a cluster, the next one.
    if (cur === session && !cur.why) nextNode();
    fail(cur, cur.why || 'connection to the server lost');
  };
  ws.onopen = () => {
    if (cur !== session) return;
    // Muted before (an earlier session): the new producers start paused.
    if ($('mic').classList.contains('on')) send({ type: 'mute', kind: 'audio', muted: true });
    if ($('cam').classList.contains('on')) send({ type: 'mute', kind: 'video', muted: true });
    // The first offer waits for 'welcome' (it may carry TURN servers).
  };
}

/** Learn the cluster's nodes from the current one (none outside a cluster). */
async function learnNodes() {
  try {
    const r = await fetch(`${location.protocol}//${node}/cluster/nodes`);
    if (!r.ok) return;
    const list = (await r.json()).nodes.map((n) => new URL(n.url).host);
    if (list.length) nodes = list;
  } catch (e) {
    // Not in a cluster, or the node is gone: keep what we knew.
  }
}

/** Join at the node after the current one next time (in a cluster). */
function nextNode() {
  if (nodes.length < 2) return;
  const i = nodes.indexOf(node);
  node = nodes[(i + 1) % nodes.length];
}

/** Close the current session and forget its tracks and tiles. */
function teardown() {
  const cur = session;
  session = null;
  for (const name of Object.keys(timers)) clear(name);
  if (cur) {
    cur.ws.onclose = cur.ws.onmessage = cur.ws.onopen = null;
    if (cur.ws.readyState <= WebSocket.OPEN) cur.ws.close();
    cur.pc.onconnectionstatechange = cur.pc.ontrack = null;
    cur.pc.close();
  }
  tracks.clear();
  owners.clear();
  const keep = pinned;
  for (const peer of [...tiles.keys()]) removeTile(peer);
  for (const peer of [...screens.keys()]) removeScreen(peer);
  pinned = keep;
}

/** Session `cur` failed: tear it down and rejoin after a backoff. */
function fail(cur, why) {
  if (cur !== session || over) return;
  console.warn(`session ${cur.id}: ${why}`);
  teardown();
  attempt += 1;
  const full = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1));
  const wait = full * (0.5 + Math.random() * 0.5);
  retryAt(Date.now() + wait, why);
}

/** Count down to the next attempt, then connect. */
function retryAt(at, why) {
  const left = Math.max(0, at - Date.now());
  if (left <= 0) { connect(); return; }
  setState('reconnecting', `${why}: reconnecting in ${Math.ceil(left / 1000)} s (attempt ${attempt})`);
  // Wake when the whole seconds shown change.
  later('retry', left % 1000 || 1000, () => retryAt(at, why));
}

/** No more rejoins: replaced by another session, or a lasting error. */
function end(text) {
  over = true;
  teardown();
  setState('ended', text);
}

// Back online while waiting: do not wait out the backoff.
window.addEventListener('online', () => {
  if (!over && !session && timers.retry) { clear('retry'); connect(); }
});

async function start() {
  learnNodes();
  if (watching) {
    // Watch-only: nothing to capture, nothing to publish.
    local = new MediaStream();
    document.body.classList.add('watching');
    for (const id of ['mic', 'cam', 'share-screen']) $(id).hidden = true;
    $('self').dataset.watching = '';
  } else {
    // ?video=low: 640x360 at 15 fps (rooms of many pages on one machine).
    const low = params.get('video') === 'low';
    local = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: low
        ? { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } }
        : { width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  }
  if (!watching) $('local').srcObject = local;
  connect();
}

ownToggle('mic', 'audio', 'unmute mic', 'mute mic');
ownToggle('cam', 'video', 'start camera', 'stop camera');
$('share-screen').addEventListener('click', () => {
  shareScreen().catch((e) => console.warn('screen share:', e));
});
$('leave').addEventListener('click', () => {
  over = true;
  teardown();
  setState('left', 'left');
  location.href = `/?room=${encodeURIComponent(room)}`;
});
if (me && !/^[\p{L}\p{N}_.\- ]{1,32}$/u.test(me)) {
  setState('ended', 'names are 1 to 32 letters, digits, spaces or - _ .');
} else if (me) start().catch((e) => { console.error(e); end(`error: ${e.message || e}`); });
// For debugging and tests.
window.pcForTests = () => session && session.pc;
window.chatChannelsForTests = () => (session && session.chats) || [];

const CHAT_KEEP = 200;

function chatReady(open) {
  const input = $('chat-input');
  input.disabled = !open;
  input.placeholder = open ? 'message everyone (Enter)' : 'chat connecting…';
}

function showChat(from, text) {
  const list = $('chat-messages');
  const li = document.createElement('li');
  li.dataset.chatFrom = from;
  if (from === me) li.classList.add('mine');
  const who = document.createElement('b');
  who.textContent = from;
  li.append(who, `: ${text}`);
  list.append(li);
  while (list.children.length > CHAT_KEEP) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

$('chat-input').addEventListener('keydown', (e) => {
  if (e.key !== 'Enter') return;
  const input = e.target;
  const text = input.value.trim();
  const ch = session && session.chat;
  if (!text || !ch || ch.readyState !== 'open') return;
  ch.send(text);
  showChat(me, text);
  input.value = '';
});
