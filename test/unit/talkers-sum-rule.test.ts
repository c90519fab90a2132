/**
 * The sum rule, once for every consumer of talkers: whatever a consumer keeps
 * (top N, a bounded map, a series budget), its rows plus "other" equal the sum
 * of every talker row it was given, counter by counter. Random intervals (a
 * seeded generator: a few large keys, a long tail, repeated keys, labels) go
 * through the talker module itself, the history store (held hours with their
 * bounded maps, and after a flush), the live query, the InfluxDB period and its
 * points, and the Prometheus remote series.
 */
process.env.TZ = 'UTC';
import t from 'tap';
import { TALKER_DIMENSIONS, type IntervalStats, type TalkerDimension, type TalkerRow } from '../../src/flows/types.js';
import { addCounts, cutTop, foldSmallest, topN, unlabelled, zeroCounts, addToMap, type TalkerCounts, type TalkerMap } from '../../src/flows/talkers.js';
import { Store } from '../../src/store/index.js';
import { LiveQuery } from '../../src/api/live-query.js';
import { PeriodAggregator } from '../../src/sinks/influx/period.js';
import { periodLines } from '../../src/sinks/influx/schema.js';
import { FlowMetrics } from '../../src/api/metrics.js';
import { collectorStatus, intervalStats } from '../helpers/interval-stats.js';
import { FlowProcessor } from '../../src/flows/processor.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { manualClock, tempDataDir } from '../helpers/intervals.js';
import { seededRandom } from '../helpers/random.js';

const T0 = Date.UTC(2026, 5, 1, 10);

/** A flows stage with no sessions: the live query's talkers do not read them. */
function processorFor(): FlowProcessor {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, []);
  return new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier);
}
const IV = 1000;

function rows(rand: () => number, dim: string): TalkerRow[] {
  const n = Math.floor(rand() * 300);
  const byKey = new Map<string, TalkerRow>();
  for (let i = 0; i < n; i++) {
    // a few heavy keys seen often, and a tail of keys seen once
    const key = rand() < 0.3 ? `${dim}-big-${Math.floor(rand() * 5)}` : `${dim}-${Math.floor(rand() * 5000)}`;
    if (byKey.has(key)) continue;
    const big = key.includes('big');
    const r: TalkerRow = {
      key, bytesUp: Math.floor(rand() * (big ? 1e7 : 5000)), bytesDown: Math.floor(rand() * (big ? 1e8 : 5000)),
      packetsUp: Math.floor(rand() * 100), packetsDown: Math.floor(rand() * 100), sessions: 1 + Math.floor(rand() * 3), newSessions: Math.floor(rand() * 2),
    };
    if (rand() < 0.2) r.label = `label of ${key}`;
    byKey.set(key, r);
  }
  return [...byKey.values()].sort((a, b) => b.bytesUp + b.bytesDown - (a.bytesUp + a.bytesDown));
}

function intervals(seed: number, count: number): IntervalStats[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const talkers = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, rows(rand, d)])) as Record<TalkerDimension, TalkerRow[]>;
    return intervalStats(T0 + i * IV, T0 + (i + 1) * IV, [], talkers);
  });
}

/** The exact sums a consumer must reproduce, per dimension (sessions left out: not every consumer keeps them). */
function expected(ivs: IntervalStats[]): Record<TalkerDimension, TalkerCounts> {
  const out = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, zeroCounts()])) as Record<TalkerDimension, TalkerCounts>;
  for (const iv of ivs) for (const d of TALKER_DIMENSIONS) for (const r of iv.talkers[d]) addCounts(out[d], unlabelled(r));
  return out;
}

const fourCounters = (c: { bytesUp: number; bytesDown: number; packetsUp: number; packetsDown: number }) =>
  [c.bytesUp, c.bytesDown, c.packetsUp, c.packetsDown];
const apiCounters = (c: { bytesUp: number; bytesDown: number; packetsUp: number; packetsDown: number; connections: number }) =>
  [...fourCounters(c), c.connections];
const sumOf = <T>(xs: T[], f: (x: T) => number[]): number[] =>
  xs.reduce((acc, x) => f(x).map((v, i) => v + (acc[i] ?? 0)), [] as number[]);

