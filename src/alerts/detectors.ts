/**
 * The built-in attack detectors, on the live sessions of every interval. Each
 * names the attacker (the initiating end, or the top sources) and the victim:
 *
 *   port scan      one source, many refused/unanswered ports of one host in the scan window
 *   host sweep     one source, many refused/unanswered hosts on one port in the scan window
 *   SYN flood      SYNs per second to one service of one victim, on sessions whose initiator
 *                  never sent an ACK (per service: a scan sends one SYN to each of many ports)
 *   UDP/ICMP flood packets per second to one victim
 *   amplification  bytes per second of UDP answers from 53/123/11211/19/1900 to one victim,
 *                  ten times (or more) what the victim sent them
 *
 * A session is judged for the scans one interval after it appeared, so a
 * normal handshake whose answer came just after the drain is not a failure.
 * A session's packets and bytes in the interval are the flows stage's own
 * deltas (LiveSessions.latest*), of the sessions that moved in it
 * (LiveSessions.moved, not every live one): nothing is kept per session here.
 *
 * The floods are summed per victim over every moved session; a victim at half
 * its threshold or more is observed, and its sources are summed by name only
 * when the alert engine reads the observation's subject, summary or
 * contributors (a new alert, a worse value, a firing). A flood is rare and,
 * once firing, goes on asking for nothing: the sources of a 500k-source flood,
 * summed every interval, were most of the alert stage on a gateway.
 */
import type { LiveSession, LiveSessions } from '../flows/live.js';
import type { IntervalStats } from '../flows/types.js';
import { IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, TCP_SYN, isIcmp, protocolName } from '../net/protocols.js';
import type { DetectorConfig } from './config.js';
import { serviceOf } from './rules.js';
import type { AlertKind, Contributor, Observation } from './types.js';

export const AMPLIFIER_PORTS = new Set([53, 123, 11211, 19, 1900]);
/** Answers at least this many times the queries count as amplified. */
const AMPLIFICATION_RATIO = 10;
/** Pairs (source → host, source → port) remembered by the scan detectors, at most. */
export const MAX_SCAN_PAIRS = 200_000;

/** The flood sums, by kind. */
type Flood = 'syn' | 'udp' | 'icmp' | 'amp';

/**
 * One moved session's part in the flood sums: `key` is the victim, or victim
 * and service for the SYN flood ("10.0.0.2>tcp/80"); `n` what the threshold
 * counts (packets, or bytes for amplification); `port` the service's port.
 */
type FloodSink = (flood: Flood | 'ampSent', key: string, victim: string, source: string, s: LiveSession, port: number, n: number, bytes: number, packets: number) => void;

/**
 * Calls `sink` for each flood sum the session counts towards in the latest
 * interval (dUp/dDown packets, bUp/bDown bytes). The one definition of what
 * counts, for both passes of Detectors.evaluate.
 */
