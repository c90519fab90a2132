/**
 * The flows stage on crafted intervals: sessions pair both directions, local
 * and remote, up and down, scope, TCP state, ICMP kinds, timeouts, the session
 * cap, filters and overflow, and every talker dimension sums to the traffic.
 */
import t, { type Test } from 'tap';
import { FlowProcessor, nameRetryDue, type Enrichment, type FlowsConfig } from '../../src/flows/processor.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import { TALKER_DIMENSIONS, TALKER_SCOPES, type IntervalStats } from '../../src/flows/types.js';
import { flowBatch, totalsFor, type FlowSpec } from '../helpers/flow-batch.js';

const HOST = '10.9.0.2';
const PUBLIC = '203.0.113.7';
const SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04, PSH = 0x08;

function processor(over: Partial<FlowsConfig> = {}, enrichment?: Enrichment, host: string[] = [HOST]): FlowProcessor {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, host);
  return new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] }, ...over }, classifier, enrichment);
}

function run(p: FlowProcessor, specs: FlowSpec[], end = 1_001_000, ifaces?: Record<number, string>, overflow?: Parameters<typeof totalsFor>[2]): IntervalStats {
  return p.process({ start: end - 1000, end, flows: flowBatch(specs, end - 500), totals: totalsFor(specs, ifaces, overflow) });
}

/** Every dimension's talkers sum to the traffic with addresses; each scope's to that scope's traffic, and key by key all = internet + LAN. */
function assertTalkersSum(t: Test, s: IntervalStats): void {
  const sum = (scope: string, direction: string) => s.traffic.filter((r) => (scope ? r.scope === scope : r.scope !== 'unknown') && r.direction === direction).reduce((a, r) => a + r.bytes, 0);
  for (const d of TALKER_DIMENSIONS) {
    t.equal(s.talkers[d].reduce((a, r) => a + r.bytesUp, 0), sum('', 'up'), `${d} talkers sum to the up bytes`);
    t.equal(s.talkers[d].reduce((a, r) => a + r.bytesDown, 0), sum('', 'down'), `${d} talkers sum to the down bytes`);
    for (const scope of TALKER_SCOPES) {
      const rows = s.scopedTalkers![scope][d];
      t.equal(rows.reduce((a, r) => a + r.bytesUp + r.bytesDown, 0), sum(scope, 'up') + sum(scope, 'down'), `${d} talkers of ${scope} sum to its bytes`);
    }
    const byKey = (rows: { key: string; bytesUp: number; bytesDown: number; packetsUp: number; sessions: number }[]) => new Map(rows.map((r) => [r.key, [r.bytesUp, r.bytesDown, r.packetsUp, r.sessions]]));
    const internet = byKey(s.scopedTalkers!.internet[d]);
    const lan = byKey(s.scopedTalkers!.lan[d]);
    for (const r of s.talkers[d]) {
      const i = internet.get(r.key) ?? [0, 0, 0, 0];
      const l = lan.get(r.key) ?? [0, 0, 0, 0];
      t.same([r.bytesUp, r.bytesDown, r.packetsUp, r.sessions], i.map((v, k) => v + l[k]!), `${d} ${r.key}: all = internet + LAN`);
    }
  }
}

t.test('a TCP connection from this host to the internet is one session, up and down', async (t) => {
  const p = processor();
  const s = run(p, [
    { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 50000, dstPort: 443, packets: 10, bytes: 1500, tcpFlags: SYN | ACK | PSH, firstSeen: 1_000_100 },
    { direction: 'ingress', protocol: 6, src: PUBLIC, dst: HOST, srcPort: 443, dstPort: 50000, packets: 20, bytes: 30000, tcpFlags: SYN | ACK | PSH, firstSeen: 1_000_101 },
  ]);
  t.equal(p.live.size, 1);
  const [session] = [...p.live.values()].map((x) => x.toRecord());
  t.match(session, { local: HOST, localPort: 50000, remote: PUBLIC, remotePort: 443, scope: 'internet', initiator: 'local',
    state: 'established', bytesUp: 1500, bytesDown: 30000, packetsUp: 10, packetsDown: 20, iface: 'eth0', protocolName: 'tcp' });
  t.same(s.traffic.sort((a, b) => a.direction.localeCompare(b.direction)), [
    { iface: 'eth0', direction: 'down', scope: 'internet', bytes: 30000, packets: 20 },
    { iface: 'eth0', direction: 'up', scope: 'internet', bytes: 1500, packets: 10 },
  ]);
  t.equal(s.activeSessions, 1);
  t.equal(s.activeRemotes, 1);
  t.same(s.talkers.port.map((r) => r.key), ['tcp/443'], 'the service is the port the local end connected to');
  t.same(s.talkers.ip.map((r) => [r.key, r.sessions, r.newSessions]), [[PUBLIC, 1, 1]]);
  t.same(s.talkers.host.map((r) => r.key), [HOST]);
  t.same(s.talkers.country.map((r) => r.key), ['unknown'], 'no geo: unknown country');
  assertTalkersSum(t, s);
});

