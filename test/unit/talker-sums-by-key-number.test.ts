/**
 * The history sums an interval's talker rows by the flows stage's key numbers
 * (TalkerRow.id) in arrays, not in a Map of keys (issue 11). A number is only
 * a hint: the flows stage gives an ended key's number to a new key, so the
 * sums must come out exactly as summing every row by its key does, whatever
 * the numbers say: reused, absent (rows from JSON), or two for one key.
 */
import t from 'tap';
import { TalkerSums } from '../../src/flows/talker-sums.js';
import { addToMap, newAccumulator, OTHER_KEY, rowOf, type TalkerMap, type TalkerRow } from '../../src/flows/talkers.js';
import { FlowProcessor } from '../../src/flows/processor.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { TALKER_DIMENSIONS, type IntervalStats, type TalkerDimension } from '../../src/flows/types.js';
import { Pending } from '../../src/store/pending.js';
import { liveTalkers } from '../../src/store/writer.js';
import { flowBatch, totalsFor, type FlowSpec } from '../helpers/flow-batch.js';
import { seededRandom } from '../helpers/random.js';

const plain = (m: TalkerMap) => Object.fromEntries([...m].map(([k, a]) => [k, { ...a }]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0)));

t.test('rows with numbers, reused numbers, no numbers and labels sum as addToMap does', async (t) => {
  const next = seededRandom(7);
  const sums = new TalkerSums();
  const byMap: TalkerMap = new Map();
  for (let interval = 0; interval < 20; interval++) {
    for (let i = 0; i < 300; i++) {
      const key = `k${Math.floor(next() * 400)}`;
      // mostly the key's own number; sometimes another key's (a reused number), sometimes none
      const pick = next();
      const id = pick < 0.7 ? Number(key.slice(1)) : pick < 0.85 ? Math.floor(next() * 400) : undefined;
      const a = newAccumulator(key, id);
      a.bytesUp = Math.floor(next() * 1e9);
      a.bytesDown = Math.floor(next() * 1e6);
      a.packetsUp = Math.floor(next() * 1000);
      a.packetsDown = Math.floor(next() * 1000);
      a.sessions = 1 + Math.floor(next() * 3);
      a.newSessions = next() < 0.3 ? 1 : 0;
      if (next() < 0.1) a.label = `label of ${key} at ${interval}`;
      const row = pick < 0.95 ? rowOf(a) : JSON.parse(JSON.stringify(rowOf(a))) as TalkerRow;
      sums.add(row);
      addToMap(byMap, row.key, row);
    }
  }
  t.same(plain(sums.toMap()), plain(byMap), 'the same keys, counters and labels');
  t.same(plain(sums.copy().toMap()), plain(byMap), 'a copy has the same sums');
  t.ok(sums.size >= byMap.size, 'size counts every key at least once (a limit is never passed unseen)');
  // forEach, as the history's settle reads the sums: added up by key, the same counters
  const visited: TalkerMap = new Map();
  sums.forEach((k, a) => addToMap(visited, k, a));
  const counters = (m: TalkerMap) => plain(new Map([...m].map(([k, { label: _, ...c }]) => [k, c])));
  t.same(counters(visited), counters(byMap), 'forEach visits every sum once');
});

t.test('a number is no own property: JSON and comparisons of rows leave it out', async (t) => {
  const a = newAccumulator('192.0.2.1', 5);
  const row = rowOf(a);
  t.equal(row.id, 5, 'the row has its key\'s number');
  t.same(Object.keys(row).includes('id'), false);
  t.notMatch(JSON.stringify(row), /"id"/);
});

/**
 * Intervals from the flows stage in which talkers come and go: remote
 * addresses whose sessions end (a 2 s idle timeout) give their numbers to new
 * ones between settles. The history's hours must hold exactly what the same
 * intervals give through JSON, where rows have no numbers.
 */
