/**
 * Talker arithmetic, once for every consumer: the counts a talker key carries,
 * adding and subtracting them, maps of keys to counts, and the cut to the top N
 * with everything else folded into "other". The flows stage makes the rows;
 * the history store, the live query, the InfluxDB writer and /metrics all sum
 * and cut them with these functions, so "the parts sum to the total" holds by
 * construction and is proved once (test/unit/talkers-sum-rule.test.ts).
 *
 * Adding a counter: add it to TalkerCounts, zeroCounts,
 * subtractCounts, addNumbers, resetCounts, newAccumulator and rowOf below (and, if the flows stage
 * makes it from something other than a session's interval deltas, to
 * FlowProcessor.talkers), and to STORED_COUNTERS if the history keeps it (the
 * store's talker SQL is made from that list; the column itself comes with a
 * schema migration, store/schema.ts). The wire messages (proto/, the JSON API's TalkerTotal) are a
 * contract of their own and name their fields explicitly.
 */

/** What one talker key counted. Ordered (label aside) as STORED_COUNTERS. */
export interface TalkerCounts {
  label?: string;
  bytesUp: number;
  bytesDown: number;
  packetsUp: number;
  packetsDown: number;
  /**
   * Sessions with traffic. In one interval: how many; summed over intervals it is
   * session-intervals, or session-milliseconds when added with the interval length
   * as weight (the InfluxDB writer does, to report a time-weighted mean).
   */
  sessions: number;
  /** Sessions that began (connections). */
  newSessions: number;
}

/** One key's counts in one interval (IntervalStats.talkers). */
export interface TalkerRow extends TalkerCounts {
  key: string;
  /**
   * The flows stage's number for the key in its talker slot (rows it made;
   * absent in rows from elsewhere): small, dense, the same from interval to
   * interval while the key has sessions, then given to another key. A hint
   * for summing rows in arrays instead of maps (TalkerSums), always checked
   * against the key. Not an own property: JSON and comparisons leave it out.
   */
  readonly id?: number;
}

/** A talker as the APIs answer it (store queries, live query, JSON, gRPC). */
export interface TalkerTotal {
  key: string;
  label?: string;
  bytesUp: number;
  bytesDown: number;
  /** bytesUp + bytesDown */
  bytes: number;
  packetsUp: number;
  packetsDown: number;
  /** Sessions that began (TalkerCounts.newSessions summed). */
  connections: number;
}

export type TalkerMap = Map<string, TalkerCounts>;

/** The key of the row that sums the keys not kept individually (stored, answered and exported as ""). */
export const OTHER_KEY = '';

/** The counters the history store keeps, with their column in talker_hour. */
export const STORED_COUNTERS = [
  ['bytesUp', 'bytes_up'],
  ['bytesDown', 'bytes_down'],
  ['packetsUp', 'packets_up'],
  ['packetsDown', 'packets_down'],
  ['newSessions', 'connections'],
] as const satisfies ReadonlyArray<readonly [Exclude<keyof TalkerCounts, 'label'>, string]>;

export function zeroCounts(): TalkerCounts {
  return { bytesUp: 0, bytesDown: 0, packetsUp: 0, packetsDown: 0, sessions: 0, newSessions: 0 };
}

/** into += a (sessions × sessionWeight); a's label, when it has one (not ""), becomes into's. */
export function addCounts(into: TalkerCounts, a: TalkerCounts, sessionWeight = 1): void {
  addNumbers(into, a, sessionWeight);
  if (a.label) into.label = a.label;
}

/** into += a, counters only (sums such as "other" carry no label). */
export function addNumbers(into: TalkerCounts, a: TalkerCounts, sessionWeight = 1): void {
  into.bytesUp += a.bytesUp;
  into.bytesDown += a.bytesDown;
  into.packetsUp += a.packetsUp;
  into.packetsDown += a.packetsDown;
  into.sessions += a.sessions * sessionWeight;
  into.newSessions += a.newSessions;
}

/** into −= a (labels untouched). */
export function subtractCounts(into: TalkerCounts, a: TalkerCounts): void {
  into.bytesUp -= a.bytesUp;
  into.bytesDown -= a.bytesDown;
  into.packetsUp -= a.packetsUp;
  into.packetsDown -= a.packetsDown;
  into.sessions -= a.sessions;
  into.newSessions -= a.newSessions;
}

