/**
 * Sessions: both directions of one conversation (DESIGN.md), keyed by
 * interface, protocol, local addr:port and remote addr:port. ICMP has no
 * ports: its sessions are keyed by message kind, so an echo request and its
 * reply are one session.
 *
 * A session ends when it has been idle for its timeout (TCP has a longer one),
 * or shortly after a TCP close or reset: the linger keeps the last ACK of a
 * close from starting a new session. Ended sessions go to the session log.
 */
import { IPPROTO_TCP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, hasPorts, protocolName } from '../net/protocols.js';
import type { Scope, SessionRecord, SessionState } from './types.js';
import type { TalkerAccumulator } from './talkers.js';
import type { AddressClass } from '../net/classify.js';

export interface SessionConfig {
  /** Idle time after which a TCP session ends. */
  tcpIdleTimeoutMs: number;
  /** Idle time after which any other session ends. */
  idleTimeoutMs: number;
  /** Sessions tracked at once; beyond it, traffic still counts (totals, talkers) but starts no session. */
  maxSessions: number;
}

export function defaultSessionConfig(): SessionConfig {
  return { tcpIdleTimeoutMs: 10 * 60_000, idleTimeoutMs: 2 * 60_000, maxSessions: 200_000 };
}

/** How long a closed or reset TCP session waits for stragglers before it ends. */
const CLOSED_LINGER_MS = 10_000;
/** Ports from here up are ephemeral (IANA): the other end is the service. */
const EPHEMERAL_PORTS = 49152;

/**
 * "tcp/443" for every session to that port is one string, made once: it keys
 * a talker map per new session, and a string that is always the same one has
 * its hash worked out once. Bounded like the address caches.
 */
const portServices = new Map<number, string>();
const PORT_SERVICES_LIMIT = 1 << 16;

function portService(protocol: number, proto: string, port: number): string {
  const key = protocol * 65536 + port;
  let text = portServices.get(key);
  if (text === undefined) {
    if (portServices.size >= PORT_SERVICES_LIMIT) portServices.clear();
    portServices.set(key, (text = `${proto}/${port}`));
  }
  return text;
}

/** A session's talkers before it is bound (FlowProcessor.bind replaces it): one array shared, never written. */
const NO_TALKERS: TalkerAccumulator[] = [];

/** The labels of a session that has none (Session.labels): one object, never written (FlowProcessor.label gives a session its own). */
export const NO_LABELS: Readonly<RemoteLabels> = Object.freeze({});

/** What the enrichers know about the remote end. */
export interface RemoteLabels {
  domain?: string;
  country?: string;
  city?: string;
  asn?: number;
  asOrg?: string;
}

/**
 * One kernel flow routed to its session (FlowProcessor): which end sent it,
 * and what the flow is known by: the collector's flow id (the common case:
 * ids on), else its raw key. A session's routes are a chain, so a session
 * needs no list of them (most have two, one per direction).
 */
export interface FlowRoute {
  session: Session;
  srcIsLocal: boolean;
  /** FLOW_ID_NONE when the flow is known by rawKey. */
  flowId: number;
  rawKey: string;
  next: FlowRoute | undefined;
}

export class Session {
  state: SessionState = 'active';
  bytesUp = 0;
  bytesDown = 0;
  packetsUp = 0;
  packetsDown = 0;
  tcpFlagsUp = 0;
  tcpFlagsDown = 0;
  firstSeen: number;
  lastSeen: number;
  initiator: 'local' | 'remote';
  /** Shared and empty (NO_LABELS) until the first label is learned: most sessions of a gateway never have one. */
  labels: RemoteLabels = NO_LABELS;
  /** Whether a name was looked up without success (retried for a while: the answer may come late). */
  unnamedSince = 0;
  /** The local end's device as last keyed (FlowProcessor.label): a retry re-keys only when it changed. */
  deviceMac: string | undefined = undefined;
  deviceLabel: string | undefined = undefined;
  /** The accumulators of its talker keys (FlowProcessor; dimension order of TALKER_DIMENSIONS). */
  talkers: TalkerAccumulator[] = NO_TALKERS;
  /** The flows routed to this session (FlowProcessor's cache), newest first, forgotten when it ends. */
  routes: FlowRoute | undefined = undefined;
  /** The classes of its ends (AddressClassifier), worked out with its first flow: their special talker keys come from them. */
  localClass: AddressClass = 0;
  remoteClass: AddressClass = 0;
  /** Its place in the order sessions began (FlowProcessor numbers them from 1): the live pages' tie-break. */
  seq = 0;
  /** Whether it is in the session table (FlowProcessor: under maxSessions), not one counted untracked. */
  tracked = false;
  /** The interval being taken that has seen it (FlowProcessor), and its place among that interval's sessions (IntervalSums). */
  mark = -1;
  slot = 0;
  /** The interval this session last had traffic in, and that interval's deltas. */
  touched = -1;
  created = -1;
  dBytesUp = 0;
  dBytesDown = 0;
  dPacketsUp = 0;
  dPacketsDown = 0;
  /** The next session whose key hashes the same (SessionTable's chain). */
  sameHash: Session | undefined = undefined;
  /** Its text id, made when first asked for (most sessions are never looked at by id). */
  private text: string | undefined = undefined;

