/**
 * Live answers, from memory: the active sessions (filtered, sorted, paged with
 * an opaque cursor), the top talkers over a recent window, and per-second rates
 * of the last few minutes. Fed every interval (add), asked between intervals.
 *
 * Sessions are read in place from the flows stage's table (no record per
 * session unless it is on the page): one pass filters and keeps the best
 * `limit + 1` in a bounded heap, so a page of 100 out of 100k sessions costs one
 * scan, not a sort of all of them.
 *
 * Talkers: each interval's rows are kept per dimension, the largest
 * KEEP_PER_INTERVAL of them as they are and the rest summed into one "other"
 * row, so a window's totals stay exact while memory stays bounded.
 */
import type { Session } from '../flows/sessions.js';
import { TALKER_DIMENSIONS, type IntervalStats, type TalkerDimension, type TalkerRow, type TrafficScope, type UpDown } from '../flows/types.js';
import { prepare, type Prepared } from '../store/sessions.js';
import type { SessionFilter } from '../store/types.js';
import { FlowlensError } from '../errors.js';
import { protocolName } from '../net/protocols.js';

export const LIVE_SORTS = ['bytes', 'packets', 'rate', 'firstSeen', 'lastSeen'] as const;
export type LiveSort = (typeof LIVE_SORTS)[number];

/** What the live query needs of the flows stage (FlowProcessor). */
export interface LiveSessionSource {
  readonly sessions: Map<string, Session>;
  /** Intervals processed: sessions with `touched` equal to it had traffic in the latest one. */
  readonly intervals: number;
}

export interface LiveSessionQuery {
  filter?: SessionFilter;
  sort?: LiveSort;
  /** Default 100, at most MAX_PAGE. */
  limit?: number;
  cursor?: string;
}

export interface LiveSessionRow {
  session: Session;
  /** Bytes per second in the latest interval, each way (0 when it had no traffic then). */
  rateUp: number;
  rateDown: number;
}

export interface LiveSessionPage {
  rows: LiveSessionRow[];
  nextCursor: string | null;
  /** Sessions matching the filter, all pages. */
  matched: number;
  /** End of the latest interval (0 before the first). */
  at: number;
}

export interface LiveTalker {
  key: string;
  label?: string;
  bytesUp: number;
  bytesDown: number;
  bytes: number;
  packetsUp: number;
  packetsDown: number;
  connections: number;
}

export interface LiveTop {
  dimension: TalkerDimension;
  from: number;
  to: number;
  rows: LiveTalker[];
  other: LiveTalker;
  total: LiveTalker;
}

export interface RateSeries {
  iface: string;
  direction: UpDown;
  scope: TrafficScope;
  bytesPerSecond: number[];
  packetsPerSecond: number[];
}

export interface Realtime {
  /** Start (epoch ms) of each second, oldest first; the last is the latest complete second. */
  times: number[];
  series: RateSeries[];
}

export const MAX_PAGE = 10_000;
/** Talker rows kept per dimension and interval; smaller ones are summed into "other". */
const KEEP_PER_INTERVAL = 1000;
export const MAX_WINDOW_SECONDS = 300;
export const MAX_REALTIME_SECONDS = 300;

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);

function emptyTalker(key: string): LiveTalker {
  return { key, bytesUp: 0, bytesDown: 0, bytes: 0, packetsUp: 0, packetsDown: 0, connections: 0 };
}

function addRow(into: LiveTalker, r: TalkerRow): void {
  into.bytesUp += r.bytesUp;
  into.bytesDown += r.bytesDown;
  into.bytes += r.bytesUp + r.bytesDown;
  into.packetsUp += r.packetsUp;
  into.packetsDown += r.packetsDown;
  into.connections += r.newSessions;
}

function addTalker(into: LiveTalker, r: LiveTalker): void {
  into.bytesUp += r.bytesUp;
  into.bytesDown += r.bytesDown;
  into.bytes += r.bytes;
  into.packetsUp += r.packetsUp;
  into.packetsDown += r.packetsDown;
  into.connections += r.connections;
}

