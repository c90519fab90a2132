/**
 * A packet capture's filter: what a person asks for (an interface, a host, a
 * network, a port, a protocol, a session), checked, and encoded as the struct
 * pcap_filter the BPF program evaluates on every frame (bpf/pcap.bpf.h). All
 * the conditions given must hold; none given: every frame of the interfaces.
 *
 * The same filter in tcpdump's words (`expression`) goes into the capture
 * file's interface block (if_filter), so a reader of the file knows what it
 * holds, and tests can ask tcpdump for the same packets.
 */
import net from 'node:net';
import { FlowlensError } from '../errors.js';
import { parseCidr } from '../net/cidr.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, isIcmp, protocolName, protocolNumber } from '../net/protocols.js';
import {
  PCAP_MATCH_HOST, PCAP_MATCH_NET, PCAP_MATCH_PORT, PCAP_MATCH_PROTO, PCAP_MATCH_SESSION, PCAP_MATCH_SESSION_PORTS,
  PCAP_SNAP_MAX, PcapFilter,
} from '../collector/layout.gen.js';

/** What a caller asks for, as text (CLI flags, API parameters). */
export interface CaptureRequest {
  /** Interface name; absent: every interface counted on. */
  iface?: string;
  /** An address: frames from or to it. */
  host?: string;
  /** A CIDR prefix: frames from or to an address in it. */
  net?: string;
  /** A TCP or UDP port, either end. */
  port?: number | string;
  /** tcp, udp, icmp, ... or an IP protocol number. */
  proto?: string;
  /** A session id (the live API's `id`: iface|protocol|local|localPort|remote|remotePort). */
  session?: string;
  /** Bytes of each frame to keep (default and most: PCAP_SNAP_MAX). */
  snaplen?: number | string;
}

/** A checked filter, ready to encode. */
export interface CaptureFilter {
  /** The interface it is limited to (from iface or the session), by name; absent: every one. */
  iface?: string;
  ipVersion?: 4 | 6;
  host?: string;
  net?: { address: string; prefix: number };
  port?: number;
  protocol?: number;
  session?: { protocol: number; a: string; aPort?: number; b: string; bPort?: number };
  snaplen: number;
}

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);

function wholeNumber(v: number | string, what: string, lo: number, hi: number): number {
  const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < lo || n > hi) throw usage(`${what} must be a whole number from ${lo} to ${hi}, not "${v}"`);
  return n;
}

function versionOf(address: string): 4 | 6 {
  return net.isIPv4(address) ? 4 : 6;
}

/** Parses a session id: iface|protocol|local|localPort|remote|remotePort, or iface|protocol|local|kind|remote (ICMP). */
function parseSession(id: string): { iface: string; protocol: number; a: string; aPort?: number; b: string; bPort?: number } {
  const parts = id.split('|');
  const bad = () => usage(`--session: "${id}" is not a session id`,
    'session ids look like eth0|6|10.0.0.2|51000|192.0.2.1|443 (the id field of flowlens sessions --format json or /api/sessions)');
  if (parts.length !== 6 && parts.length !== 5) throw bad();
  const [iface, protoText, a, x, b, y] = parts as [string, string, string, string, string, string?];
  const protocol = /^\d{1,3}$/.test(protoText) ? Number(protoText) : NaN;
  if (!iface || !(protocol >= 0 && protocol <= 255) || !net.isIP(a) || !net.isIP(b) || versionOf(a) !== versionOf(b)) throw bad();
  if (parts.length === 5) {
    if (!isIcmp(protocol)) throw bad();
    return { iface, protocol, a, b }; // ICMP: the kind (x) is not in the packets' ports
  }
  const aPort = /^\d{1,5}$/.test(x) ? Number(x) : NaN;
  const bPort = /^\d{1,5}$/.test(y!) ? Number(y) : NaN;
  if (!(aPort <= 65535) || !(bPort <= 65535)) throw bad();
  return { iface, protocol, a, aPort, b, bPort };
}

/** Checks a request; throws a FLOW_ERR_USAGE that names the bad part. */
export function parseCaptureFilter(req: CaptureRequest): CaptureFilter {
  const f: CaptureFilter = { snaplen: req.snaplen !== undefined ? wholeNumber(req.snaplen, '--snaplen', 1, PCAP_SNAP_MAX) : PCAP_SNAP_MAX };
  const version = (v: 4 | 6, what: string) => {
    if (f.ipVersion !== undefined && f.ipVersion !== v) throw usage(`${what} is IPv${v}, but the rest of the filter is IPv${f.ipVersion}: no packet can match both`);
    f.ipVersion = v;
  };
  if (req.iface !== undefined) {
    if (!req.iface.trim()) throw usage('--iface needs an interface name');
    f.iface = req.iface.trim();
  }
  if (req.host !== undefined) {
    const h = req.host.trim();
    if (!net.isIP(h)) throw usage(`--host: "${req.host}" is not an IPv4 or IPv6 address`, 'give an address such as 192.0.2.1 or 2001:db8::1; for a range use --net');
    f.host = h;
    version(versionOf(h), `--host ${h}`);
  }
  if (req.net !== undefined) {
    const c = parseCidr(req.net, '--net');
    f.net = { address: c.address, prefix: c.prefix };
    version(c.version, `--net ${c.text}`);
  }
  if (req.proto !== undefined) {
    const p = protocolNumber(req.proto);
    if (p === undefined) throw usage(`--proto: unknown protocol "${req.proto}"`, 'use tcp, udp, icmp, icmpv6, gre, esp, ... or a number from 0 to 255');
    f.protocol = p;
  }
  if (req.port !== undefined) {
    f.port = wholeNumber(req.port, '--port', 0, 65535);
    if (f.protocol !== undefined && f.protocol !== IPPROTO_TCP && f.protocol !== IPPROTO_UDP) {
      throw usage(`--port needs TCP or UDP, but --proto is ${protocolName(f.protocol)}`);
    }
  }
  if (req.session !== undefined) {
    const s = parseSession(req.session.trim());
    if (f.iface !== undefined && f.iface !== s.iface) throw usage(`--session is on ${s.iface}, but --iface says ${f.iface}`);
    if (f.protocol !== undefined && f.protocol !== s.protocol) throw usage(`--session is ${protocolName(s.protocol)}, but --proto says ${protocolName(f.protocol)}`);
    f.iface = s.iface;
    version(versionOf(s.a), `--session ${req.session}`);
    f.session = { protocol: s.protocol, a: s.a, b: s.b, ...(s.aPort !== undefined ? { aPort: s.aPort, bPort: s.bPort! } : {}) };
  }
  return f;
}

