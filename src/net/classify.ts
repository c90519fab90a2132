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
import { formatV4 } from './address-text.js';

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

/**
 * An address's class, as bits: the rank (0-2), whether the address is private,
 * a group (multicast, broadcast) or link-local. Worked out once per new session
 * (FlowProcessor keeps its ends' classes), from text or from an IPv4 address's
 * 32-bit value.
 */
export type AddressClass = number;
const RANK_MASK = 3;
const PRIVATE_BIT = 4;
const GROUP_BIT = 8;
const LINK_LOCAL_BIT = 16;

/** Addresses that are not a host one talks to: they get their own talker key instead of their address. */
export type SpecialAddress = 'multicast' | 'link-local';
const LINK_LOCAL_RANGES = ['169.254.0.0/16', 'fe80::/10'];
/** Distinct addresses remembered; a busy gateway sees far fewer per interval. */
const CACHE_LIMIT = 1 << 18;

/** What a class says about the address: its special talker key, if any (AddressClassifier.special). */
export function specialOf(c: AddressClass): SpecialAddress | undefined {
  return c & GROUP_BIT ? 'multicast' : c & LINK_LOCAL_BIT ? 'link-local' : undefined;
}

export class AddressClassifier {
  private readonly local: CidrSet;
  private readonly private: CidrSet;
  private readonly group = new CidrSet(GROUP_RANGES);
  private readonly linkLocal = new CidrSet(LINK_LOCAL_RANGES);
  private host: Set<string>;
  /** The host's IPv4 addresses by 32-bit value, for classOfV4 (only those written as the collector formats them: host is matched by text). */
  private hostV4: Set<number>;
  private readonly cache = new Map<string, number>();

  constructor(config: ClassifierConfig, hostAddresses: Iterable<string>) {
    this.private = new CidrSet([...PRIVATE_RANGES, ...config.privateNetworks], 'privateNetworks');
    this.local = new CidrSet(config.localNetworks, 'localNetworks');
    this.host = new Set(hostAddresses);
    this.hostV4 = v4Values(this.host);
  }

  /** The host's own addresses change (DHCP, PPP): the caller refreshes them. */
  setHostAddresses(addrs: Iterable<string>): void {
    const next = new Set(addrs);
    if (next.size === this.host.size && [...next].every((a) => this.host.has(a))) return;
    this.host = next;
    this.hostV4 = v4Values(next);
    this.cache.clear();
  }

  isHost(addr: string): boolean {
    return this.host.has(addr);
  }

  /** Not the internet: a private range or a configured private network. */
  isPrivate(addr: string): boolean {
    return (this.classOf(addr) & PRIVATE_BIT) !== 0;
  }

  /**
   * "multicast" for group addresses (multicast, broadcast), "link-local" for
   * 169.254/16 and fe80::/10; undefined for an ordinary address. Talker lists
   * count these under the label, never as a remote address or a device.
   */
  special(addr: string): SpecialAddress | undefined {
    return specialOf(this.classOf(addr));
  }

  /** Rank (2: this host, 1: a local network, 0: remote or a group address) and the other bits, cached by text. */
  classOf(addr: string): AddressClass {
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

  /**
   * classOf for an IPv4 address given as its 32-bit value (FlowBatch.srcV4):
   * the same bits, from a few word compares, with no text to parse and nothing
   * to cache.
   */
  classOfV4(word: number): AddressClass {
    const group = this.group.hasV4(word);
    const rank = group ? 0 : this.hostV4.has(word) ? 2 : this.local.hasV4(word) ? 1 : 0;
    return rank | (this.private.hasV4(word) ? PRIVATE_BIT : 0) | (group ? GROUP_BIT : 0)
      | (this.linkLocal.hasV4(word) ? LINK_LOCAL_BIT : 0);
  }

  sides(src: string, dst: string, hook: Direction): Sides {
    return sidesOf(this.classOf(src), this.classOf(dst), hook);
  }
}

/** Which end is local and the scope, from the classes of a flow's source and destination. */
export function sidesOf(cs: AddressClass, cd: AddressClass, hook: Direction): Sides {
  const rs = cs & RANK_MASK;
  const rd = cd & RANK_MASK;
  const srcIsLocal = rs !== rd ? rs > rd : hook === 'egress';
  return { srcIsLocal, scope: ((srcIsLocal ? cd : cs) & PRIVATE_BIT) !== 0 ? 'lan' : 'internet' };
}

/** The IPv4 addresses among these, by 32-bit value, when written exactly as formatted (10.0.0.1, not 010.0.0.1). */
function v4Values(addrs: Iterable<string>): Set<number> {
  const out = new Set<number>();
  for (const text of addrs) {
    const a = addressWords(text);
    if (a?.version !== 4) continue;
    if (formatV4(a.words[3]!) === text) out.add(a.words[3]!);
  }
  return out;
}

/** The default local networks: every private range plus the user's private networks. */
export function defaultLocalNetworks(privateNetworks: string[]): string[] {
  return [...PRIVATE_RANGES.filter((r) => !GROUP_RANGES.includes(r)), ...privateNetworks];
}