function floodParts(s: LiveSession, c: DetectorConfig, dUp: number, dDown: number, bUp: number, bDown: number, sink: FloodSink): void {
  const fromRemote = s.initiator === 'remote';
  // seen from its initiator: who sent the first packet to whom, and what each sent
  const src = fromRemote ? s.remote : s.local;
  const dst = fromRemote ? s.local : s.remote;
  const servicePort = fromRemote ? s.localPort : s.remotePort;
  const srcPackets = fromRemote ? dDown : dUp;
  const srcBytes = fromRemote ? bDown : bUp;
  if (s.protocol === IPPROTO_TCP) {
    const srcFlags = fromRemote ? s.tcpFlagsDown : s.tcpFlagsUp;
    if (c.synFloodRate > 0 && (srcFlags & TCP_SYN) && !(srcFlags & TCP_ACK) && srcPackets > 0) {
      sink('syn', `${dst}>${serviceOf(s)}`, dst, src, s, servicePort, srcPackets, srcBytes, srcPackets);
    }
  } else if (s.protocol === IPPROTO_UDP) {
    if (c.udpFloodRate > 0 && srcPackets > 0) sink('udp', dst, dst, src, s, servicePort, srcPackets, srcBytes, srcPackets);
    if (c.amplificationRate > 0) {
      // the answering end is the one on an amplifier port (either may have sent first)
      const remoteServes = AMPLIFIER_PORTS.has(s.remotePort), localServes = AMPLIFIER_PORTS.has(s.localPort);
      // ampSent: what the victim sent the amplifier (the answers must be AMPLIFICATION_RATIO times that)
      if (remoteServes && bDown > 0) {
        sink('amp', s.local, s.local, s.remote, s, s.remotePort, bDown, bDown, dDown);
        sink('ampSent', s.local, s.local, s.remote, s, s.remotePort, bUp, bUp, dUp);
      } else if (localServes && !remoteServes && bUp > 0) {
        sink('amp', s.remote, s.remote, s.local, s, s.localPort, bUp, bUp, dUp);
        sink('ampSent', s.remote, s.remote, s.local, s, s.localPort, bDown, bDown, dDown);
      }
    }
  } else if (isIcmp(s.protocol)) {
    if (c.icmpFloodRate > 0 && srcPackets > 0) sink('icmp', dst, dst, src, s, servicePort, srcPackets, srcBytes, srcPackets);
  }
}

/** One source's sum towards one victim; its service text is made only if it is among the top. */
interface SourceSum { source: string; victim: string; protocol: number; port: number; bytes: number; packets: number }
/** Per victim of one flood kind: who sent it, summed per source. */
type Sources = Map<string, SourceSum>;
const FLOODS: Flood[] = ['syn', 'udp', 'icmp', 'amp'];

const byPacketsThenBytes = (a: SourceSum, b: SourceSum) => b.packets - a.packets || b.bytes - a.bytes;

/**
 * The `n` largest sources by packets, then bytes (ties in the order seen): a
 * kept list of n, not a sort of every source (a flood has 100k of them).
 */
function topSources(sources: Sources, n: number): Contributor[] {
  const top: SourceSum[] = [];
  if (n <= 0) return [];
  for (const c of sources.values()) {
    if (top.length === n && byPacketsThenBytes(c, top[n - 1]!) >= 0) continue;
    let at = top.length === n ? n - 1 : top.length;
    while (at > 0 && byPacketsThenBytes(c, top[at - 1]!) < 0) { top[at] = top[at - 1]!; at--; }
    top[at] = c;
  }
  return top.map((x) => ({ source: x.source, target: x.victim, service: `${protocolName(x.protocol)}/${x.port}`, bytes: x.bytes, packets: x.packets }));
}

type WindowEntry = { item: string; at: number } | Map<string, number>;

/**
 * A sliding window of distinct items per pair, pruned by time. Most pairs of a
 * wide scan hold one item (one probe per source): that one is kept inline, a
 * Map is made only for the second.
 *
 * Every add is also queued in the order of its time, so a prune visits only
 * what it ends, not every pair (a gateway holds 200k of them, and prunes every
 * interval); a queued add whose item was seen again later is stale and skipped.
 * Pairs of two or more items are kept apart too: with a threshold above 2 a
 * pair of one item can never be reported, and the reports need not visit them.
 */
class DistinctWindow {
  readonly pairs = new Map<string, WindowEntry>();
  /** The pairs holding two or more items, in the order they got their second. */
  readonly multi = new Set<string>();
  dropped = 0;
  /** The adds in time order (three columns): pair, item, time; from `head` on. */
  private queuePair: string[] = [];
  private queueItem: string[] = [];
  private queueAt: number[] = [];
  private head = 0;
  /** Whether an add came with an earlier time than one before it (a clock set back): then a prune visits every pair. */
  private unordered = false;