/** A copy without the label (for sums, where a label means nothing). */
export function unlabelled(a: TalkerCounts): TalkerCounts {
  return { bytesUp: a.bytesUp, bytesDown: a.bytesDown, packetsUp: a.packetsUp, packetsDown: a.packetsDown, sessions: a.sessions, newSessions: a.newSessions };
}

export function isZero(a: TalkerCounts): boolean {
  return a.bytesUp === 0 && a.bytesDown === 0 && a.packetsUp === 0 && a.packetsDown === 0 && a.sessions === 0 && a.newSessions === 0;
}

export function totalBytes(a: TalkerCounts): number {
  return a.bytesUp + a.bytesDown;
}

/** Adds `a` to the key's counts in `m` (a copy on first sight, so `a` is never aliased). */
export function addToMap(m: TalkerMap, key: string, a: TalkerCounts, sessionWeight = 1): void {
  const into = m.get(key);
  if (into) {
    addCounts(into, a, sessionWeight);
  } else {
    const c = zeroCounts();
    addCounts(c, a, sessionWeight);
    m.set(key, c);
  }
}

/** Every entry of `from` added into `into`. */
export function mergeMaps(into: TalkerMap, from: Iterable<[string, TalkerCounts]>): void {
  for (const [k, a] of from) addToMap(into, k, a);
}

/** Bytes descending, then key ascending: the one order of talkers everywhere. */
export function byBytes(a: [string, TalkerCounts], b: [string, TalkerCounts]): number {
  const d = totalBytes(b[1]) - totalBytes(a[1]);
  return d !== 0 ? d : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** Interval rows by bytes (up + down) descending, then key: the order of IntervalStats.talkers. */
export function rowsByBytes(a: TalkerRow, b: TalkerRow): number {
  const d = totalBytes(b) - totalBytes(a);
  return d !== 0 ? d : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * How many rows of an interval's talkers are ranked (IntervalStats.talkers):
 * every consumer that cuts an interval's rows keeps at most this many (the
 * live query, a coarsened interval), the others sum all rows in any order.
 */
export const RANKED_ROWS = 1000;

/**
 * Orders an interval's rows (in place) as IntervalStats.talkers keeps them:
 * the `ranked` largest first, by rowsByBytes; the rest after them in the order
 * given. Sorting all of them was a third of the flows stage's cost per known
 * flow on a gateway (50k remote addresses an interval, most of them equal and
 * small); this is one selection over plain numbers (nthSmallest) and one sort
 * of `ranked` rows. Keys tied with the last ranked row's bytes are ranked in
 * the order given.
 */
export function rankRows(rows: TalkerRow[], ranked = RANKED_ROWS): TalkerRow[] {
  const n = rows.length;
  if (n <= 2 * ranked) return rows.sort(rowsByBytes);
  const totals = new Float64Array(n);
  for (let i = 0; i < n; i++) totals[i] = totalBytes(rows[i]!);
  const threshold = nthSmallest(totals.slice(), n - ranked);
  let ties = ranked;
  for (let i = 0; i < n; i++) if (totals[i]! > threshold) ties--;
  const head: TalkerRow[] = [];
  const rest: TalkerRow[] = [];
  for (let i = 0; i < n; i++) {
    const t = totals[i]!;
    if (t > threshold || (t === threshold && ties-- > 0)) head.push(rows[i]!);
    else rest.push(rows[i]!);
  }
  head.sort(rowsByBytes);
  for (let i = 0; i < head.length; i++) rows[i] = head[i]!;
  for (let i = 0; i < rest.length; i++) rows[head.length + i] = rest[i]!;
  return rows;
}

/**
 * The value a sort of `a` (ascending) would put at index `k`, found in place
 * by selection (`a` is reordered): O(n) where a sort of 100k byte counts was
 * most of rankRows. A three-way partition, so the many equal counts of a
 * gateway's small flows are one step, not a quadratic walk.
 */
export function nthSmallest(a: Float64Array, k: number): number {
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    const x = a[lo]!, y = a[(lo + hi) >>> 1]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
    // [lo, lt) < pivot, [lt, i) = pivot, (gt, hi] > pivot
    let lt = lo, i = lo, gt = hi;
    while (i <= gt) {
      const v = a[i]!;
      if (v < pivot) { a[i] = a[lt]!; a[lt] = v; lt++; i++; } else if (v > pivot) { a[i] = a[gt]!; a[gt] = v; gt--; } else i++;
    }
    if (k < lt) hi = lt - 1;
    else if (k > gt) lo = gt + 1;
    else return pivot;
  }
  return a[lo]!;
}

