/**
 * A collector without a kernel (netobserv's TracerFake): it replays intervals
 * a test builds from FlowSpecs (flow-batch.ts encodes them as the addon's
 * drain writes them), so Monitor and every part after it run unprivileged.
 * Intervals are emitted when the test says so (emit), never on a timer;
 * stop() emits the queued last interval (or an empty one), as the real
 * collector's last drain does.
 */
import { EventEmitter } from 'node:events';
import type { Capture, CollectorStatus, Interval } from '../../src/collector/index.js';
import type { IntervalSource } from '../../src/collector/source.js';
import { flowBatch, totalsFor, type FlowSpec } from './flow-batch.js';
import { collectorStatus } from './interval-stats.js';

export interface FakeInterval {
  /** Wall-clock ms; the interval is [end - ms, end). */
  end: number;
  ms?: number;
  flows: FlowSpec[];
  captures?: Capture[];
}

export class FakeCollector extends EventEmitter<{ interval: [Interval]; error: [Error] }> implements IntervalSource {
  started = false;
  stopped = false;
  closed = false;
  private intervals = 0;
  /** What stop() emits as the last drain (default: an empty interval). */
  last: FakeInterval | undefined;

  /** `ifaces`: ifindex → name of the attached interfaces (FlowSpec.ifindex defaults to 2). */
  constructor(private readonly ifaces: Record<number, string> = { 2: 'eth0' }) {
    super();
  }

  start(): void {
    this.started = true;
  }

  private beforeDrain: (() => void) | undefined;

  /** As the kernel's collector: the listener is called before each drain. */
  onBeforeDrain(listener: () => void): void {
    this.beforeDrain = listener;
  }

  /** Emits one interval of these flows, as a drain would. */
  drain(spec: FakeInterval): Interval {
    this.beforeDrain?.();
    const ms = spec.ms ?? 1000;
    const iv: Interval = {
      start: spec.end - ms, end: spec.end,
      flows: flowBatch(spec.flows, spec.end - ms / 2),
      totals: totalsFor(spec.flows, this.ifaces),
      captures: spec.captures ?? [],
      drain: { ms: 1.5, graceMs: 0.5 },
    };
    this.intervals++;
    this.emit('interval', iv);
    return iv;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.drain(this.last ?? { end: Date.now(), flows: [] });
  }

  closeNow(): void {
    this.closed = true;
  }

  status(): CollectorStatus {
    const names = Object.values(this.ifaces);
    return { ...collectorStatus(names), intervals: this.intervals, lastDrainMs: this.intervals ? 1.5 : 0,
      attachments: collectorStatus(names).attachments.map((a, i) => ({ ...a, ifindex: Number(Object.keys(this.ifaces)[i]) })) };
  }
}
