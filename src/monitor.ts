/**
 * The counting of one running flowlens: the collector and the flows stage,
 * in the order of DESIGN.md's packet path. Each interval: names learned from
 * the captured DNS answers and TLS hellos, then flows → sessions and talkers
 * (IntervalStats), then the consumers. A consumer that fails is counted and
 * skipped; the counting goes on.
 *
 * A large interval is delivered in slices (SLICED_DELIVERY_FLOWS): the consumers
 * in order, the event loop turning between them, so the APIs answer while the
 * history and the sinks take it. The next interval never overtakes: if one
 * arrives while a delivery is still in slices, the rest of that delivery is
 * done at once first (counted: MonitorStatus.lateDeliveries), so every
 * consumer still gets every interval, whole and in order.
 *
 * Falling behind is never silent, and never lets the work grow: the interval
 * after a late delivery, or after cadence ticks went by while the collector
 * drained or the flows were processed (CollectorStatus.lateIntervals), reaches
 * the consumers with its talkers coarsened (src/flows/coarsen.ts: the largest
 * keys and "other"; traffic, sessions and every sum exact), counted in
 * MonitorStatus.coarsenedIntervals.
 *
 * A component (src/component.ts): the constructor opens nothing; start()
 * opens the collector (the kernel's, or a fake in tests) and drains it;
 * stop() drains it one last time and ends every session into the log. The
 * consumers are components of their own, started before the monitor and
 * stopped after it, so they get the last interval.
 */
import type { HostSample } from './system/host.js';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { BPF_ERROR_NAMES, type CollectorStatus, type InterfaceReconciliation, type Interval } from './collector/index.js';
import type { IntervalSource } from './collector/source.js';
import type { PacketCaptures } from './capture/index.js';
import { FlowProcessor, type Enrichment, type FlowsStatus } from './flows/processor.js';
import { AddressClassifier } from './net/classify.js';
import type { IntervalStats, SessionRecord } from './flows/types.js';
import { coarsened, hasDetailBeyond } from './flows/coarsen.js';
import type { FlowlensConfig } from './config/index.js';
import type { NameTable, NameTableStats } from './enrich/names.js';
import type { Capture } from './collector/captures.js';
import type { DeviceTableStats } from './enrich/devices.js';
import type { GeoStats } from './enrich/geo.js';
import type { HistoryStatus } from './store/component.js';
import type { InfluxSinkStats } from './sinks/influx/index.js';
import type { Component } from './component.js';
import type { AlertsStatus } from './alerts/index.js';

/** How often expired names are dropped from the names table. */
const NAMES_PRUNE_MS = 60_000;
/** Flow ids per tracked session (×2: untracked conversations are routed too). */
const FLOW_IDS_PER_SESSION = 4;
/** The addon's largest id limit. */
const FLOW_ID_LIMIT = 1 << 28;
/** How often the host's own addresses are re-read (DHCP and PPP change them). */
const HOST_ADDRESS_REFRESH_MS = 30_000;
/**
 * An interval of at least this many flows is delivered in slices: each
 * consumer gets it in a turn of the event loop of its own (setImmediate), so
 * API answers, streams and /metrics scrapes go on between them. The consumers
 * cost about 1 µs per flow together (bench/pipeline.ts), so below this an
 * interval is delivered at once, as before, in well under 10 ms. A count, not
 * a time budget: what a consumer has seen right after a drain does not depend
 * on the machine's load.
 */
const SLICED_DELIVERY_FLOWS = 10_000;
/**
 * Flows the flows stage takes per turn of such an interval, then sessions it
 * adds to the talker rows per turn, then talker rows it ranks per turn
 * (FlowProcessor.step): a few ms each. The live view stays the previous
 * interval's until the interval completes, and the collector finishes it
 * before its next drain (IntervalSource.onBeforeDrain), which reuses the
 * flows' buffer.
 */
const FLOWS_PER_STEP = 20_000;

export function hostAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, '')));
}

/** A stage after the flows: gets every interval's stats (and, at shutdown, the sessions that were still open). */
export interface Consumer {
  readonly name: string;
  /**
   * May throw: the monitor counts it and goes on. May return the rest of its
   * work for the interval, which the monitor runs in a turn of its own (still
   * before the next interval reaches it).
   */
  add(stats: IntervalStats, status: CollectorStatus): void | (() => void);
}

