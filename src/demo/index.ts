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
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sh, trySh } from '../system/exec.js';
import { FlowlensError } from '../errors.js';
import { HTTP_PORT, SINK_PORT, UDP_PORT, type DemoNames } from './peer.js';
import { demoSites, InternetTraffic, siteNames, sitePrefixes, writeDemoGeo, type Site } from './internet.js';

const NS_PREFIX = 'flowlens-demo-';

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
  /** Starts generating traffic (after flowlens is attached, so the first flows are seen). */
  startTraffic(): void;
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces of demos whose process is gone (deleting a namespace removes its veth). */
export function removeStaleDemos(): void {
  const names = sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(NS_PREFIX));
  for (const ns of names) {
    const pid = Number(ns.slice(NS_PREFIX.length));
    if (!alive(pid)) trySh('ip', ['netns', 'del', ns]);
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
      // stop() may have closed it already: closing twice throws "Not running"
      setTimeout(() => { if (this.sockets.has(u)) u.close(); }, 500).unref();
      // ICMP echo
      const p = spawn('ping', [peer.includes(':') ? '-6' : '-4', '-c', '2', '-i', '0.2', '-W', '1', peer], { stdio: 'ignore' });
      this.pings.add(p);
      p.on('exit', () => this.pings.delete(p));
      p.on('error', () => this.pings.delete(p));
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    for (const s of this.sockets) (s instanceof net.Socket ? s.destroy() : s.close());
    this.sockets.clear();
    for (const p of this.pings) p.kill();
  }
}

export async function startDemo(): Promise<Demo> {
  removeStaleDemos();
  const pid = process.pid;
  const ns = `${NS_PREFIX}${pid}`;
  const iface = `fl-demo-${pid}`.slice(0, 15);
  const net3 = 1 + (pid % 250);
  const d = {
    iface,
    hostV4: `10.203.${net3}.1`, peerV4: `10.203.${net3}.2`,
    hostV6: `fd00:f10e:${net3.toString(16)}::1`, peerV6: `fd00:f10e:${net3.toString(16)}::2`,
  };
  const sites = demoSites(net3);
  const geoDir = mkdtempSync(path.join(os.tmpdir(), `flowlens-demo-geo-${pid}-`));
  const cleanup = () => { trySh('ip', ['link', 'del', iface]); trySh('ip', ['netns', 'del', ns]); rmSync(geoDir, { recursive: true, force: true }); };
  let peer: ChildProcess | undefined;
  let geo: Demo['geo'];
  try {
    geo = writeDemoGeo(geoDir, sites);
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', iface, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
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
    peer?.kill();
    cleanup();
    throw new FlowlensError('FLOW_ERR_DEMO', `cannot set up the demo network: ${(e as Error).message}`,
      'the demo needs root and iproute2 (ip netns, veth)');
  }
  const traffic = new TrafficGenerator([d.peerV4, d.peerV6]);
  // the LAN peer is also the namespace's DNS server, as a home router is
  const internet = new InternetTraffic(d.peerV4, sites);
  const stop = async () => {
    traffic.stop();
    internet.stop();
    peer!.removeAllListeners('exit');
    peer!.stdin!.end();
    await new Promise((r) => { if (peer!.exitCode !== null) r(undefined); else { peer!.once('exit', r); setTimeout(() => { peer!.kill('SIGKILL'); r(undefined); }, 2000).unref(); } });
    cleanup();
  };
  peer.removeAllListeners('exit');
  // a demo must never outlive this process's network
  process.once('exit', cleanup);
  return { ...d, sites, geo, startTraffic: () => { traffic.start(); internet.start(); }, stop: async () => { process.off('exit', cleanup); await stop(); } };
}
