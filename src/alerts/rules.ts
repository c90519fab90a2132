/**
 * The configured rules, evaluated on every interval: threshold rules on a
 * metric over a window, and quotas on the volume of a calendar period. Volumes
 * (bytes, packets, rates) come from the interval's exact traffic rows and
 * talker rows; session counts from the live sessions. Each rule gives one
 * Observation per subject (per key, with `each`).
 */
import type { LiveSession, LiveSessions } from '../flows/live.js';
import type { IntervalStats, TalkerDimension, TalkerRow } from '../flows/types.js';
import { protocolName } from '../net/protocols.js';
import { OTHER_KEY } from '../flows/talkers.js';
import { startOf, nextStart } from '../store/time.js';
import { formatBits, formatBytes } from '../config/units.js';
import { KEY_SUBJECTS, type KeySubject, type QuotaRule, type Rule, type Subject, type ThresholdRule } from './config.js';
import type { Contributor, Observation } from './types.js';

/** A threshold as the person who set it reads it: "20.0 Mbit/s", "5.00 GB", "1000". */
function formatThreshold(metric: string, n: number): string {
  if (metric === 'bit/s') return formatBits(n);
  if (metric === 'bytes') return formatBytes(n);
  return String(n);
}

/** Where a quota's use of the period so far comes from at start (the history), in bytes. */
export type PeriodUse = (rule: QuotaRule, from: number, to: number) => Map<string, number>;

const keyField = (s: Subject): KeySubject | undefined => (Object.keys(KEY_SUBJECTS) as KeySubject[]).find((k) => s[k] !== undefined);
/** The talker dimension a subject reads its volumes from, if any. */
function dimensionOf(s: Subject): TalkerDimension | undefined {
  const k = keyField(s) ?? (s.each && s.each !== 'iface' ? (s.each as KeySubject) : undefined);
  return k ? KEY_SUBJECTS[k] : undefined;
}

/** "tcp/443": the responder's port, as the port dimension writes it (tcp and udp). */
export function serviceOf(s: LiveSession): string {
  const port = s.initiator === 'remote' ? s.localPort : s.remotePort;
  return `${protocolName(s.protocol)}/${port}`;
}

/** The session's key in a talker dimension (as the flows stage computes it, for tcp/udp ports). */
function sessionKey(s: LiveSession, d: TalkerDimension): string {
  switch (d) {
    case 'host': return s.local;
    case 'ip': return s.remote;
    case 'port': return serviceOf(s);
    case 'proto': return protocolName(s.protocol);
    case 'country': return s.scope === 'lan' ? 'private' : s.labels.country ?? 'unknown';
    case 'asn': return s.scope === 'lan' ? 'private' : s.labels.asn !== undefined ? `AS${s.labels.asn}` : 'unknown';
    case 'domain': return s.labels.domain ?? 'unknown';
    case 'device': return s.local;  // no rule subject names a device (KEY_SUBJECTS): never asked
  }
}

function subjectText(rule: Rule, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rule.subject)) if (k !== 'each') out[k] = String(v);
  if (rule.subject.each) out[rule.subject.each] = key;
  return out;
}

function describe(subject: Record<string, string>): string {
  const parts = Object.entries(subject).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : 'total';
}

/** Matching of live sessions to a subject; returns the session's key ('' without each) or undefined. */
function sessionMatcher(s: Subject): (x: LiveSession) => string | undefined {
  const d = dimensionOf(s);
  const k = keyField(s);
  const want = k ? String(s[k]) : undefined;
  return (x) => {
    if (s.iface !== undefined && x.iface !== s.iface) return undefined;
    if (s.scope !== undefined && x.scope !== s.scope) return undefined;
    if (s.each === 'iface') return x.iface;
    if (!d) return '';
    const key = sessionKey(x, d);
    if (want !== undefined) return key === want || (d === 'domain' && key.endsWith(`.${want}`)) ? '' : undefined;
    return key;
  };
}