/** The `n` largest of an interval's rows (IntervalStats.talkers), by rowsByBytes. */
export function topRows(rows: readonly TalkerRow[], n: number): TalkerRow[] {
  return n <= RANKED_ROWS ? rows.slice(0, n) : [...rows].sort(rowsByBytes).slice(0, n);
}

/**
 * The `n` largest keys (byBytes order) and the sum of everything else, the
 * "other" entry included: a bounded heap, so a map of 100k keys costs no sort.
 */
export function topN(m: Iterable<[string, TalkerCounts]>, n: number): { top: Array<[string, TalkerCounts]>; rest: TalkerCounts } {
  const keeper = new TopKeeper(n);
  for (const e of m) keeper.offer(e);
  return keeper.result();
}

/** topN's heap, offered one entry at a time (a ranking in slices, a turn each: store/writer.ts rankForFlush). */
export class TopKeeper {
  // heap[0] is the smallest kept entry: byBytes(x, heap[0]) < 0 means x ranks above it
  private readonly heap: Array<[string, TalkerCounts]> = [];
  private readonly rest = zeroCounts();

  constructor(private readonly n: number) {}

  offer(e: [string, TalkerCounts]): void {
    const { heap, n } = this;
    if (e[0] === OTHER_KEY) { addNumbers(this.rest, e[1]); return; }
    if (heap.length < n) { heap.push(e); this.up(heap.length - 1); return; }
    if (n === 0 || byBytes(e, heap[0]!) >= 0) { addNumbers(this.rest, e[1]); return; }
    addNumbers(this.rest, heap[0]![1]);
    heap[0] = e;
    this.down(0);
  }

  /** The kept entries ranked, and the sum of the rest (call once, after the last offer). */
  result(): { top: Array<[string, TalkerCounts]>; rest: TalkerCounts } {
    return { top: this.heap.sort(byBytes), rest: this.rest };
  }

  private down(i: number): void {
    const heap = this.heap;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let worst = i;
      if (l < heap.length && byBytes(heap[l]!, heap[worst]!) > 0) worst = l;
      if (r < heap.length && byBytes(heap[r]!, heap[worst]!) > 0) worst = r;
      if (worst === i) return;
      [heap[i], heap[worst]] = [heap[worst]!, heap[i]!];
      i = worst;
    }
  }

  private up(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (byBytes(heap[i]!, heap[parent]!) <= 0) return;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }
}


/**
 * Keeps about the `keep` largest keys (and "other"), summing the rest into
 * "other"; returns the bytes of the smallest kept (0: nothing folded). Finds
 * the cut-off by selection over a typed array of the byte counts: a string
 * sort of 100k entries would stall the event loop for most of a second.
 */
export function foldSmallest(m: TalkerMap, keep: number): number {
  if (m.size <= keep) return 0;
  const bytes = new Float64Array(m.size);
  let i = 0;
  for (const a of m.values()) bytes[i++] = totalBytes(a);
  const threshold = nthSmallest(bytes, bytes.length - keep);
  let other = m.get(OTHER_KEY);
  if (!other) m.set(OTHER_KEY, (other = zeroCounts()));
  const o = other;
  const fold = (k: string, a: TalkerCounts) => {
    addNumbers(o, a);
    m.delete(k);
  };
  for (const [k, a] of m) if (k !== OTHER_KEY && totalBytes(a) < threshold) fold(k, a);
  // many keys equal to the threshold: fold some of those too
  for (const [k, a] of m) {
    if (m.size <= keep + 1) break;
    if (k !== OTHER_KEY && totalBytes(a) === threshold) fold(k, a);
  }
  return threshold;
}

