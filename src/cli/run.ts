/**
 * `flowlens run`: count on interfaces and show the flows, as a live terminal
 * view or as NDJSON (one object per flow per interval, one totals object per
 * interface per interval) for scripts and tests.
 */
import { Collector, type CollectorConfig, type Interval } from '../collector/index.js';
import { endpoint, formatBits, formatBytes, protocolName, table, tcpFlagNames } from './format.js';

export type OutputFormat = 'table' | 'ndjson';

export interface RunOptions {
  format: OutputFormat;
  /** Rows in the live view. */
  top: number;
  /** Stop after this many ms (0: run until a signal). */
  durationMs: number;
}

function writeNdjson(iv: Interval, out: NodeJS.WritableStream): void {
  const names = new Map(iv.totals.map((t) => [t.ifindex, t.iface]));
  const lines: string[] = [];
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
  if (lines.length) out.write(`${lines.join('\n')}\n`);
}

function renderTable(iv: Interval, collector: Collector, top: number): string {
  const seconds = Math.max((iv.end - iv.start) / 1000, 0.001);
  const { flows } = iv;
  const order = Array.from({ length: flows.count }, (_, i) => i).sort((a, b) => flows.bytes(b) - flows.bytes(a)).slice(0, top);
  const names = new Map(iv.totals.map((t) => [t.ifindex, t.iface]));
  const rows = order.map((i) => {
    const p = flows.protocol(i);
    return [
      names.get(flows.ifindex(i)) ?? String(flows.ifindex(i)),
      flows.direction(i) === 'ingress' ? 'in' : 'out',
      protocolName(p),
      endpoint(flows.src(i), flows.srcPort(i), p),
      endpoint(flows.dst(i), flows.dstPort(i), p),
      p === 1 || p === 58 ? `type ${flows.srcPort(i)}/${flows.dstPort(i)}` : tcpFlagNames(flows.tcpFlags(i)).join(' '),
      String(flows.packets(i)),
      formatBytes(flows.bytes(i)),
      formatBits((flows.bytes(i) * 8) / seconds),
    ];
  });
  const status = collector.status();
  const head = iv.totals.map((t) => {
    const att = collector.attached.find((a) => a.ifindex === t.ifindex);
    return `${t.iface} [${att?.ingress}/${att?.egress}]  in ${formatBits((t.ingress.bytes * 8) / seconds)} (${Math.round(t.ingress.packets / seconds)} pkt/s)` +
      `  out ${formatBits((t.egress.bytes * 8) / seconds)} (${Math.round(t.egress.packets / seconds)} pkt/s)` +
      `  non-IP ${t.ingress.nonIpPackets + t.egress.nonIpPackets}  malformed ${t.ingress.malformedPackets + t.egress.malformedPackets}` +
      `  overflow ${t.ingress.overflowPackets + t.egress.overflowPackets}`;
  });
  return [
    `flowlens — ${new Date(iv.end).toLocaleTimeString()}  ${flows.count} flows this interval  table ${(status.mapFill * 100).toFixed(1)}% full  drain ${iv.drain.ms.toFixed(1)} ms`,
    ...head,
    '',
    table(['IFACE', 'DIR', 'PROTO', 'SOURCE', 'DESTINATION', 'FLAGS', 'PKTS', 'BYTES', 'RATE'], rows, [6, 7, 8]),
    '',
    'Ctrl-C to stop',
  ].join('\n');
}

/** Runs until SIGINT/SIGTERM (or durationMs), then drains one last time and detaches. */
export async function run(config: CollectorConfig, opts: RunOptions, out: NodeJS.WriteStream = process.stdout): Promise<void> {
  // listen for the stop signal before loading: a SIGTERM during start-up still
  // ends with a clean stop (and a final interval) instead of an abrupt kill
  let requestStop = () => {};
  const stopRequested = new Promise<void>((resolve) => { requestStop = resolve; });
  process.once('SIGINT', requestStop);
  process.once('SIGTERM', requestStop);
  let collector: Collector;
  try {
    collector = Collector.open(config);
  } catch (e) {
    process.off('SIGINT', requestStop);
    process.off('SIGTERM', requestStop);
    throw e;
  }
  const live = opts.format === 'table' && out.isTTY;
  if (opts.format === 'table' && !live) {
    out.write(`flowlens: counting on ${collector.attached.map((a) => `${a.iface} (ingress ${a.ingress}, egress ${a.egress})`).join(', ')}\n`);
  }
  collector.on('interval', (iv) => {
    if (opts.format === 'ndjson') writeNdjson(iv, out);
    else out.write(live ? `\x1b[H\x1b[2J${renderTable(iv, collector, opts.top)}\n` : `${renderTable(iv, collector, opts.top)}\n\n`);
  });
  collector.on('error', (e) => process.stderr.write(`flowlens: drain failed: ${e.message}\n`));

  // the kernel detaches our links when the process dies; this also covers an
  // uncaught exception (the CLI exits through process.exit)
  const onExit = () => collector.closeNow();
  process.once('exit', onExit);
  collector.start();
  if (opts.durationMs > 0) setTimeout(requestStop, opts.durationMs).unref();
  await stopRequested;
  await collector.stop();
  process.off('exit', onExit);
}
