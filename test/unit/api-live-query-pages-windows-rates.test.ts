/**
 * The live query layer on the real flows stage: session pages that visit
 * every matching session exactly once in order, every filter, cursors that
 * are refused when they do not fit; top talkers over windows whose rows and
 * "other" sum to the total (also past the per-interval row cap); per-second
 * rates that add up to the bytes of each interval.
 */
import t from 'tap';
import { FlowProcessor, type Enrichment } from '../../src/flows/processor.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import { LiveQuery, type LiveSort } from '../../src/api/live-query.js';
import { FlowlensError } from '../../src/errors.js';
import { flowBatch, totalsFor, type FlowSpec } from '../helpers/flow-batch.js';
import { HOST } from '../helpers/api-fixture.js';

const T0 = 1_800_000_000_000;

/** Places and names for public remotes 203.0.113.N: country by N's parity, ASN by N mod 3, a name for every 5th. */
const enrichment: Enrichment = {
  place: (remote) => {
    const n = Number(remote.split('.').at(-1));
    return { country: n % 2 ? 'DE' : 'FR', asn: 64500 + (n % 3), asOrg: `Org ${n % 3}` };
  },
  domain: (_l, _lp, remote) => {
    const n = Number(remote.split('.').at(-1));
    return n % 5 === 0 ? `host${n}.cdn.example.com` : undefined;
  },
};

function setup() {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, [HOST]);
  const processor = new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier, enrichment);
  const live = new LiveQuery(processor.live);
  const feed = (specs: FlowSpec[], end: number, ms = 1000) => {
    const stats = processor.process({ start: end - ms, end, flows: flowBatch(specs, end - ms / 2), totals: totalsFor(specs) });
    live.add(stats);
    return stats;
  };
  return { processor, live, feed };
}

/** 250 sessions: 200 TCP to 203.0.113.1..200 (internet) and 50 UDP to 10.9.0.100..149 (lan), distinct sizes. */
function manyFlows(at: number): FlowSpec[] {
  const specs: FlowSpec[] = [];
  for (let i = 1; i <= 200; i++) {
    specs.push({ direction: 'egress', protocol: 6, src: HOST, dst: `203.0.113.${i}`, srcPort: 40000 + i, dstPort: i % 2 ? 443 : 80, packets: 1, bytes: 100 + i, tcpFlags: 0x12, firstSeen: at + i });
    specs.push({ direction: 'ingress', protocol: 6, src: `203.0.113.${i}`, dst: HOST, srcPort: i % 2 ? 443 : 80, dstPort: 40000 + i, packets: 2, bytes: 1000 + 7 * i, tcpFlags: 0x12, firstSeen: at + i });
  }
  for (let i = 0; i < 50; i++) {
    specs.push({ direction: 'egress', protocol: 17, src: HOST, dst: `10.9.0.${100 + i}`, srcPort: 5000 + i, dstPort: 53, packets: 1, bytes: 60 + 3 * i, firstSeen: at + 300 + i });
  }
  return specs;
}

t.test('pages visit every matching session once, in order, for every sort', async (t) => {
  const { live, feed, processor } = setup();
  feed(manyFlows(T0 - 900), T0);
  t.equal(processor.live.size, 250);
  for (const sort of ['bytes', 'packets', 'rate', 'firstSeen', 'lastSeen'] as LiveSort[]) {
    const ids: string[] = [];
    const values: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = live.sessions({ sort, limit: 7, cursor });
      t.equal(page.matched, 250, `${sort}: matched counts every page`);
      for (const r of page.rows) {
        ids.push(r.session.id);
        const s = r.session;
        values.push(sort === 'bytes' ? s.bytesUp + s.bytesDown : sort === 'packets' ? s.packetsUp + s.packetsDown : sort === 'rate' ? r.rateUp + r.rateDown : sort === 'firstSeen' ? s.firstSeen : s.lastSeen);
      }
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 100);
    t.equal(pages, 36, `${sort}: 250 rows in pages of 7`);
    t.equal(new Set(ids).size, 250, `${sort}: every session exactly once`);
    t.ok(values.every((v, i) => i === 0 || v <= values[i - 1]!), `${sort}: largest first across pages`);
  }
  const top = live.sessions({ sort: 'bytes', limit: 1 }).rows[0]!;
  t.equal(top.session.remote, '203.0.113.200', 'the largest session first');
  t.equal(top.rateUp, 300, 'rate: bytes of the latest interval per second (1 s interval)');
  t.equal(top.rateDown, 2400);
});

