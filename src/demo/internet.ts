/**
 * The demo's made-up internet: a few "remote sites" whose addresses are
 * outside the private ranges (so flowlens counts them as internet) but live
 * inside the demo's own namespace — the benchmarking range 198.18.0.0/15 and
 * the IPv6 documentation prefix 2001:db8::/32, so no real outside address is
 * ever contacted. The namespace's DNS responder names them, TLS ClientHellos
 * carry their names (SNI), and a small GeoIP/ASN database made at start (demo
 * data: made-up countries, documentation ASNs 64496–64511) places them, so the
 * demo shows domains, countries and networks as a real host would.
 */
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import dgram from 'node:dgram';
import path from 'node:path';
import { writeMmdb } from '../enrich/mmdb-writer.js';
import type { DemoNames } from './peer.js';
import { HTTP_PORT, TLS_PORT, UDP_PORT } from './peer.js';

/** One remote site: its names, address, and what the demo database says about it. */
export interface Site {
  names: string[];
  addr: string;
  country: { iso: string; name: string };
  asn: { number: number; org: string };
}

/** The sites of the demo whose subnet number is `n` (1–250: each running demo its own). */
export function demoSites(n: number): Site[] {
  return [
    { names: ['video.demo.example'], addr: `198.18.${n}.10`, country: { iso: 'NL', name: 'Netherlands' }, asn: { number: 64496, org: 'Demo Stream B.V. (demo data)' } },
    { names: ['cdn.demo.example', 'shop.demo.example'], addr: `198.18.${n}.20`, country: { iso: 'US', name: 'United States' }, asn: { number: 64497, org: 'Demo CDN Inc. (demo data)' } },
    { names: ['voice.demo.example'], addr: `198.19.${n}.30`, country: { iso: 'DE', name: 'Germany' }, asn: { number: 64498, org: 'Demo Voice GmbH (demo data)' } },
    { names: ['updates.demo.example'], addr: `198.19.${n}.40`, country: { iso: 'JP', name: 'Japan' }, asn: { number: 64499, org: 'Demo Updates KK (demo data)' } },
    { names: ['api.demo.example'], addr: `2001:db8:${n.toString(16)}::40`, country: { iso: 'SE', name: 'Sweden' }, asn: { number: 64500, org: 'Demo API AB (demo data)' } },
  ];
}

/** The prefixes the host routes into the demo namespace for these sites. */
export function sitePrefixes(n: number): string[] {
  return [`198.18.${n}.0/24`, `198.19.${n}.0/24`, `2001:db8:${n.toString(16)}::/64`];
}

/** What the namespace's DNS responder answers. */
export function siteNames(sites: Site[]): DemoNames {
  return Object.fromEntries(sites.flatMap((s) => s.names.map((name) => [name, [s.addr]])));
}

/** Writes the demo's country and ASN databases into dir; returns their paths. */
export function writeDemoGeo(dir: string, sites: Site[]): { country: string; asn: string } {
  const cidr = (a: string) => `${a}/${net.isIPv4(a) ? 32 : 128}`;
  const description = { en: 'flowlens demo data: made-up places for the demo\'s own addresses, not real' };
  const country = path.join(dir, 'demo-country.mmdb');
  const asn = path.join(dir, 'demo-asn.mmdb');
  writeMmdb(country, sites.map((s) => ({ cidr: cidr(s.addr), record: { country: { iso_code: s.country.iso, names: { en: s.country.name } } } })),
    { databaseType: 'flowlens-demo-Country', description });
  writeMmdb(asn, sites.map((s) => ({ cidr: cidr(s.addr), record: { autonomous_system_number: s.asn.number, autonomous_system_organization: s.asn.org } })),
    { databaseType: 'flowlens-demo-ASN', description });
  return { country, asn };
}

/**
 * Traffic to the sites, each second: a video download, TLS hellos with SNI,
 * short API calls over IPv6, voice-like UDP; names resolved through the demo's
 * DNS every 10 s (the addresses used are the answered ones); and a burst (a
 * 20 MB update download) at 12 s and then every minute.
 */
export class InternetTraffic {
  private readonly resolver = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
  private readonly addrOf = new Map<string, string>();
  private readonly sockets = new Set<net.Socket | dgram.Socket>();
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;
  private stopped = false;

  constructor(dnsServer: string, private readonly sites: Site[]) {
    this.resolver.setServers([dnsServer]);
  }

  start(): void {
    void this.resolve().then(() => { if (!this.stopped) this.round(); });
    this.timer = setInterval(() => this.round(), 1000);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.resolver.cancel();
    for (const s of this.sockets) (s instanceof net.Socket ? s.destroy() : s.close());
    this.sockets.clear();
  }

  private async resolve(): Promise<void> {
    await Promise.all(this.sites.flatMap((s) => s.names.map(async (name) => {
      const answer = await (net.isIPv4(s.addr) ? this.resolver.resolve4(name) : this.resolver.resolve6(name)).catch(() => []);
      if (answer[0]) this.addrOf.set(name, answer[0]);
    })));
  }

  private track<T extends net.Socket | dgram.Socket>(s: T): T {
    this.sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
    return s;
  }

  private get(name: string, bytes: number, count = 1): void {
    const addr = this.addrOf.get(name);
    if (!addr) return;
    for (let i = 0; i < count; i++) {
      const s = this.track(net.connect(HTTP_PORT, addr));
      s.on('connect', () => s.write(`GET /bytes/${bytes} HTTP/1.0\r\nhost: ${name}\r\n\r\n`));
      s.on('data', () => undefined);
      s.on('end', () => s.end());
    }
  }

  private hello(name: string): void {
    const addr = this.addrOf.get(name);
    if (!addr) return;
    // a real ClientHello naming the site; the demo's server answers junk, which ends it
    this.track(tls.connect({ host: addr, port: TLS_PORT, servername: name, rejectUnauthorized: false }) as net.Socket);
  }

  private round(): void {
    const t = this.tick++;
    if (t % 10 === 9) void this.resolve();
    this.get('video.demo.example', 250_000);
    if (t % 2 === 0) { this.hello('cdn.demo.example'); this.hello('shop.demo.example'); }
    this.get('api.demo.example', 2000, 3);
    const voice = this.addrOf.get('voice.demo.example');
    if (voice) {
      const u = this.track(dgram.createSocket('udp4'));
      u.on('message', () => undefined);
      for (let i = 0; i < 10; i++) u.send(Buffer.alloc(160, 0x56), UDP_PORT, voice);
      // stop() may have closed it already: closing twice throws "Not running"
      setTimeout(() => { if (this.sockets.has(u)) u.close(); }, 500).unref();
    }
    if (t % 60 === 12) this.get('updates.demo.example', 20_000_000);
  }
}