/** Largest bytes first, then key: the order of every talker list. */
function byBytes(a: LiveTalker, b: LiveTalker): number {
  return b.bytes - a.bytes || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

interface KeptInterval {
  start: number;
  end: number;
  rows: Record<TalkerDimension, TalkerRow[]>;
  other: Record<TalkerDimension, LiveTalker>;
}

/** Where the previous page ended: [sort, value, id]. */
type Cursor = [LiveSort, number, string];

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(text: string, sort: LiveSort): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString()) as Cursor;
    if (Array.isArray(c) && c.length === 3 && c[0] === sort && typeof c[1] === 'number' && typeof c[2] === 'string') return c;
  } catch { /* reported below */ }
  throw usage('cursor is not one this query returned', 'pass nextCursor of the previous page unchanged, with the same sort');
}

function matches(p: Prepared, s: Session): boolean {
  if (p.iface !== undefined && s.iface !== p.iface) return false;
  if (p.port !== undefined && s.localPort !== p.port && s.remotePort !== p.port) return false;
  if (p.scope !== undefined && s.scope !== p.scope) return false;
  if (typeof p.protocol === 'number' && s.protocol !== p.protocol) return false;
  if (typeof p.protocol === 'string' && protocolName(s.protocol) !== p.protocol) return false;
  if (p.addr && !p.addr.set.has(s.local) && !p.addr.set.has(s.remote)) return false;
  const l = s.labels;
  if (p.country !== undefined && (l.country ?? '').toUpperCase() !== p.country) return false;
  if (p.asn !== undefined && l.asn !== p.asn) return false;
  if (p.domain !== undefined) {
    const d = (l.domain ?? '').toLowerCase();
    if (d !== p.domain && !d.endsWith(`.${p.domain}`)) return false;
  }
  return true;
}

/** A binary min-heap of the best rows so far: the root is the worst kept, replaced by anything better. */
class BestRows {
  private readonly items: { value: number; id: string; s: Session }[] = [];
  constructor(private readonly capacity: number) {}

  /** True when a sorts before b in the page order (larger value first, then larger id). */
  private static before(a: { value: number; id: string }, b: { value: number; id: string }): boolean {
    return a.value !== b.value ? a.value > b.value : a.id > b.id;
  }

  offer(value: number, s: Session): void {
    const h = this.items;
    const item = { value, id: s.id, s };
    if (h.length < this.capacity) {
      h.push(item);
      let i = h.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!BestRows.before(h[parent]!, h[i]!)) break; // parent is not better: heap holds
        [h[parent], h[i]] = [h[i]!, h[parent]!];
        i = parent;
      }
      return;
    }
    if (this.capacity === 0 || !BestRows.before(item, h[0]!)) return;
    h[0] = item;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < h.length && BestRows.before(h[worst]!, h[l]!)) worst = l;
      if (r < h.length && BestRows.before(h[worst]!, h[r]!)) worst = r;
      if (worst === i) break;
      [h[worst], h[i]] = [h[i]!, h[worst]!];
      i = worst;
    }
  }

  sorted(): { value: number; id: string; s: Session }[] {
    return [...this.items].sort((a, b) => (BestRows.before(a, b) ? -1 : BestRows.before(b, a) ? 1 : 0));
  }
}

interface SeriesRing {
  iface: string;
  direction: UpDown;
  scope: TrafficScope;
  bytes: Float64Array;
  packets: Float64Array;
  /** The latest second this series had traffic in. */
  lastSecond: number;
}

export class LiveQuery {
  private readonly kept: KeptInterval[] = [];
  private latest: IntervalStats | undefined;
  private topCache = new Map<string, LiveTop>();
  /** Per-second rings of RING_SECONDS slots; slotSecond says which second a slot holds. */
  private readonly ringSeconds = MAX_REALTIME_SECONDS + 2;
  private readonly slotSecond = new Float64Array(this.ringSeconds).fill(-1);
  private readonly series = new Map<string, SeriesRing>();

  constructor(private readonly source: LiveSessionSource) {}

  /** The latest interval's stats (undefined before the first). */
  get last(): IntervalStats | undefined {
    return this.latest;
  }

