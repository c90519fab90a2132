/**
 * The InfluxDB sink: takes every interval the control plane produces, sums
 * them over the write period, turns each period into points (schema.ts),
 * queues them in a bounded buffer (buffer.ts) and writes them in order with
 * retries (writer.ts). write() never throws and never waits on the network:
 * when InfluxDB is slow or down the counting goes on, the buffer fills up to
 * its caps and what has to be dropped is counted.
 */
import type { HostSample } from '../../system/host.js';
import type { CollectorStatus } from '../../collector/index.js';
import { FlowlensError } from '../../errors.js';
import { TALKER_DIMENSIONS, type IntervalStats, type TalkerDimension } from '../../flows/types.js';
import { LineBuffer } from './buffer.js';
import { influxConfigFrom, writeTarget, type InfluxConfig, type InfluxSettings } from './config.js';
import { PeriodAggregator, type Period } from './period.js';
import { HEALTH, machineLines, periodLines } from './schema.js';
import { InfluxWriter, type WriteCounters } from './writer.js';

export * from './config.js';
export { SCHEMA, TRAFFIC, TALKERS, SERIES_FOLDED, SESSIONS, HEALTH, MACHINE, MACHINE_INTERFACE, OTHER_TAG, toTimestamp, type Measurement } from './schema.js';

export interface InfluxSinkOptions {
  /** The `host` tag on every point. */
  host: string;
  /** Wall-clock ms for lastSuccess/lastError (tests pin it); default Date.now. */
  clock?: () => number;
  /** The machine (CPU, memory, disk, interfaces), written with every period when given. */
  machine?: () => HostSample | undefined;
}

export interface InfluxSinkStats {
  /** Since start: points and bytes (line protocol, as sent) the server accepted. */
  pointsWritten: number;
  bytesWritten: number;
  batchesWritten: number;
  /** Since start: points lost (buffer over its caps, refused by the server, left at shutdown). */
  pointsDropped: number;
  bytesDropped: number;
  /** Now: points waiting in the buffer (including a batch in flight) and their bytes, and the caps. */
  bufferedPoints: number;
  bufferedBytes: number;
  maxBufferPoints: number;
  maxBufferBytes: number;
  /** Since start: failed writes that were retried. */
  retries: number;
  /** Whether a retry is waiting for its back-off (the server is failing). */
  backingOff: boolean;
  lastError?: { message: string; at: number };
  /** Wall-clock ms of the last accepted write. */
  lastSuccess?: number;
  /** Write periods turned into points. */
  periods: number;
  /** Since start: talker keys folded into "other", per dimension (summed over periods). */
  seriesFolded: Record<TalkerDimension, number>;
}

