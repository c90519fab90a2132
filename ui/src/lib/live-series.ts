/**
 * The live chart's data: the last N seconds of upload and download rates at
 * one-second resolution, zero-filled. Each interval the server reports the
 * bytes counted between its start and end; the interval's average rate is
 * spread over the seconds it covers (an interval of 1 s fills one second, one of
 * 5 s fills five), and seconds nothing covered are 0 — a gap in the data is a
 * quiet link or a missed update, and the chart shows it as zero rather than
 * drawing a line across it.
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
  /** The second (epoch s) that slot 0 holds: slots wrap modulo the length. */
  private readonly slotSecond: Float64Array;
  /** Latest second with data. */
  private newest = -Infinity;

  constructor(readonly seconds = 300) {
    this.up = new Float64Array(seconds);
    this.down = new Float64Array(seconds);
    this.slotSecond = new Float64Array(seconds).fill(-1);
  }

  /** Adds one interval's bytes. Intervals may arrive out of order or overlap a reset; each second keeps its latest value. */
  add(iv: IntervalBytes): void {
    const ms = iv.end - iv.start;
    if (!(ms > 0)) return;
    const upRate = (iv.up * 1000) / ms;
    const downRate = (iv.down * 1000) / ms;
    // the seconds whose middle lies inside [start, end): one per second of interval
    const first = Math.round(iv.start / 1000);
    const last = Math.max(first, Math.round(iv.end / 1000) - 1);
    for (let s = Math.max(first, last - this.seconds + 1); s <= last; s++) {
      const i = ((s % this.seconds) + this.seconds) % this.seconds;
      if (this.slotSecond[i] !== s) { this.slotSecond[i] = s; this.up[i] = 0; this.down[i] = 0; }
      this.up[i] = upRate;
      this.down[i] = downRate;
    }
    if (last > this.newest) this.newest = last;
  }

  /**
   * The window of `seconds` seconds ending at endSecond (default: the newest
   * second with data), cut to start no earlier than `notBefore` (epoch s): the
   * seconds before the counter started are unknown, not quiet.
   */
  columns(endSecond = this.newest, notBefore = -Infinity): RateColumns {
    const [xs, up, down] = this.window(endSecond);
    const first = xs.findIndex((x) => x >= notBefore);
    return first > 0 ? [xs.subarray(first), up.subarray(first), down.subarray(first)] : [xs, up, down];
  }

  private window(endSecond: number): RateColumns {
    const n = this.seconds;
    const xs = new Float64Array(n);
    const up = new Float64Array(n);
    const down = new Float64Array(n);
    if (!Number.isFinite(endSecond)) return [xs, up, down];
    for (let k = 0; k < n; k++) {
      const s = endSecond - n + 1 + k;
      const i = ((s % n) + n) % n;
      xs[k] = s;
      if (this.slotSecond[i] === s) { up[k] = this.up[i]; down[k] = this.down[i]; }
    }
    return [xs, up, down];
  }

  /** The latest second's rates (bytes/s), or zeros before any data. */
  latest(): { up: number; down: number; second: number } {
    if (!Number.isFinite(this.newest)) return { up: 0, down: 0, second: 0 };
    const i = ((this.newest % this.seconds) + this.seconds) % this.seconds;
    return { up: this.up[i], down: this.down[i], second: this.newest };
  }
}