/** An address as the kernel's flow key holds it: IPv4 in bytes 0..3, IPv6 in all 16. */
function keyAddress(text: string, out: Buffer, at: number): void {
  if (net.isIPv4(text)) {
    text.split('.').forEach((b, i) => { out[at + i] = Number(b); });
    return;
  }
  const full = expandIpv6(text);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(full[i]!, at + 2 * i);
}

function expandIpv6(text: string): number[] {
  let t = text.split('%')[0]!;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    t = `${t.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = t.split('::') as [string, string?];
  const h = head ? head.split(':') : [];
  const tl = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const zeros = tail !== undefined ? 8 - h.length - tl.length : 0;
  return [...h, ...Array(zeros).fill('0'), ...tl].map((g) => parseInt(g, 16));
}

/** The filter as the struct pcap_filter bytes the kernel reads; `ifindex` 0: every interface. */
export function encodeCaptureFilter(f: CaptureFilter, ifindex: number): Buffer {
  const b = Buffer.alloc(PcapFilter.size);
  let match = 0;
  b.writeUInt32LE(ifindex, PcapFilter.ifindex);
  b.writeUInt32LE(f.snaplen, PcapFilter.snaplen);
  b[PcapFilter.ipVersion] = f.ipVersion ?? 0;
  if (f.host !== undefined) {
    match |= PCAP_MATCH_HOST;
    keyAddress(f.host, b, PcapFilter.host);
  }
  if (f.net) {
    match |= PCAP_MATCH_NET;
    const bytes = f.ipVersion === 4 ? 4 : 16;
    const addr = Buffer.alloc(16);
    keyAddress(f.net.address, addr, 0);
    for (let i = 0; i < bytes; i++) {
      const bits = Math.max(0, Math.min(8, f.net.prefix - 8 * i));
      const mask = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
      b[PcapFilter.netMask + i] = mask;
      b[PcapFilter.net + i] = addr[i]! & mask;
    }
  }
  if (f.port !== undefined) {
    match |= PCAP_MATCH_PORT;
    b.writeUInt16LE(f.port, PcapFilter.port);
  }
  if (f.protocol !== undefined) {
    match |= PCAP_MATCH_PROTO;
    b[PcapFilter.protocol] = f.protocol;
  }
  if (f.session) {
    match |= PCAP_MATCH_SESSION;
    b[PcapFilter.protocol] = f.session.protocol;
    keyAddress(f.session.a, b, PcapFilter.peerA);
    keyAddress(f.session.b, b, PcapFilter.peerB);
    if (f.session.aPort !== undefined) {
      match |= PCAP_MATCH_SESSION_PORTS;
      b.writeUInt16LE(f.session.aPort, PcapFilter.portA);
      b.writeUInt16LE(f.session.bPort!, PcapFilter.portB);
    }
  }
  b[PcapFilter.match] = match;
  return b;
}

/**
 * The filter in tcpdump's words ("" for every frame). The meanings agree for
 * untagged frames: a host or net filter matches IP only (tcpdump's `host`
 * alone also matches ARP), a port is a TCP or UDP port, and a frame behind a
 * VLAN tag needs tcpdump's `vlan and ...`.
 */
export function captureExpression(f: CaptureFilter): string {
  const ip = f.ipVersion === 6 ? 'ip6' : 'ip';
  const parts: string[] = [];
  if (f.host !== undefined) parts.push(`${ip} host ${f.host}`);
  if (f.net) parts.push(`${ip} net ${f.net.address}/${f.net.prefix}`);
  if (f.protocol !== undefined) {
    const p = f.protocol;
    parts.push(p === IPPROTO_TCP ? 'tcp' : p === IPPROTO_UDP ? 'udp' : p === IPPROTO_ICMP ? 'icmp' : p === IPPROTO_ICMPV6 ? 'icmp6'
      : f.ipVersion ? `${ip} proto ${p}` : `(ip proto ${p} or ip6 proto ${p})`);
  }
  if (f.port !== undefined) parts.push(f.protocol === undefined ? `(tcp port ${f.port} or udp port ${f.port})` : `port ${f.port}`);
  if (f.session) {
    const s = f.session;
    const proto = s.protocol === IPPROTO_TCP ? 'tcp' : s.protocol === IPPROTO_UDP ? 'udp' : `${ip} proto ${s.protocol}`;
    const end = (addr: string, port: number | undefined, dir: 'src' | 'dst') => port === undefined ? `${dir} host ${addr}` : `${dir} host ${addr} and ${dir} port ${port}`;
    parts.push(`${proto} and ((${end(s.a, s.aPort, 'src')} and ${end(s.b, s.bPort, 'dst')}) or (${end(s.b, s.bPort, 'src')} and ${end(s.a, s.aPort, 'dst')}))`);
  }
  return parts.join(' and ');
}