/** A key's counts as the APIs answer them. */
export function toTotal(key: string, a: TalkerCounts): TalkerTotal {
  const t: TalkerTotal = { key, bytesUp: a.bytesUp, bytesDown: a.bytesDown, bytes: a.bytesUp + a.bytesDown, packetsUp: a.packetsUp, packetsDown: a.packetsDown, connections: a.newSessions };
  if (a.label !== undefined && a.label !== null) t.label = a.label;
  return t;
}

/** The top `limit` keys as API rows, the rest (and the "other" entry) as `other`, and rows + other as `total`. */
export function cutTop(m: Iterable<[string, TalkerCounts]>, limit: number): { rows: TalkerTotal[]; other: TalkerTotal; total: TalkerTotal } {
  const { top, rest } = topN(m, limit);
  const total = unlabelled(rest);
  for (const [, a] of top) addCounts(total, unlabelled(a));
  return { rows: top.map(([k, a]) => toTotal(k, a)), other: toTotal(OTHER_KEY, rest), total: toTotal(OTHER_KEY, total) };
}

/**
 * The flows stage's counts of one key, shared by the sessions that have the key:
 * `interval` says which interval the counts are of, `refs` how many sessions point here.
 */
export interface TalkerAccumulator extends TalkerRow {
  interval: number;
  refs: number;
}

/** A key's accumulator, with its number in its slot (TalkerRow.id). */
export function newAccumulator(key: string, id?: number): TalkerAccumulator {
  return new Accumulator(key, id);
}

/**
 * Rows and accumulators are instances of classes of their own, not object
 * literals: V8 shares one hidden class among all literals with the same
 * property names in the same order (API totals, parsed JSON, other sums), and
 * once any of them holds a large total its counters are stored as boxed
 * doubles in every one. A row of its own class keeps small counts as small
 * integers: one allocation per row instead of seven.
 */
class Accumulator implements TalkerAccumulator {
  bytesUp = 0;
  bytesDown = 0;
  packetsUp = 0;
  packetsDown = 0;
  sessions = 0;
  newSessions = 0;
  interval = -1;
  refs = 0;
  declare label?: string;
  readonly #id: number | undefined;
  constructor(readonly key: string, id: number | undefined) {
    this.#id = id;
  }

  get id(): number | undefined {
    return this.#id;
  }
}

/** Counts of their own class (as rows are: see Accumulator), for sums made in bulk. */
export function countsOf(bytesUp: number, bytesDown: number, packetsUp: number, packetsDown: number, sessions: number, newSessions: number): TalkerCounts {
  return new Counts(bytesUp, bytesDown, packetsUp, packetsDown, sessions, newSessions);
}

class Counts implements TalkerCounts {
  declare label?: string;
  constructor(
    public bytesUp: number,
    public bytesDown: number,
    public packetsUp: number,
    public packetsDown: number,
    public sessions: number,
    public newSessions: number,
  ) {}
}

/**
 * Not a subclass of Counts: a row's key comes first in its JSON (the NDJSON
 * lines print rows as they are), and a subclass's own fields come after its
 * parent's.
 */
class Row implements TalkerRow {
  declare label?: string;
  readonly #id: number | undefined;
  constructor(
    readonly key: string,
    public bytesUp: number,
    public bytesDown: number,
    public packetsUp: number,
    public packetsDown: number,
    public sessions: number,
    public newSessions: number,
    id: number | undefined,
  ) {
    this.#id = id;
  }

  get id(): number | undefined {
    return this.#id;
  }
}

/** Zeroes every counter (the label stays). */
export function resetCounts(a: TalkerCounts): void {
  a.bytesUp = a.bytesDown = a.packetsUp = a.packetsDown = a.sessions = a.newSessions = 0;
}

/** A row of its own (consumers keep rows; an accumulator starts again next interval). */
export function rowOf(a: TalkerRow): TalkerRow {
  const r = new Row(a.key, a.bytesUp, a.bytesDown, a.packetsUp, a.packetsDown, a.sessions, a.newSessions, a.id);
  if (a.label) r.label = a.label;
  return r;
}