t.test('an inbound connection: the remote end initiated, the service is the local port', async (t) => {
  const p = processor();
  const s = run(p, [
    { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 22, dstPort: 40000, packets: 3, bytes: 300, tcpFlags: SYN | ACK, firstSeen: 1_000_200 },
    { direction: 'ingress', protocol: 6, src: PUBLIC, dst: HOST, srcPort: 40000, dstPort: 22, packets: 2, bytes: 120, tcpFlags: SYN | ACK, firstSeen: 1_000_100 },
  ]);
  const [session] = [...p.live.values()];
  t.equal(session!.initiator, 'remote', 'the earlier first packet came from the remote end');
  t.same(s.talkers.port.map((r) => r.key), ['tcp/22']);
});

t.test('traffic between two LAN addresses: scope lan, this host is local', async (t) => {
  const p = processor();
  const s = run(p, [
    { direction: 'ingress', protocol: 17, src: '10.9.0.50', dst: HOST, srcPort: 5353, dstPort: 9000, packets: 4, bytes: 400 },
  ]);
  const [session] = [...p.live.values()];
  t.match(session!.toRecord(), { local: HOST, remote: '10.9.0.50', scope: 'lan', initiator: 'remote', state: 'active' });
  t.same(s.talkers.country.map((r) => r.key), ['private']);
  t.same(s.talkers.asn.map((r) => r.key), ['private']);
  assertTalkersSum(t, s);
});

t.test('a gateway forwarding between LAN clients and the internet: the LAN side is local', async (t) => {
  const p = processor({}, undefined, ['192.168.1.1']);
  const specs: FlowSpec[] = [
    // seen on the LAN interface (ifindex 3): client → internet leaves the gateway towards... no: arrives on LAN ingress
    { ifindex: 3, direction: 'ingress', protocol: 6, src: '192.168.1.10', dst: PUBLIC, srcPort: 51000, dstPort: 443, packets: 5, bytes: 500, tcpFlags: SYN | ACK, firstSeen: 1_000_100 },
    { ifindex: 3, direction: 'egress', protocol: 6, src: PUBLIC, dst: '192.168.1.10', srcPort: 443, dstPort: 51000, packets: 7, bytes: 7000, tcpFlags: SYN | ACK, firstSeen: 1_000_150 },
    // LAN to LAN through the gateway: neither end is the host; the tie goes by hook
    { ifindex: 3, direction: 'ingress', protocol: 6, src: '192.168.1.10', dst: '192.168.2.20', srcPort: 52000, dstPort: 445, packets: 1, bytes: 100, tcpFlags: SYN, firstSeen: 1_000_100 },
    { ifindex: 3, direction: 'egress', protocol: 6, src: '192.168.2.20', dst: '192.168.1.10', srcPort: 445, dstPort: 52000, packets: 1, bytes: 60, tcpFlags: SYN | ACK, firstSeen: 1_000_110 },
  ];
  const s = run(p, specs, 1_001_000, { 3: 'lan0' });
  const sessions = [...p.live.values()].map((x) => x.toRecord());
  t.equal(sessions.length, 2, 'both directions of each conversation are one session');
  t.match(sessions.find((x) => x.remotePort === 443 || x.localPort === 443), { local: '192.168.1.10', remote: PUBLIC, scope: 'internet', bytesUp: 500, bytesDown: 7000, initiator: 'local' });
  const lan = sessions.find((x) => x.protocol === 6 && x.scope === 'lan')!;
  t.equal(lan.bytesUp + lan.bytesDown, 160);
  t.equal(lan.packetsUp + lan.packetsDown, 2);
  assertTalkersSum(t, s);
});

