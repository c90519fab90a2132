/**
 * Traffic filters from the configuration: `ignore` rules drop matching flows,
 * and when `keep` rules exist only flows matching one of them are kept. A rule
 * matches when each field it names matches: `cidr` either end's address, `port`
 * either end's port, `protocol` the IP protocol, `domain` the remote end's name
 * (the name or a subdomain of it: "example.com" matches "cdn.example.com"), as
 * known when the conversation's first flow is seen (a DNS answer before it, or
 * the TLS server name of its ClientHello); a flow whose remote has no name yet
 * matches no domain rule. Filtered traffic leaves the
 * sessions, talkers and history; it is still counted in the interface totals
 * and in FlowsStatus.filtered, so it never disappears unseen.
 */
import { CidrSet } from '../net/cidr.js';
import { protocolNumber } from '../net/protocols.js';
import { FlowlensError } from '../errors.js';

export interface FilterRule {
  cidr?: string[];
  port?: number[];
  protocol?: string[];
  /** Names (lower case, no trailing dot): each matches itself and its subdomains. */
  domain?: string[];
}

export interface FilterConfig {
  ignore: FilterRule[];
  keep: FilterRule[];
}

interface CompiledRule {
  cidr?: CidrSet;
  port?: Set<number>;
  protocol?: Set<number>;
  domain?: string[];
}

function compile(rule: FilterRule, where: string): CompiledRule {
  const out: CompiledRule = {};
  if (rule.cidr?.length) out.cidr = new CidrSet(rule.cidr, `${where}.cidr`);
  if (rule.port?.length) {
    for (const p of rule.port) {
      if (!Number.isInteger(p) || p < 0 || p > 65535) throw new FlowlensError('FLOW_ERR_USAGE', `${where}.port: ${p} is not a port (0-65535)`);
    }
    out.port = new Set(rule.port);
  }
  if (rule.protocol?.length) {
    out.protocol = new Set(rule.protocol.map((name) => {
      const n = protocolNumber(String(name));
      if (n === undefined) throw new FlowlensError('FLOW_ERR_USAGE', `${where}.protocol: unknown protocol "${name}"`, 'use a name like tcp, udp, icmp, icmpv6, gre or a number 0-255');
      return n;
    }));
  }
  if (rule.domain?.length) out.domain = rule.domain.map((d) => d.toLowerCase().replace(/\.$/, ''));
  if (!out.cidr && !out.port && !out.protocol && !out.domain) throw new FlowlensError('FLOW_ERR_USAGE', `${where}: a rule needs at least one of cidr, port, protocol, domain`);
  return out;
}

/** "cdn.example.com" is within "example.com"; "badexample.com" is not. */
export function domainWithin(name: string, suffix: string): boolean {
  return name === suffix || (name.length > suffix.length && name.endsWith(suffix) && name[name.length - suffix.length - 1] === '.');
}

function matches(r: CompiledRule, protocol: number, src: string, dst: string, srcPort: number, dstPort: number, domain: () => string | undefined): boolean {
  if (r.protocol && !r.protocol.has(protocol)) return false;
  if (r.port && !r.port.has(srcPort) && !r.port.has(dstPort)) return false;
  if (r.cidr && !r.cidr.has(src) && !r.cidr.has(dst)) return false;
  if (r.domain) {
    const name = domain()?.toLowerCase();
    if (!name || !r.domain.some((d) => domainWithin(name, d))) return false;
  }
  return true;
}

const noName = () => undefined;

export class TrafficFilter {
  private readonly ignore: CompiledRule[];
  private readonly keep: CompiledRule[];

  constructor(config: FilterConfig) {
    this.ignore = config.ignore.map((r, i) => compile(r, `filters.ignore[${i}]`));
    this.keep = config.keep.map((r, i) => compile(r, `filters.keep[${i}]`));
  }

  get empty(): boolean {
    return this.ignore.length === 0 && this.keep.length === 0;
  }

  /** Some rule names domains: the caller must say the remote's name (accepts' `domain`). */
  get needsDomain(): boolean {
    return [...this.ignore, ...this.keep].some((r) => r.domain);
  }

  /**
   * True when the flow counts. Ports of ICMP flows (type/code) are not ports:
   * pass 0. `domain` gives the remote end's name, asked only when a rule needs it.
   */
  accepts(protocol: number, src: string, dst: string, srcPort: number, dstPort: number, domain: () => string | undefined = noName): boolean {
    if (this.keep.length && !this.keep.some((r) => matches(r, protocol, src, dst, srcPort, dstPort, domain))) return false;
    return !this.ignore.some((r) => matches(r, protocol, src, dst, srcPort, dstPort, domain));
  }
}
