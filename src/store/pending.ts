/**
 * Counts added since the last flush, held in memory: per-minute traffic,
 * per-hour talkers and ended sessions. A flush writes them as additive deltas
 * and clears them only after the transaction commits, so a crash loses at most
 * this part and nothing is written twice.
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

const isCount = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export class Pending {
  /** Key: minute|iface|direction|scope. */
  readonly traffic = new Map<string, TrafficDelta>();
  /** hour (UTC epoch hour) → dimension → key → counts. */
  readonly talkers = new Map<number, Map<TalkerDimension, TalkerMap>>();
  readonly sessions: SessionRecord[] = [];
  /** Wall-clock span of the intervals added since the last flush (the live window). */
  windowStart = Infinity;
  windowEnd = -Infinity;

  constructor(private readonly keysLimit: number) {}

  get empty(): boolean {
    return this.traffic.size === 0 && this.talkers.size === 0 && this.sessions.length === 0;
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
    let dims = this.talkers.get(hour);
    if (!dims) this.talkers.set(hour, (dims = new Map()));
    for (const dim of TALKER_DIMENSIONS) {
      const rows = stats.talkers[dim];
      if (!rows?.length) continue;
      let m = dims.get(dim);
      if (!m) dims.set(dim, (m = new Map()));
      for (const r of rows) addRow(m, r);
      if (m.size > this.keysLimit) foldSmallest(m, Math.floor(this.keysLimit / 2));
    }
    if (dims.size === 0) this.talkers.delete(hour);
    for (const s of stats.endedSessions) this.sessions.push(s);
    if (stats.start < this.windowStart) this.windowStart = stats.start;
    if (stats.end > this.windowEnd) this.windowEnd = stats.end;
  }

  clear(): void {
    this.traffic.clear();
    this.talkers.clear();
    this.sessions.length = 0;
    this.windowStart = Infinity;
    this.windowEnd = -Infinity;
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

/** Keeps the `keep` largest keys (and "other"), summing the rest into "other". */
export function foldSmallest(m: TalkerMap, keep: number): void {
  const ranked = [...m.entries()].filter(([k]) => k !== OTHER_KEY).sort((a, b) => byBytes(a, b));
  if (ranked.length <= keep) return;
  let other = m.get(OTHER_KEY);
  if (!other) m.set(OTHER_KEY, (other = emptyAcc()));
  for (const [k, a] of ranked.slice(keep)) {
    const { label: _label, ...counts } = a;
    addAcc(other, counts);
    m.delete(k);
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
    if (!isCount(r.bytes) || !isCount(r.packets) || (r.direction !== 'up' && r.direction !== 'down') || typeof r.iface !== 'string') {
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
