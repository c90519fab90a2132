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
import type { LiveSession as Session, LiveSessions } from '../flows/live.js';
import { TALKER_DIMENSIONS, TALKER_SCOPES, talkerSet, type IntervalStats, type TalkerDimension, type TalkerRow, type TalkerScope, type TalkerSet, type TrafficScope, type UpDown } from '../flows/types.js';
import { addCounts, addNumbers, addToMap, cutTop, OTHER_KEY, RANKED_ROWS, zeroCounts, type TalkerCounts, type TalkerMap } from '../flows/talkers.js';
import { matches, needsLabelsOrAddresses, prepare, protocolsNamed } from '../flows/session-filter.js';
import type { SessionFilter, TalkerTotal } from '../store/types.js';
import { FlowlensError } from '../errors.js';
import { oneDirection, type TalkerDirection } from '../store/direction.js';

export const LIVE_SORTS = ['bytes', 'packets', 'rate', 'firstSeen', 'lastSeen'] as const;
export type LiveSort = (typeof LIVE_SORTS)[number];


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

/** A live talker has the shape of a stored one (store/types.ts), so both answer one API message. */
export type LiveTalker = TalkerTotal;

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

/** A sessions page's query, checked (LiveQuery.sessions). */
interface PageQuery {
  p: ReturnType<typeof prepare>;
  sort: LiveSort;
  limit: number;
  cursor: ReturnType<typeof decodeCursor> | null;
}
/** Distinct pages kept per snapshot (past it the cache starts again: a crawler of many pages costs what it did). */
const MAX_CACHED_PAGES = 64;
/** prepareAhead makes the new snapshot and pages while a page was asked within this long. */
const PREPARE_AHEAD_MS = 10_000;
/** The pages prepareAhead makes again, at most: the ones asked last (a dashboard asks one or two). */
const PAGES_AHEAD = 4;
/** Talker rows kept per dimension and interval (an interval's ranked rows); smaller ones are summed into "other". */
const KEEP_PER_INTERVAL = RANKED_ROWS;
export const MAX_WINDOW_SECONDS = 300;
export const MAX_REALTIME_SECONDS = 300;

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);

interface KeptInterval {
  start: number;
  end: number;
  /** Per dimension (and dimension × scope: "host@internet"), the interval's largest rows. */
  rows: Partial<Record<TalkerSet, TalkerRow[]>>;
  /** The rows beyond KEEP_PER_INTERVAL summed. */
  other: Partial<Record<TalkerSet, TalkerCounts>>;
}

/** Where the previous page ended: [sort, value, seq] (LiveSession.seq). */
type Cursor = [LiveSort, number, number];

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(text: string, sort: LiveSort): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString()) as Cursor;
    if (Array.isArray(c) && c.length === 3 && c[0] === sort && typeof c[1] === 'number' && typeof c[2] === 'number') return c;
  } catch { /* reported below */ }
  throw usage('cursor is not one this query returned', 'pass nextCursor of the previous page unchanged, with the same sort');
}

/**
 * A binary min-heap of the best rows so far (indexes into the snapshot): the
 * root is the worst kept, replaced by anything better. A row that is not
 * better than the root costs one comparison and no allocation.
 */
class BestRows {
  private readonly items: { value: number; i: number }[] = [];
  constructor(private readonly capacity: number) {}

  /** True when row a sorts before row b in the page order (larger value first, then the later begun: a number, not the id's text). */
  private before(a: { value: number; i: number }, b: { value: number; i: number }): boolean {
    return a.value !== b.value ? a.value > b.value : this.seqs![a.i]! > this.seqs![b.i]!;
  }

  private seqs: Float64Array | undefined;

