/**
 * The device talker dimension: the flows stage keys a session by its local
 * end's MAC (every address of one device in one row), by the address while
 * no MAC is known, and moves it to the MAC's row once it is; the row's label
 * is the device's name then. The device table's talkerOf (names: settings,
 * learned, else vendor + MAC), LLMNR answers naming devices, and the
 * InfluxDB series budget of the device dimension.
 */
import t from 'tap';
import { FlowProcessor, type Enrichment } from '../../src/flows/processor.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import { TALKER_DIMENSIONS, type IntervalStats, type TalkerDimension } from '../../src/flows/types.js';
import { DeviceTable } from '../../src/enrich/devices.js';
import { OuiRegistry } from '../../src/enrich/oui.js';
import { RemoteEnrichment } from '../../src/enrich/remote.js';
import { PeriodAggregator } from '../../src/sinks/influx/period.js';
import { periodLines } from '../../src/sinks/influx/schema.js';
import type { Capture } from '../../src/collector/captures.js';
import { flowBatch, totalsFor, type FlowSpec } from '../helpers/flow-batch.js';
import { collectorStatus, intervalStats, talker } from '../helpers/interval-stats.js';
import { dnsResponse, mdnsAnnouncement, TYPE } from '../helpers/dns-messages.js';

const T0 = 1_700_000_000_000;
const APPLE = '00:1b:63:84:45:e6';
const OTHER = 'da:a1:19:12:34:56';
const HOST = '192.168.1.1';
const PUBLIC = '203.0.113.7';
const PUBLIC_V6 = '2001:db8::7';

function registry(): OuiRegistry {
  const r = new OuiRegistry();
  r.addCsv('Registry,Assignment,Organization Name,Organization Address\nMA-L,001B63,"Apple, Inc.",1 Infinite Loop\n');
  return r;
}

function setup(settings: { mac?: string; address?: string; name: string }[] = []) {
  const devices = new DeviceTable({ settings, oui: registry });
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, [HOST]);
  let lookups = 0;
  const inner = new RemoteEnrichment(undefined, undefined, devices);
  const enrichment: Enrichment = { place: () => ({}), domain: () => undefined, device: (a) => { lookups++; return inner.device(a); } };
  const p = new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier, enrichment);
  let end = T0;
  const run = (specs: FlowSpec[]): IntervalStats => {
    end += 1000;
    return p.process({ start: end - 1000, end, flows: flowBatch(specs, end - 500), totals: totalsFor(specs) });
  };
  return { devices, p, run, lookups: () => lookups };
}

const udp = (local: string, localPort: number, up: number, down: number, remote = local.includes(':') ? PUBLIC_V6 : PUBLIC): FlowSpec[] => [
  { direction: 'egress', protocol: 17, src: local, dst: remote, srcPort: localPort, dstPort: 5000, packets: 1, bytes: up },
  { direction: 'ingress', protocol: 17, src: remote, dst: local, srcPort: 5000, dstPort: localPort, packets: 1, bytes: down },
];

const rowsOf = (s: IntervalStats) => s.talkers.device.map((r) => ({ key: r.key, label: r.label, bytesUp: r.bytesUp, bytesDown: r.bytesDown }));

t.test('one device row per MAC: its IPv4 and IPv6 addresses summed; an address without a MAC is its own row', async (t) => {
  const { devices, run } = setup();
  devices.observe([
    { iface: 'br0', address: '192.168.1.20', mac: APPLE },
    { iface: 'br0', address: 'fd00::1:20', mac: APPLE },
    { iface: 'br0', address: 'fd00::1:abcd', mac: APPLE },  // a privacy address of the same device
  ], T0);
  const s = run([...udp('192.168.1.20', 40000, 100, 1000), ...udp('fd00::1:20', 40001, 200, 2000), ...udp('fd00::1:abcd', 40002, 300, 3000), ...udp('192.168.1.99', 40003, 7, 70)]);
  t.same(rowsOf(s), [
    { key: APPLE, label: `Apple, Inc. ${APPLE}`, bytesUp: 600, bytesDown: 6000 },
    { key: '192.168.1.99', label: undefined, bytesUp: 7, bytesDown: 70 },
  ], 'the vendor and MAC label a device without a name; the unknown address keys itself');
  t.same(s.scopedTalkers!.internet.device.map((r) => r.key), [APPLE, '192.168.1.99'], 'internet scope');
  t.same(s.scopedTalkers!.lan.device, [], 'no LAN traffic');
  t.equal(s.talkers.host.length, 4, 'the host dimension keeps every address');
});

