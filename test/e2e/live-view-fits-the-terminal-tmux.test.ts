/**
 * `flowlens run` on a real terminal: tmux at 80×24 and at 200×50, its screen
 * read with `tmux capture-pane` while real traffic flows on a veth in the
 * test's namespaces (a TCP download from a LAN peer: many bytes, fewer
 * packets; a UDP exchange with an "internet" peer: many small packets).
 *
 * The view must fit (no line wider than the terminal, wrapped lines joined back
 * with -J; no more lines than its height), keep its header on top frame after
 * frame (drawn in place on the alternate screen, not appended), change its
 * order with the sort keys and its rows with the filter keys, and on `q` give
 * the terminal back (the alternate screen left) with the start messages
 * printed again, exiting 0.
 */
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { CLI, cliBuilt } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { Tmux } from '../helpers/tmux.js';
import { repoRoot } from '../../src/native/binding.js';

const PEER = path.join(repoRoot, 'test/helpers/traffic-peer.cjs');
const node = (script: string, args: string[]): [string, string[]] => ['env', ['-u', 'NODE_OPTIONS', process.execPath, script, ...args]];
const HOST_LAN = '10.236.1.1', PEER_LAN = '10.236.1.2';
const HOST_PUBLIC = '198.51.100.1', PEER_PUBLIC = '198.51.100.2';
const TCP_ROW = `${PEER_LAN}:8080`, UDP_ROW = `${PEER_PUBLIC}:5300`;

const rowOf = (screen: string[], text: string) => screen.findIndex((l) => l.includes(text));

