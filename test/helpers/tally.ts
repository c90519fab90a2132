/**
 * Both sides of a replay test's comparison, keyed alike: the truth of the
 * frames a test built (TruthTable), and what flowlens reported over many
 * intervals (Tally), from the in-process Collector's Interval objects or from
 * the CLI's NDJSON lines, per (interface, direction, flow) and per (interface,
 * direction).
 */
import type { DirectionTotals, Interval } from '../../src/collector/index.js';
import type { IntervalStats, SessionRecord } from '../../src/flows/types.js';
import { ipAddr, type BuiltFrame, type FlowId } from './packets.js';

/**
 * A canonical form for comparing addresses written by different formatters
 * (IPv4 dotted, IPv6 as 8 full hex groups).
 */
export function canonicalIp(addr: string): string {
  const b = ipAddr(addr);
  if (b.length === 4) return [...b].join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i).toString(16).padStart(4, '0'));
  return g.join(':');
}

export function flowIdKey(f: FlowId): string {
  return `v${f.ipVersion} p${f.protocol} ${canonicalIp(f.src)}:${f.srcPort} > ${canonicalIp(f.dst)}:${f.dstPort}`;
}

export interface Truth {
  packets: number;
  bytes: number;
}

/** Per-flow truth of a list of frames, plus the frames that are not flows. */
export class TruthTable {
  readonly flows = new Map<string, FlowId & Truth>();
  packets = 0;
  bytes = 0;
  nonFlowFrames = 0;

  add(f: BuiltFrame): void {
    if (!f.flow) { this.nonFlowFrames++; return; }
    const k = flowIdKey(f.flow);
    const e = this.flows.get(k) ?? { ...f.flow, packets: 0, bytes: 0 };
    e.packets++;
    e.bytes += f.l3Bytes;
    this.flows.set(k, e);
    this.packets++;
    this.bytes += f.l3Bytes;
  }
}

export type Dir = 'ingress' | 'egress';

export interface TalliedFlow extends FlowId {
  iface: string;
  direction: Dir;
  packets: number;
  bytes: number;
  tcpFlags: number;
  /** Intervals this flow appeared in. */
  intervals: number;
}

/** Summed over intervals: the collector's per-direction totals. */
export type TalliedTotals = DirectionTotals;

const zero = (): TalliedTotals => ({ packets: 0, bytes: 0, flows: 0, overflowPackets: 0, overflowBytes: 0,
  nonIpPackets: 0, nonIpBytes: 0, malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0 });

export function flowKey(iface: string, direction: Dir, id: FlowId): string {
  return `${iface} ${direction} ${flowIdKey(id)}`;
}

export class Tally {
  readonly flows = new Map<string, TalliedFlow>();
  private readonly totalsBy = new Map<string, TalliedTotals>();
  intervals = 0;
  /** Most flows any single interval held. */
  maxFlowsPerInterval = 0;
  /** NDJSON "interval" objects (IntervalStats with talkers cut to --top). */
  readonly stats: (IntervalStats & { type: 'interval' })[] = [];
  /** NDJSON "session" objects: sessions that ended (also those open at shutdown). */
  readonly sessions: SessionRecord[] = [];
  /** The NDJSON "api" object: where the APIs listen. */
  api: { http: string; grpc: string; httpPort: number; grpcPort: number } | undefined;

  totals(iface: string, direction: Dir): TalliedTotals {
    const k = `${iface} ${direction}`;
    let t = this.totalsBy.get(k);
    if (!t) { t = zero(); this.totalsBy.set(k, t); }
    return t;
  }

  private addFlow(f: Omit<TalliedFlow, 'intervals'>): void {
    const k = flowKey(f.iface, f.direction, f);
    const e = this.flows.get(k);
    if (e) {
      e.packets += f.packets;
      e.bytes += f.bytes;
      e.tcpFlags |= f.tcpFlags;
      e.intervals++;
    } else {
      this.flows.set(k, { ...f, intervals: 1 });
    }
  }

  private addTotals(iface: string, direction: Dir, t: TalliedTotals): void {
    const s = this.totals(iface, direction);
    for (const k of Object.keys(s) as Array<keyof TalliedTotals>) s[k] += t[k];
  }

  addInterval(iv: Interval): void {
    this.intervals++;
    const names = new Map(iv.totals.map((t) => [t.ifindex, t.iface]));
    this.maxFlowsPerInterval = Math.max(this.maxFlowsPerInterval, iv.flows.count);
    for (const f of iv.flows.flows()) {
      this.addFlow({
        iface: names.get(f.ifindex) ?? `#${f.ifindex}`, direction: f.direction, ipVersion: f.ipVersion,
        protocol: f.protocol, src: f.src, dst: f.dst, srcPort: f.srcPort, dstPort: f.dstPort,
        packets: f.packets, bytes: f.bytes, tcpFlags: f.tcpFlags,
      });
    }
    for (const t of iv.totals) {
      this.addTotals(t.iface, 'ingress', t.ingress);
      this.addTotals(t.iface, 'egress', t.egress);
    }
  }

  /** One line of `flowlens run --format ndjson`. */
  addNdjson(line: string): void {
    const o = JSON.parse(line);
    if (o.type === 'flow') {
      this.addFlow({
        iface: o.iface, direction: o.direction, ipVersion: o.ipVersion, protocol: o.protocolNumber,
        src: o.src, dst: o.dst, srcPort: o.srcPort, dstPort: o.dstPort,
        packets: o.packets, bytes: o.bytes, tcpFlags: o.tcpFlags,
      });
    } else if (o.type === 'totals') {
      this.intervals++;
      this.maxFlowsPerInterval = Math.max(this.maxFlowsPerInterval, o.ingress.flows + o.egress.flows);
      this.addTotals(o.iface, 'ingress', o.ingress);
      this.addTotals(o.iface, 'egress', o.egress);
    } else if (o.type === 'interval') {
      this.stats.push(o);
    } else if (o.type === 'session') {
      this.sessions.push(o);
    } else if (o.type === 'api') {
      this.api = o;
    } else {
      throw new Error(`unexpected NDJSON line: ${line}`);
    }
  }

  /** Flows of one interface and direction. */
  list(iface: string, direction: Dir): TalliedFlow[] {
    return [...this.flows.values()].filter((f) => f.iface === iface && f.direction === direction);
  }
}
