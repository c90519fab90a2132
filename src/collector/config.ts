/** The collector's configuration, validated before anything touches the kernel. */
import { FlowlensError } from '../errors.js';

export type Hook = 'xdp' | 'tc';
export type XdpMode = 'auto' | 'native' | 'generic';

/** A gateway interface's role (docs/gateway.md); an interface without one is a host's own. */
export const INTERFACE_ROLES = ['wan', 'lan'] as const;
export type InterfaceRole = (typeof INTERFACE_ROLES)[number];

/** One entry of the interfaces setting. */
export interface InterfaceSetting {
  name: string;
  role?: InterfaceRole;
}

/** Interfaces that can have a role (FLOW_ROLE_SLOTS in bpf/flow.h). */
export const MAX_ROLE_INTERFACES = 16;

export interface CollectorConfig {
  /** Interface names to count on. */
  interfaces: string[];
  /**
   * Gateway roles by interface name (none: a host's own interface). With any
   * role set, a forwarded packet is counted on its LAN interface only.
   */
  roles?: Record<string, InterfaceRole>;
  /** Ingress hook: XDP (default) or TC; egress is always TC. */
  hook: Hook;
  xdpMode: XdpMode;
  /** Flow table entries per table; a full table sends packets to the overflow counters. */
  mapEntries: number;
  /** Milliseconds between drains. */
  intervalMs: number;
  /**
   * Bytes of the ring buffer that carries DNS answers and TLS ClientHellos to
   * user space: a power of two from 4096 to 1 GiB, or 0 for none. Default
   * DEFAULT_CAPTURE_RING_BYTES (1 MiB, ~1800 captures per interval).
   */
  captureRingBytes?: number;
  /**
   * Bytes of the ring buffer that carries packet captures (flowlens capture,
   * the capture API): a power of two from MIN_PACKET_RING_BYTES to 1 GiB, or 0
   * for none (the verifier drops the code). Default DEFAULT_PACKET_RING_BYTES.
   */
  packetRingBytes?: number;
}

export const DEFAULT_CAPTURE_RING_BYTES = 1 << 20;
/** 4 MiB: ~40 ms of a saturated 1 Gbit/s link, read every 10 ms while a capture runs. */
export const DEFAULT_PACKET_RING_BYTES = 4 << 20;
/** Two of the largest records (a 64 KiB frame and its header), rounded up to a power of two. */
export const MIN_PACKET_RING_BYTES = 256 << 10;

/** The interfaces setting as the collector takes it: names, and roles by name. */
export function interfacesFrom(list: InterfaceSetting[]): Pick<CollectorConfig, 'interfaces' | 'roles'> {
  const roles = Object.fromEntries(list.filter((i) => i.role).map((i) => [i.name, i.role!]));
  return { interfaces: list.map((i) => i.name), ...(Object.keys(roles).length ? { roles } : {}) };
}

export function defaultConfig(): CollectorConfig {
  return { interfaces: [], hook: 'xdp', xdpMode: 'auto', mapEntries: 65536, intervalMs: 1000 };
}

const MIN_INTERVAL_MS = 100;
const MAX_MAP_ENTRIES = 1 << 24;
/** The page size on every architecture flowlens builds for (x86-64, arm64 with 4K pages). */
const MIN_CAPTURE_RING_BYTES = 4096;
const MAX_CAPTURE_RING_BYTES = 1 << 30;

export function validateConfig(c: CollectorConfig): CollectorConfig {
  const bad = (what: string, hint?: string) => { throw new FlowlensError('FLOW_ERR_USAGE', what, hint); };
  if (c.interfaces.length === 0) bad('no interface given', 'name one or more with --iface eth0[,eth1], or try --demo');
  if (new Set(c.interfaces).size !== c.interfaces.length) bad(`an interface is named twice: ${c.interfaces.join(',')}`);
  const roles = Object.entries(c.roles ?? {});
  for (const [name] of roles) if (!c.interfaces.includes(name)) bad(`${name} has a role but is not among the interfaces counted on`);
  if (roles.length > MAX_ROLE_INTERFACES) bad(`at most ${MAX_ROLE_INTERFACES} interfaces can have a role, not ${roles.length}`);
  if (roles.some(([, r]) => r === 'wan') && !roles.some(([, r]) => r === 'lan')) {
    bad(`${roles.filter(([, r]) => r === 'wan').map(([n]) => n).join(', ')} has the role wan, but no interface has the role lan`,
      'forwarded traffic is counted on the LAN side: give the interface towards the devices the role lan (--iface wan0:wan,lan0:lan)');
  }
  if (c.hook !== 'xdp' && c.hook !== 'tc') bad(`--hook must be xdp or tc, not "${c.hook}"`);
  if (!['auto', 'native', 'generic'].includes(c.xdpMode)) bad(`--xdp-mode must be auto, native or generic, not "${c.xdpMode}"`);
  if (!Number.isInteger(c.mapEntries) || c.mapEntries < 1 || c.mapEntries > MAX_MAP_ENTRIES) {
    bad(`--map-size must be an integer from 1 to ${MAX_MAP_ENTRIES}, not "${c.mapEntries}"`);
  }
  const ring = c.captureRingBytes;
  if (ring !== undefined && ring !== 0 &&
    (!Number.isInteger(ring) || ring < MIN_CAPTURE_RING_BYTES || ring > MAX_CAPTURE_RING_BYTES || (ring & (ring - 1)) !== 0)) {
    bad(`the capture ring size must be 0 or a power of two from ${MIN_CAPTURE_RING_BYTES} to ${MAX_CAPTURE_RING_BYTES} bytes, not "${ring}"`,
      `for example ${DEFAULT_CAPTURE_RING_BYTES} (1 MiB)`);
  }
  const pring = c.packetRingBytes;
  if (pring !== undefined && pring !== 0 &&
    (!Number.isInteger(pring) || pring < MIN_PACKET_RING_BYTES || pring > MAX_CAPTURE_RING_BYTES || (pring & (pring - 1)) !== 0)) {
    bad(`the packet capture ring size must be 0 or a power of two from ${MIN_PACKET_RING_BYTES} to ${MAX_CAPTURE_RING_BYTES} bytes, not "${pring}"`,
      `for example ${DEFAULT_PACKET_RING_BYTES} (4 MiB)`);
  }
  if (!Number.isFinite(c.intervalMs) || c.intervalMs < MIN_INTERVAL_MS) {
    bad(`--interval must be at least ${MIN_INTERVAL_MS}ms`);
  }
  return c;
}

/** Parses "1s", "500ms", "2.5s", "1m" or a bare number of seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new FlowlensError('FLOW_ERR_USAGE', `${flag} must be a duration like 1s, 500ms or 2m, not "${text}"`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60000 : n * 1000;
}
