/**
 * Every date and time the dashboard prints, in one style: the browser's locale
 * (its order of day and month, its clock), month names instead of month
 * numbers (so "2 Dec 2026" is never read as 12 February), and the flowlens
 * host's time zone (lib/host-zone.ts), so "today" is the host's today.
 * `locale` is the browser's unless a test passes one.
 */

export type Granularity = 'hour' | 'day' | 'month';

const cache = new Map<string, Intl.DateTimeFormat>();

function formatter(options: Intl.DateTimeFormatOptions, timeZone: string | undefined, locale: string | undefined): Intl.DateTimeFormat {
  const key = `${locale ?? ''}|${timeZone ?? ''}|${JSON.stringify(options)}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { ...options, timeZone });
    cache.set(key, f);
  }
  return f;
}

const TIME: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit' };
const TIME_S: Intl.DateTimeFormatOptions = { hour: '2-digit', minute: '2-digit', second: '2-digit' };
const DAY: Intl.DateTimeFormatOptions = { day: 'numeric', month: 'short' };
const DAY_Y: Intl.DateTimeFormatOptions = { day: 'numeric', month: 'short', year: 'numeric' };
const MONTH: Intl.DateTimeFormatOptions = { month: 'short' };
const MONTH_Y: Intl.DateTimeFormatOptions = { month: 'short', year: 'numeric' };
const YEAR: Intl.DateTimeFormatOptions = { year: 'numeric' };

/** "19:53" (or "7:53 PM" where the locale says so). */
export function formatTime(ms: number, timeZone?: string, locale?: string, seconds = false): string {
  return formatter(seconds ? TIME_S : TIME, timeZone, locale).format(ms);
}

/** "2 Dec 2026". */
export function formatDay(ms: number, timeZone?: string, locale?: string): string {
  return formatter(DAY_Y, timeZone, locale).format(ms);
}

/** "2 Dec 2026, 19:53". */
export function formatDateTime(ms: number, timeZone?: string, locale?: string): string {
  return `${formatDay(ms, timeZone, locale)}, ${formatTime(ms, timeZone, locale)}`;
}

/** A history bucket's name: "24 Nov, 08:00" (hour), "24 Nov 2026" (day), "Nov 2026" (month). */
export function bucketName(start: number, granularity: Granularity, timeZone?: string, locale?: string): string {
  if (granularity === 'hour') return `${formatter(DAY, timeZone, locale).format(start)}, ${formatTime(start, timeZone, locale)}`;
  return formatter(granularity === 'day' ? DAY_Y : MONTH_Y, timeZone, locale).format(start);
}

/** "just now", "42 s ago", "3 min ago", "2 h ago", "5 d ago"; the future reads "in 3 min". */
export function formatRelative(ms: number, now: number): string {
  const d = Math.round((now - ms) / 1000);
  const a = Math.abs(d);
  const text = a < 60 ? `${a} s` : a < 3600 ? `${Math.floor(a / 60)} min` : a < 86_400 ? `${Math.floor(a / 3600)} h` : `${Math.floor(a / 86_400)} d`;
  if (a < 5) return 'just now';
  return d >= 0 ? `${text} ago` : `in ${text}`;
}

/** Calendar parts of an instant in a zone, for deciding where a label must say more. */
function calendar(ms: number, timeZone: string | undefined): { y: number; m: number; d: number } {
  const parts = formatter({ year: 'numeric', month: 'numeric', day: 'numeric' }, timeZone, 'en-US').formatToParts(ms);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return { y: get('year'), m: get('month'), d: get('day') };
}

/**
 * Labels of a history chart's ticks, one per tick and none repeated: hours as
 * "08:00" (with the day on a second line where the range spans days), days as
 * "24 Nov" (the year on a second line where it changes, and on the first tick
 * of a range spanning years), months as "Nov" (the year on a second line at the
 * first tick and where it changes).
 */
export function tickLabels(ticks: readonly number[], granularity: Granularity, timeZone?: string, locale?: string): string[] {
  if (!ticks.length) return [];
  const first = calendar(ticks[0]!, timeZone);
  const last = calendar(ticks[ticks.length - 1]!, timeZone);
  const spansDays = first.y !== last.y || first.m !== last.m || first.d !== last.d;
  const spansYears = first.y !== last.y;
  let previousYear = -1;
  return ticks.map((ms, i) => {
    const c = calendar(ms, timeZone);
    const newYear = c.y !== previousYear;
    previousYear = c.y;
    if (granularity === 'hour') {
      const time = formatTime(ms, timeZone, locale);
      return spansDays ? `${time}\n${formatter(DAY, timeZone, locale).format(ms)}` : time;
    }
    if (granularity === 'day') {
      const day = formatter(DAY, timeZone, locale).format(ms);
      return (i === 0 && spansYears) || (i > 0 && newYear) ? `${day}\n${formatter(YEAR, timeZone, locale).format(ms)}` : day;
    }
    const month = formatter(MONTH, timeZone, locale).format(ms);
    return i === 0 || newYear ? `${month}\n${formatter(YEAR, timeZone, locale).format(ms)}` : month;
  });
}

/** Roughly how wide one tick label is, in CSS pixels, at the chart's 11 px font. */
export const TICK_LABEL_PX: Record<Granularity, number> = { hour: 46, day: 52, month: 40 };

/** Strides (in buckets) a chart may step its ticks by, smallest first: each divides its calendar unit evenly. */
const STRIDES: Record<Granularity, number[]> = {
  hour: [1, 2, 3, 4, 6, 12, 24, 48, 72, 168, 336, 720],
  day: [1, 2, 3, 7, 14, 28, 56, 91, 182, 364],
  month: [1, 2, 3, 4, 6, 12, 24, 60],
};

/**
 * Which buckets get a tick: at most as many as fit the width without the
 * labels touching, evenly strided from the first bucket. Ticks are at bucket
 * starts (never between buckets), so every label names one whole bucket.
 */
export function bucketTicks(starts: readonly number[], granularity: Granularity, widthPx: number): number[] {
  if (!starts.length) return [];
  const fit = Math.max(1, Math.floor(widthPx / (TICK_LABEL_PX[granularity] + 12)));
  const stride = STRIDES[granularity].find((s) => Math.ceil(starts.length / s) <= fit) ?? Math.ceil(starts.length / fit);
  const out: number[] = [];
  for (let i = 0; i < starts.length; i += stride) out.push(starts[i]!);
  return out;
}
