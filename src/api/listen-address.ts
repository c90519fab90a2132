/**
 * Whether the APIs may listen without tokens. The configuration refuses any
 * address but loopback without a tokens file; a name (localhost) is decided on
 * what it resolves to, since the servers bind every address the name has: a
 * hosts file that maps localhost to a LAN address must not open the APIs to the
 * LAN. The resolver is injectable so tests need not edit /etc/hosts.
 */
import dns from 'node:dns';
import net from 'node:net';
import { FlowlensError } from '../errors.js';

/** Every address a name resolves to (as the servers' own bind would see it). */
export type LookupAll = (host: string) => Promise<string[]>;

export const systemLookup: LookupAll = async (host) => (await dns.promises.lookup(host, { all: true })).map((a) => a.address);

/** 127.0.0.0/8, ::1 and IPv4-mapped 127/8: addresses only, never names. */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.replace(/^::ffff:/i, '');
  return (net.isIPv4(v4) && v4.startsWith('127.')) || (net.isIPv6(address) && /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(address));
}

/**
 * Refuses to listen on a name that resolves to any address beyond loopback
 * when no tokens are required (IP literals were checked with the configuration).
 */
export async function checkListenAddress(listen: string, tokensRequired: boolean, lookup: LookupAll = systemLookup): Promise<void> {
  if (tokensRequired || net.isIP(listen)) return;
  let addresses: string[];
  try {
    addresses = await lookup(listen);
  } catch (e) {
    throw new FlowlensError('FLOW_ERR_USAGE', `cannot resolve the listen address ${listen}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      'listen on an address (--listen 127.0.0.1)');
  }
  const open = addresses.filter((a) => !isLoopbackAddress(a));
  if (!addresses.length || open.length) {
    throw new FlowlensError('FLOW_ERR_USAGE', `refusing to serve the APIs on ${listen} without access tokens: it resolves to ${open.join(', ') || 'no address'}, not only loopback`,
      'listen on 127.0.0.1 (--listen 127.0.0.1), or give a tokens file (--tokens-file)');
  }
}