t.test('ICMP echo request and reply are one session of kind echo', async (t) => {
  const p = processor();
  const s = run(p, [
    { direction: 'egress', protocol: 1, src: HOST, dst: PUBLIC, srcPort: 8, dstPort: 0, packets: 3, bytes: 252 },
    { direction: 'ingress', protocol: 1, src: PUBLIC, dst: HOST, srcPort: 0, dstPort: 0, packets: 3, bytes: 252 },
    { direction: 'ingress', protocol: 58, src: '2001:db8::9', dst: 'fd00::2', srcPort: 128, dstPort: 0, packets: 1, bytes: 104 },
  ]);
  const sessions = [...p.live.values()].map((x) => x.toRecord());
  t.equal(sessions.length, 2);
  t.match(sessions.find((x) => x.protocol === 1), { state: 'echo', initiator: 'local', packetsUp: 3, packetsDown: 3, localPort: 0, remotePort: 0 });
  t.match(sessions.find((x) => x.protocol === 58), { state: 'echo', initiator: 'remote', local: 'fd00::2', scope: 'internet' });
  t.same(s.talkers.port.map((r) => r.key).sort(), ['icmp/echo', 'icmpv6/echo']);
  t.same(s.talkers.proto.map((r) => r.key), ['icmp', 'icmpv6']);
});

t.test('TCP states from the flags, and the session log', async (t) => {
  const p = processor();
  const flow = (dir: 'up' | 'down', flags: number, end: number): FlowSpec => dir === 'up'
    ? { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 50001, dstPort: 80, packets: 1, bytes: 60, tcpFlags: flags, firstSeen: end - 900 }
    : { direction: 'ingress', protocol: 6, src: PUBLIC, dst: HOST, srcPort: 80, dstPort: 50001, packets: 1, bytes: 60, tcpFlags: flags, firstSeen: end - 800 };
  run(p, [flow('up', SYN, 1_001_000)], 1_001_000);
  t.equal([...p.live.values()][0]!.state, 'syn');
  run(p, [flow('down', SYN | ACK, 1_002_000), flow('up', ACK, 1_002_000)], 1_002_000);
  t.equal([...p.live.values()][0]!.state, 'established');
  run(p, [flow('up', FIN | ACK, 1_003_000)], 1_003_000);
  t.equal([...p.live.values()][0]!.state, 'closing');
  let s = run(p, [flow('down', FIN | ACK, 1_004_000), flow('up', ACK, 1_004_000)], 1_004_000);
  t.equal([...p.live.values()][0]!.state, 'closed');
  t.equal(s.endedSessions.length, 0, 'a closed session lingers for stragglers');
  s = run(p, [], 1_010_000);
  t.equal(s.endedSessions.length, 0);
  s = run(p, [], 1_015_000);
  t.equal(s.endedSessions.length, 1, 'ended 10 s after its last packet');
  t.match(s.endedSessions[0], { endReason: 'closed', packetsUp: 4, packetsDown: 2, bytesUp: 240, bytesDown: 120, firstSeen: 1_000_100 });
  t.equal(p.live.size, 0);

  const q = processor();
  run(q, [flow('up', SYN, 1_001_000), flow('down', RST | ACK, 1_001_000)], 1_001_000);
  t.equal([...q.live.values()][0]!.state, 'reset');
  t.same(run(q, [], 1_012_000).endedSessions.map((e) => e.endReason), ['reset']);
});

t.test('idle timeouts: other protocols sooner than TCP', async (t) => {
  const p = processor({ sessions: { ...defaultSessionConfig(), idleTimeoutMs: 5_000, tcpIdleTimeoutMs: 20_000 } });
  run(p, [
    { direction: 'egress', protocol: 17, src: HOST, dst: PUBLIC, srcPort: 40000, dstPort: 53, packets: 1, bytes: 70 },
    { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 40001, dstPort: 443, packets: 1, bytes: 52, tcpFlags: ACK },
  ]);
  t.equal(run(p, [], 1_005_000).endedSessions.length, 0, 'not idle for 5 s yet');
  const e = run(p, [], 1_006_000).endedSessions;
  t.same(e.map((x) => [x.protocolName, x.endReason]), [['udp', 'idle']]);
  t.equal(run(p, [], 1_021_000).endedSessions.length, 1, 'TCP ends after its own timeout');
  t.equal(p.status().endedSessions, 2);
});

