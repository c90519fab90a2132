/**
 * The packet builder of every test: BPF_PROG_TEST_RUN fixtures (test/bpf/) and
 * the pcaps that end-to-end tests replay alike. One function per header; each
 * takes its payload and returns header + payload as a Buffer in network byte
 * order, so frames read inside out:
 *
 *   eth({ type: ETH_P.IPV4 }, ipv4({ src, dst, protocol: IPPROTO.UDP }, udp({ sport, dport }, data)))
 *
 * Lengths (IPv4 tot_len, IPv6 payload_len, UDP length) and the IPv4 and ICMP
 * checksums are computed; every computed field can be overridden to build a
 * corrupt packet. TCP/UDP/ICMPv6 checksums (which need a pseudo-header) are left
 * 0 unless the IP builder is asked for them (`l4Checksum`): the flow counter
 * never reads them, but a replayed capture should look like a real one.
 *
 * At the end, `ipFrame()` and friends build whole frames that also say which
 * flow they count in and with how many L3 bytes: the truth a replay test
 * compares flowlens against.
 */
import net from 'node:net';
import type { Flow } from '../../src/collector/decode.js';

export const ETH_P = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100, // 802.1Q
  QINQ: 0x88a8, // 802.1ad
  IPV6: 0x86dd,
  LLDP: 0x88cc,
} as const;

export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
  SCTP: 132,
} as const;

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80 } as const;

/** MSS 1460, SACK permitted, timestamps (TSval `tsval`, TSecr 0), NOP, window scale 7: a Linux SYN's 20 option bytes. */
export function synOptions(tsval = 1000): Buffer {
  const b = Buffer.alloc(20);
  b.set([2, 4, 0x05, 0xb4], 0); // MSS 1460
  b.set([4, 2], 4); // SACK permitted
  b.set([8, 10], 6); // timestamps
  b.writeUInt32BE(tsval >>> 0, 8);
  b.set([1, 3, 3, 7], 16); // NOP, window scale 7
  return b;
}

/** NOP, NOP, timestamps (12 bytes), as on every segment of an established Linux connection. */
export function tsOptions(tsval: number, tsecr: number): Buffer {
  const b = Buffer.alloc(12);
  b.set([1, 1, 8, 10], 0);
  b.writeUInt32BE(tsval >>> 0, 4);
  b.writeUInt32BE(tsecr >>> 0, 8);
  return b;
}

/** The 12 option bytes of a typical established-connection segment. */
export const TCP_OPT_TIMESTAMPS = tsOptions(1, 2);
/** A Linux SYN's 20 option bytes. */
export const TCP_OPT_SYN = synOptions(1);

// ---- addresses and checksums ----

export function mac(text: string): Buffer {
  const b = Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
  if (b.length !== 6) throw new Error(`bad MAC ${text}`);
  return b;
}

export function ip4(text: string): Buffer {
  if (!net.isIPv4(text)) throw new Error(`bad IPv4 address ${text}`);
  return Buffer.from(text.split('.').map(Number));
}

export function ip6(text: string): Buffer {
  const [head, tail, extra] = text.split('::');
  if (extra !== undefined || !net.isIPv6(text)) throw new Error(`bad IPv6 address ${text}`);
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  if (all.length !== 8 || all.some((g) => !(g >= 0 && g <= 0xffff))) throw new Error(`bad IPv6 address ${text}`);
  const b = Buffer.alloc(16);
  all.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
  return b;
}

/** 4 or 16 bytes of an IPv4 or IPv6 address in text form. */
export function ipAddr(text: string): Buffer {
  return net.isIPv4(text) ? ip4(text) : ip6(text);
}

/** The Internet checksum (RFC 1071) of `b`. */
export function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Where TCP, UDP and ICMPv6 keep their checksum, which covers a pseudo-header. */
const L4_CHECKSUM_AT: Record<number, number> = { [IPPROTO.TCP]: 16, [IPPROTO.UDP]: 6, [IPPROTO.ICMPV6]: 2 };