  add(pair: string, item: string, at: number): void {
    const m = this.pairs.get(pair);
    if (m === undefined) {
      if (this.pairs.size >= MAX_SCAN_PAIRS) { this.dropped++; return; }
      this.pairs.set(pair, { item, at });
    } else if (m instanceof Map) m.set(item, at);
    else if (m.item === item) m.at = at;
    else {
      this.pairs.set(pair, new Map([[m.item, m.at], [item, at]]));
      this.multi.add(pair);
    }
    const n = this.queueAt.length;
    if (n > this.head && at < this.queueAt[n - 1]!) this.unordered = true;
    this.queuePair.push(pair);
    this.queueItem.push(item);
    this.queueAt.push(at);
  }

  /** The distinct items of a pair. */
  static size(m: WindowEntry): number {
    return m instanceof Map ? m.size : 1;
  }

  static items(m: WindowEntry): string[] {
    return m instanceof Map ? [...m.keys()] : [m.item];
  }

  /** Ends every item last seen before `before`, and every pair left with none. */
  prune(before: number): void {
    if (this.unordered) { this.pruneAll(before); return; }
    const { queuePair, queueItem, queueAt } = this;
    let h = this.head;
    for (; h < queueAt.length && queueAt[h]! < before; h++) this.end(queuePair[h]!, queueItem[h]!, before);
    this.head = h;
    // drop the visited part of the queue once it is most of it
    if (h > 1024 && h * 2 > queueAt.length) {
      this.queuePair = queuePair.slice(h);
      this.queueItem = queueItem.slice(h);
      this.queueAt = queueAt.slice(h);
      this.head = 0;
    }
  }

  /** Ends one item of a pair if it was not seen again since `before`. */
  private end(pair: string, item: string, before: number): void {
    const m = this.pairs.get(pair);
    if (m === undefined) return;
    if (!(m instanceof Map)) {
      if (m.item === item && m.at < before) this.pairs.delete(pair);
      return;
    }
    const at = m.get(item);
    if (at === undefined || at >= before) return;
    m.delete(item);
    this.shrunk(pair, m);
  }

  /** A pair's Map after items left it: back inline at one item, gone at none. */
  private shrunk(pair: string, m: Map<string, number>): void {
    if (m.size > 1) return;
    this.multi.delete(pair);
    const [last] = m;
    if (last) this.pairs.set(pair, { item: last[0], at: last[1] });
    else this.pairs.delete(pair);
  }

  /** The prune of every pair, and the queue made again in time order (after a clock was set back). */
  private pruneAll(before: number): void {
    const rows: Array<[string, string, number]> = [];
    for (const [pair, m] of this.pairs) {
      if (!(m instanceof Map)) { if (m.at < before) this.pairs.delete(pair); else rows.push([pair, m.item, m.at]); continue; }
      for (const [item, at] of m) if (at < before) m.delete(item); else rows.push([pair, item, at]);
      this.shrunk(pair, m);
    }
    rows.sort((a, b) => a[2] - b[2]);
    this.queuePair = rows.map((r) => r[0]);
    this.queueItem = rows.map((r) => r[1]);
    this.queueAt = rows.map((r) => r[2]);
    this.head = 0;
    this.unordered = false;
  }

  /** The pairs that may hold `least` items or more: all of them, or (for 2 and up) only those of two or more. */
  *candidates(least: number): IterableIterator<[string, WindowEntry]> {
    if (least <= 1) { yield* this.pairs; return; }
    for (const pair of this.multi) yield [pair, this.pairs.get(pair)!];
  }
}

export interface DetectorStatus {
  /** Source → host and source → port pairs in the scan windows. */
  scanPairs: number;
  /** New pairs not remembered because MAX_SCAN_PAIRS were. */
  scanPairsDropped: number;
}

export class Detectors {
  /** Sessions new in the previous interval, judged now. */
  private fresh: LiveSession[] = [];
  private readonly ports = new DistinctWindow();
  private readonly hosts = new DistinctWindow();

  constructor(private config: DetectorConfig, private readonly contributorsN: number) {}

  replace(config: DetectorConfig): void {
    this.config = config;
  }

  status(): DetectorStatus {
    return { scanPairs: this.ports.pairs.size + this.hosts.pairs.size, scanPairsDropped: this.ports.dropped + this.hosts.dropped };
  }

