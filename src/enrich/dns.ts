/**
 * A DNS message parser (RFC 1035) for captured answers: the header, the
 * questions and the answer section, with A, AAAA and CNAME records decoded.
 * Authority and additional sections are not read: names come from answers.
 *
 * Input comes off the wire and may be cut (captures hold at most 512 payload
 * bytes) or hostile. The parser never throws on bad bytes: it returns what it
 * could read, with `complete` false, or undefined when not even the header and
 * the questions are there. Compression pointers must point backwards (before
 * the name that uses them) and are followed at most MAX_POINTERS times, so a
 * pointer loop cannot hang it.
 */
import { formatAddress } from '../net/address-text.js';

export const DNS_TYPE = { A: 1, CNAME: 5, AAAA: 28 } as const;
const CLASS_IN = 1;
const HEADER_BYTES = 12;
/** RFC 1035 2.3.4: a name is at most 255 bytes on the wire. */
const MAX_NAME_BYTES = 255;
const MAX_POINTERS = 64;

export interface DnsQuestion {
  /** Lowercase, without the trailing dot ('' for the root). */
  name: string;
  type: number;
  class: number;
}

export interface DnsAnswer {
  /** Owner name, lowercase, without the trailing dot. */
  name: string;
  type: number;
  class: number;
  /** Seconds. */
  ttl: number;
  /** A/AAAA: the address as text; CNAME: the target name (lowercase). Absent for other types. */
  data?: string;
}

export interface DnsMessage {
  id: number;
  /** QR bit: a response. */
  response: boolean;
  /** TC bit: the server cut the answer (the client retries over TCP). */
  truncated: boolean;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsAnswer[];
  /** Every question and answer the header announced was read. */
  complete: boolean;
}

class Truncated extends Error {}

/** Reads a (possibly compressed) name at `at`; returns it and the offset after it in the message. */
function readName(b: Buffer, at: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = at;
  let next = -1;  // where the name ends in the message: after its first pointer, or its root label
  let wireBytes = 0;
  let pointers = 0;
  let floor = at;  // a pointer must point before the name (part) that uses it
  for (;;) {
    if (pos >= b.length) throw new Truncated();
    const len = b[pos];
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= b.length) throw new Truncated();
      const target = ((len & 0x3f) << 8) | b[pos + 1];
      if (next < 0) next = pos + 2;
      if (target >= floor || ++pointers > MAX_POINTERS) throw new Error('bad compression pointer');
      floor = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new Error('bad label type');
    if (pos + 1 + len > b.length) throw new Truncated();
    wireBytes += len + 1;
    if (wireBytes + 1 > MAX_NAME_BYTES) throw new Error('name too long');
    labels.push(b.toString('latin1', pos + 1, pos + 1 + len).toLowerCase());
    pos += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** Parses one DNS message (no TCP length prefix: see dnsMessageOf). */
export function parseDnsMessage(b: Buffer): DnsMessage | undefined {
  if (b.length < HEADER_BYTES) return undefined;
  const flags = b.readUInt16BE(2);
  const qdcount = b.readUInt16BE(4);
  const ancount = b.readUInt16BE(6);
  const msg: DnsMessage = {
    id: b.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    truncated: (flags & 0x0200) !== 0,
    rcode: flags & 0x000f,
    questions: [],
    answers: [],
    complete: false,
  };
  let pos = HEADER_BYTES;
  try {
    for (let i = 0; i < qdcount; i++) {
      const { name, next } = readName(b, pos);
      if (next + 4 > b.length) throw new Truncated();
      msg.questions.push({ name, type: b.readUInt16BE(next), class: b.readUInt16BE(next + 2) });
      pos = next + 4;
    }
  } catch {
    return undefined;  // without its questions a message says nothing usable
  }
  try {
    for (let i = 0; i < ancount; i++) {
      const { name, next } = readName(b, pos);
      if (next + 10 > b.length) throw new Truncated();
      const type = b.readUInt16BE(next);
      const klass = b.readUInt16BE(next + 2);
      const ttl = b.readUInt32BE(next + 4);
      const rdlength = b.readUInt16BE(next + 8);
      const rdata = next + 10;
      if (rdata + rdlength > b.length) throw new Truncated();
      const answer: DnsAnswer = { name, type, class: klass, ttl: ttl > 0x7fffffff ? 0 : ttl };  // RFC 2181 8
      // mDNS sets the class's top bit on a unique record ("cache flush", RFC 6762 10.2): still IN
      const isIn = (klass & 0x7fff) === CLASS_IN;
      if (isIn && type === DNS_TYPE.A && rdlength === 4) {
        answer.data = formatAddress(b, rdata, 4);
      } else if (isIn && type === DNS_TYPE.AAAA && rdlength === 16) {
        answer.data = formatAddress(b, rdata, 6);
      } else if (type === DNS_TYPE.CNAME) {
        const target = readName(b, rdata);
        if (target.next > rdata + rdlength) throw new Error('CNAME runs past its record');
        answer.data = target.name;
      }
      msg.answers.push(answer);
      pos = rdata + rdlength;
    }
    msg.complete = true;
  } catch {
    // keep the answers read before the cut or the bad record
  }
  return msg;
}

/**
 * The DNS message in a captured payload: over UDP the payload itself, over TCP
 * after the 2-byte length prefix (cut to that length; the capture may hold less).
 */
export function dnsMessageOf(payload: Buffer, protocol: number): DnsMessage | undefined {
  if (protocol !== 6) return parseDnsMessage(payload);
  if (payload.length < 2) return undefined;
  const len = payload.readUInt16BE(0);
  return parseDnsMessage(payload.subarray(2, 2 + len));
}