/**
 * A copy of the transport segment `seg` with its checksum over the IPv4 or IPv6
 * pseudo-header (RFC 793, 768, 8200 §8.1) filled in; other protocols unchanged
 * (ICMP's checksum covers only itself: icmp() computes it).
 */
function withL4Checksum(protocol: number, src: Buffer, dst: Buffer, seg: Buffer): Buffer {
  const at = L4_CHECKSUM_AT[protocol];
  if (at === undefined) return seg;
  const pseudo = Buffer.alloc(src.length === 4 ? 12 : 40);
  if (src.length === 4) {
    src.copy(pseudo, 0);
    dst.copy(pseudo, 4);
    pseudo[9] = protocol;
    pseudo.writeUInt16BE(seg.length, 10);
  } else {
    src.copy(pseudo, 0);
    dst.copy(pseudo, 16);
    pseudo.writeUInt32BE(seg.length, 32);
    pseudo[39] = protocol;
  }
  const c = Buffer.from(seg);
  c.writeUInt16BE(0, at);
  let sum = checksum(Buffer.concat([pseudo, c]));
  if (protocol === IPPROTO.UDP && sum === 0) sum = 0xffff; // 0 means "no checksum" in UDP
  c.writeUInt16BE(sum, at);
  return c;
}

// ---- layer 2 ----

export interface EthOptions {
  type: number;
  src?: string;
  dst?: string;
  /** VLAN ids, outermost first: one is an 802.1Q tag, two are 802.1ad + 802.1Q (QinQ). */
  vlans?: number[];
  /** Override the tag protocol ids (default: 0x8100 for one tag, 0x88a8 then 0x8100 for two). */
  tpids?: number[];
}

export function eth(o: EthOptions, payload: Buffer = Buffer.alloc(0)): Buffer {
  const vlans = o.vlans ?? [];
  const tpids = o.tpids ?? (vlans.length === 2 ? [ETH_P.QINQ, ETH_P.VLAN] : vlans.map(() => ETH_P.VLAN));
  const h = Buffer.alloc(14 + 4 * vlans.length);
  mac(o.dst ?? '02:00:00:00:00:02').copy(h, 0);
  mac(o.src ?? '02:00:00:00:00:01').copy(h, 6);
  let off = 12;
  vlans.forEach((vid, i) => {
    h.writeUInt16BE(tpids[i], off);
    h.writeUInt16BE(vid & 0x0fff, off + 2);
    off += 4;
  });
  h.writeUInt16BE(o.type, off);
  return Buffer.concat([h, payload]);
}

export interface ArpOptions {
  op?: 1 | 2; // request, reply
  senderMac?: string;
  senderIp: string;
  targetMac?: string;
  targetIp: string;
}

/** An Ethernet/IPv4 ARP packet (28 bytes); wrap it in eth({ type: ETH_P.ARP }). */
export function arp(o: ArpOptions): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); // hardware: Ethernet
  b.writeUInt16BE(ETH_P.IPV4, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(o.op ?? 1, 6);
  mac(o.senderMac ?? '02:00:00:00:00:01').copy(b, 8);
  ip4(o.senderIp).copy(b, 14);
  mac(o.targetMac ?? '00:00:00:00:00:00').copy(b, 18);
  ip4(o.targetIp).copy(b, 24);
  return b;
}

// ---- IPv4 ----

export interface Ipv4Options {
  src: string;
  dst: string;
  protocol: number;
  /** Option bytes; padded with End of Options List to a multiple of 4. */
  options?: Buffer;
  tos?: number;
  ttl?: number;
  id?: number;
  df?: boolean;
  /** More Fragments. */
  mf?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragOffset?: number;
  // corruption: override what is computed
  version?: number;
  /** Header length in 32-bit words. */
  ihl?: number;
  totLen?: number;
  /** Fill in the TCP/UDP checksum of the payload (a whole segment from tcp() or udp()). */
  l4Checksum?: boolean;
}

