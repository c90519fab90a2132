/**
 * What the control plane makes of each interval: the contract between
 * src/flows (which computes it) and its consumers (src/store, src/sinks,
 * src/api). Everything here is plain JSON-ready data.
 *
 * Exactness: for every interval, the traffic rows sum to the collector's IP
 * totals (flows + overflow) minus what the configured filters dropped; for
 * every dimension the talker rows sum to the traffic rows whose scope is not
 * 'unknown' (overflow packets carry no addresses, so they have no talkers).
 */
import type { Scope } from '../net/classify.js';
import type { TalkerRow } from './talkers.js';

export type { Scope } from '../net/classify.js';
/** 'unknown': packets counted while the flow table was full (no addresses known). */
export type TrafficScope = Scope | 'unknown';
/** up: local → remote; down: remote → local. Overflow: ingress counts as down, egress as up. */
export type UpDown = 'up' | 'down';

/** Bytes (L3) and packets of one interface, up/down and scope in one interval. */
export interface TrafficRow {
  iface: string;
  direction: UpDown;
  scope: TrafficScope;
  bytes: number;
  packets: number;
}

/**
 * Talker dimensions and their keys:
 *  ip      remote address                    label: domain name, if known
 *  host    local address
 *  port    service "tcp/443", "udp/53", "icmp/echo" (the responder's port)
 *  proto   "tcp", "udp", "icmp", "icmpv6", "gre", ... or "proto-N"
 *  country ISO 3166 code, "private" (remote not on the internet) or "unknown"
 *  asn     "AS15169" (label: organisation), "private" or "unknown"
 *  domain  remote's name from DNS answers / TLS SNI, or "unknown"
 *  device  the local end's device: its MAC "aa:bb:cc:dd:ee:ff" (every address of
 *          it, IPv4 and IPv6, in one row), else the local address (no MAC known)
 *          label: the device's name (settings > DHCP > mDNS/LLMNR), else vendor + MAC
 */
export const TALKER_DIMENSIONS = ['ip', 'host', 'port', 'proto', 'country', 'asn', 'domain', 'device'] as const;
export type TalkerDimension = (typeof TALKER_DIMENSIONS)[number];

export type { TalkerRow, TalkerCounts } from './talkers.js';

/**
 * Talkers are also kept per scope (internet, LAN): the sessions' scopes, so
 * for every key all = internet + lan exactly (overflow traffic has no
 * addresses, so no talkers).
 */
export const TALKER_SCOPES = ['internet', 'lan'] as const;
export type TalkerScope = (typeof TALKER_SCOPES)[number];

/** The name one scope's talkers of a dimension are kept under ("host@internet"); all traffic's keep the dimension's own name. */
export type TalkerSet = TalkerDimension | `${TalkerDimension}@${TalkerScope}`;
export const TALKER_SETS: readonly TalkerSet[] = [
  ...TALKER_DIMENSIONS,
  ...TALKER_SCOPES.flatMap((scope) => TALKER_DIMENSIONS.map((d): TalkerSet => `${d}@${scope}`)),
];

export function talkerSet(dimension: TalkerDimension, scope?: TalkerScope | ''): TalkerSet {
  return scope ? `${dimension}@${scope}` : dimension;
}

export type TcpState = 'syn' | 'established' | 'closing' | 'closed' | 'reset';
/** TCP: its state; ICMP: the message kind ("echo", "dest-unreachable", ...); others: "active". */
export type SessionState = TcpState | string;

/** Both directions of one conversation (DESIGN.md). */
export interface SessionRecord {
  /** Stable while the session lives: iface|proto|local|localPort|remote|remotePort. */
  id: string;
  iface: string;
  protocol: number;
  /** "tcp", "udp", ... (as TalkerRow keys of the proto dimension). */
  protocolName: string;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  scope: Scope;
  /** Which end sent the first packet flowlens saw (TCP: the SYN). */
  initiator: 'local' | 'remote';
  state: SessionState;
  bytesUp: number;
  bytesDown: number;
  packetsUp: number;
  packetsDown: number;
  /** Wall-clock ms. */
  firstSeen: number;
  lastSeen: number;
  /** OR of the TCP flags seen in each direction. */
  tcpFlagsUp: number;
  tcpFlagsDown: number;
  domain?: string;
  country?: string;
  city?: string;
  asn?: number;
  asOrg?: string;
  /** Why it ended (for the session log): idle timeout, TCP close/reset, evicted, shutdown. */
  endReason?: 'idle' | 'closed' | 'reset' | 'shutdown';
}

/** One interval as the control plane sees it. */
export interface IntervalStats {
  /** Wall-clock ms of the interval's start and end (from the collector). */
  start: number;
  end: number;
  /** Every attached interface × up/down × scope that had traffic. */
  traffic: TrafficRow[];
  /** Sessions alive at the end of the interval, and distinct remote addresses among them. */
  activeSessions: number;
  activeRemotes: number;
  /**
   * Every key with traffic in the interval. The largest RANKED_ROWS (flows/talkers.ts) come
   * first, by bytes (up + down) descending, then key; the rest follow in no order. Consumers
   * cut at most that many (topRows for more), or sum them all.
   */
  talkers: Record<TalkerDimension, TalkerRow[]>;
  /**
   * The same per scope: the rows of internet sessions and of LAN sessions (absent: not split).
   * A scope with all of the interval's traffic has all traffic's very arrays (no LAN
   * traffic: internet's; LAN traffic only: LAN's), so a consumer can do that work once.
   */
  scopedTalkers?: Record<TalkerScope, Record<TalkerDimension, TalkerRow[]>>;
  /** Sessions that ended during the interval (for the session log). */
  endedSessions: SessionRecord[];
}