  /** Takes one interval: its talkers into the window ring, its traffic into the per-second rates. */
  add(stats: IntervalStats): void {
    if (stats.end <= stats.start) return; // the shutdown hand-over of ended sessions: no traffic, no time
    this.latest = stats;
    this.topCache = new Map();
    const rows = {} as KeptInterval['rows'];
    const other = {} as KeptInterval['other'];
    for (const dim of TALKER_DIMENSIONS) {
      const all = stats.talkers[dim];
      rows[dim] = all.length > KEEP_PER_INTERVAL ? all.slice(0, KEEP_PER_INTERVAL) : all;
      const o = emptyTalker('');
      for (let i = KEEP_PER_INTERVAL; i < all.length; i++) addRow(o, all[i]!);
      other[dim] = o;
    }
    this.kept.push({ start: stats.start, end: stats.end, rows, other });
    const horizon = stats.end - MAX_WINDOW_SECONDS * 1000;
    while (this.kept.length > 1 && this.kept[0]!.end <= horizon) this.kept.shift();
    this.addRates(stats);
  }

  /** Spreads each traffic row over the seconds its interval covers, in proportion to the overlap. */
  private addRates(stats: IntervalStats): void {
    const duration = stats.end - stats.start;
    const firstSecond = Math.floor(stats.start / 1000);
    const lastSecond = Math.floor((stats.end - 1) / 1000);
    for (let sec = firstSecond; sec <= lastSecond; sec++) {
      const slot = sec % this.ringSeconds;
      if (this.slotSecond[slot] !== sec) {
        this.slotSecond[slot] = sec;
        for (const s of this.series.values()) { s.bytes[slot] = 0; s.packets[slot] = 0; }
      }
    }
    for (const row of stats.traffic) {
      const key = `${row.iface}|${row.direction}|${row.scope}`;
      let s = this.series.get(key);
      if (!s) {
        s = { iface: row.iface, direction: row.direction, scope: row.scope, bytes: new Float64Array(this.ringSeconds), packets: new Float64Array(this.ringSeconds), lastSecond: lastSecond };
        this.series.set(key, s);
      }
      s.lastSecond = lastSecond;
      for (let sec = firstSecond; sec <= lastSecond; sec++) {
        const overlap = Math.min(stats.end, (sec + 1) * 1000) - Math.max(stats.start, sec * 1000);
        const share = overlap / duration;
        const slot = sec % this.ringSeconds;
        s.bytes[slot] += row.bytes * share;
        s.packets[slot] += row.packets * share;
      }
    }
    for (const [key, s] of this.series) if (s.lastSecond < lastSecond - this.ringSeconds) this.series.delete(key);
  }

