/**
 * Traffic and talker queries: the flushed database plus, in the process that
 * writes, the pending part, so answers equal the live totals.
 */
import { oneDirection, talkerDirection } from './direction.js';
import { TALKER_DIMENSIONS, TALKER_SCOPES, talkerSet, type TalkerDimension, type TalkerScope, type TalkerSet } from '../flows/types.js';
import { FlowlensError } from '../errors.js';
import type { Pending } from './pending.js';
import { addToMap, cutTop, zeroCounts, type TalkerCounts, type TalkerMap } from '../flows/talkers.js';
import type { Db } from './schema.js';
import { addUnits, bucketLabel, buckets, GRANULARITIES, HOUR_MS, localDate, MINUTE_MS, nextStart, parseRange, QUARTER_MS, startOf, type CalendarUnit } from './time.js';
import type { DateRange, History, HistoryBucket, HistoryQuery, LiveTop, PeriodTotals, Summary, TalkerTotal, TopQuery, TopTalkers, Totals, TrafficFilter } from './types.js';

export interface Source {
  db: Db;
  /** The writer's counts not yet flushed; null in a reader. */
  pending: Pending | null;
  now: number;
  /** The writer's sums of past ranges (null in a reader, which cannot know when they change). */
  closed: ClosedSums | null;
}

/** Most distinct past ranges remembered (a year by hour is 8760). */
const CLOSED_SUMS_LIMIT = 20_000;

/**
 * Database sums of traffic over ranges that ended before the current local day:
 * they change only when a flush writes counts that old (late intervals), so the
 * writing process can keep them, and "this year" or "the last 12 months" costs
 * one query for today instead of a year of quarter-hour rows each time.
 */
export class ClosedSums {
  private readonly sums = new Map<string, Totals>();
  private latestEnd = -Infinity;

  get(key: string): Totals | undefined {
    const t = this.sums.get(key);
    return t && { ...t };
  }

  set(key: string, end: number, t: Totals): void {
    if (this.sums.size >= CLOSED_SUMS_LIMIT) this.sums.clear();
    this.sums.set(key, { ...t });
    if (end > this.latestEnd) this.latestEnd = end;
  }

  /** A flush wrote counts as old as `earliest` (epoch ms): forget every sum that may include them. */
  invalidate(earliest: number): void {
    if (earliest < this.latestEnd) {
      this.sums.clear();
      this.latestEnd = -Infinity;
    }
  }
}

const closedKey = (from: number, to: number, f: TrafficFilter) => `${from}|${to}|${f.iface ?? ''}|${f.direction ?? ''}|${f.scope ?? ''}`;

/** Hourly buckets over more than ~5 years would be an answer nobody reads (the APIs allow fewer: src/api/service.ts). */
const MAX_BUCKETS = 50_000;
const MAX_TOP_LIMIT = 10_000;

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);

export function checkFilter(f: TrafficFilter): void {
  if (f.direction !== undefined && f.direction !== 'up' && f.direction !== 'down') throw usage(`direction must be up or down, not "${f.direction}"`);
  if (f.scope !== undefined && !['internet', 'lan', 'unknown'].includes(f.scope)) throw usage(`scope must be internet, lan or unknown, not "${f.scope}"`);
  if (f.iface !== undefined && (typeof f.iface !== 'string' || f.iface === '')) throw usage('iface must be an interface name');
}

/** SQL conditions for a filter, on columns of the table named `t` (or unqualified). */
function filterSql(f: TrafficFilter, t = ''): { where: string; params: string[] } {
  const where: string[] = [];
  const params: string[] = [];
  const col = (c: string) => (t ? `${t}.${c}` : c);
  if (f.iface !== undefined) { where.push(`${col('iface')} = ?`); params.push(f.iface); }
  if (f.direction !== undefined) { where.push(`${col('direction')} = ?`); params.push(f.direction); }
  if (f.scope !== undefined) { where.push(`${col('scope')} = ?`); params.push(f.scope); }
  return { where: where.map((w) => ` AND ${w}`).join(''), params };
}