t.test('the live view in tmux: fits, header stays, sort and filter keys, q restores the terminal', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-tui-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const topo = Topology.create(t, 'tui');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, `${HOST_LAN}/24`, peer, `${PEER_LAN}/24`);
  topo.exec(host, 'ip', ['addr', 'add', `${HOST_PUBLIC}/24`, 'dev', link.a]);
  topo.exec(peer, 'ip', ['addr', 'add', `${PEER_PUBLIC}/24`, 'dev', link.b]);
  for (const [cmd, what] of [[node(PEER, ['tcp-server', '8080', '1000000']), 'TCP'], [node(PEER, ['udp-server', '5300', '10', PEER_PUBLIC]), 'UDP']] as const) {
    const child = topo.spawn(peer, ...cmd);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    t.ok(await waitFor(() => out.includes('ready'), 10_000), `${what} server ready`);
  }
  const tmux = new Tmux(t);

  for (const [width, height] of [[80, 24], [200, 50]] as const) {
    await t.test(`${width}×${height}`, async (t) => {
      const name = `v${width}`;
      const dataDir = path.join(tmp, name);
      tmux.start(name, width, height, ['ip', 'netns', 'exec', host, 'env', '-u', 'NODE_OPTIONS', process.execPath, CLI, 'run', '--iface', link.a,
        '--interval', '300ms', '--data-dir', dataDir, '--http-port', '0', '--grpc-port', '0']);
      const screen = () => tmux.screen(name);
      const fits = (s: string[]) => s.length <= height && s.every((l) => l.length <= width);
      const header = (s: string[]) => s[0]!.startsWith('flowlens — ') && s.slice(1, 4).some((l) => l.startsWith('sort: '));
      t.ok(await waitFor(() => header(screen()), 20_000), `the view is drawn:\n${screen().join('\n')}`);
      t.equal(tmux.format(name, '#{alternate_on}'), '1', 'on the alternate screen');

      // traffic: the TCP download first, then the UDP exchange (each session stays in the view)
      const tcp = await topo.run(host, ...node(PEER, ['tcp-client', PEER_LAN, '8080', '100']));
      t.equal(tcp.stdout.trim(), 'done 1000000', 'TCP download complete');
      const udp = await topo.run(host, ...node(PEER, ['udp-client', PEER_PUBLIC, '5300', '1500', '10']));
      t.equal(udp.stdout.trim(), 'done 15000', 'UDP replies received');
      let s = await waitFor(() => { const x = screen(); return rowOf(x, TCP_ROW) > 0 && rowOf(x, UDP_ROW) > 0 && x; }, 10_000);
      t.ok(s, `both sessions shown:\n${screen().join('\n')}`);

      // several frames: each fits, and the header is still the top line (the clock in it moves on)
      const frames: string[][] = [];
      await waitFor(() => {
        const x = screen();
        if (!frames.length || x[0] !== frames[frames.length - 1]![0]) frames.push(x);
        return frames.length >= 4;
      }, 15_000);
      t.ok(frames.length >= 4, `4 frames seen (${frames.length})`);
      for (const [i, f] of frames.entries()) {
        t.ok(fits(f), `frame ${i} fits ${width}×${height} (${f.length} lines, widest ${Math.max(...f.map((l) => l.length))})`);
        t.ok(header(f), `frame ${i}: the header on top`);
      }
      t.equal(tmux.format(name, '#{history_size}'), '0', 'nothing scrolled off: drawn in place');

      // sort keys: bytes puts the TCP download first, packets the UDP exchange
      tmux.keys(name, 'b');
      s = await waitFor(() => { const x = screen(); return x.some((l) => l.startsWith('sort: bytes')) && rowOf(x, TCP_ROW) > 0 && x; }, 5000);
      t.ok(s && rowOf(s, TCP_ROW) < rowOf(s, UDP_ROW), `b: by bytes, TCP above UDP:\n${(s || screen()).join('\n')}`);
      tmux.keys(name, 'p');
      s = await waitFor(() => { const x = screen(); return x.some((l) => l.startsWith('sort: packets')) && rowOf(x, UDP_ROW) > 0 && x; }, 5000);
      t.ok(s && rowOf(s, UDP_ROW) < rowOf(s, TCP_ROW), `p: by packets, UDP above TCP:\n${(s || screen()).join('\n')}`);
      t.ok(s && fits(s), 'still fits');

      // filters: internet only, LAN only, TCP only, an address typed after /
      const filtered = async (keys: () => void, label: string, shown: string, hidden: string) => {
        keys();
        const x = await waitFor(() => { const y = screen(); return y.some((l) => l.startsWith('sort: ') && l.includes(label)) && y; }, 5000);
        t.ok(x && rowOf(x, shown) > 0 && rowOf(x, hidden) < 0, `filter ${label}: ${shown} shown, ${hidden} not:\n${(x || screen()).join('\n')}`);
      };
      await filtered(() => tmux.keys(name, 'i'), 'filter: internet', UDP_ROW, TCP_ROW);
      await filtered(() => tmux.keys(name, 'i'), 'filter: lan', TCP_ROW, UDP_ROW);
      await filtered(() => tmux.keys(name, 'c', 't'), 'filter: tcp', TCP_ROW, UDP_ROW);
      await filtered(() => { tmux.keys(name, 'c', '/'); tmux.literal(name, PEER_PUBLIC); tmux.keys(name, 'Enter'); }, `address ~ ${PEER_PUBLIC}`, UDP_ROW, TCP_ROW);

      // q: the terminal comes back with the start messages, and flowlens exits 0
      tmux.keys(name, 'q');
      t.ok(await waitFor(() => tmux.format(name, '#{pane_dead}') === '1', 20_000), 'flowlens exited');
      t.equal(tmux.format(name, '#{alternate_on}'), '0', 'the alternate screen is left');
      const after = screen().join('\n');
      t.match(after, /\[exit 0\]/, 'exit status 0');
      t.match(after, new RegExp(`flowlens: counting on ${link.a}`), 'the start messages again: where it counts');
      t.match(after, /flowlens: dashboard on http:\/\/127\.0\.0\.1:\d+\/ \(JSON API and \/metrics on the same port\), gRPC on 127\.0\.0\.1:\d+/, 'the dashboard and the APIs');
      t.match(after, `flowlens: history in ${dataDir}`, 'the data directory');
      t.notMatch(after, /sort: /, 'no trace of the view on the restored screen');
      tmux.tmux(['kill-session', '-t', name]);
    });
  }
});