t.test('the session cap: untracked conversations still count in traffic and talkers', async (t) => {
  const p = processor({ sessions: { ...defaultSessionConfig(), maxSessions: 3 } });
  const specs: FlowSpec[] = Array.from({ length: 10 }, (_, i) => ({
    direction: 'egress' as const, protocol: 17, src: HOST, dst: PUBLIC, srcPort: 41000 + i, dstPort: 53, packets: 1, bytes: 100 + i,
  }));
  const s = run(p, specs);
  t.equal(p.live.size, 3);
  t.equal(p.status().untrackedSessions, 7);
  t.equal(s.traffic.reduce((a, r) => a + r.bytes, 0), specs.reduce((a, f) => a + f.bytes, 0));
  assertTalkersSum(t, s);
  t.same(s.talkers.port, [{ key: 'udp/53', bytesUp: 1045, bytesDown: 0, packetsUp: 10, packetsDown: 0, sessions: 10, newSessions: 10 }]);
  t.same(p.live.moved().map((x) => x.localPort), [41000, 41001, 41002], 'the sessions that moved: the tracked ones only');
  // the next interval moves one tracked session and one untracked conversation: the other two stay live, idle
  run(p, [specs[1]!, specs[5]!], 1_002_000);
  t.same(p.live.moved().map((x) => x.localPort), [41001], 'moved: this interval\'s tracked sessions with traffic, not the idle ones');
  t.equal(p.live.size, 3);
});

for (const ids of [false, true]) {
  t.test(`over the cap, a conversation is one conversation over many intervals, both directions (flow ids ${ids ? 'on' : 'off'})`, async (t) => {
    const p = processor({ sessions: { ...defaultSessionConfig(), maxSessions: 1 } });
    const id = (n: number) => (ids ? { flowId: n } : {});
    const conversations: FlowSpec[] = [
      { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 50000, dstPort: 443, packets: 2, bytes: 200, tcpFlags: ACK | PSH, ...id(0) },
      { direction: 'ingress', protocol: 6, src: PUBLIC, dst: HOST, srcPort: 443, dstPort: 50000, packets: 3, bytes: 3000, tcpFlags: ACK | PSH, ...id(1) },
      // the second conversation is over the cap
      { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 50001, dstPort: 443, packets: 4, bytes: 400, tcpFlags: ACK | PSH, ...id(2) },
      { direction: 'ingress', protocol: 6, src: PUBLIC, dst: HOST, srcPort: 443, dstPort: 50001, packets: 5, bytes: 5000, tcpFlags: ACK | PSH, ...id(3) },
    ];
    for (let k = 1; k <= 10; k++) {
      const s = run(p, conversations, 1_000_000 + k * 1000);
      t.same(s.talkers.port.map((r) => [r.key, r.bytesUp, r.bytesDown, r.sessions, r.newSessions]),
        [['tcp/443', 600, 8000, 2, k === 1 ? 2 : 0]], `interval ${k}: one service key, both conversations, new only in the first`);
      assertTalkersSum(t, s);
    }
    t.equal(p.live.size, 1, 'one session tracked');
    t.equal(p.status().untrackedSessions, 1, 'the other counted untracked once, not once per direction and interval');
    t.same(p.takeReleasedFlowIds().length, 0, 'no id released while the conversations live');
  });
}

t.test('flow ids: known flows routed by id, ids released when their session ends', async (t) => {
  const p = processor({ sessions: { ...defaultSessionConfig(), idleTimeoutMs: 5000 } });
  const flows: FlowSpec[] = [
    { direction: 'egress', protocol: 17, src: HOST, dst: PUBLIC, srcPort: 40000, dstPort: 53, packets: 1, bytes: 70, flowId: 7 },
    { direction: 'ingress', protocol: 17, src: PUBLIC, dst: HOST, srcPort: 53, dstPort: 40000, packets: 1, bytes: 170, flowId: 9 },
  ];
  run(p, flows, 1_001_000);
  // a later interval: the same ids route to the same session even if the key bytes were to differ
  const s = run(p, flows.map((f) => ({ ...f, srcPort: 1, dstPort: 2 })), 1_002_000);
  t.equal(p.live.size, 1, 'still one session');
  t.same(s.talkers.port.map((r) => r.key), ['udp/53'], 'routed by id to the session made from the first interval\'s keys');
  t.same([...p.live.values()].map((x) => [x.bytesUp, x.bytesDown]), [[140, 340]]);
  t.same([...p.takeReleasedFlowIds()], [], 'nothing to release yet');
  t.equal(run(p, [], 1_008_000).endedSessions.length, 1, 'ends idle');
  t.same([...p.takeReleasedFlowIds()].sort(), [7, 9], 'both ids released');
  t.same([...p.takeReleasedFlowIds()], [], 'released once');
});

