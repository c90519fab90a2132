/**
 * Addresses as 16 sortable bytes (IPv4 as ::ffff:a.b.c.d), so that a CIDR prefix
 * is a byte range: the session log indexes them and answers "sessions with
 * 10.1.0.0/16" with one range scan instead of testing every row.
 */
import net from 'node:net';
import { addressWords, parseCidr } from './cidr.js';

/** 16 bytes of a formatted IPv4 or IPv6 address; null when it is neither. */
export function addressBytes(text: string): Buffer | null {
  const a = net.isIP(text) ? addressWords(text) : undefined;
  if (!a) return null;
  const out = Buffer.alloc(16);
  if (a.version === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    out.writeUInt32BE(a.words[3]!, 12);
  } else {
    for (let i = 0; i < 4; i++) out.writeUInt32BE(a.words[i]!, 4 * i);
  }
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
