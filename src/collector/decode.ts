/**
 * Decodes what the addon's drain() wrote: iface_records, then flow_records,
 * packed with the offsets of layout.gen.ts. Flows stay in the buffer and are
 * read on demand through FlowBatch; only the rows a caller asks for become
 * objects.
 */
import { FLOW_ID_NONE, FlowCounters, FlowKey, FlowRecord, IfaceCounters, IfaceKey, IfaceRecord } from './layout.gen.js';
import { formatAddress, formatV4 } from '../net/address-text.js';
import type { ClockOffset } from './clock.js';
import type { Direction } from '../net/classify.js';

export type { Direction };

/** FlowBatch.flowId of a flow without an id (ids off, or the collector's id limit reached). */
export { FLOW_ID_NONE };
const DIRECTIONS: Direction[] = ['ingress', 'egress'];

/** One direction of one conversation during one interval (JSON-ready). */
export interface Flow {
  ifindex: number;
  direction: Direction;
  ipVersion: 4 | 6;
  protocol: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  packets: number;
  bytes: number;
  /** Wall-clock milliseconds since the epoch. */
  firstSeen: number;
  lastSeen: number;
  tcpFlags: number;
}

/** Counts of one interface in one direction during one interval. */
export interface DirectionTotals {
  /** IP packets and their L3 bytes: flows and overflow together. */
  packets: number;
  bytes: number;
  /** Flow records. */
  flows: number;
  overflowPackets: number;
  overflowBytes: number;
  nonIpPackets: number;
  nonIpBytes: number;
  malformedPackets: number;
  malformedBytes: number;
  /**
   * Gateway roles: IP packets that crossed this interface but are counted on
   * another one (a forwarded packet is counted on its LAN interface), and their
   * L3 bytes. Not in packets/bytes; always 0 without roles.
   */
  forwardedPackets: number;
  forwardedBytes: number;
  /**
   * GSO/GRO super-packets (of packets and forwardedPackets): the wire packets
   * beyond the first that each stands for, and their IP + L4 header bytes. The
   * interface's own counters count a super-packet once (src/collector/reconcile.ts).
   */
  gsoAddedPackets: number;
  gsoAddedBytes: number;
}

/** One iface_record: the totals of one interface and direction. */
export interface IfaceCounts extends DirectionTotals {
  ifindex: number;
  direction: Direction;
}

/** Reads an unsigned 64-bit little-endian counter as a double (exact below 2^53). */
function u64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * 4294967296 + view.getUint32(offset, true);
}

export function decodeIfaces(buf: Buffer, count: number): IfaceCounts[] {
  const view = new DataView(buf.buffer, buf.byteOffset, count * IfaceRecord.size);
  const out: IfaceCounts[] = [];
  for (let i = 0; i < count; i++) {
    const k = i * IfaceRecord.size + IfaceRecord.key;
    const c = i * IfaceRecord.size + IfaceRecord.counters;
    out.push({
      ifindex: view.getUint32(k + IfaceKey.ifindex, true),
      direction: DIRECTIONS[view.getUint8(k + IfaceKey.direction)] ?? 'ingress',
      packets: u64(view, c + IfaceCounters.ipPackets),
      bytes: u64(view, c + IfaceCounters.ipBytes),
      flows: u64(view, c + IfaceCounters.flows),
      overflowPackets: u64(view, c + IfaceCounters.overflowPackets),
      overflowBytes: u64(view, c + IfaceCounters.overflowBytes),
      nonIpPackets: u64(view, c + IfaceCounters.nonIpPackets),
      nonIpBytes: u64(view, c + IfaceCounters.nonIpBytes),
      malformedPackets: u64(view, c + IfaceCounters.malformedPackets),
      malformedBytes: u64(view, c + IfaceCounters.malformedBytes),
      forwardedPackets: u64(view, c + IfaceCounters.forwardedPackets),
      forwardedBytes: u64(view, c + IfaceCounters.forwardedBytes),
      gsoAddedPackets: u64(view, c + IfaceCounters.gsoAddedPackets),
      gsoAddedBytes: u64(view, c + IfaceCounters.gsoAddedBytes),
    });
  }
  return out;
}

/**
 * The flows of one interval, read in place from the drain buffer. Valid until
 * the collector drains again (it does so only after every listener returned).
 */
export class FlowBatch {
  private readonly view: DataView;

