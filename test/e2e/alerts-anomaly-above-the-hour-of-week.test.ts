/**
 * The traffic anomaly detector on real traffic: three past weeks with a daily
 * pattern written through the store's own API into the data directory, then a
 * flowlens run on a veth in the test's namespaces. iperf3 at this hour's
 * baseline (100 kB/s up) raises nothing; iperf3 at 40 Mbit/s fires one anomaly
 * for the interface (lan, up) and one for the device, each carrying the
 * baseline of this hour of the week, and both resolve after iperf3 ends.
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
import { dailyPattern, writeWeeklyHistory } from '../helpers/weekly-history.js';

const HOST = '10.241.14.1', PEER = '10.241.14.2';
/** This hour's baseline up, bytes per second (the median of the three weeks). */
const BASELINE = 100_000;

interface AlertJson { kind: string; state: string; subject: Record<string, string>; baseline?: number; threshold: number; value: number; summary: string; contributors: Array<{ source: string; target?: string }> }

function alerts(dataDir: string): AlertJson[] {
  const [cmd, args] = cliCommand(['alerts', '--format', 'json', '--data-dir', dataDir]);
  return (JSON.parse(execFileSync(cmd, args, { encoding: 'utf8' })) as { alerts: AlertJson[] }).alerts;
}

t.test('live traffic far above the hour-of-week baseline fires, traffic at it does not', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-anomaly-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const dataDir = path.join(tmp, 'data');
  const topo = Topology.create(t, 'ano');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, `${HOST}/24`, peer, `${PEER}/24`);

  // the daily pattern scaled so that this local hour's median is BASELINE up (and half of it down)
  const hour = new Date().getHours();
  const pattern = dailyPattern(BASELINE / (2 - Math.cos((2 * Math.PI * (hour - 4)) / 24)));
  const hours = writeWeeklyHistory({ dataDir, iface: link.a, scope: 'lan', host: HOST, weeks: 3, before: Date.now(), rate: pattern });
  t.equal(hours, 3 * 168, 'three weeks of hours in the history');

  const config = path.join(tmp, 'flowlens.yaml');
  writeFileSync(config, ['alerts:', '  anomalyWindow: 5s'].join('\n'));
  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--config', config, '--iface', link.a, '--format', 'ndjson', '--interval', '500ms',
    '--data-dir', dataDir, '--flush-interval', '1s', '--no-api'])));
  t.teardown(() => { run.child.kill('SIGTERM'); return run.exited; });
  t.ok(await run.waitFor((r) => r.tally.intervals >= 1, 20_000), `flowlens counts (stderr: ${run.stderr})`);

  const server = topo.spawn(peer, 'iperf3', ['-s', '-B', PEER]);
  t.teardown(() => { server.kill('SIGTERM'); });
  t.ok(await waitFor(() => topo.exec(peer, 'ss', ['-Hltn', 'sport = :5201']).includes('5201'), 5000), 'iperf3 server listens');

  // at the baseline for two windows: 800 kbit/s of payload is 100 kB/s (+ headers)
  const quiet = await topo.run(host, 'iperf3', ['-c', PEER, '-B', HOST, '-t', '12', '-b', '800K'], 30_000);
  t.equal(quiet.code, 0, 'iperf3 at the baseline ran');
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 2, 10_000);
  t.same(alerts(dataDir), [], 'traffic at the baseline: no alert');

  // 40 Mbit/s: 50× the baseline
  const fired = waitFor(() => alerts(dataDir).filter((a) => a.kind === 'anomaly' && a.state === 'firing').length === 2, 30_000);
  const loud = topo.run(host, 'iperf3', ['-c', PEER, '-B', HOST, '-t', '10', '-b', '40M'], 30_000);
  t.ok(await fired, 'two anomalies fire');
  const open = alerts(dataDir);
  const iface = open.find((a) => a.subject.iface === link.a);
  t.match(iface, { kind: 'anomaly', state: 'firing', subject: { iface: link.a, scope: 'lan', direction: 'up' } }, `the interface, lan, up (${JSON.stringify(open)})`);
  t.ok(Math.abs(iface!.baseline! - BASELINE) < 1, `its baseline is this hour's: ${iface!.baseline} B/s`);
  t.ok(iface!.threshold >= 4 * BASELINE && iface!.value > iface!.threshold, `value ${Math.round(iface!.value)} B/s above the band (up to ${Math.round(iface!.threshold)})`);
  t.match(iface!.summary, /expected 100 kB\/s on \w{3} \d\d:00 \(band up to 400 kB\/s, learned from 3 weeks\)/);
  t.match(iface!.contributors[0], { source: HOST, target: PEER }, 'the iperf3 session behind it');
  const device = open.find((a) => a.subject.host === HOST);
  t.match(device, { kind: 'anomaly', state: 'firing', subject: { host: HOST, direction: 'up' } }, 'the device, up');
  t.ok(Math.abs(device!.baseline! - BASELINE) < 1, `its baseline: ${device!.baseline} B/s`);
  t.equal((await loud).code, 0, 'iperf3 at 40 Mbit/s ran');

  t.ok(await waitFor(() => alerts(dataDir).every((a) => a.state === 'resolved'), 20_000), 'both resolve after iperf3 ends');
  t.equal(alerts(dataDir).length, 2, 'and nothing else was raised (down carried only ACKs)');
});
