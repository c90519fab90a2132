/**
 * One flush, in separate transactions so that the small and important part
 * never waits on the large one:
 *  1. the counts: traffic deltas as additive upserts (per minute and per
 *     quarter hour), the talkers of every hour changed since the last flush as
 *     that hour's top N plus "other" (replacing what the hour held: the writer
 *     holds the whole hour in memory, so the rows are absolute and rewriting
 *     them is idempotent), and the live snapshot — a few hundred rows;
 *  2. ended sessions as inserts (ignored if already there), in batches: on a
 *     busy gateway thousands a second, the part that fills a disk;
 *  3. pruning of old minutes and sessions.
 * If the process dies mid-transaction, SQLite rolls it back: nothing of it
 * counts, and the caller still holds the pending part (it clears it only
 * after commit).
 *
 * Why talkers are not additive deltas: a busy gateway sees ~10k remote addresses
 * a second, hundreds of thousands of keys per flush window; upserting each costs
 * seconds of event loop per flush. Writing the hour's top N costs N rows per
 * dimension, whatever the traffic.
 */
import type { Statement } from 'better-sqlite3';
import { TALKER_SETS, type SessionRecord, type TalkerSet } from '../flows/types.js';
import { addressBytes } from '../net/address-bytes.js';
import type { StoreConfig } from './config.js';
import type { Pending } from './pending.js';
import { TalkerSums } from '../flows/talker-sums.js';
import { isZero, OTHER_KEY, STORED_COUNTERS, TopKeeper, topN, zeroCounts, type TalkerCounts, type TalkerMap } from '../flows/talkers.js';
import type { Db } from './schema.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, QUARTER_MS } from './time.js';

/** UTC hours per talker_day row. */
const DAY_HOURS = 24;

/** An hour is dropped from memory this long after it ends: intervals of its last moments may still arrive. */
export const HOUR_GRACE_MS = 2 * MINUTE_MS;

export interface LiveSnapshot {
  at: number;
  from: number;
  to: number;
  talkers: Partial<Record<TalkerSet, Array<[string, TalkerCounts]>>>;
  sessions: SessionRecord[];
  /** When the flows stage handed the sessions over. */
  sessionsAt: number;
}

export class Writer {
  private readonly upMinute: Statement;
  private readonly upQuarter: Statement;
  private readonly clearHour: Statement;
  private readonly putTalker: Statement;
  private readonly loadHour: Statement;
  private readonly insSession: Statement;
  private readonly pruneMinutes: Statement;
  private readonly pruneSessions: Statement;
  private readonly putLive: Statement;
  private readonly trimSessions: Statement;
  private readonly sumDay: Statement;
  private readonly clearDay: Statement;
  private readonly putDay: Statement;
  private readonly markDay: Statement;
  private readonly clearOpen: Statement;
  private readonly putOpen: Statement;
  private readonly loadOpen: Statement;
  private readonly clearOpenSet: Statement;
  private readonly putOpenKey: Statement;
  private readonly dropOpenBefore: Statement;
  /** The last complete UTC day the rollup has looked at (days up to it that have hours are rolled up). */
  private rolledThrough: number | undefined;

