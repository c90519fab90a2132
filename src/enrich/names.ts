/**
 * NameTable: which name an address stands for, learned from the captures the
 * collector hands over (Interval.captures): DNS answers map addresses to the
 * names clients asked for; TLS ClientHellos name one connection each (SNI),
 * which tells apart the sites behind one shared CDN address.
 *
 *   const names = new NameTable();
 *   collector.on('interval', (iv) => { for (const c of iv.captures) names.ingest(c); });
 *   names.nameOf('93.184.215.14');                          // 'example.com'
 *   names.sniOf('10.0.0.2', 51234, '93.184.215.14', 443);   // 'example.com'
 *
 * Addresses are compared as text in the collector's format (dotted quad,
 * RFC 5952 IPv6), which is what Flow, FlowBatch and Capture carry.
 *
 * Both maps are bounded: when full, the entry written longest ago goes
 * (counted as an eviction). Expired entries are dropped when looked up or by
 * prune().
 */
import type { Capture } from '../collector/captures.js';
import { DNS_TYPE, dnsMessageOf, type DnsAnswer } from './dns.js';
import { parseClientHello } from './sni.js';

export interface NameTableOptions {
  /** Addresses remembered at most (default 100,000). */
  maxNames?: number;
  /** Connections whose SNI is remembered at most (default 100,000). */
  maxConnections?: number;
  /**
   * A name is kept for max(its DNS TTL, this) ms (default 1 h): connections
   * outlive TTLs, and a client reuses an address it resolved long ago.
   */
  minKeepMs?: number;
  /** A connection's SNI is kept this many ms after its ClientHello or last lookup (default 1 h). */
  connectionKeepMs?: number;
}

export interface NameTableStats {
  /** Addresses with a name (expired ones not yet dropped included). */
  names: number;
  /** Connections with an SNI. */
  connections: number;
  /** DNS responses parsed (captures from port 53 that held a message). */
  dnsMessages: number;
  /** A/AAAA answers that named an address. */
  answers: number;
  /** ClientHellos with a server name. */
  hellos: number;
  /** Captures that could not be parsed (garbage, or cut before anything usable). */
  parseFailures: number;
  /** Entries dropped to make room (names and connections). */
  evictions: number;
  /** Entries dropped because they had expired. */
  expired: number;
}

interface NameEntry {
  name: string;
  /** Wall-clock ms. */
  expires: number;
  /** Learned from DNS (preferred) or only from a ClientHello's SNI. */
  fromDns: boolean;
  /** When the answer (or hello) that gave this name was seen (its capture time). */
  learnedAt: number;
  /** The name the address had before this one, kept so a session is named by what was valid at its first packet. */
  older?: NameEntry;
}

/** Names an address had, newest first, kept at most (an address re-answered with other names: CDNs, round robin). */
const NAME_HISTORY = 4;

interface ConnectionEntry {
  name: string;
  expires: number;
}

/** CNAME hops followed back from an address's owner to the name asked for. */
const MAX_CNAME_HOPS = 16;

export class NameTable {
  private readonly names = new Map<string, NameEntry>();
  private readonly connections = new Map<string, ConnectionEntry>();
  private readonly maxNames: number;
  private readonly maxConnections: number;
  private readonly minKeepMs: number;
  private readonly connectionKeepMs: number;
  private counts = { dnsMessages: 0, answers: 0, hellos: 0, parseFailures: 0, evictions: 0, expired: 0 };

  constructor(opts: NameTableOptions = {}) {
    this.maxNames = positive(opts.maxNames ?? 100_000, 'maxNames');
    this.maxConnections = positive(opts.maxConnections ?? 100_000, 'maxConnections');
    this.minKeepMs = nonNegative(opts.minKeepMs ?? 3_600_000, 'minKeepMs');
    this.connectionKeepMs = nonNegative(opts.connectionKeepMs ?? 3_600_000, 'connectionKeepMs');
  }

  /** Learns from one capture; ignores what it cannot parse (counted in stats().parseFailures). */
  ingest(c: Capture): void {
    if (c.kind === 'dns') this.ingestDns(c);
    else if (c.kind === 'tls') this.ingestHello(c);
    // dhcp, mdns and llmnr name the LAN's devices (devices.ts), not remote ends
  }