t.test('filters: ignored and kept traffic, counted as filtered', async (t) => {
  const specs: FlowSpec[] = [
    { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 40000, dstPort: 22, packets: 2, bytes: 200 },
    { direction: 'egress', protocol: 17, src: HOST, dst: PUBLIC, srcPort: 40000, dstPort: 53, packets: 1, bytes: 70 },
    { direction: 'egress', protocol: 17, src: HOST, dst: '10.9.0.9', srcPort: 40000, dstPort: 53, packets: 1, bytes: 80 },
  ];
  const ignore = processor({ filters: { ignore: [{ port: [22] }, { cidr: ['10.9.0.9/32'], protocol: ['udp'] }], keep: [] } });
  const a = run(ignore, specs);
  t.same(a.traffic.map((r) => r.bytes), [70]);
  t.match(ignore.status(), { filteredPackets: 3, filteredBytes: 280 });
  const keep = processor({ filters: { ignore: [], keep: [{ protocol: ['tcp'] }] } });
  t.same(run(keep, specs).traffic.map((r) => r.bytes), [200]);
  t.throws(() => processor({ filters: { ignore: [{ protocol: ['bogus'] }], keep: [] } }), /filters.ignore\[0\].protocol: unknown protocol "bogus"/);
  t.throws(() => processor({ filters: { ignore: [{ cidr: ['10.0.0.0/33'] }], keep: [] } }), /filters.ignore\[0\].cidr/);
  t.throws(() => processor({ filters: { ignore: [{}], keep: [] } }), /at least one of/);
});

t.test('domain filters: the remote end\'s name (and its subdomains), as known at the first flow', async (t) => {
  // names as the names table would answer them: by the remote, valid from a time on
  const known: Record<string, { name: string; from: number }> = {
    '203.0.113.20': { name: 'ads.tracker.example', from: 0 },
    '203.0.113.21': { name: 'tracker.example', from: 0 },
    '203.0.113.22': { name: 'notatracker.example', from: 0 },
    '203.0.113.23': { name: 'late.tracker.example', from: 5_000_000 },
  };
  const enrichment: Enrichment = {
    place: () => ({}),
    domain: (_l, _lp, remote, _rp, _proto, firstSeen) => (known[remote] && firstSeen >= known[remote]!.from ? known[remote]!.name : undefined),
  };
  const flow = (dst: string, bytes: number): FlowSpec => ({ direction: 'egress', protocol: 6, src: HOST, dst, srcPort: 41000, dstPort: 443, packets: 1, bytes, firstSeen: 1_000_100 });
  const specs = [flow('203.0.113.20', 100), flow('203.0.113.21', 200), flow('203.0.113.22', 400), flow('203.0.113.23', 800), flow(PUBLIC, 1600)];
  const ignore = processor({ filters: { ignore: [{ domain: ['tracker.example'] }], keep: [] } }, enrichment);
  const a = run(ignore, specs);
  t.same(a.traffic.map((r) => r.bytes), [400 + 800 + 1600], 'tracker.example and its subdomain ignored; notatracker.example kept; a name learned later cannot match');
  t.same([...ignore.live.values()].map((x) => x.remote).sort(), ['203.0.113.22', '203.0.113.23', PUBLIC]);
  t.match(ignore.status(), { filteredPackets: 2, filteredBytes: 300 });
  t.same([...ignore.filteredInLatest!].sort(), [0, 1], 'the filtered flows, by their place in the batch (NDJSON leaves them out)');
  const keep = processor({ filters: { ignore: [], keep: [{ domain: ['notatracker.example'] }] } }, enrichment);
  t.same(run(keep, specs).traffic.map((r) => r.bytes), [400], 'keep: only the named domain');
  t.throws(() => processor({ filters: { ignore: [{ domain: [] }], keep: [] } }), /at least one of cidr, port, protocol, domain/);
});

