/**
 * Which end of a flow is local, and whether the remote end is the internet
 * (DESIGN.md, "Semantics that must be exact").
 *
 * Local means an address of this host or of a configured local network. When
 * both ends (or neither) qualify, the better candidate wins: an address of this
 * host over a local-network address over anything else; a multicast or
 * broadcast address is never local. A tie goes by the hook that saw the packet:
 * what leaves (egress) comes from the local end, what arrives goes to it. On a
 * gateway that forwards between two LANs this makes the server side local for
 * both directions of a conversation, so both land in one session.
 */

/** The hook a packet was counted at: ingress (received) or egress (sent). */
export type Direction = 'ingress' | 'egress';
import { CidrSet, GROUP_RANGES, PRIVATE_RANGES, addressWords } from './cidr.js';

export type Scope = 'internet' | 'lan';

export interface ClassifierConfig {
  /** Networks whose addresses are local (default: the private ranges and privateNetworks). */
  localNetworks: string[];
  /** Extra prefixes that are not the internet (e.g. an ISP's IPv6 prefix), added to PRIVATE_RANGES. */
  privateNetworks: string[];
}

export interface Sides {
  /** True when the flow's source is the local end (the flow goes up). */
  srcIsLocal: boolean;
  scope: Scope;
}

/** Bits of a cached classification: the rank (0-2), whether the address is private, a group (multicast, broadcast) or link-local. */
const RANK_MASK = 3;
const PRIVATE_BIT = 4;
const GROUP_BIT = 8;
const LINK_LOCAL_BIT = 16;

/** Addresses that are not a host one talks to: they get their own talker key instead of their address. */
export type SpecialAddress = 'multicast' | 'link-local';
const LINK_LOCAL_RANGES = ['169.254.0.0/16', 'fe80::/10'];
/** Distinct addresses remembered; a busy gateway sees far fewer per interval. */
const CACHE_LIMIT = 1 << 18;

export class AddressClassifier {
  private readonly local: CidrSet;
  private readonly private: CidrSet;
  private readonly group = new CidrSet(GROUP_RANGES);
  private readonly linkLocal = new CidrSet(LINK_LOCAL_RANGES);
  private host: Set<string>;
  private readonly cache = new Map<string, number>();

  constructor(config: ClassifierConfig, hostAddresses: Iterable<string>) {
    this.private = new CidrSet([...PRIVATE_RANGES, ...config.privateNetworks], 'privateNetworks');
    this.local = new CidrSet(config.localNetworks, 'localNetworks');
    this.host = new Set(hostAddresses);
  }

  /** The host's own addresses change (DHCP, PPP): the caller refreshes them. */
  setHostAddresses(addrs: Iterable<string>): void {
    const next = new Set(addrs);
    if (next.size === this.host.size && [...next].every((a) => this.host.has(a))) return;
    this.host = next;
    this.cache.clear();
  }

  isHost(addr: string): boolean {
    return this.host.has(addr);
  }

  /** Not the internet: a private range or a configured private network. */
  isPrivate(addr: string): boolean {
    return (this.classify(addr) & PRIVATE_BIT) !== 0;
  }

  /**
   * "multicast" for group addresses (multicast, broadcast), "link-local" for
   * 169.254/16 and fe80::/10; undefined for an ordinary address. Talker lists
   * count these under the label, never as a remote address or a device.
   */
  special(addr: string): SpecialAddress | undefined {
    const c = this.classify(addr);
    return c & GROUP_BIT ? 'multicast' : c & LINK_LOCAL_BIT ? 'link-local' : undefined;
  }

  /** Rank (2: this host, 1: a local network, 0: remote or a group address) and the private bit, cached. */
  private classify(addr: string): number {
    let c = this.cache.get(addr);
    if (c === undefined) {
      const a = addressWords(addr);
      if (!a) c = 0;
      else {
        const group = this.group.hasWords(a.version, a.words);
        const rank = group ? 0 : this.host.has(addr) ? 2 : this.local.hasWords(a.version, a.words) ? 1 : 0;
        c = rank | (this.private.hasWords(a.version, a.words) ? PRIVATE_BIT : 0) | (group ? GROUP_BIT : 0)
          | (this.linkLocal.hasWords(a.version, a.words) ? LINK_LOCAL_BIT : 0);
      }
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(addr, c);
    }
    return c;
  }

  sides(src: string, dst: string, hook: Direction): Sides {
    const cs = this.classify(src);
    const cd = this.classify(dst);
    const rs = cs & RANK_MASK;
    const rd = cd & RANK_MASK;
    const srcIsLocal = rs !== rd ? rs > rd : hook === 'egress';
    return { srcIsLocal, scope: ((srcIsLocal ? cd : cs) & PRIVATE_BIT) !== 0 ? 'lan' : 'internet' };
  }
}

/** The default local networks: every private range plus the user's private networks. */
export function defaultLocalNetworks(privateNetworks: string[]): string[] {
  return [...PRIVATE_RANGES.filter((r) => !GROUP_RANGES.includes(r)), ...privateNetworks];
}
