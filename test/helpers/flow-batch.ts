/**
 * Builds a FlowBatch from flow descriptions, encoded with the generated layout
 * exactly as the addon's drain() writes it, for tests of the stages after the
 * collector. Times are wall-clock ms (the batch's clock maps them 1:1).
 */
import net from 'node:net';
import { addressWords } from '../../src/net/cidr.js';
import { FlowBatch, type Direction } from '../../src/collector/decode.js';
import { ClockOffset } from '../../src/collector/clock.js';
import { FLOW_ID_NONE, FlowCounters, FlowKey, FlowRecord } from '../../src/collector/layout.gen.js';
import type { IfaceTotals } from '../../src/collector/index.js';
import type { DirectionTotals } from '../../src/collector/decode.js';

export interface FlowSpec {
  ifindex?: number;
  direction: Direction;
  protocol: number;
  src: string;
  dst: string;
  srcPort?: number;
  dstPort?: number;
  packets: number;
  bytes: number;
  firstSeen?: number;
  lastSeen?: number;
  tcpFlags?: number;
  /** The addon's stable flow id; FLOW_ID_NONE (no id) unless given. */
  flowId?: number;
}

/** The 16 address bytes of a flow key: IPv4 in the first 4, the rest 0. */
function addressBytes(addr: string): Buffer {
  const a = addressWords(addr);
  if (!a) throw new Error(`not an address: ${addr}`);
  const b = Buffer.alloc(16);
  if (a.version === 4) b.writeUInt32BE(a.words[3]!, 0);
  else for (let i = 0; i < 4; i++) b.writeUInt32BE(a.words[i]!, 4 * i);
  return b;
}

/** Writes u64 as two u32 halves (values are below 2^53). */
function writeU64(b: Buffer, at: number, v: number): void {
  b.writeUInt32LE(v % 4294967296, at);
  b.writeUInt32LE(Math.floor(v / 4294967296), at + 4);
}

export function flowBatch(specs: FlowSpec[], defaultTime = 1_000_000): FlowBatch {
  const buf = Buffer.alloc(specs.length * FlowRecord.size);
  specs.forEach((f, i) => {
    const k = i * FlowRecord.size + FlowRecord.key;
    const c = i * FlowRecord.size + FlowRecord.counters;
    buf.writeUInt32LE(f.ifindex ?? 2, k + FlowKey.ifindex);
    buf.writeUInt8(f.direction === 'egress' ? 1 : 0, k + FlowKey.direction);
    const v6 = net.isIPv6(f.src);
    buf.writeUInt8(v6 ? 6 : 4, k + FlowKey.ipVersion);
    buf.writeUInt8(f.protocol, k + FlowKey.protocol);
    addressBytes(f.src).copy(buf, k + FlowKey.srcAddr);
    addressBytes(f.dst).copy(buf, k + FlowKey.dstAddr);
    buf.writeUInt16LE(f.srcPort ?? 0, k + FlowKey.srcPort);
    buf.writeUInt16LE(f.dstPort ?? 0, k + FlowKey.dstPort);
    writeU64(buf, c + FlowCounters.packets, f.packets);
    writeU64(buf, c + FlowCounters.bytes, f.bytes);
    // ClockOffset(0, 0): wall ms = monotonic ns / 1e6
    writeU64(buf, c + FlowCounters.firstSeenNs, (f.firstSeen ?? defaultTime) * 1e6);
    writeU64(buf, c + FlowCounters.lastSeenNs, (f.lastSeen ?? f.firstSeen ?? defaultTime) * 1e6);
    buf.writeUInt32LE(f.tcpFlags ?? 0, c + FlowCounters.tcpFlags);
    buf.writeUInt32LE(f.flowId ?? FLOW_ID_NONE, c + FlowCounters.flowId);
  });
  return new FlowBatch(buf, 0, specs.length, new ClockOffset(0, 0));
}

export function zeroDirection(): DirectionTotals {
  return { packets: 0, bytes: 0, flows: 0, overflowPackets: 0, overflowBytes: 0,
    nonIpPackets: 0, nonIpBytes: 0, malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0 };
}

/** Interface totals as the collector would report them for these flows (plus optional overflow). */
export function totalsFor(specs: FlowSpec[], ifaces: Record<number, string> = { 2: 'eth0' },
  overflow: { ifindex: number; direction: Direction; packets: number; bytes: number }[] = []): IfaceTotals[] {
  return Object.entries(ifaces).map(([idx, iface]) => {
    const ifindex = Number(idx);
    const t: IfaceTotals = { iface, ifindex, ingress: zeroDirection(), egress: zeroDirection() };
    for (const f of specs.filter((s) => (s.ifindex ?? 2) === ifindex)) {
      const d = t[f.direction];
      d.packets += f.packets; d.bytes += f.bytes; d.flows++;
    }
    for (const o of overflow.filter((s) => s.ifindex === ifindex)) {
      const d = t[o.direction];
      d.packets += o.packets; d.bytes += o.bytes; d.overflowPackets += o.packets; d.overflowBytes += o.bytes;
    }
    return t;
  });
}