  constructor(
    private readonly buf: Buffer,
    /** Byte offset of the first flow_record. */
    private readonly start: number,
    readonly count: number,
    private readonly clock: ClockOffset,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset + start, count * FlowRecord.size);
  }

  private key(i: number): number {
    return i * FlowRecord.size + FlowRecord.key;
  }
  private ctr(i: number): number {
    return i * FlowRecord.size + FlowRecord.counters;
  }

  ifindex(i: number): number {
    return this.view.getUint32(this.key(i) + FlowKey.ifindex, true);
  }
  direction(i: number): Direction {
    return DIRECTIONS[this.view.getUint8(this.key(i) + FlowKey.direction)] ?? 'ingress';
  }
  ipVersion(i: number): 4 | 6 {
    return this.view.getUint8(this.key(i) + FlowKey.ipVersion) === 6 ? 6 : 4;
  }
  protocol(i: number): number {
    return this.view.getUint8(this.key(i) + FlowKey.protocol);
  }
  src(i: number): string {
    return this.address(i, FlowKey.srcAddr);
  }
  dst(i: number): string {
    return this.address(i, FlowKey.dstAddr);
  }
  /**
   * An IPv4 flow's source address as its 32-bit value (first byte highest):
   * what the classifier matches prefixes against, without text. Only for
   * ipVersion(i) === 4.
   */
  srcV4(i: number): number {
    return this.view.getUint32(this.key(i) + FlowKey.srcAddr, false);
  }
  dstV4(i: number): number {
    return this.view.getUint32(this.key(i) + FlowKey.dstAddr, false);
  }
  srcPort(i: number): number {
    return this.view.getUint16(this.key(i) + FlowKey.srcPort, true);
  }
  dstPort(i: number): number {
    return this.view.getUint16(this.key(i) + FlowKey.dstPort, true);
  }
  packets(i: number): number {
    return u64(this.view, this.ctr(i) + FlowCounters.packets);
  }
  bytes(i: number): number {
    return u64(this.view, this.ctr(i) + FlowCounters.bytes);
  }
  /** Wall-clock ms of the first packet in this interval. */
  firstSeen(i: number): number {
    return this.clock.toWallMs(u64(this.view, this.ctr(i) + FlowCounters.firstSeenNs));
  }
  lastSeen(i: number): number {
    return this.clock.toWallMs(u64(this.view, this.ctr(i) + FlowCounters.lastSeenNs));
  }
  tcpFlags(i: number): number {
    return this.view.getUint32(this.ctr(i) + FlowCounters.tcpFlags, true);
  }

  /**
   * The flow's stable id, assigned by the addon on the drain's worker thread
   * (native/src/flow_ids.h): a small integer, the same for the same flow key in
   * every interval until the owner releases it (Collector.releaseFlowIds), so it
   * can index an array instead of keying a Map by rawKey. FLOW_ID_NONE when ids
   * are off (Collector.trackFlowIds) or the id limit was reached: use rawKey then.
   */
  flowId(i: number): number {
    return this.view.getUint32(this.ctr(i) + FlowCounters.flowId, true);
  }

  /**
   * The flow key's bytes (interface to ports) as a string: the same flow gives
   * the same string in every interval, so it can key a cache of what was
   * worked out about the flow, without formatting its addresses again.
   */
  rawKey(i: number): string {
    const at = this.start + this.key(i);
    return this.buf.toString('latin1', at, at + FlowKey.pad1);
  }

  private address(i: number, field: number): string {
    if (this.ipVersion(i) === 4) return formatV4(this.view.getUint32(this.key(i) + field, false));
    return formatAddress(this.buf, this.start + this.key(i) + field, 6);
  }

  /** One flow as an object (for the rows a caller actually returns). */
  flow(i: number): Flow {
    return {
      ifindex: this.ifindex(i),
      direction: this.direction(i),
      ipVersion: this.ipVersion(i),
      protocol: this.protocol(i),
      src: this.src(i),
      dst: this.dst(i),
      srcPort: this.srcPort(i),
      dstPort: this.dstPort(i),
      packets: this.packets(i),
      bytes: this.bytes(i),
      firstSeen: this.firstSeen(i),
      lastSeen: this.lastSeen(i),
      tcpFlags: this.tcpFlags(i),
    };
  }

  flows(): Flow[] {
    const out: Flow[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.flow(i));
    return out;
  }
}
