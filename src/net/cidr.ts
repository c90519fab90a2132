/**
 * CIDR sets for classifying addresses (local networks, private ranges, filters):
 * a short list of prefixes matched word by word; callers that ask about the same
 * address often (the classifier) cache the answers.
 */
import net from 'node:net';
import { FlowlensError } from '../errors.js';

export interface Cidr {
  /** As written in the configuration, normalised (e.g. "10.0.0.0/8", "fd00::/8"). */
  text: string;
  address: string;
  prefix: number;
  version: 4 | 6;
}

/** Parses "10.0.0.0/8", "fd00::/8" or a bare address (a /32 or /128). */
export function parseCidr(text: string, where = 'CIDR'): Cidr {
  const [address = '', prefixText, extra] = text.trim().split('/');
  const version = net.isIPv4(address) ? 4 : net.isIPv6(address) ? 6 : 0;
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (version === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
    throw new FlowlensError('FLOW_ERR_USAGE', `${where}: "${text}" is not an address or CIDR prefix`,
      'write it like 192.168.1.0/24, 2001:db8::/32 or 10.0.0.1');
  }
  return { text: `${address}/${prefix}`, address, prefix, version: version as 4 | 6 };
}

/**
 * An address as four 32-bit words (IPv4: one word, in words[3], with version 4),
 * or undefined when the text is not an address. Hand-written because it runs for
 * every address of every interval: node:net's BlockList builds an object per check.
 */
export function addressWords(text: string): { version: 4 | 6; words: Uint32Array } | undefined {
  if (!text.includes(':')) {
    let word = 0, part = 0, digits = 0, dots = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 46) {
        if (digits === 0 || ++dots > 3) return undefined;
        word = (word * 256) + part; part = 0; digits = 0;
      } else if (c >= 48 && c <= 57) {
        part = part * 10 + (c - 48);
        if (++digits > 3 || part > 255) return undefined;
      } else return undefined;
    }
    if (dots !== 3 || digits === 0) return undefined;
    const words = new Uint32Array(4);
    words[3] = word * 256 + part;
    return { version: 4, words };
  }
  if (!net.isIPv6(text)) return undefined;
  const zone = text.indexOf('%');
  let t = zone >= 0 ? text.slice(0, zone) : text;
  const groups: number[] = [];
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  let tail: number[] = [];
  if (v4) {
    tail = [(Number(v4[1]) << 8) | Number(v4[2]), (Number(v4[3]) << 8) | Number(v4[4])];
    t = t.slice(0, v4.index).replace(/:$/, t.slice(0, v4.index).endsWith('::') ? ':' : '');
  }
  const [head = '', rest] = t.split('::');
  const parse = (x: string) => (x ? x.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head);
  const r = rest !== undefined ? parse(rest) : [];
  const fill = 8 - h.length - r.length - tail.length;
  groups.push(...h, ...Array(rest !== undefined ? fill : 0).fill(0), ...r, ...tail);
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) words[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return { version: 6, words };
}

interface Prefix {
  version: 4 | 6;
  words: Uint32Array;
  masks: Uint32Array;
}

function prefixOf(c: Cidr): Prefix {
  const { words } = addressWords(c.address)!;
  const masks = new Uint32Array(4);
  // IPv4 lives in the last word only
  const first = c.version === 4 ? 3 : 0;
  let bits = c.prefix;
  for (let i = first; i < 4; i++) {
    const take = Math.min(32, Math.max(0, bits));
    masks[i] = take === 0 ? 0 : (0xffffffff << (32 - take)) >>> 0;
    bits -= take;
  }
  for (let i = 0; i < 4; i++) words[i] = (words[i]! & masks[i]!) >>> 0;
  return { version: c.version, words, masks };
}

export class CidrSet {
  private readonly prefixes: Prefix[];
  /** The IPv4 prefixes again as plain numbers (network, mask): hasV4 compares one word per prefix. */
  private readonly v4: number[] = [];
  readonly cidrs: Cidr[];

  constructor(cidrs: Iterable<string | Cidr>, where = 'CIDR') {
    this.cidrs = [...cidrs].map((c) => (typeof c === 'string' ? parseCidr(c, where) : c));
    this.prefixes = this.cidrs.map(prefixOf);
    for (const p of this.prefixes) if (p.version === 4) this.v4.push(p.words[3]!, p.masks[3]!);
  }

  get size(): number {
    return this.cidrs.length;
  }

  /** True when addr (a formatted IPv4 or IPv6 address) lies in one of the prefixes. */
  has(addr: string): boolean {
    const a = addressWords(addr);
    return a !== undefined && this.hasWords(a.version, a.words);
  }

  /** True when the IPv4 address with this 32-bit value (first byte highest) lies in one of the prefixes. */
  hasV4(word: number): boolean {
    const v4 = this.v4;
    for (let i = 0; i < v4.length; i += 2) if (((word & v4[i + 1]!) >>> 0) === v4[i]) return true;
    return false;
  }

  hasWords(version: 4 | 6, words: Uint32Array): boolean {
    for (const p of this.prefixes) {
      if (p.version !== version) continue;
      if (((words[0]! & p.masks[0]!) >>> 0) === p.words[0] && ((words[1]! & p.masks[1]!) >>> 0) === p.words[1] &&
        ((words[2]! & p.masks[2]!) >>> 0) === p.words[2] && ((words[3]! & p.masks[3]!) >>> 0) === p.words[3]) return true;
    }
    return false;
  }
}

/**
 * Addresses that are never "the internet" (DESIGN.md): RFC 1918, CGNAT, loopback,
 * link-local, "this network", broadcast, multicast, IPv6 ULA, link-local,
 * multicast and loopback.
 */
export const PRIVATE_RANGES: readonly string[] = [
  '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8',
  '169.254.0.0/16', '0.0.0.0/8', '255.255.255.255/32', '224.0.0.0/4',
  'fc00::/7', 'fe80::/10', 'ff00::/8', '::1/128',
];

/** Multicast and broadcast destinations: never the local end of a session. */
export const GROUP_RANGES: readonly string[] = ['224.0.0.0/4', '255.255.255.255/32', 'ff00::/8'];
