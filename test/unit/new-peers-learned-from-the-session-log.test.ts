/**
 * New country / ASN / domain for a device, on the session log written through
 * the store's own API: off by default; a host known for more than a day that
 * talks to a new country fires once (and its ASN and domain likewise); a host
 * known for less than a day, or never seen, is still learning; the alert holds
 * while a live session carries the value and goes when none does.
 */
import t from 'tap';
import { NewPeers } from '../../src/alerts/new-peers.js';
import type { DetectorConfig } from '../../src/alerts/config.js';
import type { LiveSession, LiveSessions } from '../../src/flows/live.js';
import { Store } from '../../src/store/index.js';
import { interval, session, tempDataDir } from '../helpers/intervals.js';

function detectors(over: Partial<DetectorConfig> = {}): DetectorConfig {
  return {
    portScanPorts: 0, hostSweepHosts: 0, scanWindowMs: 60_000, synFloodRate: 0, udpFloodRate: 0, icmpFloodRate: 0, amplificationRate: 0,
    anomalyDeviations: 0, anomalyRatio: 4, anomalyMinRate: 125_000, anomalyWindowMs: 10_000, anomalyMinWeeks: 3, anomalyDevices: 20,
    newCountry: false, newAsn: false, newDomain: false, newPeerPeriodMs: 30 * 86_400_000, ...over,
  };
}

function liveOf(sessions: Array<Partial<LiveSession> & { local: string; remote: string }>): LiveSessions {
  const all = sessions.map((s) => ({
    id: `${s.local}>${s.remote}`, iface: 'eth0', protocol: 6, localPort: 40000, remotePort: 443, scope: 'internet', initiator: 'local', state: 'established',
    bytesUp: 100, bytesDown: 1000, packetsUp: 1, packetsDown: 1, firstSeen: 0, lastSeen: 0, tcpFlagsUp: 0x18, tcpFlagsDown: 0x18, labels: {},
    toRecord: () => { throw new Error('not needed'); }, ...s,
  }) as LiveSession);
  return { size: all.length, intervals: 1, values: () => all[Symbol.iterator](), forEach: (visit) => all.forEach((s) => visit(s)), moved: () => all, latestBytesUp: () => 100, latestBytesDown: () => 1000, latestPacketsUp: () => 1, latestPacketsDown: () => 1, isNew: () => false };
}

t.test('new country, ASN and domain per device', async (t) => {
  const dataDir = tempDataDir(t, 'new-peers');
  const now = Date.now();
  const store = Store.open({ dataDir, flushIntervalMs: 0 });
  t.teardown(() => store.close());
  const old = now - 2 * 86_400_000, recent = now - 2 * 3_600_000;
  store.add(interval({ end: now - 60_000, ended: [
    session({ local: '192.168.1.10', remote: '198.51.100.9', firstSeen: old, lastSeen: old + 1000, country: 'NL', asn: 64500, domain: 'a.example' }),
    session({ local: '192.168.1.11', remote: '198.51.100.9', firstSeen: recent, lastSeen: recent + 1000, country: 'NL', asn: 64500 }),
  ] }));
  t.same(store.devicePeers(now - 30 * 86_400_000).map((d) => ({ ...d })).sort((a, b) => a.local.localeCompare(b.local)), [
    { local: '192.168.1.10', firstSeen: old, countries: ['NL'], asns: [64500], domains: ['a.example'] },
    { local: '192.168.1.11', firstSeen: recent, countries: ['NL'], asns: [64500], domains: [] },
  ], 'Store.devicePeers: what each host talked to, the pending sessions included');

  const jp = { country: 'JP', asn: 64501, domain: 'b.example' };
  const live = liveOf([
    { local: '192.168.1.10', remote: '203.0.113.5', labels: jp, firstSeen: now },
    { local: '192.168.1.10', remote: '198.51.100.9', labels: { country: 'NL', asn: 64500, domain: 'a.example' }, firstSeen: now },
    { local: '192.168.1.11', remote: '203.0.113.5', labels: jp, firstSeen: now },
    { local: '192.168.1.12', remote: '203.0.113.5', labels: jp, firstSeen: now },
    { local: '192.168.1.10', remote: '10.0.0.1', scope: 'lan', labels: { country: 'KP' }, firstSeen: now },
  ]);
  const stats = (end: number) => interval({ end });
  t.same(new NewPeers(detectors(), () => store, 5).evaluate(stats(now), live), [], 'off by default');

  const d = new NewPeers(detectors({ newCountry: true, newAsn: true, newDomain: true }), () => store, 5);
  const first = d.evaluate(stats(now), live);
  t.same(first.map((o) => `${o.kind} ${JSON.stringify(o.subject)} ${o.severity} ${o.active}`).sort(), [
    'new-asn {"host":"192.168.1.10","asn":"AS64501"} info true',
    'new-country {"host":"192.168.1.10","country":"JP"} info true',
    'new-domain {"host":"192.168.1.10","domain":"b.example"} info true',
  ], 'only the host known for two days; .11 (two hours) and .12 (never seen) are learning; a LAN session has no country');
  t.match(first.find((o) => o.kind === 'new-country')!.contributors(), [{ source: '192.168.1.10', target: '203.0.113.5' }]);
  t.equal(d.evaluate(stats(now + 1000), live).length, 3, 'held while the session lives');
  t.same(d.evaluate(stats(now + 2000), liveOf([])), [], 'gone with the session (the engine resolves it)');
  t.same(d.evaluate(stats(now + 3000), live), [], 'and JP is known now: no second alert');
});
