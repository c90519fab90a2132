/**
 * The API server of a running flowlens: the JSON API (with /metrics and the
 * dashboard) and the gRPC API, over one query layer (ApiService) fed by the
 * monitor. Every interval it updates the live query, the metrics and the open
 * streams; at shutdown it ends the streams and closes. ApiComponent is the same
 * as a part of a running flowlens (src/component.ts).
 *
 * start() reads the tokens and TLS files and binds both ports before anything
 * is counted, so a wrong file or a busy port is a clear error at start.
 */
import path from 'node:path';
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { ApiConfig } from '../config/index.js';
import type { CollectorStatus } from '../collector/index.js';
import type { FlowsStatus } from '../flows/processor.js';
import type { IntervalStats } from '../flows/types.js';
import type { Consumer, MonitorStatus } from '../monitor.js';
import { DEFAULT_BILLING, type BillingConfig, type Store } from '../store/index.js';
import { repoRoot } from '../native/binding.js';
import { FlowlensError } from '../errors.js';
import { TokenSet } from './auth.js';
import { GrpcApi } from './grpc/server.js';
import { readTlsFiles } from './tls-files.js';
import { checkListenAddress, type LookupAll } from './listen-address.js';
import { buildHttpApp } from './http/app.js';
import { LiveQuery } from './live-query.js';
import type { LiveSessions } from '../flows/live.js';
import { FlowMetrics } from './metrics.js';
import type { InterfaceReconciliation } from '../collector/index.js';
import { ApiService, type ApiSources } from './service.js';
import type { AlertsComponent } from '../alerts/index.js';
import { registerAlertMetrics } from '../alerts/metrics.js';
import type { PacketCaptures } from '../capture/index.js';

export { LiveQuery } from './live-query.js';
export { ApiService } from './service.js';

export interface ApiStatus {
  /** "http://127.0.0.1:8080" */
  http: string;
  /** "127.0.0.1:50051" */
  grpc: string;
  httpPort: number;
  grpcPort: number;
}

/** What the API reads of a running flowlens (a Monitor provides all of it). */
export interface ApiSource {
  /** The flows stage: its live sessions and its status. */
  processor: { live: LiveSessions; status(): FlowsStatus };
  status(): MonitorStatus;
  /** The kernel's interface counters beside flowlens's (Monitor.reconcile); absent: none (offline). */
  reconcile?(): InterfaceReconciliation[];
  store?: Store;
  /** The alerts, when they run. */
  alerts?: AlertsComponent;
  /** The LAN's devices. */
  devices?: ApiSources['devices'];
  /** The collector's interval, for the health check. */
  intervalMs: number;
  host: string;
  /** Billing cycles for /api/usage (default: cycles from the 1st, no cap). */
  billing?: BillingConfig;
  /** Packet captures of the running collector (GET /api/capture), when it has them. */
  captures?(): PacketCaptures | undefined;
  /** Since start: intervals whose delivery in slices was late (Monitor.lateDeliveries), read on every scrape. */
  lateDeliveries?(): number;
  /** Since start: intervals delivered coarsened (Monitor.coarsenedIntervals), read on every scrape. */
  coarsenedIntervals?(): number;
}

export class ApiServer {
  readonly live: LiveQuery;
  readonly service: ApiService;
  readonly metrics: FlowMetrics;
  private readonly hub = new EventEmitter<{ interval: [IntervalStats] }>();
  /** The latest interval with traffic time, for a stream that opens between intervals. */
  private latest: IntervalStats | null = null;
  private http: FastifyInstance | undefined;
  private grpc: GrpcApi | undefined;
  httpPort = 0;
  grpcPort = 0;
  private closed = false;

  private constructor(readonly config: ApiConfig, private readonly source: ApiSource, private readonly lookup?: LookupAll) {
    this.hub.setMaxListeners(0);
    this.live = new LiveQuery(source.processor.live);
    this.service = new ApiService({ live: this.live, status: () => source.status(), reconcile: () => source.reconcile?.() ?? [], store: source.store, billing: source.billing ?? DEFAULT_BILLING, ...(source.devices ? { devices: source.devices } : {}) });
    // the InfluxDB writer's counters are read when Prometheus scrapes, not every interval
    this.metrics = new FlowMetrics(config.metricsRemoteSeries, { host: source.host }, () => source.status().sinks.influx, () => source.status().sinks.machine, () => source.status().sinks.history,
      () => source.reconcile?.() ?? [], () => source.lateDeliveries?.() ?? 0, () => source.coarsenedIntervals?.() ?? 0);
    const alerts = source.alerts;
    if (alerts) registerAlertMetrics(this.metrics.registry, () => alerts.status());
  }

  /** Reads the tokens and TLS files, builds both servers and binds their ports. `lookup` resolves a listen name (tests). */
  static async start(config: ApiConfig, source: ApiSource, lookup?: LookupAll): Promise<ApiServer> {
    const api = new ApiServer(config, source, lookup);
    try {
      await api.listen();
    } catch (e) {
      await api.close();
      throw e;
    }
    return api;
  }

