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
import fs from 'node:fs';
import path from 'node:path';
import { TALKER_DIMENSIONS, type IntervalStats, type SessionRecord, type TalkerDimension, type TalkerScope } from '../flows/types.js';
import { FlowlensError } from '../errors.js';
import { defaultStoreConfig, type StoreConfig } from './config.js';
import { Pending } from './pending.js';
import { cycleUsage, type BillingConfig, type Usage, type UsageQuery } from './usage.js';
import * as q from './queries.js';
import { closeWriter, DB_FILE, openForReading, openForWriting, type Db } from './schema.js';
import { devicePeers, sessions, type DevicePeers } from './sessions.js';
import type { DateRange, History, HistoryQuery, LiveTop, SessionPage, SessionQuery, Summary, TopQuery, TopTalkers, TrafficFilter } from './types.js';
import { HOUR_GRACE_MS, liveTalkers, rankForFlush, Writer, type Rankings } from './writer.js';
import { HOUR_MS, MINUTE_MS } from './time.js';
import { WriterLock } from './lock.js';
import { loadDevices, saveDevices } from './devices.js';
import type { StoredDevice } from '../enrich/devices.js';

export { defaultStoreConfig, type StoreConfig } from './config.js';
export type { DevicePeers } from './sessions.js';
export type * from './types.js';
export { DEFAULT_BILLING, cycleBounds, percentile95, type BillingConfig, type Usage, type UsageQuery, type UsageRow } from './usage.js';

export interface StoreOptions extends Partial<StoreConfig> {
  dataDir: string;
  /** Wall clock, epoch ms (tests inject one); default Date.now. */
  clock?: () => number;
  /** A flush on the timer failed (the counts stay pending and are retried); default: one line on stderr. */
  onFlushError?: (e: Error) => void;
}

/**
 * Whether history is being written, and what it could not write. Everything
 * that was not stored is counted here, never only said on stderr.
 */
export interface StoreHealth {
  /** Why the last flush failed (the counts stay pending and are retried), if it did. */
  problem?: string;
  /** Since when flushes have been failing (epoch ms). */
  failingSince?: number;
  /** Traffic waiting to be written (it is written once the disk takes it). */
  pendingTrafficBytes: number;
  pendingSessions: number;
  /** Ended sessions never stored, since start: dropped oldest first while the log could not be written. */
  sessionsShed: number;
  /** Ended sessions deleted from the log (oldest first) to keep it under history.maxDiskSize or to make room on a full disk, since start. */
  sessionsTrimmed: number;
  /** The database file was deleted or replaced while running and recreated: when, and how often since start. */
  recreatedAt?: number;
  recreated: number;
}

/** Ended sessions held in memory at most while the log cannot be written; the oldest beyond go (counted). */
export const PENDING_SESSIONS_LIMIT = 100_000;
/** Sessions per transaction: a full disk fails one batch, not the whole backlog. */
const SESSION_BATCH = 1_000;
/** Oldest sessions deleted at once when the disk is full or the cap is reached. */
const TRIM_BATCH = 500;
/**
 * A file of this size is kept beside the database as room to give back when the
 * disk is full: SQLite needs a little free space even to delete (its WAL), so
 * without it the oldest sessions could not be deleted to make room.
 */
const RESERVE_FILE = 'flowlens.reserve';
const RESERVE_BYTES = 1 << 20;
/** How long health stays degraded after the database file was recreated. */
const RECREATED_NOTICE_MS = 3_600_000;

function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || (e as NodeJS.ErrnoException).code === 'ENOSPC';
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
  whole('maxDiskBytes', 0);
}

export class Store {
  private readonly pending: Pending | null;
  private readonly closedSums: q.ClosedSums | null;
  private writer: Writer | null;
  /** The database file's identity at open: a different one (or none) means it was deleted or replaced. */
  private inode = 0;
  private readonly state: StoreHealth & { sessionProblem?: string } = { pendingTrafficBytes: 0, pendingSessions: 0, sessionsShed: 0, sessionsTrimmed: 0, recreated: 0 };
  private timer: NodeJS.Timeout | null = null;
  /** While the timer's flush is in turns (flushSteps): the intervals added meanwhile, for the next flush. */
  private late: IntervalStats[] | undefined;
  /** The next turn of the timer's flush (flushInTurns), while one is due. */
  private flushing: NodeJS.Immediate | null = null;
  private live: { at: number; sessions: SessionRecord[] } | null = null;
  private closed = false;
  /** The writer's claim on the data directory (none for readers). */
  private lock: WriterLock | null = null;

