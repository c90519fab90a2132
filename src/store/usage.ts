/**
 * Billing cycles: how much of a cycle (from a start day of the month, in the
 * host's time zone) is used, what it will come to at the cycle's end, how much
 * of a cap that is, the 95th percentile of 5-minute rates (burstable / transit
 * billing), and who used it: per device, per destination, and per device ×
 * destination.
 *
 * What is exact and what is not:
 *  - used, per scope and direction: sums of the stored traffic (exact, as every
 *    history total);
 *  - the 95th percentile: over every 5-minute bucket of the cycle so far
 *    since flowlens began counting (quiet ones count as zero, as transit
 *    billing counts them; time before flowlens ran is unknown, not quiet), from the
 *    per-minute history; where that has been pruned (history.minuteDays), from
 *    the quarter-hour history, and the answer says which;
 *  - per device and per destination: the hourly talkers of the cycle (exact;
 *    keys beyond history.topN per hour are in "other");
 *  - device × destination: from the session log (sessions that ended in the
 *    cycle, and the largest active ones), each session counted whole in the
 *    cycle it ended in — a breakdown, not a bill.
 */
import { FlowlensError } from '../errors.js';
import type { TalkerScope } from '../flows/types.js';
import { dateRange, sumRange, topTalkers, type Source } from './queries.js';
import { DAY_MS, MINUTE_MS, QUARTER_MS, localDate, parseDateArg } from './time.js';
import type { TalkerTotal, Totals, TrafficFilter } from './types.js';

export interface BillingConfig {
  /** Day of the month a cycle starts on (1..28), at local midnight. */
  cycleStartDay: number;
  /** Bytes per cycle; undefined: no cap. */
  cap?: number;
  /** What counts against the cap: internet traffic only, or all. */
  capScope: 'internet' | 'all';
  capDirection: 'both' | 'up' | 'down';
}

export const DEFAULT_BILLING: BillingConfig = { cycleStartDay: 1, capScope: 'internet', capDirection: 'both' };

export interface UsageQuery {
  /** 0: the current cycle, -1: the one before, ... */
  cycle?: number;
  /** Instead of `cycle`: the cycle that contains this local date (YYYY-MM-DD, today, ...). */
  date?: string;
  /** Rows of each breakdown (default 10). */
  limit?: number;
}

export interface UsageRow {
  key: string;
  label?: string;
  bytesUp: number;
  bytesDown: number;
  bytes: number;
}

export interface Usage {
  cycle: { index: number; start: number; end: number; from: string; to: string; complete: boolean };
  /** The part of the cycle counted so far: [start, min(now, end)). */
  countedUntil: number;
  /** Where history of the cycle begins (the cycle's start, or later when flowlens began counting later): rates and percentiles are over [observedFrom, countedUntil). */
  observedFrom: number;
  all: Totals;
  internet: Totals;
  lan: Totals;
  /** Bytes that count against the cap (capScope × capDirection). */
  counted: number;
  cap: number | null;
  capScope: BillingConfig['capScope'];
  capDirection: BillingConfig['capDirection'];
  /** counted / cap (null without a cap). */
  capShare: number | null;
  /** counted at the cycle's end at the rate of the last 7 days (or of the cycle so far, if shorter). */
  projected: number;
  projectedShare: number | null;
  daysLeft: number;
  /** 95th percentile of 5-minute rates of the capScope traffic, per direction, in bits per second. */
  p95: { upBitsPerSecond: number; downBitsPerSecond: number; billedBitsPerSecond: number; samples: number; resolution: '5min' | '15min' };
  devices: UsageRow[];
  destinations: UsageRow[];
  /** From the session log: device × destination. */
  pairs: Array<UsageRow & { device: string; destination: string }>;
}

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);
const FIVE_MIN = 5 * MINUTE_MS;
const MAX_PAST_CYCLES = 1200;

export function checkBilling(b: BillingConfig): void {
  if (!Number.isInteger(b.cycleStartDay) || b.cycleStartDay < 1 || b.cycleStartDay > 28) {
    throw usage(`billing.cycleStartDay must be a day from 1 to 28, not ${b.cycleStartDay}`, 'a later day would not exist in February');
  }
}

/** [start, end) of the cycle `index` cycles from the one containing `t` (local midnights). */
export function cycleBounds(t: number, day: number, index = 0): { start: number; end: number } {
  const d = new Date(t);
  let y = d.getFullYear();
  let m = d.getMonth();
  if (d.getDate() < day) m -= 1;
  m += index;
  return { start: new Date(y, m, day).getTime(), end: new Date(y, m + 1, day).getTime() };
}