t.test('sessions tied on the sort are paged each once, the later begun first', async (t) => {
  const { live, feed } = setup();
  // 30 sessions of the same size (a gateway's many one-packet DNS queries), begun in this order
  const same = Array.from({ length: 30 }, (_, i): FlowSpec => ({ direction: 'egress', protocol: 17, src: HOST, dst: `203.0.113.${i + 1}`, srcPort: 7000 + i, dstPort: 53, packets: 1, bytes: 80, firstSeen: T0 - 900 }));
  feed(same, T0);
  for (const sort of ['bytes', 'packets', 'rate', 'firstSeen'] as LiveSort[]) {
    const remotes: string[] = [];
    let cursor: string | undefined;
    do {
      const page = live.sessions({ sort, limit: 4, cursor });
      remotes.push(...page.rows.map((r) => r.session.remote));
      cursor = page.nextCursor ?? undefined;
    } while (cursor && remotes.length < 100);
    t.same(remotes, same.map((f) => f.dst).reverse(), `${sort}: every tied session once, the later begun first`);
  }
  // the 30 end (idle for 3 min), then 5 others begin: only those 5 are live, though the snapshot's columns are reused
  const later = T0 + 180_000;
  feed([], later);
  t.same(live.sessions({ limit: 100 }), { rows: [], nextCursor: null, matched: 0, at: later }, 'the ended sessions are gone');
  const five = same.slice(0, 5).map((f) => ({ ...f, srcPort: f.srcPort! + 1000, firstSeen: later + 100 }));
  feed(five, later + 1000);
  const page = live.sessions({ limit: 100 });
  t.same([page.matched, page.rows.map((r) => r.session.localPort)], [5, five.map((f) => f.srcPort).reverse()], 'the 5 new ones, nothing of the 30');
});

t.test('every filter', async (t) => {
  const { live, feed } = setup();
  feed(manyFlows(T0 - 900), T0);
  const count = (filter: NonNullable<Parameters<typeof live.sessions>[0]>['filter']) => live.sessions({ filter, limit: 10_000 }).matched;
  t.equal(count({ addr: '203.0.113.0/28' }), 15, 'CIDR: .1-.15');
  t.equal(count({ addr: '203.0.113.7' }), 1, 'a bare address');
  t.equal(count({ addr: HOST }), 250, 'the local end matches too');
  t.equal(count({ port: 443 }), 100, 'port (remote)');
  t.equal(count({ port: 40007 }), 1, 'port (local)');
  t.equal(count({ protocol: 'udp' }), 50, 'protocol by name');
  t.equal(count({ protocol: 6 }), 200, 'protocol by number');
  t.equal(count({ scope: 'lan' }), 50, 'scope');
  t.equal(count({ iface: 'eth0' }), 250, 'interface');
  t.equal(count({ iface: 'eth1' }), 0);
  t.equal(count({ country: 'de' }), 100, 'country (any case)');
  t.equal(count({ asn: 'AS64501' }), 67, 'ASN with AS prefix');
  t.equal(count({ asn: 64500 }), 66, 'ASN as a number');
  t.equal(count({ domain: 'example.com' }), 40 + 10, 'a parent domain matches its names (40 TCP remotes, 10 UDP ones)');
  t.equal(count({ domain: 'host10.cdn.example.com' }), 1, 'an exact name');
  t.equal(count({ addr: '203.0.113.0/24', port: 80, country: 'FR' }), 100, 'fields combine (AND)');
  const page = live.sessions({ filter: { protocol: 'udp' }, sort: 'bytes', limit: 3 });
  t.same(page.rows.map((r) => r.session.remote), ['10.9.0.149', '10.9.0.148', '10.9.0.147'], 'a filtered page, largest first');
  for (const [filter, message] of [
    [{ addr: '203.0.113.0/33' }, /addr/],
    [{ port: 70000 }, /port must be/],
    [{ protocol: 'tcp udp' }, /protocol must be/],
    [{ scope: 'space' as 'lan' }, /scope must be/],
    [{ asn: 'ASX' }, /asn must be/],
  ] as const) {
    t.throws(() => live.sessions({ filter }), { message }, `bad filter ${JSON.stringify(filter)} is refused, naming it`);
  }
  t.throws(() => live.sessions({ sort: 'size' as LiveSort }), { message: /sort must be one of/ });
  t.throws(() => live.sessions({ limit: 0 }), { message: /limit must be/ });
  t.throws(() => live.sessions({ cursor: 'not-a-cursor' }), FlowlensError, 'a made-up cursor');
  const next = live.sessions({ sort: 'bytes', limit: 2 }).nextCursor!;
  t.throws(() => live.sessions({ sort: 'packets', cursor: next }), { message: /cursor is not one this query returned/ }, 'a cursor of another sort');
});

