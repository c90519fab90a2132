/**
 * Counts held in memory between flushes: per-minute traffic deltas and ended
 * sessions (written as additive upserts / inserts, cleared only after the
 * transaction commits), and the talkers of the current hour(s) in full (written
 * as the hour's top N + "other", replacing the previous write). Either way a
 * crash loses at most what came after the last commit, and nothing is written
 * twice.
 */
import { TALKER_DIMENSIONS, TALKER_SCOPES, talkerSet, type IntervalStats, type SessionRecord, type TalkerDimension, type TalkerRow, type TalkerSet, type TrafficScope, type UpDown } from '../flows/types.js';
import { addCounts, addNumbers, foldSmallest, mergeMaps, OTHER_KEY, zeroCounts, type TalkerCounts, type TalkerMap } from '../flows/talkers.js';
import { TalkerSums } from '../flows/talker-sums.js';
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


/**
 * Keys of one hour and set kept whole in talker_hour_open at every flush;
 * past it (a busy gateway's remote addresses) the set is kept as its cut rows
 * only, and a kill -9 leaves its smaller keys' earlier bytes in "other" (the
 * totals stay exact). A clean stop keeps every key regardless.
 */
export const OPEN_KEYS_LIMIT = 10_000;

const SCOPES: readonly string[] = ['internet', 'lan', 'unknown'];
const isCount = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Loads what the database holds for an hour's talkers (after a restart, or for a late interval). */
export type HourLoader = (hour: number) => Map<TalkerSet, TalkerMap>;

export class Pending {
  /** Key: minute|iface|direction|scope. Deltas since the last flush. */
  readonly traffic = new Map<string, TrafficDelta>();
  /**
   * hour (UTC epoch hour) → dimension → key → counts: the WHOLE hour so far, not a
   * delta. For an hour held here this is the authority; the database holds its
   * top N as of the last flush. Hours are dropped once finished and written.
   */
  readonly hours = new Map<number, Map<TalkerSet, TalkerMap>>();
  /** Hours changed since the last flush. */
  readonly dirtyHours = new Set<number>();
  /**
   * Per held hour and set, the keys changed since the last flush, for the
   * hour's whole state in talker_hour_open (writer.ts writeOpenState): "all"
   * when the set must be written whole (the hour was just loaded, or keys were
   * folded into "other"), null when the set is past OPEN_KEYS_LIMIT and no
   * longer kept whole (a restart after kill -9 continues it from its cut rows).
   */
  readonly changedKeys = new Map<number, Map<TalkerSet, Set<string> | 'all' | null>>();
  /** Talkers added since the last flush (the live window), per dimension and per dimension × scope. Settled (settle()). */
  readonly window = new Map<TalkerSet, TalkerMap>();
  /**
   * The live window's sets taken whole from a settle, still as their sums
   * (a flush ranks them without a map made); a second settle in the same
   * window makes them maps in `window` first. A set is in one of the two.
   */
  readonly windowSums = new Map<TalkerSet, TalkerSums>();
  /** Per set, one TalkerSums done with (freshSums). */
  private readonly spareSums = new Map<TalkerSet, TalkerSums>();
  /**
   * hour → set → the counts added since the last settle(): not yet in `hours`
   * nor in `window`. Summed by the flows stage's key numbers (TalkerSums), made
   * a map per set only when settled.
   */
  private readonly unsettled = new Map<number, Map<TalkerSet, TalkerSums>>();
  readonly sessions: SessionRecord[] = [];
  /** A dimension's settle begun in slices (settleSlice), not yet done. */
  private slices: { d: TalkerDimension; steps: Generator<void, void, void> } | undefined;
  private changes = 0;
  /** Wall-clock span of the intervals added since the last flush (the live window). */
  windowStart = Infinity;
  windowEnd = -Infinity;

  constructor(private readonly keysLimit: number, private readonly load: HourLoader) {}

  /**
   * Counts up whenever the held hours or the live window change (a settle
   * with something to settle, a flush's clearCounts): rankings made from them
   * in earlier turns hold while it stays the same.
   */
  get version(): number {
    return this.changes;
  }

