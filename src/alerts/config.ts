/**
 * The alerts' settings: the rules and receivers of the settings file (checked
 * here, every wrong field named at once through config/problems), and the
 * built-in detectors' thresholds (plain settings in config/schema.ts).
 *
 *   alerts:
 *     rules:
 *       - name: wan-download
 *         metric: bit/s            # bytes packets bit/s packets/s sessions new-sessions/s distinct-remotes distinct-ports
 *         window: 10s
 *         subject: {scope: internet, direction: down}   # or {iface: eth0}, {host: 10.0.0.5}, {each: host}, ...
 *         above: 100M              # or below:
 *         for: 30s
 *         hysteresis: 10%
 *       - name: nas-daily-cap
 *         quota: {period: day, limit: 10GB, steps: [80, 100]}
 *         subject: {host: 10.0.0.5}
 *     webhooks:
 *       - {name: ops, url: http://127.0.0.1:9000/hook, secret: s3cret, rateLimit: 10}
 */
import { FlowlensError } from '../errors.js';
import { Problems } from '../config/problems.js';
import { parseSettingDuration, parseSize } from '../config/units.js';

export const METRICS = ['bytes', 'packets', 'bit/s', 'packets/s', 'sessions', 'new-sessions/s', 'distinct-remotes', 'distinct-ports'] as const;
export type Metric = (typeof METRICS)[number];

/** Subject fields that name one key of a talker dimension (the IntervalStats talkers). */
export const KEY_SUBJECTS = { host: 'host', remote: 'ip', port: 'port', proto: 'proto', country: 'country', asn: 'asn', domain: 'domain' } as const;
export type KeySubject = keyof typeof KEY_SUBJECTS;
/** What "each" may split by: the key subjects and the interface. */
export const EACH = ['iface', ...Object.keys(KEY_SUBJECTS)] as readonly string[];

/** What a rule measures: every field is a condition (absent: any); `each` splits it into one alert per key. */
export interface Subject {
  iface?: string;
  scope?: 'internet' | 'lan';
  direction?: 'up' | 'down';
  host?: string;
  remote?: string;
  port?: string;
  proto?: string;
  country?: string;
  asn?: string;
  domain?: string;
  each?: string;
}

export type Severity = 'info' | 'warning' | 'critical';
const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

export interface ThresholdRule {
  kind: 'threshold';
  name: string;
  metric: Metric;
  windowMs: number;
  subject: Subject;
  /** Fires above (or below) the threshold. */
  op: 'above' | 'below';
  threshold: number;
  forMs: number;
  /** Resolves once the value is this fraction on the good side of the threshold. */
  hysteresis: number;
  severity: Severity;
}

export interface QuotaRule {
  kind: 'quota';
  name: string;
  subject: Subject;
  period: 'day' | 'month';
  /** Bytes (up + down, or the subject's direction) per period. */
  limit: number;
  /** Percentages of the limit, each one alert, ascending. */
  steps: number[];
  severity: Severity;
}

export type Rule = ThresholdRule | QuotaRule;

export interface WebhookReceiver {
  name: string;
  url: string;
  /** HMAC-SHA256 key of the X-Flowlens-Signature header. */
  secret?: string;
  /** Requests per minute, at most. */
  rateLimit: number;
  timeoutMs: number;
}

export interface EmailReceiver {
  name: string;
  /** smtp://user:pass@host:port or smtps:// */
  url: string;
  from: string;
  to: string[];
  rateLimit: number;
}

