/**
 * One talker set's rows summed over several intervals, by the flows stage's
 * key numbers (TalkerRow.id) into typed arrays: no Map lookup per row. On a
 * gateway most keys come back every interval, and the history summing 100k
 * rows an interval into a Map of strings cost ~400 ns a row (hashing, and a
 * cache miss on each of the map's entry, key and counts); an array slot per
 * key number costs ~70 ns (bench/store.ts).
 *
 * A number is a hint, checked against the key: a row whose number names
 * another key here (the flows stage gave the number to a new key since), or
 * that has none (rows from JSON, coarsened rows), is summed in a Map as
 * before. toMap() gives the sums as a TalkerMap, the same as summing every
 * row with addToMap.
 */
import { addToMap, countsOf, OTHER_KEY, type TalkerCounts, type TalkerMap, type TalkerRow } from './talkers.js';

/** Counters per key number, in this order. */
const FIELDS = 6;

export class TalkerSums {
  /** Per key number: bytesUp, bytesDown, packetsUp, packetsDown, sessions, newSessions. */
  private counts = new Float64Array(0);
  /** Per key number, the key it has here (undefined: none yet). */
  private keys: Array<string | undefined> = [];
  private labels: Array<string | undefined> = [];
  /**
   * When each label came (a count of labelled rows): the last label a key
   * was given wins, as in addToMap, also for a key summed both ways.
   */
  private labelsAt: number[] = [];
  private labelled = 0;
  private readonly byKeyLabelAt = new Map<string, number>();
  /** The key numbers with sums, in the order first added. */
  private readonly numbers: number[] = [];
  /** Rows without a usable number, by key. */
  private readonly byKey: TalkerMap = new Map();

  /**
   * Keys summed, "other" not counted (it is no key: coarsened rows bring it).
   * A key summed both by number and by key, or under two numbers, counts
   * twice: rare, see above.
   */
  get size(): number {
    return this.numbers.length + this.byKey.size - (this.byKey.has(OTHER_KEY) ? 1 : 0);
  }

  /** The key numbers with sums (forEach's range: keys by key aside). */
  get numbered(): number {
    return this.numbers.length;
  }

  add(r: TalkerRow): void {
    const id = r.id;
    const known = id === undefined ? undefined : this.keys[id];
    if (id === undefined || (known !== undefined && known !== r.key)) {
      addToMap(this.byKey, r.key, r);
      if (r.label) this.byKeyLabelAt.set(r.key, ++this.labelled);
      return;
    }
    if (known === undefined) {
      if (id >= this.keys.length) this.grow(id);
      this.keys[id] = r.key;
      this.numbers.push(id);
    }
    const c = this.counts, at = id * FIELDS;
    c[at] += r.bytesUp;
    c[at + 1] += r.bytesDown;
    c[at + 2] += r.packetsUp;
    c[at + 3] += r.packetsDown;
    c[at + 4] += r.sessions;
    c[at + 5] += r.newSessions;
    if (r.label) {
      this.labels[id] = r.label;
      this.labelsAt[id] = ++this.labelled;
    }
  }

  /** Empties it, keeping its arrays' room (zeroing only the numbers it used). */
  clear(): void {
    const c = this.counts;
    for (const id of this.numbers) {
      c.fill(0, id * FIELDS, id * FIELDS + FIELDS);
      this.keys[id] = undefined;
      this.labels[id] = undefined;
    }
    this.numbers.length = 0;
    this.byKey.clear();
    this.byKeyLabelAt.clear();
    this.labelled = 0;
  }

  /** A new TalkerSums with the same sums. */
  copy(): TalkerSums {
    const out = new TalkerSums();
    out.counts = this.counts.slice();
    out.keys = this.keys.slice();
    out.labels = this.labels.slice();
    out.labelsAt = this.labelsAt.slice();
    out.labelled = this.labelled;
    for (const id of this.numbers) out.numbers.push(id);
    for (const [k, a] of this.byKey) addToMap(out.byKey, k, a);
    for (const [k, at] of this.byKeyLabelAt) out.byKeyLabelAt.set(k, at);
    return out;
  }

