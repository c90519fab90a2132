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
 * Per-interval packets of a session are its counts minus those of the last
 * interval it moved in (a WeakMap on the live session object: no per-session
 * copy to free).
 */
import type { LiveSession, LiveSessions } from '../flows/live.js';
import type { IntervalStats } from '../flows/types.js';
import { IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, TCP_SYN, isIcmp } from '../net/protocols.js';
import type { DetectorConfig } from './config.js';
import { serviceOf } from './rules.js';
import type { AlertKind, Contributor, Observation } from './types.js';

export const AMPLIFIER_PORTS = new Set([53, 123, 11211, 19, 1900]);
/** Answers at least this many times the queries count as amplified. */
const AMPLIFICATION_RATIO = 10;
/** Pairs (source → host, source → port) remembered by the scan detectors, at most. */
export const MAX_SCAN_PAIRS = 200_000;

/** The session seen from its initiator: who sent the first packet to whom, and what each sent in the interval. */
interface Oriented {
  src: string;
  dst: string;
  dstPort: number;
  srcFlags: number;
  dstFlags: number;
  srcPackets: number;
  dstPackets: number;
  srcBytes: number;
  dstBytes: number;
}

function orient(s: LiveSession, dUp: number, dDown: number, bUp: number, bDown: number): Oriented {
  return s.initiator === 'remote'
    ? { src: s.remote, dst: s.local, dstPort: s.localPort, srcFlags: s.tcpFlagsDown, dstFlags: s.tcpFlagsUp, srcPackets: dDown, dstPackets: dUp, srcBytes: bDown, dstBytes: bUp }
    : { src: s.local, dst: s.remote, dstPort: s.remotePort, srcFlags: s.tcpFlagsUp, dstFlags: s.tcpFlagsDown, srcPackets: dUp, dstPackets: dDown, srcBytes: bUp, dstBytes: bDown };
}

/** Per victim: the total and who sent it. */
class PerVictim {
  readonly total = new Map<string, number>();
  readonly extra = new Map<string, number>();
  readonly sources = new Map<string, Map<string, Contributor>>();

  /** `key`: the victim, or victim and service ("10.0.0.2>tcp/80"). */
  add(key: string, source: string, service: string, n: number, bytes: number, packets: number, victim = key): void {
    this.total.set(key, (this.total.get(key) ?? 0) + n);
    let m = this.sources.get(key);
    if (!m) this.sources.set(key, (m = new Map()));
    const c = m.get(source);
    if (c) { c.bytes += bytes; c.packets += packets; } else m.set(source, { source, target: victim, service, bytes, packets });
  }

  top(key: string, n: number): Contributor[] {
    return [...(this.sources.get(key)?.values() ?? [])].sort((a, b) => b.packets - a.packets || b.bytes - a.bytes).slice(0, n);
  }
}

/**
 * A sliding window of distinct items per pair, pruned by time. Most pairs of a
 * wide scan hold one item (one probe per source): that one is kept inline, a
 * Map is made only for the second.
 */
class DistinctWindow {
  readonly pairs = new Map<string, { item: string; at: number } | Map<string, number>>();
  dropped = 0;

  add(pair: string, item: string, at: number): void {
    const m = this.pairs.get(pair);
    if (m === undefined) {
      if (this.pairs.size >= MAX_SCAN_PAIRS) { this.dropped++; return; }
      this.pairs.set(pair, { item, at });
    } else if (m instanceof Map) m.set(item, at);
    else if (m.item === item) m.at = at;
    else this.pairs.set(pair, new Map([[m.item, m.at], [item, at]]));
  }

  /** The distinct items of a pair. */
  static size(m: { item: string; at: number } | Map<string, number>): number {
    return m instanceof Map ? m.size : 1;
  }

  static items(m: { item: string; at: number } | Map<string, number>): string[] {
    return m instanceof Map ? [...m.keys()] : [m.item];
  }

  prune(before: number): void {
    for (const [pair, m] of this.pairs) {
      if (!(m instanceof Map)) { if (m.at < before) this.pairs.delete(pair); continue; }
      for (const [item, at] of m) if (at < before) m.delete(item);
      if (!m.size) this.pairs.delete(pair);
    }
  }
}

export interface DetectorStatus {
  /** Source → host and source → port pairs in the scan windows. */
  scanPairs: number;
  /** New pairs not remembered because MAX_SCAN_PAIRS were. */
  scanPairsDropped: number;
}

