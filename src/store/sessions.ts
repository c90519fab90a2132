/**
 * Session queries: the session log (ended sessions, in SQLite, plus the writer's
 * pending ones) and the live snapshot (active sessions), with one filter
 * language, keyset pagination and one sort order for both.
 */
import type { SessionRecord } from '../flows/types.js';
import { FlowlensError } from '../errors.js';
import { matches, prepare, type Prepared } from '../flows/session-filter.js';
import type { Source } from './queries.js';
import { parseRange } from './time.js';
import type { SessionPage, SessionQuery, SessionSort } from './types.js';

const SORTS: Record<SessionSort, { sql: string; value: (s: SessionRecord) => number }> = {
  lastSeen: { sql: 'last_seen', value: (s) => s.lastSeen },
  firstSeen: { sql: 'first_seen', value: (s) => s.firstSeen },
  bytes: { sql: '(bytes_up + bytes_down)', value: (s) => s.bytesUp + s.bytesDown },
  packets: { sql: '(packets_up + packets_down)', value: (s) => s.packetsUp + s.packetsDown },
  // the mean rate over the session's life (bytes per second; a session shorter than a second counts as one)
  rate: { sql: '((bytes_up + bytes_down) * 1000.0 / max(last_seen - first_seen, 1000))', value: sessionRate },
};

/** Bytes per second over the session's life, as --sort rate orders them. */
export function sessionRate(s: SessionRecord): number {
  return ((s.bytesUp + s.bytesDown) * 1000) / Math.max(s.lastSeen - s.firstSeen, 1000);
}
const MAX_LIMIT = 10_000;

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);

function whereSql(p: Prepared): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (p.addr) {
    where.push('(local_bin BETWEEN ? AND ? OR remote_bin BETWEEN ? AND ?)');
    params.push(p.addr.range[0], p.addr.range[1], p.addr.range[0], p.addr.range[1]);
  }
  if (p.port !== undefined) { where.push('(local_port = ? OR remote_port = ?)'); params.push(p.port, p.port); }
  if (typeof p.protocol === 'number') { where.push('protocol = ?'); params.push(p.protocol); }
  if (typeof p.protocol === 'string') { where.push('protocol_name = ?'); params.push(p.protocol); }
  if (p.iface !== undefined) { where.push('iface = ?'); params.push(p.iface); }
  if (p.scope !== undefined) { where.push('scope = ?'); params.push(p.scope); }
  if (p.country !== undefined) { where.push('upper(country) = ?'); params.push(p.country); }
  if (p.asn !== undefined) { where.push('asn = ?'); params.push(p.asn); }
  if (p.domain !== undefined) {
    where.push(`(lower(domain) = ? OR lower(domain) LIKE ? ESCAPE '\\')`);
    params.push(p.domain, `%.${p.domain.replace(/[\\%_]/g, (c) => `\\${c}`)}`);
  }
  return { where, params };
}

/** Where the previous page ended: sort, its last value, id and firstSeen. */
type Cursor = [SessionSort, number, string, number];

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(text: string, sort: SessionSort): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString()) as Cursor;
    if (Array.isArray(c) && c.length === 4 && c[0] === sort && typeof c[1] === 'number' && typeof c[2] === 'string' && typeof c[3] === 'number') return c;
  } catch { /* reported below */ }
  throw usage('cursor is not one this query returned', 'pass nextCursor of the previous page unchanged, with the same sort');
}

/** Descending by (sort value, id, firstSeen): the order of every page. */
function compare(sort: SessionSort, a: SessionRecord, b: SessionRecord): number {
  const v = SORTS[sort].value;
  const d = v(b) - v(a);
  if (d !== 0) return d;
  if (a.id !== b.id) return a.id < b.id ? 1 : -1;
  return b.firstSeen - a.firstSeen;
}

function afterCursor(sort: SessionSort, c: Cursor | null, s: SessionRecord): boolean {
  if (!c) return true;
  const v = SORTS[sort].value(s);
  if (v !== c[1]) return v < c[1];
  if (s.id !== c[2]) return s.id < c[2];
  return s.firstSeen < c[3];
}

function page(source: 'ended' | 'live', sort: SessionSort, limit: number, candidates: SessionRecord[], at: number | null): SessionPage {
  candidates.sort((a, b) => compare(sort, a, b));
  const sessions = candidates.slice(0, limit);
  const more = candidates.length > limit;
  const last = sessions[sessions.length - 1];
  return { source, sessions, nextCursor: more && last ? encodeCursor([sort, SORTS[sort].value(last), last.id, last.firstSeen]) : null, at };
}

interface LogRow {
  id: string; first_seen: number; last_seen: number; iface: string; protocol: number; protocol_name: string;
  local: string; local_port: number; remote: string; remote_port: number; scope: 'internet' | 'lan';
  initiator: 'local' | 'remote'; state: string; bytes_up: number; bytes_down: number; packets_up: number; packets_down: number;
  tcp_flags_up: number; tcp_flags_down: number; domain: string | null; country: string | null; city: string | null;
  asn: number | null; as_org: string | null; end_reason: SessionRecord['endReason'] | null;
}

function fromRow(r: LogRow): SessionRecord {
  const s: SessionRecord = {
    id: r.id, iface: r.iface, protocol: r.protocol, protocolName: r.protocol_name, local: r.local, localPort: r.local_port,
    remote: r.remote, remotePort: r.remote_port, scope: r.scope, initiator: r.initiator, state: r.state,
    bytesUp: r.bytes_up, bytesDown: r.bytes_down, packetsUp: r.packets_up, packetsDown: r.packets_down,
    firstSeen: r.first_seen, lastSeen: r.last_seen, tcpFlagsUp: r.tcp_flags_up, tcpFlagsDown: r.tcp_flags_down,
  };
  if (r.domain !== null) s.domain = r.domain;
  if (r.country !== null) s.country = r.country;
  if (r.city !== null) s.city = r.city;
  if (r.asn !== null) s.asn = r.asn;
  if (r.as_org !== null) s.asOrg = r.as_org;
  if (r.end_reason !== null) s.endReason = r.end_reason;
  return s;
}