  offer(value: number, i: number, seqs: Float64Array): void {
    this.seqs = seqs;
    const h = this.items;
    if (h.length < this.capacity) {
      h.push({ value, i });
      let c = h.length - 1;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (!this.before(h[parent]!, h[c]!)) break; // parent is not better: heap holds
        [h[parent], h[c]] = [h[c]!, h[parent]!];
        c = parent;
      }
      return;
    }
    const root = h[0]!;
    if (value < root.value || (value === root.value && seqs[i]! <= seqs[root.i]!)) return;
    // the root's slot is reused: no allocation per row that makes the page
    root.value = value;
    root.i = i;
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      const r = l + 1;
      let worst = c;
      if (l < h.length && this.before(h[worst]!, h[l]!)) worst = l;
      if (r < h.length && this.before(h[worst]!, h[r]!)) worst = r;
      if (worst === c) break;
      [h[worst], h[c]] = [h[c]!, h[worst]!];
      c = worst;
    }
  }

  sorted(): { value: number; i: number }[] {
    return [...this.items].sort((a, b) => (this.before(a, b) ? -1 : this.before(b, a) ? 1 : 0));
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
  /**
   * The pages answered from the current snapshot, by query: dashboards poll
   * the same page many times an interval, and at 100k sessions each scan was
   * ~2 ms of the event loop. Emptied with every new snapshot.
   */
  private pageCache = new Map<string, { page: LiveSessionPage; query: PageQuery }>();
  /** When a sessions page was last asked (Date.now()): add() and prepareAhead work ahead only while pages are asked. */
  private askedAt = -Infinity;
  /** The pages of the snapshot before, for prepareAhead to make again (add() keeps them). */
  private ahead: Array<[string, { page: LiveSessionPage; query: PageQuery }]> = [];
  /** Per-second rings of RING_SECONDS slots; slotSecond says which second a slot holds. */
  private readonly ringSeconds = MAX_REALTIME_SECONDS + 2;
  private readonly slotSecond = new Float64Array(this.ringSeconds).fill(-1);
  private readonly series = new Map<string, SeriesRing>();
  private snap: Snapshot | undefined;
  /** The columns of the latest snapshot, filled again in place by the next (a snapshot of 500k sessions is 36 MB: made anew every interval, it was a fifth of a gateway's GC). */
  private columns: Snapshot | undefined;

  constructor(private readonly source: LiveSessions) {}

  /** The latest interval's stats (undefined before the first). */
  get last(): IntervalStats | undefined {
    return this.latest;
  }

  /** Takes one interval: its talkers into the window ring, its traffic into the per-second rates. */
  add(stats: IntervalStats): void {
    this.snap = undefined;
    this.ahead = [];
    if (stats.end <= stats.start) return; // the shutdown hand-over of ended sessions: no traffic, no time
    this.latest = stats;
    this.topCache = new Map();
    const rows = {} as KeptInterval['rows'];
    const other = {} as KeptInterval['other'];
    // with no LAN traffic the internet rows are all traffic's very rows: cut once, kept under both names
    const cuts = new Map<TalkerRow[], { rows: TalkerRow[]; other: TalkerCounts }>();
    const keep = (set: TalkerSet, all: TalkerRow[] | undefined) => {
      if (!all) return;
      let cut = cuts.get(all);
      if (!cut) {
        const o = zeroCounts();
        for (let i = KEEP_PER_INTERVAL; i < all.length; i++) addNumbers(o, all[i]!);
        cuts.set(all, (cut = { rows: all.length > KEEP_PER_INTERVAL ? all.slice(0, KEEP_PER_INTERVAL) : all, other: o }));
      }
      rows[set] = cut.rows;
      other[set] = cut.other;
    };
    for (const dim of TALKER_DIMENSIONS) {
      keep(dim, stats.talkers[dim]);
      for (const scope of TALKER_SCOPES) keep(talkerSet(dim, scope), stats.scopedTalkers?.[scope][dim]);
    }
    this.kept.push({ start: stats.start, end: stats.end, rows, other });
    const horizon = stats.end - MAX_WINDOW_SECONDS * 1000;
    while (this.kept.length > 1 && this.kept[0]!.end <= horizon) this.kept.shift();
    this.addRates(stats);
    // while pages are asked, the new snapshot now, in this turn: an ask between it and
    // prepareAhead's turn would make it itself (a third of the intervals on a gateway did)
    if (Date.now() - this.askedAt <= PREPARE_AHEAD_MS) {
      const asked = [...this.pageCache].slice(-PAGES_AHEAD);
      this.snapshot();
      this.ahead = asked;
    }
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
  top(dimension: TalkerDimension, windowSeconds: number, limit = 10, scope: TalkerScope | '' = '', direction: TalkerDirection | '' = ''): LiveTop {
    if (!(TALKER_DIMENSIONS as readonly string[]).includes(dimension)) {
      throw usage(`dimension must be one of ${TALKER_DIMENSIONS.join(', ')}, not "${dimension}"`);
    }
    if (scope && !(TALKER_SCOPES as readonly string[]).includes(scope)) throw usage(`scope must be internet or lan, not "${scope}"`, 'leave it out for all traffic');
    const set = talkerSet(dimension, scope);
    if (!Number.isInteger(windowSeconds) || windowSeconds < 0 || windowSeconds > MAX_WINDOW_SECONDS) {
      throw usage(`window must be a whole number of seconds from 1 to ${MAX_WINDOW_SECONDS}, not ${windowSeconds}`);
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw usage(`limit must be a whole number from 1 to ${MAX_PAGE}, not ${limit}`);
    const cacheKey = `${set}|${windowSeconds}|${limit}|${direction}`;
    const cached = this.topCache.get(cacheKey);
    if (cached) return cached;
    const latest = this.kept.at(-1);
    if (!latest) return { dimension, from: 0, to: 0, ...cutTop([], limit) };
    const horizon = latest.end - windowSeconds * 1000;
    const within = windowSeconds === 0 ? [latest] : this.kept.filter((k) => k.end > horizon);
    const byKey: TalkerMap = new Map();
    const folded = zeroCounts();
    for (const k of within) {
      for (const r of k.rows[set] ?? []) addToMap(byKey, r.key, r);
      const o = k.other[set];
      if (o) addCounts(folded, o);
    }
    byKey.set(OTHER_KEY, folded);
    const { rows, other, total } = cutTop(oneDirection(byKey, direction), limit);
    const answer: LiveTop = { dimension, from: within[0]!.start, to: latest.end, rows, other, total };
    this.topCache.set(cacheKey, answer);
    return answer;
  }

  /**
   * The sessions as columns, built once per interval (on the first query after
   * it): a query then scans typed arrays instead of 100k objects, and touches a
   * Session only for the filters that need its labels or addresses.
   */
  private snapshot(): Snapshot {
    const src = this.source;
    const snap = this.snap;
    if (snap && snap.interval === src.intervals && snap.count === src.size) return snap;
    const n = src.size;
    const seconds = this.latest ? Math.max((this.latest.end - this.latest.start) / 1000, 0.001) : 1;
    const ifaces = new Map<string, number>();
    let out = this.columns;
    if (!out || out.seq.length < n) {
      // room to grow: a table that grows by a few sessions an interval is not made again each time
      const c = Math.ceil(n * 1.25) + 64;
      out = this.columns = {
        interval: 0, count: 0, sessions: [], ifaces,
        seq: new Float64Array(c), bytes: new Float64Array(c), packets: new Float64Array(c), rate: new Float64Array(c), firstSeen: new Float64Array(c), lastSeen: new Float64Array(c),
        rateUp: new Float64Array(c), rateDown: new Float64Array(c),
        localPort: new Uint16Array(c), remotePort: new Uint16Array(c), protocol: new Uint8Array(c), internet: new Uint8Array(c), iface: new Uint16Array(c),
      };
    }
    out.interval = src.intervals;
    out.count = n;
    out.ifaces = ifaces;
    // cut to this table's size: an ended session is not kept alive by a slot past its end
    out.sessions.length = n;
    let i = 0;
    // the columns as constants, and the interface of the session before (most share one): no
    // property or Map lookup per session that the loop can do without
    const { sessions, seq, bytes, packets, rateUp, rateDown, rate, firstSeen, lastSeen, localPort, remotePort, protocol, internet, iface } = out;
    let lastIface: string | undefined, lastIdx = 0;
    src.forEach((s) => {
      sessions[i] = s;
      seq[i] = s.seq;
      bytes[i] = s.bytesUp + s.bytesDown;
      packets[i] = s.packetsUp + s.packetsDown;
      const up = src.latestBytesUp(s) / seconds, down = src.latestBytesDown(s) / seconds;
      rateUp[i] = up;
      rateDown[i] = down;
      rate[i] = up + down;
      firstSeen[i] = s.firstSeen;
      lastSeen[i] = s.lastSeen;
      localPort[i] = s.localPort;
      remotePort[i] = s.remotePort;
      protocol[i] = s.protocol;
      internet[i] = s.scope === 'internet' ? 1 : 0;
      if (s.iface !== lastIface) {
        let idx = ifaces.get(s.iface);
        if (idx === undefined) { idx = ifaces.size; ifaces.set(s.iface, idx); }
        lastIface = s.iface;
        lastIdx = idx;
      }
      iface[i] = lastIdx;
      i++;
    });
    this.snap = out;
    this.pageCache = new Map();
    return out;
  }

  /** A page of active sessions, largest (or latest) first. */
  sessions(q: LiveSessionQuery = {}): LiveSessionPage {
    const sort = q.sort ?? 'bytes';
    if (!(LIVE_SORTS as readonly string[]).includes(sort)) throw usage(`sort must be one of ${LIVE_SORTS.join(', ')}, not "${sort}"`);
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw usage(`limit must be a whole number from 1 to ${MAX_PAGE}, not ${limit}`);
    const query: PageQuery = { p: prepare(q.filter), sort, limit, cursor: q.cursor ? decodeCursor(q.cursor, sort) : null };
    this.askedAt = Date.now();
    const snap = this.snapshot();
    const cacheKey = JSON.stringify([sort, limit, q.cursor ?? '', q.filter ?? {}]);
    const cached = this.pageCache.get(cacheKey);
    if (cached) return cached.page;
    const page = this.scan(snap, query);
    if (this.pageCache.size >= MAX_CACHED_PAGES) this.pageCache.clear();
    this.pageCache.set(cacheKey, { page, query });
    return page;
  }

  /**
   * After add(), in a turn of its own (the API's rest of the interval's work):
   * while sessions pages are asked, add() makes the new interval's snapshot,
   * and this the pages asked last in the interval before, so that the first
   * ask after an interval does not wait for a copy and a scan of every
   * session (~20 ms at 100k sessions, most of the sessions page's p99 on a
   * gateway).
   */
  prepareAhead(): void {
    const asked = this.ahead;
    this.ahead = [];
    if (asked.length === 0) return;
    const snap = this.snapshot();
    for (const [key, { query }] of asked) {
      if (!this.pageCache.has(key)) this.pageCache.set(key, { page: this.scan(snap, query), query });
    }
  }

  /** One pass over the snapshot: the page of `limit` after `cursor`, and how many match in all. */
  private scan(snap: Snapshot, { p, sort, limit, cursor }: PageQuery): LiveSessionPage {
    const values = snap[sort];
    // the cheap column filters first; labels and addresses only for what passes them
    const ifaceIdx = p.iface === undefined ? -1 : snap.ifaces.get(p.iface) ?? -2;
    const protocols = typeof p.protocol === 'string' ? protocolsNamed(p.protocol) : typeof p.protocol === 'number' ? new Set([p.protocol]) : null;
    const port = p.port ?? -1;
    const internet = p.scope === undefined ? -1 : p.scope === 'internet' ? 1 : 0;
    const needsSession = needsLabelsOrAddresses(p);
    const best = new BestRows(limit + 1);
    let matched = 0;
    const n = snap.count;
    if (ifaceIdx !== -2) {
      // the latest begun first: a tie on the sort goes to the later begun, which is then already
      // kept, so the many tied rows of a gateway (one-packet flows) are refused at the root
      for (let i = n - 1; i >= 0; i--) {
        if (ifaceIdx >= 0 && snap.iface[i] !== ifaceIdx) continue;
        if (port >= 0 && snap.localPort[i] !== port && snap.remotePort[i] !== port) continue;
        if (internet >= 0 && snap.internet[i] !== internet) continue;
        if (protocols && !protocols.has(snap.protocol[i]!)) continue;
        if (needsSession && !matches(p, snap.sessions[i]!, snap.sessions[i]!.labels)) continue;
        matched++;
        const v = values[i]!;
        if (cursor && (v !== cursor[1] ? v > cursor[1] : snap.seq[i]! >= cursor[2])) continue; // on an earlier page
        best.offer(v, i, snap.seq);
      }
    }
    const kept = best.sorted();
    const page = kept.slice(0, limit);
    const last = page.at(-1);
    return {
      rows: page.map(({ i }) => ({ session: snap.sessions[i]!, rateUp: snap.rateUp[i]!, rateDown: snap.rateDown[i]! })),
      nextCursor: kept.length > limit && last ? encodeCursor([sort, last.value, snap.seq[last.i]!]) : null,
      matched,
      at: this.latest?.end ?? 0,
    };
  }
}


interface Snapshot {
  /** The processor's interval count it was built at. */
  interval: number;
  /** Sessions in it: the columns are longer (room to grow), only the first `count` are this snapshot's. */
  count: number;
  sessions: Session[];
  /** LiveSession.seq of each: the tie-break of every sort. */
  seq: Float64Array;
  ifaces: Map<string, number>;
  bytes: Float64Array;
  packets: Float64Array;
  rate: Float64Array;
  firstSeen: Float64Array;
  lastSeen: Float64Array;
  rateUp: Float64Array;
  rateDown: Float64Array;
  localPort: Uint16Array;
  remotePort: Uint16Array;
  protocol: Uint8Array;
  internet: Uint8Array;
  iface: Uint16Array;
}