  get empty(): boolean {
    return this.traffic.size === 0 && this.dirtyHours.size === 0 && this.sessions.length === 0;
  }

  /**
   * Checks an interval as add() does, and reads its hour from the database
   * if needed: add() of it then refuses nothing (the store adds intervals
   * that come during a flush in turns after it).
   */
  admit(stats: IntervalStats): void {
    validate(stats);
    if (talkerRowsOf(stats).some(([, rows]) => rows?.length)) this.hour(Math.floor((stats.end - 1) / HOUR_MS));
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
    const sets = talkerRowsOf(stats);
    const dims = sets.some(([, rows]) => rows?.length) ? this.hour(hour) : undefined;
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
    if (dims) {
      let delta = this.unsettled.get(hour);
      if (!delta) this.unsettled.set(hour, (delta = new Map()));
      shareByRows(stats, delta, (set) => this.freshSums(set));
      let full = false;
      for (const [set, rows] of sets) {
        if (!rows?.length) continue;
        let m = delta.get(set);
        if (!m) delta.set(set, (m = this.freshSums(set)));
        // a set that shares its sums with all traffic's is counted with it
        const base = baseOf(set);
        if (base && delta.get(base) === m) continue;
        for (const r of rows) m.add(r);
        if (m.size > this.keysLimit) full = true;
      }
      this.dirtyHours.add(hour);
      if (full) this.settle();
    }
    for (const s of stats.endedSessions) this.sessions.push(s);
    if (stats.start < this.windowStart) this.windowStart = stats.start;
    if (stats.end > this.windowEnd) this.windowEnd = stats.end;
  }

  /**
   * Adds the counts that came since the last settle to the held hours and to
   * the live window. An interval is counted into one small map per set (its
   * hour's unsettled counts), not into the hour's and the window's maps both:
   * on a busy gateway most keys come back every interval, so the two large
   * maps see each key once per settle instead of once per interval. Anything
   * that reads the hours or the window settles first (the store's queries,
   * a flush); so does an add that takes a set past the keys limit.
   */
  settle(): void {
    for (const d of TALKER_DIMENSIONS) this.settleDimension(d);
    this.unsettled.clear();
  }

  /**
   * settle() of one dimension (its sets of every hour), at once; the
   * dimensions are independent. An interval added after it counts the
   * dimension's sets afresh.
   */
  private settleDimension(d: TalkerDimension): void {
    this.finishSlices();
    for (const _ of this.settleSteps(d));
  }

  /**
   * One slice of settleDimension(d), about SETTLE_SLICE_KEYS keys (the timer's
   * flush takes a slice a turn: at 100k remote addresses a dimension's merge
   * into the hour was a 60–380 ms turn). The first call begins it, with what
   * was added until then; true once the dimension is settled. Intervals added
   * between slices are counted aside and settled after; anything that settles
   * whole (a query, a flush, an add at the keys limit) finishes the slices first.
   */
  settleSlice(d: TalkerDimension): boolean {
    if (this.slices?.d !== d) {
      this.finishSlices();
      this.slices = { d, steps: this.settleSteps(d) };
    }
    if (!this.slices.steps.next().done) return false;
    this.slices = undefined;
    return true;
  }

  /** The rest of a settle begun in slices, at once. */
  private finishSlices(): void {
    const s = this.slices;
    if (!s) return;
    this.slices = undefined;
    for (const _ of s.steps);
  }

