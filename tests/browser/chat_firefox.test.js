// Chat between browsers whose SCTP stacks differ: a Chromium page and a
// Firefox page in one room exchange chat messages through the SFU's data
// channels (Firefox opens its `chat` channel and receives the server's
// `chat:{name}` channel with its own SCTP and DCEP implementation).
'use strict';

const test = require('node:test');
const { startServer, launchChromium, launchFirefox, waitFor } = require('./lib');

/** Chat messages shown on the page: [{ from, text }]. */
function shown() {
  return [...document.querySelectorAll('[data-chat-from]')].map((e) => ({
    from: e.dataset.chatFrom,
    text: e.textContent,
  }));
}

function openChannels() {
  return window.chatChannelsForTests().filter((c) => c.readyState === 'open').map((c) => c.label);
}

test('Chromium and Firefox chat through the SFU', { timeout: 120000 }, async (t) => {
  const srv = await startServer();
  const chromium = await launchChromium();
  const firefox = await launchFirefox();
  t.after(async () => {
    await chromium.close().catch(() => {});
    await firefox.close().catch(() => {});
    await srv.stop();
  });
  const alice = await chromium.newPage();
  await alice.goto(`${srv.url}/room/mixed?name=alice&token=${srv.token}`);
  const bob = await firefox.newPage();
  await bob.goto(`${srv.url}/room/mixed?name=bob&token=${srv.token}`);
  for (const [name, page, other] of [['alice', alice, 'bob'], ['bob', bob, 'alice']]) {
    await waitFor(async () => {
      const open = await page.evaluate(openChannels);
      return open.includes('chat') && open.includes(`chat:${other}`) && open;
    }, 60000, `${name}'s chat channels to open`);
  }
  for (const [from, page, to, other] of [['alice', alice, 'bob', bob], ['bob', bob, 'alice', alice]]) {
    const text = `hello from ${from}`;
    const input = await page.$('#chat-input');
    await input.type(text);
    await input.press('Enter');
    await waitFor(async () => {
      const m = await other.evaluate(shown);
      return m.some((x) => x.from === from && x.text.includes(text));
    }, 5000, `${to} to show ${from}'s message`);
  }
});
