/**
 * Prometheus metrics (/metrics): traffic counters per interface, direction and
 * scope; active sessions; per-remote counters under a series budget; the
 * collector's own health; process metrics. Updated once per interval from the
 * same IntervalStats every other consumer gets, so /metrics agrees with the
 * APIs and the history.
 *
 * Remote series: a remote address gets its own series when it first talks and
 * the budget has room, and keeps it until it has been quiet for
 * REMOTE_IDLE_MS (counters stay monotonic while it lives). Traffic of remotes
 * without a series is counted under remote="other", and
 * flowlens_remote_series_folded says how many remotes that was in the latest
 * interval. Per direction, the remote series sum to the talker traffic.
 */
import type { HostSample } from '../system/host.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InfluxSinkStats } from '../sinks/influx/index.js';
import type { HistoryStatus } from '../store/component.js';
import type { CollectorStatus, InterfaceReconciliation } from '../collector/index.js';
import type { FlowsStatus } from '../flows/processor.js';
import type { IntervalStats } from '../flows/types.js';
import { addCounts, OTHER_KEY, zeroCounts, type TalkerCounts, type TalkerRow } from '../flows/talkers.js';

/** A remote's series is dropped after this long without traffic, freeing its place in the budget. */
const REMOTE_IDLE_MS = 10 * 60_000;
export const OTHER_REMOTE = 'other';

export class FlowMetrics {
  readonly registry = new Registry();
  private readonly trafficBytes: Counter<'iface' | 'direction' | 'scope'>;
  private readonly trafficPackets: Counter<'iface' | 'direction' | 'scope'>;
  private readonly activeSessions: Gauge;
  private readonly activeRemotes: Gauge;
  private readonly remoteSeries: TalkerSeries;
  private readonly domainSeries: TalkerSeries;
  private readonly protocolSeries: TalkerSeries;
  private readonly folded: Gauge;
  private readonly remotesTracked: Gauge;
  private readonly mapFill: Gauge;
  private readonly flowsNotFitted: Gauge;
  private readonly suggestedMapSize: Gauge;
  private readonly lateIntervals: Counter;
  private readonly overflow: Counter;
  private readonly nonIp: Counter;
  private readonly malformed: Counter;
  private readonly bpfErrors: Counter<'reason'>;
  private readonly drain: Histogram;
  private readonly intervals: Counter;
  private readonly untracked: Counter;
  private readonly ended: Counter;
  private readonly filteredBytes: Counter;
  private readonly filteredPackets: Counter;
  private readonly attached: Gauge<'iface' | 'ingress' | 'egress'>;
  private readonly reattaches: Counter<'iface'>;
  private readonly goneSeconds: Counter<'iface'>;
  private readonly forwarded: Counter<'iface'>;
  private readonly lastInterval: Gauge;
  private readonly captures: Counter;
  private readonly captureDrops: Counter;
  private previous: { collector?: CollectorStatus; flows?: FlowsStatus } = {};
  private influx: ReturnType<FlowMetrics['influxMetrics']> | undefined;
  private previousInflux: InfluxSinkStats | undefined;
  private machineGauges: ReturnType<FlowMetrics['machineMetrics']> | undefined;
  private history: ReturnType<FlowMetrics['historyMetrics']> | undefined;
  private previousHistory: HistoryStatus | undefined;
  private reconcileGauges: ReturnType<FlowMetrics['reconcileMetrics']> | undefined;