/** The own status of the parts after the flows stage, each present while it is configured. */
export interface PartsStatus {
  history?: HistoryStatus;
  alerts?: AlertsStatus;
  influx?: InfluxSinkStats;
  names?: NameTableStats;
  devices?: DeviceTableStats;
  geo?: GeoStats;
  /** The machine: CPU, memory, disk, interfaces (src/system/host.ts). */
  machine?: HostSample;
}

/** Where each part's status comes from (a part that is off is absent). */
export type StatusSources = { [K in keyof PartsStatus]?: () => PartsStatus[K] };

export interface MonitorStatus {
  host: string;
  startedAt: number;
  collector: CollectorStatus;
  flows: FlowsStatus;
  /** Per consumer or part: failures (an interval it could not take, a stop that failed), the last message. */
  consumerErrors: Record<string, { count: number; last: string }>;
  /** Since start: intervals whose delivery in slices was not done when the next one arrived (finished at once, before it). */
  lateDeliveries: number;
  /** Since start: intervals delivered with their talkers coarsened because the monitor was behind (src/flows/coarsen.ts). */
  coarsenedIntervals: number;
  sinks: PartsStatus;
}

export interface MonitorDependencies {
  /** Loads and attaches the flow counter: Collector.open in a run, a fake in tests. Called by start(). */
  openCollector: () => IntervalSource;
  /** Labels for the remote ends (geo, names). */
  enrichment?: Enrichment;
  /** Learns names from the interval's captured DNS answers and TLS hellos, before the flows are labelled. */
  names?: NameTable;
  /** Learns device names from the interval's captured DHCP requests and mDNS answers. */
  devices?: { ingest(c: Capture): void };
  /** Fed every interval, in this order. */
  consumers?: readonly Consumer[];
  statuses?: StatusSources;
  /** The host's own addresses (local ends); default: the interfaces' addresses, re-read every 30 s. */
  hostAddresses?: () => string[];
}

/** The collector's status before it is opened: attached to nothing, nothing counted. */
function unopenedCollectorStatus(config: FlowlensConfig): CollectorStatus {
  return {
    attachments: [], mapEntries: config.collector.mapEntries, mapFill: 0, intervals: 0, lastDrainMs: 0,
    overflowPackets: 0, nonIpPackets: 0, malformedPackets: 0, bpfErrors: Object.fromEntries(BPF_ERROR_NAMES.map((n) => [n, 0])),
    captures: 0, captureDrops: 0, captureLoadErrors: 0,
    lateIntervals: 0, flowsNotFitted: 0, suggestedMapSize: 0, flowIds: 0, flowIdsRefused: 0,
  };
}

export class Monitor extends EventEmitter<{ stats: [IntervalStats, Interval]; shutdown: [SessionRecord[]]; error: [Error] }> implements Component {
  readonly name = 'monitor';
  readonly processor: FlowProcessor;
  readonly classifier: AddressClassifier;
  /** The latest interval's stats (undefined before the first drain). */
  last: IntervalStats | undefined;
  /** The opened collector (undefined before open() and after closeNow()); after stop() it still reports its last status. */
  private collector: IntervalSource | undefined;
  private readonly consumers: readonly Consumer[];
  private readonly consumerErrors: MonitorStatus['consumerErrors'] = {};
  private readonly hostAddresses: () => string[];
  private refresh: NodeJS.Timeout | undefined;
  readonly startedAt = Date.now();
  private lastPrune = 0;
  /** The steps of the interval being delivered in slices, in order (empty: none pending). */
  private steps: Array<() => void> = [];
  private resume: NodeJS.Immediate | undefined;
  /** Since start: deliveries in slices not done when the next interval arrived (finished at once, before it). */
  lateDeliveries = 0;
  /** Since start: intervals delivered coarsened (src/flows/coarsen.ts). */
  coarsenedIntervals = 0;
  /** The collector's late ticks as of the previous interval: a rise means the drain or the flows overran. */
  private lateTicksSeen = 0;
  /** Whether the previous interval was still in steps when the collector drained again: the next is coarsened. */
  private behindAtDrain = false;

