/**
 * Buffers of raw flow_records for the addon's FlowIdTable (the drain's flow id
 * code, run without a kernel): record i gets the key of flow number keys[i].
 */
import { FlowCounters, FlowKey, FlowRecord } from '../../src/collector/layout.gen.js';

/** An IPv4 UDP flow key whose source address and port encode n (distinct for n < 2^32). */
export function writeKey(buf: Buffer, record: number, n: number): void {
  const k = record * FlowRecord.size + FlowRecord.key;
  buf.writeUInt32LE(2, k + FlowKey.ifindex);
  buf.writeUInt8(n & 1, k + FlowKey.direction);
  buf.writeUInt8(4, k + FlowKey.ipVersion);
  buf.writeUInt8(17, k + FlowKey.protocol);
  buf.set([10, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff], k + FlowKey.srcAddr);
  buf.set([10, 2, 0, 1], k + FlowKey.dstAddr);
  buf.writeUInt16LE((n >>> 1) & 0x7f, k + FlowKey.srcPort);
  buf.writeUInt16LE(53, k + FlowKey.dstPort);
}

/** Records with the keys of these flow numbers (8-byte aligned, as drain() writes them). */
export function records(keys: number[]): Buffer {
  const buf = Buffer.alloc(keys.length * FlowRecord.size);
  keys.forEach((n, i) => writeKey(buf, i, n));
  return buf;
}

/** The flow_id field of every record. */
export function idsOf(buf: Buffer, count = buf.length / FlowRecord.size): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(buf.readUInt32LE(i * FlowRecord.size + FlowRecord.counters + FlowCounters.flowId));
  return out;
}
