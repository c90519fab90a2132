/**
 * `flowlens run --demo`: a network namespace joined to this host by a veth pair,
 * a peer process inside it, and varied traffic between the two (TCP bulk, many
 * short TCP flows, UDP, ICMP, IPv4 and IPv6): a LAN peer, and made-up internet
 * sites with names (DNS, TLS SNI) and places (a demo GeoIP/ASN database) in the
 * same namespace (internet.ts). flowlens counts on the host end.
 * Everything is removed on stop; a demo killed with SIGKILL is cleaned up by the
 * next one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sh, trySh } from '../system/exec.js';
import { FlowlensError } from '../errors.js';
import { HTTP_PORT, SINK_PORT, UDP_PORT, type DemoNames } from './peer.js';
import { demoSites, InternetTraffic, siteNames, sitePrefixes, writeDemoGeo, type Site } from './internet.js';
import { abandoned, demoDir, readOwner, writeOwner } from './owner.js';

const NS_PREFIX = 'flowlens-demo-';

/**
 * The alert rule a demo runs with when the settings have none: the burst (a
 * 20 MB download each minute, ~32 Mbit/s over 5 s) crosses it, the rest of the
 * demo's internet download (~2.5 Mbit/s) stays far below.
 */
export const DEMO_RULE = {
  name: 'demo-burst', metric: 'bit/s', window: '5s', subject: { scope: 'internet', direction: 'down' }, above: '20M', severity: 'warning',
};

export interface Demo {
  /** The host end of the veth pair: count on this one. */
  iface: string;
  hostV4: string;
  peerV4: string;
  hostV6: string;
  peerV6: string;
  /** The made-up internet sites in the namespace. */
  sites: Site[];
  /** The demo's GeoIP databases (demo data for the sites' addresses). */
  geo: { country: string; asn: string };
  /** The demo's own directory (its history unless --data-dir says otherwise); removed on stop. */
  dir: string;
  /** Starts generating traffic (after flowlens is attached, so the first flows are seen). */
  startTraffic(): void;
  /** Stops the traffic and the peer, then removes the namespace, the veth and the directory. */
  stop(): Promise<void>;
  /** The same removal, at once and synchronously (a second Ctrl-C, process exit). */
  removeNow(): void;
}

/**
 * Removes demos this host's flowlens made whose process is gone (src/demo/owner.ts):
 * the namespace (deleting the host end of the veth deletes both ends) and the directory.
 */
export function removeStaleDemos(): void {
  const names = new Set(sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(NS_PREFIX)));
  for (const entry of readdirSync(os.tmpdir())) if (entry.startsWith(NS_PREFIX)) names.add(entry);
  for (const ns of names) {
    const owner = readOwner(demoDir(ns));
    if (!owner || owner.netns !== ns || !abandoned(owner)) continue;
    trySh('ip', ['link', 'del', owner.iface]);
    trySh('ip', ['netns', 'del', ns]);
    rmSync(demoDir(ns), { recursive: true, force: true });
  }
}

function startPeer(ns: string, names: DemoNames): Promise<ChildProcess> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = path.join(here, `peer${path.extname(fileURLToPath(import.meta.url))}`);
  const args = script.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args, JSON.stringify(names)], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`demo peer exited with ${code}`)));
    child.stdout!.once('data', () => resolve(child));
  });
}

/** dgram's close() throws "Not running" on a socket already closed (by its timer or by stop()). */
function closeQuietly(u: dgram.Socket): void {
  try { u.close(); } catch { /* closed already */ }
}

/** Generates a mix of traffic towards the peer until stopped. */
class TrafficGenerator {
  private timers: NodeJS.Timeout[] = [];
  private sockets = new Set<net.Socket | dgram.Socket>();
  private pings = new Set<ChildProcess>();
  private tick = 0;

  constructor(private readonly peers: string[]) {}

  start(): void {
    this.round();
    this.timers.push(setInterval(() => this.round(), 1000));
  }

  private track<T extends net.Socket | dgram.Socket>(s: T): T {
    this.sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
    return s;
  }

