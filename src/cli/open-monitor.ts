/**
 * Builds a Monitor from the configuration with every part it names: the
 * enrichers (geo, names) and the consumers (API server, history store,
 * InfluxDB writer).
 * A part that cannot start is a clear error before anything is attached, and
 * whatever was opened before the failure is closed again.
 */
import type { FlowlensConfig } from '../config/index.js';
import { Monitor } from '../monitor.js';
import { preflight } from '../system/preflight.js';
import { resolveInterfaces } from '../system/interfaces.js';
import { Store } from '../store/index.js';
import { InfluxSink, influxConfigFrom } from '../sinks/influx/index.js';
import { GeoLookup } from '../enrich/geo.js';
import { RemoteEnrichment } from '../enrich/remote.js';
import { NameTable } from '../enrich/names.js';
import { CidrSet, PRIVATE_RANGES } from '../net/cidr.js';
import { ApiServer, readApiFiles } from '../api/index.js';

/** How often the live sessions are handed to the store's snapshot (what `flowlens sessions` shows). */
const LIVE_SNAPSHOT_MS = 5_000;

export async function openMonitor(config: FlowlensConfig): Promise<Monitor> {
  // everything that can be refused is checked before the kernel is touched and
  // before the history directory is created
  resolveInterfaces(config.collector.interfaces);
  preflight();
  const influxConfig = config.influx ? influxConfigFrom(config.influx) : undefined;
  if (config.api.enabled) readApiFiles(config.api); // a bad tokens or TLS file is refused before attaching
  const store = config.history.enabled
    ? Store.open({
      dataDir: config.history.dataDir,
      flushIntervalMs: config.history.flushIntervalMs,
      minuteRetentionDays: config.history.minuteRetentionDays,
      hourlyTopN: config.history.hourlyTopN,
      sessionLogDays: config.history.sessionLogDays,
      liveSessionsLimit: config.history.liveSessionsLimit,
    })
    : undefined;
  let geo: GeoLookup | undefined;
  let names: NameTable | undefined;
  let monitor: Monitor;
  try {
    const privateSet = new CidrSet([...PRIVATE_RANGES, ...config.networks.private]);
    geo = await GeoLookup.open(config.geo, (a) => privateSet.has(a), {
      onReload: (e) => process.stderr.write(e.error ? `flowlens: ${e.error.format()}\n` : `flowlens: reloaded geo.${e.role} from ${e.path}\n`),
    });
    names = config.names.enabled ? new NameTable({ maxNames: config.names.maxEntries, maxConnections: config.names.maxEntries }) : undefined;
    monitor = Monitor.open(config, new RemoteEnrichment(geo.enabled ? geo : undefined, names), names);
  } catch (e) {
    geo?.close();
    store?.close();
    throw e;
  }
  if (config.api.enabled) {
    // the API is the first consumer, so it is closed first at shutdown (before the store it reads)
    let api: ApiServer;
    try {
      api = await ApiServer.start(config.api, { processor: monitor.processor, status: () => monitor.status(), store, intervalMs: config.collector.intervalMs, host: config.host });
    } catch (e) {
      monitor.closeNow();
      geo.close();
      store?.close();
      throw e;
    }
    monitor.addConsumer(api.consumer());
  }
  if (names) {
    const n = names;
    monitor.addConsumer({ name: 'names', add: () => undefined, close: async () => undefined, status: () => ({ ...n.stats() }) });
  }
  if (geo.enabled) {
    const g = geo;
    monitor.addConsumer({ name: 'geo', add: () => undefined, close: async () => g.close(), status: () => ({ ...g.stats() }) });
  }
  if (store) {
    let lastSnapshot = 0;
    monitor.addConsumer({
      name: 'history',
      add: (stats) => {
        store.add(stats);
        if (stats.end - lastSnapshot >= LIVE_SNAPSHOT_MS) {
          lastSnapshot = stats.end;
          // only the largest go into the snapshot: records for those, not for every session
          const largest = [...monitor.processor.sessions.values()]
            .sort((a, b) => b.bytesUp + b.bytesDown - (a.bytesUp + a.bytesDown))
            .slice(0, store.config.liveSessionsLimit);
          store.setLiveSessions(largest.map((x) => x.toRecord()));
        }
      },
      close: async () => {
        store.setLiveSessions([]);
        store.close();
      },
      status: () => ({ dataDir: config.history.dataDir, flushIntervalMs: config.history.flushIntervalMs }),
    });
  }
  if (influxConfig) {
    const sink = new InfluxSink(influxConfig, { host: config.host });
    monitor.addConsumer({
      name: 'influx',
      add: (stats, status) => sink.write(stats, status),
      close: () => sink.close(5_000),
      status: () => ({ ...sink.stats() }),
    });
  }
  monitor.store = store;
  return monitor;
}
