/**
 * A threshold rule on real traffic in the test's own namespaces: a mixed
 * workload first (many short TCP connections, UDP request/answer exchanges)
 * raises no alert with the default detectors; then iperf3 at 200 Mbit/s
 * crosses a 50 Mbit/s rule with `for: 2s`: the alert is pending first, fires
 * only after 2 s above, and resolves after iperf3 ends.
 */
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { repoRoot } from '../../src/native/binding.js';

const HOST = '10.237.1.1', PEER = '10.237.1.2';
const PEER_JS = path.join(repoRoot, 'test/helpers/traffic-peer.cjs');
const node = (args: string[]): [string, string[]] => ['env', ['-u', 'NODE_OPTIONS', process.execPath, PEER_JS, ...args]];

interface AlertJson { kind: string; state: string; rule: string; start: number; firedAt?: number; end?: number; value: number }

function alerts(dataDir: string): AlertJson[] {
  const [cmd, args] = cliCommand(['alerts', '--format', 'json', '--data-dir', dataDir]);
  return (JSON.parse(execFileSync(cmd, args, { encoding: 'utf8' })) as { alerts: AlertJson[] }).alerts;
}

t.test('a quiet mixed workload raises nothing; iperf3 crosses a rule after for: and resolves', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-alerts-iperf-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const dataDir = path.join(tmp, 'data');
  const config = path.join(tmp, 'flowlens.yaml');
  writeFileSync(config, [
    'alerts:',
    '  rules:',
    '    - {name: bulk-up, metric: bit/s, subject: {direction: up}, above: 50M, for: 2s, hysteresis: 20%}',
  ].join('\n'));
  const topo = Topology.create(t, 'alt');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, `${HOST}/24`, peer, `${PEER}/24`);
  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--config', config, '--iface', link.a, '--format', 'ndjson', '--interval', '500ms',
    '--data-dir', dataDir, '--flush-interval', '1s', '--no-api'])));
  t.teardown(() => { run.child.kill('SIGTERM'); return run.exited; });
  t.ok(await run.waitFor((r) => r.tally.intervals >= 1, 20_000), `flowlens counts (stderr: ${run.stderr})`);

  // the mixed workload: 15 short TCP connections with a download each, 3 UDP exchanges
  const tcp = topo.spawn(peer, ...node(['tcp-server', '8080', '200000']));
  const udp = topo.spawn(peer, ...node(['udp-server', '5300', '300']));
  let out = '';
  for (const c of [tcp, udp]) c.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  t.ok(await waitFor(() => out.split('ready').length === 3, 10_000), 'the servers are ready');
  for (let i = 0; i < 15; i++) {
    const r = await topo.run(host, ...node(['tcp-client', PEER, '8080', '500']));
    if (r.stdout.trim() !== 'done 200000') t.fail(`download ${i}: ${r.stdout}`);
  }
  for (let i = 0; i < 3; i++) t.equal((await topo.run(host, ...node(['udp-client', PEER, '5300', '5', '50']))).stdout.trim(), 'done 1500');
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 3, 10_000);
  t.same(alerts(dataDir), [], 'no alert for a normal workload');

  // iperf3 at 200 Mbit/s for 5 s, up from the host
  const server = topo.spawn(peer, 'iperf3', ['-s', '-1', '-B', PEER]);
  t.teardown(() => { server.kill('SIGTERM'); });
  t.ok(await waitFor(() => topo.exec(peer, 'ss', ['-Hltn', 'sport = :5201']).includes('5201'), 5000), 'iperf3 server listens');
  const pending = waitFor(() => alerts(dataDir).some((a) => a.state === 'pending'), 20_000);
  const client = topo.run(host, 'iperf3', ['-c', PEER, '-B', HOST, '-t', '5', '-b', '200M'], 30_000);
  t.ok(await pending, 'pending first');
  t.equal((await client).code, 0, 'iperf3 ran');
  t.ok(await waitFor(() => alerts(dataDir).some((a) => a.state === 'resolved'), 15_000), 'resolved after iperf3 ended');
  const all = alerts(dataDir);
  t.equal(all.length, 1, `one alert (${JSON.stringify(all)})`);
  t.match(all[0], { kind: 'threshold', rule: 'bulk-up', state: 'resolved' });
  t.ok(all[0]!.firedAt! - all[0]!.start >= 2000, 'fired only after 2 s above the threshold');
  t.ok(all[0]!.value > 150e6, `peak ${Math.round(all[0]!.value / 1e6)} Mbit/s`);
});