for (const seed of [1, 7, 42]) {
  const ivs = intervals(seed, 40);
  const want = expected(ivs);
  const wantApi = (d: TalkerDimension) => [...fourCounters(want[d]), want[d].newSessions];

  t.test(`seed ${seed}: the talker module`, async (t) => {
    for (const d of ['ip', 'domain'] as const) {
      const m: TalkerMap = new Map();
      for (const iv of ivs) for (const r of iv.talkers[d]) addToMap(m, r.key, r);
      for (const limit of [0, 1, 10, 100000]) {
        const { top, rest } = topN(m, limit);
        t.same(sumOf([...top.map(([, a]) => a), rest], (a) => [...fourCounters(a), a.newSessions, a.sessions]),
          [...fourCounters(want[d]), want[d].newSessions, want[d].sessions], `${d} top ${limit} + rest`);
        const cut = cutTop(m, limit);
        t.same(sumOf([...cut.rows, cut.other], apiCounters), wantApi(d), `${d} cut ${limit}: rows + other`);
        t.same(apiCounters(cut.total), wantApi(d), `${d} cut ${limit}: total`);
      }
      foldSmallest(m, 20);
      t.ok(m.size <= 21, `${d} folded to 20 keys and other (${m.size})`);
      t.same(sumOf([...m.values()], (a) => [...fourCounters(a), a.newSessions, a.sessions]),
        [...fourCounters(want[d]), want[d].newSessions, want[d].sessions], `${d} after folding`);
    }
  });

  t.test(`seed ${seed}: the history store, held and flushed`, async (t) => {
    const clock = manualClock(T0 + ivs.length * IV);
    const store = Store.open({ dataDir: tempDataDir(t, `sum-${seed}`), flushIntervalMs: 0, clock: clock.now, hourlyTopN: 7, pendingKeysLimit: 50 });
    t.teardown(() => store.close());
    for (const iv of ivs) store.add(iv);
    const check = (when: string) => {
      for (const d of TALKER_DIMENSIONS) {
        const top = store.topTalkers({ dimension: d, from: '2026-06-01', to: '2026-06-01', limit: 5 });
        t.same(sumOf([...top.rows, top.other], apiCounters), wantApi(d), `${when}: ${d} rows + other`);
        t.same(apiCounters(top.total), wantApi(d), `${when}: ${d} total`);
      }
    };
    check('held in memory');
    store.flush();
    check('flushed');
    for (const d of ['ip', 'country'] as const) {
      const live = store.liveTop({ dimension: d, limit: 3 })!;
      t.same(apiCounters(live.total), wantApi(d), `live snapshot of the flush window: ${d} total`);
    }
  });

  t.test(`seed ${seed}: the live query`, async (t) => {
    const live = new LiveQuery(processorFor().live);
    for (const iv of ivs) live.add(iv);
    for (const d of TALKER_DIMENSIONS) {
      const top = live.top(d, 300, 4);
      t.same(sumOf([...top.rows, top.other], apiCounters), wantApi(d), `${d} rows + other`);
      t.same(apiCounters(top.total), wantApi(d), `${d} total`);
    }
  });

  t.test(`seed ${seed}: the InfluxDB period and its points`, async (t) => {
    const agg = new PeriodAggregator(ivs.length * IV);
    let period;
    for (const iv of ivs) period = agg.add(iv, collectorStatus(['veth0'])) ?? period;
    t.ok(period, 'the period completed');
    const budget = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, 6])) as Record<TalkerDimension, number>;
    const { lines } = periodLines(period!, { host: 'h', seriesBudget: budget, precision: 'ms', sink: { pointsWritten: 0, pointsDropped: 0, bytesDropped: 0, retries: 0, bufferedPoints: 0, bufferedBytes: 0 } });
    for (const d of TALKER_DIMENSIONS) {
      const points = lines.filter((l) => l.startsWith(`flowlens_talkers,dimension=${d},`));
      t.ok(points.length <= 7, `${d}: at most the budget and other (${points.length})`);
      const field = (l: string, f: string) => Number(new RegExp(`[ ,]${f}=([0-9.e+-]+)i?`).exec(l)![1]);
      t.same(sumOf(points, (l) => [field(l, 'bytes_up'), field(l, 'bytes_down'), field(l, 'packets_up'), field(l, 'packets_down'), field(l, 'new_sessions')]),
        wantApi(d), `${d}: points sum to the intervals`);
      const meanSessions = sumOf(points, (l) => [field(l, 'sessions')])[0]!;
      t.ok(Math.abs(meanSessions - want[d].sessions / ivs.length) < 1e-6, `${d}: mean sessions over the period`);
    }
  });

  t.test(`seed ${seed}: the Prometheus remote series`, async (t) => {
    const metrics = new FlowMetrics(25, { host: 'h' });
    const flows = { sessions: 0, maxSessions: 1, untrackedSessions: 0, endedSessions: 0, filteredPackets: 0, filteredBytes: 0 };
    for (const iv of ivs) metrics.add(iv, collectorStatus(['veth0']), flows);
    const json = await metrics.registry.getMetricsAsJSON();
    const series = (name: string, direction: string) => (json.find((m) => m.name === name)!.values as Array<{ value: number; labels: Record<string, string> }>)
      .filter((v) => v.labels.direction === direction).reduce((a, v) => a + v.value, 0);
    t.equal(series('flowlens_remote_bytes_total', 'up'), want.ip.bytesUp, 'remote bytes up');
    t.equal(series('flowlens_remote_bytes_total', 'down'), want.ip.bytesDown, 'remote bytes down');
    t.equal(series('flowlens_remote_packets_total', 'up'), want.ip.packetsUp, 'remote packets up');
    t.equal(series('flowlens_remote_packets_total', 'down'), want.ip.packetsDown, 'remote packets down');
  });
}