  /** settleDimension(d) as steps (a yield between slices of a merge). */
  private *settleSteps(d: TalkerDimension): Generator<void, void, void> {
    // the dimension's sums are taken out first: an interval added between slices counts into
    // sums of its own (shareByRows starts them as after a settle), settled after these
    const taken: Array<[number, Map<TalkerSet, TalkerSums>]> = [];
    for (const [hour, all] of this.unsettled) {
      const delta = new Map<TalkerSet, TalkerSums>();
      for (const set of TALKER_SETS_OF[d]) {
        const x = all.get(set);
        if (x) { delta.set(set, x); all.delete(set); }
      }
      if (all.size === 0) this.unsettled.delete(hour);
      if (delta.size > 0) taken.push([hour, delta]);
    }
    if (taken.length > 0) this.changes++;
    for (const [hour, delta] of taken) {
      const dims = this.hours.get(hour)!;
      const changed = this.changedKeys.get(hour)!;
      yield* settleInto(d, delta, dims, this.keysLimit, {
        merged: (set, from, into) => {
          const c = this.changedOf(hour, set, into.size + from.size);
          // "other" too: keys new to a full set are added to it (mergeWithin)
          if (c) { from.forEach((k) => c.add(k)); c.add(OTHER_KEY); }
        },
        unshared: (set) => {
          const c = changed.get(d);
          changed.set(set, c instanceof Set ? new Set(c) : c ?? new Set());
        },
        folded: (set) => { if (changed.get(set) !== null) changed.set(set, 'all'); },
      });
      // the live window takes the unsettled sums themselves while it has nothing of the dimension
      // (a flush emptied it): one merge of every key fewer per flush, and most settles are flushes
      if (TALKER_SETS_OF[d].some((set) => this.window.has(set) || this.windowSums.has(set))) {
        const windowTaken = sumsOfDimension(d, this.windowSums);
        mapsFromSums(d, this.windowSums, this.window);
        this.spare(windowTaken.entries());
        yield* settleInto(d, delta, this.window, this.keysLimit);
      } else adoptInto(d, delta, this.window, this.windowSums, this.keysLimit);
      // what the window did not take is done with: its arrays serve the next interval
      const kept = new Set(sumsOfDimension(d, this.windowSums).values());
      this.spare([...sumsOfDimension(d, delta)].filter(([, x]) => !kept.has(x)));
      // a shared set's open state is its base's: the same keys changed
      const c = changed.get(d);
      for (const scope of TALKER_SCOPES) {
        const set = talkerSet(d, scope);
        if (c !== undefined && dims.has(set) && dims.get(set) === dims.get(d)) changed.set(set, c);
      }
    }
  }

  /**
   * Sums to count a set's rows into: the set's own, done with and emptied,
   * when there is one (so a set of 500k keys gets arrays of its size back, and
   * a set of 3 keys small ones). At 500k keys, past the keys limit, a settle
   * comes every interval, and new sums grew 36 MB of arrays each time.
   */
  private freshSums(set: TalkerSet): TalkerSums {
    const x = this.spareSums.get(set);
    if (!x) return new TalkerSums();
    this.spareSums.delete(set);
    return x;
  }

  /** Sums nothing holds any more (settled, or the window flushed), by the set they were first of: emptied for freshSums. */
  private spare(done: Iterable<[TalkerSet, TalkerSums]>): void {
    for (const [set, x] of done) {
      // emptied even when not kept: what is done with holds nothing
      x.clear();
      if (!this.spareSums.has(set)) this.spareSums.set(set, x);
    }
  }

  /** The state of an hour: held, or loaded from the database (what an earlier run wrote). */
  private hour(hour: number): Map<TalkerSet, TalkerMap> {
    let dims = this.hours.get(hour);
    if (!dims) {
      this.hours.set(hour, (dims = this.load(hour)));
      // loaded sets are written whole at the next flush: from then on their changed keys suffice
      this.changedKeys.set(hour, new Map([...dims.keys()].map((d) => [d, 'all' as const])));
    }
    return dims;
  }

  /** The set of changed keys to add to (undefined: the set is written whole or not kept), marking a set past the limit. */
  private changedOf(hour: number, dim: TalkerSet, size: number): Set<string> | undefined {
    const sets = this.changedKeys.get(hour)!;
    const c = sets.get(dim);
    if (c === null) return undefined;
    if (size > OPEN_KEYS_LIMIT) { sets.set(dim, null); return undefined; }
    if (c === 'all') return undefined;
    if (c) return c;
    const fresh = new Set<string>();
    sets.set(dim, fresh);
    return fresh;
  }