/** The built-in detectors; a threshold of 0 turns one off. */
export interface DetectorConfig {
  /** Distinct refused/unanswered ports of one host from one source within the window. */
  portScanPorts: number;
  /** Distinct refused/unanswered hosts on one port from one source within the window. */
  hostSweepHosts: number;
  scanWindowMs: number;
  /** Half-open SYNs per second to one victim. */
  synFloodRate: number;
  /** UDP packets per second to one victim. */
  udpFloodRate: number;
  /** ICMP packets per second to one victim. */
  icmpFloodRate: number;
  /** Bytes per second of unsolicited/amplified UDP answers from service ports to one victim. */
  amplificationRate: number;
  /** Traffic anomaly: median absolute deviations above the hour-of-week baseline (0: off). */
  anomalyDeviations: number;
  /** ... and at least this many times the baseline ... */
  anomalyRatio: number;
  /** ... and at least this many bytes per second above it. */
  anomalyMinRate: number;
  /** The recent rate is the mean over this window. */
  anomalyWindowMs: number;
  /** Samples (weeks) an hour of the week needs before it can fire. */
  anomalyMinWeeks: number;
  /** The largest local hosts of the learned weeks with their own baseline. */
  anomalyDevices: number;
  /** Info alerts when a device talks to a country / ASN / domain new to it. */
  newCountry: boolean;
  newAsn: boolean;
  newDomain: boolean;
  /** What those learn from the session log. */
  newPeerPeriodMs: number;
}

export interface AlertsConfig {
  enabled: boolean;
  rules: Rule[];
  webhooks: WebhookReceiver[];
  emails: EmailReceiver[];
  detectors: DetectorConfig;
  /** Sessions and talkers kept per alert. */
  contributors: number;
  /** Notifications waiting to be sent, at most (the oldest are dropped beyond it, and counted). */
  queueLimit: number;
}

/** "100M", "1.5G", "10GB", "64KiB", 5e6 → a number (decimal prefixes; binary ones as sizes). */
export function parseQuantity(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw !== 'string') return NaN;
  const t = raw.trim().replace(/(bit\/s|bps|bit|\/s)$/i, '').trim();
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)B?$/.exec(t);
  if (m) return Number(m[1]) * { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return parseSize(t);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

const SUBJECT_FIELDS = ['iface', 'scope', 'direction', ...Object.keys(KEY_SUBJECTS), 'each'];

function parseSubject(raw: unknown, where: string, p: Problems): Subject {
  if (raw === undefined || raw === 'total') return {};
  if (!isObject(raw)) { p.add(`${where} must be total or a mapping like {host: 10.0.0.5} or {each: host}`); return {}; }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!SUBJECT_FIELDS.includes(k)) { p.add(`${where} has an unknown field "${k}"`, `a subject has ${SUBJECT_FIELDS.join(', ')}`); continue; }
    const text = String(v ?? '').trim();
    if (!text) { p.add(`${where}.${k} is empty`); continue; }
    if (k === 'scope' && text !== 'internet' && text !== 'lan') p.add(`${where}.scope must be internet or lan, not ${JSON.stringify(v)}`);
    else if (k === 'direction' && text !== 'up' && text !== 'down') p.add(`${where}.direction must be up or down, not ${JSON.stringify(v)}`);
    else if (k === 'each' && !EACH.includes(text)) p.add(`${where}.each must be one of ${EACH.join(', ')}, not ${JSON.stringify(v)}`);
    else if (k === 'asn') out.asn = /^\d+$/.test(text) ? `AS${text}` : text.toUpperCase();
    else if (k === 'country') out.country = text.toUpperCase();
    else out[k] = text;
  }
  const keys = Object.keys(KEY_SUBJECTS).filter((k) => k in out);
  if (keys.length > 1) p.add(`${where} names ${keys.join(' and ')}: a subject names at most one of ${Object.keys(KEY_SUBJECTS).join(', ')}`);
  if (out.each && keys.length) p.add(`${where} has both each and ${keys[0]}`);
  return out as Subject;
}

function duration(raw: unknown, where: string, p: Problems, min = 0): number {
  const ms = typeof raw === 'string' || typeof raw === 'number' ? parseSettingDuration(String(raw)) : NaN;
  if (!Number.isFinite(ms) || ms < min) { p.add(`${where} must be a duration like 10s or 5m, not ${JSON.stringify(raw)}`); return min; }
  return ms;
}

