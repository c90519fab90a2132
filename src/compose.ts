/**
 * The composition root: builds a running flowlens from its configuration —
 * which parts exist, what each one is given, and the order they start in.
 * Nothing is opened until start(); stop() stops the parts in reverse order.
 *
 *   checks     interfaces, privileges, InfluxDB settings, API tokens and TLS
 *              files: everything that can be refused, before anything opens
 *   influx     the InfluxDB writer (connects when it has points)
 *   history    the store: creates and claims the data directory
 *   devices    the LAN's devices: restored from the history, neighbour table read every 5 s
 *   geo        the geo databases
 *   alerts     rules, detectors and notifications (its own connection to the history database)
 *   api        binds the JSON and gRPC ports (before attaching: a busy port
 *              is refused with nothing attached yet)
 *   collector  loads and attaches the flow counter
 *   monitor    drains every interval; at stop a last interval and the open
 *              sessions reach every consumer before they stop
 */
import { HostSampler } from './system/host.js';
import type { FlowlensConfig } from './config/index.js';
import { Collector, type CollectorConfig } from './collector/index.js';
import type { IntervalSource } from './collector/source.js';
import { Components, type Component } from './component.js';
import { Monitor } from './monitor.js';
import { preflight } from './system/preflight.js';
import { resolveInterfaces } from './system/interfaces.js';
import { HistoryComponent } from './store/component.js';
import { InfluxComponent } from './sinks/influx/index.js';
import { GeoComponent } from './enrich/geo.js';
import { RemoteEnrichment } from './enrich/remote.js';
import { NameTable } from './enrich/names.js';
import { DeviceTable, DevicesComponent, kernelNeighbours, type Neighbour } from './enrich/devices.js';
import { CidrSet, PRIVATE_RANGES } from './net/cidr.js';
import { ifindexOf } from './collector/links.js';
import { ApiComponent, type ApiSource } from './api/index.js';
import { AlertsComponent } from './alerts/index.js';
import { alertLine } from './alerts/influx.js';
import { configFrom } from './config/index.js';

/** Where the flows come from: the kernel (kernelCollector) or, in tests, a fake. */
export interface CollectorDependency {
  /** Refuses what would make open() fail (unknown interfaces, missing privileges), opening nothing. */
  check(config: CollectorConfig): void;
  /** Loads and attaches. */
  open(config: CollectorConfig): IntervalSource;
}

export const kernelCollector: CollectorDependency = {
  check(config) {
    resolveInterfaces(config.interfaces);
    preflight();
  },
  open: (config) => Collector.open(config),
};

export interface FlowlensDependencies {
  collector: CollectorDependency;
  /** The host's own addresses; default: the interfaces' (tests pin them). */
  hostAddresses?: () => string[];
  /** The neighbour table on these interfaces; default: the kernel's (tests without a kernel pass []). */
  neighbours?: (ifaces: readonly string[]) => Neighbour[];
}

/** How often the neighbour table is read and learned devices are stored. */
const DEVICES_REFRESH_MS = 5000;

export class Flowlens {
  readonly monitor: Monitor;
  readonly api: ApiComponent | undefined;
  readonly history: HistoryComponent | undefined;
  readonly influx: InfluxComponent | undefined;
  readonly geo: GeoComponent;
  readonly names: NameTable | undefined;
  readonly alerts: AlertsComponent | undefined;
  readonly devices: DevicesComponent;
  private readonly parts: Components;
  /** The monitor's own failure to stop, thrown by stop() once every part has stopped. */
  private stopFailure: unknown;

