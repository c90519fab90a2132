/**
 * A small pcap writer and packet builder for end-to-end tests: the test decides
 * every frame, so it knows the exact truth (per-flow packets and L3 bytes) that
 * flowlens must report after the frames are replayed with tcpreplay.
 *
 * Frames are Ethernet II (linktype 1), no VLAN tags. Checksums (IPv4 header,
 * TCP, UDP, ICMP, ICMPv6) are computed, so the frames are what a real capture
 * would hold. Frames shorter than 60 bytes get Ethernet padding, which is not
 * part of the L3 bytes.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import type { Flow } from '../../src/collector/decode.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ARP = 0x0806;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** Minimum Ethernet frame without FCS: shorter frames are padded with zeros. */
export const ETH_MIN_FRAME = 60;
export const ETH_HLEN = 14;

// ---- addresses ----

/** 4 or 16 bytes of an IPv4/IPv6 address in text form. */
export function ipBytes(addr: string): Buffer {
  if (net.isIPv4(addr)) return Buffer.from(addr.split('.').map(Number));
  if (!net.isIPv6(addr)) throw new Error(`not an IP address: ${addr}`);
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const tl = parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - tl.length).fill(0), ...tl];
  if (groups.length !== 8) throw new Error(`bad IPv6 address: ${addr}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
  return b;
}

/**
 * A canonical form for comparing addresses written by different formatters
 * (IPv4 dotted, IPv6 as 8 full hex groups).
 */
export function canonicalIp(addr: string): string {
  const b = ipBytes(addr);
  if (b.length === 4) return [...b].join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i).toString(16).padStart(4, '0'));
  return g.join(':');
}

export function macBytes(mac: string): Buffer {
  const b = Buffer.from(mac.split(':').map((x) => parseInt(x, 16)));
  if (b.length !== 6) throw new Error(`bad MAC address: ${mac}`);
  return b;
}

// ---- checksums ----

function sum16(buf: Buffer, acc = 0): number {
  for (let i = 0; i + 1 < buf.length; i += 2) acc += buf.readUInt16BE(i);
  if (buf.length % 2) acc += buf[buf.length - 1] << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

export function inetChecksum(...parts: Buffer[]): number {
  let acc = 0;
  for (const p of parts) acc = sum16(p, acc);
  return fold(acc);
}

function pseudoHeader(src: Buffer, dst: Buffer, proto: number, len: number): Buffer {
  if (src.length === 4) {
    const p = Buffer.alloc(12);
    src.copy(p, 0);
    dst.copy(p, 4);
    p[9] = proto;
    p.writeUInt16BE(len, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  src.copy(p, 0);
  dst.copy(p, 16);
  p.writeUInt32BE(len, 32);
  p[39] = proto;
  return p;
}

// ---- L4 ----

export type L4 =
  | { proto: 'tcp'; srcPort: number; dstPort: number; flags: number; seq?: number; ack?: number; window?: number;
      /** TCP options, padded to a multiple of 4 with NOPs. */ options?: Buffer; payload?: Buffer }
  | { proto: 'udp'; srcPort: number; dstPort: number; payload?: Buffer }
  /** ICMP for IPv4, ICMPv6 for IPv6. `rest` is the 4 bytes after type/code/checksum (ICMP) or the body (ICMPv6). */
  | { proto: 'icmp'; type: number; code: number; rest?: Buffer; payload?: Buffer }
  /** Any other IP protocol: raw payload, no ports. */
  | { proto: 'raw'; number: number; payload: Buffer };

function pad4(opts: Buffer): Buffer {
  const n = (4 - (opts.length % 4)) % 4;
  return n ? Buffer.concat([opts, Buffer.alloc(n, 1)]) : opts; // NOP = 1
}

/** Common SYN options: MSS 1460, SACK permitted, timestamps, window scale 7 (20 bytes). */
export function synOptions(tsval = 1000): Buffer {
  const b = Buffer.alloc(20);
  b.set([2, 4, 0x05, 0xb4], 0); // MSS 1460
  b.set([4, 2], 4); // SACK permitted
  b.set([8, 10], 6); // timestamps
  b.writeUInt32BE(tsval, 8);
  b.writeUInt32BE(0, 12);
  b.set([1, 3, 3, 7], 16); // NOP, window scale 7
  return b;
}

/** NOP, NOP, timestamps (12 bytes), as on every segment of a Linux connection. */
export function tsOptions(tsval: number, tsecr: number): Buffer {
  const b = Buffer.alloc(12);
  b.set([1, 1, 8, 10], 0);
  b.writeUInt32BE(tsval >>> 0, 4);
  b.writeUInt32BE(tsecr >>> 0, 8);
  return b;
}

export function l4Number(l4: L4, v6: boolean): number {
  switch (l4.proto) {
    case 'tcp': return IPPROTO_TCP;
    case 'udp': return IPPROTO_UDP;
    case 'icmp': return v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    case 'raw': return l4.number;
  }
}

/** The transport segment with its checksum over the pseudo-header. */
export function buildL4(l4: L4, src: Buffer, dst: Buffer): Buffer {
  const v6 = src.length === 16;
  const proto = l4Number(l4, v6);
  let seg: Buffer;
  let csumAt = -1;
  switch (l4.proto) {
    case 'tcp': {
      const opts = pad4(l4.options ?? Buffer.alloc(0));
      const payload = l4.payload ?? Buffer.alloc(0);
      seg = Buffer.alloc(20 + opts.length + payload.length);
      seg.writeUInt16BE(l4.srcPort, 0);
      seg.writeUInt16BE(l4.dstPort, 2);
      seg.writeUInt32BE((l4.seq ?? 1) >>> 0, 4);
      seg.writeUInt32BE((l4.ack ?? 0) >>> 0, 8);
      seg[12] = ((20 + opts.length) / 4) << 4;
      seg[13] = l4.flags;
      seg.writeUInt16BE(l4.window ?? 502, 14);
      opts.copy(seg, 20);
      payload.copy(seg, 20 + opts.length);
      csumAt = 16;
      break;
    }
    case 'udp': {
      const payload = l4.payload ?? Buffer.alloc(0);
      seg = Buffer.alloc(8 + payload.length);
      seg.writeUInt16BE(l4.srcPort, 0);
      seg.writeUInt16BE(l4.dstPort, 2);
      seg.writeUInt16BE(seg.length, 4);
      payload.copy(seg, 8);
      csumAt = 6;
      break;
    }
    case 'icmp': {
      const rest = l4.rest ?? Buffer.alloc(4);
      const payload = l4.payload ?? Buffer.alloc(0);
      seg = Buffer.concat([Buffer.from([l4.type, l4.code, 0, 0]), rest, payload]);
      csumAt = 2;
      break;
    }
    case 'raw':
      return l4.payload;
  }
  const parts = proto === IPPROTO_ICMP ? [seg] : [pseudoHeader(src, dst, proto, seg.length), seg];
  let c = inetChecksum(...parts);
  if (proto === IPPROTO_UDP && c === 0) c = 0xffff;
  seg.writeUInt16BE(c, csumAt);
  return seg;
}

// ---- L3 ----

export interface Ipv4Opts {
  ttl?: number;
  id?: number;
  tos?: number;
  /** IPv4 options, a multiple of 4 bytes (pad them yourself). */
  options?: Buffer;
  /** Fragment offset in bytes (a multiple of 8) and the more-fragments flag. */
  fragOffset?: number;
  moreFragments?: boolean;
  dontFragment?: boolean;
  /** Lie about the total length (for malformed frames). */
  totLenOverride?: number;
}

export function ipv4Packet(src: string, dst: string, protocol: number, payload: Buffer, o: Ipv4Opts = {}): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  if (opts.length % 4) throw new Error('IPv4 options must be a multiple of 4 bytes');
  const hl = 20 + opts.length;
  const h = Buffer.alloc(hl);
  h[0] = 0x40 | (hl / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(o.totLenOverride ?? hl + payload.length, 2);
  h.writeUInt16BE(o.id ?? 0x1234, 4);
  const off = (o.fragOffset ?? 0) / 8;
  if (!Number.isInteger(off)) throw new Error('fragment offset must be a multiple of 8');
  h.writeUInt16BE(off | (o.moreFragments ? 0x2000 : 0) | (o.dontFragment ? 0x4000 : 0), 6);
  h[8] = o.ttl ?? 64;
  h[9] = protocol;
  ipBytes(src).copy(h, 12);
  ipBytes(dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(inetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

/** An IPv6 extension header (hop-by-hop, destination options, routing: 8-byte units). */
export interface Ipv6Ext {
  type: number;
  /** Body after next-header and length; padded with PadN to a multiple of 8 with the 2 header bytes. */
  body?: Buffer;
}

export const IPV6_HOPOPTS = 0;
export const IPV6_DSTOPTS = 60;
export const IPV6_FRAGMENT = 44;

export interface Ipv6Opts {
  hopLimit?: number;
  extensions?: Ipv6Ext[];
  /** A fragment header: offset in bytes (multiple of 8), more-fragments flag. */
  fragment?: { offset: number; more: boolean; id?: number };
}

export function ipv6Packet(src: string, dst: string, nextHeader: number, payload: Buffer, o: Ipv6Opts = {}): Buffer {
  // build the extension header chain from the inside out
  const exts: Array<{ type: number; bytes: (next: number) => Buffer }> = [];
  for (const e of o.extensions ?? []) {
    const body = e.body ?? Buffer.alloc(0);
    const total = Math.ceil((body.length + 2) / 8) * 8;
    exts.push({
      type: e.type,
      bytes: (next) => {
        const b = Buffer.alloc(total);
        b[0] = next;
        b[1] = total / 8 - 1;
        body.copy(b, 2);
        const padLen = total - 2 - body.length;
        if (padLen === 1) b[2 + body.length] = 0; // Pad1
        else if (padLen >= 2) { b[2 + body.length] = 1; b[3 + body.length] = padLen - 2; } // PadN
        return b;
      },
    });
  }
  if (o.fragment) {
    const f = o.fragment;
    exts.push({
      type: IPV6_FRAGMENT,
      bytes: (next) => {
        const b = Buffer.alloc(8);
        b[0] = next;
        b.writeUInt16BE((f.offset & 0xfff8) | (f.more ? 1 : 0), 2);
        b.writeUInt32BE(f.id ?? 0xabcd, 4);
        return b;
      },
    });
  }
  let next = nextHeader;
  let body = payload;
  for (let i = exts.length - 1; i >= 0; i--) {
    body = Buffer.concat([exts[i].bytes(next), body]);
    next = exts[i].type;
  }
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(body.length, 4);
  h[6] = next;
  h[7] = o.hopLimit ?? 64;
  ipBytes(src).copy(h, 8);
  ipBytes(dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

// ---- L2 ----

export function ethernetFrame(dstMac: string, srcMac: string, ethertype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(ETH_HLEN);
  macBytes(dstMac).copy(h, 0);
  macBytes(srcMac).copy(h, 6);
  h.writeUInt16BE(ethertype, 12);
  const f = Buffer.concat([h, payload]);
  return f.length < ETH_MIN_FRAME ? Buffer.concat([f, Buffer.alloc(ETH_MIN_FRAME - f.length)]) : f;
}

// ---- flows and their truth ----

/** What flowlens keys a flow by (without interface and direction). */
export type FlowId = Pick<Flow, 'ipVersion' | 'protocol' | 'src' | 'dst' | 'srcPort' | 'dstPort'>;

export function flowIdKey(f: FlowId): string {
  return `v${f.ipVersion} p${f.protocol} ${canonicalIp(f.src)}:${f.srcPort} > ${canonicalIp(f.dst)}:${f.dstPort}`;
}

export interface Truth {
  packets: number;
  bytes: number;
}

export interface BuiltFrame {
  frame: Buffer;
  /** The flow this frame counts in, or null for a non-IP or malformed frame. */
  flow: FlowId | null;
  /** L3 bytes (IP header + payload, no Ethernet header or padding). */
  l3Bytes: number;
}

export interface IpPacketSpec {
  src: string;
  dst: string;
  l4: L4;
  v4?: Ipv4Opts;
  v6?: Ipv6Opts;
}

/**
 * Builds an Ethernet frame holding one IP packet and says which flow it counts
 * in: ICMP type/code in the port fields, ports 0 for protocols without ports
 * and for non-first fragments (only the first fragment holds the L4 header).
 */
export function ipFrame(dstMac: string, srcMac: string, spec: IpPacketSpec): BuiltFrame {
  const v6 = net.isIPv6(spec.src);
  const src = ipBytes(spec.src);
  const dst = ipBytes(spec.dst);
  const proto = l4Number(spec.l4, v6);
  const seg = buildL4(spec.l4, src, dst);
  const ip = v6 ? ipv6Packet(spec.src, spec.dst, proto, seg, spec.v6) : ipv4Packet(spec.src, spec.dst, proto, seg, spec.v4);
  const nonFirstFragment = v6 ? (spec.v6?.fragment?.offset ?? 0) > 0 : (spec.v4?.fragOffset ?? 0) > 0;
  let srcPort = 0;
  let dstPort = 0;
  if (!nonFirstFragment) {
    if (spec.l4.proto === 'tcp' || spec.l4.proto === 'udp') { srcPort = spec.l4.srcPort; dstPort = spec.l4.dstPort; }
    if (spec.l4.proto === 'icmp') { srcPort = spec.l4.type; dstPort = spec.l4.code; }
  }
  return {
    frame: ethernetFrame(dstMac, srcMac, v6 ? ETH_P_IPV6 : ETH_P_IP, ip),
    flow: { ipVersion: v6 ? 6 : 4, protocol: proto, src: spec.src, dst: spec.dst, srcPort, dstPort },
    l3Bytes: ip.length,
  };
}

/**
 * A non-first fragment carries payload bytes only (its L4 header went in the
 * first fragment): built from raw bytes, counted with ports 0.
 */
export function fragmentFrame(dstMac: string, srcMac: string, src: string, dst: string, protocol: number,
  offset: number, data: Buffer, more: boolean, id = 0x4242): BuiltFrame {
  const v6 = net.isIPv6(src);
  const ip = v6
    ? ipv6Packet(src, dst, protocol, data, { fragment: { offset, more, id } })
    : ipv4Packet(src, dst, protocol, data, { fragOffset: offset, moreFragments: more, id });
  return {
    frame: ethernetFrame(dstMac, srcMac, v6 ? ETH_P_IPV6 : ETH_P_IP, ip),
    flow: { ipVersion: v6 ? 6 : 4, protocol, src, dst, srcPort: 0, dstPort: 0 },
    l3Bytes: ip.length,
  };
}

/** An ARP request (a non-IP frame: flowlens counts it as non-IP with its L2 bytes). */
export function arpFrame(dstMac: string, srcMac: string, senderIp: string, targetIp: string): BuiltFrame {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0); // Ethernet
  a.writeUInt16BE(ETH_P_IP, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(1, 6); // request
  macBytes(srcMac).copy(a, 8);
  ipBytes(senderIp).copy(a, 14);
  ipBytes(targetIp).copy(a, 24);
  return { frame: ethernetFrame(dstMac, srcMac, ETH_P_ARP, a), flow: null, l3Bytes: 0 };
}

/** A pcap file (microsecond timestamps, Ethernet). */
export class PcapWriter {
  private readonly records: Buffer[] = [];
  private usec = 0;

  constructor(private readonly startSec = 1_700_000_000) {}

  /** Appends one frame, `gapUs` microseconds after the previous one. */
  add(frame: Buffer, gapUs = 100): void {
    this.usec += gapUs;
    const h = Buffer.alloc(16);
    h.writeUInt32LE(this.startSec + Math.floor(this.usec / 1e6), 0);
    h.writeUInt32LE(this.usec % 1e6, 4);
    h.writeUInt32LE(frame.length, 8);
    h.writeUInt32LE(frame.length, 12);
    this.records.push(h, frame);
  }

  get count(): number {
    return this.records.length / 2;
  }

  toBuffer(): Buffer {
    const g = Buffer.alloc(24);
    g.writeUInt32LE(0xa1b2c3d4, 0);
    g.writeUInt16LE(2, 4);
    g.writeUInt16LE(4, 6);
    g.writeInt32LE(0, 8); // thiszone
    g.writeUInt32LE(0, 12); // sigfigs
    g.writeUInt32LE(65535, 16); // snaplen
    g.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
    return Buffer.concat([g, ...this.records]);
  }

  write(path: string): void {
    writeFileSync(path, this.toBuffer());
  }
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
