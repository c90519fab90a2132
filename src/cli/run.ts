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
import type { Monitor } from '../monitor.js';
import type { LiveSession } from '../flows/live.js';
import { endpoint, formatBits, formatBytes, protocolName, table, tcpFlagNames } from './format.js';

/** none: only the start line and errors (a service writing to a journal). */
export type OutputFormat = 'table' | 'ndjson' | 'none';

export interface RunOptions {
  format: OutputFormat;
  /** Rows in the live view, and talkers per dimension in NDJSON. */
  top: number;
  /** Stop after this many ms (0: run until a signal). */
  durationMs: number;
}

/** The NDJSON "flow" and "totals" objects of one interval (also flowlens analyze). */
export function flowLines(iv: Interval, lines: string[]): void {
  const names = new Map(iv.totals.map((t) => [t.ifindex, t.iface]));
  const { flows } = iv;
  for (let i = 0; i < flows.count; i++) {
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
      talkers: Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, s.talkers[d].slice(0, top)])),
    }));
  }
  for (const e of s.endedSessions) lines.push(JSON.stringify({ type: 'session', ...e }));
}

function renderTable(iv: Interval, s: IntervalStats, monitor: Monitor, top: number): string {
  const seconds = Math.max((iv.end - iv.start) / 1000, 0.001);
  const view = monitor.processor.live;
  const latest = (x: LiveSession) => view.latestBytesUp(x) + view.latestBytesDown(x);
  const live = [...view.values()].sort((a, b) => latest(b) - latest(a) || b.lastSeen - a.lastSeen).slice(0, top);
  const rows = live.map((x) => {
    const active = x.lastSeen >= iv.start;
    const remote = endpoint(x.remote, x.remotePort, x.protocol);
    return [
      x.iface, protocolName(x.protocol), endpoint(x.local, x.localPort, x.protocol),
      x.labels.domain ? `${remote} (${x.labels.domain})` : remote,
      [x.labels.country, x.labels.asn ? `AS${x.labels.asn}` : ''].filter(Boolean).join(' '),
      String(x.state), formatBytes(x.bytesUp), formatBytes(x.bytesDown),
      active ? formatBits((latest(x) * 8) / seconds) : '-',
    ];
  });
  const status = monitor.status().collector;
  const head = iv.totals.map((t) => {
    const att = status.attachments.find((a) => a.ifindex === t.ifindex);
    const by = (dir: 'up' | 'down', scope?: string) => s.traffic.filter((r) => r.iface === t.iface && r.direction === dir && (!scope || r.scope === scope)).reduce((a, r) => a + r.bytes, 0);
    return `${t.iface} [${att?.ingress}/${att?.egress}]  up ${formatBits((by('up') * 8) / seconds)} (internet ${formatBits((by('up', 'internet') * 8) / seconds)})` +
      `  down ${formatBits((by('down') * 8) / seconds)} (internet ${formatBits((by('down', 'internet') * 8) / seconds)})` +
      `  non-IP ${t.ingress.nonIpPackets + t.egress.nonIpPackets}  malformed ${t.ingress.malformedPackets + t.egress.malformedPackets}` +
      `  overflow ${t.ingress.overflowPackets + t.egress.overflowPackets}`;
  });
  return [
    `flowlens — ${new Date(iv.end).toLocaleTimeString()}  ${s.activeSessions} sessions, ${s.activeRemotes} remote addresses` +
      `  ${iv.flows.count} flows  table ${(status.mapFill * 100).toFixed(1)}% full  drain ${iv.drain.ms.toFixed(1)} ms`,
    ...head,
    '',
    table(['IFACE', 'PROTO', 'LOCAL', 'REMOTE', 'WHERE', 'STATE', 'UP', 'DOWN', 'RATE'], rows, [6, 7, 8]),
    '',
    'Ctrl-C to stop',
  ].join('\n');
}

/** Writes every interval, error and the sessions open at shutdown, in the chosen format. */
function listen(monitor: Monitor, opts: RunOptions, out: NodeJS.WriteStream): void {
  const live = opts.format === 'table' && out.isTTY;
  monitor.on('stats', (s, iv) => {
    if (opts.format === 'ndjson') {
      const lines: string[] = [];
      flowLines(iv, lines);
      statsLines(s, opts.top, lines);
      if (lines.length) out.write(`${lines.join('\n')}\n`);
    } else if (opts.format === 'table') {
      out.write(live ? `\x1b[H\x1b[2J${renderTable(iv, s, monitor, opts.top)}\n` : `${renderTable(iv, s, monitor, opts.top)}\n\n`);
    }
  });
  monitor.on('error', (e) => process.stderr.write(`flowlens: ${e.message}\n`));
  // sessions still open at shutdown end into the log: print them as well
  monitor.on('shutdown', (ended) => {
    if (opts.format === 'ndjson' && ended.length) out.write(`${ended.map((e) => JSON.stringify({ type: 'session', ...e })).join('\n')}\n`);
  });
}

/** Runs until SIGINT/SIGTERM (or durationMs), then drains one last time, flushes and detaches. */
export async function run(config: FlowlensConfig, opts: RunOptions, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  // listen for the stop signal before loading: a SIGTERM during start-up still
  // ends with a clean stop (and a final interval) instead of an abrupt kill
  let requestStop = () => {};
  const stopRequested = new Promise<void>((resolve) => { requestStop = resolve; });
  process.once('SIGINT', requestStop);
  process.once('SIGTERM', requestStop);
  const { Flowlens } = await import('../compose.js');
  let flowlens: InstanceType<typeof Flowlens> | undefined;
  // the kernel detaches our links when the process dies; this also covers an
  // uncaught exception (the CLI exits through process.exit)
  const onExit = () => flowlens?.closeNow();
  process.once('exit', onExit);
  try {
    flowlens = new Flowlens(config);
    listen(flowlens.monitor, opts, out);
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
  if (api && opts.format === 'ndjson') out.write(`${JSON.stringify({ type: 'api', ...api })}\n`);
  else if (api) process.stderr.write(`flowlens: JSON API and /metrics on ${api.http}, gRPC on ${api.grpc}\n`);
  if (opts.format !== 'ndjson' && !(opts.format === 'table' && out.isTTY)) {
    out.write(`flowlens: counting on ${flowlens.monitor.status().collector.attachments.map((a) => `${a.iface} (ingress ${a.ingress}, egress ${a.egress})`).join(', ')}\n`);
  }
  if (opts.durationMs > 0) setTimeout(requestStop, opts.durationMs).unref();
  await stopRequested;
  await flowlens.stop();
  process.off('exit', onExit);
}
