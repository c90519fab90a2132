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
  labels: RemoteLabels = {};
  /** Whether a name was looked up without success (retried for a while: the answer may come late). */
  unnamedSince = 0;
  /** The local end's device as last keyed (FlowProcessor.label): a retry re-keys only when it changed. */
  deviceMac: string | undefined = undefined;
  deviceLabel: string | undefined = undefined;
  /** The accumulators of its talker keys (FlowProcessor; dimension order of TALKER_DIMENSIONS). */
  talkers: TalkerAccumulator[] = [];
  /** The flows routed to this session (FlowProcessor's cache), newest first, forgotten when it ends. */
  routes: FlowRoute | undefined = undefined;
  /** The classes of its ends (AddressClassifier), worked out with its first flow: their special talker keys come from them. */
  localClass: AddressClass = 0;
  remoteClass: AddressClass = 0;
  /** The interval this session last had traffic in, and that interval's deltas. */
  touched = -1;
  created = -1;
  dBytesUp = 0;
  dBytesDown = 0;
  dPacketsUp = 0;
  dPacketsDown = 0;

  constructor(
    readonly id: string,
    readonly iface: string,
    readonly protocol: number,
    readonly local: string,
    readonly localPort: number,
    readonly remote: string,
    readonly remotePort: number,
    readonly scope: Scope,
    /** ICMP: the message kind; others: undefined. */
    readonly kind: string | undefined,
    firstSeen: number,
    initiator: 'local' | 'remote',
  ) {
    this.firstSeen = firstSeen;
    this.lastSeen = firstSeen;
    this.initiator = initiator;
    if (kind !== undefined) this.state = kind;
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
 * Who began a conversation first seen mid-stream (no SYN, no first packet to
 * compare): the end on an ephemeral port is the client; else the higher port.
 */
export function guessInitiator(localPort: number, remotePort: number): 'local' | 'remote' {
  const localEphemeral = localPort >= EPHEMERAL_PORTS;
  const remoteEphemeral = remotePort >= EPHEMERAL_PORTS;
  if (localEphemeral !== remoteEphemeral) return localEphemeral ? 'local' : 'remote';
  return localPort >= remotePort ? 'local' : 'remote';
}