  constructor(
    /** Its key in SessionTable: the hash of its numeric key (IPv4, not ICMP), else its text id. */
    readonly key: number | string,
    readonly iface: string,
    readonly protocol: number,
    readonly local: string,
    readonly localPort: number,
    readonly remote: string,
    readonly remotePort: number,
    readonly scope: Scope,
    /** ICMP: the message kind; others: undefined. */
    readonly kind: string | undefined,
    /** Whether its ends are IPv4 addresses: then localV4 and remoteV4 are their values (as int32), else 0. */
    readonly ipv4: boolean,
    readonly localV4: number,
    readonly remoteV4: number,
    firstSeen: number,
    initiator: 'local' | 'remote',
  ) {
    this.firstSeen = firstSeen;
    this.lastSeen = firstSeen;
    this.initiator = initiator;
    if (kind !== undefined) this.state = kind;
  }

  /** "iface|protocol|local|localPort|remote|remotePort" (sessionId): the same text everywhere it is seen. */
  get id(): string {
    if (this.text === undefined) {
      this.text = typeof this.key === 'string'
        ? this.key
        : sessionId(this.iface, this.protocol, this.local, this.localPort, this.remote, this.remotePort, this.kind);
    }
    return this.text;
  }

  /** What activeRemotes counts per remote end: an IPv4 address by its value, else its text. */
  get remoteKey(): number | string {
    return this.ipv4 ? this.remoteV4 : this.remote;
  }

  /** The port of the side that answers: "tcp/443", "udp/53", "icmp/echo", "gre". */
  get service(): string {
    const proto = protocolName(this.protocol);
    if (this.kind !== undefined) return `${proto}/${this.kind}`;
    if (!hasPorts(this.protocol)) return proto;
    return portService(this.protocol, proto, this.initiator === 'local' ? this.remotePort : this.localPort);
  }

  /** TCP state from the flags seen in each direction. */
  updateTcpState(): void {
    if (this.protocol !== IPPROTO_TCP) return;
    const up = this.tcpFlagsUp;
    const down = this.tcpFlagsDown;
    const all = up | down;
    if (all & TCP_RST) this.state = 'reset';
    else if (up & down & TCP_FIN) this.state = 'closed';
    else if (all & TCP_FIN) this.state = 'closing';
    else if ((up & TCP_SYN) && (down & TCP_SYN)) this.state = 'established';
    else if (all & TCP_SYN) this.state = (up & TCP_ACK) && (down & TCP_ACK) ? 'established' : 'syn';
    else this.state = 'established'; // joined mid-stream (it began before flowlens started)
  }

  /** When this session ends if nothing more arrives. */
  expiresAt(config: SessionConfig): number {
    if (this.state === 'closed' || this.state === 'reset') return this.lastSeen + CLOSED_LINGER_MS;
    return this.lastSeen + (this.protocol === IPPROTO_TCP ? config.tcpIdleTimeoutMs : config.idleTimeoutMs);
  }

  toRecord(endReason?: SessionRecord['endReason']): SessionRecord {
    const r: SessionRecord = {
      id: this.id,
      iface: this.iface,
      protocol: this.protocol,
      protocolName: protocolName(this.protocol),
      local: this.local,
      localPort: this.localPort,
      remote: this.remote,
      remotePort: this.remotePort,
      scope: this.scope,
      initiator: this.initiator,
      state: this.state,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      packetsUp: this.packetsUp,
      packetsDown: this.packetsDown,
      firstSeen: this.firstSeen,
      lastSeen: this.lastSeen,
      tcpFlagsUp: this.tcpFlagsUp,
      tcpFlagsDown: this.tcpFlagsDown,
      ...this.labels,
    };
    if (endReason) r.endReason = endReason;
    return r;
  }
}

export function sessionId(iface: string, protocol: number, local: string, localPort: number, remote: string, remotePort: number, kind: string | undefined): string {
  return kind === undefined
    ? `${iface}|${protocol}|${local}|${localPort}|${remote}|${remotePort}`
    : `${iface}|${protocol}|${local}|${kind}|${remote}`;
}