  constructor(private readonly remoteBudget: number, labels: { host: string },
    /** The InfluxDB writer's stats, when one runs. */
    private readonly influxStats: () => InfluxSinkStats | undefined = () => undefined,
    /** The machine (CPU, memory, disk, interfaces), read on every scrape. */
    private readonly machine: () => HostSample | undefined = () => undefined,
    /** The history store's status, when history is on. */
    private readonly historyStats: () => HistoryStatus | undefined = () => undefined,
    /** Reconciliation with the kernel's interface counters, read on every scrape. */
    private readonly reconciliation: () => InterfaceReconciliation[] = () => [],
    /** Since start: intervals whose delivery in slices was late (MonitorStatus.lateDeliveries). */
    lateDeliveries: () => number = () => 0,
    /** Since start: intervals delivered coarsened (MonitorStatus.coarsenedIntervals). */
    coarsenedIntervals: () => number = () => 0) {
    const r = this.registry;
    r.setDefaultLabels({ host: labels.host });
    collectDefaultMetrics({ register: r });
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers: [r] });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers: [r] });
    this.trafficBytes = counter('flowlens_traffic_bytes_total', 'L3 bytes by interface, direction (up: local to remote) and scope (internet, lan, unknown: counted while the flow table was full)', ['iface', 'direction', 'scope']);
    this.trafficPackets = counter('flowlens_traffic_packets_total', 'Packets by interface, direction and scope', ['iface', 'direction', 'scope']);
    this.activeSessions = gauge('flowlens_active_sessions', 'Sessions alive at the end of the latest interval');
    this.activeRemotes = gauge('flowlens_active_remotes', 'Distinct remote addresses among the active sessions');
    this.remoteSeries = new TalkerSeries('remote', remoteBudget, {
      bytes: counter('flowlens_remote_bytes_total', `L3 bytes by remote address (the first ${remoteBudget} remotes to talk; the rest as remote="other") and direction`, ['remote', 'direction']),
      packets: counter('flowlens_remote_packets_total', 'Packets by remote address and direction, as flowlens_remote_bytes_total', ['remote', 'direction']),
    });
    this.domainSeries = new TalkerSeries('domain', remoteBudget, {
      bytes: counter('flowlens_domain_bytes_total', `L3 bytes by remote domain (DNS answers and TLS server names; "unknown": no name; the first ${remoteBudget} domains, the rest as domain="other") and direction`, ['domain', 'direction']),
      packets: counter('flowlens_domain_packets_total', 'Packets by remote domain and direction, as flowlens_domain_bytes_total', ['domain', 'direction']),
      connections: counter('flowlens_domain_connections_total', 'Sessions begun, by remote domain', ['domain']),
    });
    this.protocolSeries = new TalkerSeries('protocol', 256, {
      bytes: counter('flowlens_protocol_bytes_total', 'L3 bytes by IP protocol (tcp, udp, icmp, ...) and direction', ['protocol', 'direction']),
      packets: counter('flowlens_protocol_packets_total', 'Packets by IP protocol and direction', ['protocol', 'direction']),
      connections: counter('flowlens_protocol_connections_total', 'Sessions begun, by IP protocol', ['protocol']),
    });
    this.folded = gauge('flowlens_remote_series_folded', 'Remote addresses of the latest interval counted under remote="other" because the series budget was full');
    this.remotesTracked = gauge('flowlens_remote_series', 'Remote addresses with their own series (at most the budget)');
    this.mapFill = gauge('flowlens_flow_table_fill_ratio', 'Flows of the latest interval over the kernel flow table size (--map-size)');
    this.flowsNotFitted = gauge('flowlens_flow_table_flows_not_fitted', 'Flows of the latest interval that did not fit the kernel flow table (estimated from the overflow packets)');
    this.suggestedMapSize = gauge('flowlens_flow_table_suggested_size', 'The --map-size that fits the busiest interval that overflowed since start (0: none did)');
    this.lateIntervals = counter('flowlens_late_intervals_total', 'Ticks of the --interval cadence that went by while an interval was still being drained or processed');
    // the monitor's own total, read on scrape (prom-client's collect): nothing to do per interval
    new Counter({
      name: 'flowlens_late_deliveries_total', registers: [r],
      help: 'Intervals still being delivered to the consumers in slices when the next one arrived (the rest was delivered at once, before it: nothing lost, but the API waited)',
      collect() { this.reset(); this.inc(lateDeliveries()); },
    });
    new Counter({
      name: 'flowlens_coarsened_intervals_total', registers: [r],
      help: 'Intervals whose talkers were cut to the largest keys and "other" because the control plane was behind (totals, history sums and sessions stay exact)',
      collect() { this.reset(); this.inc(coarsenedIntervals()); },
    });
    this.overflow = counter('flowlens_overflow_packets_total', 'Packets counted while the kernel flow table was full (in the totals, without addresses)');
    this.nonIp = counter('flowlens_non_ip_packets_total', 'Non-IP packets seen (ARP, LLDP, ...)');
    this.malformed = counter('flowlens_malformed_packets_total', 'Packets with malformed or truncated IP headers');
    this.bpfErrors = counter('flowlens_bpf_errors_total', 'The BPF program\'s own failures, by reason', ['reason']);
    this.drain = new Histogram({
      name: 'flowlens_drain_duration_seconds', help: 'Time to drain the kernel flow table once per interval',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [r],
    });
    this.intervals = counter('flowlens_intervals_total', 'Intervals drained and processed');
    this.untracked = counter('flowlens_untracked_sessions_total', 'Conversations not tracked as sessions because the session table was full (still counted)');
    this.ended = counter('flowlens_ended_sessions_total', 'Sessions that ended');
    this.filteredBytes = counter('flowlens_filtered_bytes_total', 'L3 bytes the configured filters removed from sessions, talkers and history');
    this.filteredPackets = counter('flowlens_filtered_packets_total', 'Packets the configured filters removed');
    this.attached = gauge('flowlens_attached', 'Interfaces counted on, with how ingress and egress are attached (1 while attached, 0 while the interface is gone)', ['iface', 'ingress', 'egress']);
    this.reattaches = counter('flowlens_interface_reattaches_total', 'Times an interface was attached again after it was deleted and re-created, since start', ['iface']);
    this.forwarded = counter('flowlens_interface_forwarded_packets_total', 'Packets an interface with a gateway role skipped because another interface counts them (docs/gateway.md); with its counted, non-IP and malformed packets it adds up to the kernel\'s', ['iface']);
    this.goneSeconds = counter('flowlens_interface_gone_seconds_total', 'Seconds an interface did not exist since start (nothing counted on it then), the current gap included', ['iface']);
    this.captures = counter('flowlens_captures_total', 'DNS answers and TLS ClientHellos the kernel handed over for names');
    this.captureDrops = counter('flowlens_capture_drops_total', 'DNS answers and TLS ClientHellos lost: the capture ring buffer was full (names.captureBuffer) or the copy failed');
    this.lastInterval = gauge('flowlens_last_interval_timestamp_seconds', 'End of the latest processed interval (Unix time)');
  }

  add(stats: IntervalStats, collector: CollectorStatus, flows: FlowsStatus): void {
    for (const t of stats.traffic) {
      const labels = { iface: t.iface, direction: t.direction, scope: t.scope };
      this.trafficBytes.inc(labels, t.bytes);
      this.trafficPackets.inc(labels, t.packets);
    }
    this.activeSessions.set(stats.activeSessions);
    this.activeRemotes.set(stats.activeRemotes);
    this.addRemotes(stats);
    this.addStatus(stats, collector, flows);
  }

  private addRemotes(stats: IntervalStats): void {
    const { folded, kept } = this.remoteSeries.add(stats.talkers.ip, stats.end);
    this.folded.set(folded);
    this.remotesTracked.set(kept);
    this.domainSeries.add(stats.talkers.domain, stats.end);
    this.protocolSeries.add(stats.talkers.proto, stats.end);
  }

  private addStatus(stats: IntervalStats, c: CollectorStatus, f: FlowsStatus): void {
    const pc = this.previous.collector;
    const pf = this.previous.flows;
    // the collector's and flows' counters are totals since start: count what is new
    const delta = (now: number, before: number | undefined) => Math.max(0, now - (before ?? 0));
    this.mapFill.set(c.mapFill);
    this.flowsNotFitted.set(c.flowsNotFitted);
    this.suggestedMapSize.set(c.suggestedMapSize);
    this.lateIntervals.inc(delta(c.lateIntervals, pc?.lateIntervals));
    this.overflow.inc(delta(c.overflowPackets, pc?.overflowPackets));
    this.nonIp.inc(delta(c.nonIpPackets, pc?.nonIpPackets));
    this.malformed.inc(delta(c.malformedPackets, pc?.malformedPackets));
    this.captures.inc(delta(c.captures, pc?.captures));
    this.captureDrops.inc(delta(c.captureDrops + c.captureLoadErrors, pc ? pc.captureDrops + pc.captureLoadErrors : undefined));
    for (const [reason, n] of Object.entries(c.bpfErrors)) this.bpfErrors.inc({ reason }, delta(n, pc?.bpfErrors[reason]));
    const newIntervals = delta(c.intervals, pc?.intervals);
    this.intervals.inc(newIntervals);
    if (newIntervals > 0) this.drain.observe(c.lastDrainMs / 1000);
    this.untracked.inc(delta(f.untrackedSessions, pf?.untrackedSessions));
    this.ended.inc(delta(f.endedSessions, pf?.endedSessions));
    this.filteredBytes.inc(delta(f.filteredBytes, pf?.filteredBytes));
    this.filteredPackets.inc(delta(f.filteredPackets, pf?.filteredPackets));
    this.attached.reset();
    for (const a of c.attachments) {
      this.attached.set({ iface: a.iface, ingress: String(a.ingress), egress: String(a.egress) }, a.state === 'gone' ? 0 : 1);
      const before = pc?.attachments.find((p) => p.iface === a.iface);
      this.reattaches.inc({ iface: a.iface }, delta(a.reattaches, before?.reattaches));
      this.goneSeconds.inc({ iface: a.iface }, delta(a.goneMs, before?.goneMs) / 1000);
      this.forwarded.inc({ iface: a.iface }, delta(a.forwardedPackets, before?.forwardedPackets));
    }
    if (stats.end > stats.start) this.lastInterval.set(stats.end / 1000);
    this.previous = { collector: { ...c, bpfErrors: { ...c.bpfErrors }, attachments: c.attachments.map((a) => ({ ...a })) }, flows: { ...f } };
  }

  /** The InfluxDB writer's counters (totals since start: the new part is added). */
  addInflux(i: InfluxSinkStats | undefined): void {
    if (!i) return;
    const m = (this.influx ??= this.influxMetrics());
    const p = this.previousInflux;
    const delta = (now: number, before: number | undefined) => Math.max(0, now - (before ?? 0));
    m.written.inc(delta(i.pointsWritten, p?.pointsWritten));
    m.dropped.inc(delta(i.pointsDropped, p?.pointsDropped));
    m.droppedBytes.inc(delta(i.bytesDropped, p?.bytesDropped));
    m.retries.inc(delta(i.retries, p?.retries));
    for (const [dimension, n] of Object.entries(i.seriesFolded)) m.folded.inc({ dimension }, delta(n, p?.seriesFolded[dimension as keyof typeof i.seriesFolded]));
    m.buffered.set(i.bufferedPoints);
    m.bufferedBytes.set(i.bufferedBytes);
    if (i.lastSuccess) m.lastSuccess.set(i.lastSuccess / 1000);
    this.previousInflux = { ...i, seriesFolded: { ...i.seriesFolded } };
  }

  /** Registered on the first report, so a flowlens without InfluxDB has no such series. */
  private influxMetrics() {
    const r = this.registry;
    return {
      written: new Counter({ name: 'flowlens_influx_points_written_total', help: 'Points the InfluxDB server accepted', registers: [r] }),
      dropped: new Counter({ name: 'flowlens_influx_points_dropped_total', help: 'Points lost: buffer over its caps while InfluxDB was down or slow, refused by the server, or left at shutdown', registers: [r] }),
      droppedBytes: new Counter({ name: 'flowlens_influx_dropped_bytes_total', help: 'Line-protocol bytes of the dropped points', registers: [r] }),
      retries: new Counter({ name: 'flowlens_influx_retries_total', help: 'Failed InfluxDB writes that were retried', registers: [r] }),
      folded: new Counter({ name: 'flowlens_influx_series_folded_total', help: 'Talker keys written as "other" because the per-dimension series budget was full', labelNames: ['dimension'], registers: [r] }),
      buffered: new Gauge({ name: 'flowlens_influx_buffered_points', help: 'Points waiting to be written to InfluxDB', registers: [r] }),
      bufferedBytes: new Gauge({ name: 'flowlens_influx_buffered_bytes', help: 'Line-protocol bytes waiting to be written to InfluxDB', registers: [r] }),
      lastSuccess: new Gauge({ name: 'flowlens_influx_last_success_timestamp_seconds', help: 'When InfluxDB last accepted a write (Unix time)', registers: [r] }),
    };
  }

  /** The history store's health (totals since start: the new part is added). */
  addHistory(h: HistoryStatus | undefined): void {
    if (!h) return;
    const m = (this.history ??= this.historyMetrics());
    const p = this.previousHistory;
    const delta = (now: number | undefined, before: number | undefined) => Math.max(0, (now ?? 0) - (before ?? 0));
    m.writing.set(h.problem && h.failingSince ? 0 : 1);
    m.pendingBytes.set(h.pendingTrafficBytes ?? 0);
    m.pendingSessions.set(h.pendingSessions ?? 0);
    m.shed.inc(delta(h.sessionsShed, p?.sessionsShed));
    m.trimmed.inc(delta(h.sessionsTrimmed, p?.sessionsTrimmed));
    m.recreated.inc(delta(h.recreated, p?.recreated));
    this.previousHistory = { ...h };
  }

  /** Registered on the first report, so a flowlens without history has no such series. */
  private historyMetrics() {
    const r = this.registry;
    return {
      writing: new Gauge({ name: 'flowlens_history_writing', help: '1 while history flushes succeed, 0 while they fail (disk full, read-only, ...; the reason is in /api/status)', registers: [r] }),
      pendingBytes: new Gauge({ name: 'flowlens_history_pending_traffic_bytes', help: 'L3 bytes of traffic counted but not yet written to the history', registers: [r] }),
      pendingSessions: new Gauge({ name: 'flowlens_history_pending_sessions', help: 'Ended sessions waiting to be written to the session log', registers: [r] }),
      shed: new Counter({ name: 'flowlens_history_sessions_shed_total', help: 'Ended sessions never stored: dropped oldest first while the session log could not be written', registers: [r] }),
      trimmed: new Counter({ name: 'flowlens_history_sessions_trimmed_total', help: 'Ended sessions deleted from the log, oldest first, to stay under history.maxDiskSize or to make room on a full disk', registers: [r] }),
      recreated: new Counter({ name: 'flowlens_history_db_recreated_total', help: 'Times the history database was deleted or replaced while running and recreated', registers: [r] }),
    };
  }

  /** The text exposition format. */
  text(): Promise<string> {
    this.addInflux(this.influxStats());
    this.addMachine(this.machine());
    this.addHistory(this.historyStats());
    this.addReconcile(this.reconciliation());
    return this.registry.metrics();
  }

  private reconcileMetrics() {
    const r = this.registry;
    const labels = ['iface', 'direction'] as const;
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Gauge<L>({ name, help, labelNames, registers: [r] });
    return {
      kernelPackets: gauge('flowlens_reconcile_kernel_packets', 'The interface\'s own rx/tx_packets since flowlens attached (docs/reconcile.md)', labels),
      kernelBytes: gauge('flowlens_reconcile_kernel_bytes', 'The interface\'s own rx/tx_bytes since flowlens attached', labels),
      expectedPackets: gauge('flowlens_reconcile_expected_packets', 'What the kernel should have counted, from flowlens\'s counts term by term', labels),
      expectedBytes: gauge('flowlens_reconcile_expected_bytes', 'Bytes the kernel should have counted, from flowlens\'s counts term by term', labels),
      unexplainedPackets: gauge('flowlens_reconcile_unexplained_packets', 'Kernel packets minus expected: 0 when every packet is explained', labels),
      unexplainedBytes: gauge('flowlens_reconcile_unexplained_bytes', 'Kernel bytes minus expected: 0 when every byte is explained', labels),
      termPackets: gauge('flowlens_reconcile_term_packets', 'One term of the expected packets (flows, overflow, forwarded, non-ip, malformed, gso, ...)', [...labels, 'term']),
      termBytes: gauge('flowlens_reconcile_term_bytes', 'One term of the expected bytes (flows, ..., gso, ethernet, veth-xdp-rx)', [...labels, 'term']),
    };
  }

  /** Set from scratch on each scrape: an interface that is no longer attached loses its series. */
  private addReconcile(list: InterfaceReconciliation[]): void {
    if (!list.length && !this.reconcileGauges) return;
    const g = (this.reconcileGauges ??= this.reconcileMetrics());
    for (const gauge of Object.values(g)) gauge.reset();
    for (const i of list) {
      for (const direction of ['ingress', 'egress'] as const) {
        const d = i.sinceAttach[direction];
        const l = { iface: i.iface, direction };
        g.kernelPackets.set(l, d.kernel.packets);
        g.kernelBytes.set(l, d.kernel.bytes);
        g.expectedPackets.set(l, d.expected.packets);
        g.expectedBytes.set(l, d.expected.bytes);
        g.unexplainedPackets.set(l, d.unexplained.packets);
        g.unexplainedBytes.set(l, d.unexplained.bytes);
        for (const t of d.terms) {
          g.termPackets.set({ ...l, term: t.term }, t.packets);
          g.termBytes.set({ ...l, term: t.term }, t.bytes);
        }
      }
    }
  }

  private machineMetrics() {
    const r = this.registry;
    // node_exporter's names, units and labels, so that its Grafana panels work on these series
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Counter<L>({ name, help, labelNames, registers: [r] });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers: [r] });
    const net = (what: string, help: string) => counter(`node_network_${what}`, `${help} (node_exporter's meaning)`, ['device']);
    return {
      cpu: counter('node_cpu_seconds_total', 'Seconds the CPUs spent in each mode (node_exporter\'s meaning)', ['cpu', 'mode']),
      load1: gauge('node_load1', '1-minute load average'),
      load5: gauge('node_load5', '5-minute load average'),
      load15: gauge('node_load15', '15-minute load average'),
      memTotal: gauge('node_memory_MemTotal_bytes', 'Memory installed (MemTotal of /proc/meminfo)'),
      memAvailable: gauge('node_memory_MemAvailable_bytes', 'Memory available for new work (MemAvailable of /proc/meminfo)'),
      fsSize: gauge('node_filesystem_size_bytes', 'Size of the filesystem of flowlens\'s data directory (mountpoint: the data directory)', ['mountpoint']),
      fsAvail: gauge('node_filesystem_avail_bytes', 'Bytes available to flowlens on its data directory\'s filesystem', ['mountpoint']),
      rxBytes: net('receive_bytes_total', 'Bytes received by the interface'),
      txBytes: net('transmit_bytes_total', 'Bytes sent by the interface'),
      rxPackets: net('receive_packets_total', 'Packets received by the interface'),
      txPackets: net('transmit_packets_total', 'Packets sent by the interface'),
      rxErrs: net('receive_errs_total', 'Receive errors of the interface'),
      txErrs: net('transmit_errs_total', 'Transmit errors of the interface'),
      rxDrop: net('receive_drop_total', 'Packets the interface dropped on receive'),
      txDrop: net('transmit_drop_total', 'Packets the interface dropped on transmit'),
    };
  }

  /** The machine's counters are the kernel's own totals: each scrape sets them (reset, then the value). */
  private addMachine(m: HostSample | undefined): void {
    if (!m) return;
    const g = (this.machineGauges ??= this.machineMetrics());
    const setCounter = <L extends string>(c: Counter<L>, labels: Partial<Record<L, string>>, value: number) => {
      c.remove(labels as Record<L, string>);
      c.inc(labels as Record<L, string>, Math.max(0, value));
    };
    for (const { cpu, seconds } of m.perCpu) for (const [mode, v] of Object.entries(seconds)) setCounter(g.cpu, { cpu, mode }, v);
    g.load1.set(m.load1);
    g.load5.set(m.load5);
    g.load15.set(m.load15);
    g.memTotal.set(m.memTotalBytes);
    g.memAvailable.set(m.memAvailableBytes);
    if (m.disk) {
      g.fsSize.set({ mountpoint: m.disk.path }, m.disk.sizeBytes);
      g.fsAvail.set({ mountpoint: m.disk.path }, m.disk.availBytes);
    }
    for (const i of m.interfaces) {
      const device = { device: i.name };
      setCounter(g.rxBytes, device, i.rxBytes);
      setCounter(g.txBytes, device, i.txBytes);
      setCounter(g.rxPackets, device, i.rxPackets);
      setCounter(g.txPackets, device, i.txPackets);
      setCounter(g.rxErrs, device, i.rxErrors);
      setCounter(g.txErrs, device, i.txErrors);
      setCounter(g.rxDrop, device, i.rxDropped);
      setCounter(g.txDrop, device, i.txDropped);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Per-key counters of one talker dimension under a series budget: a key gets
 * its own series when it first talks and the budget has room, keeps it until
 * quiet for REMOTE_IDLE_MS, and the rest is counted under "other" — so each
 * direction's series sum to the dimension's talker traffic.
 */
class TalkerSeries {
  /** Key → end of the interval it last had traffic in. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly label: string, private readonly budget: number,
    private readonly c: { bytes: Counter<string>; packets: Counter<string>; connections?: Counter<string> }) {}

  add(rows: readonly TalkerRow[], end: number): { folded: number; kept: number } {
    let folded = 0;
    const other = zeroCounts();
    for (const row of rows) {
      // the "other" row of a coarsened interval (src/flows/coarsen.ts) is "other" here too
      if (row.key !== OTHER_KEY && (this.seen.has(row.key) || this.seen.size < this.budget)) {
        this.seen.set(row.key, end);
        this.count(row.key, row);
      } else {
        folded++;
        addCounts(other, row);
      }
    }
    if (folded) this.count(OTHER_REMOTE, other);
    for (const [key, last] of this.seen) {
      if (end - last < REMOTE_IDLE_MS) continue;
      this.seen.delete(key);
      for (const direction of ['up', 'down']) {
        this.c.bytes.remove({ [this.label]: key, direction });
        this.c.packets.remove({ [this.label]: key, direction });
      }
      this.c.connections?.remove({ [this.label]: key });
    }
    return { folded, kept: this.seen.size };
  }

  private count(key: string, r: TalkerCounts): void {
    const up = { [this.label]: key, direction: 'up' };
    const down = { [this.label]: key, direction: 'down' };
    this.c.bytes.inc(up, r.bytesUp);
    this.c.bytes.inc(down, r.bytesDown);
    this.c.packets.inc(up, r.packetsUp);
    this.c.packets.inc(down, r.packetsDown);
    if (r.newSessions) this.c.connections?.inc({ [this.label]: key }, r.newSessions);
  }
}
