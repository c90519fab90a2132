/**
 * Counts held in memory between flushes: per-minute traffic deltas and ended
 * sessions (written as additive upserts / inserts, cleared only after the
 * transaction commits), and the talkers of the current hour(s) in full (written
 * as the hour's top N + "other", replacing the previous write). Either way a
 * crash loses at most what came after the last commit, and nothing is written
 * twice.
 */
import { TALKER_DIMENSIONS, type IntervalStats, type SessionRecord, type TalkerDimension, type TalkerRow, type TrafficScope, type UpDown } from '../flows/types.js';
import { FlowlensError } from '../errors.js';
import { HOUR_MS, MINUTE_MS } from './time.js';

export interface TrafficDelta {
  minute: number;
  iface: string;
  direction: UpDown;
  scope: TrafficScope;
  bytes: number;
  packets: number;
}

export interface TalkerAcc {
  label?: string;
  bytesUp: number;
  bytesDown: number;
  packetsUp: number;
  packetsDown: number;
  connections: number;
}

/** The key of the row that sums the keys not kept individually. */
export const OTHER_KEY = '';

export function emptyAcc(): TalkerAcc {
  return { bytesUp: 0, bytesDown: 0, packetsUp: 0, packetsDown: 0, connections: 0 };
}

export function addAcc(into: TalkerAcc, a: TalkerAcc): void {
  into.bytesUp += a.bytesUp;
  into.bytesDown += a.bytesDown;
  into.packetsUp += a.packetsUp;
  into.packetsDown += a.packetsDown;
  into.connections += a.connections;
  if (a.label !== undefined) into.label = a.label;
}

export type TalkerMap = Map<string, TalkerAcc>;

const SCOPES: readonly string[] = ['internet', 'lan', 'unknown'];
const isCount = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Loads what the database holds for an hour's talkers (after a restart, or for a late interval). */
export type HourLoader = (hour: number) => Map<TalkerDimension, TalkerMap>;

export class Pending {
  /** Key: minute|iface|direction|scope. Deltas since the last flush. */
  readonly traffic = new Map<string, TrafficDelta>();
  /**
   * hour (UTC epoch hour) → dimension → key → counts: the WHOLE hour so far, not a
   * delta. For an hour held here this is the authority; the database holds its
   * top N as of the last flush. Hours are dropped once finished and written.
   */
  readonly hours = new Map<number, Map<TalkerDimension, TalkerMap>>();
  /** Hours changed since the last flush. */
  readonly dirtyHours = new Set<number>();
  /** Talkers added since the last flush (the live window), per dimension. */
  readonly window = new Map<TalkerDimension, TalkerMap>();
  readonly sessions: SessionRecord[] = [];
  /** Wall-clock span of the intervals added since the last flush (the live window). */
  windowStart = Infinity;
  windowEnd = -Infinity;

  constructor(private readonly keysLimit: number, private readonly load: HourLoader) {}

  get empty(): boolean {
    return this.traffic.size === 0 && this.dirtyHours.size === 0 && this.sessions.length === 0;
  }

  /**
   * Adds one interval, attributed to the minute (and hour) of its last millisecond,
   * `end - 1`: an interval that ends exactly on a boundary belongs to the bucket
   * before it. Checks everything first, so a bad interval changes nothing.
   */
  add(stats: IntervalStats): void {
    validate(stats);
    const last = stats.end - 1;
    const minute = Math.floor(last / MINUTE_MS);
    const hour = Math.floor(last / HOUR_MS);
    // the hour may have to be read from the database: before anything is counted, so a failed read counts nothing
    const dims = TALKER_DIMENSIONS.some((d) => stats.talkers[d]?.length) ? this.hour(hour) : undefined;
    for (const r of stats.traffic) {
      if (r.bytes === 0 && r.packets === 0) continue;
      const k = `${minute}|${r.iface}|${r.direction}|${r.scope}`;
      const d = this.traffic.get(k);
      if (d) {
        d.bytes += r.bytes;
        d.packets += r.packets;
      } else {
        this.traffic.set(k, { minute, iface: r.iface, direction: r.direction, scope: r.scope, bytes: r.bytes, packets: r.packets });
      }
    }
    for (const dim of TALKER_DIMENSIONS) {
      const rows = stats.talkers[dim];
      if (!rows?.length || !dims) continue;
      let m = dims.get(dim);
      if (!m) dims.set(dim, (m = new Map()));
      let w = this.window.get(dim);
      if (!w) this.window.set(dim, (w = new Map()));
      for (const r of rows) {
        addRow(m, r);
        addRow(w, r);
      }
      if (m.size > this.keysLimit) foldSmallest(m, Math.floor(this.keysLimit / 2));
      if (w.size > this.keysLimit) foldSmallest(w, Math.floor(this.keysLimit / 2));
    }
    if (dims) this.dirtyHours.add(hour);
    for (const s of stats.endedSessions) this.sessions.push(s);
    if (stats.start < this.windowStart) this.windowStart = stats.start;
    if (stats.end > this.windowEnd) this.windowEnd = stats.end;
  }

  /** The state of an hour: held, or loaded from the database (what an earlier run wrote). */
  private hour(hour: number): Map<TalkerDimension, TalkerMap> {
    let dims = this.hours.get(hour);
    if (!dims) this.hours.set(hour, (dims = this.load(hour)));
    return dims;
  }

