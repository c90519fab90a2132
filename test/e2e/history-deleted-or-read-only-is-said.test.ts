/**
 * History that cannot be written is never silent. A real `flowlens run` with
 * its data directory on a tmpfs the test made:
 *  - `rm flowlens.db*` while it runs: the database is recreated (stderr,
 *    status, health degraded) and the traffic after it is in the new file;
 *  - the database replaced by a file that is not one (a corrupt or foreign
 *    file): health turns degraded with the reason, /api/status and /metrics
 *    show it, and the run exits non-zero saying exactly how much traffic was
 *    not stored.
 * (A read-only remount cannot be injected under a running writer: the kernel
 * refuses it while a file is open for writing, "mount point is busy".)
 *
 * UDP with known sizes (100-byte requests, 300-byte replies: 128 and 328 L3
 * bytes) between a host with a public address and a peer, in namespaces.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { peerCommand, startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { Store } from '../../src/store/index.js';

const UP = 128;
const DOWN = 328;

t.test('a deleted database is recreated and said; a database that cannot be written degrades health and fails the exit with what was not stored', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-rodisk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dataDir]);
  t.teardown(() => {
    try { execFileSync('umount', ['-l', dataDir]); } catch { /* already */ }
    rmSync(dataDir, { recursive: true, force: true });
  });
  const topo = Topology.create(t, 'hro');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, '198.51.100.1/24', peer, '198.51.100.2/24');
  await startPeerServer(t, topo, peer, ['udp-server', '5400', '300']);
  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--iface', link.a, '--format', 'ndjson', '--interval', '200ms',
    '--data-dir', dataDir, '--flush-interval', '1s', '--listen', '127.0.0.1', '--http-port', '0', '--grpc-port', '0'])));
  t.teardown(() => run.stop('SIGKILL'));
  t.ok(await run.waitFor((r) => r.tally.api !== undefined && r.tally.intervals >= 2, 30_000), `flowlens is counting (stderr: ${run.stderr})`);
  const http = (run.tally.api as { http: string }).http;
  const get = async (p: string) => (await topo.run(host, 'curl', ['-s', `${http}${p}`])).stdout;
  const send = async (count: number) => {
    const r = await topo.run(host, ...peerCommand(['udp-client', '198.51.100.2', '5400', String(count), '100']));
    t.equal(r.code, 0, `${count} datagrams answered`);
  };
  const stored = () => {
    try {
      const store = Store.openReadOnly({ dataDir });
      try {
        return store.history({ from: Date.now() - 3 * 3600_000, to: Date.now() + 3600_000, granularity: 'hour', scope: 'internet' }).total.up;
      } finally {
        store.close();
      }
    } catch {
      return -1;
    }
  };
  const until = async (what: string, pred: () => Promise<boolean> | boolean) => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (await pred()) return t.pass(what);
      await new Promise((r) => setTimeout(r, 100));
    }
    t.fail(`${what} (stderr: ${run.stderr})`);
  };

  await send(20);
  await until('the first traffic is stored', () => stored() === 20 * UP);

  // the database deleted while running
  for (const f of readdirSync(dataDir)) if (f.startsWith('flowlens.db')) rmSync(path.join(dataDir, f));
  await until('stderr says it was recreated', () => /flowlens\.db was deleted while flowlens was running: recreated it/.test(run.stderr));
  await send(10);
  await until('the traffic after it is in the new file', () => stored() === 10 * UP);
  const health = JSON.parse(await get('/api/health'));
  t.match(health, { status: 'degraded', reason: /history: .*flowlens\.db was deleted or replaced while running and was recreated/ }, 'health is degraded, and says why');
  t.match(JSON.parse(await get('/api/status')).historyHealth, { recreated: 1 }, '/api/status counts it');
  t.match(await get('/metrics'), /flowlens_history_db_recreated_total\{[^}]*\} 1\n/, '/metrics counts it');

  // the database replaced by something that is not one: what comes after is counted, not stored, and said
  for (const f of readdirSync(dataDir)) if (f.startsWith('flowlens.db')) rmSync(path.join(dataDir, f));
  writeFileSync(path.join(dataDir, 'flowlens.db'), 'this is not a database, it is a corrupt file of the same name\n'.repeat(100));
  await send(5);
  await until('status says history cannot be written', async () => /is not a flowlens database/.test(JSON.parse(await get('/api/status')).historyHealth?.problem ?? ''));
  const status = JSON.parse(await get('/api/status')).historyHealth;
  t.equal(status.pendingTrafficBytes, 5 * (UP + DOWN), 'status: exactly the traffic since the remount waits');
  t.match(JSON.parse(await get('/api/health')), { status: 'degraded', reason: /history: .*is not a flowlens database/ }, 'health is degraded with the reason');
  const metrics = await get('/metrics');
  t.match(metrics, /flowlens_history_writing\{[^}]*\} 0\n/, '/metrics: history is not being written');
  t.match(metrics, new RegExp(`flowlens_history_pending_traffic_bytes\\{[^}]*\\} ${5 * (UP + DOWN)}\\n`), '/metrics: the bytes waiting');

  const r = await run.stop('SIGTERM');
  t.equal(r.code, 1, 'the run exits 1: counted traffic was not stored');
  t.match(run.stderr, `the last history flush failed: ${dataDir}/flowlens.db is not a flowlens database; not stored: ${5 * (UP + DOWN)} bytes (10 packets) of traffic`,
    'and says how much was not stored');
});
