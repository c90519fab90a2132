/**
 * Sums the collector's intervals over one write period, so each period gives
 * one point per series with exact totals (bytes and packets are sums; nothing
 * is sampled). Talkers are kept per key for the whole period, so the top-N cut
 * is made on the period's totals, not on one interval's.
 */
import type { CollectorStatus } from '../../collector/index.js';
import { TALKER_DIMENSIONS, type IntervalStats, type TalkerDimension, type TrafficScope, type UpDown } from '../../flows/types.js';
import { OTHER_TAG, tagSafe } from './tags.js';
import { addToMap, OTHER_KEY, type TalkerMap } from '../../flows/talkers.js';

export interface TrafficSum {
  iface: string;
  direction: UpDown;
  scope: TrafficScope;
  bytes: number;
  packets: number;
}


export interface Period {
  /** Wall-clock ms: the first interval's start and the last interval's end. */
  start: number;
  end: number;
  intervals: number;
  /** Σ of the intervals' lengths (ms); equals end − start when intervals are contiguous. */
  coveredMs: number;
  /** Interfaces attached at any time in the period (each gets zero points when quiet). */
  ifaces: Set<string>;
  traffic: Map<string, TrafficSum>;
  /** Per dimension and key; `sessions` is weighted by interval length: Σ sessions × ms (÷ coveredMs: the mean). */
  talkers: Record<TalkerDimension, TalkerMap>;
  /** At the period's end. */
  activeSessions: number;
  activeRemotes: number;
  endedSessions: number;
  /** The collector's status after the last interval, and the worst values seen in the period. */
  status: CollectorStatus;
  maxMapFill: number;
  maxDrainMs: number;
}

function emptyTalkers(): Record<TalkerDimension, TalkerMap> {
  return Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, new Map()])) as Record<TalkerDimension, TalkerMap>;
}

export class PeriodAggregator {
  private period: Period | undefined;
  private lastIntervalMs = 0;

  constructor(private readonly periodMs: number) {}

  get current(): Period | undefined {
    return this.period;
  }

  /** Adds one interval; returns the period when this interval completes it. */
  add(stats: IntervalStats, status: CollectorStatus): Period | undefined {
    const len = Math.max(0, stats.end - stats.start);
    let p = this.period;
    if (!p) {
      p = this.period = {
        start: stats.start, end: stats.end, intervals: 0, coveredMs: 0, ifaces: new Set(), traffic: new Map(),
        talkers: emptyTalkers(), activeSessions: 0, activeRemotes: 0, endedSessions: 0, status, maxMapFill: 0, maxDrainMs: 0,
      };
    }
    p.end = Math.max(p.end, stats.end);
    p.intervals++;
    p.coveredMs += len;
    for (const a of status.attachments) p.ifaces.add(a.iface);
    for (const r of stats.traffic) {
      const k = `${r.iface}\0${r.direction}\0${r.scope}`;
      const t = p.traffic.get(k);
      if (t) {
        t.bytes += r.bytes;
        t.packets += r.packets;
      } else {
        p.traffic.set(k, { iface: r.iface, direction: r.direction, scope: r.scope, bytes: r.bytes, packets: r.packets });
      }
    }
    for (const dim of TALKER_DIMENSIONS) {
      const rows = stats.talkers[dim];
      if (!rows) continue;
      const sums = p.talkers[dim];
      for (const r of rows) {
        // an empty key cannot be a tag value in line protocol: it is counted as unknown; keys
        // that line protocol would write alike are summed here, so no point overwrites another;
        // a key written as the "other" tag is summed into other, as is the "other" row of a
        // coarsened interval (src/flows/coarsen.ts)
        if (r.key === OTHER_KEY) { addToMap(sums, OTHER_KEY, r, len); continue; }
        const tag = tagSafe(r.key);
        addToMap(sums, tag === OTHER_TAG ? OTHER_KEY : tag, r, len);
      }
    }
    p.activeSessions = stats.activeSessions;
    p.activeRemotes = stats.activeRemotes;
    p.endedSessions += stats.endedSessions.length;
    p.status = status;
    p.maxMapFill = Math.max(p.maxMapFill, status.mapFill);
    p.maxDrainMs = Math.max(p.maxDrainMs, status.lastDrainMs);
    this.lastIntervalMs = len;
    // Complete when another interval of the same length would overshoot the period
    // by more than it undershoots now: collector timers jitter by a few ms.
    if (p.end - p.start + this.lastIntervalMs / 2 >= this.periodMs) return this.take();
    return undefined;
  }

  /** Ends the current period now (shutdown) and returns it, if it has any interval. */
  take(): Period | undefined {
    const p = this.period;
    this.period = undefined;
    return p;
  }
}
