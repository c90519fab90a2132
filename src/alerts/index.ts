/**
 * The alerts as a part of a running flowlens (src/component.ts), fed every
 * interval like the history and the InfluxDB writer: the rules and the
 * detectors look at the interval's stats and the live sessions, the engine
 * decides what fires and resolves, the store keeps it (with the notifications
 * it causes, in one transaction) and the notifier delivers them. It opens its
 * own connection to the history database (or, without history, one in memory).
 *
 * reload() takes new rules, detector thresholds and receivers without losing
 * state: unchanged rules keep their windows, open alerts stay open.
 */
import { EventEmitter } from 'node:events';
import type { CollectorStatus } from '../collector/index.js';
import type { LiveSessions } from '../flows/live.js';
import type { IntervalStats } from '../flows/types.js';
import type { Store } from '../store/index.js';
import { openForWriting, openInMemory, type Db } from '../store/schema.js';
import type { AlertsConfig, QuotaRule } from './config.js';
import { AnomalyDetector, type AnomalyStatus } from './anomaly.js';
import { Detectors, type DetectorStatus } from './detectors.js';
import { NewPeers } from './new-peers.js';
import { AlertEngine, type Transition } from './engine.js';
import { Notifier, type NotificationBody, type ReceiverStatus } from './notify.js';
import { RuleSet, type PeriodUse } from './rules.js';
import { AlertStore, listAlerts, listSilences, type AlertQuery, type Silence } from './store.js';
import type { Alert } from './types.js';
import { KEY_SUBJECTS, type KeySubject } from './config.js';

export type { Alert, AlertKind, AlertState, Contributor } from './types.js';
export type { AlertQuery, Silence } from './store.js';

export interface AlertsDependencies {
  live: () => LiveSessions;
  /** The history (quotas read the period so far from it); undefined: off. */
  history: () => Store | undefined;
  /** Where the history database is; undefined: alerts are kept in memory only. */
  dataDir?: string;
  host: string;
  /** Re-reads the settings (SIGHUP, the admin API). */
  reread?: () => AlertsConfig;
}

export interface AlertsStatus {
  /** Open alerts by state. */
  pending: number;
  firing: number;
  /** Firing alerts per "kind|severity". */
  firingBy: Record<string, number>;
  rules: number;
  receivers: ReceiverStatus[];
  /** Notifications dropped because the queue was full. */
  notificationsDropped: number;
  detectors: DetectorStatus & AnomalyStatus;
  reloads: number;
  lastReloadError?: string;
}

/** The history's use of a quota period so far, per key ('' without each). */
function periodUse(history: () => Store | undefined): PeriodUse {
  return (rule: QuotaRule, from: number, to: number) => {
    const store = history();
    const out = new Map<string, number>();
    if (!store) return out;
    const s = rule.subject;
    const key = (Object.keys(KEY_SUBJECTS) as KeySubject[]).find((k) => s[k] !== undefined);
    const each = s.each && s.each !== 'iface' ? (s.each as KeySubject) : undefined;
    const dimension = key ? KEY_SUBJECTS[key] : each ? KEY_SUBJECTS[each] : undefined;
    const pick = (t: { up?: number; down?: number; bytesUp?: number; bytesDown?: number }) => {
      const up = t.up ?? t.bytesUp ?? 0, down = t.down ?? t.bytesDown ?? 0;
      return s.direction === 'up' ? up : s.direction === 'down' ? down : up + down;
    };
    if (dimension) {
      const top = store.topTalkers({ dimension, from, to: to - 1, limit: 10_000 });
      for (const r of top.rows) {
        if (key && r.key !== s[key]) continue;
        out.set(key ? '' : r.key, pick(r));
      }
      return out;
    }
    const filter = s.scope ? { scope: s.scope } : {};
    const ifaces = s.each === 'iface' ? [] : [s.iface];
    for (const iface of ifaces) {
      const sum = store.summary({ ...filter, ...(iface ? { iface } : {}) });
      out.set('', pick(rule.period === 'day' ? sum.today : sum.month));
    }
    return out;
  };
}

export class AlertsComponent extends EventEmitter<{ alert: [Transition] }> {
  readonly name = 'alerts';
  private db: Db | undefined;
  private store: AlertStore | undefined;
  private engine: AlertEngine | undefined;
  private notifier: Notifier | undefined;
  private readonly rules: RuleSet;
  private readonly detectors: Detectors;
  private readonly anomaly: AnomalyDetector;
  private readonly newPeers: NewPeers;
  private reloads = 0;
  private lastReloadError: string | undefined;

