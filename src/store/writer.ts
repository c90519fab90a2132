/**
 * One flush: every pending delta written in ONE transaction as additive upserts,
 * plus the upkeep that belongs with it (cutting finished hours to the top N,
 * pruning old minutes and sessions, replacing the live snapshot). If the process
 * dies mid-transaction, SQLite rolls it back: nothing of it counts, and the
 * caller still holds the pending part (it clears it only after commit).
 */
import type { Statement } from 'better-sqlite3';
import type { SessionRecord, TalkerDimension } from '../flows/types.js';
import { addressBytes } from '../net/address-bytes.js';
import type { StoreConfig } from './config.js';
import { addAcc, byBytes, emptyAcc, OTHER_KEY, type Pending, type TalkerAcc, type TalkerMap } from './pending.js';
import type { Db } from './schema.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, QUARTER_MS } from './time.js';

/** A finished hour is cut to its top N this long after it ends: intervals of its last moments may still arrive. */
const HOUR_GRACE_MS = 2 * MINUTE_MS;

export interface LiveSnapshot {
  at: number;
  from: number;
  to: number;
  talkers: Partial<Record<TalkerDimension, Array<[string, TalkerAcc]>>>;
  sessions: SessionRecord[];
  /** When the flows stage handed the sessions over. */
  sessionsAt: number;
}

export class Writer {
  private readonly upMinute: Statement;
  private readonly upQuarter: Statement;
  private readonly upTalker: Statement;
  private readonly openHour: Statement;
  private readonly insSession: Statement;
  private readonly pruneMinutes: Statement;
  private readonly pruneSessions: Statement;
  private readonly openHours: Statement;
  private readonly foldHour: Statement;
  private readonly cutHour: Statement;
  private readonly closeHour: Statement;
  private readonly putLive: Statement;

