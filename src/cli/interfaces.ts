/** `flowlens interfaces`: what can be counted on, whether its driver does XDP, and its gateway role in the settings. */
import { listInterfaces } from '../system/interfaces.js';
import { loadAddon } from '../native/binding.js';
import { table } from './format.js';

export async function interfacesCommand(format: string, roles: Record<string, string> = {}): Promise<number> {
  const addon = loadAddon();
  const rows = listInterfaces().map((i) => {
    let xdp = 'unknown';
    let attached = 0;
    try {
      const s = addon.xdpSupport(i.ifindex);
      xdp = s.native ? 'native, generic' : 'generic';
      attached = s.progId;
    } catch { /* the query needs CAP_NET_ADMIN on some kernels */ }
    return { ...i, xdp, xdpProgramId: attached, role: roles[i.name] ?? null };
  });
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`${table(['NAME', 'INDEX', 'STATE', 'MTU', 'XDP', 'ROLE', 'ADDRESSES'],
    rows.map((r) => [r.name, String(r.ifindex), r.state, String(r.mtu), r.xdp + (r.xdpProgramId ? ` (program ${r.xdpProgramId} attached)` : ''), r.role ?? '-', r.addresses.join(' ')]), [1, 3])}\n`);
  return 0;
}
