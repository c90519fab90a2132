/**
 * What `flowlens analyze` reports about a whole capture: the sum of the live
 * code's intervals (IntervalStats and the collector's totals), kept as the
 * intervals arrive so memory grows with distinct keys, not with packets.
 *
 * Talkers are summed with src/flows/talkers.ts (so rows + other = total, as
 * everywhere); flows are summed per kernel flow key across intervals (the
 * flow-for-flow comparison with a live count uses them); sessions are the
 * ended ones (at the end of the file every open session ends, as at a live
 * shutdown), the largest kept.
 */
import type { Interval } from '../collector/index.js';
import type { IntervalStats, SessionRecord, TalkerDimension } from '../flows/types.js';
import { TALKER_DIMENSIONS } from '../flows/types.js';
import { addToMap, cutTop, type TalkerMap, type TalkerTotal } from '../flows/talkers.js';
import { protocolName } from '../net/protocols.js';

/** Sessions kept for the report (the largest by bytes). */
const SESSIONS_KEPT = 1000;

export interface FlowTotal {
  direction: 'ingress' | 'egress';
  ipVersion: 4 | 6;
  protocol: string;
  protocolNumber: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  packets: number;
  bytes: number;
  tcpFlags: number;
  /** File time, ms. */
  firstSeen: number;
  lastSeen: number;
}

export interface SeriesPoint {
  start: number;
  end: number;
  bytesUp: number;
  bytesDown: number;
  packets: number;
}

export interface Totals {
  /** IP packets and their L3 bytes (flows and overflow). */
  packets: number;
  bytes: number;
  flowRecords: number;
  nonIpPackets: number;
  nonIpBytes: number;
  malformedPackets: number;
  malformedBytes: number;
  overflowPackets: number;
  overflowBytes: number;
}

/** A capture file has no neighbour table: its device rows would only repeat the local addresses. */
const OFFLINE_DIMENSIONS = TALKER_DIMENSIONS.filter((d) => d !== 'device');

export class AnalysisSummary {
  readonly totals: Totals = { packets: 0, bytes: 0, flowRecords: 0, nonIpPackets: 0, nonIpBytes: 0, malformedPackets: 0, malformedBytes: 0, overflowPackets: 0, overflowBytes: 0 };
  /** By up/down and scope. */
  readonly traffic = new Map<string, { direction: string; scope: string; bytes: number; packets: number }>();
  readonly talkers = Object.fromEntries(OFFLINE_DIMENSIONS.map((d) => [d, new Map()])) as Record<Exclude<TalkerDimension, 'device'>, TalkerMap>;
  readonly flows = new Map<string, FlowTotal>();
  readonly series: SeriesPoint[] = [];
  private sessions: SessionRecord[] = [];
  sessionCount = 0;
  intervals = 0;

  /** One interval, while its flows are still readable. */
  add(stats: IntervalStats, iv: Interval): void {
    this.intervals++;
    for (const t of iv.totals) {
      for (const d of [t.ingress, t.egress]) {
        this.totals.packets += d.packets;
        this.totals.bytes += d.bytes;
        this.totals.flowRecords += d.flows;
        this.totals.nonIpPackets += d.nonIpPackets;
        this.totals.nonIpBytes += d.nonIpBytes;
        this.totals.malformedPackets += d.malformedPackets;
        this.totals.malformedBytes += d.malformedBytes;
        this.totals.overflowPackets += d.overflowPackets;
        this.totals.overflowBytes += d.overflowBytes;
      }
    }
    const f = iv.flows;
    for (let i = 0; i < f.count; i++) {
      const key = f.rawKey(i);
      const known = this.flows.get(key);
      if (known) {
        known.packets += f.packets(i);
        known.bytes += f.bytes(i);
        known.tcpFlags |= f.tcpFlags(i);
        known.lastSeen = Math.max(known.lastSeen, f.lastSeen(i));
      } else {
        const x = f.flow(i);
        this.flows.set(key, {
          direction: x.direction, ipVersion: x.ipVersion, protocol: protocolName(x.protocol), protocolNumber: x.protocol,
          src: x.src, dst: x.dst, srcPort: x.srcPort, dstPort: x.dstPort, packets: x.packets, bytes: x.bytes, tcpFlags: x.tcpFlags,
          firstSeen: x.firstSeen, lastSeen: x.lastSeen,
        });
      }
    }
    const point: SeriesPoint = { start: stats.start, end: stats.end, bytesUp: 0, bytesDown: 0, packets: 0 };
    for (const r of stats.traffic) {
      const k = `${r.direction}|${r.scope}`;
      const t = this.traffic.get(k) ?? { direction: r.direction, scope: r.scope, bytes: 0, packets: 0 };
      t.bytes += r.bytes;
      t.packets += r.packets;
      this.traffic.set(k, t);
      if (r.direction === 'up') point.bytesUp += r.bytes; else point.bytesDown += r.bytes;
      point.packets += r.packets;
    }
    this.series.push(point);
    for (const d of OFFLINE_DIMENSIONS) for (const row of stats.talkers[d]) addToMap(this.talkers[d], row.key, row);
    this.ended(stats.endedSessions);
  }

  ended(sessions: SessionRecord[]): void {
    this.sessionCount += sessions.length;
    this.sessions.push(...sessions);
    if (this.sessions.length > 5 * SESSIONS_KEPT) this.trim();
  }

  private trim(): void {
    this.sessions.sort((a, b) => b.bytesUp + b.bytesDown - (a.bytesUp + a.bytesDown) || a.firstSeen - b.firstSeen);
    this.sessions.length = Math.min(this.sessions.length, SESSIONS_KEPT);
  }

  /** The largest sessions, by bytes. */
  topSessions(n = SESSIONS_KEPT): SessionRecord[] {
    this.trim();
    return this.sessions.slice(0, n);
  }

  /** Per dimension: the top n keys, the rest as other, and the total. */
  topTalkers(n: number): Record<Exclude<TalkerDimension, 'device'>, { rows: TalkerTotal[]; other: TalkerTotal; total: TalkerTotal }> {
    return Object.fromEntries(OFFLINE_DIMENSIONS.map((d) => [d, cutTop(this.talkers[d], n)])) as Record<Exclude<TalkerDimension, 'device'>, ReturnType<typeof cutTop>>;
  }
}
