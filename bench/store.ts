/**
 * The history store's costs: add() per interval and flush() per flush window
 * with many talker keys (the event loop pays both), for rows with the flows
 * stage's key numbers beside rows without (JSON), with half the keys new each
 * interval and with the same keys, printed as a ratio; the cut of a finished hour,
 * and query times over a year of data (quarter-hour traffic, hourly top talkers,
 * the daily talker rollup against the hourly path in the same run, a session log). Prints figures; asserts nothing.
 *
 *   node --import tsx bench/store.ts [--keys 10000] [--intervals 60] [--flushes 8] [--sessions 200000]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newAccumulator, rowOf } from '../src/flows/talkers.js';
import { TALKER_DIMENSIONS, type IntervalStats, type SessionRecord, type TalkerDimension, type TalkerRow } from '../src/flows/types.js';
import { Store } from '../src/store/index.js';
import { DB_FILE } from '../src/store/schema.js';
import { median, printHeader, table } from './lib.js';
import Database from 'better-sqlite3';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '10000' }, intervals: { type: 'string', default: '60' },
    flushes: { type: 'string', default: '8' }, sessions: { type: 'string', default: '200000' }, help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write('node --import tsx bench/store.ts [--keys N remote addresses per interval] [--intervals N per flush] [--flushes N] [--sessions N in the log]\n');
  process.exit(0);
}
const KEYS = Number(values.keys), PER_FLUSH = Number(values.intervals), FLUSHES = Number(values.flushes), SESSIONS = Number(values.sessions);
const HOUR = 3_600_000;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

/**
 * `numbered`: rows as the flows stage makes them, with its key numbers
 * (TalkerRow.id): row i has number i, so a new key takes the number of a key
 * that ended, as the flows stage gives them.
 */
function rows(n: number, key: (i: number) => string, scale: number, numbered = false): TalkerRow[] {
  return Array.from({ length: n }, (_, i) => {
    const counts = { bytesUp: 100 + ((i * scale) % 9000), bytesDown: 1000 + ((i * 7 * scale) % 90000), packetsUp: 3, packetsDown: 5, sessions: 1, newSessions: i % 4 === 0 ? 1 : 0 };
    return numbered ? rowOf(Object.assign(newAccumulator(key(i), i), counts)) : { key: key(i), ...counts };
  });
}

/**
 * One interval as a busy gateway makes it: `keys` remote addresses (the first
 * half the same every interval, the rest new each interval, or the same too
 * with `churn` false) and proportionate other dimensions.
 */