/**
 * The numeric key of an IPv4 session with ports (ICMP and IPv6 keep the text
 * id): a 32-bit hash of interface, protocol, addresses and ports, so a new
 * flow's lookup builds and hashes no string. Small integers are what a Map
 * hashes fastest. Different sessions can share a hash: SessionTable compares
 * the fields on a hit.
 */
export function sessionHashV4(ifaceCode: number, protocol: number, localV4: number, localPort: number, remoteV4: number, remotePort: number): number {
  let h = Math.imul(ifaceCode ^ (protocol << 24), 0x9e3779b1);
  h = Math.imul(h ^ localV4, 0x85ebca6b);
  h = Math.imul(h ^ remoteV4 ^ (h >>> 15), 0xc2b2ae35);
  h = Math.imul(h ^ ((localPort << 16) | remotePort) ^ (h >>> 13), 0x27d4eb2f);
  return h ^ (h >>> 16);
}

/**
 * Sessions by key, in the order they began: a numeric key (sessionHashV4)
 * heads a chain of the sessions with that hash, a text key is one session.
 * One Map for both keeps one order for the sweep and the live view.
 */
export class SessionTable {
  private readonly map = new Map<number | string, Session>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The IPv4 session with these fields, if any. */
  getV4(hash: number, iface: string, protocol: number, localV4: number, localPort: number, remoteV4: number, remotePort: number): Session | undefined {
    for (let s = this.map.get(hash); s; s = s.sameHash) {
      if (s.localV4 === localV4 && s.remoteV4 === remoteV4 && s.localPort === localPort && s.remotePort === remotePort && s.protocol === protocol && s.iface === iface) return s;
    }
    return undefined;
  }

  /** The session with this text id (IPv6, ICMP). */
  getText(id: string): Session | undefined {
    return this.map.get(id);
  }

  /** Adds a session not in the table (the caller looked it up first). */
  add(s: Session): void {
    const head = this.map.get(s.key);
    // a second session with a hash goes after the first: the chain's head keeps the map's order
    if (head) {
      let last = head;
      while (last.sameHash) last = last.sameHash;
      last.sameHash = s;
    } else this.map.set(s.key, s);
    this.count++;
  }

  delete(s: Session): void {
    const head = this.map.get(s.key);
    if (head === s) {
      if (s.sameHash) this.map.set(s.key, s.sameHash); else this.map.delete(s.key);
    } else {
      let prev = head;
      while (prev && prev.sameHash !== s) prev = prev.sameHash;
      if (!prev) return;
      prev.sameHash = s.sameHash;
    }
    s.sameHash = undefined;
    this.count--;
  }

  /** Removes every session `remove` says to, in the table's order, and hands each to `removed` (the sweep's loop, without a generator step per session). */
  removeWhere(remove: (s: Session) => boolean, removed: (s: Session) => void): void {
    for (const head of this.map.values()) {
      for (let s: Session | undefined = head; s; ) {
        const next: Session | undefined = s.sameHash;
        if (remove(s)) {
          this.delete(s);
          removed(s);
        }
        s = next;
      }
    }
  }

  /** Visits every session, in the table's order (values() without a generator step per session); `visit` must not add or delete. */
  forEach(visit: (s: Session) => void): void {
    for (const head of this.map.values()) for (let s: Session | undefined = head; s; s = s.sameHash) visit(s);
  }

  /** Every session; the current one may be deleted while iterating. */
  *values(): IterableIterator<Session> {
    for (const head of this.map.values()) {
      for (let s: Session | undefined = head; s; ) {
        const next: Session | undefined = s.sameHash;
        yield s;
        s = next;
      }
    }
  }

  clear(): void {
    for (const s of this.map.values()) for (let c: Session | undefined = s; c; ) { const next: Session | undefined = c.sameHash; c.sameHash = undefined; c = next; }
    this.map.clear();
    this.count = 0;
  }
}

/**
 * Who began a conversation first seen mid-stream (no SYN, no first packet to
 * compare): the end on an ephemeral port is the client; else the higher port.
 */
export function guessInitiator(localPort: number, remotePort: number): 'local' | 'remote' {
  const localEphemeral = localPort >= EPHEMERAL_PORTS;
  const remoteEphemeral = remotePort >= EPHEMERAL_PORTS;
  if (localEphemeral !== remoteEphemeral) return localEphemeral ? 'local' : 'remote';
  return localPort >= remotePort ? 'local' : 'remote';
}
