/**
 * Builds DNS responses and TLS ClientHellos byte by byte for tests of the
 * capture path and the parsers. Names are written uncompressed (a test that
 * needs compression pointers writes its bytes by hand).
 */
import { ip4, ip6 } from './packets.js';

export const TYPE = { A: 1, CNAME: 5, AAAA: 28, TXT: 16 } as const;

/** A name as labels: 3www7example3com0. */
export function labels(name: string): Buffer {
  const parts = name === '' ? [] : name.split('.');
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

export interface RecordSpec {
  name: string;
  type: number;
  ttl: number;
  /** A/AAAA: address text; CNAME: target name; other types: raw bytes. */
  data: string | Buffer;
}

function rdata(r: RecordSpec): Buffer {
  if (Buffer.isBuffer(r.data)) return r.data;
  if (r.type === TYPE.A) return ip4(r.data);
  if (r.type === TYPE.AAAA) return ip6(r.data);
  return labels(r.data);
}

/** A standard response (QR, RD, RA, rcode 0 unless given) to one question. */
export function dnsResponse(o: { id?: number; question: string; qtype: number; answers: RecordSpec[]; rcode?: number }): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(o.id ?? 0x1234, 0);
  header.writeUInt16BE(0x8180 | (o.rcode ?? 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(o.answers.length, 6);
  const q = Buffer.concat([labels(o.question), Buffer.from([0, o.qtype, 0, 1])]);
  const rrs = o.answers.map((r) => {
    const d = rdata(r);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(r.type, 0);
    fixed.writeUInt16BE(1, 2); // IN
    fixed.writeUInt32BE(r.ttl, 4);
    fixed.writeUInt16BE(d.length, 8);
    return Buffer.concat([labels(r.name), fixed, d]);
  });
  return Buffer.concat([header, q, ...rrs]);
}

/** The 2-byte length prefix DNS over TCP puts before each message. */
export function tcpFramed(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/**
 * A TLS 1.3-style ClientHello record: session id, two cipher suites, then the
 * extensions (supported_versions, and server_name when given, placed after
 * `padBefore` bytes of a padding extension to move it further in).
 */
export function clientHello(o: { serverName?: string; padBefore?: number } = {}): Buffer {
  const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
  const ext = (type: number, body: Buffer) => Buffer.concat([u16(type), u16(body.length), body]);
  const exts: Buffer[] = [ext(0x002b, Buffer.from([2, 3, 4]))];
  if (o.padBefore) exts.push(ext(0x0015, Buffer.alloc(o.padBefore)));
  if (o.serverName !== undefined) {
    const name = Buffer.from(o.serverName, 'latin1');
    const entry = Buffer.concat([Buffer.from([0]), u16(name.length), name]);
    exts.push(ext(0x0000, Buffer.concat([u16(entry.length), entry])));
  }
  const extBytes = Buffer.concat(exts);
  const body = Buffer.concat([
    u16(0x0303), Buffer.alloc(32, 0xab), // legacy_version, random
    Buffer.from([32]), Buffer.alloc(32, 0xcd), // legacy_session_id
    u16(4), u16(0x1301), u16(0x1302), // cipher_suites
    Buffer.from([1, 0]), // legacy_compression_methods: null
    u16(extBytes.length), extBytes,
  ]);
  const hs = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(hs.length), hs]);
}

/**
 * An mDNS announcement (RFC 6762 8.3): an unsolicited response, id 0, flags
 * QR|AA, no question, answers with the cache-flush bit on their class.
 */
export function mdnsAnnouncement(answers: RecordSpec[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x8400, 2);
  header.writeUInt16BE(answers.length, 6);
  const rrs = answers.map((r) => {
    const d = rdata(r);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(r.type, 0);
    fixed.writeUInt16BE(0x8001, 2);  // IN, cache flush
    fixed.writeUInt32BE(r.ttl, 4);
    fixed.writeUInt16BE(d.length, 8);
    return Buffer.concat([labels(r.name), fixed, d]);
  });
  return Buffer.concat([header, ...rrs]);
}

/** A DHCP client message (RFC 2131): BOOTREQUEST from an Ethernet MAC, with option 53 and the options given (code → bytes). */
export function dhcpMessage(o: { mac: string; type: number; ciaddr?: string; options?: Array<[number, Buffer]> }): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 1; b[1] = 1; b[2] = 6;
  b.writeUInt32BE(0x3903f326, 4);  // xid
  if (o.ciaddr) ip4(o.ciaddr).copy(b, 12);
  Buffer.from(o.mac.replace(/:/g, ''), 'hex').copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  const opts = [[53, Buffer.from([o.type])] as [number, Buffer], ...(o.options ?? [])]
    .map(([code, v]) => Buffer.concat([Buffer.from([code, v.length]), v]));
  return Buffer.concat([b, ...opts, Buffer.from([255])]);
}
