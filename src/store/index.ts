/**
 * Embedded history: per-minute and per-quarter-hour traffic, hourly top talkers
 * and the session log in SQLite (WAL) under the data directory.
 *
 * Writer (`flowlens run`): `Store.open(config)`, then `add(stats)` for every
 * interval (in memory, cheap), `flush()` on the flush interval (a timer the store
 * owns when flushIntervalMs > 0) and `close()` on shutdown (a last flush). Readers
 * (the CLI, beside a running flowlens): `Store.openReadOnly({ dataDir })`.
 * Every query of the writer includes what is not yet flushed.
 */
import type { IntervalStats, SessionRecord, TalkerDimension, TalkerScope } from '../flows/types.js';
import { FlowlensError } from '../errors.js';
import { defaultStoreConfig, type StoreConfig } from './config.js';
import { Pending } from './pending.js';
import { cycleUsage, type BillingConfig, type Usage, type UsageQuery } from './usage.js';
import * as q from './queries.js';
import { closeWriter, openForReading, openForWriting, type Db } from './schema.js';
import { sessions } from './sessions.js';
import type { DateRange, History, HistoryQuery, LiveTop, SessionPage, SessionQuery, Summary, TopQuery, TopTalkers, TrafficFilter } from './types.js';
import { HOUR_GRACE_MS, liveTalkers, Writer } from './writer.js';
import { HOUR_MS, MINUTE_MS } from './time.js';
import { WriterLock } from './lock.js';

export { defaultStoreConfig, type StoreConfig } from './config.js';
export type * from './types.js';
export { DEFAULT_BILLING, cycleBounds, percentile95, type BillingConfig, type Usage, type UsageQuery, type UsageRow } from './usage.js';

export interface StoreOptions extends Partial<StoreConfig> {
  dataDir: string;
  /** Wall clock, epoch ms (tests inject one); default Date.now. */
  clock?: () => number;
  /** A flush on the timer failed (the counts stay pending and are retried); default: one line on stderr. */
  onFlushError?: (e: Error) => void;
}

export interface FlushResult {
  /** The store's clock at the commit. */
  at: number;
  /** Rows written: traffic minutes (upserted), talker rows (each changed hour's top N + other), ended sessions. */
  traffic: number;
  talkers: number;
  sessions: number;
}

function checkConfig(c: StoreConfig): void {
  const whole = (name: keyof StoreConfig, min: number) => {
    const v = c[name] as number;
    if (!Number.isInteger(v) || v < min) throw new FlowlensError('FLOW_ERR_USAGE', `store: ${name} must be a whole number ≥ ${min}, not ${String(v)}`);
  };
  if (typeof c.dataDir !== 'string' || c.dataDir === '') throw new FlowlensError('FLOW_ERR_USAGE', 'store: dataDir must be a directory path', 'pass --data-dir DIR');
  whole('flushIntervalMs', 0);
  whole('minuteRetentionDays', 1);
  whole('hourlyTopN', 1);
  whole('sessionLogDays', 1);
  whole('liveSessionsLimit', 0);
  whole('pendingKeysLimit', 2);
}

export class Store {
  private readonly pending: Pending | null;
  private readonly closedSums: q.ClosedSums | null;
  private readonly writer: Writer | null;
  private timer: NodeJS.Timeout | null = null;
  private live: { at: number; sessions: SessionRecord[] } | null = null;
  private closed = false;
  /** The writer's claim on the data directory (none for readers). */
  private lock: WriterLock | null = null;

  private constructor(
    private readonly db: Db,
    readonly config: StoreConfig,
    private readonly clock: () => number,
    readonly readOnly: boolean,
    private readonly onFlushError: (e: Error) => void,
  ) {
    const writer = readOnly ? null : new Writer(db, config);
    this.writer = writer;
    this.pending = writer ? new Pending(config.pendingKeysLimit, (hour) => writer.loadTalkerHour(hour)) : null;
    this.closedSums = writer ? new q.ClosedSums() : null;
  }

  /** Opens (creating the directory and schema if needed) the store a flowlens run writes. */
  static open(options: StoreOptions): Store {
    const { clock, onFlushError, ...rest } = options;
    const config: StoreConfig = { ...defaultStoreConfig(), ...rest };
    checkConfig(config);
    const db = openForWriting(config.dataDir);
    let lock: WriterLock;
    try {
      lock = WriterLock.acquire(config.dataDir);
    } catch (e) {
      db.close();
      throw e;
    }
    const store = new Store(db, config, clock ?? Date.now, false, onFlushError ?? ((e) => {
      process.stderr.write(`flowlens: history flush failed, will retry: ${e instanceof FlowlensError ? e.format() : e.message}\n`);
    }));
    store.lock = lock;
    if (config.flushIntervalMs > 0) {
      store.timer = setInterval(() => {
        try { store.flush(); } catch (e) { store.onFlushError(e as Error); }
      }, config.flushIntervalMs);
      store.timer.unref();
    }
    return store;
  }