  private constructor(
    private db: Db,
    readonly config: StoreConfig,
    private readonly clock: () => number,
    readonly readOnly: boolean,
    private readonly onFlushError: (e: Error) => void,
  ) {
    const writer = readOnly ? null : new Writer(db, config);
    this.writer = writer;
    this.pending = writer ? new Pending(config.pendingKeysLimit, (hour) => this.writer!.loadTalkerHour(hour)) : null;
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
    store.inode = store.fileInode();
    store.reserve();
    if (config.flushIntervalMs > 0) {
      store.timer = setInterval(() => store.flushInTurns(), config.flushIntervalMs);
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
    // queries read the held hours: with every interval added so far
    this.addLate();
    this.pending?.settle();
    return { db: this.db, pending: this.pending, now: this.clock(), closed: this.closedSums };
  }

  private writable(): { pending: Pending; writer: Writer } {
    if (this.closed) throw new FlowlensError('FLOW_ERR_STORE', 'the history store is closed');
    if (!this.pending || !this.writer) throw new FlowlensError('FLOW_ERR_STORE', 'this history store was opened read-only');
    return { pending: this.pending, writer: this.writer };
  }

  /** Counts one interval (in memory until the next flush). A bad interval throws and changes nothing. */
  add(stats: IntervalStats): void {
    const { pending } = this.writable();
    if (this.late) {
      // a flush in turns is under way: checked now, counted after its write (addLate)
      pending.admit(stats);
      this.late.push(stats);
      return;
    }
    pending.add(stats);
    this.state.sessionsShed += pending.capSessions(PENDING_SESSIONS_LIMIT);
  }

  /**
   * Counts the intervals that came during a flush in turns (admitted, so
   * their add cannot be refused); they go to the next flush. A reader or a
   * flush at once takes them first: it counts every interval added.
   */
  private addLate(): void {
    const late = this.late;
    if (!late?.length) return;
    this.late = [];
    const { pending } = this.writable();
    for (const stats of late) pending.add(stats);
    this.state.sessionsShed += pending.capSessions(PENDING_SESSIONS_LIMIT);
  }

  /** Whether history is being written, and what is not (see StoreHealth). */
  health(): StoreHealth {
    const pending = this.pending;
    const recent = this.state.recreatedAt !== undefined && this.clock() - this.state.recreatedAt < RECREATED_NOTICE_MS;
    const { sessionProblem, ...state } = this.state;
    const problem = this.state.problem ?? sessionProblem ?? (recent
      ? `${path.join(this.config.dataDir, DB_FILE)} was deleted or replaced while running and was recreated at ${new Date(this.state.recreatedAt!).toISOString()}: the history before that is not in it`
      : undefined);
    return {
      ...state,
      ...(problem ? { problem } : {}),
      pendingTrafficBytes: pending?.trafficPending().bytes ?? 0,
      pendingSessions: pending?.sessions.length ?? 0,
    };
  }

  private fileInode(): number {
    try {
      return fs.statSync(path.join(this.config.dataDir, DB_FILE)).ino;
    } catch {
      return 0;
    }
  }

  /**
   * Before each flush: is our file still the one at the path? Deleted (rm
   * flowlens.db*) or replaced, our connection writes into a file nobody will
   * ever read: open a new one there, and say so loudly.
   */
  private checkFile(): void {
    const now = this.fileInode();
    if (now !== 0 && now === this.inode) return;
    const file = path.join(this.config.dataDir, DB_FILE);
    try { this.db.close(); } catch { /* it is gone anyway */ }
    this.db = openForWriting(this.config.dataDir);
    this.writer = new Writer(this.db, this.config);
    this.inode = this.fileInode();
    this.closedSums?.invalidate(-Infinity);
    this.state.recreated++;
    this.state.recreatedAt = this.clock();
    process.stderr.write(`flowlens: ${file} was ${now === 0 ? 'deleted' : 'replaced'} while flowlens was running: recreated it; ` +
      `history from now on is stored in the new file, what the old one held is not in it\n`);
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
   * Writes what is pending: first the traffic and talkers (one small
   * transaction; on failure nothing of it is written, it stays pending and the
   * error is thrown), then the ended sessions (in batches; on a full disk they
   * wait, bounded, and the oldest are dropped, counted), then the pruning.
   */
  flush(): FlushResult {
    return this.flushRanked(undefined);
  }

  /** flush(), with the rankings made in turns before (flushSteps) if they are of the state it writes. */
  private flushRanked(before: { version: number; ranked: Rankings } | undefined): FlushResult {
    const { pending } = this.writable();
    // a flush at once has every interval added; the timer's in turns (before) those before it began
    if (!before) this.addLate();
    pending.settle();
    const ranked = before && before.version === pending.version ? before.ranked : new Map() as Rankings;
    const now = this.clock();
    const result: FlushResult = { at: now, traffic: pending.traffic.size, talkers: 0, sessions: 0 };
    try {
      this.checkFile();
      for (const hour of pending.dirtyHours) for (const m of pending.hours.get(hour)?.values() ?? []) result.talkers += Math.min(m.size, this.config.hourlyTopN + 1);
      const live = pending.windowEnd >= pending.windowStart || this.live
        ? {
          at: now,
          from: Number.isFinite(pending.windowStart) ? pending.windowStart : now,
          to: Number.isFinite(pending.windowEnd) ? pending.windowEnd : now,
          talkers: liveTalkers(pending, this.config.hourlyTopN, ranked),
          sessions: this.live?.sessions ?? [],
          sessionsAt: this.live?.at ?? now,
        }
        : null;
      let earliest = Infinity;
      for (const d of pending.traffic.values()) earliest = Math.min(earliest, d.minute * MINUTE_MS);
      this.withRoom(() => this.writer!.flushCounts(pending, live, now, ranked));
      this.closedSums?.invalidate(earliest);
      pending.clearCounts(Math.floor((now - HOUR_GRACE_MS) / HOUR_MS));
      result.sessions = this.flushSessions(pending);
      this.withRoom(() => this.writer!.prune(now));
      this.checkpoint();
      this.reserve();
    } catch (e) {
      this.state.problem = `${e instanceof FlowlensError ? e.message : (e as Error).message}`;
      this.state.failingSince ??= now;
      throw e;
    }
    this.state.problem = undefined;
    this.state.failingSince = undefined;
    return result;
  }

  /**
   * Runs a write; when the disk is full (or the log is over history.maxDiskSize),
   * deletes the oldest ended sessions first and tries once more (with the
   * reserve file given back, so that the delete itself has room): the session
   * log never takes the traffic history down with it.
   */
  private withRoom<T>(write: () => T): T {
    if (this.overCap() || this.lowSpace()) {
      this.trim();
      this.checkpoint();
    }
    try {
      return write();
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      fs.rmSync(path.join(this.config.dataDir, RESERVE_FILE), { force: true });
      this.checkpoint();
      if (this.trim() === 0) throw e;
      this.checkpoint();
      return write();
    }
  }

  /** Moves the WAL into the database and truncates it, so the WAL never holds the disk's free space. */
  private checkpoint(): void {
    try { this.db.pragma('wal_checkpoint(TRUNCATE)'); } catch { /* a reader holds it, or no room: next time */ }
  }

  /** (Re)creates the reserve file when there is room for it. */
  private reserve(): void {
    const file = path.join(this.config.dataDir, RESERVE_FILE);
    try {
      if (fs.statSync(file).size === RESERVE_BYTES) return;
    } catch { /* not there */ }
    try {
      fs.writeFileSync(file, Buffer.alloc(RESERVE_BYTES));
    } catch {
      fs.rmSync(file, { force: true });
    }
  }

  /**
   * Deletes the oldest ended sessions (counted); 0 when the log is empty or
   * the delete failed too. Smaller steps when a large delete does not fit in
   * what the disk has left (each deleted row touches every index).
   */
  private trim(): number {
    for (const rows of [TRIM_BATCH, TRIM_BATCH / 10, TRIM_BATCH / 100]) {
      try {
        const n = this.writer!.trimSessionLog(rows);
        this.state.sessionsTrimmed += n;
        return n;
      } catch { /* try fewer */ }
    }
    return 0;
  }

  /**
   * Whether the filesystem is nearly full (less than twice the reserve free):
   * the session log then waits (bounded in memory, the oldest dropped), so it
   * never takes the last free space the traffic and the WAL need.
   */
  private lowSpace(): boolean {
    try {
      const st = fs.statfsSync(this.config.dataDir);
      return st.bavail * st.bsize < 2 * RESERVE_BYTES;
    } catch {
      return false;
    }
  }

  private overCap(): boolean {
    const cap = this.config.maxDiskBytes;
    if (!cap) return false;
    let used = 0;
    for (const f of [DB_FILE, `${DB_FILE}-wal`]) {
      try { used += fs.statSync(path.join(this.config.dataDir, f)).size; } catch { /* none */ }
    }
    return used > cap;
  }

  /**
   * Writes the pending ended sessions in batches; returns how many were
   * written. A full disk leaves the rest pending (at most
   * PENDING_SESSIONS_LIMIT, the oldest beyond dropped and counted) and says so
   * in health(); the traffic is already written.
   */
  private flushSessions(pending: Pending): number {
    let written = 0;
    this.state.sessionProblem = undefined;
    while (pending.sessions.length) {
      // checked before every batch: a batch must never take the last free space (the WAL needs it)
      if (this.lowSpace() && (this.trim() === 0 || (this.checkpoint(), this.lowSpace()))) {
        this.state.sessionProblem = `the disk of ${this.config.dataDir} is nearly full and the session log has nothing left to delete: ` +
          `${pending.sessions.length} ended sessions wait, the oldest are dropped beyond ${PENDING_SESSIONS_LIMIT}`;
        break;
      }
      const batch = pending.sessions.slice(0, SESSION_BATCH);
      try {
        this.withRoom(() => this.writer!.insertSessions(batch));
      } catch (e) {
        if (!isDiskFull(e)) throw e;
        this.state.sessionProblem = `the session log cannot be written (${(e as Error).message}): ${pending.sessions.length} ended sessions wait, the oldest are dropped beyond ${PENDING_SESSIONS_LIMIT}`;
        break;
      }
      pending.sessions.splice(0, batch.length);
      written += batch.length;
    }
    return written;
  }

  /**
   * The timer's flush, in turns of the event loop (flushSteps), so that none
   * holds the APIs for long: at 100k talker keys the whole flush was one or
   * two turns of 60–380 ms.
   */
  private flushInTurns(): void {
    if (this.flushing) return;
    const steps = this.flushSteps();
    const next = () => {
      this.flushing = null;
      if (this.closed) return;
      try {
        if (steps.next().done) return;
      } catch (e) {
        this.onFlushError(e as Error);
        return;
      }
      this.flushing = setImmediate(next);
    };
    next();
  }

  /**
   * The flush as steps, a turn each: the talkers added since the last flush
   * settled into the held hours and the live window a slice at a time
   * (Pending.settleSlice), the sets it writes ranked (rankForFlush), then the
   * writes. It writes what was added before it began: intervals that come
   * meanwhile wait (Store.late) and go to the next flush, traffic and talkers
   * alike, so the database never holds an interval's traffic without its
   * talkers. On the monitor's busy gateway turns the steps spread over most
   * of a second, and an interval came during most flushes.
   */
  private *flushSteps(): Generator<void, void, void> {
    const { pending } = this.writable();
    this.late = [];
    try {
      for (const d of TALKER_DIMENSIONS) while (!pending.settleSlice(d)) yield;
      const version = pending.version;
      const ranked: Rankings = new Map();
      yield* rankForFlush(pending, this.config.hourlyTopN, ranked);
      yield;
      // a reader that came meanwhile counted the late intervals, and the rankings are of less:
      // then everything is settled, ranked and written at once
      if (pending.version === version) this.flushRanked({ version, ranked });
      else this.flush();
    } finally {
      this.addLate();
      this.late = undefined;
    }
  }

  /**
   * Stops the timer, flushes what is pending and closes the database. If the
   * last flush fails, the error says what was not stored.
   */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    try {
      if (!this.readOnly) {
        // a flush in turns stops here: what came during it is counted, and this flush writes it all
        this.addLate();
        this.late = undefined;
        try {
          this.flush();
        } catch (e) {
          const h = this.health();
          const traffic = this.pending!.trafficPending();
          throw new FlowlensError('FLOW_ERR_STORE', `the last history flush failed: ${(e as Error).message}; not stored: ` +
            `${traffic.bytes} bytes (${traffic.packets} packets) of traffic, ${h.pendingSessions} ended sessions` +
            `${h.sessionsShed ? ` (and ${h.sessionsShed} sessions dropped earlier)` : ''}`,
          'see that the data directory is writable and has free space');
        }
        // the held hours whole, for the next writer (on failure it continues from the cut rows: totals stay exact)
        try {
          this.writer!.saveOpenHours(this.pending!);
        } catch (e) {
          process.stderr.write(`flowlens: could not keep this hour's talkers whole for the next start (${(e as Error).message}): keys in "other" stay there\n`);
        }
      }
    } finally {
      this.closed = true;
      if (this.readOnly) this.db.close(); else closeWriter(this.db);
      this.lock?.release();
    }
  }

  /** Replaces the stored rows of these devices (what the device table learned). */
  saveDevices(rows: StoredDevice[]): void {
    this.writable();
    this.withRoom(() => saveDevices(this.db, rows));
  }

  /** Every stored device, most recently seen first (read-only stores too: `flowlens devices`). */
  loadDevices(): StoredDevice[] {
    return loadDevices(this.source().db);
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
  liveTop(query: { dimension: TalkerDimension; scope?: TalkerScope | ''; direction?: string; limit?: number }): LiveTop | null {
    return q.liveTop(this.source(), query);
  }

  /** Per local host: the countries, ASNs and domains of its sessions that ended since `from` (epoch ms). */
  devicePeers(from: number): DevicePeers[] {
    return devicePeers(this.source(), from);
  }

  /** A page of ended (the log) or live sessions, filtered and sorted. */
  sessions(query: SessionQuery = {}): SessionPage {
    return sessions(this.source(), query, this.live);
  }
}