  /**
   * Every key's sums, without a map made: by key first, then by number (a key
   * summed both ways is visited more than once, and the visitor adds up; its
   * label is its latest, except between two numbers: the later number's).
   * The counts handed out for numbered keys are one object, overwritten for
   * the next: copy what you keep. `from`, `to`: only the numbered keys in
   * that range of `numbered` (a visit in slices, a turn each), the keys by
   * key with the slice from 0.
   */
  forEach(visit: (key: string, counts: TalkerCounts) => void, from = 0, to = this.numbers.length): void {
    if (from === 0) for (const [k, a] of this.byKey) visit(k, a);
    const c = this.counts, scratch = countsOf(0, 0, 0, 0, 0, 0), byKeyLabels = this.byKeyLabelAt.size > 0;
    const numbers = this.numbers, end = Math.min(to, numbers.length);
    for (let i = from; i < end; i++) {
      const id = numbers[i]!;
      const at = id * FIELDS;
      scratch.bytesUp = c[at]!;
      scratch.bytesDown = c[at + 1]!;
      scratch.packetsUp = c[at + 2]!;
      scratch.packetsDown = c[at + 3]!;
      scratch.sessions = c[at + 4]!;
      scratch.newSessions = c[at + 5]!;
      const key = this.keys[id]!;
      let label = this.labels[id];
      // a later label the key got by key stands (it was visited first)
      if (label && byKeyLabels && (this.byKeyLabelAt.get(key) ?? 0) > this.labelsAt[id]!) label = undefined;
      scratch.label = label;
      visit(key, scratch);
    }
  }

  /**
   * Every key's sums, each key once (for topN, which keeps some). Not what
   * forEach visits: a key whose number was given back when its last session
   * ended and that came back under a new one is in two places here, and a
   * ranking of both halves listed it twice, each with part of its bytes.
   */
  entries(): Array<[string, TalkerCounts]> {
    return [...this.toMap()];
  }

  /** The sums by key (a new map: the caller may keep it). */
  toMap(): TalkerMap {
    const m: TalkerMap = new Map();
    for (const _ of this.mapSteps(m, Infinity));
    return m;
  }

  /**
   * toMap() into `m`, a yield after each `slice` numbered keys (a map made in
   * turns: store/writer.ts rankForFlush). Nothing may be added meanwhile.
   */
  *mapSteps(m: TalkerMap, slice: number): Generator<void, void, void> {
    for (const [k, a] of this.byKey) addToMap(m, k, a);
    const labelAt = new Map(this.byKeyLabelAt);
    const c = this.counts, numbers = this.numbers;
    for (let i = 0; i < numbers.length; i++) {
      if (i > 0 && i % slice === 0) yield;
      const id = numbers[i]!;
      const key = this.keys[id]!, at = id * FIELDS;
      let into = m.get(key);
      if (!into) m.set(key, (into = countsOf(c[at]!, c[at + 1]!, c[at + 2]!, c[at + 3]!, c[at + 4]!, c[at + 5]!)));
      else {
        into.bytesUp += c[at]!;
        into.bytesDown += c[at + 1]!;
        into.packetsUp += c[at + 2]!;
        into.packetsDown += c[at + 3]!;
        into.sessions += c[at + 4]!;
        into.newSessions += c[at + 5]!;
      }
      const label = this.labels[id];
      // a key also summed by key, or under another number: its latest label
      if (label && (into.label === undefined || this.labelsAt[id]! > (labelAt.get(key) ?? 0))) {
        into.label = label;
        labelAt.set(key, this.labelsAt[id]!);
      }
    }
  }

  /**
   * Room for key number `id`: doubled, so a set's numbers grow in a few
   * copies. The arrays grow by push: an array given a large length at once
   * becomes a dictionary in V8, and toMap() over one was 5× slower.
   */
  private grow(id: number): void {
    const size = Math.max(id + 1, 2 * this.keys.length, 64);
    const counts = new Float64Array(size * FIELDS);
    counts.set(this.counts);
    this.counts = counts;
    for (let i = this.keys.length; i < size; i++) {
      this.keys.push(undefined);
      this.labels.push(undefined);
      this.labelsAt.push(0);
    }
  }
}
