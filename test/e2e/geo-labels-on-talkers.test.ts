/**
 * Country and ASN labels on real traffic: a country and an ASN database made
 * by the test (GeoLite2 layout) name two public peers of a host in a
 * namespace; sessions and talkers carry the labels, and the per-country and
 * per-ASN talkers add up to the traffic exactly.
 */
import t from 'tap';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { peerCommand, startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { mmdbTempDir, writeMmdb } from '../helpers/mmdb-writer.js';


t.test('talkers by country and ASN from test-made databases', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
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

  const topo = Topology.create(t, 'geo');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, '198.51.100.1/24', peer, '198.51.100.2/24');
  topo.exec(host, 'ip', ['addr', 'add', '203.0.113.1/24', 'dev', link.a]);
  topo.exec(peer, 'ip', ['addr', 'add', '203.0.113.2/24', 'dev', link.b]);
  await startPeerServer(t, topo, peer, ['udp-server', '5500', '200']);

  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--iface', link.a, '--format', 'ndjson', '--interval', '200ms',
    '--geo-country', countryDb, '--geo-asn', asnDb])));
  t.ok(await run.waitFor((r) => r.tally.intervals >= 2, 30_000), `flowlens is counting (stderr: ${run.stderr})`);
  for (const [dst, count] of [['198.51.100.2', 7], ['203.0.113.2', 3]] as const) {
    const r = await topo.run(host, ...peerCommand(['udp-client', dst, '5500', String(count), '100']));
    t.equal(r.code, 0, `${count} datagrams to ${dst} answered`);
  }
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 2, 5000);
  const stop = await run.stop('SIGTERM');
  t.equal(stop.code, 0, `exit 0 (stderr: ${run.stderr.trim()})`);

  const bySum = (dim: 'country' | 'asn') => {
    const m = new Map<string, { up: number; down: number; label?: string }>();
    for (const s of run.tally.stats) {
      for (const r of s.talkers[dim]) {
        const e = m.get(r.key) ?? { up: 0, down: 0, label: r.label };
        e.up += r.bytesUp; e.down += r.bytesDown;
        m.set(r.key, e);
      }
    }
    return m;
  };
  const countries = bySum('country');
  t.same(countries.get('NL'), { up: 7 * 128, down: 7 * 228, label: undefined }, 'NL: 7 requests and replies');
  t.same(countries.get('JP'), { up: 3 * 128, down: 3 * 228, label: undefined }, 'JP: 3 requests and replies');
  const asns = bySum('asn');
  t.same(asns.get('AS64500'), { up: 7 * 128, down: 7 * 228, label: 'Example Net B.V.' });
  t.same(asns.get('AS64501'), { up: 3 * 128, down: 3 * 228, label: 'Example KK' });
  const trafficUp = run.tally.stats.flatMap((s) => s.traffic).filter((r) => r.direction === 'up' && r.scope !== 'unknown').reduce((a, r) => a + r.bytes, 0);
  t.equal([...countries.values()].reduce((a, e) => a + e.up, 0), trafficUp, 'countries add up to the traffic');

  const udp = run.tally.sessions.filter((s) => s.protocol === 17);
  t.match(udp.find((s) => s.remote === '198.51.100.2'), { country: 'NL', asn: 64500, asOrg: 'Example Net B.V.', scope: 'internet' });
  t.match(udp.find((s) => s.remote === '203.0.113.2'), { country: 'JP', asn: 64501, asOrg: 'Example KK' });
});