t.test('the flows stage\'s intervals, keys ending and numbers reused: the history holds what rows without numbers give', async (t) => {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, []);
  const processor = new FlowProcessor({ sessions: { ...defaultSessionConfig(), idleTimeoutMs: 2000 }, filters: { ignore: [], keep: [] } }, classifier);
  const numbered = new Pending(1_000_000, () => new Map());
  const fromJson = new Pending(1_000_000, () => new Map());
  // settled only by its flushes, every 5 intervals: the flush ranks the window's sums as they are
  const flushedOnly = new Pending(1_000_000, () => new Map());
  const flushedWindow = new Map<string, TalkerMap>();
  const next = seededRandom(11);
  const t0 = Date.UTC(2026, 11, 7, 10, 59, 40);
  const windowOf = (p: Pending, d: TalkerDimension) => plain(p.window.get(d) ?? p.windowSums.get(d)?.toMap() ?? new Map());
  const modelHours = new Map<string, TalkerMap>(), modelWindow = new Map<string, TalkerMap>();
  const mapIn = (m: Map<string, TalkerMap>, k: string) => { let x = m.get(k); if (!x) m.set(k, (x = new Map())); return x; };
  let reused = 0;
  const seenIds = new Map<number, string>();
  for (let n = 1; n <= 40; n++) {
    const end = t0 + n * 1000;
    const specs: FlowSpec[] = [];
    // remote addresses come in waves: each lives a few intervals, then is idle long enough to end
    for (let i = 0; i < 150; i++) {
      const remote = (n >> 2) * 60 + Math.floor(next() * 120);
      const up = next() < 0.5;
      const local = `192.168.1.${1 + (i % 20)}`, far = `198.51.100.${remote % 250}`;
      const lp = 40000 + (i % 50), rp = [53, 443, 80][i % 3]!;
      specs.push({ direction: up ? 'egress' : 'ingress', protocol: 17, src: up ? local : far, dst: up ? far : local, srcPort: up ? lp : rp, dstPort: up ? rp : lp,
        packets: 1 + Math.floor(next() * 9), bytes: 60 + Math.floor(next() * 1400), firstSeen: end - 900, lastSeen: end - 100 });
    }
    const stats = processor.process({ start: end - 1000, end, flows: flowBatch(specs, end - 500), totals: totalsFor(specs) });
    for (const r of stats.talkers.ip) {
      const before = seenIds.get(r.id!);
      if (before !== undefined && before !== r.key) reused++;
      seenIds.set(r.id!, r.key);
    }
    numbered.add(stats);
    fromJson.add(JSON.parse(JSON.stringify(stats)) as IntervalStats);
    flushedOnly.add(stats);
    for (const d of TALKER_DIMENSIONS) for (const r of stats.talkers[d]) addToMap(mapIn(flushedWindow, d), r.key, r);
    if (n % 5 === 0) {
      flushedOnly.settle();
      // what the flush writes as the live snapshot: each key once, with all of its window
      const live = liveTalkers(flushedOnly, 1000);
      for (const d of TALKER_DIMENSIONS) {
        const keys = live[d]!.map(([k]) => k).filter((k) => k !== OTHER_KEY);
        t.equal(new Set(keys).size, keys.length, `the live snapshot's ${d} at interval ${n}: no key twice`);
        t.same(plain(new Map(live[d]!.filter(([k]) => k !== OTHER_KEY))), plain(flushedWindow.get(d) ?? new Map()), `the live snapshot's ${d} at interval ${n}: every key's counts`);
      }
      flushedWindow.clear();
      flushedOnly.clearCounts(0);
    }
    // the model: every row summed by key, per hour and for the window since the last flush
    const hour = Math.floor((end - 1) / 3_600_000);
    for (const d of TALKER_DIMENSIONS) {
      for (const r of stats.talkers[d]) {
        addToMap(mapIn(modelHours, `${hour}|${d}`), r.key, r);
        addToMap(mapIn(modelWindow, d), r.key, r);
      }
    }
    // settles now and then, as queries and flushes do: numbers reused within and across them
    if (n % 7 === 0) { numbered.settle(); fromJson.settle(); }
    // a flush's end: the live windows compared, then emptied (their sums are used again)
    if (n % 13 === 0) {
      numbered.settle();
      fromJson.settle();
      for (const d of TALKER_DIMENSIONS) {
        t.same(windowOf(numbered, d), windowOf(fromJson, d), `the live window's ${d} at interval ${n}`);
        t.same(windowOf(numbered, d), plain(modelWindow.get(d) ?? new Map()), `the live window's ${d} at interval ${n}: every row, once`);
      }
      modelWindow.clear();
      numbered.clearCounts(0);
      fromJson.clearCounts(0);
    }
  }
  numbered.settle();
  fromJson.settle();
  t.ok(reused > 0, `numbers were given to other keys (${reused} times), so the check below meets them`);
  t.same([...numbered.hours.keys()], [...fromJson.hours.keys()], 'the same hours (the run crosses 11:00)');
  t.equal(numbered.hours.size, 2);
  for (const [hour, sets] of fromJson.hours) {
    const mine = numbered.hours.get(hour)!;
    t.same([...mine.keys()].sort(), [...sets.keys()].sort(), `hour ${hour}: the same sets`);
    for (const [set, m] of sets) t.same(plain(mine.get(set)!), plain(m), `hour ${hour}, ${set}: every key's counts`);
    for (const d of TALKER_DIMENSIONS) t.same(plain(mine.get(d)!), plain(modelHours.get(`${hour}|${d}`)!), `hour ${hour}, ${d}: every row summed once`);
  }
  for (const d of TALKER_DIMENSIONS) t.same(windowOf(numbered, d), windowOf(fromJson, d), `the live window's ${d}`);
});