export function ipv4(o: Ipv4Options, payload: Buffer = Buffer.alloc(0)): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const optLen = Math.ceil(opts.length / 4) * 4;
  const h = Buffer.alloc(20 + optLen);
  const fragOffset = o.fragOffset ?? 0;
  if (fragOffset % 8 !== 0) throw new Error('fragment offsets are multiples of 8');
  if (o.l4Checksum) payload = withL4Checksum(o.protocol, ip4(o.src), ip4(o.dst), payload);
  h[0] = ((o.version ?? 4) << 4) | ((o.ihl ?? h.length / 4) & 0x0f);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(o.totLen ?? h.length + payload.length, 2);
  h.writeUInt16BE(o.id ?? 0x1234, 4);
  h.writeUInt16BE((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | (fragOffset / 8), 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.protocol;
  ip4(o.src).copy(h, 12);
  ip4(o.dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}

/** IPv4 Router Alert option (RFC 2113): 4 bytes. */
export const IPV4_OPT_ROUTER_ALERT = Buffer.from([0x94, 0x04, 0x00, 0x00]);

/** IPv4 Record Route option with room for `slots` addresses (3 + 4*slots bytes). */
export function ipv4RecordRoute(slots: number): Buffer {
  const b = Buffer.alloc(3 + 4 * slots);
  b[0] = 7;
  b[1] = b.length;
  b[2] = 4; // pointer: first free slot
  return b;
}

// ---- IPv6 ----

/** An IPv6 extension header: its protocol number, and its bytes once the next header is known. */
export interface Ipv6Ext {
  type: number;
  build(next: number): Buffer;
  /** A fragment header's offset in bytes (a frame with offset > 0 holds no L4 header). */
  fragmentOffset?: number;
}

/** HBH and destination options share a layout: next, length in 8-octet units - 1, options padded with PadN. */
function optionsHeader(type: number, size: number, options: Buffer): Ipv6Ext {
  if (size % 8 !== 0 || size < 8 || options.length > size - 2) throw new Error(`bad options header size ${size}`);
  return {
    type,
    build(next) {
      const b = Buffer.alloc(size);
      b[0] = next;
      b[1] = size / 8 - 1;
      options.copy(b, 2);
      const pad = size - 2 - options.length;
      if (pad === 1) b[2 + options.length] = 0; // Pad1
      else if (pad >= 2) {
        b[2 + options.length] = 1; // PadN
        b[3 + options.length] = pad - 2;
      }
      return b;
    },
  };
}

/** Hop-by-hop options header of `size` bytes (default: 8, with a Router Alert option). */
export function hopByHop(size = 8, options = Buffer.from([0x05, 0x02, 0x00, 0x00])): Ipv6Ext {
  return optionsHeader(IPPROTO.HOPOPTS, size, options);
}

/** Destination options header of `size` bytes (default: only padding). */
export function destOpts(size = 8, options = Buffer.alloc(0)): Ipv6Ext {
  return optionsHeader(IPPROTO.DSTOPTS, size, options);
}

/** Routing header type 4 (Segment Routing) with these segments: 8 + 16*n bytes. */
export function routing(segments: string[]): Ipv6Ext {
  return {
    type: IPPROTO.ROUTING,
    build(next) {
      const b = Buffer.alloc(8 + 16 * segments.length);
      b[0] = next;
      b[1] = 2 * segments.length;
      b[2] = 4; // routing type: SRH
      b[3] = segments.length - 1; // segments left
      b[4] = segments.length - 1; // last entry
      segments.forEach((s, i) => ip6(s).copy(b, 8 + 16 * i));
      return b;
    },
  };
}

/** Fragment header: offset in bytes (a multiple of 8), More Fragments flag, identification. */
export function fragment(o: { offset?: number; more?: boolean; id?: number } = {}): Ipv6Ext {
  const offset = o.offset ?? 0;
  if (offset % 8 !== 0) throw new Error('fragment offsets are multiples of 8');
  return {
    type: IPPROTO.FRAGMENT,
    fragmentOffset: offset,
    build(next) {
      const b = Buffer.alloc(8);
      b[0] = next;
      b.writeUInt16BE(offset | (o.more ? 1 : 0), 2);
      b.writeUInt32BE(o.id ?? 0xabcd, 4);
      return b;
    },
  };
}

/** Authentication header with an ICV of `icvLen` bytes (12: HMAC-SHA1-96): 12 + icvLen bytes. */
export function ah(icvLen = 12): Ipv6Ext {
  if ((12 + icvLen) % 8 !== 0) throw new Error('an IPv6 AH is a multiple of 8 bytes');
  return {
    type: IPPROTO.AH,
    build(next) {
      const b = Buffer.alloc(12 + icvLen);
      b[0] = next;
      b[1] = b.length / 4 - 2;
      b.writeUInt32BE(0x1000, 4); // SPI
      b.writeUInt32BE(1, 8); // sequence number
      return b;
    },
  };
}

export interface Ipv6Options {
  src: string;
  dst: string;
  /** The upper-layer protocol, after the extension headers. */
  protocol: number;
  /** Extension headers in order; their next-header fields are chained automatically. */
  ext?: Ipv6Ext[];
  hopLimit?: number;
  // corruption
  version?: number;
  payloadLen?: number;
  /** Fill in the TCP/UDP/ICMPv6 checksum of the payload (a whole segment from tcp(), udp() or icmpv6()). */
  l4Checksum?: boolean;
}

export function ipv6(o: Ipv6Options, payload: Buffer = Buffer.alloc(0)): Buffer {
  const ext = o.ext ?? [];
  if (o.l4Checksum) payload = withL4Checksum(o.protocol, ip6(o.src), ip6(o.dst), payload);
  const exts = ext.map((e, i) => e.build(i + 1 < ext.length ? ext[i + 1].type : o.protocol));
  const body = Buffer.concat([...exts, payload]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((o.version ?? 6) << 28) >>> 0, 0);
  h.writeUInt16BE(o.payloadLen ?? body.length, 4);
  h[6] = ext.length ? ext[0].type : o.protocol;
  h[7] = o.hopLimit ?? 64;
  ip6(o.src).copy(h, 8);
  ip6(o.dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

// ---- layer 4 ----

export interface TcpOptions {
  sport: number;
  dport: number;
  flags?: number;
  seq?: number;
  ack?: number;
  window?: number;
  /** Option bytes; padded with End of Options List to a multiple of 4. */
  options?: Buffer;
  /** corruption: data offset in 32-bit words. */
  doff?: number;
}

export function tcp(o: TcpOptions, payload: Buffer = Buffer.alloc(0)): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + Math.ceil(opts.length / 4) * 4);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE(o.seq ?? 1000, 4);
  h.writeUInt32BE(o.ack ?? 0, 8);
  h[12] = ((o.doff ?? h.length / 4) & 0x0f) << 4;
  h[13] = o.flags ?? TCP.ACK;
  h.writeUInt16BE(o.window ?? 65535, 14);
  opts.copy(h, 20);
  return Buffer.concat([h, payload]);
}

export function udp(o: { sport: number; dport: number; length?: number }, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt16BE(o.length ?? 8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

/**
 * ICMP: type, code, checksum and 4 bytes that depend on the type (echo: id and
 * sequence; errors: unused), then the payload (errors: the offending packet's
 * IP header and its first 8 bytes).
 */
export function icmp(o: { type: number; code?: number; rest?: number }, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h[0] = o.type;
  h[1] = o.code ?? 0;
  h.writeUInt32BE(o.rest ?? 0, 4);
  const b = Buffer.concat([h, payload]);
  b.writeUInt16BE(checksum(b), 2);
  return b;
}

/** ICMPv6: type, code, checksum (left 0), then the body (echo: id, sequence, data). */
export function icmpv6(o: { type: number; code?: number }, body: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(4);
  h[0] = o.type;
  h[1] = o.code ?? 0;
  return Buffer.concat([h, body]);
}

/** GRE base header (4 bytes) carrying `protocolType`. */
export function gre(protocolType: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(protocolType, 2);
  return Buffer.concat([h, payload]);
}

/** SCTP common header (12 bytes): it has ports, but the counter keys only TCP/UDP ports. */
export function sctp(o: { sport: number; dport: number }, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE(0xdeadbeef, 4); // verification tag
  return Buffer.concat([h, payload]);
}

// ---- payloads, truncation and corruption ----

/** `n` bytes of a recognisable pattern. */
export function data(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i & 0xff;
  return b;
}

/** Deterministic pseudo-random bytes (xorshift32), so a "garbage" fixture always means the same thing. */
export function garbage(n: number, seed = 0x2545f491): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** The first `n` bytes of `b` (a copy). */
export function cut(b: Buffer, n: number): Buffer {
  if (n > b.length) throw new Error(`cannot cut ${b.length} bytes at ${n}`);
  return Buffer.from(b.subarray(0, n));
}

/** A copy of `b` with the byte at `offset` set to `value`. */
export function corrupt(b: Buffer, offset: number, value: number): Buffer {
  const c = Buffer.from(b);
  c[offset] = value;
  return c;
}

/** Pads a frame with zeros to the Ethernet minimum (60 bytes without FCS), or to `min`. */
export function pad(frame: Buffer, min = 60): Buffer {
  return frame.length >= min ? frame : Buffer.concat([frame, Buffer.alloc(min - frame.length)]);
}

// ---- whole frames that know the flow they count in (for replayed captures) ----

/** What flowlens keys a flow by (without interface and direction). */
export type FlowId = Pick<Flow, 'ipVersion' | 'protocol' | 'src' | 'dst' | 'srcPort' | 'dstPort'>;

export interface BuiltFrame {
  frame: Buffer;
  /** The flow this frame counts in, or null for a non-IP or malformed frame. */
  flow: FlowId | null;
  /** L3 bytes (IP header + payload, no Ethernet header or padding). */
  l3Bytes: number;
}

/** A transport segment, in the terms of the flow it makes. */
export type L4 =
  | { proto: 'tcp'; srcPort: number; dstPort: number; flags: number; seq?: number; ack?: number; window?: number;
      /** TCP options, a multiple of 4 bytes (synOptions(), tsOptions()). */ options?: Buffer; payload?: Buffer }
  | { proto: 'udp'; srcPort: number; dstPort: number; payload?: Buffer }
  /** ICMP for IPv4, ICMPv6 for IPv6; `rest` is the 4 bytes after the checksum (echo: id and sequence). */
  | { proto: 'icmp'; type: number; code: number; rest?: number; payload?: Buffer }
  /** Any other IP protocol: raw payload, no ports. */
  | { proto: 'raw'; number: number; payload: Buffer };

export interface IpPacketSpec {
  src: string;
  dst: string;
  l4: L4;
  v4?: Omit<Ipv4Options, 'src' | 'dst' | 'protocol'>;
  v6?: Omit<Ipv6Options, 'src' | 'dst' | 'protocol'>;
}

function l4Protocol(l4: L4, v6: boolean): number {
  switch (l4.proto) {
    case 'tcp': return IPPROTO.TCP;
    case 'udp': return IPPROTO.UDP;
    case 'icmp': return v6 ? IPPROTO.ICMPV6 : IPPROTO.ICMP;
    case 'raw': return l4.number;
  }
}

function l4Segment(l4: L4, v6: boolean): Buffer {
  const payload = l4.payload ?? Buffer.alloc(0);
  switch (l4.proto) {
    case 'tcp':
      // a replayed connection's defaults: the first sequence number, Linux's usual window
      return tcp({ sport: l4.srcPort, dport: l4.dstPort, flags: l4.flags, seq: l4.seq ?? 1, ack: l4.ack,
        window: l4.window ?? 502, options: l4.options }, payload);
    case 'udp':
      return udp({ sport: l4.srcPort, dport: l4.dstPort }, payload);
    case 'icmp': {
      if (!v6) return icmp({ type: l4.type, code: l4.code, rest: l4.rest }, payload);
      const rest = Buffer.alloc(4);
      rest.writeUInt32BE((l4.rest ?? 0) >>> 0);
      return icmpv6({ type: l4.type, code: l4.code }, Buffer.concat([rest, payload]));
    }
    case 'raw':
      return payload;
  }
}

/**
 * An Ethernet frame (padded to the minimum) holding one IP packet with correct
 * checksums, and the flow it counts in: ICMP type/code in the port fields,
 * ports 0 for protocols without ports and for non-first fragments (only the
 * first fragment holds the L4 header).
 */
export function ipFrame(dstMac: string, srcMac: string, spec: IpPacketSpec): BuiltFrame {
  const v6 = net.isIPv6(spec.src);
  const protocol = l4Protocol(spec.l4, v6);
  const seg = l4Segment(spec.l4, v6);
  const ip = v6
    ? ipv6({ ...spec.v6, src: spec.src, dst: spec.dst, protocol, l4Checksum: true }, seg)
    : ipv4({ ...spec.v4, src: spec.src, dst: spec.dst, protocol, l4Checksum: true }, seg);
  const nonFirstFragment = v6
    ? (spec.v6?.ext ?? []).some((e) => (e.fragmentOffset ?? 0) > 0)
    : (spec.v4?.fragOffset ?? 0) > 0;
  let srcPort = 0;
  let dstPort = 0;
  if (!nonFirstFragment) {
    if (spec.l4.proto === 'tcp' || spec.l4.proto === 'udp') { srcPort = spec.l4.srcPort; dstPort = spec.l4.dstPort; }
    if (spec.l4.proto === 'icmp') { srcPort = spec.l4.type; dstPort = spec.l4.code; }
  }
  return {
    frame: pad(eth({ type: v6 ? ETH_P.IPV6 : ETH_P.IPV4, dst: dstMac, src: srcMac }, ip)),
    flow: { ipVersion: v6 ? 6 : 4, protocol, src: spec.src, dst: spec.dst, srcPort, dstPort },
    l3Bytes: ip.length,
  };
}

/**
 * A non-first fragment carries payload bytes only (its L4 header went in the
 * first fragment): built from raw bytes, counted with ports 0.
 */
export function fragmentFrame(dstMac: string, srcMac: string, src: string, dst: string, protocol: number,
  offset: number, payload: Buffer, more: boolean, id = 0x4242): BuiltFrame {
  const v6 = net.isIPv6(src);
  const ip = v6
    ? ipv6({ src, dst, protocol, ext: [fragment({ offset, more, id })] }, payload)
    : ipv4({ src, dst, protocol, fragOffset: offset, mf: more, id }, payload);
  return {
    frame: pad(eth({ type: v6 ? ETH_P.IPV6 : ETH_P.IPV4, dst: dstMac, src: srcMac }, ip)),
    flow: { ipVersion: v6 ? 6 : 4, protocol, src, dst, srcPort: 0, dstPort: 0 },
    l3Bytes: ip.length,
  };
}

/** An ARP request (a non-IP frame: flowlens counts it as non-IP with its L2 bytes). */
export function arpFrame(dstMac: string, srcMac: string, senderIp: string, targetIp: string): BuiltFrame {
  const frame = pad(eth({ type: ETH_P.ARP, dst: dstMac, src: srcMac }, arp({ senderMac: srcMac, senderIp, targetIp })));
  return { frame, flow: null, l3Bytes: 0 };
}

/** Ethernet + IPv4 + UDP with `payload` zero bytes (IP id 0, UDP checksum 0): the drain tests' one-line packet. */
export function udp4(src: string, dst: string, sport: number, dport: number, payload = 32): Buffer {
  return eth({ type: ETH_P.IPV4 }, ipv4({ src, dst, protocol: IPPROTO.UDP, id: 0 }, udp({ sport, dport }, Buffer.alloc(payload))));
}
