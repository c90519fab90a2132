/**
 * Local calendar arithmetic for history: bucket boundaries (hour, day, month,
 * year) in the host's time zone and the date arguments people type.
 *
 * The zone is whatever JavaScript's Date uses: the TZ environment variable, or
 * the system's zone. Every UTC offset in use is a multiple of 15 minutes (India
 * +5:30, Nepal +5:45, Chatham +12:45), so every local hour, day, month and year
 * boundary falls on a UTC quarter hour. That is why traffic is rolled up per
 * quarter hour (src/store/schema.ts): sums over quarters are exact in every zone,
 * across DST changes included.
 */
import { FlowlensError } from '../errors.js';

export const MINUTE_MS = 60_000;
export const QUARTER_MS = 15 * MINUTE_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export type Granularity = 'hour' | 'day' | 'month';
export type CalendarUnit = Granularity | 'year';
export const GRANULARITIES: readonly Granularity[] = ['hour', 'day', 'month'];

/**
 * The last instant a date argument may name: the end of the year 9999. Date holds
 * ±8.64e15 ms, but bucket ends and labels go past the range's end, and labels
 * beyond four-digit years are not dates anyone types back.
 */
export const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Start of the local hour containing t: the last quarter-hour instant whose local minute is 0. */
function startOfLocalHour(t: number): number {
  let q = Math.floor(t / QUARTER_MS) * QUARTER_MS;
  // a DST change of 30 minutes (Lord Howe) can make an hour start 30 min late: at most 6 steps back
  for (let i = 0; i < 8 && new Date(q).getMinutes() !== 0; i++) q -= QUARTER_MS;
  return q;
}

/** Start (epoch ms) of the local calendar unit that contains t. */
export function startOf(t: number, unit: CalendarUnit): number {
  if (unit === 'hour') return startOfLocalHour(t);
  const d = new Date(t);
  if (unit === 'day') return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  if (unit === 'month') return new Date(d.getFullYear(), d.getMonth(), 1).getTime();
  return new Date(d.getFullYear(), 0, 1).getTime();
}

/** Start of the local unit after the one that starts at `start` (which must be a unit start). */
export function nextStart(start: number, unit: CalendarUnit): number {
  if (unit === 'hour') {
    let q = start + QUARTER_MS;
    for (let i = 0; i < 8 && new Date(q).getMinutes() !== 0; i++) q += QUARTER_MS;
    return q;
  }
  const d = new Date(start);
  if (unit === 'day') return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
  if (unit === 'month') return new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
  return new Date(d.getFullYear() + 1, 0, 1).getTime();
}

/** Local units shifted by n (n may be negative): e.g. the day 29 days before today. */
export function addUnits(start: number, unit: CalendarUnit, n: number): number {
  const d = new Date(start);
  if (unit === 'hour') {
    let t = start;
    for (let i = 0; i < Math.abs(n); i++) t = n > 0 ? nextStart(t, 'hour') : startOfLocalHour(t - 1);
    return t;
  }
  if (unit === 'day') return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n).getTime();
  if (unit === 'month') return new Date(d.getFullYear(), d.getMonth() + n, 1).getTime();
  return new Date(d.getFullYear() + n, 0, 1).getTime();
}

/** [start, end) of every local unit that overlaps [from, to). */
export function buckets(from: number, to: number, unit: Granularity): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let s = startOf(from, unit); s < to; s = nextStart(s, unit)) out.push([s, nextStart(s, unit)]);
  return out;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Local date "YYYY-MM-DD" of t. */
