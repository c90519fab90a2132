/**
 * The query layer behind every door: gRPC, the JSON API and the live streams
 * all call these methods, so the same question gets the same answer. Requests
 * and answers are the messages generated from proto/flowlens/v1 (plain objects;
 * the JSON API sends them as they are). History comes from the store, live
 * answers from the LiveQuery. Bad input throws a FlowlensError naming the
 * parameter (→ HTTP 400, gRPC INVALID_ARGUMENT).
 */
import type { HostSample } from '../system/host.js';
import type { MonitorStatus } from '../monitor.js';
import type { InterfaceReconciliation } from '../collector/index.js';
import { timeZone, version } from '../version.js';
import type { InfluxSinkStats } from '../sinks/influx/index.js';
import type { LiveSession } from '../flows/live.js';
import { TALKER_DIMENSIONS, TALKER_SCOPES, type IntervalStats, type SessionRecord, type TalkerDimension, type TalkerScope } from '../flows/types.js';
import { protocolName } from '../net/protocols.js';
import type { BillingConfig, Store, UsageRow } from '../store/index.js';
import type { HistoryStatus } from '../store/component.js';
import type { DateArg, SessionFilter as StoreSessionFilter, SessionSort, TrafficFilter as StoreTrafficFilter, Totals as StoreTotals, TalkerTotal, RangeParams } from '../store/types.js';
import { FlowlensError } from '../errors.js';
import { talkerDirection } from '../store/direction.js';
import { LiveQuery, MAX_WINDOW_SECONDS, type LiveSort, type LiveTalker } from './live-query.js';
import * as pb from './grpc/gen/flowlens/v1/flowlens.js';
import type { Device } from '../enrich/devices.js';

export interface ApiSources {
  live: LiveQuery;
  /** The running flowlens' status (Monitor.status). */
  status(): MonitorStatus;
  /** Per attached interface: the kernel's counters beside flowlens's (Monitor.reconcile). */
  reconcile?(): InterfaceReconciliation[];
  /** The history; undefined when history is off. */
  store?: Store;
  billing: BillingConfig;
  /** The LAN's devices (src/enrich/devices.ts): /api/devices and the labels of local-host talkers. */
  devices?: { list(): Device[]; labelOf(address: string): string | undefined };
}

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);

/** gRPC names a range's ends as the proto does; the JSON API passes its own (start, end). */
export const GRPC_RANGE: RangeParams = { from: 'from', to: 'to' };

/** "" means "not given" in proto3; digits are epoch ms. */
function dateArg(text: string, param: string): DateArg | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (/^\d{10,}$/.test(t)) return Number(t);
  if (/^\d+$/.test(t)) throw usage(`${param}: "${t}" is not a date`, 'write YYYY-MM-DD, YYYY-MM, YYYY-MM-DDTHH, today, yesterday or epoch milliseconds');
  return t;
}

function trafficFilter(f: pb.TrafficFilter | undefined): StoreTrafficFilter {
  const out: StoreTrafficFilter = {};
  if (f?.iface) out.iface = f.iface;
  if (f?.direction) {
    if (f.direction !== 'up' && f.direction !== 'down') throw usage(`direction must be up or down, not "${f.direction}"`);
    out.direction = f.direction;
  }
  if (f?.scope) {
    if (!['internet', 'lan', 'unknown'].includes(f.scope)) throw usage(`scope must be internet, lan or unknown, not "${f.scope}"`);
    out.scope = f.scope as StoreTrafficFilter['scope'];
  }
  return out;
}

export function sessionFilter(f: pb.SessionFilter | undefined): StoreSessionFilter {
  const out: StoreSessionFilter = {};
  if (!f) return out;
  if (f.addr) out.addr = f.addr;
  if (f.port !== undefined) out.port = f.port;
  if (f.protocol) out.protocol = f.protocol;
  if (f.iface) out.iface = f.iface;
  if (f.scope) out.scope = f.scope as StoreSessionFilter['scope'];
  if (f.country) out.country = f.country;
  if (f.asn) out.asn = f.asn;
  if (f.domain) out.domain = f.domain;
  return out;
}

/** Epoch ms as the wire's int64: the collector's clock conversion gives fractions of a millisecond. */
const ms = (t: number): number => Math.floor(t);