function busyInterval(end: number, seq: number, keys: number, numbered = false, churn = true): IntervalStats {
  const ip = (i: number) => { const n = i < keys / 2 || !churn ? i : i + seq * (keys / 2); return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`; };
  const counts: Record<TalkerDimension, number> = { ip: keys, host: 50, port: 300, proto: 5, country: 120, asn: Math.min(2000, keys / 5), domain: Math.min(5000, keys / 2), device: 50 };
  const talkers = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, rows(counts[d], d === 'ip' ? ip : (i) => `${d}-${i}`, seq + 1, numbered)])) as Record<TalkerDimension, TalkerRow[]>;
  const traffic = ['eth0', 'eth1'].flatMap((iface) => (['up', 'down'] as const).flatMap((direction) => (['internet', 'lan', 'unknown'] as const).map((scope) => ({ iface, direction, scope, bytes: 123456, packets: 100 }))));
  return { start: end - 1000, end, traffic, activeSessions: keys, activeRemotes: keys, talkers, endedSessions: [] };
}

function writeCosts(numbered: boolean, churn: boolean): number {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-store-'));
  let now = Date.UTC(2026, 0, 1, 10, 0, 0);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => now });
  const adds: number[] = [], flushes: number[] = [], written: number[] = [];
  let seq = 0;
  for (let f = 0; f < FLUSHES; f++) {
    for (let i = 0; i < PER_FLUSH; i++) {
      now += 1000;
      const stats = busyInterval(now, seq++, KEYS, numbered, churn);
      const t0 = process.hrtime.bigint();
      store.add(stats);
      adds.push(ms(t0));
    }
    const t0 = process.hrtime.bigint();
    const r = store.flush();
    flushes.push(ms(t0));
    written.push(r.traffic + r.talkers + r.sessions);
  }
  // a flush with 10k ended sessions (a busy gateway's minute of closed connections)
  const ended = Array.from({ length: 10_000 }, (_, i) => ({
    id: `eth0|tcp|10.0.0.1|${10000 + i}|192.0.2.${i & 255}|443`, iface: 'eth0', protocol: 6, protocolName: 'tcp', local: '10.0.0.1', localPort: 10000 + i,
    remote: `192.0.2.${i & 255}`, remotePort: 443, scope: 'internet' as const, initiator: 'local' as const, state: 'closed', bytesUp: i, bytesDown: 2 * i,
    packetsUp: 3, packetsDown: 4, firstSeen: now - 5000, lastSeen: now - 10, tcpFlagsUp: 0x1b, tcpFlagsDown: 0x1b, endReason: 'closed' as const,
  }));
  now += 1000;
  store.add({ ...busyInterval(now, seq++, 0), endedSessions: ended });
  const t0 = process.hrtime.bigint();
  store.flush();
  const sessionFlush = ms(t0);
  // close(): the last flush, then every key of the held hours saved whole for the next writer (talker_hour_open)
  const heldKeys = [...store['pending']!.hours.values()].reduce((n, sets) => n + [...sets.values()].reduce((m, x) => m + x.size, 0), 0);
  const t1 = process.hrtime.bigint();
  store.close();
  const closeMs = ms(t1);
  const size = statSync(path.join(dir, DB_FILE)).size;
  rmSync(dir, { recursive: true, force: true });
  const talkerKeys = KEYS + 50 + 300 + 5 + 120 + Math.min(2000, KEYS / 5) + Math.min(5000, KEYS / 2);
  const rowsAre = numbered ? 'rows with the flows stage\'s key numbers' : 'rows without key numbers (JSON)';
  process.stdout.write(`\n## writes: ${talkerKeys} talker keys per interval (${KEYS} remote addresses, ${churn ? 'half new each interval' : 'the same every interval'}), ${PER_FLUSH} intervals per flush, ${rowsAre}\n`);
  process.stdout.write(`${table(['what', 'median ms', 'p99 ms', 'max ms', 'rows per flush'], [
    ['add() per interval', f2(median(adds)), f2(p(adds, 0.99)), f2(Math.max(...adds)), ''],
    ['flush() per window', f1(median(flushes)), f1(p(flushes, 0.99)), f1(Math.max(...flushes)), String(Math.round(median(written)))],
    ['flush() with 10k ended sessions', f1(sessionFlush), '', '', '10000'],
    ['close(): last flush + held hours saved whole', f1(closeMs), '', '', String(heldKeys)],
  ])}\n# database after these flushes: ${(size / 1e6).toFixed(1)} MB\n`);
  return median(adds);
}

function queryCosts(): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-store-'));
  const yearStart = Date.UTC(2025, 0, 1);
  let now = yearStart;
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => now, minuteRetentionDays: 7 });
  const t0 = process.hrtime.bigint();
  // a year: one interval per quarter hour (so every quarter-hour row exists), 150 remote addresses and 40 ports per hour
  const empty = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, []])) as unknown as Record<TalkerDimension, TalkerRow[]>;
  for (let h = 0; h < 365 * 24; h++) {
    for (let q = 0; q < 4; q++) {
      now = yearStart + h * HOUR + (q + 1) * 15 * 60_000;
      const traffic = ['eth0', 'eth1'].flatMap((iface) => (['up', 'down'] as const).flatMap((direction) => (['internet', 'lan', 'unknown'] as const).map((scope) => ({ iface, direction, scope, bytes: 1000 + h, packets: 10 }))));
      store.add({ start: now - 900_000, end: now, traffic, activeSessions: 0, activeRemotes: 0, endedSessions: [],
        talkers: q === 0 ? { ...empty, ip: rows(150, (i) => `192.0.2.${i}`, h + 1), port: rows(40, (i) => `tcp/${1000 + i}`, h + 1) } : empty });
    }
    if (h % (24 * 7) === 24 * 7 - 1) store.flush();
  }
  const sessions: SessionRecord[] = Array.from({ length: SESSIONS }, (_, i) => ({
    id: `eth0|tcp|10.0.0.${i % 250}|${40000 + (i % 20000)}|198.51.${(i >> 8) & 255}.${i & 255}|443`, iface: 'eth0', protocol: 6, protocolName: 'tcp',
    local: `10.0.0.${i % 250}`, localPort: 40000 + (i % 20000), remote: `198.51.${(i >> 8) & 255}.${i & 255}`, remotePort: i % 3 ? 443 : 80,
    scope: 'internet', initiator: 'local', state: 'closed', bytesUp: i % 5000, bytesDown: (i * 13) % 100000, packetsUp: 5, packetsDown: 9,
    firstSeen: now - 86_400_000 + i * 100, lastSeen: now - 86_400_000 + i * 100 + 5000, tcpFlagsUp: 0x1b, tcpFlagsDown: 0x1b, endReason: 'closed',
  }));
  for (let i = 0; i < sessions.length; i += 10_000) {
    store.add({ start: now - 1000, end: now, traffic: [], activeSessions: 0, activeRemotes: 0, talkers: empty, endedSessions: sessions.slice(i, i + 10_000) });
    store.flush();
  }
  const build = ms(t0);
  store.close();
  const size = statSync(path.join(dir, DB_FILE)).size;
  // "now" in the last day of the year, so today, this month and this year have data
  const reader = Store.openReadOnly({ dataDir: dir, clock: () => Date.UTC(2025, 11, 31, 12) });
  const time = (what: string, fn: () => unknown): string[] => {
    const runs: number[] = [];
    let out: unknown;
    for (let i = 0; i < 5; i++) {
      const s = process.hrtime.bigint();
      out = fn();
      runs.push(ms(s));
    }
    const n = (out as { buckets?: unknown[]; rows?: unknown[]; sessions?: unknown[] });
    return [what, f1(median(runs)), f1(Math.max(...runs)), String(n.buckets?.length ?? n.rows?.length ?? n.sessions?.length ?? '')];
  };
  const results = [
    time('summary()', () => reader.summary()),
    time('todayByHour()', () => reader.todayByHour()),
    time('last30Days()', () => reader.last30Days()),
    time('last12Months()', () => reader.last12Months()),
    time('history: the year by month', () => reader.history({ from: '2025-01', to: '2025-12', granularity: 'month' })),
    time('history: the year by day', () => reader.history({ from: '2025-01-01', to: '2025-12-31', granularity: 'day' })),
    time('history: the year by hour', () => reader.history({ from: '2025-01-01', to: '2025-12-31', granularity: 'hour' })),
    time('history: the year by day, eth1 lan only', () => reader.history({ from: '2025-01-01', to: '2025-12-31', granularity: 'day', iface: 'eth1', scope: 'lan' })),
    time('dateRange()', () => reader.dateRange()),
    time('topTalkers ip: one day', () => reader.topTalkers({ dimension: 'ip', from: '2025-06-01', to: '2025-06-01' })),
    time('topTalkers ip: one month', () => reader.topTalkers({ dimension: 'ip', from: '2025-06', to: '2025-06' })),
    time('topTalkers ip: the year', () => reader.topTalkers({ dimension: 'ip', from: '2025-01', to: '2025-12' })),
    time(`sessions: latest 100 of ${SESSIONS}`, () => reader.sessions({ limit: 100 })),
    time('sessions: largest 100 by bytes', () => reader.sessions({ sort: 'bytes', limit: 100 })),
    time('sessions: 198.51.7.0/24, port 80', () => reader.sessions({ filter: { addr: '198.51.7.0/24', port: 80 }, limit: 100 })),
  ];
  reader.close();
  // the writing process (flowlens run, and the APIs it serves) remembers sums of past days
  const writer = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => Date.UTC(2025, 11, 31, 12) });
  results.push(
    time('writer: summary() (past days remembered)', () => writer.summary()),
    time('writer: last12Months()', () => writer.last12Months()),
    time('writer: history: the year by day', () => writer.history({ from: '2025-01-01', to: '2025-12-31', granularity: 'day' })),
  );
  // talkers over the year in the running process: whole days from the daily rollup (talker_day), against the
  // hourly path (the same query with the rollup's days forgotten: every hour from talker_hour), in this run
  const talkerRuns = (label: string) => {
    const r = time(label, () => writer.topTalkers({ dimension: 'ip', from: '2025-01-01', to: '2025-12-31' }));
    results.push(r);
    return Number(r[1]);
  };
  const byDay = talkerRuns('writer: topTalkers ip, the year (daily rollup)');
  const byDayPort = talkerRuns('writer: topTalkers port, the year (daily rollup)');
  const raw = new Database(path.join(dir, DB_FILE));
  const rolled = raw.prepare('SELECT day FROM talker_day_done').all() as Array<{ day: number }>;
  raw.exec('DELETE FROM talker_day_done');
  const byHour = talkerRuns('writer: topTalkers ip, the year (hourly path, reference)');
  const insert = raw.prepare('INSERT INTO talker_day_done (day) VALUES (?)');
  raw.transaction(() => { for (const r of rolled) insert.run(r.day); })();
  raw.close();
  results.push(['ratio daily rollup / hourly path (ip, year)', f2(byDay / byHour), '', `${rolled.length} days rolled up`]);
  void byDayPort;
  writer.close();
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`\n## queries over a year: quarter-hour traffic of 2 interfaces × up/down × 3 scopes, hourly top 100 of 150 remote addresses and 40 ports, ${SESSIONS} logged sessions\n`);
  process.stdout.write(`# built in ${(build / 1000).toFixed(1)} s; database ${(size / 1e6).toFixed(1)} MB; a read-only reader (as the CLI), then the writer; 5 runs each (median, max)\n`);
  process.stdout.write(`${table(['query', 'median ms', 'max ms', 'rows out'], results)}\n`);
}

printHeader('history store: write and query costs');
for (const churn of [true, false]) {
  const plain = writeCosts(false, churn);
  const numbered = writeCosts(true, churn);
  process.stdout.write(`# add() with key numbers / without, ${churn ? 'half the keys new each interval' : 'the same keys'}: ${f2(numbered / plain)}×\n`);
}
queryCosts();