  private async listen(): Promise<void> {
    const c = this.config;
    const { tokens, tls, clientCa } = readApiFiles(c);
    await checkListenAddress(c.listen, tokens.required, this.lookup);
    this.http = await buildHttpApp(
      {
        service: this.service, metrics: this.metrics, latest: () => this.latest, ...(this.source.alerts ? { alerts: this.source.alerts } : {}),
        captures: () => this.source.captures?.(),
        onInterval: (l) => { this.hub.on('interval', l); return () => this.hub.off('interval', l); },
      },
      { tokens, rateLimit: c.rateLimit, bodyLimit: c.bodyLimit, uiDir: path.join(repoRoot, 'ui/dist'), https: tls, healthy: () => this.health() },
    );
    try {
      await this.http.listen({ host: c.listen, port: c.httpPort });
    } catch (e) {
      throw bindError('HTTP', c.listen, c.httpPort, e as Error, '--http-port');
    }
    this.httpPort = (this.http.server.address() as { port: number }).port;
    this.grpc = new GrpcApi(this.service, {
      host: c.listen, port: c.grpcPort, tokens, rateLimit: c.rateLimit, maxMessageBytes: c.bodyLimit,
      ...(this.source.alerts ? { alerts: this.source.alerts } : {}), tls: tls ? { ...tls, ...(clientCa ? { clientCa } : {}) } : undefined,
      captures: () => this.source.captures?.(),
    });
    this.grpcPort = await this.grpc.listen();
  }

  /**
   * Healthy while attached and the intervals keep coming (a stuck drain is
   * unhealthy). Degraded (still 200) while something is not counted or not
   * stored: an interface that is gone (even all of them: a restart would not
   * bring a PPP link back, and flowlens attaches by itself when it returns),
   * history that cannot be written.
   */
  health(): { ok: boolean; degraded?: boolean; reason?: string } {
    const s = this.source.status();
    const attached = s.collector.attachments;
    if (!attached.length) return { ok: false, reason: 'not attached to any interface' };
    const gone = attached.filter((a) => a.state === 'gone')
      .map((a) => `${a.iface} is gone${a.goneSince ? ` since ${new Date(a.goneSince).toISOString()}` : ''} (deleted; counting resumes when it is re-created)`);
    const last = this.live.last?.end ?? s.startedAt;
    const late = Date.now() - last;
    const allowed = 3 * this.source.intervalMs + 5000;
    if (late > allowed) return { ok: false, reason: `no interval for ${Math.round(late / 1000)} s` };
    const problems = [...gone, ...(s.sinks.history?.problem ? [`history: ${s.sinks.history.problem}`] : [])];
    if (problems.length) return { ok: true, degraded: true, reason: problems.join('; ') };
    return { ok: true };
  }

  /** Where the APIs listen (ports as bound: 0 in the settings picks a free one). */
  status(): ApiStatus {
    return { http: this.httpUrl, grpc: this.grpcAddress, httpPort: this.httpPort, grpcPort: this.grpcPort };
  }

  /**
   * Takes one interval; returns the rest of its work for a turn of its own
   * (Consumer.add): /metrics, whose talker series walk every remote address,
   * and the live pages made ahead. At 100k sessions the live query's snapshot
   * and /metrics were ~35 ms in one turn.
   */
  add(stats: IntervalStats, status: CollectorStatus): (() => void) | undefined {
    if (this.closed) return undefined;
    this.live.add(stats);
    this.service.invalidate();
    if (stats.end > stats.start) {
      this.latest = stats;
      this.grpc?.publish(stats);
      this.hub.emit('interval', stats);
    }
    const flows = this.source.processor.status();
    return () => {
      if (this.closed) return;
      this.metrics.add(stats, status, flows);
      this.live.prepareAhead();
    };
  }

  /** Ends the streams (cleanly) and stops both servers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.grpc?.close(), this.http?.close()]);
  }

  /** "127.0.0.1:50051" */
  get grpcAddress(): string {
    const host = this.config.listen.includes(':') ? `[${this.config.listen}]` : this.config.listen;
    return `${host}:${this.grpcPort}`;
  }

  /** "http://127.0.0.1:8080" / "https://..." */
  get httpUrl(): string {
    const host = this.config.listen.includes(':') ? `[${this.config.listen}]` : this.config.listen;
    return `${this.config.tls ? 'https' : 'http'}://${host}:${this.httpPort}`;
  }
}

/**
 * Reads the tokens file and the TLS files of the configuration: a missing or
 * malformed one is a clear error. `flowlens run` calls it before attaching.
 */
export function readApiFiles(c: ApiConfig): { tokens: TokenSet; tls?: { cert: Buffer; key: Buffer }; clientCa?: Buffer } {
  const tokens = c.tokensFile ? TokenSet.fromFile(c.tokensFile) : TokenSet.open();
  if (!c.tls) return { tokens };
  const { cert, key, clientCa } = readTlsFiles(c.tls, c.grpcClientCa);
  return { tokens, tls: { cert, key }, ...(clientCa ? { clientCa } : {}) };
}

/** A port that cannot be bound, said the way a user can act on. */
function bindError(what: string, host: string, port: number, e: Error, flag: string): FlowlensError {
  const code = (e as NodeJS.ErrnoException).code;
  return new FlowlensError('FLOW_ERR_USAGE', `cannot serve ${what} on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the port is in use' : code === 'EADDRNOTAVAIL' ? 'no interface has that address' : e.message}`,
    `choose another port with ${flag} (0 picks a free one), another address with --listen, or --no-api`);
}

/**
 * The API server as a part of a running flowlens: check() reads the tokens
 * and TLS files (before anything is opened), start() binds both ports, and
 * every interval it is fed as a Consumer; stop() ends the streams and closes.
 */
export class ApiComponent implements Consumer {
  readonly name = 'api';
  private server: ApiServer | undefined;

  /** `source` is asked for at start: the monitor and the history store exist by then. */
  constructor(readonly config: ApiConfig, private readonly source: () => ApiSource) {}

  /** Refuses a missing or malformed tokens or TLS file. */
  check(): void {
    readApiFiles(this.config);
  }

  async start(): Promise<void> {
    this.server = await ApiServer.start(this.config, this.source());
  }

  add(stats: IntervalStats, status: CollectorStatus): (() => void) | undefined {
    return this.server?.add(stats, status);
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  /** Undefined before start. */
  status(): ApiStatus | undefined {
    return this.server?.status();
  }
}
