/**
 * `flowlens run`: count on interfaces and show what is using them, as a live
 * terminal view (sessions by rate, totals per interface) or as NDJSON for
 * scripts and tests: per interval one "flow" object per kernel flow, one
 * "totals" object per interface, one "interval" object (traffic by up/down
 * and scope, the top talkers); one "session" object per ended session; at
 * start one "api" object saying where the APIs listen.
 */
import type { Interval } from '../collector/index.js';
import type { FlowlensConfig } from '../config/index.js';
import type { IntervalStats } from '../flows/types.js';
import { TALKER_DIMENSIONS } from '../flows/types.js';
import { topRows } from '../flows/talkers.js';
import type { Monitor } from '../monitor.js';
import type { Flowlens } from '../compose.js';
import type { Transition } from '../alerts/engine.js';
import type { Alert } from '../alerts/types.js';
import { protocolName, tcpFlagNames } from './format.js';
import { frameOf, plainFrame, TerminalView } from './live-view.js';
import { forwardingWithoutRolesWarning } from '../system/forwarding.js';
import { limitHeapGrowth } from '../system/heap.js';

/** none: only the start line and errors (a service writing to a journal). */
export type OutputFormat = 'table' | 'ndjson' | 'none';

export interface RunOptions {
  format: OutputFormat;
  /** Rows in the live view, and talkers per dimension in NDJSON. */
  top: number;
  /** Stop after this many ms (0: run until a signal). */
  durationMs: number;
  /** Lines the caller wants shown with the start messages (the demo's network, its data directory). */
  notes?: string[];
  /** Called once flowlens counts (attached, APIs listening): the demo starts its traffic then. */
  onStarted?: () => void;
}

/** The NDJSON "flow" lines of each kernel flow the filters kept (`filtered`: the indexes they removed), then the interface totals (also flowlens analyze). */
export function flowLines(iv: Interval, lines: string[], filtered: ReadonlySet<number> | undefined): void {
  const names = new Map(iv.totals.map((t) => [t.ifindex, t.iface]));
  const { flows } = iv;
  for (let i = 0; i < flows.count; i++) {
    if (filtered?.has(i)) continue;
    const f = flows.flow(i);
    lines.push(JSON.stringify({
      type: 'flow', start: iv.start, end: iv.end,
      iface: names.get(f.ifindex) ?? `#${f.ifindex}`, ifindex: f.ifindex, direction: f.direction,
      ipVersion: f.ipVersion, protocol: protocolName(f.protocol), protocolNumber: f.protocol,
      src: f.src, dst: f.dst, srcPort: f.srcPort, dstPort: f.dstPort,
      packets: f.packets, bytes: f.bytes, firstSeen: f.firstSeen, lastSeen: f.lastSeen,
      tcpFlags: f.tcpFlags, tcpFlagNames: tcpFlagNames(f.tcpFlags),
    }));
  }
  for (const t of iv.totals) {
    lines.push(JSON.stringify({
      type: 'totals', start: iv.start, end: iv.end, iface: t.iface, ifindex: t.ifindex,
      packets: t.ingress.packets + t.egress.packets, bytes: t.ingress.bytes + t.egress.bytes,
      nonIpPackets: t.ingress.nonIpPackets + t.egress.nonIpPackets,
      malformedPackets: t.ingress.malformedPackets + t.egress.malformedPackets,
      overflowPackets: t.ingress.overflowPackets + t.egress.overflowPackets,
      ingress: t.ingress, egress: t.egress,
    }));
  }
}

/** The NDJSON "interval" and "session" objects of one interval (also flowlens analyze). */
export function statsLines(s: IntervalStats, top: number, lines: string[]): void {
  if (s.traffic.length || s.activeSessions) {
    lines.push(JSON.stringify({
      type: 'interval', start: s.start, end: s.end, traffic: s.traffic,
      activeSessions: s.activeSessions, activeRemotes: s.activeRemotes,
      // devices are not in the NDJSON lines (their shape predates them): top --by device and the APIs have them
      talkers: Object.fromEntries(TALKER_DIMENSIONS.filter((d) => d !== 'device').map((d) => [d, topRows(s.talkers[d], top)])),
    }));
  }
  for (const e of s.endedSessions) lines.push(JSON.stringify({ type: 'session', ...e }));
}

/**
 * Writes every interval, error and the sessions open at shutdown, in the chosen
 * format; `view` (a terminal) draws the table instead.
 */
function listen(monitor: Monitor, opts: RunOptions, out: NodeJS.WriteStream, view: TerminalView | undefined): void {
  monitor.on('stats', (s, iv) => {
    if (opts.format === 'ndjson') {
      const lines: string[] = [];
      flowLines(iv, lines, monitor.processor.filteredInLatest);
      statsLines(s, opts.top, lines);
      if (lines.length) out.write(`${lines.join('\n')}\n`);
    } else if (view) {
      view.show(frameOf(iv, s, monitor));
    } else if (opts.format === 'table') {
      out.write(`${plainFrame(frameOf(iv, s, monitor), opts.top)}\n\n`);
    }
  });
  monitor.on('error', (e) => (view ? view.error(e.message) : process.stderr.write(`flowlens: ${e.message}\n`)));
  // sessions still open at shutdown end into the log: print them as well
  monitor.on('shutdown', (ended) => {
    if (opts.format === 'ndjson' && ended.length) out.write(`${ended.map((e) => JSON.stringify({ type: 'session', ...e })).join('\n')}\n`);
  });
}