  /** After the flush committed the open state: every kept set starts again from no changed keys. */
  private resetChangedKeys(): void {
    for (const sets of this.changedKeys.values()) for (const [dim, c] of sets) if (c !== null) sets.set(dim, new Set());
  }

  /** Traffic bytes and packets waiting to be written. */
  trafficPending(): { bytes: number; packets: number } {
    let bytes = 0, packets = 0;
    for (const d of this.traffic.values()) {
      bytes += d.bytes;
      packets += d.packets;
    }
    return { bytes, packets };
  }

  /**
   * Drops the oldest ended sessions beyond `limit` (the session log's memory
   * bound while it cannot be written); returns how many.
   */
  capSessions(limit: number): number {
    const over = this.sessions.length - limit;
    if (over <= 0) return 0;
    this.sessions.splice(0, over);
    return over;
  }

  /** After the counts committed: deltas cleared, hours that ended before `finishedBefore` dropped (sessions stay). */
  clearCounts(finishedBefore: number): void {
    this.changes++;
    this.traffic.clear();
    this.dirtyHours.clear();
    this.window.clear();
    for (const d of TALKER_DIMENSIONS) this.spare(sumsOfDimension(d, this.windowSums).entries());
    this.windowSums.clear();
    this.windowStart = Infinity;
    this.windowEnd = -Infinity;
    this.resetChangedKeys();
    for (const hour of this.hours.keys()) {
      if (hour < finishedBefore) {
        this.hours.delete(hour);
        this.changedKeys.delete(hour);
      }
    }
  }
}

/**
 * A scope with all of an interval's traffic gets all traffic's very rows from
 * the flows stage: internet's with no LAN traffic, LAN's with LAN traffic only
 * (a NAS). While that holds for a dimension, that scope's set shares the
 * all-traffic set's map instead of summing every row twice: half the
 * history's per-interval work and memory. The first interval whose rows
 * differ gets the scope's set a map of its own, a copy of the shared one,
 * before anything of it is counted. `maps`: an hour's unsettled counts.
 */
function shareByRows(stats: IntervalStats, maps: Map<TalkerSet, TalkerSums>, freshSums: (set: TalkerSet) => TalkerSums): void {
  for (const d of TALKER_DIMENSIONS) {
    // an interval may leave a dimension out (an older caller's JSON): no rows
    const rows = stats.talkers[d] ?? [];
    for (const scope of TALKER_SCOPES) {
      const set = talkerSet(d, scope);
      const scopedRows = stats.scopedTalkers?.[scope][d] ?? [];
      // no rows in either: nothing to tell them apart by
      const same = scopedRows === stats.talkers[d] || (rows.length === 0 && scopedRows.length === 0);
      const all = maps.get(d);
      const scoped = maps.get(set);
      if (same && rows.length > 0 && !all && !scoped) {
        const m = freshSums(d);
        maps.set(d, m);
        maps.set(set, m);
      } else if (!same && scoped && scoped === all) {
        maps.set(set, scoped.copy());
      }
    }
  }
}

/** What settleInto tells about an hour's sets (for their changed keys). */
interface SettleTracker {
  merged(set: TalkerSet, from: TalkerSums, into: TalkerMap): void;
  unshared(set: TalkerSet): void;
  folded(set: TalkerSet): void;
}

/**
 * Adds one dimension's unsettled counts (all traffic's and each scope's) into
 * `maps` (an hour's sets, or the live window), keeping the sharing of
 * shareByRows: a scope whose unsettled map is all traffic's shares all
 * traffic's map in `maps` too if neither had one yet, or already does; a scope
 * whose counts differed gets a map of its own, a copy, before anything is added.
 */