  constructor(private readonly db: Db, private readonly config: StoreConfig) {
    const traffic = (table: string, unit: string) => db.prepare(
      `INSERT INTO ${table} (${unit}, iface, direction, scope, bytes, packets) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET bytes = bytes + excluded.bytes, packets = packets + excluded.packets`);
    this.upMinute = traffic('traffic_minute', 'minute');
    this.upQuarter = traffic('traffic_quarter', 'quarter');
    this.upTalker = db.prepare(
      `INSERT INTO talker_hour (hour, dimension, key, label, bytes_up, bytes_down, packets_up, packets_down, connections)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET label = coalesce(excluded.label, label),
         bytes_up = bytes_up + excluded.bytes_up, bytes_down = bytes_down + excluded.bytes_down,
         packets_up = packets_up + excluded.packets_up, packets_down = packets_down + excluded.packets_down,
         connections = connections + excluded.connections`);
    this.openHour = db.prepare(`INSERT OR IGNORE INTO talker_open (hour) VALUES (?)`);
    this.insSession = db.prepare(
      `INSERT OR IGNORE INTO session_log (id, first_seen, last_seen, iface, protocol, protocol_name, local, local_port,
         remote, remote_port, local_bin, remote_bin, scope, initiator, state, bytes_up, bytes_down, packets_up, packets_down,
         tcp_flags_up, tcp_flags_down, domain, country, city, asn, as_org, end_reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.pruneMinutes = db.prepare(`DELETE FROM traffic_minute WHERE minute < ?`);
    this.pruneSessions = db.prepare(`DELETE FROM session_log WHERE last_seen < ?`);
    this.openHours = db.prepare(`SELECT hour FROM talker_open WHERE hour < ? ORDER BY hour`);
    // rows ranked below N (per dimension) are summed into the "other" row, then deleted
    const ranked = `SELECT dimension, key, bytes_up, bytes_down, packets_up, packets_down, connections,
         row_number() OVER (PARTITION BY dimension ORDER BY bytes_up + bytes_down DESC, key) AS rank
       FROM talker_hour WHERE hour = @hour AND key <> ''`;
    this.foldHour = db.prepare(
      `INSERT INTO talker_hour (hour, dimension, key, label, bytes_up, bytes_down, packets_up, packets_down, connections)
       SELECT @hour, dimension, '', NULL, sum(bytes_up), sum(bytes_down), sum(packets_up), sum(packets_down), sum(connections)
       FROM (${ranked}) WHERE rank > @n GROUP BY dimension
       ON CONFLICT DO UPDATE SET bytes_up = bytes_up + excluded.bytes_up, bytes_down = bytes_down + excluded.bytes_down,
         packets_up = packets_up + excluded.packets_up, packets_down = packets_down + excluded.packets_down,
         connections = connections + excluded.connections`);
    this.cutHour = db.prepare(
      `DELETE FROM talker_hour WHERE hour = @hour AND (dimension, key) IN (SELECT dimension, key FROM (${ranked}) WHERE rank > @n)`);
    this.closeHour = db.prepare(`DELETE FROM talker_open WHERE hour = ?`);
    this.putLive = db.prepare(`INSERT OR REPLACE INTO live (kind, at, body) VALUES (?, ?, ?)`);
  }

  /** Writes `pending` and does the upkeep, in one transaction. Throws (and changes nothing) on failure. */
  flush(pending: Pending, live: LiveSnapshot | null, now: number): void {
    this.db.transaction(() => {
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
      for (const [hour, dims] of pending.talkers) {
        this.openHour.run(hour);
        for (const [dim, m] of dims) {
          for (const [key, a] of m) {
            this.upTalker.run(hour, dim, key, a.label ?? null, a.bytesUp, a.bytesDown, a.packetsUp, a.packetsDown, a.connections);
          }
        }
      }
      for (const s of pending.sessions) this.insSession.run(sessionParams(s));
      this.cutFinishedHours(now);
      this.pruneMinutes.run(Math.floor((now - this.config.minuteRetentionDays * DAY_MS) / MINUTE_MS));
      this.pruneSessions.run(now - this.config.sessionLogDays * DAY_MS);
      if (live) {
        this.putLive.run('talkers', live.at, JSON.stringify({ from: live.from, to: live.to, talkers: live.talkers }));
        this.putLive.run('sessions', live.sessionsAt, JSON.stringify(live.sessions));
      }
    })();
  }

  /** Every hour that ended (plus a grace) keeps its top N keys per dimension and one "other" row. */
  private cutFinishedHours(now: number): void {
    const before = Math.floor((now - HOUR_GRACE_MS) / HOUR_MS);
    for (const { hour } of this.openHours.all(before) as Array<{ hour: number }>) {
      const params = { hour, n: this.config.hourlyTopN };
      this.foldHour.run(params);
      this.cutHour.run(params);
      this.closeHour.run(hour);
    }
  }
}

function sessionParams(s: SessionRecord): unknown[] {
  return [s.id, s.firstSeen, s.lastSeen, s.iface, s.protocol, s.protocolName, s.local, s.localPort, s.remote, s.remotePort,
    addressBytes(s.local), addressBytes(s.remote), s.scope, s.initiator, s.state, s.bytesUp, s.bytesDown, s.packetsUp, s.packetsDown,
    s.tcpFlagsUp, s.tcpFlagsDown, s.domain ?? null, s.country ?? null, s.city ?? null, s.asn ?? null, s.asOrg ?? null, s.endReason ?? null];
}

/** The top `n` keys of each dimension over all pending hours, with "other" last (the live window). */
export function liveTalkers(pending: Pending, n: number): LiveSnapshot['talkers'] {
  const merged = new Map<TalkerDimension, TalkerMap>();
  for (const dims of pending.talkers.values()) {
    for (const [dim, m] of dims) {
      let into = merged.get(dim);
      if (!into) merged.set(dim, (into = new Map()));
      for (const [k, a] of m) {
        let acc = into.get(k);
        if (!acc) into.set(k, (acc = emptyAcc()));
        addAcc(acc, a);
      }
    }
  }
  const out: LiveSnapshot['talkers'] = {};
  for (const [dim, m] of merged) {
    const ranked = [...m.entries()].filter(([k]) => k !== OTHER_KEY).sort(byBytes);
    const other = emptyAcc();
    const rest = m.get(OTHER_KEY);
    if (rest) addAcc(other, rest);
    for (const [, a] of ranked.slice(n)) addAcc(other, { ...a, label: undefined });
    delete other.label;
    out[dim] = [...ranked.slice(0, n), [OTHER_KEY, other]];
  }
  return out;
}