  constructor(readonly config: FlowlensConfig, private readonly deps: MonitorDependencies) {
    super();
    this.consumers = deps.consumers ?? [];
    this.hostAddresses = deps.hostAddresses ?? hostAddresses;
    this.classifier = new AddressClassifier({ localNetworks: config.networks.local, privateNetworks: config.networks.private }, this.hostAddresses());
    this.processor = new FlowProcessor({ sessions: config.sessions, filters: config.filters }, this.classifier, deps.enrichment);
  }

  /** Packet captures of the opened collector (src/capture), when it has them. */
  get packetCaptures(): PacketCaptures | undefined {
    return this.collector?.packetCaptures;
  }

  /**
   * Loads and attaches the collector; nothing is drained until start(). The
   * composition root opens it before the API binds its ports, so a second
   * flowlens on an interface says "already attached", not "port in use".
   */
  open(): void {
    if (this.collector) return;
    const collector = this.deps.openCollector();
    collector.on('interval', (iv) => this.onInterval(iv));
    collector.onBeforeDrain?.(() => this.finishBeforeDrain());
    collector.on('error', (e) => this.emit('error', e));
    // a conversation has up to 4 flows (2 directions × a LAN and a WAN interface); the
    // processor releases ids as sessions end, and falls back to raw keys past the limit
    collector.trackFlowIds?.(Math.min(FLOW_IDS_PER_SESSION * this.config.sessions.maxSessions * 2, FLOW_ID_LIMIT));
    this.collector = collector;
  }

  /** Opens the collector if not yet open, and drains it every interval until stop(). */
  start(): void {
    this.open();
    this.refresh = setInterval(() => this.classifier.setHostAddresses(this.hostAddresses()), HOST_ADDRESS_REFRESH_MS);
    this.refresh.unref();
    this.collector!.start();
  }

  /** True while an interval is still being delivered in slices. */
  get busy(): boolean {
    return this.steps.length > 0;
  }

  /** Resolves once the interval being delivered (if any) has reached every consumer. */
  async idle(): Promise<void> {
    while (this.busy) await new Promise((resolve) => setImmediate(resolve));
  }

  private onInterval(iv: Interval): void {
    let behind = this.behindAtDrain;
    this.behindAtDrain = false;
    if (this.busy) {
      this.lateDeliveries++;
      this.finishDelivery();
      behind = true;
    }
    const devices = this.deps.devices;
    if (devices) for (const c of iv.captures) devices.ingest(c);
    const names = this.deps.names;
    if (names) {
      for (const c of iv.captures) names.ingest(c);
      if (iv.end - this.lastPrune >= NAMES_PRUNE_MS) {
        names.prune(iv.end);
        this.lastPrune = iv.end;
      }
    }
    if (iv.flows.count < SLICED_DELIVERY_FLOWS) {
      this.deliver(iv, this.processor.process(iv), behind);
      this.finishDelivery();
      return;
    }
    // a large interval: its flows in steps, then its consumers, each in a turn of its own
    this.processor.begin(iv);
    const takeFlows = () => {
      if (!this.processor.step(FLOWS_PER_STEP)) this.steps.unshift(takeFlows);
      else this.deliver(iv, this.processor.finish(), behind);
    };
    this.steps = [takeFlows];
    this.resume = setImmediate(() => this.nextStep());
  }

  /** After the flows stage: releases its flow ids, keeps the stats, and queues the consumers' steps. */
  private deliver(iv: Interval, stats: IntervalStats, behind: boolean): void {
    // between drains, as releaseFlowIds asks: no drain in flight still carries these ids
    const released = this.processor.takeReleasedFlowIds();
    if (released.length) this.collector?.releaseFlowIds?.(released);
    this.last = stats;
    const status = this.collectorStatus();
    if (status.lateIntervals > this.lateTicksSeen) behind = true;
    this.lateTicksSeen = status.lateIntervals;
    let delivered = stats;
    if (behind && hasDetailBeyond(stats)) {
      delivered = coarsened(stats);
      this.coarsenedIntervals++;
    }
    this.steps.push(...this.consumers.map((c) => () => this.addTo(c, delivered, status)), () => this.emit('stats', delivered, iv));
  }