t.test('top talkers over a window: rows + other = total, also past the per-interval cap', async (t) => {
  const { live, feed } = setup();
  // interval 1: 1500 remotes (over the 1000 rows kept per interval), 10 bytes each up
  const wide: FlowSpec[] = [];
  for (let i = 0; i < 1500; i++) wide.push({ direction: 'egress', protocol: 17, src: HOST, dst: `198.18.${i >> 8}.${i & 255}`, srcPort: 6000, dstPort: 7000, packets: 1, bytes: 10 + (i === 7 ? 1000 : 0), firstSeen: T0 - 2500 });
  feed(wide, T0 - 2000);
  // intervals 2 and 3: one remote, 500 then 700 bytes
  const one = (bytes: number, at: number): FlowSpec[] => [{ direction: 'egress', protocol: 17, src: HOST, dst: '198.18.0.7', srcPort: 6000, dstPort: 7000, packets: 1, bytes, firstSeen: at }];
  feed(one(500, T0 - 1500), T0 - 1000);
  feed(one(700, T0 - 500), T0);

  const latest = live.top('ip', 0, 5);
  t.same([latest.from, latest.to, latest.rows.length, latest.rows[0]?.bytes, latest.total.bytes], [T0 - 1000, T0, 1, 700, 700], 'window 0: the latest interval alone');
  const two = live.top('ip', 2, 5);
  t.same([two.from, two.rows[0]?.key, two.rows[0]?.bytes, two.total.bytes], [T0 - 2000, '198.18.0.7', 1200, 1200], 'a 2 s window: the last two intervals');
  const all = live.top('ip', 300, 5);
  const total = 1500 * 10 + 1000 + 500 + 700;
  t.equal(all.total.bytes, total, 'the whole window, exact (rows past the cap are in other)');
  t.same(all.rows[0], { key: '198.18.0.7', bytesUp: 1010 + 1200, bytesDown: 0, bytes: 2210, packetsUp: 3, packetsDown: 0, connections: 1 }, 'the largest talker summed over intervals');
  t.equal(all.rows.length, 5);
  t.equal(all.rows.reduce((a, r) => a + r.bytes, 0) + all.other.bytes, total, 'rows + other = total');
  t.equal(all.other.connections + all.rows.reduce((a, r) => a + r.connections, 0), 1500, 'connections sum too');
  t.same(live.top('proto', 300, 5).rows.map((r) => [r.key, r.bytes]), [['udp', total]], 'another dimension');
  t.throws(() => live.top('colour' as 'ip', 30), { message: /dimension must be one of/ });
  t.throws(() => live.top('ip', 301), { message: /window must be/ });
});

t.test('per-second rates add up to the bytes of each interval', async (t) => {
  const { live, feed } = setup();
  const flow = (bytes: number, at: number): FlowSpec[] => [{ direction: 'egress', protocol: 17, src: HOST, dst: '203.0.113.9', srcPort: 6000, dstPort: 7000, packets: 10, bytes, firstSeen: at }];
  // [T0-2500, T0-1500): 1000 bytes, half in each second it touches; [T0-1500, T0-500): 3000 bytes
  feed(flow(1000, T0 - 2400), T0 - 1500);
  feed(flow(3000, T0 - 1400), T0 - 500);
  const rt = live.realtime(4);
  t.same(rt.times, [T0 - 5000, T0 - 4000, T0 - 3000, T0 - 2000], 'the last 4 complete seconds (the one holding T0-500 is not)');
  t.equal(rt.series.length, 1);
  const s = rt.series[0]!;
  t.same([s.iface, s.direction, s.scope], ['eth0', 'up', 'internet']);
  t.same(s.bytesPerSecond, [0, 0, 500, 500 + 1500], 'each interval spread over the seconds it covers');
  t.same(s.packetsPerSecond, [0, 0, 5, 5 + 5]);
  t.equal(live.realtime(30).series[0]!.bytesPerSecond.reduce((a, b) => a + b, 0), 2500, 'the incomplete second is left out');
  feed([], T0 + 500); // completes the second [T0-1000, T0)
  const after = live.realtime(30).series[0]!.bytesPerSecond;
  t.same(after.slice(-3), [500, 2000, 1500], 'the completed second is the newest');
  t.equal(after.reduce((a, b) => a + b, 0), 4000, 'the sum over the window is the bytes counted');
  t.throws(() => live.realtime(0), { message: /seconds must be/ });
  t.throws(() => live.realtime(301), { message: /seconds must be/ });
});