  /** After a committed flush: deltas cleared, hours that ended before `finishedBefore` dropped. */
  clear(finishedBefore: number): void {
    this.traffic.clear();
    this.dirtyHours.clear();
    this.window.clear();
    this.sessions.length = 0;
    this.windowStart = Infinity;
    this.windowEnd = -Infinity;
    for (const hour of this.hours.keys()) if (hour < finishedBefore) this.hours.delete(hour);
  }
}

function addRow(m: TalkerMap, r: TalkerRow): void {
  const a = m.get(r.key);
  if (a) {
    a.bytesUp += r.bytesUp;
    a.bytesDown += r.bytesDown;
    a.packetsUp += r.packetsUp;
    a.packetsDown += r.packetsDown;
    a.connections += r.newSessions;
    if (r.label !== undefined) a.label = r.label;
  } else {
    m.set(r.key, { label: r.label, bytesUp: r.bytesUp, bytesDown: r.bytesDown, packetsUp: r.packetsUp, packetsDown: r.packetsDown, connections: r.newSessions });
  }
}

/**
 * Keeps about the `keep` largest keys (and "other"), summing the rest into
 * "other". Finds the cut-off with a typed-array sort of the byte counts: a string
 * sort of 100k entries would stall the event loop for most of a second.
 */
export function foldSmallest(m: TalkerMap, keep: number): void {
  if (m.size <= keep) return;
  const bytes = new Float64Array(m.size);
  let i = 0;
  for (const a of m.values()) bytes[i++] = a.bytesUp + a.bytesDown;
  bytes.sort();
  const threshold = bytes[bytes.length - keep];
  let other = m.get(OTHER_KEY);
  if (!other) m.set(OTHER_KEY, (other = emptyAcc()));
  const o = other;
  const fold = (k: string, a: TalkerAcc) => {
    o.bytesUp += a.bytesUp;
    o.bytesDown += a.bytesDown;
    o.packetsUp += a.packetsUp;
    o.packetsDown += a.packetsDown;
    o.connections += a.connections;
    m.delete(k);
  };
  for (const [k, a] of m) if (k !== OTHER_KEY && a.bytesUp + a.bytesDown < threshold) fold(k, a);
  // many keys equal to the threshold: fold some of those too
  for (const [k, a] of m) {
    if (m.size <= keep + 1) break;
    if (k !== OTHER_KEY && a.bytesUp + a.bytesDown === threshold) fold(k, a);
  }
}

/** Bytes descending, then key ascending: the one order of talkers everywhere. */
export function byBytes(a: [string, TalkerAcc], b: [string, TalkerAcc]): number {
  const d = b[1].bytesUp + b[1].bytesDown - (a[1].bytesUp + a[1].bytesDown);
  return d !== 0 ? d : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function validate(s: IntervalStats): void {
  const bad = (what: string) => new FlowlensError('FLOW_ERR_STORE', `history: refused an interval with ${what}`,
    'this is a bug in flowlens: please report it with the interval\'s JSON');
  if (!Number.isFinite(s.start) || !Number.isFinite(s.end) || s.end <= 0 || s.start > s.end) throw bad(`start ${s.start} / end ${s.end}`);
  for (const r of s.traffic) {
    if (!isCount(r.bytes) || !isCount(r.packets) || (r.direction !== 'up' && r.direction !== 'down') || !SCOPES.includes(r.scope) || typeof r.iface !== 'string' || r.iface === '') {
      throw bad(`a traffic row ${JSON.stringify(r)}`);
    }
  }
  for (const dim of TALKER_DIMENSIONS) {
    for (const r of s.talkers[dim] ?? []) {
      if (typeof r.key !== 'string' || !isCount(r.bytesUp) || !isCount(r.bytesDown) || !isCount(r.packetsUp) || !isCount(r.packetsDown) || !isCount(r.newSessions)) {
        throw bad(`a ${dim} talker row ${JSON.stringify(r)}`);
      }
    }
  }
}

/**
 * The `n` largest keys (byBytes order) and the sum of everything else, the
 * "other" entry included: a bounded heap, so a map of 100k keys costs no sort.
 */
export function topN(m: TalkerMap, n: number): { top: Array<[string, TalkerAcc]>; rest: TalkerAcc } {
  const heap: Array<[string, TalkerAcc]> = [];
  const rest = emptyAcc();
  const fold = (a: TalkerAcc) => {
    rest.bytesUp += a.bytesUp;
    rest.bytesDown += a.bytesDown;
    rest.packetsUp += a.packetsUp;
    rest.packetsDown += a.packetsDown;
    rest.connections += a.connections;
  };
  // heap[0] is the smallest kept entry: byBytes(x, heap[0]) < 0 means x ranks above it
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let worst = i;
      if (l < heap.length && byBytes(heap[l], heap[worst]) > 0) worst = l;
      if (r < heap.length && byBytes(heap[r], heap[worst]) > 0) worst = r;
      if (worst === i) return;
      [heap[i], heap[worst]] = [heap[worst], heap[i]];
      i = worst;
    }
  };
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (byBytes(heap[i], heap[parent]) <= 0) return;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  };
  for (const e of m) {
    if (e[0] === OTHER_KEY) { fold(e[1]); continue; }
    if (heap.length < n) { heap.push(e); up(heap.length - 1); continue; }
    if (n === 0 || byBytes(e, heap[0]) >= 0) { fold(e[1]); continue; }
    fold(heap[0][1]);
    heap[0] = e;
    down(0);
  }
  return { top: heap.sort(byBytes), rest };
}