/** The 95th percentile (nearest rank) of values: the smallest value at or above 95 % of them. */
export function percentile95(values: readonly number[]): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)]!;
}

export function cycleUsage(src: Source, billing: BillingConfig, q: UsageQuery = {}): Usage {
  checkBilling(billing);
  let index = q.cycle ?? 0;
  if (q.date !== undefined) {
    if (q.cycle !== undefined && q.cycle !== 0) throw usage('give a cycle number or a date, not both');
    const at = parseDateArg(q.date, 'date', 'start', src.now);
    const here = cycleBounds(src.now, billing.cycleStartDay).start;
    const there = cycleBounds(at, billing.cycleStartDay).start;
    const a = new Date(here), b = new Date(there);
    index = (b.getFullYear() - a.getFullYear()) * 12 + b.getMonth() - a.getMonth();
  }
  if (!Number.isInteger(index) || index > 0 || index < -MAX_PAST_CYCLES) throw usage(`cycle must be 0 (the current one) or a past one (-1, -2, ...), not ${q.date ?? q.cycle}`);
  const limit = q.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw usage(`limit must be a whole number from 1 to 1000, not ${q.limit}`);
  const { start, end } = cycleBounds(src.now, billing.cycleStartDay, index);
  const until = Math.min(end, Math.ceil(src.now / QUARTER_MS) * QUARTER_MS);
  const scopeFilter: TrafficFilter = billing.capScope === 'internet' ? { scope: 'internet' } : {};
  const all = sumRange(src, start, until);
  const internet = sumRange(src, start, until, { scope: 'internet' });
  const lan = sumRange(src, start, until, { scope: 'lan' });
  const basis = billing.capScope === 'internet' ? internet : all;
  const pick = (t: Totals) => (billing.capDirection === 'up' ? t.up : billing.capDirection === 'down' ? t.down : t.total);
  const counted = pick(basis);

  // what flowlens saw of the cycle: from its first counted quarter hour (a cycle it started in midway is not quiet before)
  const first = dateRange(src).firstTime;
  const observedFrom = Math.min(until, Math.max(start, first ?? until));
  // the recent rate: the last 7 days observed (all of them when fewer)
  const recentFrom = Math.max(observedFrom, until - 7 * DAY_MS);
  const recent = pick(sumRange(src, recentFrom, until, scopeFilter));
  const rate = until > recentFrom ? recent / (until - recentFrom) : 0;
  const projected = Math.round(counted + rate * Math.max(0, end - until));
  const cap = billing.cap ?? null;

  const p95 = rates95(src, observedFrom, until, billing.capScope === 'internet' ? 'internet' : undefined);
  const talkerScope: TalkerScope | '' = billing.capScope === 'internet' ? 'internet' : '';
  const rows = (dimension: 'host' | 'domain') => {
    const t = topTalkers(src, { dimension, scope: talkerScope, from: start, to: until, limit });
    return t.rows.map(row);
  };
  return {
    cycle: { index, start, end, from: localDate(start), to: localDate(end - 1), complete: src.now >= end },
    observedFrom,
    countedUntil: until,
    all, internet, lan, counted,
    cap, capScope: billing.capScope, capDirection: billing.capDirection,
    capShare: cap ? counted / cap : null,
    projected,
    projectedShare: cap ? projected / cap : null,
    daysLeft: Math.max(0, Math.ceil((end - src.now) / DAY_MS)),
    p95,
    devices: until > start ? rows('host') : [],
    destinations: until > start ? rows('domain') : [],
    pairs: pairs(src, start, end, billing.capScope, limit),
  };
}

function row(r: TalkerTotal): UsageRow {
  return { key: r.key, ...(r.label ? { label: r.label } : {}), bytesUp: r.bytesUp, bytesDown: r.bytesDown, bytes: r.bytes };
}

