/**
 * History buckets as chart columns. The API answers every bucket of a range,
 * zero-filled; the chart stacks layers (LAN, internet down, internet up; or
 * download, upload), so the top of each bar is the bucket's total.
 */

export interface BucketTotals {
  /** Epoch ms of the bucket's start. */
  start: number;
  end: number;
  up: number;
  down: number;
}

/** One layer of a stacked bar chart: a name, a colour (a CSS variable such as "--up"), a value per bucket. */
export interface BarLayer {
  label: string;
  colour: string;
  values: number[];
}

/** The top of each layer when stacked (cumulative sums), bottom layer first. */
export function stackLayers(layers: readonly BarLayer[]): number[][] {
  const out: number[][] = [];
  let below: number[] = [];
  for (const l of layers) {
    const top = l.values.map((v, i) => v + (below[i] ?? 0));
    out.push(top);
    below = top;
  }
  return out;
}

/** How the History view splits a bar: by scope (the default: what went over the internet, what stayed on the LAN) or by direction. */
export type Breakdown = 'scope' | 'direction';

export interface HistoryColumns {
  /** Bucket starts in epoch seconds (uPlot's x unit). */
  xs: number[];
  layers: BarLayer[];
}

/**
 * Chart columns of a range. By direction: download under upload. By scope:
 * LAN under internet download under internet upload, from three answers for
 * the same range (all traffic, scope=internet, scope=lan); what is in neither
 * (counted while the kernel's flow table was full) is its own layer when there
 * is any. Until the scoped answers arrive, the direction split is shown.
 */
export function historyColumns(all: readonly BucketTotals[], breakdown: Breakdown, internet?: readonly BucketTotals[] | null, lan?: readonly BucketTotals[] | null): HistoryColumns {
  const xs = all.map((b) => b.start / 1000);
  const scoped = breakdown === 'scope' && internet && lan && internet.length === all.length && lan.length === all.length;
  if (!scoped) {
    return { xs, layers: [
      { label: 'Download', colour: '--down', values: all.map((b) => b.down) },
      { label: 'Upload', colour: '--up', values: all.map((b) => b.up) },
    ] };
  }
  const lanTotal = lan.map((b) => b.up + b.down);
  const rest = all.map((b, i) => Math.max(0, b.up + b.down - internet[i]!.up - internet[i]!.down - lanTotal[i]!));
  const layers: BarLayer[] = [
    { label: 'LAN', colour: '--lan', values: lanTotal },
    { label: 'Internet down', colour: '--down', values: internet.map((b) => b.down) },
    { label: 'Internet up', colour: '--up', values: internet.map((b) => b.up) },
  ];
  if (rest.some((v) => v > 0)) layers.unshift({ label: 'Unclassified (table full)', colour: '--muted', values: rest });
  return { xs, layers };
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