  constructor(private config: AlertsConfig, private readonly deps: AlertsDependencies) {
    super();
    this.setMaxListeners(0);
    this.rules = new RuleSet(config.rules, periodUse(deps.history), config.contributors);
    this.detectors = new Detectors(config.detectors, config.contributors);
    this.anomaly = new AnomalyDetector(config.detectors, deps.history, config.contributors);
    this.newPeers = new NewPeers(config.detectors, deps.history, config.contributors);
  }

  start(): void {
    this.db = this.deps.dataDir ? openForWriting(this.deps.dataDir) : openInMemory();
    const store = (this.store = new AlertStore(this.db, this.config.queueLimit));
    let id = store.maxId();
    this.engine = new AlertEngine(store.open(), () => ++id);
    this.notifier = new Notifier(store, this.deps.host);
    this.notifier.configure(this.config.webhooks, this.config.emails);
    this.notifier.start();
  }

  add(stats: IntervalStats, _status?: CollectorStatus): void {
    const { engine, store, notifier } = this;
    // the shutdown's zero-length interval only carries the ended sessions: an attack
    // going on at a restart is not over, and must not resolve (and fire again after)
    if (!engine || !store || !notifier || stats.end <= stats.start) return;
    const live = this.deps.live();
    const observations = [...this.rules.evaluate(stats, live), ...this.detectors.evaluate(stats, live),
      ...this.anomaly.evaluate(stats, live), ...this.newPeers.evaluate(stats, live)];
    const transitions = engine.step(stats.end, observations);
    store.apply(stats.end, transitions, notifier.names, (t) => JSON.stringify({ event: t.event, alert: t.alert } as NotificationBody));
    for (const t of transitions) this.emit('alert', t);
    if (transitions.length) notifier.tick();
  }

  /** Takes the settings again (SIGHUP, POST /api/admin/alerts/reload); a wrong file changes nothing and throws. */
  reload(config?: AlertsConfig): { rules: number; receivers: number } {
    try {
      const next = config ?? this.deps.reread?.() ?? this.config;
      this.rules.replace(next.rules);
      this.detectors.replace(next.detectors);
      this.anomaly.replace(next.detectors);
      this.newPeers.replace(next.detectors);
      this.notifier?.configure(next.webhooks, next.emails);
      this.config = next;
      this.reloads++;
      this.lastReloadError = undefined;
      return { rules: next.rules.length, receivers: next.webhooks.length + next.emails.length };
    } catch (e) {
      this.lastReloadError = (e as Error).message;
      throw e;
    }
  }

  stop(): void {
    this.notifier?.stop();
    this.db?.close();
    this.db = undefined;
    this.store = undefined;
    this.engine = undefined;
  }

  list(q: AlertQuery = {}): Alert[] {
    return this.db ? listAlerts(this.db, q) : [];
  }

  silences(now = Date.now()): Silence[] {
    return this.db ? listSilences(this.db, now) : [];
  }

  addSilence(match: Record<string, string>, until: number, reason: string, now = Date.now()): Silence {
    if (!this.store) throw new Error('alerts are not running');
    return this.store.addSilence(match, until, reason, now);
  }

  removeSilence(id: number): boolean {
    return this.store?.removeSilence(id) ?? false;
  }

  /** Delivers what is due now (tests, and after a transition). */
  deliver(): void {
    this.notifier?.tick();
  }

  status(): AlertsStatus {
    const open = this.engine?.active ?? [];
    const firingBy: Record<string, number> = {};
    for (const a of open) if (a.state === 'firing') firingBy[`${a.kind}|${a.severity}`] = (firingBy[`${a.kind}|${a.severity}`] ?? 0) + 1;
    return {
      pending: open.filter((a) => a.state === 'pending').length,
      firing: open.filter((a) => a.state === 'firing').length,
      firingBy, rules: this.config.rules.length,
      receivers: this.notifier?.status() ?? [],
      notificationsDropped: this.store?.dropped ?? 0,
      detectors: { ...this.detectors.status(), ...this.anomaly.status() },
      reloads: this.reloads,
      ...(this.lastReloadError ? { lastReloadError: this.lastReloadError } : {}),
    };
  }
}
