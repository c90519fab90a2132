/**
 * New country / ASN / domain for a device (off by default): an info alert when
 * a local host talks to a country, an ASN or a domain it has not talked to in
 * `alerts.newPeerPeriod`. What each host talked to is learned at the first
 * interval from the session log (Store.devicePeers: the history's talkers are
 * per dimension, host and country never together, so only the sessions say
 * which host went where), then from the live sessions.
 *
 * A host is judged only once it has been known for LEARN_MIN (its first session
 * in the log, or its first live one): a new device, or a first start, would
 * otherwise see every country as new. The alert stays firing while a live
 * session of the host carries the new value and resolves when none does.
 */
import type { LiveSession, LiveSessions } from '../flows/live.js';
import type { IntervalStats } from '../flows/types.js';
import type { Store } from '../store/index.js';
import type { DetectorConfig } from './config.js';
import { topSessions } from './rules.js';
import type { AlertKind, Observation } from './types.js';

/** How long a host must have been known before something it talks to counts as new. */
export const LEARN_MIN_MS = 86_400_000;
/** Values remembered per host and kind, at most: beyond it nothing of that kind is new for it (no alert storm, bounded memory). */
export const MAX_VALUES = 10_000;

type PeerKind = 'country' | 'asn' | 'domain';
const KINDS: ReadonlyArray<{ kind: PeerKind; alert: AlertKind; what: string; value: (s: LiveSession) => string | undefined }> = [
  { kind: 'country', alert: 'new-country', what: 'country', value: (s) => (s.scope === 'internet' ? s.labels.country : undefined) },
  { kind: 'asn', alert: 'new-asn', what: 'network (ASN)', value: (s) => (s.scope === 'internet' && s.labels.asn !== undefined ? `AS${s.labels.asn}` : undefined) },
  { kind: 'domain', alert: 'new-domain', what: 'domain', value: (s) => s.labels.domain },
];

interface Device {
  since: number;
  seen: Record<PeerKind, Set<string>>;
}

interface Novel {
  host: string;
  kind: (typeof KINDS)[number];
  value: string;
  /** Since when the host's peers are known: the learned period's start, or the host's first session. */
  since: number;
}

export class NewPeers {
  private devices: Map<string, Device> | undefined;
  /** The new values still in use: fingerprint → what. */
  private readonly novel = new Map<string, Novel>();

  constructor(private config: DetectorConfig, private readonly history: () => Store | undefined, private readonly contributorsN: number) {}

  replace(config: DetectorConfig): void {
    this.config = config;
  }

  private enabled(): Array<(typeof KINDS)[number]> {
    const c = this.config;
    return KINDS.filter((k) => (k.kind === 'country' ? c.newCountry : k.kind === 'asn' ? c.newAsn : c.newDomain));
  }

  private learn(now: number): Map<string, Device> {
    const devices = new Map<string, Device>();
    const store = this.history();
    if (!store) return devices;
    for (const d of store.devicePeers(now - this.config.newPeerPeriodMs)) {
      devices.set(d.local, {
        since: d.firstSeen,
        seen: { country: new Set(d.countries), asn: new Set(d.asns.map((a) => `AS${a}`)), domain: new Set(d.domains) },
      });
    }
    return devices;
  }

  evaluate(stats: IntervalStats, live: LiveSessions): Observation[] {
    const kinds = this.enabled();
    if (!kinds.length) return [];
    const now = stats.end;
    const devices = (this.devices ??= this.learn(now));
    /** Live sessions per new value still in use. */
    const present = new Map<string, number>();
    live.forEach((s) => {
      let d = devices.get(s.local);
      if (!d) devices.set(s.local, (d = { since: s.firstSeen, seen: { country: new Set(), asn: new Set(), domain: new Set() } }));
      for (const k of kinds) {
        const value = k.value(s);
        if (value === undefined) continue;
        const fingerprint = `${k.alert}|${s.local}|${value}`;
        const seen = d.seen[k.kind];
        if (!seen.has(value) && seen.size < MAX_VALUES) {
          seen.add(value);
          if (now - d.since >= LEARN_MIN_MS) this.novel.set(fingerprint, { host: s.local, kind: k, value, since: Math.max(now - this.config.newPeerPeriodMs, d.since) });
        }
        if (this.novel.has(fingerprint)) present.set(fingerprint, (present.get(fingerprint) ?? 0) + 1);
      }
    });
    const out: Observation[] = [];
    for (const [fingerprint, n] of this.novel) {
      // no live session carries it any more (or its kind was turned off): the alert resolves
      const sessions = present.get(fingerprint);
      if (!sessions) { this.novel.delete(fingerprint); continue; }
      const keep = (x: LiveSession) => x.local === n.host && n.kind.value(x) === n.value;
      out.push({
        fingerprint, rule: n.kind.alert, kind: n.kind.alert, severity: 'info', subject: { host: n.host, [n.kind.kind]: n.value },
        summary: `${n.host} talks to a new ${n.kind.what}: ${n.value} (none in its sessions since ${new Date(n.since).toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
        value: sessions, threshold: 0, unit: 'sessions', active: true, clear: false, forMs: 0,
        contributors: () => topSessions(live, keep, this.contributorsN),
      });
    }
    return out;
  }
}