/** Volume of one interval per subject key ('' without each): bytes or packets. */
function volumes(stats: IntervalStats, s: Subject, packets: boolean): Map<string, number> {
  const out = new Map<string, number>();
  const add = (key: string, n: number) => out.set(key, (out.get(key) ?? 0) + n);
  const d = dimensionOf(s);
  if (d) {
    const k = keyField(s);
    const want = k ? String(s[k]) : undefined;
    const pick = (r: TalkerRow) => packets
      ? (s.direction === 'up' ? r.packetsUp : s.direction === 'down' ? r.packetsDown : r.packetsUp + r.packetsDown)
      : (s.direction === 'up' ? r.bytesUp : s.direction === 'down' ? r.bytesDown : r.bytesUp + r.bytesDown);
    for (const r of stats.talkers[d]) {
      // per key: the "other" row of a coarsened interval (src/flows/coarsen.ts) is no key of its own
      if (want === undefined) { if (r.key !== OTHER_KEY) add(r.key, pick(r)); }
      else if (r.key === want || (d === 'domain' && r.key.endsWith(`.${want}`))) add('', pick(r));
    }
    return out;
  }
  for (const r of stats.traffic) {
    if (s.iface !== undefined && r.iface !== s.iface) continue;
    if (s.scope !== undefined && r.scope !== s.scope) continue;
    if (s.direction !== undefined && r.direction !== s.direction) continue;
    add(s.each === 'iface' ? r.iface : '', packets ? r.packets : r.bytes);
  }
  if (!s.each && !out.has('')) out.set('', 0);
  return out;
}

interface Sample {
  end: number;
  ms: number;
  values: Map<string, number>;
}

const UNITS: Record<ThresholdRule['metric'], string> = {
  bytes: 'B', packets: 'packets', 'bit/s': 'bit/s', 'packets/s': 'packets/s', sessions: 'sessions',
  'new-sessions/s': 'sessions/s', 'distinct-remotes': 'remotes', 'distinct-ports': 'ports',
};

/** One threshold rule: its window of per-interval values. */
class ThresholdEvaluator {
  private readonly samples: Sample[] = [];
  private readonly match: (x: LiveSession) => string | undefined;

  constructor(readonly rule: ThresholdRule, private readonly contributorsN: number) {
    this.match = sessionMatcher(rule.subject);
  }

  evaluate(stats: IntervalStats, live: LiveSessions): Observation[] {
    const r = this.rule;
    const now = stats.end;
    const ms = Math.max(stats.end - stats.start, 1);
    const window = Math.max(r.windowMs, ms);
    let values: Map<string, number>;
    switch (r.metric) {
      case 'bytes': case 'bit/s': case 'packets': case 'packets/s': case 'new-sessions/s': {
        let v: Map<string, number>;
        if (r.metric === 'new-sessions/s') {
          v = new Map();
          if (!r.subject.each) v.set('', 0);
          const count = (x: LiveSession) => {
            const key = this.match(x);
            if (key !== undefined && x.firstSeen >= stats.start) v.set(key, (v.get(key) ?? 0) + 1);
          };
          for (const x of live.values()) count(x);
          for (const e of stats.endedSessions) count({ ...e, labels: e, scope: e.scope } as unknown as LiveSession);
        } else {
          v = volumes(stats, r.subject, r.metric === 'packets' || r.metric === 'packets/s');
        }
        this.samples.push({ end: now, ms, values: v });
        while (this.samples.length && this.samples[0]!.end <= now - window) this.samples.shift();
        const sum = new Map<string, number>();
        let covered = 0;
        for (const s of this.samples) {
          covered += s.ms;
          for (const [k, n] of s.values) sum.set(k, (sum.get(k) ?? 0) + n);
        }
        const perSecond = r.metric.endsWith('/s');
        const factor = perSecond ? (r.metric === 'bit/s' ? 8 : 1) / (covered / 1000) : 1;
        values = new Map([...sum].map(([k, n]) => [k, n * factor]));
        break;
      }
      case 'sessions': case 'distinct-remotes': case 'distinct-ports': {
        const since = now - window;
        const sets = new Map<string, Set<string> | number>();
        if (!r.subject.each) sets.set('', r.metric === 'sessions' ? 0 : new Set());
        for (const x of live.values()) {
          if (x.lastSeen < since) continue;
          const key = this.match(x);
          if (key === undefined) continue;
          if (r.metric === 'sessions') sets.set(key, ((sets.get(key) as number | undefined) ?? 0) + 1);
          else {
            let set = sets.get(key) as Set<string> | undefined;
            if (!set) sets.set(key, (set = new Set()));
            set.add(r.metric === 'distinct-remotes' ? x.remote : serviceOf(x));
          }
        }
        values = new Map([...sets].map(([k, v]) => [k, typeof v === 'number' ? v : v.size]));
        break;
      }
    }
    const out: Observation[] = [];
    for (const [key, value] of values) {
      const subject = subjectText(r, key);
      const above = r.op === 'above';
      const active = above ? value > r.threshold : value < r.threshold;
      const clear = above ? value <= r.threshold * (1 - r.hysteresis) : value >= r.threshold * (1 + r.hysteresis);
      out.push({
        fingerprint: `${r.name}|${JSON.stringify(subject)}`, rule: r.name, kind: 'threshold', severity: r.severity, subject,
        summary: `${r.name}: ${r.metric} of ${describe(subject)} ${above ? 'above' : 'below'} ${formatThreshold(r.metric, r.threshold)}`,
        value, threshold: r.threshold, unit: UNITS[r.metric], active, clear, forMs: r.forMs,
        contributors: () => topSessions(live, (x) => this.match(x) === key, this.contributorsN),
      });
    }
    return out;
  }
}

