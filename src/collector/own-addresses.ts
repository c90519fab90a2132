/**
 * The gateway's own addresses as the BPF program's own_addrs map takes them
 * (struct own_addr), so that a WAN ingress tells the gateway's own traffic
 * from routed traffic (bpf/gateway.bpf.h). Read from the kernel's address list
 * of this network namespace (os.networkInterfaces: no process spawned), so it
 * can be refreshed every interval and follows DHCP renewals and new addresses.
 */
import os from 'node:os';
import { addressWords } from '../net/cidr.js';
import { OwnAddr } from './layout.gen.js';

/** Entries the map holds (FLOW_OWN_ADDRS_MAX in bpf/flow.h). */
export const MAX_OWN_ADDRESSES = 256;

/** Every address of every interface here, sorted and deduplicated (the list's identity is its text). */
export function ownAddresses(): string[] {
  const set = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      const text = a.address.replace(/%.*$/, '');
      if (addressWords(text)) set.add(text);
    }
  }
  return [...set].sort().slice(0, MAX_OWN_ADDRESSES);
}

/** The addresses packed as own_addr structs. */
export function ownAddressKeys(addresses: string[]): Buffer {
  const out = Buffer.alloc(addresses.length * OwnAddr.size);
  addresses.forEach((text, i) => {
    const a = addressWords(text);
    if (!a) return;
    const at = i * OwnAddr.size;
    out[at + OwnAddr.ipVersion] = a.version;
    if (a.version === 4) out.writeUInt32BE(a.words[3]!, at + OwnAddr.addr);
    else for (let w = 0; w < 4; w++) out.writeUInt32BE(a.words[w]!, at + OwnAddr.addr + 4 * w);
  });
  return out;
}