  /** Per-second rates of the last `seconds` complete seconds, one series per interface × direction × scope with traffic. */
  realtime(seconds = 30): Realtime {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_REALTIME_SECONDS) {
      throw usage(`seconds must be a whole number from 1 to ${MAX_REALTIME_SECONDS}, not ${seconds}`);
    }
    if (!this.latest) return { times: [], series: [] };
    const last = Math.floor(this.latest.end / 1000) - 1; // the second holding `end` is not complete
    const times: number[] = [];
    for (let sec = last - seconds + 1; sec <= last; sec++) times.push(sec * 1000);
    const series: RateSeries[] = [];
    for (const s of this.series.values()) {
      if (s.lastSecond < last - seconds + 1) continue;
      const bytesPerSecond: number[] = [];
      const packetsPerSecond: number[] = [];
      for (let sec = last - seconds + 1; sec <= last; sec++) {
        const slot = sec % this.ringSeconds;
        const here = this.slotSecond[slot] === sec;
        bytesPerSecond.push(here ? s.bytes[slot]! : 0);
        packetsPerSecond.push(here ? s.packets[slot]! : 0);
      }
      series.push({ iface: s.iface, direction: s.direction, scope: s.scope, bytesPerSecond, packetsPerSecond });
    }
    series.sort((a, b) => (a.iface < b.iface ? -1 : a.iface > b.iface ? 1 : 0) || (a.direction < b.direction ? -1 : a.direction > b.direction ? 1 : 0) || (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0));
    return { times, series };
  }

  /**
   * The largest talkers of a dimension over the last windowSeconds (0: the latest
   * interval alone), with "other" so that rows + other = total.
   */
  top(dimension: TalkerDimension, windowSeconds: number, limit = 10): LiveTop {
    if (!(TALKER_DIMENSIONS as readonly string[]).includes(dimension)) {
      throw usage(`dimension must be one of ${TALKER_DIMENSIONS.join(', ')}, not "${dimension}"`);
    }
    if (!Number.isInteger(windowSeconds) || windowSeconds < 0 || windowSeconds > MAX_WINDOW_SECONDS) {
      throw usage(`window must be a whole number of seconds from 1 to ${MAX_WINDOW_SECONDS}, not ${windowSeconds}`);
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw usage(`limit must be a whole number from 1 to ${MAX_PAGE}, not ${limit}`);
    const cacheKey = `${dimension}|${windowSeconds}|${limit}`;
    const cached = this.topCache.get(cacheKey);
    if (cached) return cached;
    const latest = this.kept.at(-1);
    if (!latest) {
      const none: LiveTop = { dimension, from: 0, to: 0, rows: [], other: emptyTalker(''), total: emptyTalker('') };
      return none;
    }
    const horizon = latest.end - windowSeconds * 1000;
    const within = windowSeconds === 0 ? [latest] : this.kept.filter((k) => k.end > horizon);
    const byKey = new Map<string, LiveTalker>();
    const total = emptyTalker('');
    const folded = emptyTalker('');
    for (const k of within) {
      for (const r of k.rows[dimension]) {
        let t = byKey.get(r.key);
        if (!t) {
          t = emptyTalker(r.key);
          byKey.set(r.key, t);
        }
        if (r.label && !t.label) t.label = r.label;
        addRow(t, r);
      }
      addTalker(folded, k.other[dimension]);
    }
    for (const t of byKey.values()) addTalker(total, t);
    addTalker(total, folded);
    const rows = [...byKey.values()].sort(byBytes).slice(0, limit);
    const other = emptyTalker('');
    addTalker(other, total);
    for (const r of rows) {
      other.bytesUp -= r.bytesUp; other.bytesDown -= r.bytesDown; other.bytes -= r.bytes;
      other.packetsUp -= r.packetsUp; other.packetsDown -= r.packetsDown; other.connections -= r.connections;
    }
    const answer: LiveTop = { dimension, from: within[0]!.start, to: latest.end, rows, other, total };
    this.topCache.set(cacheKey, answer);
    return answer;
  }

  /** A page of active sessions, largest (or latest) first. */
  sessions(q: LiveSessionQuery = {}): LiveSessionPage {
    const sort = q.sort ?? 'bytes';
    if (!(LIVE_SORTS as readonly string[]).includes(sort)) throw usage(`sort must be one of ${LIVE_SORTS.join(', ')}, not "${sort}"`);
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw usage(`limit must be a whole number from 1 to ${MAX_PAGE}, not ${limit}`);
    const p = prepare(q.filter);
    const cursor = q.cursor ? decodeCursor(q.cursor, sort) : null;
    const current = this.source.intervals;
    const seconds = this.latest ? Math.max((this.latest.end - this.latest.start) / 1000, 0.001) : 1;
    const value = sortValue(sort, current, seconds);
    const best = new BestRows(limit + 1);
    let matched = 0;
    for (const s of this.source.sessions.values()) {
      if (!matches(p, s)) continue;
      matched++;
      const v = value(s);
      if (cursor && (v !== cursor[1] ? v > cursor[1] : s.id >= cursor[2])) continue; // on an earlier page
      best.offer(v, s);
    }
    const kept = best.sorted();
    const page = kept.slice(0, limit);
    const last = page.at(-1);
    const rows = page.map(({ s }) => {
      const fresh = s.touched === current;
      return { session: s, rateUp: fresh ? s.dBytesUp / seconds : 0, rateDown: fresh ? s.dBytesDown / seconds : 0 };
    });
    return {
      rows,
      nextCursor: kept.length > limit && last ? encodeCursor([sort, last.value, last.id]) : null,
      matched,
      at: this.latest?.end ?? 0,
    };
  }
}

function sortValue(sort: LiveSort, current: number, seconds: number): (s: Session) => number {
  switch (sort) {
    case 'bytes': return (s) => s.bytesUp + s.bytesDown;
    case 'packets': return (s) => s.packetsUp + s.packetsDown;
    case 'rate': return (s) => (s.touched === current ? (s.dBytesUp + s.dBytesDown) / seconds : 0);
    case 'firstSeen': return (s) => s.firstSeen;
    case 'lastSeen': return (s) => s.lastSeen;
  }
}