export class InfluxSink {
  private readonly buffer: LineBuffer;
  private readonly writer: InfluxWriter;
  private readonly periods: PeriodAggregator;
  private readonly counters: WriteCounters = {
    pointsWritten: 0, bytesWritten: 0, batchesWritten: 0, pointsDropped: 0, bytesDropped: 0, retries: 0,
  };
  private readonly clock: () => number;
  private readonly host: string;
  private readonly machine: InfluxSinkOptions['machine'];
  private readonly folded = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, 0])) as Record<TalkerDimension, number>;
  private periodCount = 0;
  /** The collector's status and the sink's counters when the last period's points were made (for increases). */
  private previousStatus: CollectorStatus | undefined;
  private reported = { pointsWritten: 0, pointsDropped: 0, bytesDropped: 0, retries: 0 };
  private closing: Promise<void> | undefined;

  /** `config` as validateInfluxConfig returns it. */
  constructor(private readonly config: InfluxConfig, opts: InfluxSinkOptions) {
    if (typeof opts.host !== 'string' || opts.host.trim() === '') {
      throw new FlowlensError('FLOW_ERR_USAGE', 'the InfluxDB writer needs a host name for its host tag', 'set host in the configuration or --host');
    }
    this.host = opts.host.trim();
    this.machine = opts.machine;
    this.clock = opts.clock ?? Date.now;
    // the health points carry the drop counts: dropped last, so an outage cannot hide its own losses
    const health = `${HEALTH},`;
    this.buffer = new LineBuffer(config.maxBufferPoints, config.maxBufferBytes, (l) => l.startsWith(health));
    this.periods = new PeriodAggregator(config.intervalMs);
    this.writer = new InfluxWriter(writeTarget(config), {
      precision: config.precision, gzip: config.gzip, batchSize: config.batchSize, timeoutMs: config.timeoutMs,
      retryMinMs: config.retryMinMs, retryMaxMs: config.retryMaxMs, clock: this.clock,
    }, this.buffer, this.counters);
  }

  /** Takes one interval; when it completes a write period, queues the period's points and starts sending. Never throws. */
  write(stats: IntervalStats, status: CollectorStatus): void {
    if (this.closing) return;
    try {
      const period = this.periods.add(stats, status);
      if (period) this.queue(period);
    } catch (e) {
      this.counters.lastError = { message: `cannot make points of an interval: ${(e as Error)?.message ?? String(e)}`, at: this.clock() };
    }
  }

  /** Queues lines made elsewhere (the alerts' points); dropped and counted like any when the buffer is full. */
  writeLines(lines: string[]): void {
    if (this.closing || !lines.length) return;
    const dropped = this.buffer.push(lines);
    this.counters.pointsDropped += dropped.points;
    this.counters.bytesDropped += dropped.bytes;
    this.writer.kick();
  }

  stats(): InfluxSinkStats {
    const c = this.counters;
    return {
      pointsWritten: c.pointsWritten,
      bytesWritten: c.bytesWritten,
      batchesWritten: c.batchesWritten,
      pointsDropped: c.pointsDropped,
      bytesDropped: c.bytesDropped,
      bufferedPoints: this.buffer.points,
      bufferedBytes: this.buffer.bytes,
      maxBufferPoints: this.buffer.maxPoints,
      maxBufferBytes: this.buffer.maxBytes,
      retries: c.retries,
      backingOff: this.writer.backingOff,
      lastError: c.lastError && { ...c.lastError },
      lastSuccess: c.lastSuccess,
      periods: this.periodCount,
      seriesFolded: { ...this.folded },
    };
  }

  /**
   * Writes the unfinished period and everything buffered, for at most
   * deadlineMs; what is still unwritten then is counted as dropped. Later
   * write() calls are ignored.
   */
  close(deadlineMs: number): Promise<void> {
    this.closing ??= (async () => {
      try {
        const last = this.periods.take();
        if (last) this.queue(last);
      } catch (e) {
        this.counters.lastError = { message: `cannot make points of the last period: ${(e as Error).message}`, at: this.clock() };
      }
      const lost = await this.writer.close(deadlineMs);
      this.counters.pointsDropped += lost.points;
      this.counters.bytesDropped += lost.bytes;
    })();
    return this.closing;
  }

  private queue(period: Period): void {
    const c = this.counters;
    const { lines, folded } = periodLines(period, {
      host: this.host,
      seriesBudget: this.config.seriesBudget,
      precision: this.config.precision,
      previous: this.previousStatus,
      sink: {
        pointsWritten: c.pointsWritten - this.reported.pointsWritten,
        pointsDropped: c.pointsDropped - this.reported.pointsDropped,
        bytesDropped: c.bytesDropped - this.reported.bytesDropped,
        retries: c.retries - this.reported.retries,
        bufferedPoints: this.buffer.points,
        bufferedBytes: this.buffer.bytes,
      },
    });
    const machine = this.machine?.();
    if (machine) lines.push(...machineLines(machine, this.host, period.end, this.config.precision));
    this.reported = { pointsWritten: c.pointsWritten, pointsDropped: c.pointsDropped, bytesDropped: c.bytesDropped, retries: c.retries };
    this.previousStatus = period.status;
    this.periodCount++;
    for (const d of TALKER_DIMENSIONS) this.folded[d] += folded[d];
    const dropped = this.buffer.push(lines);
    c.pointsDropped += dropped.points;
    c.bytesDropped += dropped.bytes;
    this.writer.kick();
  }
}

/** How long the last period and the buffer may take to write at shutdown. */
const CLOSE_DEADLINE_MS = 5_000;

/**
 * The InfluxDB writer as a part of a running flowlens (src/component.ts):
 * the settings are checked by check() (before anything is opened), the sink
 * is made at start (no connection until there are points), and stop() writes
 * what is left for at most 5 s.
 */
export class InfluxComponent {
  readonly name = 'influx';
  private config: InfluxConfig | undefined;
  private sink: InfluxSink | undefined;

  /** `raw`: the influx section as written (FlowlensConfig.influx). */
  constructor(private readonly settings: InfluxSettings, private readonly opts: InfluxSinkOptions) {}

  /** Refuses settings that cannot work (a FlowlensError naming the setting). */
  check(): InfluxConfig {
    return (this.config ??= influxConfigFrom(this.settings));
  }

  start(): void {
    this.sink = new InfluxSink(this.check(), this.opts);
  }

  add(stats: IntervalStats, status: CollectorStatus): void {
    this.sink?.write(stats, status);
  }

  /** Queues lines made elsewhere (the alerts' points), with the writer's precision; nothing before start. */
  writeLines(make: (precision: InfluxConfig['precision']) => string[]): void {
    if (this.sink) this.sink.writeLines(make(this.check().precision));
  }

  async stop(): Promise<void> {
    await this.sink?.close(CLOSE_DEADLINE_MS);
  }

  /** The writer's counters; undefined before start. */
  status(): InfluxSinkStats | undefined {
    return this.sink?.stats();
  }
}