t.test('overflow traffic has scope unknown and no talkers; totals stay exact', async (t) => {
  const p = processor();
  const specs: FlowSpec[] = [{ direction: 'ingress', protocol: 17, src: PUBLIC, dst: HOST, srcPort: 53, dstPort: 40000, packets: 1, bytes: 90 }];
  const s = run(p, specs, 1_001_000, { 2: 'eth0' }, [
    { ifindex: 2, direction: 'ingress', packets: 5, bytes: 5000 },
    { ifindex: 2, direction: 'egress', packets: 2, bytes: 120 },
  ]);
  t.same(s.traffic.filter((r) => r.scope === 'unknown').sort((a, b) => a.bytes - b.bytes), [
    { iface: 'eth0', direction: 'up', scope: 'unknown', bytes: 120, packets: 2 },
    { iface: 'eth0', direction: 'down', scope: 'unknown', bytes: 5000, packets: 5 },
  ]);
  t.equal(s.traffic.reduce((a, r) => a + r.bytes, 0), 5210, 'traffic rows sum to the interface totals');
  assertTalkersSum(t, s);
});

t.test('enrichment labels sessions and talkers; names found late are picked up', async (t) => {
  let named = false;
  const enrichment: Enrichment = {
    place: (addr) => (addr === PUBLIC ? { country: 'NL', city: 'Amsterdam', asn: 64500, asOrg: 'Example Net' } : {}),
    domain: (_l, _lp, remote) => (named && remote === PUBLIC ? 'www.example.org' : undefined),
  };
  const p = processor({}, enrichment);
  const flow: FlowSpec = { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 50000, dstPort: 443, packets: 1, bytes: 100, tcpFlags: SYN };
  let s = run(p, [flow]);
  t.same(s.talkers.domain.map((r) => r.key), ['unknown']);
  t.same(s.talkers.asn.map((r) => [r.key, r.label]), [['AS64500', 'Example Net']]);
  t.same(s.talkers.country.map((r) => r.key), ['NL']);
  named = true;
  s = run(p, [flow], 1_002_000);
  t.same(s.talkers.domain.map((r) => r.key), ['www.example.org']);
  t.same(s.talkers.ip.map((r) => [r.key, r.label]), [[PUBLIC, 'www.example.org']]);
  t.match([...p.live.values()][0]!.toRecord(), { domain: 'www.example.org', country: 'NL', city: 'Amsterdam', asn: 64500, asOrg: 'Example Net' });
  t.same(run(processor({}, enrichment), [{ ...flow, dst: '10.9.0.8' }]).talkers.country.map((r) => r.key), ['private'], 'private remotes are not looked up');
});

t.test('a name learned by a later session in the interval labels the key\'s row; rows handed out never change after', async (t) => {
  // the first session to the address has no name (its SNI port), the second one has
  const enrichment: Enrichment = { place: () => ({}), domain: (_l, lp) => (lp === 50001 ? 'named.example.org' : undefined) };
  const p = processor({}, enrichment);
  const unnamed: FlowSpec = { direction: 'egress', protocol: 17, src: HOST, dst: PUBLIC, srcPort: 50000, dstPort: 443, packets: 1, bytes: 100 };
  const named: FlowSpec = { ...unnamed, srcPort: 50001, bytes: 200 };
  const first = run(p, [unnamed, named]);
  t.same(first.talkers.ip.map((r) => [r.key, r.label, r.bytesUp, r.sessions]), [[PUBLIC, 'named.example.org', 300, 2]], 'one row, labelled, both sessions summed');
  const kept = structuredClone(first.talkers);
  const second = run(p, [{ ...unnamed, bytes: 7 }], 1_002_000);
  t.same(second.talkers.ip.map((r) => [r.key, r.label, r.bytesUp, r.sessions]), [[PUBLIC, 'named.example.org', 7, 1]], 'the next interval: a row of its own');
  t.same(first.talkers, kept, 'the first interval\'s rows as they were handed out');
});