/** 5-minute (or, where minutes were pruned, 15-minute) rates over [from, to): their 95th percentile per direction. */
function rates95(src: Source, from: number, to: number, scope: 'internet' | undefined): Usage['p95'] {
  // per-minute rows reach back to `from` unless history.minuteDays pruned them: then their oldest
  // quarter hour is later than the quarter-hour history's (which is kept forever)
  const oldestMinute = (src.db.prepare(`SELECT min(minute) AS m FROM traffic_minute`).get() as { m: number | null }).m;
  const oldestQuarter = dateRange(src).firstTime;
  const minutesFrom = oldestMinute === null ? Infinity : Math.floor((oldestMinute * MINUTE_MS) / QUARTER_MS) * QUARTER_MS;
  const minutesCover = oldestMinute === null ? src.pending !== null : minutesFrom <= Math.max(from, oldestQuarter ?? from);
  const width = minutesCover || to <= from ? FIVE_MIN : QUARTER_MS;
  const n = Math.max(0, Math.ceil((to - from) / width));
  const up = new Float64Array(n);
  const down = new Float64Array(n);
  const add = (at: number, direction: string, bytes: number) => {
    const i = Math.floor((at - from) / width);
    if (i < 0 || i >= n) return;
    (direction === 'up' ? up : down)[i] += bytes;
  };
  const scopeSql = scope ? ` AND scope = ?` : '';
  const params = scope ? [scope] : [];
  if (width === FIVE_MIN) {
    const rows = src.db.prepare(`SELECT minute, direction, sum(bytes) AS bytes FROM traffic_minute WHERE minute >= ? AND minute < ?${scopeSql} GROUP BY minute, direction`)
      .all(from / MINUTE_MS, to / MINUTE_MS, ...params) as Array<{ minute: number; direction: string; bytes: number }>;
    for (const r of rows) add(r.minute * MINUTE_MS, r.direction, r.bytes);
  } else {
    const rows = src.db.prepare(`SELECT quarter, direction, sum(bytes) AS bytes FROM traffic_quarter WHERE quarter >= ? AND quarter < ?${scopeSql} GROUP BY quarter, direction`)
      .all(from / QUARTER_MS, to / QUARTER_MS, ...params) as Array<{ quarter: number; direction: string; bytes: number }>;
    for (const r of rows) add(r.quarter * QUARTER_MS, r.direction, r.bytes);
  }
  for (const d of src.pending?.traffic.values() ?? []) {
    if (scope && d.scope !== scope) continue;
    add(d.minute * MINUTE_MS, d.direction, d.bytes);
  }
  const bits = (bytes: number) => (bytes * 8) / (width / 1000);
  const upP = bits(percentile95([...up]));
  const downP = bits(percentile95([...down]));
  return { upBitsPerSecond: upP, downBitsPerSecond: downP, billedBitsPerSecond: Math.max(upP, downP), samples: n, resolution: width === FIVE_MIN ? '5min' : '15min' };
}

/** Device × destination (domain, else the remote address) from the sessions that ended in [from, to), and the largest active ones. */
function pairs(src: Source, from: number, to: number, capScope: BillingConfig['capScope'], limit: number): Usage['pairs'] {
  const byPair = new Map<string, { device: string; destination: string; up: number; down: number }>();
  const add = (local: string, remote: string, domain: string | null | undefined, scope: string, up: number, down: number) => {
    if (capScope === 'internet' && scope !== 'internet') return;
    const destination = domain || remote;
    const k = `${local}\u0000${destination}`;
    const p = byPair.get(k);
    if (p) { p.up += up; p.down += down; } else byPair.set(k, { device: local, destination, up, down });
  };
  const rows = src.db.prepare(
    `SELECT local, remote, domain, scope, sum(bytes_up) AS up, sum(bytes_down) AS down FROM session_log
     WHERE last_seen >= ? AND last_seen < ? GROUP BY local, remote, domain, scope`).all(from, to) as Array<{ local: string; remote: string; domain: string | null; scope: string; up: number; down: number }>;
  for (const r of rows) add(r.local, r.remote, r.domain, r.scope, r.up, r.down);
  for (const s of src.pending?.sessions ?? []) if (s.lastSeen >= from && s.lastSeen < to) add(s.local, s.remote, s.domain, s.scope, s.bytesUp, s.bytesDown);
  if (src.now >= from && src.now < to) {
    const live = src.db.prepare(`SELECT body FROM live WHERE kind = 'sessions'`).get() as { body: string } | undefined;
    for (const s of live ? (JSON.parse(live.body) as Array<{ local: string; remote: string; domain?: string; scope: string; bytesUp: number; bytesDown: number }>) : []) {
      add(s.local, s.remote, s.domain, s.scope, s.bytesUp, s.bytesDown);
    }
  }
  return [...byPair.values()]
    .map((p) => ({ key: `${p.device} → ${p.destination}`, device: p.device, destination: p.destination, bytesUp: p.up, bytesDown: p.down, bytes: p.up + p.down }))
    .sort((a, b) => b.bytes - a.bytes || (a.key < b.key ? -1 : 1))
    .slice(0, limit);
}