function* settleInto(d: TalkerDimension, delta: Map<TalkerSet, TalkerSums>, maps: Map<TalkerSet, TalkerMap>, keysLimit: number, track?: SettleTracker): Generator<void, void, void> {
  const base = delta.get(d);
  const scopes = TALKER_SCOPES.map((scope) => {
    const set = talkerSet(d, scope);
    const own = delta.get(set);
    return { set, own, sameAsBase: own === base, startShared: own !== undefined && own === base && !maps.has(d) && !maps.has(set) };
  });
  for (const sc of scopes) {
    const m = maps.get(sc.set);
    if (!sc.sameAsBase && m && m === maps.get(d)) {
      const copy: TalkerMap = new Map();
      mergeMaps(copy, m);
      maps.set(sc.set, copy);
      track?.unshared(sc.set);
    }
  }
  // a slice at a time: nothing else changes `maps` until the settle is done (Pending.finishSlices)
  const mergeInto = function* (set: TalkerSet, from: TalkerSums): Generator<void, void, void> {
    let m = maps.get(set);
    if (!m) maps.set(set, (m = new Map()));
    track?.merged(set, from, m);
    for (let at = 0; ; at += SETTLE_SLICE_KEYS) {
      mergeWithin(m, from, keysLimit, at, at + SETTLE_SLICE_KEYS);
      if (at + SETTLE_SLICE_KEYS >= from.numbered) break;
      yield;
    }
    if (keyCount(m) > keysLimit) {
      keptFrom.set(m, foldSmallest(m, Math.floor(keysLimit / 2)));
      track?.folded(set);
    }
  };
  if (base) yield* mergeInto(d, base);
  for (const sc of scopes) {
    if (!sc.own) continue;
    if (sc.startShared) { maps.set(sc.set, maps.get(d)!); continue; }
    if (sc.sameAsBase && maps.get(sc.set) === maps.get(d)) continue;
    yield* mergeInto(sc.set, sc.own);
  }
}

/**
 * Keys merged into an hour (or the window) per slice of Pending.settleSlice:
 * ~3–6 ms for keys it has, up to ~40 ms for new ones (the first flush after
 * a start, bench/gateway.ts --long-tasks).
 */
const SETTLE_SLICE_KEYS = 10_000;

/** Each dimension's sets: all traffic's and each scope's. */
const TALKER_SETS_OF = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, [d, ...TALKER_SCOPES.map((scope) => talkerSet(d, scope))]])) as Record<TalkerDimension, TalkerSet[]>;

/**
 * Moves one dimension's unsettled sums (all traffic's and each scope's, shared
 * as they are) into the live window, which holds none of them: the same
 * counts as settleInto would make, without a copy. A set within the keys
 * limit stays as its sums (`sumsOf`); one past it is made a map in `maps` and
 * folded. Called after the hour took them, so a fold here changes only the
 * window's counts.
 */
function adoptInto(d: TalkerDimension, delta: Map<TalkerSet, TalkerSums>, maps: Map<TalkerSet, TalkerMap>, sumsOf: Map<TalkerSet, TalkerSums>, keysLimit: number): void {
  const folded = new Set<TalkerMap>();
  // sets that share their sums share one map
  const made = new Map<TalkerSums, TalkerMap>();
  for (const set of TALKER_SETS_OF[d]) {
    const sums = delta.get(set);
    if (!sums) continue;
    // within the limit, kept as the sums: a map of every key made at every flush was most of its settle
    if (sums.size <= keysLimit) { sumsOf.set(set, sums); continue; }
    let m = made.get(sums);
    if (!m) made.set(sums, (m = sums.toMap()));
    maps.set(set, m);
    if (keyCount(m) > keysLimit && !folded.has(m)) {
      keptFrom.set(m, foldSmallest(m, Math.floor(keysLimit / 2)));
      folded.add(m);
    }
  }
}

/** The distinct sums of one dimension's sets (sets may share one), each by the first set that has it. */
function sumsOfDimension(d: TalkerDimension, sumsOf: Map<TalkerSet, TalkerSums>): Map<TalkerSet, TalkerSums> {
  const out = new Map<TalkerSet, TalkerSums>();
  const seen = new Set<TalkerSums>();
  for (const set of TALKER_SETS_OF[d]) {
    const x = sumsOf.get(set);
    if (x && !seen.has(x)) { seen.add(x); out.set(set, x); }
  }
  return out;
}

