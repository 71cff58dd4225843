// 4 (chat half). Three Chromium participants: a chat message typed in one
//    page (`#chat-input`, Enter sends) appears on the two others within 1 s,
//    as an element with `data-chat-from="{name}"` containing the text. A
//    fourth who joins later hears the others from then on. The
//    messages travel over WebRTC data channels through the SFU (the page's
//    `chat` channel is a data producer; the others get it as `chat:{name}`),
//    never peer to peer: the server's metrics count them.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { serverAndChromium, openRoom, waitFor } = require('./lib');

/** Chat messages shown on the page: [{ from, text }]. */
function shown() {
  return [...document.querySelectorAll('[data-chat-from]')].map((e) => ({
    from: e.dataset.chatFrom,
    text: e.textContent,
  }));
}

/** In a page: note in `window.chatSeenForTests["{from}:{text}"]` when a
 *  message with `text` from `from` appears (Date.now()). */
function seenAt({ from, text }) {
  window.chatSeenForTests = window.chatSeenForTests || {};
  const key = `${from}:${text}`;
  const check = () => {
    if (window.chatSeenForTests[key]) return;
    const found = [...document.querySelectorAll('[data-chat-from]')]
      .some((e) => e.dataset.chatFrom === from && e.textContent.includes(text));
    if (found) window.chatSeenForTests[key] = Date.now();
  };
  new MutationObserver(check).observe(document.body, { childList: true, subtree: true, characterData: true });
  check();
}

test('chat through the SFU reaches the others within 1 s', { timeout: 150000 }, async (t) => {
  const { srv, browser } = await serverAndChromium(t);
  const names = ['alice', 'bob', 'carol'];
  const pages = await openRoom(browser, srv, 'chat', names);
  // Each page has the others' chat channels open (the server's label names
  // the sender).
  for (const name of names) {
    await waitFor(async () => {
      const open = await pages[name].evaluate(() =>
        window.chatChannelsForTests().filter((c) => c.readyState === 'open').map((c) => c.label));
      // Its own `chat` and one `chat:{name}` per other member.
      return open.length >= 3 && open;
    }, 60000, `${name}'s chat channels to open`);
  }

  for (const [from, text] of [['alice', 'hello from alice'], ['carol', 'carol here: ünïcode ✓']]) {
    const input = await pages[from].$('#chat-input');
    await input.type(text);
    // Each receiving page notes the moment the message appears (its clock
    // is the machine's, as ours is): the delay measured is the delivery,
    // not how often we poll pages on a loaded machine.
    for (const to of names.filter((n) => n !== from)) {
      await pages[to].evaluate(seenAt, { from, text });
    }
    const sent = Date.now();
    await input.press('Enter');
    for (const to of names.filter((n) => n !== from)) {
      await waitFor(async () => {
        const m = await pages[to].evaluate(shown);
        return m.some((x) => x.from === from && x.text.includes(text));
      }, 5000, `${to} to show ${from}'s message`);
      const at = await pages[to].evaluate((key) => window.chatSeenForTests[key], `${from}:${text}`);
      const took = (at || Date.now()) - sent;
      t.diagnostic(`${from} → ${to}: ${took} ms`);
      assert.ok(took < 1000, `${from}'s message reached ${to} in ${took} ms`);
    }
    assert.equal(await pages[from].$eval('#chat-input', (e) => e.value), '', 'the input clears');
  }

  // A member who joins later gets a channel for everyone already there.
  const dave = await browser.newPage();
  await dave.goto(`${srv.url}/room/chat?name=dave&token=${srv.token}`);
  await waitFor(async () => {
    const open = await dave.evaluate(() =>
      window.chatChannelsForTests().filter((c) => c.readyState === 'open').map((c) => c.label));
    return open.length >= 4 && open;
  }, 60000, "dave's chat channels to open");
  const input = await pages.bob.$('#chat-input');
  await input.type('welcome, dave');
  await input.press('Enter');
  await waitFor(async () => {
    const m = await dave.evaluate(shown);
    return m.some((x) => x.from === 'bob' && x.text.includes('welcome, dave'));
  }, 5000, 'dave to show bob\'s message');
  // Names come from the server: a page cannot claim to be someone else.
  const froms = await dave.evaluate(shown);
  assert.deepEqual([...new Set(froms.map((x) => x.from))], ['bob']);

  // Through the SFU: the router counted the messages as data channel
  // traffic (two messages, each to two others).
  const res = await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${srv.token}` } });
  const metrics = await res.text();
  const value = (name) => {
    const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : NaN;
  };
  assert.ok(value('manifold_data_messages_in_total') >= 2, metrics.split('\n').filter((l) => l.includes('data')).join('\n'));
  assert.ok(value('manifold_data_messages_out_total') >= 7);
});
