/**
 * New country / ASN / domain for a device (off by default, on here): two days
 * of session history written through the store's own API say the host talked
 * to the Netherlands (AS64500) and to known.flowlens.test. Then, over a veth,
 * with country and ASN databases made by the test and names from dnsmasq's
 * answers: talking to NL and to known.flowlens.test again raises nothing; the
 * first exchange with a Japanese address raises one new-country and one
 * new-asn alert naming the host; a name never seen before raises one
 * new-domain alert; all resolve when those sessions end.
 */
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { peerCommand, startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { mmdbTempDir, writeMmdb } from '../helpers/mmdb-writer.js';
import { interval, session } from '../helpers/intervals.js';
import { Store } from '../../src/store/index.js';

const HOST = '198.51.100.1';

interface AlertJson { kind: string; state: string; severity: string; subject: Record<string, string>; summary: string; contributors: Array<{ source: string; target?: string }> }

function alerts(dataDir: string): AlertJson[] {
  const [cmd, args] = cliCommand(['alerts', '--format', 'json', '--data-dir', dataDir]);
  return (JSON.parse(execFileSync(cmd, args, { encoding: 'utf8' })) as { alerts: AlertJson[] }).alerts;
}

t.test('a device talking to a new country, ASN and domain', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-new-peers-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const dataDir = path.join(tmp, 'data');
  const dir = mmdbTempDir(t);
  const countryDb = path.join(dir, 'country.mmdb');
  const asnDb = path.join(dir, 'asn.mmdb');
  writeMmdb(countryDb, [
    { cidr: '198.51.100.0/24', record: { country: { iso_code: 'NL', names: { en: 'Netherlands' } } } },
    { cidr: '203.0.113.0/24', record: { country: { iso_code: 'JP', names: { en: 'Japan' } } } },
  ], { databaseType: 'GeoLite2-Country' });
  writeMmdb(asnDb, [
    { cidr: '198.51.100.0/24', record: { autonomous_system_number: 64500, autonomous_system_organization: 'Example Net B.V.' } },
    { cidr: '203.0.113.0/24', record: { autonomous_system_number: 64501, autonomous_system_organization: 'Example KK' } },
  ], { databaseType: 'GeoLite2-ASN' });

  // what the host did two days ago, as the session log keeps it
  const past = Date.now() - 2 * 86_400_000;
  const store = Store.open({ dataDir, flushIntervalMs: 0 });
  store.add(interval({ end: past + 60_000, ended: [
    session({ local: HOST, remote: '198.51.100.9', firstSeen: past, lastSeen: past + 30_000, country: 'NL', asn: 64500, asOrg: 'Example Net B.V.' }),
    session({ local: HOST, remote: '198.51.100.3', localPort: 40001, firstSeen: past, lastSeen: past + 30_000, country: 'NL', asn: 64500, domain: 'known.flowlens.test' }),
  ] }));
  store.close();

  const topo = Topology.create(t, 'nwp');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, `${HOST}/24`, peer, '198.51.100.2/24');
  // one device: the host reaches the Japanese addresses from its own address, on the link
  topo.exec(host, 'ip', ['route', 'add', '203.0.113.0/24', 'dev', link.a]);
  for (const a of ['198.51.100.3/24', '203.0.113.2/24', '203.0.113.3/24']) topo.exec(peer, 'ip', ['addr', 'add', a, 'dev', link.b]);
  topo.spawn(peer, 'dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
    '--listen-address=198.51.100.2', '--bind-interfaces', '--port=53', '--pid-file=', '--user=root', '--log-facility=-',
    '--host-record=known.flowlens.test,198.51.100.3', '--host-record=fresh.flowlens.test,203.0.113.3']);
  t.ok(await waitFor(() => topo.exec(peer, 'ss', ['-Hlnu', 'sport = :53']).includes(':53'), 10_000), 'dnsmasq listens');
  for (const a of ['198.51.100.3', '203.0.113.2', '203.0.113.3']) await startPeerServer(t, topo, peer, ['udp-server', '5600', '100', a]);

  const config = path.join(tmp, 'flowlens.yaml');
  writeFileSync(config, ['alerts:', '  newCountry: true', '  newAsn: true', '  newDomain: true', 'sessions:', '  idleTimeout: 2s'].join('\n'));
  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--config', config, '--iface', link.a, '--format', 'ndjson', '--interval', '200ms',
    '--data-dir', dataDir, '--flush-interval', '1s', '--no-api', '--geo-country', countryDb, '--geo-asn', asnDb])));
  t.teardown(() => { run.child.kill('SIGTERM'); return run.exited; });
  t.ok(await run.waitFor((r) => r.tally.intervals >= 2, 20_000), `flowlens counts (stderr: ${run.stderr})`);
  const settle = async (n: number) => { const at = run.tally.intervals; await run.waitFor((r) => r.tally.intervals >= at + n, 10_000); };
  const exchange = async (dst: string) => t.equal((await topo.run(host, ...peerCommand(['udp-client', dst, '5600', '3', '100']))).code, 0, `UDP exchange with ${dst}`);
  const resolve = (name: string) => topo.exec(host, 'dig', ['+short', '+time=3', '+tries=1', '@198.51.100.2', name, 'A']).trim();

  // known: NL, AS64500, known.flowlens.test
  t.equal(resolve('known.flowlens.test'), '198.51.100.3', 'dig known.flowlens.test');
  await settle(2);
  await exchange('198.51.100.3');
  await settle(4);
  t.same(alerts(dataDir), [], 'a known country, ASN and domain: no alert');

  // JP and AS64501 are new for the host
  await exchange('203.0.113.2');
  t.ok(await waitFor(() => alerts(dataDir).length >= 2, 10_000), `alerts for the new country and ASN (stderr: ${run.stderr})`);
  await settle(3);
  let all = alerts(dataDir);
  t.equal(all.length, 2, `two alerts, once each (${JSON.stringify(all)})`);
  t.match(all.find((a) => a.kind === 'new-country'), { severity: 'info', subject: { host: HOST, country: 'JP' }, summary: /198\.51\.100\.1 talks to a new country: JP/ });
  t.match(all.find((a) => a.kind === 'new-country')?.contributors[0], { source: HOST, target: '203.0.113.2' }, 'the session behind it');
  t.match(all.find((a) => a.kind === 'new-asn'), { severity: 'info', subject: { host: HOST, asn: 'AS64501' } });

  // a name the host never used, at an address of a country and ASN it now knows
  t.equal(resolve('fresh.flowlens.test'), '203.0.113.3', 'dig fresh.flowlens.test');
  await settle(2);
  await exchange('203.0.113.3');
  t.ok(await waitFor(() => alerts(dataDir).some((a) => a.kind === 'new-domain'), 10_000), 'an alert for the new domain');
  await settle(3);
  all = alerts(dataDir);
  t.equal(all.length, 3, `three alerts in all (${JSON.stringify(all.map((a) => a.summary))})`);
  t.match(all.find((a) => a.kind === 'new-domain'), { severity: 'info', subject: { host: HOST, domain: 'fresh.flowlens.test' } });

  t.ok(await waitFor(() => alerts(dataDir).every((a) => a.state === 'resolved'), 20_000), 'each resolves once its sessions end');
});