  /**
   * The name a client asked for that resolved to `addr` (the question of the
   * DNS answer, before any CNAME), or else the SNI last sent to it; undefined
   * when unknown or expired. With `at` (a session's first packet): the name
   * that was valid then — the newest one learned at or before `at` — so that an
   * address answered for first.example and then for second.example names each
   * session by the answer its client had.
   */
  nameOf(addr: string, now = Date.now(), at = Infinity): string | undefined {
    const e = this.names.get(addr);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.names.delete(addr);
      this.counts.expired++;
      return undefined;
    }
    for (let x: NameEntry | undefined = e; x; x = x.older) {
      if (x.learnedAt <= at && x.expires > now) return x.name;
    }
    return undefined;
  }

  /** The SNI of exactly this connection (client and server address and port), if its ClientHello was seen. */
  sniOf(client: string, clientPort: number, server: string, serverPort: number, now = Date.now()): string | undefined {
    // asked once per new session: without TLS captures, no connection key string is made for nothing
    if (this.connections.size === 0) return undefined;
    const key = connectionKey(client, clientPort, server, serverPort);
    const e = this.connections.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.connections.delete(key);
      this.counts.expired++;
      return undefined;
    }
    e.expires = Math.max(e.expires, now + this.connectionKeepMs);  // in use: keep it
    return e.name;
  }

  /** Drops every expired entry now (lookups drop the ones they meet anyway). */
  prune(now = Date.now()): void {
    for (const map of [this.names, this.connections] as Map<string, { expires: number }>[]) {
      for (const [k, e] of map) {
        if (e.expires <= now) {
          map.delete(k);
          this.counts.expired++;
        }
      }
    }
  }

  stats(): NameTableStats {
    return { names: this.names.size, connections: this.connections.size, ...this.counts };
  }

  private ingestDns(c: Capture): void {
    const msg = dnsMessageOf(c.payload, c.protocol);
    if (!msg) {
      this.counts.parseFailures++;
      return;
    }
    if (!msg.response) return;  // a query sent from port 53 (a forwarding resolver): nothing to learn
    this.counts.dnsMessages++;
    if (msg.rcode !== 0) return;
    // owner name -> the CNAME record naming it as target, to walk back to the question
    const aliasOf = new Map<string, DnsAnswer>();
    for (const a of msg.answers) {
      if (a.type === DNS_TYPE.CNAME && a.data !== undefined) aliasOf.set(a.data, a);
    }
    const asked = new Set(msg.questions.map((q) => q.name));
    for (const a of msg.answers) {
      if ((a.type !== DNS_TYPE.A && a.type !== DNS_TYPE.AAAA) || a.data === undefined) continue;
      let name = a.name;
      let ttl = a.ttl;
      for (let hop = 0; hop < MAX_CNAME_HOPS && !asked.has(name); hop++) {
        const alias = aliasOf.get(name);
        if (!alias) break;
        name = alias.name;
        ttl = Math.min(ttl, alias.ttl);  // the chain holds only as long as its shortest link
      }
      // a record that does not answer the question (extra data, or junk that happened to parse,
      // e.g. a later segment of a TCP answer) names nothing
      if (!asked.has(name)) continue;
      this.counts.answers++;
      this.setName(a.data, { name, expires: c.time + Math.max(ttl * 1000, this.minKeepMs), fromDns: true, learnedAt: c.time });
    }
  }

  private ingestHello(c: Capture): void {
    const hello = parseClientHello(c.payload);
    if (!hello) {
      this.counts.parseFailures++;
      return;
    }
    if (hello.serverName === undefined) return;
    this.counts.hellos++;
    const name = hello.serverName;
    const key = connectionKey(c.src, c.srcPort, c.dst, c.dstPort);
    this.connections.delete(key);
    this.connections.set(key, { name, expires: c.time + this.connectionKeepMs });
    this.evictOldest(this.connections, this.maxConnections);
    // the server address gets the name too, unless DNS named it (DNS says what the client asked for)
    const known = this.names.get(c.dst);
    if (!known || !known.fromDns || known.expires <= c.time) {
      this.setName(c.dst, { name, expires: c.time + Math.max(this.connectionKeepMs, this.minKeepMs), fromDns: false, learnedAt: c.time });
    }
  }

  private setName(addr: string, e: NameEntry): void {
    const known = this.names.get(addr);
    if (known?.name === e.name) {
      // the same name again (a TTL renewed): valid since it was first learned
      e.learnedAt = Math.min(e.learnedAt, known.learnedAt);
      e.expires = Math.max(e.expires, known.expires);
      e.older = known.older;
    } else if (known) {
      e.older = known;
    }
    // keep NAME_HISTORY names at most
    let depth = 1;
    for (let x = e; x.older; x = x.older) if (++depth > NAME_HISTORY) { x.older = undefined; break; }
    this.names.delete(addr);  // re-inserted: now the newest
    this.names.set(addr, e);
    this.evictOldest(this.names, this.maxNames);
  }

  private evictOldest(map: Map<string, unknown>, max: number): void {
    while (map.size > max) {
      const oldest = map.keys().next().value as string;
      map.delete(oldest);
      this.counts.evictions++;
    }
  }
}

function connectionKey(client: string, clientPort: number, server: string, serverPort: number): string {
  return `${client}|${clientPort}|${server}|${serverPort}`;
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`NameTable: ${what} must be a positive integer, not ${n}`);
  return n;
}

function nonNegative(n: number, what: string): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`NameTable: ${what} must be a number >= 0, not ${n}`);
  return n;
}