t.test('a MAC learned after the session began: the session moves to the MAC row from then on; totals stay exact', async (t) => {
  const { devices, run } = setup();
  const first = run(udp('192.168.1.30', 40000, 100, 1000));
  t.same(rowsOf(first), [{ key: '192.168.1.30', label: undefined, bytesUp: 100, bytesDown: 1000 }], 'no MAC yet: keyed by the address');
  devices.observe([{ iface: 'br0', address: '192.168.1.30', mac: OTHER }], T0 + 1500);
  const second = run(udp('192.168.1.30', 40000, 50, 500));
  t.same(rowsOf(second), [{ key: OTHER, label: undefined, bytesUp: 50, bytesDown: 500 }], 'the next interval: the MAC row (a local MAC has no vendor, no label)');
  const third = run(udp('192.168.1.30', 40000, 5, 50));
  t.same(rowsOf(third), [{ key: OTHER, label: undefined, bytesUp: 5, bytesDown: 50 }], 'and stays there');
});

t.test('the label is the name at the time: settings, else learned (DHCP, mDNS, LLMNR), else vendor + MAC', async (t) => {
  const { devices, run } = setup([{ mac: '00:1B:63:84:45:E6', name: "Alice's MacBook" }, { address: '192.168.1.50', name: 'printer' }]);
  devices.observe([{ iface: 'br0', address: '192.168.1.20', mac: APPLE }, { iface: 'br0', address: '192.168.1.40', mac: OTHER }], T0);
  t.same(devices.talkerOf('192.168.1.20'), { mac: APPLE, label: "Alice's MacBook" }, 'the settings name by MAC');
  t.same(devices.talkerOf('192.168.1.40'), { mac: OTHER }, 'a locally administered MAC without a name: no label');
  t.same(devices.talkerOf('192.168.1.50'), { label: 'printer' }, 'an address named in the settings, no MAC known: its name, keyed by address');
  t.same(devices.talkerOf('192.168.1.60'), {}, 'nothing known');
  // an LLMNR answer (QR only, RFC 4795) from the device names it
  const answer = dnsResponse({ question: 'DESK-PC', qtype: TYPE.A, answers: [{ name: 'DESK-PC', type: TYPE.A, ttl: 30, data: '192.168.1.40' }] });
  answer.writeUInt16BE(0x8000, 2);
  devices.ingest(llmnr(answer, '192.168.1.40'));
  t.same(devices.talkerOf('192.168.1.40'), { mac: OTHER, label: 'desk-pc' }, 'named by its LLMNR answer');
  t.match(devices.deviceOf('192.168.1.40'), { name: 'desk-pc', nameSource: 'llmnr' });
  t.match(devices.stats(), { llmnrAnswers: 1, mdnsAnswers: 0, parseFailures: 0 });
  const s = run([...udp('192.168.1.20', 40000, 10, 100), ...udp('192.168.1.40', 40001, 20, 200)]);
  t.same(rowsOf(s).map((r) => [r.key, r.label]), [[OTHER, 'desk-pc'], [APPLE, "Alice's MacBook"]], 'rows carry the names');
});

function llmnr(payload: Buffer, src: string, o: Partial<Capture> = {}): Capture {
  return { kind: 'llmnr', ifindex: 3, direction: 'ingress', ipVersion: 4, protocol: 17, src, dst: HOST, srcPort: 5355, dstPort: 5355, time: T0, payload, payloadLength: payload.length, ...o };
}

t.test('LLMNR answers: a query teaches nothing; a name before its MAC waits for the neighbour table; hostile names go nowhere', async (t) => {
  const devices = new DeviceTable({ oui: registry });
  const query = dnsResponse({ question: 'x', qtype: TYPE.A, answers: [] });
  query.writeUInt16BE(0x0000, 2);
  devices.ingest(llmnr(query, '192.168.1.70'));
  const early = dnsResponse({ question: 'tv', qtype: TYPE.AAAA, answers: [{ name: 'tv', type: TYPE.AAAA, ttl: 30, data: 'fd00::70' }] });
  early.writeUInt16BE(0x8000, 2);
  devices.ingest(llmnr(early, 'fd00::70', { ipVersion: 6 }));
  t.equal(devices.list().length, 0, 'no device without a MAC');
  devices.observe([{ iface: 'br0', address: 'fd00::70', mac: OTHER }], T0 + 1000);
  t.match(devices.deviceOf('fd00::70'), { name: 'tv', nameSource: 'llmnr' }, 'named once its MAC is known');
  const hostile = dnsResponse({ question: 'a b', qtype: TYPE.A, answers: [{ name: 'evil\u001b[2Jname', type: TYPE.A, ttl: 30, data: '192.168.1.71' }] });
  hostile.writeUInt16BE(0x8000, 2);
  devices.ingest(llmnr(hostile, '192.168.1.71'));
  t.match(devices.stats(), { llmnrAnswers: 1, parseFailures: 1 }, 'a name with control bytes is refused');
  // an mDNS-style name over LLMNR keeps its suffix: only mDNS strips ".local"
  devices.ingest(llmnr(mdnsAnnouncement([{ name: 'tv.local', type: TYPE.AAAA, ttl: 30, data: 'fd00::70' }]), 'fd00::70', { ipVersion: 6 }));
  t.match(devices.deviceOf('fd00::70'), { name: 'tv.local', nameSource: 'llmnr' });
});

