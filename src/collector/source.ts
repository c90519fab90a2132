/**
 * What the stages after the collector need of it: intervals as events, a
 * drain loop to start and stop, and its status. The kernel's Collector
 * (index.ts) is one; a test's fake that replays crafted FlowBatches is
 * another (test/helpers/fake-collector.ts), so Monitor and everything after
 * it run without a kernel.
 */
import type { CollectorStatus, Interval, InterfaceReconciliation } from './index.js';
import type { PacketCaptures } from '../capture/index.js';

export interface IntervalSource {
  on(event: 'interval', listener: (iv: Interval) => void): this;
  on(event: 'error', listener: (e: Error) => void): this;
  /** Drains every interval until stop(). */
  start(): void;
  /** Ends counting: one last interval is emitted, then everything is released. */
  stop(): Promise<void>;
  /** Synchronous last resort (process exit): release without a last interval. */
  closeNow(): void;
  status(): CollectorStatus;
  /** Gives drained flows stable ids (FlowBatch.flowId), at most `limit` at once; a source without ids leaves them FLOW_ID_NONE. */
  trackFlowIds?(limit: number): void;
  /**
   * Called synchronously before each drain: the flows of the previous interval
   * (its FlowBatch) may be read until then, not after (the drain reuses their
   * buffer). A source whose batches are never reused need not call it.
   */
  onBeforeDrain?(listener: () => void): void;
  /** Ids the flows stage no longer routes, to be reused. */
  releaseFlowIds?(ids: Uint32Array): void;
  /** The kernel's interface counters beside the counted totals (a source without a kernel has none). */
  reconcile?(): InterfaceReconciliation[];
  /** Packet captures of the counted interfaces (src/capture), where the source has them. */
  readonly packetCaptures?: PacketCaptures | undefined;
}
