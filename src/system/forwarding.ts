/**
 * Whether this host forwards between interfaces flowlens counts on without
 * gateway roles: then a forwarded packet is counted on both (each interface's
 * own view, as on a host), and the start line says how to set roles.
 */
import { readFileSync } from 'node:fs';

function sysctl(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** IPv4 or IPv6 forwarding is on in this network namespace. */
export function forwardingEnabled(): boolean {
  return sysctl('/proc/sys/net/ipv4/ip_forward') === '1' || sysctl('/proc/sys/net/ipv6/conf/all/forwarding') === '1';
}

/** The warning for `interfaces` counted without roles on a forwarding host, or undefined. */
export function forwardingWithoutRolesWarning(interfaces: string[], roles: Record<string, string> | undefined,
  forwarding = forwardingEnabled()): string | undefined {
  if (interfaces.length < 2 || (roles && Object.keys(roles).length) || !forwarding) return undefined;
  return `this host forwards packets (net.ipv4.ip_forward or IPv6 forwarding is on) and ${interfaces.join(', ')} have no roles: ` +
    'a packet forwarded between them is counted on each of them. If this is a gateway, give the interfaces roles, ' +
    `e.g. --iface ${interfaces[0]}:wan,${interfaces.slice(1).map((i) => `${i}:lan`).join(',')} ` +
    '(or interfaces: [{name: ..., role: wan}] in the settings file); see docs/gateway.md';
}
