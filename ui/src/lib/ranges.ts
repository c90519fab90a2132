/**
 * Date ranges for the History view. Ranges are local calendar dates
 * ("2026-03-08") of the flowlens host, which the history API takes as they are
 * and interprets in the host's time zone; so the browser's own zone never
 * shifts a day boundary. "Today" comes from the host too (the summary's label),
 * and everything here is plain calendar arithmetic on year-month-day.
 */

export type Granularity = 'hour' | 'day' | 'month';
export const GRANULARITIES: readonly Granularity[] = ['hour', 'day', 'month'];

/** A range of whole local days, both ends included: "2026-03-01" … "2026-03-31". */
export interface DaySpan {
  from: string;
  to: string;
}

export const QUICK_RANGES = [
  { id: 'today', label: 'Today' },
  { id: 'yesterday', label: 'Yesterday' },
  { id: '7d', label: 'Last 7 days' },
  { id: '30d', label: 'Last 30 days' },
  { id: 'thisMonth', label: 'This month' },
  { id: 'lastMonth', label: 'Last month' },
  { id: 'thisYear', label: 'This year' },
] as const;
export type QuickRange = (typeof QUICK_RANGES)[number]['id'];

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of a valid "YYYY-MM-DD"; throws on anything else (including "2026-02-30"). */
export function dayNumber(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m) throw new RangeError(`not a date (YYYY-MM-DD): ${JSON.stringify(date)}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) {
    throw new RangeError(`no such day: ${date}`);
  }
  return Math.round(t / 86_400_000);
}

/** "YYYY-MM-DD" of a day number (see dayNumber). */
export function dateOfDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

export function isDate(s: string): boolean {
  try {
    dayNumber(s);
    return true;
  } catch {
    return false;
  }
}

export function addDays(date: string, n: number): string {
  return dateOfDay(dayNumber(date) + n);
}

function parts(date: string): [number, number, number] {
  dayNumber(date);
  return [Number(date.slice(0, 4)), Number(date.slice(5, 7)), Number(date.slice(8, 10))];
}

/** First and last day of the month `offset` months from the month of `date`. */
export function monthOf(date: string, offset = 0): DaySpan {
  const [y, m] = parts(date);
  const first = new Date(Date.UTC(y, m - 1 + offset, 1));
  const last = new Date(Date.UTC(y, m + offset, 0));
  return { from: first.toISOString().slice(0, 10), to: last.toISOString().slice(0, 10) };
}

/** The quick range as days, given the host's today. "This month"/"this year" end today, not in the future. */
export function quickRange(q: QuickRange, today: string): DaySpan {
  switch (q) {
    case 'today': return { from: today, to: today };
    case 'yesterday': { const y = addDays(today, -1); return { from: y, to: y }; }
    case '7d': return { from: addDays(today, -6), to: today };
    case '30d': return { from: addDays(today, -29), to: today };
    case 'thisMonth': return { from: monthOf(today).from, to: today };
    case 'lastMonth': return monthOf(today, -1);
    case 'thisYear': return { from: `${today.slice(0, 4)}-01-01`, to: today };
  }
}

/** Days in a span, both ends counted. */
export function spanDays(span: DaySpan): number {
  return dayNumber(span.to) - dayNumber(span.from) + 1;
}

/** Checks a span a person typed; returns why it is not usable, or null when it is. */
export function spanProblem(span: DaySpan): string | null {
  if (!isDate(span.from)) return `start "${span.from}" is not a date (YYYY-MM-DD)`;
  if (!isDate(span.to)) return `end "${span.to}" is not a date (YYYY-MM-DD)`;
  if (dayNumber(span.to) < dayNumber(span.from)) return 'the end is before the start';
  return null;
}

/** Most buckets a chart gets: beyond this bars are thinner than a pixel on a laptop screen. */
export const MAX_BUCKETS = 800;

/** Buckets of a span at a granularity (hours ignore DST: close enough for a limit). */
export function bucketCount(span: DaySpan, g: Granularity): number {
  const days = spanDays(span);
  if (g === 'hour') return days * 24;
  if (g === 'day') return days;
  const [y1, m1] = parts(span.from);
  const [y2, m2] = parts(span.to);
  return (y2 - y1) * 12 + (m2 - m1) + 1;
}

/** Granularities that make a readable chart of the span (at most MAX_BUCKETS buckets). */
export function allowedGranularities(span: DaySpan): Granularity[] {
  return GRANULARITIES.filter((g) => bucketCount(span, g) <= MAX_BUCKETS);
}

/**
 * The granularity History picks by itself: hours up to two days, days up to
 * three months, months beyond — about 24 to 92 bars, enough detail without noise.
 */
export function autoGranularity(span: DaySpan): Granularity {
  const days = spanDays(span);
  if (days <= 2) return 'hour';
  if (days <= 92) return 'day';
  return 'month';
}

/** Which quick range a span equals (to highlight its button), or null. */
export function matchQuickRange(span: DaySpan, today: string): QuickRange | null {
  for (const { id } of QUICK_RANGES) {
    const r = quickRange(id, today);
    if (r.from === span.from && r.to === span.to) return id;
  }
  return null;
}

/** A span in the browser's locale: "1 – 31 Mar 2026" (en-GB), "Mar 1 – 31, 2026" (en-US). */
export function spanLabel(span: DaySpan, locale?: string): string {
  // calendar dates, so formatted in UTC: no zone can move them to another day
  const fmt = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
  const from = dayNumber(span.from) * 86_400_000;
  const to = dayNumber(span.to) * 86_400_000;
  return from === to ? fmt.format(from) : fmt.formatRange(from, to);
}