/** One quota rule: the use of the current period per key, from the history at start, then counted live. */
class QuotaEvaluator {
  private periodStart = -1;
  private use = new Map<string, number>();

  constructor(readonly rule: QuotaRule, private readonly history: PeriodUse | undefined, private readonly contributorsN: number) {}

  evaluate(stats: IntervalStats, live: LiveSessions): Observation[] {
    const r = this.rule;
    const start = startOf(stats.start, r.period);
    const v = volumes(stats, r.subject, false);
    if (start !== this.periodStart) {
      // a new period, or the first interval: the history has every interval so far,
      // this one included (it is fed before the alerts)
      this.periodStart = start;
      this.use = this.history ? this.history(r, start, nextStart(start, r.period)) : new Map(v);
      if (!r.subject.each && !this.use.has('')) this.use.set('', 0);
    } else {
      for (const [k, n] of v) this.use.set(k, (this.use.get(k) ?? 0) + n);
    }
    const out: Observation[] = [];
    const match = sessionMatcher(r.subject);
    for (const [key, used] of this.use) {
      const subject = subjectText(r, key);
      for (const step of r.steps) {
        const threshold = (r.limit * step) / 100;
        const active = used >= threshold;
        // only reached steps are reported: an unreached one has nothing to resolve
        if (!active) continue;
        out.push({
          fingerprint: `${r.name}|${JSON.stringify(subject)}|${step}|${start}`, rule: r.name, kind: 'quota', severity: step >= 100 ? 'critical' : r.severity,
          subject: { ...subject, step: `${step}%`, period: r.period },
          summary: `${r.name}: ${describe(subject)} used ${step}% of its ${r.period === 'day' ? 'daily' : 'monthly'} quota`,
          value: used, threshold, baseline: r.limit, unit: 'B', active, clear: false, forMs: 0,
          contributors: () => topSessions(live, (x) => match(x) === key, this.contributorsN),
        });
      }
    }
    return out;
  }
}

/** The largest sessions (by bytes of the latest interval, then in total) for which `keep` holds. */
export function topSessions(live: LiveSessions, keep: (x: LiveSession) => boolean, n: number): Contributor[] {
  const rows: Array<{ x: LiveSession; latest: number }> = [];
  for (const x of live.values()) if (keep(x)) rows.push({ x, latest: live.latestBytesUp(x) + live.latestBytesDown(x) });
  rows.sort((a, b) => b.latest - a.latest || (b.x.bytesUp + b.x.bytesDown) - (a.x.bytesUp + a.x.bytesDown));
  // the sessions that make the value now; idle ones only when none moved
  const moving = rows.filter((r) => r.latest > 0);
  return (moving.length ? moving : rows).slice(0, n).map(({ x }) => {
    const [src, dst] = x.initiator === 'remote' ? [x.remote, x.local] : [x.local, x.remote];
    return { source: src, target: dst, service: serviceOf(x), bytes: x.bytesUp + x.bytesDown, packets: x.packetsUp + x.packetsDown };
  });
}

export class RuleSet {
  private evaluators: Array<ThresholdEvaluator | QuotaEvaluator> = [];

  constructor(rules: Rule[], private readonly history: PeriodUse | undefined, private readonly contributorsN: number) {
    this.replace(rules);
  }

  /** New rules (a reload): an unchanged rule keeps its window and quota use. */
  replace(rules: Rule[]): void {
    const old = new Map(this.evaluators.map((e) => [JSON.stringify(e.rule), e]));
    this.evaluators = rules.map((r) => old.get(JSON.stringify(r))
      ?? (r.kind === 'quota' ? new QuotaEvaluator(r, this.history, this.contributorsN) : new ThresholdEvaluator(r, this.contributorsN)));
  }

  evaluate(stats: IntervalStats, live: LiveSessions): Observation[] {
    return this.evaluators.flatMap((e) => e.evaluate(stats, live));
  }
}