/** Sort names as the proto writes them ("first_seen") or as JavaScript does ("firstSeen"). */
function sortName(text: string): string {
  return text.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function totals(t: StoreTotals): pb.Totals {
  return { up: t.up, down: t.down, total: t.total, packetsUp: t.packetsUp, packetsDown: t.packetsDown };
}

function talker(t: TalkerTotal | LiveTalker): pb.Talker {
  return { key: t.key, label: t.label ?? '', bytesUp: t.bytesUp, bytesDown: t.bytesDown, bytes: t.bytes, packetsUp: t.packetsUp, packetsDown: t.packetsDown, connections: t.connections };
}

export function sessionMessage(r: SessionRecord, rateUp = 0, rateDown = 0): pb.Session {
  return {
    id: r.id, iface: r.iface, protocol: r.protocol, protocolName: r.protocolName, local: r.local, localPort: r.localPort,
    remote: r.remote, remotePort: r.remotePort, scope: r.scope, initiator: r.initiator, state: String(r.state),
    bytesUp: r.bytesUp, bytesDown: r.bytesDown, packetsUp: r.packetsUp, packetsDown: r.packetsDown,
    firstSeen: ms(r.firstSeen), lastSeen: ms(r.lastSeen), tcpFlagsUp: r.tcpFlagsUp, tcpFlagsDown: r.tcpFlagsDown,
    domain: r.domain ?? '', country: r.country ?? '', city: r.city ?? '', asn: r.asn ?? 0, asOrg: r.asOrg ?? '',
    endReason: r.endReason ?? '', rateUp, rateDown,
  };
}

/** A live session as a message without building its SessionRecord first. */
function liveSessionMessage(s: LiveSession, rateUp: number, rateDown: number): pb.Session {
  const l = s.labels;
  return {
    id: s.id, iface: s.iface, protocol: s.protocol, protocolName: protocolName(s.protocol), local: s.local, localPort: s.localPort,
    remote: s.remote, remotePort: s.remotePort, scope: s.scope, initiator: s.initiator, state: String(s.state),
    bytesUp: s.bytesUp, bytesDown: s.bytesDown, packetsUp: s.packetsUp, packetsDown: s.packetsDown,
    firstSeen: ms(s.firstSeen), lastSeen: ms(s.lastSeen), tcpFlagsUp: s.tcpFlagsUp, tcpFlagsDown: s.tcpFlagsDown,
    domain: l.domain ?? '', country: l.country ?? '', city: l.city ?? '', asn: l.asn ?? 0, asOrg: l.asOrg ?? '',
    endReason: '', rateUp, rateDown,
  };
}

function dimension(text: string): TalkerDimension {
  if (!(TALKER_DIMENSIONS as readonly string[]).includes(text)) throw usage(`dimension must be one of ${TALKER_DIMENSIONS.join(', ')}, not "${text}"`);
  return text as TalkerDimension;
}

function machine(m: HostSample | undefined): pb.Machine | undefined {
  if (!m) return undefined;
  return {
    cpus: m.cpus, cpuBusy: m.cpuBusy, load1: m.load1, load5: m.load5, load15: m.load15,
    memTotalBytes: m.memTotalBytes, memAvailableBytes: m.memAvailableBytes,
    diskPath: m.disk?.path ?? '', diskSizeBytes: m.disk?.sizeBytes ?? 0, diskAvailBytes: m.disk?.availBytes ?? 0,
    interfaces: m.interfaces.map((i) => ({ ...i })),
    processCpuCores: m.process.cpuShare, processResidentBytes: m.process.residentBytes, processHeapBytes: m.process.heapBytes,
  };
}

/** A talker scope: "internet", "lan", or "" for all traffic. */
function talkerScope(text: string): TalkerScope | '' {
  if (!text) return '';
  if (!(TALKER_SCOPES as readonly string[]).includes(text)) throw usage(`scope must be internet or lan, not "${text}"`, 'leave it out for all traffic');
  return text as TalkerScope;
}

/**
 * Buckets one history query over an API may have: a year by hour (8784) fits.
 * More is work (local calendar arithmetic, the answer's size) that one caller
 * could make every other one wait for.
 */
export const MAX_QUERY_BUCKETS = 10_000;

/** History answers kept until the next interval (the only time they can change). */
const CACHE_ENTRIES = 512;

function influxStatus(i: InfluxSinkStats | undefined): pb.InfluxStatus | undefined {
  if (!i) return undefined;
  return {
    pointsWritten: i.pointsWritten, bytesWritten: i.bytesWritten, pointsDropped: i.pointsDropped, bytesDropped: i.bytesDropped,
    bufferedPoints: i.bufferedPoints, bufferedBytes: i.bufferedBytes, maxBufferPoints: i.maxBufferPoints, maxBufferBytes: i.maxBufferBytes,
    retries: i.retries, backingOff: i.backingOff, lastError: i.lastError?.message ?? '', lastErrorAt: ms(i.lastError?.at ?? 0),
    lastSuccess: ms(i.lastSuccess ?? 0), seriesFolded: { ...i.seriesFolded },
  };
}

export class ApiService {
  private cache = new Map<string, unknown>();
  /** The end of the history range being computed (see historyRange). */
  private historyTurn: Promise<void> = Promise.resolve();

  constructor(private readonly src: ApiSources) {}

  /** A new interval was counted: history answers may differ now. */
  invalidate(): void {
    this.cache.clear();
  }

  /**
   * History queries cost SQL over the rollups; their answers change only when an
   * interval is added, so one per question and interval is computed and reused
   * (a dashboard polling every second and many scripts asking the same thing).
   */
  private memo<T>(key: string, compute: () => T): T {
    const hit = this.cache.get(key);
    if (hit !== undefined) return structuredClone(hit) as T;
    const answer = compute();
    if (this.cache.size >= CACHE_ENTRIES) this.cache.clear();
    this.cache.set(key, answer);
    return structuredClone(answer);
  }

  private history(): Store {
    if (!this.src.store) throw new FlowlensError('FLOW_ERR_STORE', 'history is off in this flowlens (--no-history)', 'run flowlens with history on (the default) to ask about past traffic');
    return this.src.store;
  }

  summary(req: pb.SummaryRequest): pb.SummaryResponse {
    return this.memo(`summary ${JSON.stringify(req)}`, () => this.computeSummary(req));
  }

  private computeSummary(req: pb.SummaryRequest): pb.SummaryResponse {
    const s = this.history().summary(trafficFilter(req.filter));
    const period = (p: typeof s.today): pb.PeriodTotals => ({ start: p.start, end: p.end, label: p.label, totals: totals(p) });
    return { at: s.at, today: period(s.today), month: period(s.month), year: period(s.year) };
  }

  /**
   * `params`: how the asker names from and to (errors name the request's own
   * parameters). A range's answer is remembered like the others; a long one is
   * computed in slices so that other requests are answered meanwhile.
   */
  async historyRange(req: pb.HistoryRequest, params = GRPC_RANGE): Promise<pb.HistoryResponse> {
    // shared, not copied: a year by hour is ~1 MB, and copying it would cost the
    // event loop as much again; both doors only serialize the answer
    const key = `history ${JSON.stringify(req)}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit as pb.HistoryResponse;
    // one range is computed at a time: the others wait their turn instead of all
    // interleaving their slices, so the event loop never holds many at once
    const turn = this.historyTurn.then(() => this.computeHistory(req, params));
    this.historyTurn = turn.then(() => undefined, () => undefined);
    const answer = await turn;
    if (this.cache.size >= CACHE_ENTRIES) this.cache.clear();
    this.cache.set(key, answer);
    return answer;
  }

  private async computeHistory(req: pb.HistoryRequest, params: RangeParams): Promise<pb.HistoryResponse> {
    const store = this.history();
    const filter = trafficFilter(req.filter);
    let h;
    switch (req.preset) {
      case '30days': h = store.last30Days(filter); break;
      case '12months': h = store.last12Months(filter); break;
      case 'today_hours': h = store.todayByHour(filter); break;
      case '': {
        const from = dateArg(req.from, params.from);
        const to = dateArg(req.to, params.to);
        if (from === undefined) throw usage(`${params.from} is required (a date like 2026-03-01, or epoch ms)`);
        if (to === undefined) throw usage(`${params.to} is required (a date like 2026-03-31, or epoch ms)`);
        if (!['hour', 'day', 'month'].includes(req.granularity)) throw usage(`granularity must be hour, day or month, not "${req.granularity}"`);
        h = await store.historyInSlices({ from, to, granularity: req.granularity as 'hour' | 'day' | 'month', ...filter, params }, MAX_QUERY_BUCKETS);
        break;
      }
      default: throw usage(`preset must be 30days, 12months or today_hours, not "${req.preset}"`);
    }
    return {
      granularity: h.granularity, from: h.from, to: h.to,
      buckets: h.buckets.map((b) => ({ start: b.start, end: b.end, label: b.label, totals: totals(b) })),
      total: totals(h.total),
    };
  }

  dateRange(): pb.DateRangeResponse {
    return this.memo('dateRange', () => this.computeDateRange());
  }

  private computeDateRange(): pb.DateRangeResponse {
    const r = this.history().dateRange();
    return { first: r.first ?? '', last: r.last ?? '', firstTime: r.firstTime ?? 0, lastTime: r.lastTime ?? 0 };
  }

  usage(req: pb.UsageRequest): pb.UsageResponse {
    const u = this.memo(`usage ${req.cycle} ${req.limit}`, () => this.history().usage(this.src.billing, { cycle: req.cycle, limit: req.limit || 10 }));
    const row = (r: UsageRow & { device?: string; destination?: string }): pb.UsageRow => ({
      key: r.key, label: r.label ?? '', bytesUp: r.bytesUp, bytesDown: r.bytesDown, bytes: r.bytes, device: r.device ?? '', destination: r.destination ?? '',
    });
    return {
      cycle: u.cycle.index, start: ms(u.cycle.start), end: ms(u.cycle.end), from: u.cycle.from, to: u.cycle.to, complete: u.cycle.complete,
      countedUntil: ms(u.countedUntil), observedFrom: ms(u.observedFrom), all: totals(u.all), internet: totals(u.internet), lan: totals(u.lan),
      counted: u.counted, cap: u.cap ?? 0, capScope: u.capScope, capDirection: u.capDirection, capShare: u.capShare ?? 0,
      projected: u.projected, projectedShare: u.projectedShare ?? 0, daysLeft: u.daysLeft,
      p95UpBitsPerSecond: u.p95.upBitsPerSecond, p95DownBitsPerSecond: u.p95.downBitsPerSecond, p95BilledBitsPerSecond: u.p95.billedBitsPerSecond,
      p95Samples: u.p95.samples, p95Resolution: u.p95.resolution,
      devices: u.devices.map(row), destinations: u.destinations.map(row), pairs: u.pairs.map(row),
    };
  }

  topTalkers(req: pb.TopTalkersRequest, params = GRPC_RANGE): pb.TopTalkersResponse {
    const dim = dimension(req.dimension);
    const scope = talkerScope(req.scope);
    const direction = talkerDirection(req.direction);
    const limit = req.limit || 10;
    const from = dateArg(req.from, params.from);
    const to = dateArg(req.to, params.to);
    if (from === undefined && to === undefined) {
      if (req.windowSeconds < 1 || req.windowSeconds > MAX_WINDOW_SECONDS) {
        throw usage(`window must be from 1 to ${MAX_WINDOW_SECONDS} seconds, not ${req.windowSeconds}`, `ask for a live window (window seconds) or a date range (${params.from} and ${params.to})`);
      }
      const t = this.src.live.top(dim, req.windowSeconds, limit, scope, direction);
      return { dimension: dim, scope, source: 'live', from: ms(t.from), to: ms(t.to), rows: this.deviceLabels(dim, t.rows.map(talker)), other: talker(t.other), total: talker(t.total) };
    }
    if (req.windowSeconds) throw usage(`give either a live window or a date range (${params.from} and ${params.to}), not both`);
    if (from === undefined) throw usage(`${params.from} is required with ${params.to}`);
    if (to === undefined) throw usage(`${params.to} is required with ${params.from}`);
    const t = this.memo(`top ${dim} ${scope} ${direction} ${from} ${to} ${limit}`, () => this.history().topTalkers({ dimension: dim, scope, direction, from, to, limit, params }));
    return { dimension: dim, scope, source: 'history', from: ms(t.from), to: ms(t.to), rows: this.deviceLabels(dim, t.rows.map(talker)), other: talker(t.other), total: talker(t.total) };
  }

  /** Local hosts are labelled with their device (name, else vendor, else MAC), as it is now. */
  private deviceLabels(dim: string, rows: pb.Talker[]): pb.Talker[] {
    const d = this.src.devices;
    if (dim !== 'host' || !d) return rows;
    for (const r of rows) if (!r.label) r.label = d.labelOf(r.key) ?? '';
    return rows;
  }

  /** The same as the gRPC message: absent fields as "". */
  deviceMessages(): pb.DevicesResponse {
    return {
      devices: this.devices().devices.map((d) => ({
        mac: d.mac, macKind: d.macKind, vendor: d.vendor ?? '', name: d.name ?? '', nameSource: d.nameSource ?? '',
        addresses: d.addresses, iface: d.iface ?? '', firstSeen: d.firstSeen, lastSeen: d.lastSeen,
      })),
    };
  }

  /** The LAN's devices, most recently seen first (GET /api/devices). */
  devices(): { devices: Device[] } {
    return { devices: this.src.devices?.list() ?? [] };
  }

  sessions(req: pb.SessionsRequest, params = GRPC_RANGE): pb.SessionsResponse {
    const source = req.source || 'live';
    const filter = sessionFilter(req.filter);
    const sort = req.sort ? sortName(req.sort) : undefined;
    const limit = req.limit || 100;
    if (source === 'live') {
      if (req.from || req.to) throw usage(`${params.from} and ${params.to} apply to ended sessions (source ended), not to live ones`);
      const page = this.src.live.sessions({ filter, sort: sort as LiveSort | undefined, limit, cursor: req.cursor || undefined });
      return {
        source, sessions: page.rows.map((r) => liveSessionMessage(r.session, r.rateUp, r.rateDown)),
        nextCursor: page.nextCursor ?? '', matched: page.matched, at: ms(page.at),
      };
    }
    if (source !== 'ended') throw usage(`source must be live or ended, not "${source}"`);
    if (sort === 'rate') throw usage('sort rate applies to live sessions only', 'sort ended sessions by bytes, packets, first_seen or last_seen');
    const from = dateArg(req.from, params.from);
    const to = dateArg(req.to, params.to);
    const page = this.history().sessions({
      source: 'ended', filter, sort: sort as SessionSort | undefined, limit, cursor: req.cursor || undefined, params,
      ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}),
    });
    return { source, sessions: page.sessions.map((s) => sessionMessage(s)), nextCursor: page.nextCursor ?? '', matched: 0, at: 0 };
  }

  realtime(req: pb.RealtimeRequest): pb.RealtimeResponse {
    return this.src.live.realtime(req.seconds || 30);
  }

  /**
   * Reconciliation (docs/reconcile.md): per interface, the kernel's counters
   * beside flowlens's since the attach and over the latest interval, with the
   * terms that turn one into the other. Plain JSON (not a proto message).
   */
  reconcile(): { host: string; interfaces: InterfaceReconciliation[] } {
    return { host: this.src.status().host, interfaces: this.src.reconcile?.() ?? [] };
  }

  /** Reconcile as the gRPC message (the same figures, since the attach). */
  reconcileMessage(): pb.ReconcileResponse {
    const { host, interfaces } = this.reconcile();
    const direction = (d: InterfaceReconciliation['sinceAttach']['ingress']): pb.ReconcileDirection => ({
      kernelPackets: d.kernel.packets, kernelBytes: d.kernel.bytes, kernelDropped: d.kernel.dropped, kernelErrors: d.kernel.errors,
      terms: d.terms, expectedPackets: d.expected.packets, expectedBytes: d.expected.bytes,
      unexplainedPackets: d.unexplained.packets, unexplainedBytes: d.unexplained.bytes, notes: d.notes,
    });
    return {
      host,
      interfaces: interfaces.map((i) => ({
        iface: i.iface, ifindex: i.ifindex, kind: i.kind, ingressHook: i.ingressHook, egressHook: i.egressHook, since: i.since, at: i.at,
        beforeRxPackets: i.kernelBeforeAttach.rxPackets, beforeRxBytes: i.kernelBeforeAttach.rxBytes,
        beforeTxPackets: i.kernelBeforeAttach.txPackets, beforeTxBytes: i.kernelBeforeAttach.txBytes,
        ingress: direction(i.sinceAttach.ingress), egress: direction(i.sinceAttach.egress), explained: i.explained,
      })),
    };
  }

  status(): pb.StatusResponse {
    const s = this.src.status();
    const c = s.collector;
    return {
      host: s.host, startedAt: ms(s.startedAt),
      interfaces: c.attachments.map((a) => ({ name: a.iface, ifindex: a.ifindex, ingress: String(a.ingress), egress: String(a.egress),
        overflowPackets: a.overflowPackets, nonIpPackets: a.nonIpPackets, malformedPackets: a.malformedPackets,
        role: a.role ?? '', forwardedPackets: a.forwardedPackets, state: a.state, reattaches: a.reattaches, goneMs: Math.round(a.goneMs) })),
      mapEntries: c.mapEntries, mapFill: c.mapFill, intervals: c.intervals, lastDrainMs: c.lastDrainMs,
      overflowPackets: c.overflowPackets, nonIpPackets: c.nonIpPackets, malformedPackets: c.malformedPackets,
      bpfErrors: { ...c.bpfErrors },
      activeSessions: s.flows.sessions, maxSessions: s.flows.maxSessions, untrackedSessions: s.flows.untrackedSessions,
      endedSessions: s.flows.endedSessions, filteredPackets: s.flows.filteredPackets, filteredBytes: s.flows.filteredBytes,
      lastIntervalEnd: ms(this.src.live.last?.end ?? 0),
      history: this.src.store !== undefined,
      version: version(),
      timeZone: timeZone(),
      influx: influxStatus(s.sinks.influx),
      captures: c.captures, captureDrops: c.captureDrops, captureLoadErrors: c.captureLoadErrors,
      historyHealth: historyHealth(s.sinks.history),
      namedAddresses: s.sinks.names?.names ?? 0, dnsAnswers: s.sinks.names?.answers ?? 0, tlsHellos: s.sinks.names?.hellos ?? 0,
      devices: s.sinks.devices?.devices ?? 0, dhcpRequests: s.sinks.devices?.dhcpRequests ?? 0, mdnsAnswers: s.sinks.devices?.mdnsAnswers ?? 0,
      deviceVendorProblem: s.sinks.devices?.vendorProblems.join('; ') ?? '',
      machine: machine(s.sinks.machine),
      namesEnabled: s.sinks.names !== undefined,
      geoDatabases: [...new Set(s.sinks.geo?.databases.map((d) => d.role) ?? [])],
      lateIntervals: c.lateIntervals, lateDeliveries: s.lateDeliveries, coarsenedIntervals: s.coarsenedIntervals,
    };
  }

  /** Checks a WatchLive request once, before the stream starts. */
  checkWatchLive(req: pb.WatchLiveRequest): void {
    for (const d of req.dimensions) dimension(d);
    talkerScope(req.scope);
    talkerDirection(req.direction);
    if (req.limit > 10_000) throw usage(`limit must be at most 10000, not ${req.limit}`);
    if (req.windowSeconds > MAX_WINDOW_SECONDS) throw usage(`window must be at most ${MAX_WINDOW_SECONDS} seconds, not ${req.windowSeconds}`);
  }

  /** One update of the live stream, for the interval just processed. */
  liveUpdate(req: pb.WatchLiveRequest, stats: IntervalStats): pb.LiveUpdate {
    const seconds = Math.max((stats.end - stats.start) / 1000, 0.001);
    return {
      start: ms(stats.start), end: ms(stats.end),
      traffic: stats.traffic.map((r) => ({ ...r, bytesPerSecond: r.bytes / seconds, packetsPerSecond: r.packets / seconds })),
      activeSessions: stats.activeSessions, activeRemotes: stats.activeRemotes,
      top: req.dimensions.map((d) => {
        const scope = talkerScope(req.scope);
        const t = this.src.live.top(d as TalkerDimension, req.windowSeconds, req.limit || 10, scope, talkerDirection(req.direction));
        return { dimension: d, scope, source: 'live', from: ms(t.from), to: ms(t.to), rows: this.deviceLabels(d, t.rows.map(talker)), other: talker(t.other), total: talker(t.total) };
      }),
    };
  }

  /** One update of the live sessions stream: the first page. */
  watchSessions(req: pb.WatchSessionsRequest): pb.SessionsResponse {
    return this.sessions({ source: 'live', filter: req.filter, sort: req.sort || 'rate', limit: req.limit || 20, cursor: '', from: '', to: '' });
  }

  flushHistory(): pb.FlushHistoryResponse {
    const r = this.history().flush();
    this.invalidate();
    return { at: r.at, trafficRows: r.traffic, talkerRows: r.talkers, sessions: r.sessions };
  }
}

/** The history store's health for Status (undefined when history is off). */
function historyHealth(h: HistoryStatus | undefined): pb.HistoryHealth | undefined {
  if (!h) return undefined;
  return {
    problem: h.problem ?? '', failingSince: h.failingSince ?? 0, pendingTrafficBytes: h.pendingTrafficBytes ?? 0, pendingSessions: h.pendingSessions ?? 0,
    sessionsShed: h.sessionsShed ?? 0, sessionsTrimmed: h.sessionsTrimmed ?? 0, recreated: h.recreated ?? 0, recreatedAt: h.recreatedAt ?? 0,
  };
}
