/**
 * What the store's queries take and return: plain JSON-ready objects, the
 * contract with the CLI and the JSON/gRPC APIs. Times are epoch ms; bytes are
 * L3 bytes; up is local → remote, down is remote → local.
 */
import type { Scope, SessionRecord, TalkerDimension, TalkerScope, TrafficScope, UpDown } from '../flows/types.js';
import type { Granularity, RangeParams } from './time.js';
import type { TalkerTotal } from '../flows/talkers.js';
import type { SessionFilter } from '../flows/session-filter.js';

export type { Granularity, RangeParams } from './time.js';

/** A date as people type it ("2026-03-08", "2026-03", "2026-03-08T14", "today", "yesterday"; local time) or epoch ms. */
export type DateArg = string | number;

/** Which traffic to count; every field narrows. */
export interface TrafficFilter {
  iface?: string;
  direction?: UpDown;
  scope?: TrafficScope;
}

export interface Totals {
  up: number;
  down: number;
  /** up + down */
  total: number;
  packetsUp: number;
  packetsDown: number;
}

export interface PeriodTotals extends Totals {
  /** [start, end) of the period, epoch ms; end is the end of the calendar unit, not now. */
  start: number;
  end: number;
  /** "2026-03-08", "2026-03", "2026". */
  label: string;
}

export interface Summary {
  /** The store's clock when asked. */
  at: number;
  today: PeriodTotals;
  month: PeriodTotals;
  year: PeriodTotals;
}

export interface HistoryQuery extends TrafficFilter {
  /** Start: a date's first instant, or epoch ms (rounded down to its bucket). */
  from: DateArg;
  /** End, inclusive for dates ("to 2026-03-08" includes that day), exclusive for epoch ms. */
  to: DateArg;
  granularity: Granularity;
  /** The range's parameter names in errors. */
  params?: RangeParams;
}

export interface HistoryBucket extends Totals {
  /** [start, end) in epoch ms: local hour / day / month (a day has 23 or 25 hours when DST changes). */
  start: number;
  end: number;
  /** Local name: "2026-03-08T01:00-05:00", "2026-03-08" or "2026-03". */
  label: string;
}

export interface History {
  granularity: Granularity;
  from: number;
  to: number;
  /** Every bucket of the range, zero-filled, oldest first. */
  buckets: HistoryBucket[];
  /** Sum of the buckets. */
  total: Totals;
}

export interface DateRange {
  /** Local dates "YYYY-MM-DD" of the first and last quarter hour with traffic; null when there is none. */
  first: string | null;
  last: string | null;
  /** Epoch ms of the start of the first and last quarter hour with traffic. */
  firstTime: number | null;
  lastTime: number | null;
}

export type { TalkerTotal } from '../flows/talkers.js';

export interface TopQuery {
  dimension: TalkerDimension;
  /** Only internet or only LAN traffic's talkers (default: all). */
  scope?: TalkerScope | '';
  /** Only up or only down bytes, ranked by them (default: both, ranked by the total). */
  direction?: string;
  from: DateArg;
  to: DateArg;
  /** Rows to return (default 10). */
  limit?: number;
  /** The range's parameter names in errors. */
  params?: RangeParams;
}

export interface TopTalkers {
  dimension: TalkerDimension;
  /**
   * [from, to) actually counted: talkers are kept per UTC hour, so the range is
   * widened to whole UTC hours (differs from the asked range only in zones whose
   * offset is not a whole hour, or for epoch-ms bounds inside an hour).
   */
  from: number;
  to: number;
  /** The largest keys by bytes, largest first. */
  rows: TalkerTotal[];
  /** Everything not in rows (smaller keys, and keys folded when hours were cut to the top N); key "". */
  other: TalkerTotal;
  /** rows + other: all talker traffic of the range (traffic of scope 'unknown' has no talkers). */
  total: TalkerTotal;
}

/** The live snapshot of the last flush window. */
export interface LiveTop {
  dimension: TalkerDimension;
  /** The flush window the rows cover. */
  from: number;
  to: number;
  rows: TalkerTotal[];
  other: TalkerTotal;
  total: TalkerTotal;
}

export type SessionSort = 'lastSeen' | 'firstSeen' | 'bytes' | 'packets' | 'rate';

export type { SessionFilter } from '../flows/session-filter.js';

export interface SessionQuery {
  filter?: SessionFilter;
  /** Largest / latest first; default lastSeen. */
  sort?: SessionSort;
  /** Default 100, at most 10000. */
  limit?: number;
  /** nextCursor of the previous page. */
  cursor?: string;
  /** Ended sessions (the log) or the active ones of the live snapshot; default 'ended'. */
  source?: 'ended' | 'live';
  /** Log only: sessions that overlap [from, to). */
  from?: DateArg;
  to?: DateArg;
  /** The range's parameter names in errors. */
  params?: RangeParams;
}

export interface SessionPage {
  source: 'ended' | 'live';
  sessions: SessionRecord[];
  /** Pass as cursor for the next page; null on the last page. */
  nextCursor: string | null;
  /** Live only: when the snapshot was taken (null if no running flowlens has written one). */
  at: number | null;
}

export type { TalkerDimension, TrafficScope, UpDown, Scope, SessionRecord };