function severity(raw: unknown, where: string, p: Problems, fallback: Severity): Severity {
  if (raw === undefined) return fallback;
  if (!SEVERITIES.includes(raw as Severity)) { p.add(`${where} must be one of ${SEVERITIES.join(', ')}, not ${JSON.stringify(raw)}`); return fallback; }
  return raw as Severity;
}

function parseRule(raw: unknown, where: string, p: Problems, names: Set<string>): Rule | undefined {
  if (!isObject(raw)) { p.add(`${where} must be a rule like {name: x, metric: bit/s, above: 100M}`); return undefined; }
  const name = typeof raw.name === 'string' && raw.name.trim() ? raw.name.trim() : '';
  if (!name) p.add(`${where}.name is missing`, 'every rule has a name (alerts and silences refer to it)');
  else if (names.has(name)) p.add(`${where}.name "${name}" is used by another rule`);
  names.add(name);
  const subject = parseSubject(raw.subject, `${where}.subject`, p);
  if (raw.quota !== undefined) {
    const known = ['name', 'quota', 'subject', 'severity'];
    for (const k of Object.keys(raw)) if (!known.includes(k)) p.add(`${where} has an unknown field "${k}"`, `a quota rule has ${known.join(', ')}`);
    const q = raw.quota;
    if (!isObject(q)) { p.add(`${where}.quota must be {period: day, limit: 10GB, steps: [80, 100]}`); return undefined; }
    if (q.period !== 'day' && q.period !== 'month') p.add(`${where}.quota.period must be day or month, not ${JSON.stringify(q.period)}`);
    const limit = parseQuantity(q.limit);
    if (!(limit > 0)) p.add(`${where}.quota.limit must be a size like 10GB, not ${JSON.stringify(q.limit)}`);
    const steps = q.steps === undefined ? [80, 100] : Array.isArray(q.steps) ? q.steps.map(Number) : [NaN];
    if (!steps.length || steps.some((s) => !(s > 0 && s <= 1000))) p.add(`${where}.quota.steps must be percentages like [80, 100], not ${JSON.stringify(q.steps)}`);
    return { kind: 'quota', name, subject, period: q.period as 'day' | 'month', limit, steps: [...steps].sort((a, b) => a - b), severity: severity(raw.severity, `${where}.severity`, p, 'warning') };
  }
  const known = ['name', 'metric', 'window', 'subject', 'above', 'below', 'for', 'hysteresis', 'severity'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) p.add(`${where} has an unknown field "${k}"`, `a rule has ${known.join(', ')} (or quota)`);
  if (!METRICS.includes(raw.metric as Metric)) p.add(`${where}.metric must be one of ${METRICS.join(', ')}, not ${JSON.stringify(raw.metric)}`);
  const has = (k: string) => raw[k] !== undefined;
  if (has('above') === has('below')) p.add(`${where} needs exactly one of above: or below:`);
  const op = has('below') ? 'below' : 'above';
  const threshold = parseQuantity(raw[op]);
  if (!Number.isFinite(threshold) || threshold < 0) p.add(`${where}.${op} must be a number like 100M or 5000, not ${JSON.stringify(raw[op])}`);
  let hysteresis = 0.1;
  if (raw.hysteresis !== undefined) {
    const text = String(raw.hysteresis).trim();
    hysteresis = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text);
    if (!(hysteresis >= 0 && hysteresis < 1)) { p.add(`${where}.hysteresis must be a fraction like 10% or 0.1, not ${JSON.stringify(raw.hysteresis)}`); hysteresis = 0.1; }
  }
  return {
    kind: 'threshold', name, subject, metric: raw.metric as Metric, op, threshold,
    windowMs: raw.window === undefined ? 0 : duration(raw.window, `${where}.window`, p, 0),
    forMs: raw.for === undefined ? 0 : duration(raw.for, `${where}.for`, p, 0),
    hysteresis, severity: severity(raw.severity, `${where}.severity`, p, 'warning'),
  };
}

