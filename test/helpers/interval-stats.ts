/**
 * Synthetic input of the InfluxDB sink: IntervalStats and CollectorStatus with
 * numbers a test chooses, so the points read back can be checked exactly.
 */
import type { CollectorStatus } from '../../src/collector/index.js';
import { TALKER_DIMENSIONS, type IntervalStats, type SessionRecord, type TalkerDimension, type TalkerRow, type TrafficRow } from '../../src/flows/types.js';

export function collectorStatus(ifaces: string[], over: Partial<CollectorStatus> = {}): CollectorStatus {
  return {
    attachments: ifaces.map((iface, i) => ({ iface, ifindex: 100 + i, ingress: 'xdp-native', egress: 'tcx', state: 'attached' as const, reattaches: 0, goneMs: 0, overflowPackets: 0, nonIpPackets: 0, malformedPackets: 0, forwardedPackets: 0 })),
    mapEntries: 65536,
    mapFill: 0,
    intervals: 0,
    lastDrainMs: 0,
    lateIntervals: 0,
    flowsNotFitted: 0,
    suggestedMapSize: 0,
    overflowPackets: 0,
    nonIpPackets: 0,
    malformedPackets: 0,
    bpfErrors: { probe_limit: 0, iface_full: 0, claim_race: 0, pull: 0 },
    captures: 0,
    captureDrops: 0,
    captureLoadErrors: 0,
    flowIds: 0,
    flowIdsRefused: 0,
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

/** n sessions that ended (the sink only counts them). */
export function endedSessions(n: number, at: number): SessionRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `veth0|6|10.0.0.1|${40000 + i}|192.0.2.1|443`, iface: 'veth0', protocol: 6, protocolName: 'tcp',
    local: '10.0.0.1', localPort: 40000 + i, remote: '192.0.2.1', remotePort: 443, scope: 'internet' as const,
    initiator: 'local' as const, state: 'closed', bytesUp: 100, bytesDown: 100, packetsUp: 1, packetsDown: 1,
    firstSeen: at - 1000, lastSeen: at, tcpFlagsUp: 0x13, tcpFlagsDown: 0x12, endReason: 'closed' as const,
  }));
}
