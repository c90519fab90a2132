/**
 * CIDR sets for classifying addresses (local networks, private ranges, filters).
 * Built on node:net's BlockList, which matches IPv4 and IPv6 prefixes natively;
 * answers are cached per address because the same few thousand addresses are
 * asked about every interval.
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

const CACHE_LIMIT = 65536;

export class CidrSet {
  private readonly list = new net.BlockList();
  private readonly cache = new Map<string, boolean>();
  readonly cidrs: Cidr[];

  constructor(cidrs: Iterable<string | Cidr>, where = 'CIDR') {
    this.cidrs = [...cidrs].map((c) => (typeof c === 'string' ? parseCidr(c, where) : c));
    for (const c of this.cidrs) this.list.addSubnet(c.address, c.prefix, c.version === 4 ? 'ipv4' : 'ipv6');
  }

  get size(): number {
    return this.cidrs.length;
  }

  /** True when addr (a formatted IPv4 or IPv6 address) lies in one of the prefixes. */
  has(addr: string): boolean {
    let hit = this.cache.get(addr);
    if (hit === undefined) {
      const v = net.isIPv4(addr) ? 'ipv4' : net.isIPv6(addr) ? 'ipv6' : undefined;
      hit = v !== undefined && this.list.check(addr, v);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(addr, hit);
    }
    return hit;
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