/**
 * A page of sessions, largest/latest first. `live`: the active sessions a running
 * flowlens last handed over (in the writer: the latest in memory; elsewhere: its
 * last flush).
 */
export function sessions(src: Source, q: SessionQuery, liveInMemory: { at: number; sessions: SessionRecord[] } | null): SessionPage {
  const sort = q.sort ?? 'lastSeen';
  // own keys only: "constructor" or "toString" are in every object (SQL of undefined)
  if (!Object.hasOwn(SORTS, sort)) throw usage(`sort must be one of ${Object.keys(SORTS).join(', ')}, not "${sort}"`);
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw usage(`limit must be a whole number from 1 to ${MAX_LIMIT}, not "${q.limit}"`);
  const source = q.source ?? 'ended';
  if (source !== 'ended' && source !== 'live') throw usage(`source must be ended or live, not "${source}"`);
  const p = prepare(q.filter);
  const cursor = q.cursor !== undefined ? decodeCursor(q.cursor, sort) : null;
  const { from, to } = parseRange(q.from, q.to, src.now, q.params);
  const inRange = (s: SessionRecord) => (from === null || s.lastSeen >= from) && (to === null || s.firstSeen < to);
  const keep = (s: SessionRecord) => matches(p, s, s) && inRange(s) && afterCursor(sort, cursor, s);

  if (source === 'live') {
    let live = liveInMemory;
    if (!live) {
      const row = src.db.prepare(`SELECT at, body FROM live WHERE kind = 'sessions'`).get() as { at: number; body: string } | undefined;
      live = row ? { at: row.at, sessions: JSON.parse(row.body) as SessionRecord[] } : null;
    }
    return page('live', sort, limit, (live?.sessions ?? []).filter(keep), live?.at ?? null);
  }

  const { where, params } = whereSql(p);
  const expr = SORTS[sort].sql;
  if (from !== null) { where.push('last_seen >= ?'); params.push(from); }
  if (to !== null) { where.push('first_seen < ?'); params.push(to); }
  if (cursor) { where.push(`${expr} <= ? AND (${expr}, id, first_seen) < (?, ?, ?)`); params.push(cursor[1], cursor[1], cursor[2], cursor[3]); }
  const rows = src.db.prepare(
    `SELECT * FROM session_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ${expr} DESC, id DESC, first_seen DESC LIMIT ?`).all(...params, limit + 1) as LogRow[];
  const candidates = rows.map(fromRow);
  for (const s of src.pending?.sessions ?? []) if (keep(s)) candidates.push(s);
  return page('ended', sort, limit, candidates, null);
}

/** What each local host talked to in the session log (src/alerts new country / ASN / domain). */
export interface DevicePeers {
  local: string;
  /** The host's first session in the whole log (epoch ms): how long it has been learned. */
  firstSeen: number;
  /** Countries and ASNs of its internet sessions, names of all its sessions, since `from`. */
  countries: string[];
  asns: number[];
  domains: string[];
}

/**
 * The distinct countries, ASNs and domains per local host of the sessions that
 * ended at or after `from` (log and pending), one grouped query per kind
 * rather than every session crossing into JavaScript.
 */
export function devicePeers(src: Source, from: number): DevicePeers[] {
  const out = new Map<string, DevicePeers>();
  const device = (local: string, firstSeen: number) => {
    let d = out.get(local);
    if (!d) out.set(local, (d = { local, firstSeen, countries: [], asns: [], domains: [] }));
    else d.firstSeen = Math.min(d.firstSeen, firstSeen);
    return d;
  };
  for (const r of src.db.prepare(`SELECT local, min(first_seen) AS first FROM session_log GROUP BY local`).all() as Array<{ local: string; first: number }>) device(r.local, r.first);
  const distinct = <T>(column: string, internetOnly: boolean) => src.db.prepare(
    `SELECT DISTINCT local, ${column} AS v FROM session_log WHERE last_seen >= ? AND ${column} IS NOT NULL${internetOnly ? ` AND scope = 'internet'` : ''}`)
    .all(from) as Array<{ local: string; v: T }>;
  const sets = new Map<string, { c: Set<string>; a: Set<number>; d: Set<string> }>();
  const setsOf = (local: string) => {
    let s = sets.get(local);
    if (!s) sets.set(local, (s = { c: new Set(), a: new Set(), d: new Set() }));
    return s;
  };
  for (const r of distinct<string>('country', true)) setsOf(r.local).c.add(r.v);
  for (const r of distinct<number>('asn', true)) setsOf(r.local).a.add(r.v);
  for (const r of distinct<string>('domain', false)) setsOf(r.local).d.add(r.v);
  for (const s of src.pending?.sessions ?? []) {
    device(s.local, s.firstSeen);
    if (s.lastSeen < from) continue;
    const x = setsOf(s.local);
    if (s.scope === 'internet' && s.country !== undefined) x.c.add(s.country);
    if (s.scope === 'internet' && s.asn !== undefined) x.a.add(s.asn);
    if (s.domain !== undefined) x.d.add(s.domain);
  }
  for (const [local, s] of sets) {
    const d = out.get(local)!;
    d.countries = [...s.c]; d.asns = [...s.a]; d.domains = [...s.d];
  }
  return [...out.values()];
}
