/**
 * The detail the control plane drops when it falls behind (issue 11): an
 * interval's talkers cut to the largest keys of each dimension, everything
 * else summed into one "other" row (OTHER_KEY). The traffic rows and the
 * ended sessions are untouched, and every dimension's rows still sum to the
 * same total, so history totals and the sum rule stay exact; only which small
 * key had what is lost, for that interval. The monitor does it, and counts it
 * (MonitorStatus.coarsenedIntervals).
 */
import { TALKER_DIMENSIONS, TALKER_SCOPES, type IntervalStats, type TalkerDimension, type TalkerRow } from './types.js';
import { addNumbers, OTHER_KEY, RANKED_ROWS, zeroCounts } from './talkers.js';

/**
 * Rows kept per dimension in a coarsened interval: the ranked rows of an
 * interval (the live query keeps as many per interval anyway, api/live-query.ts),
 * and the history's hourly top N and the series budgets of /metrics and
 * InfluxDB are far below it.
 */
export const COARSE_TALKERS = RANKED_ROWS;

/** The rows (ranked by bytes, as IntervalStats keeps them; `keep` ≤ RANKED_ROWS) cut to `keep` and one "other" row after them. */
function cut(rows: TalkerRow[], keep: number): TalkerRow[] {
  if (rows.length <= keep) return rows;
  const kept: TalkerRow[] = [];
  const other = zeroCounts();
  for (const r of rows) {
    if (r.key !== OTHER_KEY && kept.length < keep) kept.push(r);
    else addNumbers(other, r);
  }
  kept.push({ key: OTHER_KEY, ...other });
  return kept;
}

function cutAll(talkers: Record<TalkerDimension, TalkerRow[]>, keep: number): Record<TalkerDimension, TalkerRow[]> {
  return Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, cut(talkers[d], keep)])) as Record<TalkerDimension, TalkerRow[]>;
}

/** Whether any dimension has more rows than `keep`: only then is there anything to coarsen. */
export function hasDetailBeyond(stats: IntervalStats, keep = COARSE_TALKERS): boolean {
  return TALKER_DIMENSIONS.some((d) => stats.talkers[d].length > keep);
}

/** A copy of `stats` whose talkers are cut to `keep` rows + "other" per dimension and scope. */
export function coarsened(stats: IntervalStats, keep = COARSE_TALKERS): IntervalStats {
  const out: IntervalStats = { ...stats, talkers: cutAll(stats.talkers, keep) };
  const scoped = stats.scopedTalkers;
  if (scoped) out.scopedTalkers = Object.fromEntries(TALKER_SCOPES.map((s) => [s, cutAll(scoped[s], keep)])) as NonNullable<IntervalStats['scopedTalkers']>;
  return out;
}