  constructor(config: FlowlensConfig, deps: FlowlensDependencies = { collector: kernelCollector }) {
    const privateSet = new CidrSet([...PRIVATE_RANGES, ...config.networks.private]);
    const names = (this.names = config.names.enabled
      ? new NameTable({ maxNames: config.names.maxEntries, maxConnections: config.names.maxEntries })
      : undefined);
    const geo = (this.geo = new GeoComponent(config.geo, {
      isPrivate: (a) => privateSet.has(a),
      options: { onReload: (e) => process.stderr.write(e.error ? `flowlens: ${e.error.format()}\n` : `flowlens: reloaded geo.${e.role} from ${e.path}\n`) },
    }));
    const history = (this.history = config.history.enabled
      ? new HistoryComponent({
        dataDir: config.history.dataDir,
        flushIntervalMs: config.history.flushIntervalMs,
        minuteRetentionDays: config.history.minuteRetentionDays,
        hourlyTopN: config.history.hourlyTopN,
        sessionLogDays: config.history.sessionLogDays,
        liveSessionsLimit: config.history.liveSessionsLimit,
        maxDiskBytes: config.history.maxDiskBytes,
      }, { liveSessions: () => monitor.processor.live })
      : undefined);
    // a gateway's devices are on its LAN interfaces; a host's neighbours on any it counts on
    const lan = Object.entries(config.collector.roles ?? {}).filter(([, r]) => r === 'lan').map(([n]) => n);
    const deviceIfaces = lan.length ? lan : config.collector.interfaces;
    const localSet = new CidrSet(config.networks.local);
    // with roles, DHCP and mDNS name devices on the LAN interfaces only (a WAN can carry other customers'
    // DHCP requests); their ifindexes are re-read with the neighbours: a re-created interface has a new one
    let deviceIfindexes = new Set<number>();
    const deviceInterface = lan.length ? (i: number) => deviceIfindexes.has(i) : undefined;
    const devices = (this.devices = new DevicesComponent(new DeviceTable({ settings: config.devices, ...(deviceInterface ? { deviceInterface } : {}) }), {
      // a device is a local address: a neighbour with a public address is the internet's (an ISP's router)
      neighbours: () => {
        deviceIfindexes = new Set(deviceIfaces.map(ifindexOf));
        return (deps.neighbours ?? kernelNeighbours)(deviceIfaces).filter((n) => localSet.has(n.address));
      },
      store: () => history?.store,
      refreshMs: DEVICES_REFRESH_MS,
      onError: (e) => monitor.failed('devices', e),
    }));
    const machine = new HostSampler(config.history.enabled ? config.history.dataDir : undefined);
    const influx = (this.influx = config.influx ? new InfluxComponent(config.influx, { host: config.host, machine: () => machine.recent() }) : undefined);
    const alerts = (this.alerts = config.alerts.enabled
      ? new AlertsComponent(config.alerts, {
        live: () => monitor.processor.live, history: () => history?.store, host: config.host,
        ...(history ? { dataDir: config.history.dataDir } : {}),
        // rules and receivers live in the file; thresholds may come from the environment too
        reread: () => configFrom({ file: config.loaded.file, env: process.env }).alerts,
      })
      : undefined);
    // firing and resolved as annotation points (src/alerts/influx.ts)
    if (alerts && influx) alerts.on('alert', (t) => influx.writeLines((precision) => { const l = alertLine(t, config.host, precision); return l ? [l] : []; }));
    const api = (this.api = config.api.enabled
      ? new ApiComponent(config.api, (): ApiSource => ({
        processor: monitor.processor, status: () => monitor.status(), reconcile: () => monitor.reconcile(), store: history?.store, alerts, devices: devices.table, intervalMs: config.collector.intervalMs, host: config.host, billing: config.billing,
        captures: () => monitor.packetCaptures, lateDeliveries: () => monitor.lateDeliveries, coarsenedIntervals: () => monitor.coarsenedIntervals,
      }))
      : undefined);
    const monitor: Monitor = (this.monitor = new Monitor(config, {
      openCollector: () => deps.collector.open(config.collector),
      enrichment: new RemoteEnrichment(geo, names, devices.table),
      names,
      devices: devices.table,
      // the API first: its live answers and streams are the most current
      // the alerts after the history: quotas read the period so far from it, this interval included
      consumers: [api, history, alerts, influx].filter((c) => c !== undefined),
      statuses: {
        alerts: alerts && (() => alerts.status()), history: history && (() => history.status()), influx: influx && (() => influx.status()),
        names: names && (() => names.stats()), devices: () => devices.table.stats(), geo: () => geo.status(), machine: () => machine.recent(),
      },
      ...(deps.hostAddresses ? { hostAddresses: deps.hostAddresses } : {}),
    }));
    const checks: Component = {
      name: 'checks',
      start: () => {
        deps.collector.check(config.collector);
        influx?.check();
        api?.check();
      },
      stop: () => undefined,
    };
    const collector: Component = { name: 'collector', start: () => monitor.open(), stop: () => monitor.closeNow() };
    this.parts = new Components([checks, influx, history, devices, alerts, geo, api, collector, monitor].filter((c) => c !== undefined), (part, e) => {
      // the history's last flush failing means counted traffic was not stored: the run failed
      if (part === monitor || part === history) this.stopFailure ??= e;
      if (part !== monitor) monitor.failed(part.name, e);
    });
  }

  /** Starts every part in order; a part that fails stops the ones before it, and its error is thrown. */
  start(): Promise<void> {
    return this.parts.start();
  }

  /** Stops counting (a last interval), then every part in reverse order. */
  async stop(): Promise<void> {
    await this.parts.stop();
    if (this.stopFailure !== undefined) throw this.stopFailure;
  }

  /** Synchronous last resort (process exit): detach and unload the flow counter. */
  closeNow(): void {
    this.monitor.closeNow();
  }
}
