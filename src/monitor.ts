/**
 * One running flowlens: the collector and every stage after it, wired in the
 * order of DESIGN.md's packet path. Each interval: names learned from the
 * captured DNS answers and TLS hellos, then flows → sessions and talkers
 * (IntervalStats), then the consumers. A consumer that fails is reported and
 * skipped; the counting goes on.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { Collector, type CollectorStatus, type Interval } from './collector/index.js';
import { FlowProcessor, type Enrichment, type FlowsStatus } from './flows/processor.js';
import { AddressClassifier } from './net/classify.js';
import type { IntervalStats, SessionRecord } from './flows/types.js';
import type { FlowlensConfig } from './config/index.js';
import type { Store } from './store/index.js';
import type { NameTable } from './enrich/names.js';

/** How often expired names are dropped from the names table. */
const NAMES_PRUNE_MS = 60_000;
/** How often the host's own addresses are re-read (DHCP and PPP change them). */
const HOST_ADDRESS_REFRESH_MS = 30_000;

export function hostAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, '')));
}

/** A stage after the flows: gets every interval's stats, and a last call at shutdown. */
export interface Consumer {
  name: string;
  add(stats: IntervalStats, status: CollectorStatus): void;
  close(): Promise<void>;
  /** Its own health, for the status API and /metrics. */
  status?(): Record<string, unknown>;
}

export interface MonitorStatus {
  host: string;
  startedAt: number;
  collector: CollectorStatus;
  flows: FlowsStatus;
  consumerErrors: Record<string, { count: number; last: string }>;
  /** Each consumer's own status (history store, InfluxDB writer), by name. */
  sinks: Record<string, Record<string, unknown>>;
}

export class Monitor extends EventEmitter<{ stats: [IntervalStats, Interval]; shutdown: [SessionRecord[]]; error: [Error] }> {
  readonly processor: FlowProcessor;
  readonly classifier: AddressClassifier;
  /** The history store this monitor writes (queries read it too), when history is on. */
  store: Store | undefined;
  /** The latest interval's stats (undefined before the first drain). */
  last: IntervalStats | undefined;
  private readonly consumers: Consumer[] = [];
  private readonly consumerErrors: MonitorStatus['consumerErrors'] = {};
  private refresh: NodeJS.Timeout | undefined;
  readonly startedAt = Date.now();
  private lastPrune = 0;

  private constructor(readonly config: FlowlensConfig, readonly collector: Collector, enrichment?: Enrichment,
    /** Learns names from the interval's captured DNS answers and TLS hellos, before the flows are labelled. */
    private readonly names?: NameTable) {
    super();
    this.classifier = new AddressClassifier({ localNetworks: config.networks.local, privateNetworks: config.networks.private }, hostAddresses());
    this.processor = new FlowProcessor({ sessions: config.sessions, filters: config.filters }, this.classifier, enrichment);
    collector.on('interval', (iv) => this.onInterval(iv));
    collector.on('error', (e) => this.emit('error', e));
  }

  /** Loads and attaches the collector; nothing runs until start(). */
  static open(config: FlowlensConfig, enrichment?: Enrichment, names?: NameTable): Monitor {
    return new Monitor(config, Collector.open(config.collector), enrichment, names);
  }

  addConsumer(c: Consumer): void {
    this.consumers.push(c);
  }

  start(): void {
    this.refresh = setInterval(() => this.classifier.setHostAddresses(hostAddresses()), HOST_ADDRESS_REFRESH_MS);
    this.refresh.unref();
    this.collector.start();
  }

  private onInterval(iv: Interval): void {
    if (this.names) {
      for (const c of iv.captures) this.names.ingest(c);
      if (iv.end - this.lastPrune >= NAMES_PRUNE_MS) {
        this.names.prune(iv.end);
        this.lastPrune = iv.end;
      }
    }
    const stats = this.processor.process(iv);
    this.last = stats;
    this.deliver(stats);
    this.emit('stats', stats, iv);
  }

  private deliver(stats: IntervalStats): void {
    const status = this.collector.status();
    for (const c of this.consumers) {
      try {
        c.add(stats, status);
      } catch (e) {
        this.consumerFailed(c, e);
      }
    }
  }

  private consumerFailed(c: Consumer, e: unknown): void {
    const entry = (this.consumerErrors[c.name] ??= { count: 0, last: '' });
    entry.count++;
    entry.last = (e as Error).message ?? String(e);
    this.emit('error', new Error(`${c.name}: ${entry.last}`));
  }

  status(): MonitorStatus {
    return {
      host: this.config.host,
      startedAt: this.startedAt,
      collector: this.collector.status(),
      flows: this.processor.status(),
      consumerErrors: structuredClone(this.consumerErrors),
      sinks: Object.fromEntries(this.consumers.filter((c) => c.status).map((c) => [c.name, c.status!()])),
    };
  }

  /**
   * Stops counting (a last drain is processed like any interval), ends every
   * session into the log, and closes the consumers (final flushes).
   */
  async stop(): Promise<void> {
    if (this.refresh) clearInterval(this.refresh);
    await this.collector.stop();
    const ended = this.processor.endAll();
    this.emit('shutdown', ended);
    if (ended.length) {
      const now = Date.now();
      this.deliver({ start: now, end: now, traffic: [], activeSessions: 0, activeRemotes: 0,
        talkers: { ip: [], host: [], port: [], proto: [], country: [], asn: [], domain: [] }, endedSessions: ended });
    }
    for (const c of this.consumers) {
      try {
        await c.close();
      } catch (e) {
        this.consumerFailed(c, e);
      }
    }
  }

  /** Synchronous last resort (process exit): detach and unload. */
  closeNow(): void {
    if (this.refresh) clearInterval(this.refresh);
    this.collector.closeNow();
  }
}
