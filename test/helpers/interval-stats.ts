/**
 * Synthetic input of the InfluxDB sink: IntervalStats and CollectorStatus with
 * numbers a test chooses, so the points read back can be checked exactly.
 */
import type { CollectorStatus } from '../../src/collector/index.js';
import { TALKER_DIMENSIONS, type IntervalStats, type TalkerDimension, type TalkerRow, type TrafficRow } from '../../src/flows/types.js';

export function collectorStatus(ifaces: string[], over: Partial<CollectorStatus> = {}): CollectorStatus {
  return {
    attachments: ifaces.map((iface, i) => ({ iface, ifindex: 100 + i, ingress: 'xdp-native', egress: 'tcx' })),
    mapEntries: 65536,
    mapFill: 0,
    intervals: 0,
    lastDrainMs: 0,
    overflowPackets: 0,
    nonIpPackets: 0,
    malformedPackets: 0,
    bpfErrors: { probe_limit: 0, iface_full: 0, claim_race: 0, pull: 0 },
    ...over,
  };
}

export function talker(key: string, bytesUp: number, bytesDown: number, over: Partial<TalkerRow> = {}): TalkerRow {
  return { key, bytesUp, bytesDown, packetsUp: Math.ceil(bytesUp / 100), packetsDown: Math.ceil(bytesDown / 100), sessions: 1, newSessions: 0, ...over };
}

/** An interval; talkers of dimensions not given are empty. */
export function intervalStats(start: number, end: number, traffic: TrafficRow[],
  talkers: Partial<Record<TalkerDimension, TalkerRow[]>> = {}, over: Partial<IntervalStats> = {}): IntervalStats {
  const all = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, talkers[d] ?? []])) as Record<TalkerDimension, TalkerRow[]>;
  return { start, end, traffic, activeSessions: 0, activeRemotes: 0, talkers: all, endedSessions: [], ...over };
}