function parseReceivers<T>(raw: unknown, where: string, p: Problems, one: (r: Record<string, unknown>, w: string) => T | undefined): T[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) { p.add(`${where} must be a list`); return []; }
  return raw.flatMap((r, i) => {
    if (!isObject(r)) { p.add(`${where}[${i}] must be a mapping`); return []; }
    const x = one(r, `${where}[${i}]`);
    return x ? [x] : [];
  });
}

function url(raw: unknown, where: string, p: Problems, protocols: string[]): string {
  try {
    const u = new URL(String(raw));
    if (!protocols.includes(u.protocol)) throw new Error();
    return u.toString();
  } catch {
    p.add(`${where} must be a ${protocols.map((x) => x.replace(':', '')).join(' or ')} URL, not ${JSON.stringify(raw)}`);
    return '';
  }
}

function rate(raw: unknown, where: string, p: Problems): number {
  if (raw === undefined) return 30;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) { p.add(`${where} must be a whole number of requests per minute, not ${JSON.stringify(raw)}`); return 30; }
  return n;
}

/** Checks the rules and receivers together: every problem is listed in one error. */
export function parseAlertLists(raw: { rules: unknown; webhooks: unknown; emails: unknown }, where = 'alerts'): Pick<AlertsConfig, 'rules' | 'webhooks' | 'emails'> {
  const p = new Problems();
  const names = new Set<string>();
  let rules: Rule[] = [];
  if (raw.rules !== undefined && !Array.isArray(raw.rules)) p.add(`${where}.rules must be a list of rules`);
  else rules = ((raw.rules as unknown[] | undefined) ?? []).flatMap((r, i) => parseRule(r, `${where}.rules[${i}]`, p, names) ?? []);
  const receivers = new Set<string>();
  const named = (r: Record<string, unknown>, w: string) => {
    const n = String(r.name ?? '').trim();
    if (!n) p.add(`${w}.name is missing`);
    else if (receivers.has(n)) p.add(`${w}.name "${n}" is used by another receiver`);
    receivers.add(n);
    return n;
  };
  const webhooks = parseReceivers(raw.webhooks, `${where}.webhooks`, p, (r, w) => {
    for (const k of Object.keys(r)) if (!['name', 'url', 'secret', 'rateLimit', 'timeout'].includes(k)) p.add(`${w} has an unknown field "${k}"`, 'a webhook has name, url, secret, rateLimit, timeout');
    return { name: named(r, w), url: url(r.url, `${w}.url`, p, ['http:', 'https:']), ...(r.secret !== undefined ? { secret: String(r.secret) } : {}),
      rateLimit: rate(r.rateLimit, `${w}.rateLimit`, p), timeoutMs: r.timeout === undefined ? 10_000 : duration(r.timeout, `${w}.timeout`, p, 100) };
  });
  const emails = parseReceivers(raw.emails, `${where}.emails`, p, (r, w) => {
    for (const k of Object.keys(r)) if (!['name', 'url', 'from', 'to', 'rateLimit'].includes(k)) p.add(`${w} has an unknown field "${k}"`, 'an email receiver has name, url, from, to, rateLimit');
    const to = (Array.isArray(r.to) ? r.to : [r.to]).map((x) => String(x ?? '').trim()).filter(Boolean);
    if (!to.length) p.add(`${w}.to needs at least one address`);
    if (!String(r.from ?? '').includes('@')) p.add(`${w}.from must be an address, not ${JSON.stringify(r.from)}`);
    return { name: named(r, w), url: url(r.url, `${w}.url`, p, ['smtp:', 'smtps:']), from: String(r.from ?? ''), to, rateLimit: rate(r.rateLimit, `${w}.rateLimit`, p) };
  });
  p.throwIfAny();
  return { rules, webhooks, emails };
}

/** Throws a usage error (for parseSetting) when a list setting is not a list. */
export function checkList(raw: unknown, where: string): unknown[] {
  if (!Array.isArray(raw)) throw new FlowlensError('FLOW_ERR_USAGE', `${where} must be a list`);
  return raw;
}