t.test('this host\'s own addresses are never looked up as devices (no neighbour entry can name them)', async (t) => {
  const { run, lookups } = setup();
  const s = run(udp(HOST, 40000, 10, 100));
  t.equal(lookups(), 0, 'no lookup');
  t.same(rowsOf(s), [{ key: HOST, label: undefined, bytesUp: 10, bytesDown: 100 }], 'its own row, keyed by the address');
  run(udp(HOST, 40000, 10, 100));
  t.equal(lookups(), 0, 'and no retry');
});

t.test('a retry re-keys a session only when it found something: a late DNS name, a device name learned later', async (t) => {
  const devices = new DeviceTable({ oui: registry });
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, [HOST]);
  const inner = new RemoteEnrichment(undefined, undefined, devices);
  let name: string | undefined;
  const enrichment: Enrichment = { place: () => ({}), domain: () => name, device: (a) => inner.device(a) };
  const p = new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier, enrichment);
  let end = T0;
  const run = (specs: FlowSpec[]): IntervalStats => {
    end += 1000;
    return p.process({ start: end - 1000, end, flows: flowBatch(specs, end - 500), totals: totalsFor(specs) });
  };
  devices.observe([{ iface: 'br0', address: '192.168.1.30', mac: OTHER }], T0);
  const domains = (s: IntervalStats) => s.talkers.domain.map((r) => [r.key, r.bytesUp + r.bytesDown]);
  t.same(domains(run(udp('192.168.1.30', 40000, 100, 1000))), [['unknown', 1100]], 'no name yet');
  t.same(domains(run(udp('192.168.1.30', 40000, 10, 100))), [['unknown', 110]], 'a retry that finds nothing: the same row');
  const answer = dnsResponse({ question: 'NAS', qtype: TYPE.A, answers: [{ name: 'NAS', type: TYPE.A, ttl: 30, data: '192.168.1.30' }] });
  answer.writeUInt16BE(0x8000, 2);
  devices.ingest(llmnr(answer, '192.168.1.30'));
  const labelled = run(udp('192.168.1.30', 40000, 2, 20));
  t.same(rowsOf(labelled), [{ key: OTHER, label: 'nas', bytesUp: 2, bytesDown: 20 }], 'the device named on a retry: its row is labelled');
  t.same(domains(labelled), [['unknown', 22]], 'no domain yet');
  name = 'video.example';
  t.same(domains(run(udp('192.168.1.30', 40000, 1, 10))), [['unknown', 11]], 'not asked 3 s after the first lookup (the waits double: 1, 2, 4 s)');
  const named = run(udp('192.168.1.30', 40000, 1, 10));
  t.same(domains(named), [['video.example', 11]], 'the name found on a retry: its row from this interval on');
  t.same(named.talkers.ip.map((r) => [r.key, r.label]), [[PUBLIC, 'video.example']], 'and the remote address row carries it');
  name = undefined;
  t.same(domains(run(udp('192.168.1.30', 40000, 3, 30))), [['video.example', 33]], 'a found name is kept');
});

t.test('InfluxDB: the device dimension has its own series budget; the rest is "other", labels are the names', async (t) => {
  const agg = new PeriodAggregator(1000);
  const device = [
    talker(APPLE, 1000, 9000, { label: 'alice-laptop' }),
    talker(OTHER, 500, 5000, { label: 'desk-pc' }),
    talker('192.168.1.99', 10, 100),
    talker('fd00::9', 1, 10),
  ];
  const period = agg.add(intervalStats(T0, T0 + 1000, [], { device }), collectorStatus(['br0']));
  t.ok(period, 'the period completed');
  const budget = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, 20])) as Record<TalkerDimension, number>;
  budget.device = 2;
  const { lines, folded } = periodLines(period!, { host: 'gw', seriesBudget: budget, precision: 'ms', sink: { pointsWritten: 0, pointsDropped: 0, bytesDropped: 0, retries: 0, bufferedPoints: 0, bufferedBytes: 0 } });
  const points = lines.filter((l) => l.startsWith('flowlens_talkers,dimension=device,'));
  t.equal(points.length, 3, 'two devices and other');
  t.match(points.find((l) => l.includes(`key=${APPLE}`)), /,label=alice-laptop .*bytes_down=9000i.*bytes_up=1000i/, 'the busiest device with its name');
  t.match(points.find((l) => l.includes(`key=${OTHER}`)), /,label=desk-pc /);
  t.match(points.find((l) => l.includes('key=other')), /bytes_down=110i.*bytes_up=11i/, 'the two addresses past the budget summed as other');
  t.equal(folded.device, 2, 'two keys folded');
  t.match(lines.find((l) => l.startsWith('flowlens_series_folded,dimension=device,')), /folded=2i,keys=4i/);
});
