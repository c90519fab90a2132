/**
 * The traffic anomaly detector's arithmetic, without I/O (docs/alerts.md
 * "Traffic anomaly"): a seasonal baseline per hour of the week, a recent level,
 * the band around them, and the recent rate over a sliding window.
 *
 *   seasonal   for each of the 168 local hours of the week, the rates (bytes/s) of
 *              that hour in the last LEARN_WEEKS weeks: expected = median, spread =
 *              1.4826 × median absolute deviation (the standard deviation if the
 *              weeks were normal, but one odd week moves neither)
 *   level      an EWMA (half-life one day) of how each completed hour compared with
 *              its seasonal median, each hour's ratio clipped to [¼, 4]: a network
 *              that grew 30 % since last month has its expectation follow, but one
 *              anomalous hour moves it by a few percent at most
 *   band       upper = max(expected × ratio, expected + deviations × spread, expected + minRate):
 *              "far outside" means far in all three senses, so a quiet hour (tiny
 *              expected and spread) does not fire on a small burst
 *   hysteresis resolves once the rate is back below the middle of the band
 */

/** Weeks of history each hour of the week remembers. */
export const LEARN_WEEKS = 8;
export const SLOTS = 7 * 24;
/** MAD × this estimates a normal distribution's standard deviation. */
const MAD_SCALE = 1.4826;
/** The level's weight of one completed hour: a half-life of 24 hours. */
export const LEVEL_ALPHA = 1 - 2 ** (-1 / 24);
const LEVEL_CLIP = 4;

export interface BandParams {
  deviations: number;
  ratio: number;
  /** Bytes per second. */
  minRate: number;
  /** Samples an hour of the week needs. */
  minWeeks: number;
}

/** The local hour of the week of t: 0 = Sunday 00:00–01:00 … 167 = Saturday 23:00. */
export function hourOfWeek(t: number): number {
  const d = new Date(t);
  return d.getDay() * 24 + d.getHours();
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
/** "Tue 14:00" */
export function slotName(slot: number): string {
  return `${DAYS[Math.floor(slot / 24)]} ${String(slot % 24).padStart(2, '0')}:00`;
}

/** Median of a non-empty list (sorted in place). */
export function median(xs: number[]): number {
  xs.sort((a, b) => a - b);
  const m = xs.length >> 1;
  return xs.length % 2 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2;
}

/** Median absolute deviation from m. */
export function mad(xs: readonly number[], m: number): number {
  return median(xs.map((x) => Math.abs(x - m)));
}

export interface Expectation {
  /** Bytes per second expected now (seasonal median × level). */
  expected: number;
  /** Robust spread of the same hour over the weeks, × level. */
  spread: number;
  /** Weeks the hour was learned from. */
  weeks: number;
}

/** The band's upper edge: a rate above it fires. */
export function upperEdge(e: Expectation, p: BandParams): number {
  return Math.max(e.expected * p.ratio, e.expected + p.deviations * e.spread, e.expected + p.minRate);
}

/** Below this a firing anomaly resolves: the middle of the band. */
export function clearEdge(e: Expectation, p: BandParams): number {
  return (e.expected + upperEdge(e, p)) / 2;
}

/**
 * One series (an interface × scope × direction, or a device × direction): per
 * hour of the week a ring of the last LEARN_WEEKS hourly rates, and the level.
 * Hours are added oldest first, each once; the series learns from its first
 * hour with traffic on (weeks before a new interface or device existed are
 * not zeros, they are unknown).
 */
export class SeasonalSeries {
  private readonly values = new Float64Array(SLOTS * LEARN_WEEKS);
  private readonly counts = new Uint8Array(SLOTS);
  private readonly heads = new Uint8Array(SLOTS);
  /** Start (epoch ms) of the last hour added. */
  last = -Infinity;
  level = 1;
  started = false;

  /** The rate (bytes/s) of the completed local hour starting at `hourStart`. */
  add(hourStart: number, rate: number, p: BandParams): void {
    if (hourStart <= this.last) return;
    this.last = hourStart;
    if (!this.started) {
      if (rate <= 0) return;
      this.started = true;
    }
    const slot = hourOfWeek(hourStart);
    const n = this.counts[slot]!;
    if (n >= p.minWeeks) {
      // how this hour compared with its usual value; minRate keeps near-idle hours from swinging it
      const seasonal = median(this.samples(slot));
      const ratio = Math.min(LEVEL_CLIP, Math.max(1 / LEVEL_CLIP, (rate + p.minRate) / (seasonal * this.level + p.minRate)));
      this.level *= 1 + LEVEL_ALPHA * (ratio - 1);
    }
    const i = slot * LEARN_WEEKS + this.heads[slot]!;
    this.values[i] = rate;
    this.heads[slot] = (this.heads[slot]! + 1) % LEARN_WEEKS;
    if (n < LEARN_WEEKS) this.counts[slot] = n + 1;
  }

  samples(slot: number): number[] {
    const n = this.counts[slot]!;
    return Array.from(this.values.subarray(slot * LEARN_WEEKS, slot * LEARN_WEEKS + n));
  }

  /** What the hour of the week expects; undefined while it has fewer than minWeeks samples. */
  expect(slot: number, p: BandParams): Expectation | undefined {
    const xs = this.samples(slot);
    if (xs.length < p.minWeeks || xs.length === 0) return undefined;
    const m = median(xs);
    return { expected: m * this.level, spread: MAD_SCALE * mad(xs, m) * this.level, weeks: xs.length };
  }

  /** Bytes of memory the series holds (bench/alerts.ts). */
  static readonly BYTES = SLOTS * LEARN_WEEKS * 8 + 2 * SLOTS;
}

/** Buckets of the sliding window: its resolution is window / BUCKETS. */
const BUCKETS = 30;

/** Bytes per second over the last window, in BUCKETS buckets (no per-interval list to keep). */
export class RateWindow {
  private readonly sums = new Float64Array(BUCKETS);
  private readonly ids = new Float64Array(BUCKETS).fill(-Infinity);

  add(at: number, bytes: number, windowMs: number): void {
    const id = Math.floor(at / (windowMs / BUCKETS));
    const i = ((id % BUCKETS) + BUCKETS) % BUCKETS;
    if (this.ids[i] !== id) { this.ids[i] = id; this.sums[i] = 0; }
    this.sums[i] += bytes;
  }

  /** The mean rate over [max(now − window, since), now), in bytes per second. */
  rate(now: number, windowMs: number, since: number): number {
    const bucketMs = windowMs / BUCKETS;
    const current = Math.floor((now - 1) / bucketMs);
    let sum = 0;
    for (let i = 0; i < BUCKETS; i++) if (this.ids[i]! > current - BUCKETS) sum += this.sums[i]!;
    const from = Math.max((current - BUCKETS + 1) * bucketMs, since);
    return sum / (Math.max(now - from, 1) / 1000);
  }
}