  /** The collector is about to drain (into the buffer the interval in steps still reads): what is pending is done first. */
  private finishBeforeDrain(): void {
    if (!this.busy) return;
    this.lateDeliveries++;
    this.finishDelivery();
    this.behindAtDrain = true;
  }

  /** One step of a delivery in slices; the next one in the next turn of the event loop. */
  private nextStep(): void {
    this.resume = undefined;
    this.steps.shift()?.();
    if (this.steps.length) this.resume = setImmediate(() => this.nextStep());
  }

  /** Runs whatever of the current delivery is still pending, now. */
  private finishDelivery(): void {
    if (this.resume) clearImmediate(this.resume);
    this.resume = undefined;
    while (this.steps.length) this.steps.shift()!();
  }

  private addTo(c: Consumer, stats: IntervalStats, status: CollectorStatus): void {
    this.guarded(c, () => {
      const rest = c.add(stats, status);
      if (rest) this.steps.unshift(() => this.guarded(c, rest));
    });
  }

  /** Runs a consumer's work (its add, or the rest it handed back); a failure is the consumer's. */
  private guarded(c: Consumer, work: () => void): void {
    try {
      work();
    } catch (e) {
      this.failed(c.name, e);
    }
  }

  /** Hands the shutdown's ended sessions to every consumer, at once. */
  private deliverEnded(stats: IntervalStats): void {
    const status = this.collectorStatus();
    for (const c of this.consumers) this.addTo(c, stats, status);
    this.finishDelivery();
  }

  /** Counts a part's failure (MonitorStatus.consumerErrors) and reports it as an 'error' event. */
  failed(part: string, e: unknown): void {
    const entry = (this.consumerErrors[part] ??= { count: 0, last: '' });
    entry.count++;
    entry.last = (e as Error)?.message ?? String(e);
    this.emit('error', new Error(`${part}: ${entry.last}`));
  }

  private collectorStatus(): CollectorStatus {
    return this.collector?.status() ?? unopenedCollectorStatus(this.config);
  }

  /** Per attached interface: the kernel's counters beside flowlens's, the difference explained (collector/reconcile.ts). */
  reconcile(): InterfaceReconciliation[] {
    return this.collector?.reconcile?.() ?? [];
  }

  status(): MonitorStatus {
    const s = this.deps.statuses ?? {};
    return {
      host: this.config.host,
      startedAt: this.startedAt,
      collector: this.collectorStatus(),
      flows: this.processor.status(),
      consumerErrors: structuredClone(this.consumerErrors),
      lateDeliveries: this.lateDeliveries,
      coarsenedIntervals: this.coarsenedIntervals,
      sinks: {
        history: s.history?.(),
        alerts: s.alerts?.(),
        influx: s.influx?.(),
        names: s.names?.(),
        devices: s.devices?.(),
        geo: s.geo?.(),
        machine: s.machine?.(),
      },
    };
  }

  /**
   * Stops counting (a last drain is processed like any interval) and ends
   * every session into the log: the consumers get both before they stop.
   */
  async stop(): Promise<void> {
    if (this.refresh) clearInterval(this.refresh);
    try {
      await this.collector?.stop();
    } finally {
      // the last drain's interval reaches every consumer before the ended sessions do
      this.finishDelivery();
      const ended = this.processor.endAll();
      this.emit('shutdown', ended);
      if (ended.length) {
        // the last interval's end: the clock of the counting (file time when analyzing a capture)
        const now = this.last?.end ?? Date.now();
        this.deliverEnded({ start: now, end: now, traffic: [], activeSessions: 0, activeRemotes: 0, talkers: { ip: [], host: [], port: [], proto: [], country: [], asn: [], domain: [], device: [] }, endedSessions: ended });
      }
    }
  }

  /** Synchronous last resort (process exit): detach and unload. */
  closeNow(): void {
    if (this.refresh) clearInterval(this.refresh);
    // no time left to deliver: what was still pending is dropped with the process
    if (this.resume) clearImmediate(this.resume);
    this.steps = [];
    this.collector?.closeNow();
    this.collector = undefined;
  }
}