  /** Opens an existing store for queries only, safe while a flowlens run writes it. */
  static openReadOnly(options: { dataDir: string; clock?: () => number }): Store {
    const config = { ...defaultStoreConfig(), dataDir: options.dataDir };
    return new Store(openForReading(options.dataDir), config, options.clock ?? Date.now, true, () => {});
  }

  private source(): q.Source {
    if (this.closed) throw new FlowlensError('FLOW_ERR_STORE', 'the history store is closed');
    return { db: this.db, pending: this.pending, now: this.clock(), closed: this.closedSums };
  }

  private writable(): { pending: Pending; writer: Writer } {
    if (this.closed) throw new FlowlensError('FLOW_ERR_STORE', 'the history store is closed');
    if (!this.pending || !this.writer) throw new FlowlensError('FLOW_ERR_STORE', 'this history store was opened read-only');
    return { pending: this.pending, writer: this.writer };
  }

  /** Counts one interval (in memory until the next flush). A bad interval throws and changes nothing. */
  add(stats: IntervalStats): void {
    this.writable().pending.add(stats);
  }

  /** The sessions active now (from the flows stage): the largest liveSessionsLimit go into the live snapshot. */
  setLiveSessions(active: SessionRecord[]): void {
    this.writable();
    const limit = this.config.liveSessionsLimit;
    const chosen = active.length <= limit ? [...active]
      : [...active].sort((a, b) => b.bytesUp + b.bytesDown - (a.bytesUp + a.bytesDown)).slice(0, limit);
    this.live = { at: this.clock(), sessions: chosen };
  }

  /**
   * Writes everything pending in one transaction (src/store/writer.ts), then clears it.
   * On failure nothing is written, the counts stay pending and the error is thrown.
   */
  flush(): FlushResult {
    const { pending, writer } = this.writable();
    const now = this.clock();
    const result: FlushResult = { at: now, traffic: pending.traffic.size, talkers: 0, sessions: pending.sessions.length };
    for (const hour of pending.dirtyHours) for (const m of pending.hours.get(hour)?.values() ?? []) result.talkers += Math.min(m.size, this.config.hourlyTopN + 1);
    const live = pending.windowEnd >= pending.windowStart || this.live
      ? {
        at: now,
        from: Number.isFinite(pending.windowStart) ? pending.windowStart : now,
        to: Number.isFinite(pending.windowEnd) ? pending.windowEnd : now,
        talkers: liveTalkers(pending, this.config.hourlyTopN),
        sessions: this.live?.sessions ?? [],
        sessionsAt: this.live?.at ?? now,
      }
      : null;
    let earliest = Infinity;
    for (const d of pending.traffic.values()) earliest = Math.min(earliest, d.minute * MINUTE_MS);
    writer.flush(pending, live, now);
    this.closedSums?.invalidate(earliest);
    pending.clear(Math.floor((now - HOUR_GRACE_MS) / HOUR_MS));
    return result;
  }

  /** Stops the timer, flushes what is pending and closes the database. */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      if (!this.readOnly) this.flush();
    } finally {
      this.closed = true;
      if (this.readOnly) this.db.close(); else closeWriter(this.db);
      this.lock?.release();
    }
  }

  /** Today, this month, this year (local time): up, down, total. */
  summary(filter: TrafficFilter = {}): Summary {
    return q.summary(this.source(), filter);
  }

  /** Zero-filled buckets of a local date range at hour, day or month granularity. */
  history(query: HistoryQuery): History {
    return q.history(this.source(), query);
  }

  /** history() for a server: long ranges yield to the event loop while their buckets are made; at most maxBuckets. */
  historyInSlices(query: HistoryQuery, maxBuckets: number): Promise<History> {
    return q.historyInSlices(() => this.source(), query, maxBuckets);
  }

  last30Days(filter: TrafficFilter = {}): History {
    return q.last30Days(this.source(), filter);
  }

  last12Months(filter: TrafficFilter = {}): History {
    return q.last12Months(this.source(), filter);
  }

  todayByHour(filter: TrafficFilter = {}): History {
    return q.todayByHour(this.source(), filter);
  }

  /** A billing cycle's use, projection, 95th percentile and breakdown (src/store/usage.ts). */
  usage(billing: BillingConfig, query: UsageQuery = {}): Usage {
    return cycleUsage(this.source(), billing, query);
  }

  /** First and last local date with traffic. */
  dateRange(): DateRange {
    return q.dateRange(this.source());
  }

  /** The largest talkers of a dimension over a range, with "other" so they sum to the total. */
  topTalkers(query: TopQuery): TopTalkers {
    return q.topTalkers(this.source(), query);
  }

  /** The largest talkers of the last flush window (what a running flowlens wrote last); null if none. */
  liveTop(query: { dimension: TalkerDimension; scope?: TalkerScope | ''; limit?: number }): LiveTop | null {
    return q.liveTop(this.source(), query);
  }

  /** A page of ended (the log) or live sessions, filtered and sorted. */
  sessions(query: SessionQuery = {}): SessionPage {
    return sessions(this.source(), query, this.live);
  }
}
