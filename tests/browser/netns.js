// The network namespaces of the browser tests that block UDP (turn.test.js,
// ice_tcp.test.js): a namespace for the client joined to the root
// namespace by a veth pair on a /24 of its own, with nftables rules on the
// namespace's outgoing packets. Needs root, iproute2 and nftables.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString();
}
function tryRun(cmd, args) {
  try { return run(cmd, args); } catch { return null; }
}
function have(cmd) {
  return tryRun('sh', ['-c', `command -v ${cmd}`]) !== null;
}

/** A /24 of 10.213.x.0 that no interface or route on this machine uses. */
function freeSubnet() {
  const used = `${tryRun('ip', ['-4', 'addr'])}\n${tryRun('ip', ['-4', 'route'])}`;
  const start = process.pid % 200;
  for (let i = 0; i < 200; i++) {
    const x = 20 + ((start + i) % 200);
    if (!used.includes(`10.213.${x}.`)) return `10.213.${x}`;
  }
  throw new Error('no free 10.213.x.0/24');
}

/**
 * The client's network namespace (`<prefix><pid>`) and its veth pair
 * (`<link><pid>a`/`b`; keep `link` short, interface names have 15 bytes). `block(rules)` sets the
 * namespace's firewall: nftables statements for its outgoing packets, each
 * with a counter (none: everything open). `remove()` deletes everything
 * (the veth pair and the rules go with the namespace).
 */
function makeNetwork(dir, { prefix, link, table }) {
  // Namespaces of earlier runs killed too hard to clean up (SIGKILL): gone.
  for (const m of (tryRun('ip', ['netns', 'list']) || '').matchAll(new RegExp(`^${prefix}(\\d+)`, 'gm'))) {
    let alive = true;
    try { process.kill(Number(m[1]), 0); } catch (e) { alive = e.code !== 'ESRCH'; }
    if (!alive) {
      tryRun('ip', ['netns', 'del', `${prefix}${m[1]}`]);
      tryRun('ip', ['link', 'del', `${link}${m[1]}a`]);
    }
  }
  const id = `${process.pid}`;
  const ns = `${prefix}${id}`;
  const host = `${link}${id}a`;
  const peer = `${link}${id}b`;
  const subnet = freeSubnet();
  const hostIp = `${subnet}.1`;
  const clientIp = `${subnet}.2`;
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    tryRun('ip', ['netns', 'del', ns]);
    tryRun('ip', ['link', 'del', host]);
  };
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
    run('ip', ['link', 'set', peer, 'netns', ns]);
    run('ip', ['addr', 'add', `${hostIp}/24`, 'dev', host]);
    run('ip', ['link', 'set', host, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${clientIp}/24`, 'dev', peer]);
    run('ip', ['-n', ns, 'link', 'set', peer, 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    remove();
    throw new Error(`cannot build the test network: ${e.message}\n${e.stderr || ''}`);
  }
  const launcher = path.join(dir, 'chromium-in-netns');
  fs.writeFileSync(launcher, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
  fs.chmodSync(launcher, 0o755);
  const nft = (args, input) => execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args],
    { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
  return {
    ns, hostIp, clientIp, launcher, remove,
    block(rules) {
      tryRun('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', table]);
      if (!rules.length) return;
      const all = ['oif "lo" accept', ...rules];
      nft(['-f', '-'], `table inet ${table} {\n chain out {\n  type filter hook output priority 0; policy accept;\n  ${all.join('\n  ')}\n }\n}\n`);
    },
    /** Packets each counter rule of the namespace's table matched. */
    counters() {
      const out = nft(['list', 'table', 'inet', table]);
      return [...out.matchAll(/^\s*(.+?) counter packets (\d+)/gm)]
        .map((m) => ({ rule: m[1], packets: Number(m[2]) }));
    },
  };
}

module.exports = { makeNetwork, run, tryRun, have };
