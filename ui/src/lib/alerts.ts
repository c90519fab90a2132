/**
 * The alerts as the dashboard shows them: filters and counts, the timeline's
 * bars (each alert from its start to its end, packed into as few lanes as
 * overlap allows), the chart markers at alert starts, readable values and
 * subjects, and which silence covers an alert. Plain functions over the JSON
 * API's alerts (src/alerts/types.ts), so test/ui/ runs them without a browser.
 */
import { ALERT_KINDS, type Alert, type AlertKind, type AlertState, type Severity } from '../../../src/alerts/types.js';
import { formatBytes, formatCount, formatRate } from './format.js';
import { formatDateTime, formatDay, formatTime } from './dates.js';
import { dayNumber, type DaySpan } from './ranges.js';

export type { Alert, AlertKind, AlertState, Severity };
export type Contributor = Alert['contributors'][number];
export { ALERT_KINDS };
export const ALERT_STATES: readonly AlertState[] = ['firing', 'pending', 'resolved'];

/** A silence as /api/alerts/silences lists it (src/alerts/store.ts). */
export interface Silence {
  id: number;
  match: Record<string, string>;
  until: number;
  reason: string;
  created: number;
}

/** The colour of a severity (CSS variables in app.css, one per theme). */
export function severityColour(s: Severity): string {
  return `var(--sev-${s})`;
}

/** Kinds as people say them: "port-scan" → "port scan". */
export function kindLabel(k: string): string {
  return k.replace(/-/g, ' ');
}

/** A value in its unit: bytes and bit/s as the rest of the dashboard prints them, counts with their unit. */
export function formatAlertValue(v: number, unit: string): string {
  if (unit === 'B') return formatBytes(v);
  if (unit === 'bit/s') return formatRate(v / 8);
  const n = Number.isInteger(v) || Math.abs(v) >= 100 ? formatCount(v) : v.toFixed(1);
  return unit ? `${n} ${unit}` : n;
}

/** What the alert is about, in one line: "198.51.100.9 → 10.0.0.2", "host 10.0.0.5, step 80%", "total". */
export function subjectText(subject: Record<string, string>): string {
  const { attacker, victim, ...rest } = subject;
  const parts: string[] = [];
  if (attacker !== undefined || victim !== undefined) parts.push(`${attacker ?? '?'} → ${victim ?? '?'}`);
  for (const [k, v] of Object.entries(rest)) parts.push(`${k} ${v}`);
  return parts.length ? parts.join(', ') : 'total';
}

/** Does the silence cover the alert? Every field of its match equals the alert's rule, kind or subject field (as src/alerts/store.ts decides). */
export function silenceCovers(s: Pick<Silence, 'match'>, a: Pick<Alert, 'rule' | 'kind' | 'subject'>): boolean {
  return Object.entries(s.match).every(([k, v]) => (k === 'rule' ? a.rule : k === 'kind' ? a.kind : a.subject[k]) === v);
}

/** The match that silences this alert and the later ones of its rule and subject (a quota's other steps too). */
export function silenceMatchFor(a: Pick<Alert, 'rule' | 'subject'>): Record<string, string> {
  const { step: _step, ...subject } = a.subject;
  return { rule: a.rule, ...subject };
}

export interface AlertFilter {
  state: AlertState | '';
  kind: AlertKind | '';
}

export function filterAlerts(alerts: readonly Alert[], f: AlertFilter): Alert[] {
  return alerts.filter((a) => (!f.state || a.state === f.state) && (!f.kind || a.kind === f.kind));
}

/** How many alerts of each state and kind (the filter buttons show them). */
export function alertCounts(alerts: readonly Alert[]): { state: Record<AlertState, number>; kind: Partial<Record<AlertKind, number>> } {
  const state: Record<AlertState, number> = { firing: 0, pending: 0, resolved: 0 };
  const kind: Partial<Record<AlertKind, number>> = {};
  for (const a of alerts) {
    state[a.state]++;
    kind[a.kind] = (kind[a.kind] ?? 0) + 1;
  }
  return { state, kind };
}

/** The UTC offset (ms) of a zone at an instant. */
function zoneOffset(ms: number, timeZone: string | undefined): number {
  const f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, Number(x.value)]));
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(ms / 1000) * 1000;
}

/** Epoch ms of a local date's midnight in the host's zone ("2026-03-08" in Europe/Berlin → 23:00 UTC the day before). */
export function zonedMidnight(date: string, timeZone: string | undefined): number {
  const guess = dayNumber(date) * 86_400_000;
  let t = guess - zoneOffset(guess, timeZone);
  t = guess - zoneOffset(t, timeZone); // once more: the offset at the midnight itself (a DST change that day)
  return t;
}

/** A span of host-local days as epoch ms [from, to): the end day is included. */
export function spanMs(span: DaySpan, timeZone: string | undefined): { from: number; to: number } {
  const next = new Date((dayNumber(span.to) + 1) * 86_400_000).toISOString().slice(0, 10);
  return { from: zonedMidnight(span.from, timeZone), to: zonedMidnight(next, timeZone) };
}

