/**
 * Whether this host forwards between interfaces flowlens counts on without
 * gateway roles: then a forwarded packet is counted on both (each interface's
 * own view, as on a host), and the start line says how to set roles.
 */
import { readFileSync } from 'node:fs';

function readProc(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** IPv4 or IPv6 forwarding is on in this network namespace. */
export function forwardingEnabled(): boolean {
  return readProc('/proc/sys/net/ipv4/ip_forward') === '1' || readProc('/proc/sys/net/ipv6/conf/all/forwarding') === '1';
}

/** The interface of the IPv4 default route (/proc/net/route), or undefined. */
export function defaultRouteInterface(): string | undefined {
  for (const line of readProc('/proc/net/route').split('\n').slice(1)) {
    const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (destination === '00000000' && mask === '00000000') return iface;
  }
  return undefined;
}

/**
 * The warning for `interfaces` counted without roles on a forwarding host, or
 * undefined. The suggested roles: wan for the default route's interface (else
 * the first one), lan for the others.
 */
export function forwardingWithoutRolesWarning(interfaces: string[], roles: Record<string, string> | undefined,
  forwarding = forwardingEnabled(), upstream = defaultRouteInterface()): string | undefined {
  if (interfaces.length < 2 || (roles && Object.keys(roles).length) || !forwarding) return undefined;
  const wan = upstream && interfaces.includes(upstream) ? upstream : interfaces[0];
  return `this host forwards packets (net.ipv4.ip_forward or IPv6 forwarding is on) and ${interfaces.join(', ')} have no roles: ` +
    'a packet forwarded between them is counted on each of them. If this is a gateway, give the interfaces roles, ' +
    `e.g. --iface ${interfaces.map((i) => `${i}:${i === wan ? 'wan' : 'lan'}`).join(',')} ` +
    '(or interfaces: [{name: ..., role: wan}] in the settings file); see docs/gateway.md';
}
