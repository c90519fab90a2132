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
import { CidrSet, GROUP_RANGES, PRIVATE_RANGES } from './cidr.js';
import type { Direction } from '../collector/decode.js';

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

export class AddressClassifier {
  private readonly local: CidrSet;
  private readonly private: CidrSet;
  private readonly group = new CidrSet(GROUP_RANGES);
  private host: Set<string>;

  constructor(config: ClassifierConfig, hostAddresses: Iterable<string>) {
    this.private = new CidrSet([...PRIVATE_RANGES, ...config.privateNetworks], 'privateNetworks');
    this.local = new CidrSet(config.localNetworks, 'localNetworks');
    this.host = new Set(hostAddresses);
  }

  /** The host's own addresses change (DHCP, PPP): the caller refreshes them. */
  setHostAddresses(addrs: Iterable<string>): void {
    this.host = new Set(addrs);
  }

  isHost(addr: string): boolean {
    return this.host.has(addr);
  }

  /** Not the internet: a private range or a configured private network. */
  isPrivate(addr: string): boolean {
    return this.private.has(addr);
  }

  /** 2: this host, 1: a local network, 0: remote or a group address. */
  private rank(addr: string): number {
    if (this.group.has(addr)) return 0;
    if (this.host.has(addr)) return 2;
    return this.local.has(addr) ? 1 : 0;
  }

  sides(src: string, dst: string, hook: Direction): Sides {
    const rs = this.rank(src);
    const rd = this.rank(dst);
    const srcIsLocal = rs !== rd ? rs > rd : hook === 'egress';
    const remote = srcIsLocal ? dst : src;
    return { srcIsLocal, scope: this.private.has(remote) ? 'lan' : 'internet' };
  }
}

/** The default local networks: every private range plus the user's private networks. */
export function defaultLocalNetworks(privateNetworks: string[]): string[] {
  return [...PRIVATE_RANGES.filter((r) => !GROUP_RANGES.includes(r)), ...privateNetworks];
}