export interface TimelineBar {
  alert: Alert;
  /** Percent of the timeline's width. */
  left: number;
  width: number;
  lane: number;
  /** Still going (drawn up to now). */
  open: boolean;
}

/**
 * The timeline of [from, to): each alert a bar from its start (or the range's
 * start) to its end (or now, while open), at least `minWidth` percent wide so
 * a one-second alert can be seen and hovered; bars share a lane when they do
 * not overlap, earliest first, in at most `maxLanes` lanes (beyond, they overlap).
 */
export function timelineBars(alerts: readonly Alert[], from: number, to: number, now: number, minWidth = 0.6, maxLanes = 12): { bars: TimelineBar[]; lanes: number } {
  const span = Math.max(to - from, 1);
  const laneEnds: number[] = [];
  const bars: TimelineBar[] = [];
  for (const a of [...alerts].sort((x, y) => x.start - y.start || x.id - y.id)) {
    const open = a.end === undefined;
    const s = Math.max(a.start, from);
    const e = Math.min(open ? now : a.end!, to);
    if (e < from || s > to) continue;
    const left = Math.min(((s - from) / span) * 100, 100 - minWidth);
    const width = Math.min(Math.max(((e - s) / span) * 100, minWidth), 100 - left);
    let lane = laneEnds.findIndex((end) => end < left);
    if (lane < 0 && laneEnds.length < maxLanes) { lane = laneEnds.length; laneEnds.push(0); }
    // a storm of overlapping alerts: at most maxLanes rows, the bar goes where the lanes end soonest (overlapping)
    if (lane < 0) lane = laneEnds.indexOf(Math.min(...laneEnds));
    laneEnds[lane] = left + width;
    bars.push({ alert: a, left, width, lane, open });
  }
  return { bars, lanes: laneEnds.length };
}

/** Tick steps a timeline may use, in ms: round minutes, hours and days. */
const TICK_STEPS = [5 / 60, 10 / 60, 15 / 60, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 20160, 43200].map((m) => Math.round(m * 60_000));

/**
 * Ticks of a timeline of [from, to): at most `count`, on round times of the
 * host's clock (every 10 s, 15 min, 1 h, 6 h, a day: the smallest step that fits), labelled
 * by time of day (with seconds below a minute), or by day and time where the range spans more than a day and a half.
 */
export function timelineTicks(from: number, to: number, timeZone: string | undefined, count = 6, locale?: string): { at: number; left: number; label: string }[] {
  const span = to - from;
  if (!(span > 0) || count < 1) return [];
  const step = TICK_STEPS.find((s) => span / s <= count) ?? Math.ceil(span / count / 86_400_000) * 86_400_000;
  const days = span > 36 * 3600_000;
  const out: { at: number; left: number; label: string }[] = [];
  // round in the host's local time (its offset at the range's start: a DST change moves later ticks by an hour at most)
  const offset = zoneOffset(from, timeZone);
  for (let local = Math.ceil((from + offset) / step) * step; local - offset < to; local += step) {
    const at = local - offset;
    out.push({ at, left: ((at - from) / span) * 100, label: days && step >= 86_400_000 ? formatDay(at, timeZone, locale) : days ? formatDateTime(at, timeZone, locale) : formatTime(at, timeZone, locale, step < 60_000) });
  }
  return out;
}

/**
 * The part of [from, to) the timeline shows when fitted to its alerts: from a
 * little before the first start to the end, so a minute-long alert of today is
 * not a sliver at the right edge of 24 hours. The whole range when there are none.
 */
export function fitWindow(alerts: readonly Alert[], from: number, to: number): { from: number; to: number } {
  if (!alerts.length) return { from, to };
  const first = Math.max(from, Math.min(...alerts.map((a) => a.start)));
  const pad = Math.max((to - first) * 0.1, 5_000);
  return { from: Math.max(from, first - pad), to };
}

/** A marker on a time chart: an alert's start, with what to show on hover. */
export interface ChartMarker {
  id: number;
  /** Epoch seconds (the charts' x). */
  at: number;
  colour: string;
  /** What hovering the marker shows: the summary, the state and when. */
  label: string;
}

/** Markers at the starts of the alerts that began in [fromSec, toSec] (the chart's x range). */
export function chartMarkers(alerts: readonly Alert[], fromSec: number, toSec: number, timeZone?: string, locale?: string): ChartMarker[] {
  return alerts
    .filter((a) => a.start / 1000 >= fromSec && a.start / 1000 <= toSec)
    .map((a) => ({
      id: a.id, at: a.start / 1000, colour: severityColour(a.severity),
      label: `${a.summary} — ${a.severity}, ${a.state}, since ${formatTime(a.start, timeZone, locale, true)}`,
    }));
}