export function localDate(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** UTC offset of the zone at t, as "+05:30". */
export function utcOffset(t: number): string {
  const m = -new Date(t).getTimezoneOffset();
  return `${m < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(m) / 60))}:${pad(Math.abs(m) % 60)}`;
}

/** The name of a bucket in local time: "2026-03-08T01:00-05:00" (hour), "2026-03-08" (day), "2026-03" (month). */
export function bucketLabel(start: number, unit: Granularity): string {
  const d = new Date(start);
  if (unit === 'month') return `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
  if (unit === 'day') return localDate(start);
  // the offset tells apart the two 01:00 hours of a night when the clocks go back
  return `${localDate(start)}T${pad(d.getHours())}:${pad(d.getMinutes())}${utcOffset(start)}`;
}

/** Named ranges: the local unit that contains now, shifted by n units. */
const NAMED: Record<string, [CalendarUnit, number]> = {
  today: ['day', 0], yesterday: ['day', -1], thismonth: ['month', 0], lastmonth: ['month', -1], thisyear: ['year', 0], lastyear: ['year', -1],
};

/**
 * A date argument as people type it, in local time: "YYYY-MM-DD", "YYYY-MM",
 * "YYYY-MM-DDTHH", a named range ("today", "yesterday", "thismonth", "lastmonth",
 * "thisyear", "lastyear"), a relative one ("-12h", "-30d", "-2w", "-3mo", "-1y": that
 * many local hours, days, weeks, months or years before the current one); or epoch
 * ms (a number, from the APIs).
 * `edge` 'start' gives the first instant of the named hour/day/month, 'end' the
 * first instant after it, so a from/to pair of dates is an inclusive range.
 * A number is an instant and is returned as it is.
 */
export function parseDateArg(value: string | number, param: string, edge: 'start' | 'end', now: number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw badDate(param, String(value));
    if (value > MAX_TIME) throw new FlowlensError('FLOW_ERR_USAGE', `${param}: ${value} is after the year 9999`, `epoch milliseconds go up to ${MAX_TIME}`);
    return value;
  }
  const text = String(value).trim();
  let start: number, unit: CalendarUnit;
  // own keys only: "constructor" is in every object
  const named = Object.hasOwn(NAMED, text.toLowerCase()) ? NAMED[text.toLowerCase()] : undefined;
  const relative = /^-(\d{1,5})(h|d|w|mo|y)$/.exec(text);
  if (named) {
    [unit, start] = [named[0], addUnits(startOf(now, named[0]), named[0], named[1])];
  } else if (relative) {
    // "-30d": the local day 30 days before today (inclusive ranges: --from -30d --to today is 31 days)
    const n = Number(relative[1]);
    const u = relative[2];
    unit = u === 'h' ? 'hour' : u === 'mo' ? 'month' : u === 'y' ? 'year' : 'day';
    start = addUnits(startOf(now, unit), unit, u === 'w' ? -7 * n : -n);
  } else {
    const m = /^(\d{4})-(\d{2})(?:-(\d{2})(?:T(\d{2}))?)?$/.exec(text);
    if (!m) throw badDate(param, text);
    const [y, mo] = [Number(m[1]), Number(m[2]) - 1];
    const day = m[3] !== undefined ? Number(m[3]) : 1;
    const hour = m[4] !== undefined ? Number(m[4]) : 0;
    unit = m[4] !== undefined ? 'hour' : m[3] !== undefined ? 'day' : 'month';
    const probe = new Date(y, mo, day, 12);
    if (mo < 0 || mo > 11 || probe.getMonth() !== mo || probe.getDate() !== day || hour > 23 || y < 1970) throw badDate(param, text);
    start = unit === 'hour' ? startOf(new Date(y, mo, day, hour).getTime(), 'hour') : startOf(new Date(y, mo, day).getTime(), unit);
  }
  return edge === 'start' ? start : nextStart(start, unit);
}

/**
 * How the asker names the two ends of a range, for error messages: the JSON API
 * says start/end, gRPC from/to, the CLI --from/--to. Default: from, to.
 */
export interface RangeParams {
  from: string;
  to: string;
}

/**
 * Both ends of a date range, checked the same way for every query and door:
 * each end parsed (an end date is included), and the end after the start.
 * An end left out is null (sessions overlapping an open range).
 */
export function parseRange(from: string | number | undefined, to: string | number | undefined, now: number, params: RangeParams = { from: 'from', to: 'to' }): { from: number | null; to: number | null } {
  const start = from === undefined ? null : parseDateArg(from, params.from, 'start', now);
  const end = to === undefined ? null : parseDateArg(to, params.to, 'end', now);
  if (start !== null && end !== null && end <= start) {
    throw new FlowlensError('FLOW_ERR_USAGE', `${params.to} (${String(to)}) must come after ${params.from} (${String(from)})`,
      `both dates are included: ${params.from} 2026-03-01 and ${params.to} 2026-03-01 is one day`);
  }
  return { from: start, to: end };
}

function badDate(param: string, text: string): FlowlensError {
  return new FlowlensError('FLOW_ERR_USAGE', `${param}: "${text}" is not a date`,
    'write YYYY-MM-DD, YYYY-MM, YYYY-MM-DDTHH (local time), today, yesterday, thismonth, lastmonth, thisyear, lastyear, or -12h, -30d, -2w, -3mo, -1y');
}
