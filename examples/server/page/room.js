// Conference room page: publishes camera + microphone (video in three
// simulcast encodings) and shows one tile per other participant.
//
// Layout and layers: one remote tile is large (the pinned one, else the
// first); the others are thumbnails. Click a tile to pin it (again to
// unpin). The page asks the server for the highest layers of the large
// tile's video and the lowest encoding of each thumbnail's, so a room costs
// each participant one high-resolution stream.
//
// Signaling is a WebSocket of JSON messages (see room.rs). The page offers
// once to publish; the server then offers whenever participants come and go.
// The server is the polite side: if both offer at once, the page ignores the
// server's offer and the server offers again after answering ours.
'use strict';

const room = decodeURIComponent(location.pathname.split('/')[2] || '');
const params = new URLSearchParams(location.search);
const me = (params.get('name') || '').trim();
if (!me) location.replace(`/?room=${encodeURIComponent(room)}`);

const $ = (id) => document.getElementById(id);
const status = (text) => { $('status').textContent = text; };
$('title').textContent = `Room ${room}`;
$('self-name').textContent = `${me} (you)`;
document.title = `${room} – Manifold`;

let pc = null;
let ws = null;
let local = null;
let makingOffer = false;
const tracks = new Map(); // mid -> MediaStreamTrack (from ontrack)
const owners = new Map(); // mid -> { peer, kind } (from the server)
const tiles = new Map();  // participant -> { el, video, stream, flags, sent }
let pinned = null;        // the participant pinned large, if any

// Layers asked of the server (255: the highest the stream has).
const HIGH = { spatial: 255, temporal: 255, priority: 2 };
const LOW = { spatial: 0, temporal: 255, priority: 1 };

// Handle messages one at a time, in order.
let chain = Promise.resolve();
const serially = (fn) => { chain = chain.then(fn).catch((e) => console.warn(e)); };

function send(msg) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(msg));
  return true;
}

// The large tile: the pinned participant, else the first remote one.
function largePeer() {
  if (pinned && tiles.has(pinned)) return pinned;
  const [first] = tiles.keys();
  return first || null;
}

// Lay the tiles out and tell the server which layers each tile needs.
// The server remembers them for tracks that arrive later.
function layout() {
  const large = largePeer();
  for (const [peer, t] of tiles) {
    const isLarge = peer === large;
    t.el.classList.toggle('large', isLarge);
    t.el.classList.toggle('pinned', peer === pinned);
    const want = isLarge ? HIGH : LOW;
    if (t.sent !== want && send({ type: 'layers', peer, ...want })) t.sent = want;
  }
}