  evaluate(stats: IntervalStats, live: LiveSessions): Observation[] {
    const c = this.config;
    const now = stats.end;
    const seconds = Math.max(stats.end - stats.start, 1) / 1000;
    const scans = c.portScanPorts > 0 || c.hostSweepHosts > 0;
    // the sessions that appeared in the previous interval: refused or unanswered?
    if (scans) {
      for (const s of this.fresh) {
        const fromRemote = s.initiator === 'remote';
        const src = fromRemote ? s.remote : s.local, dst = fromRemote ? s.local : s.remote;
        const srcFlags = fromRemote ? s.tcpFlagsDown : s.tcpFlagsUp, dstFlags = fromRemote ? s.tcpFlagsUp : s.tcpFlagsDown;
        // a TCP session first seen mid-stream (flowlens started after its SYN) is no attempt
        if (s.protocol === IPPROTO_TCP && !(srcFlags & TCP_SYN)) continue;
        const answered = s.protocol === IPPROTO_TCP ? (dstFlags & TCP_SYN) !== 0
          : s.protocol === IPPROTO_UDP ? (fromRemote ? s.packetsUp : s.packetsDown) > 0 : true;
        if (answered) continue;
        const service = serviceOf(s);
        this.ports.add(`${src}>${dst}`, service, now);
        this.hosts.add(`${src}>${service}`, dst, now);
      }
      this.ports.prune(now - c.scanWindowMs);
      this.hosts.prune(now - c.scanWindowMs);
    }
    this.fresh = [];
    // per victim, the totals only (and what amplification victims sent), over every moved session
    const totals: Record<Flood | 'ampSent', Map<string, number>> = { syn: new Map(), udp: new Map(), icmp: new Map(), amp: new Map(), ampSent: new Map() };
    const addTotal: FloodSink = (flood, key, _victim, _source, _s, _port, n) => {
      const m = totals[flood];
      m.set(key, (m.get(key) ?? 0) + n);
    };
    /** Each session that moved in the interval, into `sink` (floodParts), after `each`. */
    const movedParts = (sink: FloodSink, each?: (s: LiveSession) => void) => {
      for (const s of live.moved()) {
        const bUp = live.latestBytesUp(s), bDown = live.latestBytesDown(s);
        if (bUp === 0 && bDown === 0) continue;
        each?.(s);
        floodParts(s, c, live.latestPacketsUp(s), live.latestPacketsDown(s), bUp, bDown, sink);
      }
    };
    movedParts(addTotal, (s) => {
      if (scans && live.isNew(s) && (s.protocol === IPPROTO_TCP || s.protocol === IPPROTO_UDP)) this.fresh.push(s);
    });
    const thresholds: Record<Flood, number> = { syn: c.synFloodRate, udp: c.udpFloodRate, icmp: c.icmpFloodRate, amp: c.amplificationRate };
    // far below half the threshold: nothing to start or keep, and no sources to name
    const near = (flood: Flood, key: string, n: number) => thresholds[flood] > 0 && n / seconds >= thresholds[flood] * 0.5
      && (flood !== 'amp' || n >= AMPLIFICATION_RATIO * (totals.ampSent.get(key) ?? 0));
    const nearVictims: Record<Flood, string[]> = { syn: [], udp: [], icmp: [], amp: [] };
    for (const flood of FLOODS) for (const [key, n] of totals[flood]) if (near(flood, key, n)) nearVictims[flood].push(key);
    // who sent it: summed only when the alert engine asks (a new alert, a worse value, a firing),
    // in one more pass for every near victim at once, in this same turn (the sessions are as
    // they were). A flood that goes on asks for nothing: its 100k–500k sources, summed every
    // interval, were most of the alert stage on a gateway.
    let sources: Record<Flood, Map<string, Sources>> | undefined;
    const sourcesOf = (flood: Flood, key: string): Sources => {
      if (!sources) {
        const sums: Record<Flood, Map<string, Sources>> = { syn: new Map(), udp: new Map(), icmp: new Map(), amp: new Map() };
        for (const f of FLOODS) for (const k of nearVictims[f]) sums[f].set(k, new Map());
        const addSource: FloodSink = (f, k, victim, source, s, port, _n, bytes, packets) => {
          const bySource = f === 'ampSent' ? undefined : sums[f].get(k);
          if (!bySource) return;
          const known = bySource.get(source);
          if (known) { known.bytes += bytes; known.packets += packets; } else bySource.set(source, { source, victim, protocol: s.protocol, port, bytes, packets });
        };
        movedParts(addSource);
        sources = sums;
      }
      return sources[flood].get(key)!;
    };
    const out: Observation[] = [];
    const victimObservations = (kind: AlertKind, flood: Flood, unit: string, what: string) => {
      const threshold = thresholds[flood];
      for (const target of nearVictims[flood]) {
        const rate = totals[flood].get(target)! / seconds;
        // the SYN flood counts per victim and service ("10.0.0.2>tcp/80")
        const [victim, service] = target.split('>') as [string, string | undefined];
        let named: { attacker: string; top: Contributor[] } | undefined;
        const name = () => {
          if (named) return named;
          const bySource = sourcesOf(flood, target);
          const top = topSources(bySource, this.contributorsN);
          return (named = { top, attacker: bySource.size === 1 ? top[0]!.source : `${top[0]!.source} and ${bySource.size - 1} more` });
        };
        out.push({
          fingerprint: `${kind}|${target}`, rule: kind, kind, severity: 'critical',
          get subject() { return { victim, ...(service ? { service } : {}), attacker: name().attacker }; },
          get summary() { return `${what} on ${victim}${service ? ` ${service}` : ''} from ${name().attacker}: ${Math.round(rate)} ${unit}`; },
          value: rate, threshold, unit, active: rate >= threshold, clear: rate < threshold * 0.5, forMs: 0, contributors: () => name().top,
        });
      }
    };
    victimObservations('syn-flood', 'syn', 'SYN/s', 'SYN flood');
    victimObservations('udp-flood', 'udp', 'packets/s', 'UDP flood');
    victimObservations('icmp-flood', 'icmp', 'packets/s', 'ICMP flood');
    victimObservations('amplification', 'amp', 'B/s', 'amplified UDP answers');
    const scanObservations = (kind: AlertKind, w: DistinctWindow, threshold: number, what: (src: string, dst: string, n: number) => string, subject: (a: string, b: string) => Record<string, string>) => {
      if (threshold <= 0) return;
      for (const [pair, entry] of w.candidates(threshold / 2)) {
        const size = DistinctWindow.size(entry);
        if (size < threshold / 2) continue;
        const [a, b] = pair.split('>') as [string, string];
        out.push({
          fingerprint: `${kind}|${pair}`, rule: kind, kind, severity: 'warning', subject: subject(a, b),
          summary: what(a, b, size), value: size, threshold, unit: kind === 'port-scan' ? 'ports' : 'hosts',
          active: size >= threshold, clear: size < threshold / 2, forMs: 0,
          contributors: () => DistinctWindow.items(entry).slice(0, this.contributorsN).map((x) => kind === 'port-scan'
            ? { source: a, target: b, service: x, bytes: 0, packets: 0 } : { source: a, target: x, service: b, bytes: 0, packets: 0 }),
        });
      }
    };
    scanObservations('port-scan', this.ports, c.portScanPorts, (a, b, n) => `port scan of ${b} by ${a}: ${n} ports refused or unanswered in ${c.scanWindowMs / 1000} s`,
      (a, b) => ({ attacker: a, victim: b }));
    scanObservations('host-sweep', this.hosts, c.hostSweepHosts, (a, b, n) => `host sweep of ${b} by ${a}: ${n} hosts refused or unanswered in ${c.scanWindowMs / 1000} s`,
      (a, b) => ({ attacker: a, service: b }));
    return out;
  }
}
