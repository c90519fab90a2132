/**
 * The attack detectors on real tools in the test's own namespaces: an nmap
 * SYN scan of the peer is one port-scan alert naming scanner and target (and
 * nothing else fires), an hping3 SYN flood of a bounded count is one SYN-flood
 * alert on the victim's service that resolves after hping3 stops. flowlens
 * writes the alerts to its database; `flowlens alerts --format json` reads them
 * as a user would; SIGHUP reloads the rules.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';

const HOST = '10.236.1.1', PEER = '10.236.1.2';

interface AlertJson { id: number; kind: string; state: string; subject: Record<string, string>; value: number; contributors: Array<{ source: string; target?: string; service?: string }> }

function alerts(dataDir: string): AlertJson[] {
  const [cmd, args] = cliCommand(['alerts', '--format', 'json', '--data-dir', dataDir, '--limit', '100']);
  return (JSON.parse(execFileSync(cmd, args, { encoding: 'utf8' })) as { alerts: AlertJson[] }).alerts;
}

function tmpDir(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-alerts-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('nmap SYN scan → one port-scan alert; hping3 SYN flood → SYN-flood alert, resolved after', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const tmp = tmpDir(t);
  const dataDir = path.join(tmp, 'data');
  const config = path.join(tmp, 'flowlens.yaml');
  writeFileSync(config, 'alerts:\n  scanWindow: 5s\n');
  const topo = Topology.create(t, 'alr');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, `${HOST}/24`, peer, `${PEER}/24`);
  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--config', config, '--iface', link.a, '--format', 'ndjson', '--interval', '1s',
    '--data-dir', dataDir, '--flush-interval', '1s', '--no-api'])));
  t.teardown(() => { run.child.kill('SIGTERM'); return run.exited; });
  t.ok(await run.waitFor((r) => r.tally.intervals >= 1, 20_000), `flowlens counts (stderr: ${run.stderr})`);

  // nmap: a SYN scan of the peer's first 1000 ports (all closed: each answers RST)
  const scan = await topo.run(host, 'nmap', ['-sS', '-n', '-Pn', '-T4', '--max-retries', '1', '-p', '1-1000', PEER], 120_000);
  t.match(scan.stdout, /1000 closed|Not shown: 1000 closed/, `nmap scanned 1000 ports (${scan.stdout.slice(-200)})`);
  t.ok(await waitFor(() => alerts(dataDir).some((a) => a.kind === 'port-scan'), 15_000), 'a port-scan alert');
  const scans = alerts(dataDir).filter((a) => a.kind === 'port-scan');
  t.equal(scans.length, 1, 'one alert for the whole scan');
  t.match(scans[0], { subject: { attacker: HOST, victim: PEER }, state: 'firing' });
  t.ok(scans[0]!.value >= 100, `${scans[0]!.value} ports`);
  t.match(scans[0]!.contributors[0], { source: HOST, target: PEER, service: /^tcp\/\d+$/ });
  t.same(alerts(dataDir).map((a) => a.kind), ['port-scan'], 'nothing else fires for a scan');

  // hping3: 3000 SYNs at 5000/s from the peer to a closed port of the host
  const flood = await topo.run(peer, 'hping3', ['-S', '-p', '8080', '-i', 'u200', '-c', '3000', HOST], 60_000);
  t.match(flood.stdout + flood.stderr, /3000 packets transmitted/, 'hping3 sent its 3000 SYNs');
  t.ok(await waitFor(() => alerts(dataDir).some((a) => a.kind === 'syn-flood'), 15_000), 'a SYN-flood alert');
  const syn = alerts(dataDir).filter((a) => a.kind === 'syn-flood');
  t.equal(syn.length, 1, 'one SYN-flood alert');
  t.match(syn[0], { subject: { victim: HOST, service: 'tcp/8080', attacker: new RegExp(`^${PEER.replace(/\./g, '\\.')}`) } });
  t.ok(await waitFor(() => alerts(dataDir).find((a) => a.kind === 'syn-flood')?.state === 'resolved', 15_000), 'resolved after hping3 stopped');
  t.same(alerts(dataDir).map((a) => a.kind).sort(), ['port-scan', 'syn-flood'], 'no other alert');

  // SIGHUP: new rules from the file, the alerts kept; a wrong file changes nothing
  writeFileSync(config, 'alerts:\n  scanWindow: 5s\n  rules:\n    - {name: any-up, metric: bytes, above: 1G}\n');
  run.child.kill('SIGHUP');
  t.ok(await run.waitFor((r) => r.stderr.includes('reloaded the alerts: 1 rules, 0 receivers'), 10_000), `reloaded (stderr: ${run.stderr})`);
  writeFileSync(config, 'alerts:\n  rules:\n    - {name: broken, metric: nonsense, above: 1}\n');
  run.child.kill('SIGHUP');
  t.ok(await run.waitFor((r) => r.stderr.includes('alerts not reloaded') && r.stderr.includes('rules[0].metric must be one of'), 10_000), 'a wrong file is refused, named');
  t.equal(alerts(dataDir).length, 2, 'the alerts are kept');
});
