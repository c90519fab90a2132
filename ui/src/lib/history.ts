/**
 * History buckets as chart columns. The API answers every bucket of a range,
 * zero-filled; the chart stacks download under upload, so the top of each bar is
 * the total and its lower part the download.
 */

export interface BucketTotals {
  /** Epoch ms of the bucket's start. */
  start: number;
  end: number;
  up: number;
  down: number;
}

export interface StackedColumns {
  /** Bucket starts in epoch seconds (uPlot's x unit). */
  xs: number[];
  /** up + down: the height of the whole bar. */
  total: number[];
  down: number[];
  up: number[];
}

export function stackedColumns(buckets: readonly BucketTotals[]): StackedColumns {
  const out: StackedColumns = { xs: [], total: [], down: [], up: [] };
  for (const b of buckets) {
    out.xs.push(b.start / 1000);
    out.up.push(b.up);
    out.down.push(b.down);
    out.total.push(b.up + b.down);
  }
  return out;
}

/** Sum of a range's buckets. */
export function sumBuckets(buckets: readonly BucketTotals[]): { up: number; down: number; total: number } {
  let up = 0;
  let down = 0;
  for (const b of buckets) { up += b.up; down += b.down; }
  return { up, down, total: up + down };
}

/** The busiest bucket (by total), or null for an empty or all-zero range. */
export function peakBucket<T extends BucketTotals>(buckets: readonly T[]): T | null {
  let best: T | null = null;
  for (const b of buckets) if (b.up + b.down > 0 && (!best || b.up + b.down > best.up + best.down)) best = b;
  return best;
}

/** The API's history answer (buckets with a totals object) as flat bucket totals. */
export function bucketsOf(h: { buckets: { start: number; end: number; label: string; totals?: { up: number; down: number } }[] } | null | undefined): (BucketTotals & { label: string })[] {
  return (h?.buckets ?? []).map((b) => ({ start: b.start, end: b.end, label: b.label, up: b.totals?.up ?? 0, down: b.totals?.down ?? 0 }));
}
