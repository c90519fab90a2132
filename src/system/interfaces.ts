/**
 * The host's network interfaces, read from /sys/class/net and the kernel's own
 * address list, without spawning anything.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { FlowlensError } from '../errors.js';

export interface NetInterface {
  name: string;
  ifindex: number;
  /** operstate: up, down, unknown, lowerlayerdown, ... */
  state: string;
  mtu: number;
  mac: string;
  addresses: string[];
}

function readSys(name: string, file: string): string {
  try {
    return readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim();
  } catch {
    return '';
  }
}

export function listInterfaces(): NetInterface[] {
  const addrs = os.networkInterfaces();
  return readdirSync('/sys/class/net')
    .map((name) => ({
      name,
      ifindex: Number(readSys(name, 'ifindex')),
      state: readSys(name, 'operstate') || 'unknown',
      mtu: Number(readSys(name, 'mtu')),
      mac: readSys(name, 'address'),
      addresses: (addrs[name] ?? []).map((a) => a.cidr ?? a.address),
    }))
    .filter((i) => i.ifindex > 0)
    .sort((a, b) => a.ifindex - b.ifindex);
}

/** Resolves names to interfaces; an unknown name is an error that lists the real ones. */
export function resolveInterfaces(names: string[]): NetInterface[] {
  const all = listInterfaces();
  return names.map((name) => {
    const found = all.find((i) => i.name === name);
    if (!found) {
      throw new FlowlensError('FLOW_ERR_UNKNOWN_INTERFACE', `no interface named "${name}"`,
        `interfaces on this host: ${all.map((i) => i.name).join(', ')}`);
    }
    return found;
  });
}

/** ifindex → name, refreshed on a miss (interfaces come and go). */
export class InterfaceNames {
  private names = new Map<number, string>();

  name(ifindex: number): string {
    let n = this.names.get(ifindex);
    if (n === undefined) {
      for (const i of listInterfaces()) this.names.set(i.ifindex, i.name);
      n = this.names.get(ifindex) ?? `#${ifindex}`;
    }
    return n;
  }
}