export class Detectors {
  /** Each moved session's counts when it last moved. */
  private readonly seen = new WeakMap<LiveSession, { up: number; down: number }>();
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
        const o = orient(s, 0, 0, 0, 0);
        // a TCP session first seen mid-stream (flowlens started after its SYN) is no attempt
        if (s.protocol === IPPROTO_TCP && !(o.srcFlags & TCP_SYN)) continue;
        const answered = s.protocol === IPPROTO_TCP ? (o.dstFlags & TCP_SYN) !== 0
          : s.protocol === IPPROTO_UDP ? (s.initiator === 'remote' ? s.packetsUp : s.packetsDown) > 0 : true;
        if (answered) continue;
        const service = serviceOf(s);
        this.ports.add(`${o.src}>${o.dst}`, service, now);
        this.hosts.add(`${o.src}>${service}`, o.dst, now);
      }
      this.ports.prune(now - c.scanWindowMs);
      this.hosts.prune(now - c.scanWindowMs);
    }
    this.fresh = [];
    const syn = new PerVictim(), udp = new PerVictim(), icmp = new PerVictim(), amp = new PerVictim();
    for (const s of live.values()) {
      const bUp = live.latestBytesUp(s), bDown = live.latestBytesDown(s);
      if (bUp === 0 && bDown === 0) continue;
      const prev = this.seen.get(s);
      if (!prev && scans && (s.protocol === IPPROTO_TCP || s.protocol === IPPROTO_UDP)) this.fresh.push(s);
      const dUp = s.packetsUp - (prev?.up ?? 0), dDown = s.packetsDown - (prev?.down ?? 0);
      if (prev) { prev.up = s.packetsUp; prev.down = s.packetsDown; } else this.seen.set(s, { up: s.packetsUp, down: s.packetsDown });
      const o = orient(s, dUp, dDown, bUp, bDown);
      if (s.protocol === IPPROTO_TCP) {
        if (c.synFloodRate > 0 && (o.srcFlags & TCP_SYN) && !(o.srcFlags & TCP_ACK) && o.srcPackets > 0) {
          syn.add(`${o.dst}>${serviceOf(s)}`, o.src, serviceOf(s), o.srcPackets, o.srcBytes, o.srcPackets, o.dst);
        }
      } else if (s.protocol === IPPROTO_UDP) {
        if (c.udpFloodRate > 0 && o.srcPackets > 0) udp.add(o.dst, o.src, serviceOf(s), o.srcPackets, o.srcBytes, o.srcPackets);
        if (c.amplificationRate > 0) {
          // the answering end is the one on an amplifier port (either may have sent first)
          const remoteServes = AMPLIFIER_PORTS.has(s.remotePort), localServes = AMPLIFIER_PORTS.has(s.localPort);
          if (remoteServes && bDown > 0) { amp.add(s.local, s.remote, `udp/${s.remotePort}`, bDown, bDown, dDown); amp.extra.set(s.local, (amp.extra.get(s.local) ?? 0) + bUp); }
          else if (localServes && !remoteServes && bUp > 0) { amp.add(s.remote, s.local, `udp/${s.localPort}`, bUp, bUp, dUp); amp.extra.set(s.remote, (amp.extra.get(s.remote) ?? 0) + bDown); }
        }
      } else if (isIcmp(s.protocol)) {
        if (c.icmpFloodRate > 0 && o.srcPackets > 0) icmp.add(o.dst, o.src, serviceOf(s), o.srcPackets, o.srcBytes, o.srcPackets);
      }
    }
    const out: Observation[] = [];
    const victimObservations = (kind: AlertKind, per: PerVictim, threshold: number, unit: string, what: string, ok: (victim: string, rate: number) => boolean = () => true) => {
      if (threshold <= 0) return;
      for (const [target, n] of per.total) {
        const rate = n / seconds;
        // the SYN flood counts per victim and service ("10.0.0.2>tcp/80")
        const [victim, service] = target.split('>') as [string, string | undefined];
        if (rate < threshold * 0.5 || !ok(target, rate)) continue; // far below: nothing to start or keep
        const top = per.top(target, this.contributorsN);
        const sources = per.sources.get(target)!.size;
        const attacker = sources === 1 ? top[0]!.source : `${top[0]!.source} and ${sources - 1} more`;
        out.push({
          fingerprint: `${kind}|${target}`, rule: kind, kind, severity: 'critical', subject: { victim, ...(service ? { service } : {}), attacker },
          summary: `${what} on ${victim}${service ? ` ${service}` : ''} from ${attacker}: ${Math.round(rate)} ${unit}`,
          value: rate, threshold, unit, active: rate >= threshold, clear: rate < threshold * 0.5, forMs: 0, contributors: () => top,
        });
      }
    };
    victimObservations('syn-flood', syn, c.synFloodRate, 'SYN/s', 'SYN flood');
    victimObservations('udp-flood', udp, c.udpFloodRate, 'packets/s', 'UDP flood');
    victimObservations('icmp-flood', icmp, c.icmpFloodRate, 'packets/s', 'ICMP flood');
    victimObservations('amplification', amp, c.amplificationRate, 'B/s', 'amplified UDP answers',
      (victim, rate) => rate * seconds >= AMPLIFICATION_RATIO * (amp.extra.get(victim) ?? 0));
    const scanObservations = (kind: AlertKind, w: DistinctWindow, threshold: number, what: (src: string, dst: string, n: number) => string, subject: (a: string, b: string) => Record<string, string>) => {
      if (threshold <= 0) return;
      for (const [pair, entry] of w.pairs) {
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