function tile(peer) {
  let t = tiles.get(peer);
  if (t) return t;
  const el = document.createElement('div');
  el.className = 'tile';
  el.dataset.tile = peer;
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.dataset.remote = '';
  video.dataset.peer = peer;
  const bar = document.createElement('div');
  bar.className = 'bar';
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = peer;
  const flags = document.createElement('span');
  flags.className = 'flags';
  const mute = button('mute', `Mute ${peer} for you only`, (on) => {
    video.muted = on;
    send({ type: 'receive', peer, kind: 'audio', on: !on });
  });
  const hide = button('hide', `Hide ${peer} for you only`, (on) => {
    el.classList.toggle('hidden', on);
    send({ type: 'receive', peer, kind: 'video', on: !on });
  });
  bar.append(name, flags, mute, hide);
  el.append(video, bar);
  el.title = `Click to pin ${peer} large`;
  video.addEventListener('click', () => {
    pinned = pinned === peer ? null : peer;
    layout();
  });
  $('tiles').append(el);
  t = { el, video, stream: new MediaStream(), flags, muted: { audio: false, video: false }, sent: null };
  video.srcObject = t.stream;
  tiles.set(peer, t);
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

function showFlags(peer) {
  const t = tiles.get(peer);
  if (!t) return;
  const f = [];
  if (t.muted.audio) f.push('mic off');
  if (t.muted.video) f.push('camera off');
  t.flags.textContent = f.join(' · ');
}

function removeTile(peer) {
  const t = tiles.get(peer);
  if (!t) return;
  t.video.srcObject = null;
  t.el.remove();
  tiles.delete(peer);
  for (const [mid, o] of owners) if (o.peer === peer) owners.delete(mid);
  if (pinned === peer) pinned = null;
  layout();
}

// Put the track of `mid` into its owner's tile once both are known.
function attach(mid) {
  const track = tracks.get(mid);
  const owner = owners.get(mid);
  if (!track || !owner || track.readyState === 'ended') return;
  const t = tile(owner.peer);
  for (const old of t.stream.getTracks()) {
    if (old.kind === track.kind && old !== track) t.stream.removeTrack(old);
  }
  if (!t.stream.getTracks().includes(track)) t.stream.addTrack(track);
  // Browsers may refuse unmuted autoplay: fall back to muted playback.
  t.video.play().catch(() => { t.video.muted = true; t.video.play().catch(() => {}); });
}

async function negotiate() {
  makingOffer = true;
  try {
    await pc.setLocalDescription(await pc.createOffer());
    send({ type: 'offer', sdp: pc.localDescription.sdp });
  } finally {
    makingOffer = false;
  }
}

async function onMessage(m) {
  switch (m.type) {
    case 'welcome':
      status('connected');
      for (const p of m.peers) {
        const t = tile(p.name);
        t.muted = { audio: p.audio_muted, video: p.video_muted };
        showFlags(p.name);
      }
      break;
    case 'join':
      tile(m.peer.name);
      break;
    case 'leave':
      removeTile(m.peer);
      break;
    case 'offer':
      // Impolite side: during our own offer, the server's one is dropped.
      if (makingOffer || pc.signalingState !== 'stable') return;
      await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: 'answer', sdp: pc.localDescription.sdp });
      break;
    case 'answer':
      if (pc.signalingState === 'have-local-offer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      }
      break;
    case 'track':
      owners.set(m.mid, { peer: m.peer, kind: m.kind });
      attach(m.mid);
      break;
    case 'muted': {
      const t = tiles.get(m.peer);
      if (t) { t.muted[m.kind] = m.muted; showFlags(m.peer); }
      break;
    }
    case 'error':
      console.warn('server:', m.message);
      status(m.message);
      break;
  }
}

function ownToggle(id, kind, onLabel, offLabel) {
  const b = $(id);
  b.addEventListener('click', () => {
    const muted = b.classList.toggle('on');
    b.textContent = muted ? onLabel : offLabel;
    for (const t of local.getTracks()) if (t.kind === kind) t.enabled = !muted;
    // The server pauses the producer: nobody receives (or pays for) it.
    send({ type: 'mute', kind, muted });
  });
}

async function start() {
  local = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  $('local').srcObject = local;
  pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
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
  pc.ontrack = (e) => {
    const mid = e.transceiver.mid;
    tracks.set(mid, e.track);
    e.track.addEventListener('ended', () => {
      tracks.delete(mid);
      for (const t of tiles.values()) t.stream.removeTrack(e.track);
    });
    attach(mid);
  };
  pc.onconnectionstatechange = () => status(pc.connectionState);

  const q = new URLSearchParams({ name: me });
  if (params.get('token')) q.set('token', params.get('token'));
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  ws = new WebSocket(`${scheme}://${location.host}/room/${encodeURIComponent(room)}/ws?${q}`);
  ws.onmessage = (e) => serially(() => onMessage(JSON.parse(e.data)));
  ws.onclose = () => status('disconnected');
  ws.onopen = () => serially(negotiate);
}

ownToggle('mic', 'audio', 'unmute mic', 'mute mic');
ownToggle('cam', 'video', 'start camera', 'stop camera');
$('leave').addEventListener('click', () => {
  if (ws) ws.close();
  if (pc) pc.close();
  location.href = `/?room=${encodeURIComponent(room)}`;
});
if (me && !/^[\p{L}\p{N}_.\- ]{1,32}$/u.test(me)) {
  status('names are 1 to 32 letters, digits, spaces or - _ .');
} else if (me) start().catch((e) => { console.error(e); status(`error: ${e.message || e}`); });
// For debugging and tests.
window.pcForTests = () => pc;