const zero = (): Totals => ({ up: 0, down: 0, total: 0, packetsUp: 0, packetsDown: 0 });

function addTo(t: Totals, direction: string, bytes: number, packets: number): void {
  if (direction === 'up') { t.up += bytes; t.packetsUp += packets; } else { t.down += bytes; t.packetsDown += packets; }
  t.total += bytes;
}

/** Flushed traffic in [from, to) (quarter-hour boundaries), from the closed sums where it can. */
function dbSum(src: Source, from: number, to: number, f: TrafficFilter): Totals {
  const t = zero();
  if (to <= from) return t;
  const cacheable = src.closed !== null && to <= startOf(src.now, 'day');
  if (cacheable) {
    const hit = src.closed!.get(closedKey(from, to, f));
    if (hit) return hit;
  }
  const { where, params } = filterSql(f);
  const rows = src.db.prepare(
    `SELECT direction, sum(bytes) AS bytes, sum(packets) AS packets FROM traffic_quarter
     WHERE quarter >= ? AND quarter < ?${where} GROUP BY direction`).all(from / QUARTER_MS, to / QUARTER_MS, ...params) as Array<{ direction: string; bytes: number; packets: number }>;
  for (const r of rows) addTo(t, r.direction, r.bytes, r.packets);
  if (cacheable) src.closed!.set(closedKey(from, to, f), to, t);
  return t;
}

/** Traffic in [from, to) (both on quarter-hour boundaries). */
export function sumRange(src: Source, from: number, to: number, f: TrafficFilter = {}): Totals {
  // the part before today can be remembered; today's is always read
  const cut = Math.min(Math.max(startOf(src.now, 'day'), from), to);
  const t = dbSum(src, from, cut, f);
  const today = dbSum(src, cut, to, f);
  addTo(t, 'up', today.up, today.packetsUp);
  addTo(t, 'down', today.down, today.packetsDown);
  for (const d of pendingTraffic(src, f)) {
    const at = d.minute * MINUTE_MS;
    if (at >= from && at < to) addTo(t, d.direction, d.bytes, d.packets);
  }
  return t;
}

function* pendingTraffic(src: Source, f: TrafficFilter) {
  if (!src.pending) return;
  for (const d of src.pending.traffic.values()) {
    if (f.iface !== undefined && d.iface !== f.iface) continue;
    if (f.direction !== undefined && d.direction !== f.direction) continue;
    if (f.scope !== undefined && d.scope !== f.scope) continue;
    yield d;
  }
}

function period(src: Source, unit: CalendarUnit, f: TrafficFilter): PeriodTotals {
  const start = startOf(src.now, unit);
  const end = nextStart(start, unit);
  const label = unit === 'day' ? localDate(start) : unit === 'month' ? localDate(start).slice(0, 7) : localDate(start).slice(0, 4);
  return { start, end, label, ...sumRange(src, start, end, f) };
}

/** Today, this month and this year in local time, including the pending part. */
export function summary(src: Source, f: TrafficFilter = {}): Summary {
  checkFilter(f);
  return { at: src.now, today: period(src, 'day', f), month: period(src, 'month', f), year: period(src, 'year', f) };
}

/** Average bucket lengths, for the bucket bound (a range's count is estimated before any calendar work). */
const BUCKET_MS = { hour: HOUR_MS, day: 24 * HOUR_MS, month: 30.44 * 24 * HOUR_MS } as const;

/** The checks every history query passes (granularity, filter, range, bucket bound); the range as epoch ms. */
function checkHistory(now: number, q: HistoryQuery, maxBuckets: number): { from: number; to: number } {
  if (!GRANULARITIES.includes(q.granularity)) throw usage(`granularity must be hour, day or month, not "${q.granularity}"`);
  checkFilter(q);
  const range = parseRange(q.from, q.to, now, q.params);
  const from = range.from!, to = range.to!;
  const count = Math.round((to - from) / BUCKET_MS[q.granularity]);
  if (count > maxBuckets) {
    const coarser = q.granularity === 'hour' ? 'day or month' : q.granularity === 'day' ? 'month' : '';
    throw usage(`the range has about ${count} ${q.granularity}s; a query may have at most ${maxBuckets} buckets`,
      coarser ? `ask by ${coarser} (granularity), or for a shorter range` : 'ask for a shorter range');
  }
  return { from, to };
}

