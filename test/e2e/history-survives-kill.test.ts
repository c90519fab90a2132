/**
 * History written by a real `flowlens run`: what it stores equals what it
 * counted live, a kill -9 loses at most what was not yet flushed and never
 * counts anything twice, and a restart goes on adding to the same history.
 *
 * UDP with known sizes (100-byte requests, 300-byte replies: 128 and 328 L3
 * bytes) between a host with a public address and a peer, in namespaces.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { peerCommand, startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { Store } from '../../src/store/index.js';

const UP = 128;
const DOWN = 328;

t.test('history equals the live counts; kill -9 never double counts; restarts add up', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-history-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const topo = Topology.create(t, 'hk');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, '198.51.100.1/24', peer, '198.51.100.2/24');
  await startPeerServer(t, topo, peer, ['udp-server', '5400', '300']);

  const start = async (): Promise<CliRun> => {
    const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--iface', link.a, '--format', 'ndjson', '--interval', '200ms',
      '--data-dir', dataDir, '--flush-interval', '1s'])));
    t.ok(await run.waitFor((r) => r.tally.intervals >= 2, 30_000), `flowlens is counting (stderr: ${run.stderr})`);
    return run;
  };
  const send = async (count: number) => {
    const r = await topo.run(host, ...peerCommand(['udp-client', '198.51.100.2', '5400', String(count), '100']));
    t.equal(r.code, 0, `${count} datagrams answered`);
  };
  const liveUp = (run: CliRun) => run.tally.stats.flatMap((s) => s.traffic).filter((r) => r.direction === 'up').reduce((a, r) => a + r.bytes, 0);
  const stored = () => {
    const store = Store.openReadOnly({ dataDir });
    try {
      return store.history({ from: Date.now() - 3 * 3600_000, to: Date.now() + 3600_000, granularity: 'hour', scope: 'internet' }).total;
    } finally {
      store.close();
    }
  };

  // run A: 20 exchanges, then two flushes with no traffic, then kill -9: nothing is lost
  const a = await start();
  await send(20);
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(liveUp(a), 20 * UP, 'run A counted 20 requests live');
  await a.stop('SIGKILL');
  t.match(stored(), { up: 20 * UP, down: 20 * DOWN, packetsUp: 20, packetsDown: 20 }, 'after kill -9: everything flushed is there, once');

  // run B: 30 exchanges and kill -9 at once: the unflushed part may be lost, nothing is doubled
  const b = await start();
  await send(30);
  await b.stop('SIGKILL');
  const afterB = stored();
  t.ok(afterB.up >= 20 * UP && afterB.up <= 50 * UP, `run B added at most what it counted (up ${afterB.up})`);
  t.equal((afterB.up - 20 * UP) % UP, 0, 'whole requests only');

  // run C: 10 exchanges, SIGTERM: the shutdown flush writes everything
  const c = await start();
  await send(10);
  const ticks = c.tally.intervals;
  await c.waitFor((r) => r.tally.intervals >= ticks + 2, 5000);
  const r = await c.stop('SIGTERM');
  t.equal(r.code, 0, 'run C exits 0 on SIGTERM');
  t.equal(liveUp(c), 10 * UP, 'run C counted 10 requests live');
  const final = stored();
  t.equal(final.up, afterB.up + 10 * UP, 'run C\'s traffic is in the history exactly');
  t.equal(final.down - afterB.down, 10 * DOWN);

  const store = Store.openReadOnly({ dataDir });
  t.teardown(() => store.close());
  const log = store.sessions({ source: 'ended', filter: { port: 5400 } }).sessions;
  t.ok(log.some((s) => s.endReason === 'shutdown' && s.bytesUp === 10 * UP && s.bytesDown === 10 * DOWN && s.scope === 'internet'),
    `run C's UDP session is in the session log (${JSON.stringify(log.map((s) => [s.bytesUp, s.endReason]))})`);
  const top = store.topTalkers({ dimension: 'port', from: Date.now() - 3 * 3600_000, to: Date.now() + 3600_000, limit: 5 });
  t.equal(top.rows.find((x) => x.key === 'udp/5400')?.bytesUp, final.up, 'the port talker holds all the upload');
});

