/**
 * Addresses as 16 sortable bytes (IPv4 as ::ffff:a.b.c.d), so that a CIDR prefix
 * is a byte range: the session log indexes them and answers "sessions with
 * 10.1.0.0/16" with one range scan instead of testing every row.
 */
import net from 'node:net';
import { parseCidr } from './cidr.js';

function v4Bytes(text: string, out: Buffer, at: number): void {
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

/** 16 bytes of a formatted IPv4 or IPv6 address; null when it is neither. */
export function addressBytes(text: string): Buffer | null {
  const out = Buffer.alloc(16);
  if (net.isIPv4(text)) {
    out[10] = 0xff;
    out[11] = 0xff;
    v4Bytes(text, out, 12);
    return out;
  }
  if (!net.isIPv6(text)) return null;
  let addr = text.split('%')[0];
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  let tail: number[] = [];
  if (v4) {
    const b = Buffer.alloc(4);
    v4Bytes(v4[1], b, 0);
    tail = [b.readUInt16BE(0), b.readUInt16BE(2)];
    addr = addr.slice(0, -v4[1].length);
    if (addr.endsWith(':') && !addr.endsWith('::')) addr = addr.slice(0, -1);
  }
  const [head, rest] = addr.split('::');
  const parse = (s: string | undefined) => (s ? s.split(':').filter((g) => g !== '').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const r = [...parse(rest), ...tail];
  const groups = rest === undefined && !addr.includes('::') ? [...h, ...tail] : [...h, ...new Array(8 - h.length - r.length).fill(0), ...r];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i] ?? 0, 2 * i);
  return out;
}

/** First and last 16-byte address of a prefix ("10.0.0.0/8", "2001:db8::/32", or one address). */
export function cidrRange(text: string, where = 'address'): [Buffer, Buffer] {
  const c = parseCidr(text, where);
  const lo = addressBytes(c.address) as Buffer;
  const hi = Buffer.from(lo);
  const bits = c.version === 4 ? 96 + c.prefix : c.prefix;
  for (let i = 0; i < 128; i++) {
    if (i < bits) continue;
    const byte = i >> 3, mask = 0x80 >> (i & 7);
    lo[byte] &= ~mask;
    hi[byte] |= mask;
  }
  return [lo, hi];
}