type Bucket = HistoryBucket;

/** Zero-filled local hour/day/month buckets of [from, to). */
export function history(src: Source, q: HistoryQuery): History {
  const { from, to } = checkHistory(src.now, q, MAX_BUCKETS);
  const out = buckets(from, to, q.granularity).map(([start, end]): Bucket => ({ start, end, label: bucketLabel(start, q.granularity), ...zero() }));
  return fillHistory(src, q, out);
}

/** Buckets made per turn of the event loop: local calendar arithmetic costs ~10 µs a bucket. */
const BUCKETS_PER_TURN = 250;

/**
 * history() for a server: the calendar work (the bulk of a long range's cost)
 * is done a slice at a time, letting the event loop answer other requests (a
 * health probe) in between; the counts are then read in one synchronous step
 * from `source()` as it is at that moment, so flushed and pending counts are
 * consistent. `maxBuckets` bounds the work one query may ask for.
 */
export async function historyInSlices(source: () => Source, q: HistoryQuery, maxBuckets: number): Promise<History> {
  const { from, to } = checkHistory(source().now, q, Math.min(maxBuckets, MAX_BUCKETS));
  const out: Bucket[] = [];
  for (let s = startOf(from, q.granularity); s < to;) {
    const e = nextStart(s, q.granularity);
    out.push({ start: s, end: e, label: bucketLabel(s, q.granularity), ...zero() });
    s = e;
    if (out.length % BUCKETS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return fillHistory(source(), q, out);
}

/** Adds the flushed and the pending counts of [first bucket start, last bucket end) to the buckets. */
function fillHistory(src: Source, q: HistoryQuery, out: Bucket[]): History {
  const lo = out[0]!.start, hi = out[out.length - 1]!.end;
  const { where, params } = filterSql(q, 't');
  const today = startOf(src.now, 'day');
  const filter: TrafficFilter = { iface: q.iface, direction: q.direction, scope: q.scope };
  // buckets before today may be remembered (ClosedSums); the rest go to SQLite as
  // [index, first quarter, end quarter]: one range read and sum per bucket, instead of
  // every quarter-hour row of a year crossing into JavaScript
  const ask: Array<[number, number, number]> = [];
  out.forEach((b, i) => {
    const hit = src.closed && b.end <= today ? src.closed.get(closedKey(b.start, b.end, filter)) : undefined;
    if (hit) Object.assign(b, hit); else ask.push([i, b.start / QUARTER_MS, b.end / QUARTER_MS]);
  });
  if (ask.length) {
    const rows = src.db.prepare(
      `SELECT b.value ->> 0 AS i, t.direction AS direction, sum(t.bytes) AS bytes, sum(t.packets) AS packets
       FROM json_each(?) AS b JOIN traffic_quarter AS t ON t.quarter >= b.value ->> 1 AND t.quarter < b.value ->> 2
       WHERE 1${where} GROUP BY b.value ->> 0, t.direction`)
      .all(JSON.stringify(ask), ...params) as Array<{ i: number; direction: string; bytes: number; packets: number }>;
    for (const r of rows) addTo(out[r.i], r.direction, r.bytes, r.packets);
    if (src.closed) {
      for (const [i] of ask) {
        const b = out[i];
        if (b.end <= today) src.closed.set(closedKey(b.start, b.end, filter), b.end, { up: b.up, down: b.down, total: b.total, packetsUp: b.packetsUp, packetsDown: b.packetsDown });
      }
    }
  }
  for (const d of pendingTraffic(src, q)) {
    const at = d.minute * MINUTE_MS;
    if (at < lo || at >= hi) continue;
    addTo(out[bucketIndex(out, at)], d.direction, d.bytes, d.packets);
  }
  const total = zero();
  for (const b of out) {
    total.up += b.up; total.down += b.down; total.total += b.total;
    total.packetsUp += b.packetsUp; total.packetsDown += b.packetsDown;
  }
  return { granularity: q.granularity, from: lo, to: hi, buckets: out, total };
}

function bucketIndex(bs: Array<{ start: number; end: number }>, at: number): number {
  let lo = 0, hi = bs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bs[mid].end <= at) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** The last 30 local days including today, by day. */
export function last30Days(src: Source, f: TrafficFilter = {}): History {
  const today = startOf(src.now, 'day');
  return history(src, { ...f, granularity: 'day', from: addUnits(today, 'day', -29), to: nextStart(today, 'day') });
}

/** The last 12 local months including this one, by month. */
export function last12Months(src: Source, f: TrafficFilter = {}): History {
  const month = startOf(src.now, 'month');
  return history(src, { ...f, granularity: 'month', from: addUnits(month, 'month', -11), to: nextStart(month, 'month') });
}

/** Every hour of the local day so far and to come, by hour. */
export function todayByHour(src: Source, f: TrafficFilter = {}): History {
  const today = startOf(src.now, 'day');
  return history(src, { ...f, granularity: 'hour', from: today, to: nextStart(today, 'day') });
}

/** First and last quarter hour that has traffic, as local dates and epoch ms. */
export function dateRange(src: Source): DateRange {
  // two statements: SQLite answers a lone min() or max() from the index, both together by a scan
  const r = {
    lo: (src.db.prepare(`SELECT min(quarter) AS q FROM traffic_quarter`).get() as { q: number | null }).q,
    hi: (src.db.prepare(`SELECT max(quarter) AS q FROM traffic_quarter`).get() as { q: number | null }).q,
  };
  let lo = r.lo === null ? null : r.lo * QUARTER_MS;
  let hi = r.hi === null ? null : r.hi * QUARTER_MS;
  for (const d of pendingTraffic(src, {})) {
    const q = Math.floor((d.minute * MINUTE_MS) / QUARTER_MS) * QUARTER_MS;
    if (lo === null || q < lo) lo = q;
    if (hi === null || q > hi) hi = q;
  }
  return { first: lo === null ? null : localDate(lo), last: hi === null ? null : localDate(hi), firstTime: lo, lastTime: hi };
}

function checkDimension(dimension: string): asserts dimension is TalkerDimension {
  if (!(TALKER_DIMENSIONS as readonly string[]).includes(dimension)) throw usage(`dimension must be one of ${TALKER_DIMENSIONS.join(', ')}, not "${dimension}"`);
}

function checkScope(scope: string | undefined): TalkerScope | '' {
  if (!scope) return '';
  if (!(TALKER_SCOPES as readonly string[]).includes(scope)) throw usage(`scope must be internet or lan, not "${scope}"`, 'leave it out for all traffic');
  return scope as TalkerScope;
}

function checkLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw usage(`limit must be a whole number from 1 to ${max}, not "${limit}"`);
  return limit;
}

const DAY_HOURS = 24;

/** One key's sums from talker_hour or talker_day. */
type SumRow = { key: string; bu: number; bd: number; pu: number; pd: number; c: number; label: string | null };
const SUMS = 'sum(bytes_up) AS bu, sum(bytes_down) AS bd, sum(packets_up) AS pu, sum(packets_down) AS pd, sum(connections) AS c';

/**
 * Top talkers of a dimension over whole UTC hours covering [from, to): whole
 * UTC days that are rolled up come from talker_day (a year is 365 × (N + 1)
 * rows instead of 8760 × (N + 1)), the hours around them and of days not
 * rolled up (today, the hours the writer holds) from talker_hour and memory.
 */
export function topTalkers(src: Source, q: TopQuery): TopTalkers {
  checkDimension(q.dimension);
  const set = talkerSet(q.dimension, checkScope(q.scope));
  const direction = talkerDirection(q.direction);
  const limit = checkLimit(q.limit, 10, MAX_TOP_LIMIT);
  const range = parseRange(q.from, q.to, src.now, q.params);
  const from = range.from!, to = range.to!;
  const h0 = Math.floor(from / HOUR_MS), h1 = Math.ceil(to / HOUR_MS);
  const entries: TalkerMap = new Map();
  const add = (rows: SumRow[]) => {
    for (const r of rows) {
      const c: TalkerCounts = { bytesUp: r.bu, bytesDown: r.bd, packetsUp: r.pu, packetsDown: r.pd, sessions: 0, newSessions: r.c };
      if (r.label !== null) c.label = r.label;
      addToMap(entries, r.key, c);
    }
  };
  // the writer holds its current hour(s) whole: those come from memory, the rest from the database
  const held = src.pending ? [...src.pending.hours.keys()].filter((h) => h >= h0 && h < h1) : [];
  const heldDays = new Set(held.map((h) => Math.floor(h / DAY_HOURS)));
  const d0 = Math.ceil(h0 / DAY_HOURS), d1 = Math.floor(h1 / DAY_HOURS);
  const days = d1 > d0
    ? (src.db.prepare(`SELECT day FROM talker_day_done WHERE day >= ? AND day < ? ORDER BY day`).all(d0, d1) as Array<{ day: number }>)
      .map((r) => r.day).filter((d) => !heldDays.has(d))
    : [];
  if (days.length) {
    add(src.db.prepare(
      `SELECT key, ${SUMS}, max(day) AS last, label FROM talker_day
       WHERE dimension = ? AND day >= ? AND day < ? AND day IN (SELECT value FROM json_each(?)) GROUP BY key`)
      .all(set, days[0], days.at(-1)! + 1, JSON.stringify(days)) as SumRow[]);
  }
  // the hours outside those days, as runs of consecutive hours (each a range read of the primary key)
  const byHour = src.db.prepare(
    `SELECT key, ${SUMS}, max(hour) AS last, label
     FROM talker_hour WHERE dimension = ? AND hour >= ? AND hour < ? AND hour NOT IN (SELECT value FROM json_each(?)) GROUP BY key`);
  let next = h0;
  for (const run of [...days.map((d) => [d * DAY_HOURS, (d + 1) * DAY_HOURS] as const), [h1, h1] as const]) {
    if (run[0] > next) add(byHour.all(set, next, run[0], JSON.stringify(held)) as SumRow[]);
    next = run[1];
  }
  for (const hour of held) {
    for (const [k, a] of src.pending!.hours.get(hour)!.get(set) ?? []) addToMap(entries, k, a);
  }
  return { dimension: q.dimension, from: h0 * HOUR_MS, to: h1 * HOUR_MS, ...cutTop(oneDirection(entries, direction), limit) };
}

/** Top talkers of the last flush window, as the running flowlens wrote them; null when none was written. */
export function liveTop(src: Source, q: { dimension: TalkerDimension; scope?: TalkerScope | ''; direction?: string; limit?: number }): LiveTop | null {
  checkDimension(q.dimension);
  const set = talkerSet(q.dimension, checkScope(q.scope));
  const direction = talkerDirection(q.direction);
  const limit = checkLimit(q.limit, 10, MAX_TOP_LIMIT);
  const row = src.db.prepare(`SELECT at, body FROM live WHERE kind = 'talkers'`).get() as { at: number; body: string } | undefined;
  if (!row) return null;
  const body = JSON.parse(row.body) as { from: number; to: number; talkers: Partial<Record<TalkerSet, Array<[string, Partial<TalkerCounts> & { connections?: number }]>>> };
  // a snapshot written before the talker counts were one type has `connections` for newSessions
  const entries = (body.talkers[set] ?? []).map(([k, a]): [string, TalkerCounts] => [k, { ...zeroCounts(), ...a, newSessions: a.newSessions ?? a.connections ?? 0 }]);
  return { dimension: q.dimension, from: body.from, to: body.to, ...cutTop(oneDirection(entries, direction), limit) };
}