  constructor(private readonly db: Db, private readonly config: StoreConfig) {
    const traffic = (table: string, unit: string) => db.prepare(
      `INSERT INTO ${table} (${unit}, iface, direction, scope, bytes, packets) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET bytes = bytes + excluded.bytes, packets = packets + excluded.packets`);
    this.upMinute = traffic('traffic_minute', 'minute');
    this.upQuarter = traffic('traffic_quarter', 'quarter');
    this.clearHour = db.prepare(`DELETE FROM talker_hour WHERE dimension = ? AND hour = ?`);
    const columns = STORED_COUNTERS.map(([, column]) => column).join(', ');
    this.putTalker = db.prepare(
      `INSERT INTO talker_hour (hour, dimension, key, label, ${columns}) VALUES (?, ?, ?, ?, ${STORED_COUNTERS.map(() => '?').join(', ')})`);
    // per dimension: the primary key (dimension, hour, key) makes each a range read, not a table scan
    this.loadHour = db.prepare(`SELECT dimension, key, label, ${columns} FROM talker_hour WHERE dimension = ? AND hour = ?`);
    this.insSession = db.prepare(
      `INSERT OR IGNORE INTO session_log (id, first_seen, last_seen, iface, protocol, protocol_name, local, local_port,
         remote, remote_port, local_bin, remote_bin, scope, initiator, state, bytes_up, bytes_down, packets_up, packets_down,
         tcp_flags_up, tcp_flags_down, domain, country, city, asn, as_org, end_reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.pruneMinutes = db.prepare(`DELETE FROM traffic_minute WHERE minute < ?`);
    this.pruneSessions = db.prepare(`DELETE FROM session_log WHERE last_seen < ?`);
    this.putLive = db.prepare(`INSERT OR REPLACE INTO live (kind, at, body) VALUES (?, ?, ?)`);
    this.trimSessions = db.prepare(`DELETE FROM session_log WHERE rowid IN (SELECT rowid FROM session_log ORDER BY last_seen LIMIT ?)`);
    this.sumDay = db.prepare(
      `SELECT key, max(hour) AS last, label, ${STORED_COUNTERS.map(([, c]) => `sum(${c}) AS ${c}`).join(', ')}
       FROM talker_hour WHERE dimension = ? AND hour >= ? AND hour < ? GROUP BY key`);
    this.clearDay = db.prepare(`DELETE FROM talker_day WHERE day = ?`);
    this.putDay = db.prepare(
      `INSERT INTO talker_day (day, dimension, key, label, ${columns}) VALUES (?, ?, ?, ?, ${STORED_COUNTERS.map(() => '?').join(', ')})`);
    this.markDay = db.prepare(`INSERT OR IGNORE INTO talker_day_done (day) VALUES (?)`);
    this.clearOpen = db.prepare(`DELETE FROM talker_hour_open`);
    this.putOpen = db.prepare(
      `INSERT INTO talker_hour_open (hour, dimension, key, label, ${columns}) VALUES (?, ?, ?, ?, ${STORED_COUNTERS.map(() => '?').join(', ')})`);
    this.loadOpen = db.prepare(`SELECT dimension, key, label, ${columns} FROM talker_hour_open WHERE dimension = ? AND hour = ?`);
    this.clearOpenSet = db.prepare(`DELETE FROM talker_hour_open WHERE dimension = ? AND hour = ?`);
    this.putOpenKey = db.prepare(
      `INSERT OR REPLACE INTO talker_hour_open (hour, dimension, key, label, ${columns}) VALUES (?, ?, ?, ?, ${STORED_COUNTERS.map(() => '?').join(', ')})`);
    this.dropOpenBefore = db.prepare(`DELETE FROM talker_hour_open WHERE hour < ?`);
  }

  /**
   * On a clean stop, after the last flush: every key of the hours still held,
   * not only their top N, so that the next writer continues such an hour whole
   * and a key that grows after the restart keeps the bytes it had before (with
   * only the cut rows, they would stay in "other"). Each flush keeps the same
   * state up to date for the keys it changed (writeOpenState), so a kill -9
   * loses only what came after the last flush.
   */
  saveOpenHours(pending: Pending): void {
    pending.settle();
    this.db.transaction(() => {
      this.clearOpen.run();
      for (const [hour, sets] of pending.hours) {
        for (const [dim, m] of sets) for (const [key, a] of m) this.putOpen.run(hour, dim, key, a.label ?? null, ...storedValues(a));
      }
    })();
  }

  /**
   * In each flush's transaction: the held hours' whole state, as far as it
   * changed (Pending.changedKeys), so that a restart after kill -9 continues
   * each key with the bytes it had at the last flush, not only the cut rows.
   * A set past OPEN_KEYS_LIMIT is dropped from it and continues from its cut
   * rows (the totals are exact either way).
   */
  private writeOpenState(pending: Pending): void {
    for (const hour of pending.dirtyHours) {
      const sets = pending.hours.get(hour);
      const changed = pending.changedKeys.get(hour);
      if (!sets || !changed) continue;
      for (const [dim, m] of sets) {
        const c = changed.get(dim);
        if (c === null || c === 'all') this.clearOpenSet.run(dim, hour);
        if (c === null) continue;
        const put = (key: string, a: TalkerCounts) => this.putOpenKey.run(hour, dim, key, a.label ?? null, ...storedValues(a));
        if (c === 'all') for (const [key, a] of m) put(key, a);
        else for (const key of c ?? []) { const a = m.get(key); if (a) put(key, a); }
      }
    }
  }

  /**
   * Rolls up one complete UTC day: per dimension, its hours' rows summed by key,
   * the top N kept and the rest (with the hours' "other") in "other" — so the
   * day sums exactly to its hours. Replaces what the day held (idempotent).
   */
  private rollUpDay(day: number): void {
    this.clearDay.run(day);
    for (const dim of TALKER_SETS) {
      const m: TalkerMap = new Map();
      for (const r of this.sumDay.all(dim, day * DAY_HOURS, (day + 1) * DAY_HOURS) as Array<Record<string, number> & { key: string; label: string | null }>) {
        const counts = zeroCounts();
        for (const [name, column] of STORED_COUNTERS) counts[name] = r[column]!;
        if (r.label !== null) counts.label = r.label;
        m.set(r.key, counts);
      }
      if (!m.size) continue;
      const { top, rest } = topN(m, this.config.hourlyTopN);
      for (const [key, a] of top) this.putDay.run(day, dim, key, a.label ?? null, ...storedValues(a));
      if (!isZero({ ...rest, sessions: 0 })) this.putDay.run(day, dim, OTHER_KEY, null, ...storedValues(rest));
    }
    this.markDay.run(day);
  }

  /**
   * The days to roll up in this flush: a complete day (ended at least
   * HOUR_GRACE_MS ago: its late intervals are in) whose hours this flush
   * rewrote (a late interval after a restart), every day completed since the
   * last flush, and at the first flush every complete day with hours and no
   * rollup (a database from before the rollup, or a writer that died at midnight).
   */
  private daysToRollUp(pending: Pending, now: number): number[] {
    const complete = Math.floor((now - HOUR_GRACE_MS) / DAY_MS) - 1;
    const days = new Set<number>();
    for (const hour of pending.dirtyHours) {
      const d = Math.floor(hour / DAY_HOURS);
      if (d <= complete) days.add(d);
    }
    if (this.rolledThrough === undefined) {
      // days with traffic, from the small quarter-hour table (a scan of talker_hour would read every row of every set)
      const missing = this.db.prepare(
        `SELECT DISTINCT quarter / ${DAY_HOURS * 4} AS day FROM traffic_quarter WHERE quarter < ?
         AND quarter / ${DAY_HOURS * 4} NOT IN (SELECT day FROM talker_day_done)`).all((complete + 1) * DAY_HOURS * 4) as Array<{ day: number }>;
      for (const { day } of missing) days.add(day);
    } else {
      for (let d = this.rolledThrough + 1; d <= complete; d++) days.add(d);
    }
    this.rolledThrough = complete;
    return [...days].sort((a, b) => a - b);
  }

  /**
   * Writes the traffic and talkers of `pending` and the live snapshot, in one
   * transaction. Throws (and changes nothing) on failure. `ranked`: the top N
   * of sets ranked before (rankForFlush), for this same state of `pending`.
   */
  flushCounts(pending: Pending, live: LiveSnapshot | null, now = Date.now(), ranked: Rankings = new Map()): void {
    const before = this.rolledThrough;
    const write = this.db.transaction(() => {
      const quarters = new Map<string, [number, string, string, string, number, number]>();
      for (const d of pending.traffic.values()) {
        this.upMinute.run(d.minute, d.iface, d.direction, d.scope, d.bytes, d.packets);
        const quarter = Math.floor((d.minute * MINUTE_MS) / QUARTER_MS);
        const k = `${quarter}|${d.iface}|${d.direction}|${d.scope}`;
        const q = quarters.get(k);
        if (q) {
          q[4] += d.bytes;
          q[5] += d.packets;
        } else {
          quarters.set(k, [quarter, d.iface, d.direction, d.scope, d.bytes, d.packets]);
        }
      }
      for (const q of quarters.values()) this.upQuarter.run(...q);
      for (const hour of pending.dirtyHours) {
        // a scope's set may share all traffic's map (pending.ts shareByRows): ranked once
        for (const [dim, m] of pending.hours.get(hour) ?? []) {
          this.clearHour.run(dim, hour);
          let r = ranked.get(m);
          if (!r) ranked.set(m, (r = topN(m, this.config.hourlyTopN)));
          const { top, rest } = r;
          for (const [key, a] of top) this.putTalker.run(hour, dim, key, a.label ?? null, ...storedValues(a));
          if (!isZero({ ...rest, sessions: 0 })) this.putTalker.run(hour, dim, OTHER_KEY, null, ...storedValues(rest));
        }
      }
      this.writeOpenState(pending);
      for (const day of this.daysToRollUp(pending, now)) this.rollUpDay(day);
      if (live) {
        this.putLive.run('talkers', live.at, JSON.stringify({ from: live.from, to: live.to, talkers: live.talkers }));
        this.putLive.run('sessions', live.sessionsAt, JSON.stringify(live.sessions));
      }
    });
    try {
      write();
    } catch (e) {
      this.rolledThrough = before;  // rolled back: the same days again next time
      throw e;
    }
  }

  /** Inserts ended sessions in one transaction. Throws (and changes nothing) on failure. */
  insertSessions(sessions: readonly SessionRecord[]): void {
    this.db.transaction(() => {
      for (const s of sessions) this.insSession.run(sessionParams(s));
    })();
  }

  /** Deletes minutes and sessions older than their retention. */
  prune(now: number): void {
    this.db.transaction(() => {
      this.pruneMinutes.run(Math.floor((now - this.config.minuteRetentionDays * DAY_MS) / MINUTE_MS));
      this.pruneSessions.run(now - this.config.sessionLogDays * DAY_MS);
      // finished hours' open state: kept a day for a late interval, then the hour's cut rows are all it needs
      this.dropOpenBefore.run(Math.floor(now / HOUR_MS) - DAY_HOURS);
    })();
  }

  /** Deletes the `rows` oldest ended sessions (by last packet): room in the file under disk pressure. Returns how many. */
  trimSessionLog(rows: number): number {
    return this.db.transaction(() => this.trimSessions.run(rows).changes)();
  }

  /**
   * What the database holds for an hour's talkers: the state a writer continues
   * from — per set, every key as of the last flush or clean stop
   * (talker_hour_open, kept in step with talker_hour in the same transactions),
   * else the set's top N + "other".
   */
  loadTalkerHour(hour: number): Map<TalkerSet, TalkerMap> {
    return this.db.transaction(() => this.toSets(TALKER_SETS.flatMap((d) => {
      const open = this.loadOpen.all(d, hour);
      return open.length ? open : this.loadHour.all(d, hour);
    })))();
  }

  private toSets(rows: unknown[]): Map<TalkerSet, TalkerMap> {
    const dims = new Map<TalkerSet, TalkerMap>();
    for (const r of rows as Array<Record<string, number> & { dimension: TalkerSet; key: string; label: string | null }>) {
      let m = dims.get(r.dimension);
      if (!m) dims.set(r.dimension, (m = new Map()));
      const counts = zeroCounts();
      for (const [name, column] of STORED_COUNTERS) counts[name] = r[column]!;
      if (r.label !== null) counts.label = r.label;
      m.set(r.key, counts);
    }
    return dims;
  }
}

/** A talker's stored counters, in STORED_COUNTERS order. */
function storedValues(a: TalkerCounts): number[] {
  return STORED_COUNTERS.map(([name]) => a[name]);
}

function sessionParams(s: SessionRecord): unknown[] {
  return [s.id, s.firstSeen, s.lastSeen, s.iface, s.protocol, s.protocolName, s.local, s.localPort, s.remote, s.remotePort,
    addressBytes(s.local), addressBytes(s.remote), s.scope, s.initiator, s.state, s.bytesUp, s.bytesDown, s.packetsUp, s.packetsDown,
    s.tcpFlagsUp, s.tcpFlagsDown, s.domain ?? null, s.country ?? null, s.city ?? null, s.asn ?? null, s.asOrg ?? null, s.endReason ?? null];
}

/** The top `n` keys of each dimension added since the last flush, with "other" last (the live window). */
export function liveTalkers(pending: Pending, n: number, ranked: Rankings = new Map()): LiveSnapshot['talkers'] {
  const out: LiveSnapshot['talkers'] = {};
  // sets that share a map (pending.ts shareByRows) share its ranking
  const rowsOf = new Map<TalkerMap | TalkerSums, Array<[string, TalkerCounts]>>();
  for (const [dim, m] of [...pending.window, ...pending.windowSums]) {
    let rows = rowsOf.get(m);
    if (!rows) {
      let r = ranked.get(m);
      if (!r) ranked.set(m, (r = topN(m instanceof TalkerSums ? m.entries() : m, n)));
      rowsOf.set(m, (rows = [...r.top, [OTHER_KEY, r.rest]]));
    }
    out[dim] = rows;
  }
  return out;
}

/** Sets' top N (topN), by the map or sums ranked: made once per flush, also when sets share one. */
export type Rankings = Map<TalkerMap | TalkerSums, ReturnType<typeof topN>>;

/** Keys ranked (or made a map of) per turn of rankForFlush. */
const RANK_SLICE_KEYS = 20_000;

/**
 * The rankings a flush makes (the held hours' changed sets, the live window's),
 * in steps of RANK_SLICE_KEYS keys, a yield between: at 100k remote addresses
 * these were most of a flush's last turn (60–140 ms). A window's sums are made
 * a map first (each key once, as liveTalkers ranks them). The rankings hold
 * for the state of `pending` they were made from (Pending.version): if it
 * changes between steps (something settled), the ranking stops, incomplete.
 */
export function* rankForFlush(pending: Pending, n: number, ranked: Rankings): Generator<void, void, void> {
  const version = pending.version;
  const sets = new Set<TalkerMap | TalkerSums>();
  for (const hour of pending.dirtyHours) for (const m of pending.hours.get(hour)?.values() ?? []) sets.add(m);
  for (const m of pending.window.values()) sets.add(m);
  for (const m of pending.windowSums.values()) sets.add(m);
  for (const m of sets) {
    if (ranked.has(m)) continue;
    let entries: TalkerMap = m as TalkerMap;
    if (m instanceof TalkerSums) {
      entries = new Map();
      for (const _ of m.mapSteps(entries, RANK_SLICE_KEYS)) {
        yield;
        if (pending.version !== version) return;
      }
    }
    const keeper = new TopKeeper(n);
    let i = 0;
    for (const e of entries) {
      keeper.offer(e);
      if (++i % RANK_SLICE_KEYS === 0) {
        yield;
        if (pending.version !== version) return;
      }
    }
    ranked.set(m, keeper.result());
  }
}