/** Moves one dimension's sets from `sumsOf` into `maps`, each made a map (sets that share sums share it). */
function mapsFromSums(d: TalkerDimension, sumsOf: Map<TalkerSet, TalkerSums>, maps: Map<TalkerSet, TalkerMap>): void {
  const made = new Map<TalkerSums, TalkerMap>();
  for (const set of TALKER_SETS_OF[d]) {
    const sums = sumsOf.get(set);
    if (!sums) continue;
    let m = made.get(sums);
    if (!m) made.set(sums, (m = sums.toMap()));
    maps.set(set, m);
    sumsOf.delete(set);
  }
}

/** Per talker map folded at least once: the bytes of the smallest key its last fold kept. */
const keptFrom = new WeakMap<TalkerMap, number>();

/**
 * Adds `from` into `into` as mergeMaps does, except that a key new to `into`
 * once it holds `limit` keys joins it only with more bytes than the smallest
 * key its last fold kept; a smaller one goes straight to its "other" (the
 * totals stay exact). A large newcomer still takes a place (the next fold
 * keeps the largest); the many small ones of a busy gateway, inserted and
 * folded away again at every settle, were most of its flush. `start`, `end`:
 * only that slice of `from`'s numbered keys (TalkerSums.forEach).
 */
function mergeWithin(into: TalkerMap, from: TalkerSums, limit: number, start?: number, end?: number): void {
  const above = keptFrom.get(into) ?? 0;
  let other: TalkerCounts | undefined;
  let keys = keyCount(into);
  from.forEach((k, a) => {
    const known = into.get(k);
    if (known) addCounts(known, a);
    else if (keys < limit || a.bytesUp + a.bytesDown > above || k === OTHER_KEY) {
      // a copy: forEach hands out one object for every numbered key
      const c = zeroCounts();
      addCounts(c, a);
      into.set(k, c);
      if (k !== OTHER_KEY) keys++;
    }
    else {
      if (!other) {
        other = into.get(OTHER_KEY);
        if (!other) into.set(OTHER_KEY, (other = zeroCounts()));
      }
      addNumbers(other, a);
    }
  }, start, end);
}

/**
 * The keys of a talker map, "other" not counted: it is no key, and counted it
 * made a set filled to the limit by small keys one over it, folded again at
 * every settle (half its keys deleted, as many inserted the next time).
 */
function keyCount(m: TalkerMap): number {
  return m.size - (m.has(OTHER_KEY) ? 1 : 0);
}

/** The all-traffic set a scope's set may share its maps with (shareScopedSets); undefined for all traffic's own sets. */
function baseOf(set: TalkerSet): TalkerDimension | undefined {
  const at = set.indexOf('@');
  return at > 0 ? (set.slice(0, at) as TalkerDimension) : undefined;
}

/** An interval's talker rows under the names they are kept by: each dimension, and each dimension × scope. */
function talkerRowsOf(stats: IntervalStats): Array<[TalkerSet, TalkerRow[] | undefined]> {
  const out: Array<[TalkerSet, TalkerRow[] | undefined]> = TALKER_DIMENSIONS.map((d) => [d, stats.talkers[d]]);
  for (const scope of TALKER_SCOPES) {
    for (const d of TALKER_DIMENSIONS) out.push([talkerSet(d, scope), stats.scopedTalkers?.[scope][d]]);
  }
  return out;
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
  const checked = new Set<TalkerRow[]>();
  for (const [dim, rows] of talkerRowsOf(s)) {
    // a scope with all the traffic has all traffic's very rows: checked once
    if (!rows || checked.has(rows)) continue;
    checked.add(rows);
    for (const r of rows) {
      if (typeof r.key !== 'string' || !isCount(r.bytesUp) || !isCount(r.bytesDown) || !isCount(r.packetsUp) || !isCount(r.packetsDown) || !isCount(r.newSessions)) {
        throw bad(`a ${dim} talker row ${JSON.stringify(r)}`);
      }
    }
  }
}