t.test('a page asked again within the interval is the same answer; the next interval answers anew', async (t) => {
  const { live, feed } = setup();
  feed(manyFlows(T0 - 900), T0);
  const first = live.sessions({ sort: 'bytes', limit: 5 });
  t.equal(live.sessions({ sort: 'bytes', limit: 5 }), first, 'the same query: the page already made');
  const udp = live.sessions({ sort: 'bytes', limit: 5, filter: { protocol: 'udp' } });
  t.not(udp, first, 'another filter is another page');
  t.ok(udp.rows.every((r) => r.session.protocol === 17) && udp.matched === 50, 'and its own rows');
  t.equal(live.sessions({ sort: 'bytes', limit: 5, cursor: first.nextCursor! }).rows[0]!.session.id !== first.rows[0]!.session.id, true, 'a cursor is part of the query');
  t.equal(live.sessions({ sort: 'bytes', limit: 6 }).rows.length, 6, 'and so is the limit');
  // the next interval: the UDP session to .149 grows past every other session
  feed([{ direction: 'egress', protocol: 17, src: HOST, dst: '10.9.0.149', srcPort: 5049, dstPort: 53, packets: 1, bytes: 1_000_000, firstSeen: T0 + 100 }], T0 + 1000);
  const next = live.sessions({ sort: 'bytes', limit: 5 });
  t.not(next, first, 'a new interval: a new page');
  t.equal(next.rows[0]!.session.remote, '10.9.0.149', 'with the new interval\'s order');
  t.equal(next.at, T0 + 1000);
});

t.test('while pages are asked, the next interval\'s snapshot and the pages asked last are made ahead (prepareAhead), the same as made when asked', async (t) => {
  const { live, feed } = setup();
  feed(manyFlows(T0 - 900), T0);
  // nobody asked: prepareAhead does nothing, the first ask makes the page
  live.prepareAhead();
  t.equal((live as unknown as { snap: unknown }).snap, undefined, 'no snapshot made while no page was asked');
  const pages = [{ sort: 'bytes' as const, limit: 5 }, { sort: 'rate' as const, limit: 3, filter: { protocol: 'udp' } }];
  for (const q of pages) live.sessions(q);
  const cursorPage = live.sessions({ sort: 'bytes', limit: 5 });
  live.sessions({ sort: 'bytes', limit: 5, cursor: cursorPage.nextCursor! });
  // the next interval: the UDP session to .149 grows past every other
  const grow = (end: number) => feed([{ direction: 'egress', protocol: 17, src: HOST, dst: '10.9.0.149', srcPort: 5049, dstPort: 53, packets: 1, bytes: 1_000_000, firstSeen: end - 900 }], end);
  grow(T0 + 1000);
  live.prepareAhead();
  const made = pages.map((q) => live.sessions(q));
  const next = live.sessions({ sort: 'bytes', limit: 5, cursor: cursorPage.nextCursor! });
  // the same pages a LiveQuery that made nothing ahead answers for the same sessions
  const fresh = setup();
  fresh.feed(manyFlows(T0 - 900), T0);
  fresh.feed([{ direction: 'egress', protocol: 17, src: HOST, dst: '10.9.0.149', srcPort: 5049, dstPort: 53, packets: 1, bytes: 1_000_000, firstSeen: T0 + 100 }], T0 + 1000);
  // a page as a user reads it: each row's session by its id and counts
  const json = (x: ReturnType<typeof live.sessions>) => ({ ...x, rows: x.rows.map((r) => ({ ...r, session: [r.session.id, r.session.bytesUp, r.session.bytesDown, r.session.packetsUp, r.session.packetsDown] })) });
  pages.forEach((q, i) => t.same(json(made[i]), json(fresh.live.sessions(q)), `${q.sort} page: the same as made when asked`));
  t.same(json(next), json(fresh.live.sessions({ sort: 'bytes', limit: 5, cursor: cursorPage.nextCursor! })), 'the page after a cursor too');
  t.equal(made[0]!.rows[0]!.session.remote, '10.9.0.149', 'with the new interval\'s order');
  t.equal(made[1]!.rows[0]!.session.remote, '10.9.0.149', 'and rate');
  // made ahead: asking is a lookup, the very page made in prepareAhead
  const cache = (live as unknown as { pageCache: Map<string, unknown> }).pageCache;
  grow(T0 + 2000);
  live.prepareAhead();
  const madeAhead = (live as unknown as { pageCache: Map<string, unknown> }).pageCache;
  t.equal(madeAhead.size, 3, 'the three pages asked in the interval before, made ahead');
  t.not(madeAhead, cache, 'for the new snapshot');
  const ahead = live.sessions(pages[0]!);
  t.equal(live.sessions(pages[0]!), ahead, 'asked again: the same page');
  t.equal(ahead.at, T0 + 2000, 'of the latest interval');
  t.equal(madeAhead.size, 3, 'asking it made no page: it was made');
});
