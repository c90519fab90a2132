/**
 * The collector of `flowlens serve --data-dir DIR`: counts nothing. The
 * composition root runs with it so the dashboard and the APIs answer from a
 * stored history (a `flowlens analyze --data-dir` of capture files, or a copy
 * of a gateway's database) exactly as they do in a live run. Its status says
 * so: one attachment named "stored history FIRST — LAST" (the store's time
 * span), hooked to nothing.
 */
import { EventEmitter } from 'node:events';
import { BPF_ERROR_NAMES, type CollectorStatus, type Interval } from '../collector/index.js';
import type { IntervalSource } from '../collector/source.js';

export class StoredHistorySource extends EventEmitter<{ interval: [Interval]; error: [Error] }> implements IntervalSource {
  /** span: the store's first and last quarter hour with traffic (epoch ms), read when the status is asked. */
  constructor(private readonly span: () => { first: number | null; last: number | null }) {
    super();
  }

  start(): void {}
  stop(): Promise<void> { return Promise.resolve(); }
  closeNow(): void {}

  /** What the status shows instead of an interface. */
  label(): string {
    const { first, last } = this.span();
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
    return first === null || last === null ? 'stored history (empty)' : `stored history ${day(first)} — ${day(last + 15 * 60_000)} UTC`;
  }

  status(): CollectorStatus {
    return {
      attachments: [{ iface: this.label(), ifindex: 0, ingress: 'none', egress: 'none', state: 'attached', reattaches: 0, goneMs: 0, forwardedPackets: 0, overflowPackets: 0, nonIpPackets: 0, malformedPackets: 0 }],
      mapEntries: 0, mapFill: 0, intervals: 0, lastDrainMs: 0, lateIntervals: 0, flowsNotFitted: 0, suggestedMapSize: 0,
      overflowPackets: 0, nonIpPackets: 0, malformedPackets: 0, bpfErrors: Object.fromEntries(BPF_ERROR_NAMES.map((n) => [n, 0])),
      captures: 0, captureDrops: 0, captureLoadErrors: 0, flowIds: 0, flowIdsRefused: 0,
    };
  }
}
