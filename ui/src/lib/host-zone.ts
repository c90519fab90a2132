/**
 * The flowlens host's time zone, found from what the API already says: the
 * summary gives the local start (epoch ms) of today, this month and this year.
 * The zone in which all three instants are local midnight of those dates is the
 * host's (three instants months apart tell DST rules apart). The browser's own
 * zone is tried first, then UTC, then every zone the browser knows.
 */

export interface Midnight {
  /** Local date "YYYY-MM-DD". */
  date: string;
  /** Epoch ms the host says that date starts at. */
  start: number;
}

function isMidnight(fmt: Intl.DateTimeFormat, m: Midnight): boolean {
  const p: Record<string, string> = {};
  for (const part of fmt.formatToParts(m.start)) p[part.type] = part.value;
  return `${p.year}-${p.month}-${p.day}` === m.date && p.hour === '00' && p.minute === '00' && p.second === '00';
}

function formatter(timeZone: string): Intl.DateTimeFormat | null {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  } catch {
    return null;
  }
}

/** The first zone of `preferred`, then `candidates`, in which every mark is local midnight; undefined if none. */
export function findZone(marks: readonly Midnight[], preferred: readonly string[], candidates: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const zone of [...preferred, ...candidates]) {
    if (seen.has(zone)) continue;
    seen.add(zone);
    const fmt = formatter(zone);
    if (fmt && marks.every((m) => isMidnight(fmt, m))) return zone;
  }
  return undefined;
}

/** Midnights from a summary's today ("2026-03-08"), month ("2026-03") and year ("2026") periods. */
export function summaryMidnights(s: { today?: { label: string; start: number }; month?: { label: string; start: number }; year?: { label: string; start: number } }): Midnight[] {
  const out: Midnight[] = [];
  if (s.today) out.push({ date: s.today.label, start: s.today.start });
  if (s.month) out.push({ date: `${s.month.label}-01`, start: s.month.start });
  if (s.year) out.push({ date: `${s.year.label}-01-01`, start: s.year.start });
  return out;
}

export function hostZone(marks: readonly Midnight[]): string | undefined {
  const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const all = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return findZone(marks, [browser, 'UTC'], all);
}
