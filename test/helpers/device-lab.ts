/**
 * The devices tests' lab: two LAN devices, each in its own namespace and
 * subnet with a MAC of the test's choosing, behind a gateway namespace that
 * routes them to a server on its WAN link. IPv4 addresses, routes and
 * forwarding are set; a test adds what else it needs (IPv6, its peers).
 */
import type { Test } from 'tap';
import { Topology, type Link } from './topology.js';
import { peerCommand } from './traffic.js';

export const DEV1 = '192.168.77.10';
export const DEV2 = '192.168.78.10';
export const SERVER = '198.51.100.2';

export interface DeviceLab {
  topo: Topology;
  dev1: string;
  dev2: string;
  gw: string;
  srv: string;
  /** dev1 ↔ gw, dev2 ↔ gw (the LAN links: .a in the device, .b in the gateway), gw ↔ srv (the WAN link). */
  lan1: Link;
  lan2: Link;
  wan: Link;
}

/** `beforeLinks` runs once the namespaces exist, before any link (a namespace's defaults apply to links made after). */
export function deviceLab(t: Test, tag: string, macs: readonly [string, string], beforeLinks?: (lab: Omit<DeviceLab, 'lan1' | 'lan2' | 'wan'>) => void): DeviceLab {
  const topo = Topology.create(t, tag);
  const nss = { topo, dev1: topo.ns('dev1'), dev2: topo.ns('dev2'), gw: topo.ns('gw'), srv: topo.ns('srv') };
  beforeLinks?.(nss);
  const { dev1, dev2, gw, srv } = nss;
  const lan1 = topo.link(dev1, `${DEV1}/24`, gw, '192.168.77.1/24');
  const lan2 = topo.link(dev2, `${DEV2}/24`, gw, '192.168.78.1/24');
  const wan = topo.link(gw, '198.51.100.1/24', srv, `${SERVER}/24`);
  for (const [ns, dev, mac] of [[dev1, lan1.a, macs[0]], [dev2, lan2.a, macs[1]]] as const) {
    topo.exec(ns, 'ip', ['link', 'set', dev, 'down']);
    topo.exec(ns, 'ip', ['link', 'set', dev, 'address', mac]);
    topo.exec(ns, 'ip', ['link', 'set', dev, 'up']);
  }
  topo.route(dev1, 'default', '192.168.77.1');
  topo.route(dev2, 'default', '192.168.78.1');
  topo.route(srv, '192.168.0.0/16', '198.51.100.1');
  topo.forward(gw);
  return { ...nss, lan1, lan2, wan };
}

/** Sends one Ethernet frame on an interface of a namespace, through a packet socket (AF_PACKET): a DHCP, mDNS or LLMNR message as a device sends it. */
export function sendFrame(topo: Topology, ns: string, iface: string, frame: Buffer): void {
  topo.exec(ns, 'python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((sys.argv[1], 0)); s.send(bytes.fromhex(sys.argv[2]))', iface, frame.toString('hex')]);
}

/** Runs the traffic peer (test/helpers/traffic.ts) as a client in a namespace; it must succeed. */
export async function client(t: Test, topo: Topology, ns: string, args: string[]): Promise<void> {
  const r = await topo.run(ns, ...peerCommand(args));
  t.equal(r.code, 0, `${args.join(' ')}: ${r.stdout.trim()} ${r.stderr.trim()}`);
}