/** Where flowlens counts, where its dashboard and APIs are, where its history goes. */
function startMessages(flowlens: Flowlens, config: FlowlensConfig, opts: RunOptions): string[] {
  const api = flowlens.api?.status();
  return [
    ...(opts.notes ?? []),
    `flowlens: counting on ${flowlens.monitor.status().collector.attachments.map((a) => `${a.iface} (${a.role ? `${a.role}, ` : ''}ingress ${a.ingress}, egress ${a.egress})`).join(', ')}`,
    ...(api ? [`flowlens: dashboard on ${api.http}/ (JSON API and /metrics on the same port), gRPC on ${api.grpc}`] : []),
    ...(config.history.enabled ? [`flowlens: history in ${config.history.dataDir}`] : []),
  ];
}

/** Runs until SIGINT/SIGTERM (or durationMs), then drains one last time, flushes and detaches. */
export async function run(config: FlowlensConfig, opts: RunOptions, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  // listen for the stop signal before loading: a SIGTERM during start-up still
  // ends with a clean stop (and a final interval) instead of an abrupt kill
  let requestStop = () => {};
  const stopRequested = new Promise<void>((resolve) => { requestStop = resolve; });
  process.once('SIGINT', requestStop);
  process.once('SIGTERM', requestStop);
  // a daemon's sessions live for minutes: V8's default growth held ~4x of them resident
  limitHeapGrowth();
  const compose = await import('../compose.js');
  let flowlens: Flowlens | undefined;
  // the kernel detaches our links when the process dies; this also covers an
  // uncaught exception (the CLI exits through process.exit)
  const onExit = () => flowlens?.closeNow();
  process.once('exit', onExit);
  // the terminal view needs a terminal; pipes and files get plain lines
  const view = opts.format === 'table' && out.isTTY ? new TerminalView(out, process.stdin, requestStop) : undefined;
  try {
    flowlens = new compose.Flowlens(config);
    listen(flowlens.monitor, opts, out, view);
    await flowlens.start();
  } catch (e) {
    process.off('SIGINT', requestStop);
    process.off('SIGTERM', requestStop);
    process.off('exit', onExit);
    throw e;
  }
  // where the APIs listen (ports may have been chosen by the kernel: --http-port 0);
  // written before the first interval, which comes a whole interval after start
  const api = flowlens.api?.status();
  const messages = startMessages(flowlens, config, opts);
  const warning = forwardingWithoutRolesWarning(config.collector.interfaces, config.collector.roles);
  if (warning) messages.push(`flowlens: warning: ${warning}`);
  if (opts.format === 'ndjson') {
    if (api) out.write(`${JSON.stringify({ type: 'api', ...api })}\n`);
    for (const n of opts.notes ?? []) process.stderr.write(`${n}\n`);
    if (warning) process.stderr.write(`flowlens: warning: ${warning}\n`);
  } else {
    // without a terminal, the "counting on" line goes to stdout as it always has (scripts read it)
    for (const m of messages) (m.startsWith('flowlens: counting on') && !view ? out : process.stderr).write(`${m}\n`);
  }
  view?.start();
  if (view && api) view.showDashboard(`${api.http}/`);
  // alerts a previous run left firing are on screen from the start
  // a rule's summary begins with its name; a detector's may not
  const named = (a: Alert) => (a.summary.startsWith(`${a.rule}:`) ? a.summary : `${a.rule}: ${a.summary}`);
  const alertLine = (a: Alert) => `ALERT [${a.severity}] ${named(a)}`;
  if (view) for (const a of flowlens.alerts?.list({ state: 'firing', limit: 20 }) ?? []) view.alert(a.id, alertLine(a));
  opts.onStarted?.();
  if (opts.durationMs > 0) setTimeout(requestStop, opts.durationMs).unref();
  // an alert firing or resolving is news for whoever watches the log (journald under systemd)
  flowlens.alerts?.on('alert', (t: Transition) => {
    if (t.event !== 'firing' && t.event !== 'resolved') return;
    if (view) view.alert(t.alert.id, t.event === 'firing' ? alertLine(t.alert) : undefined);
    else process.stderr.write(`flowlens: alert ${t.event}: [${t.alert.severity}] ${named(t.alert)}\n`);
  });
  // SIGHUP: the alert rules, thresholds and receivers again (state kept; a wrong file changes nothing)
  const reload = () => {
    try {
      const r = flowlens!.alerts?.reload();
      if (r) process.stderr.write(`flowlens: reloaded the alerts: ${r.rules} rules, ${r.receivers} receivers
`);
    } catch (e) {
      process.stderr.write(`flowlens: alerts not reloaded: ${e instanceof Error && 'format' in e ? (e as { format(): string }).format() : (e as Error).message}
`);
    }
  };
  process.on('SIGHUP', reload);
  await stopRequested;
  // the terminal is given back first, with the start messages again (the view covered them)
  if (view) {
    const errors = view.stop();
    process.stderr.write(`${[...errors.map((e) => `flowlens: ${e}`), ...messages].join('\n')}\n`);
  }
  process.off('SIGHUP', reload);
  await flowlens.stop();
  process.off('exit', onExit);
}