  private round(): void {
    const t = this.tick++;
    for (const [k, peer] of this.peers.entries()) {
      // a bulk upload every other second, bigger over IPv4
      if (t % 2 === k % 2) {
        const s = this.track(net.connect(SINK_PORT, peer));
        const chunk = Buffer.alloc(64 * 1024, 0x5a);
        let left = k === 0 ? 48 : 12;
        const pump = () => { while (left > 0 && s.write(chunk)) left--; if (left <= 0) s.end(); };
        s.on('connect', pump);
        s.on('drain', () => { left--; pump(); });
      }
      // many short request/response flows
      for (let i = 0; i < (k === 0 ? 12 : 4); i++) {
        const s = this.track(net.connect(HTTP_PORT, peer));
        s.on('connect', () => s.write('GET / HTTP/1.0\r\n\r\n'));
        s.on('data', () => undefined);
        s.on('end', () => s.end());
      }
      // UDP request/response
      const u = this.track(dgram.createSocket(peer.includes(':') ? 'udp6' : 'udp4'));
      u.on('message', () => undefined);
      for (let i = 0; i < 5; i++) u.send(Buffer.alloc(200 + 100 * i, 0x42), UDP_PORT, peer);
      setTimeout(() => closeQuietly(u), 500).unref();
      // ICMP echo
      const p = spawn('ping', [peer.includes(':') ? '-6' : '-4', '-c', '2', '-i', '0.2', '-W', '1', peer], { stdio: 'ignore' });
      this.pings.add(p);
      p.on('exit', () => this.pings.delete(p));
      p.on('error', () => this.pings.delete(p));
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    for (const s of this.sockets) (s instanceof net.Socket ? s.destroy() : closeQuietly(s));
    for (const p of this.pings) p.kill();
  }
}

export async function startDemo(): Promise<Demo> {
  removeStaleDemos();
  const pid = process.pid;
  const ns = `${NS_PREFIX}${pid}`;
  const iface = `fl-demo-${pid}`.slice(0, 15);
  const dir = demoDir(ns);
  const net3 = 1 + (pid % 250);
  const d = {
    iface, dir,
    hostV4: `10.203.${net3}.1`, peerV4: `10.203.${net3}.2`,
    hostV6: `fd00:f10e:${net3.toString(16)}::1`, peerV6: `fd00:f10e:${net3.toString(16)}::2`,
  };
  const sites = demoSites(net3);
  // only what this demo made is removed: a name that exists already (another PID
  // namespace's demo with the same pid) is an error, not something to delete
  const made = { dir: false, netns: false, link: false };
  let removed = false;
  const removeNow = () => {
    if (removed) return;
    removed = true;
    if (made.link) trySh('ip', ['link', 'del', iface]);
    if (made.netns) trySh('ip', ['netns', 'del', ns]);
    if (made.dir) rmSync(dir, { recursive: true, force: true });
  };
  // a demo must never outlive this process's network (an uncaught error exits through here)
  process.once('exit', removeNow);
  let peer: ChildProcess | undefined;
  let geo: Demo['geo'];
  try {
    // the marker first: a demo killed at any later point is found by the next sweep
    mkdirSync(dir, { mode: 0o755 });
    made.dir = true;
    writeOwner(dir, ns, iface);
    const geoDir = path.join(dir, 'geo');
    mkdirSync(geoDir);
    geo = writeDemoGeo(geoDir, sites);
    sh('ip', ['netns', 'add', ns]);
    made.netns = true;
    sh('ip', ['link', 'add', iface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    made.link = true;
    sh('ip', ['addr', 'add', `${d.hostV4}/24`, 'dev', iface]);
    sh('ip', ['-6', 'addr', 'add', `${d.hostV6}/64`, 'dev', iface, 'nodad']);
    sh('ip', ['link', 'set', iface, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${d.peerV4}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, '-6', 'addr', 'add', `${d.peerV6}/64`, 'dev', 'eth0', 'nodad']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // the internet sites: addresses of the namespace, routed there from the host end
    for (const site of sites) sh('ip', ['-n', ns, ...(site.addr.includes(':') ? ['-6'] : []), 'addr', 'add', site.addr, 'dev', 'lo']);
    for (const prefix of sitePrefixes(net3)) sh('ip', [...(prefix.includes(':') ? ['-6'] : []), 'route', 'add', prefix, 'via', prefix.includes(':') ? d.peerV6 : d.peerV4, 'dev', iface]);
    peer = await startPeer(ns, siteNames(sites));
  } catch (e) {
    peer?.kill('SIGKILL');
    removeNow();
    process.off('exit', removeNow);
    const exists = (e as NodeJS.ErrnoException).code === 'EEXIST' || /File exists/.test((e as Error).message);
    throw new FlowlensError('FLOW_ERR_DEMO', `cannot set up the demo network: ${(e as Error).message}`,
      exists ? `another demo uses these names (${ns}, ${iface}, ${dir}); flowlens removes only demos it knows are abandoned`
        : 'the demo needs root and iproute2 (ip netns, veth)');
  }
  // startPeer's "exited before ready" listener goes; the peer may be gone before
  // stop (Ctrl-C in a terminal signals it too), so its exit is awaited from now on
  peer.removeAllListeners('exit');
  const peerGone = new Promise<void>((resolve) => {
    if (peer!.exitCode !== null || peer!.signalCode !== null) resolve();
    else peer!.once('exit', () => resolve());
  });
  const traffic = new TrafficGenerator([d.peerV4, d.peerV6]);
  // the LAN peer is also the namespace's DNS server, as a home router is
  const internet = new InternetTraffic(d.peerV4, sites);
  const stop = async () => {
    traffic.stop();
    internet.stop();
    peer!.stdin!.end();
    // not unref'd: the process must not end before the peer has and the network is removed
    const kill = setTimeout(() => peer!.kill('SIGKILL'), 2000);
    await peerGone;
    clearTimeout(kill);
    removeNow();
    process.off('exit', removeNow);
  };
  return { ...d, sites, geo, startTraffic: () => { traffic.start(); internet.start(); }, stop, removeNow };
}
