/**
 * The live chart's data: the last N seconds of upload and download rates at
 * one-second resolution, zero-filled. Each interval the server reports the
 * bytes counted between its start and end; they are spread over the wall-clock
 * seconds the interval covers in proportion to the overlap (as the API's own
 * realtime series are), so intervals that do not line up with seconds, or last
 * longer than one, still give every second its share. Only complete seconds are
 * shown: the second the latest interval ended in is still filling.
 */

export interface IntervalBytes {
  /** Wall-clock ms of the interval's start and end. */
  start: number;
  end: number;
  /** Bytes counted in the interval. */
  up: number;
  down: number;
}

/** Columns for uPlot: x in epoch seconds, then rates in bytes per second. */
export type RateColumns = [Float64Array, Float64Array, Float64Array];

export class LiveSeries {
  private readonly up: Float64Array;
  private readonly down: Float64Array;
  /** The second (epoch s) each slot holds: slots wrap modulo the length. */
  private readonly slotSecond: Float64Array;
  /** End (epoch ms) of the latest interval added. */
  private latestEnd = -Infinity;

  constructor(readonly seconds = 300) {
    // one spare slot: the second still filling must not overwrite the oldest shown
    this.up = new Float64Array(seconds + 1);
    this.down = new Float64Array(seconds + 1);
    this.slotSecond = new Float64Array(seconds + 1).fill(-1);
  }

  private slot(second: number): number {
    const n = this.seconds + 1;
    const i = ((second % n) + n) % n;
    if (this.slotSecond[i] !== second) { this.slotSecond[i] = second; this.up[i] = 0; this.down[i] = 0; }
    return i;
  }

  /** Adds one interval's bytes (each interval once: its bytes are summed into the seconds it covers). */
  add(iv: IntervalBytes): void {
    const ms = iv.end - iv.start;
    if (!(ms > 0)) return;
    const firstSecond = Math.max(Math.floor(iv.start / 1000), Math.floor(iv.end / 1000) - this.seconds);
    for (let s = firstSecond; s * 1000 < iv.end; s++) {
      const overlap = Math.min(iv.end, (s + 1) * 1000) - Math.max(iv.start, s * 1000);
      if (overlap <= 0) continue;
      const i = this.slot(s);
      this.up[i] += (iv.up * overlap) / ms;
      this.down[i] += (iv.down * overlap) / ms;
    }
    if (iv.end > this.latestEnd) this.latestEnd = iv.end;
  }

  /** Sets one complete second's bytes exactly (from the API's realtime series); adding it again changes nothing. */
  set(second: number, up: number, down: number): void {
    const i = this.slot(second);
    this.up[i] = up;
    this.down[i] = down;
    if ((second + 1) * 1000 > this.latestEnd) this.latestEnd = (second + 1) * 1000;
  }

  /** The latest complete second (epoch s), or -Infinity before any data. */
  get newestSecond(): number {
    return Math.floor(this.latestEnd / 1000) - 1;
  }

  /**
   * The window of `seconds` seconds ending at endSecond (default: the newest
   * complete second), cut to start no earlier than `notBefore` (epoch s): the
   * seconds before the counter started are unknown, not quiet.
   */
  columns(endSecond = this.newestSecond, notBefore = -Infinity): RateColumns {
    const n = this.seconds;
    const xs = new Float64Array(n);
    const up = new Float64Array(n);
    const down = new Float64Array(n);
    if (!Number.isFinite(endSecond)) return [xs, up, down];
    const m = n + 1;
    for (let k = 0; k < n; k++) {
      const s = endSecond - n + 1 + k;
      const i = ((s % m) + m) % m;
      xs[k] = s;
      if (this.slotSecond[i] === s) { up[k] = this.up[i]; down[k] = this.down[i]; }
    }
    const first = xs.findIndex((x) => x >= notBefore);
    return first > 0 ? [xs.subarray(first), up.subarray(first), down.subarray(first)] : [xs, up, down];
  }

  /** The latest complete second's rates (bytes/s), or zeros before any data. */
  latest(): { up: number; down: number; second: number } {
    const s = this.newestSecond;
    if (!Number.isFinite(s)) return { up: 0, down: 0, second: 0 };
    const m = this.seconds + 1;
    const i = ((s % m) + m) % m;
    return this.slotSecond[i] === s ? { up: this.up[i], down: this.down[i], second: s } : { up: 0, down: 0, second: s };
  }
}