t.test('an unnamed session asks again after 1, 2, 4, 8 and 16 s, not every interval', async (t) => {
  const tries = (intervalMs: number) => Array.from({ length: 40_000 / intervalMs }, (_, k) => (k + 1) * intervalMs).filter((e) => nameRetryDue(e, intervalMs));
  t.same(tries(1000), [1000, 2000, 4000, 8000, 16_000], '1 s intervals');
  t.same(tries(10_000), [10_000, 20_000], '10 s intervals: every interval of the 30 s');
  t.same(tries(250), [250, 500, 1000, 2000, 4000, 8000, 16_000], 'short intervals: the wait doubles from the first');
  let asked = 0;
  let named = false;
  const p = processor({}, { place: () => ({}), domain: () => { asked++; return named ? 'late.example.org' : undefined; } });
  const flow: FlowSpec = { direction: 'egress', protocol: 17, src: HOST, dst: PUBLIC, srcPort: 50000, dstPort: 443, packets: 1, bytes: 100 };
  const domainAt = (k: number) => run(p, [flow], 1_001_000 + k * 1000).talkers.domain.map((r) => r.key);
  for (let k = 0; k <= 4; k++) domainAt(k);
  t.equal(asked, 4, 'looked up at 0, 1, 2 and 4 s');
  named = true; // the answer comes at 5 s: found at the 8 s lookup
  t.same([5, 6, 7].map(domainAt), [['unknown'], ['unknown'], ['unknown']]);
  t.same(domainAt(8), ['late.example.org']);
  t.equal(asked, 5);
});

t.test('endAll ends every session for the log (shutdown)', async (t) => {
  const p = processor();
  run(p, [{ direction: 'egress', protocol: 17, src: HOST, dst: PUBLIC, srcPort: 1, dstPort: 2, packets: 1, bytes: 1 }]);
  t.same(p.endAll().map((e) => e.endReason), ['shutdown']);
  t.equal(p.live.size, 0);
});

t.test('a flow seen again after its session ended starts a new session, counted from zero', async (t) => {
  const p = processor({ sessions: { ...defaultSessionConfig(), idleTimeoutMs: 5_000 } });
  const flow: FlowSpec = { direction: 'egress', protocol: 17, src: HOST, dst: PUBLIC, srcPort: 40000, dstPort: 53, packets: 2, bytes: 140 };
  run(p, [flow], 1_001_000);
  run(p, [flow], 1_002_000);
  t.match([...p.live.values()][0]!.toRecord(), { packetsUp: 4, bytesUp: 280 }, 'the same flow in two intervals: one session');
  const ended = run(p, [], 1_010_000).endedSessions;
  t.same(ended.map((e) => [e.bytesUp, e.endReason]), [[280, 'idle']]);
  const again = run(p, [{ ...flow, firstSeen: 1_010_500 }], 1_011_000);
  t.match([...p.live.values()][0]!.toRecord(), { packetsUp: 2, bytesUp: 140, firstSeen: 1_010_500 }, 'a new session, not the ended one');
  t.same(again.talkers.ip.map((r) => [r.key, r.newSessions, r.bytesUp]), [[PUBLIC, 1, 140]]);
});

t.test('active remotes: distinct remote addresses of the tracked sessions, as sessions begin and end', async (t) => {
  const p = processor({ sessions: { ...defaultSessionConfig(), idleTimeoutMs: 5000, maxSessions: 3 } });
  const udp = (remote: string, port: number): FlowSpec => ({ direction: 'egress', protocol: 17, src: HOST, dst: remote, srcPort: port, dstPort: 53, packets: 1, bytes: 80 });
  const OTHER = '198.51.100.9';
  let end = 1_001_000;
  const at = (specs: FlowSpec[]) => run(p, specs, (end += 1000));
  t.equal(at([udp(PUBLIC, 40000), udp(PUBLIC, 40001)]).activeRemotes, 1, 'two sessions with one remote: one');
  t.equal(at([udp(OTHER, 40002)]).activeRemotes, 2, 'a second remote');
  t.equal(at([udp('192.0.2.1', 40003)]).activeRemotes, 2, 'a conversation over the session cap is not tracked: not counted');
  end += 4500;
  const s = at([udp(PUBLIC, 40000), udp(OTHER, 40002)]);
  t.same([s.endedSessions.length, s.activeSessions, s.activeRemotes], [1, 2, 2], 'PUBLIC:40001 ended; PUBLIC still has :40000, OTHER its session');
  end += 5000;
  const later = at([]);
  t.same([later.endedSessions.length, later.activeSessions, later.activeRemotes], [2, 0, 0], 'everything idle: no remotes');
  t.equal(at([udp(OTHER, 40009)]).activeRemotes, 1, 'a remote seen again counts again');
  p.endAll();
  t.equal(at([udp(PUBLIC, 40010)]).activeRemotes, 1, 'after endAll the count starts from nothing');
});
