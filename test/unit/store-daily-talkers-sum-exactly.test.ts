/**
 * The daily talker rollup (talker_day): a complete UTC day is rolled up from
 * its hours at a flush, a range over whole days reads it, the hours around
 * them and today come from talker_hour and memory — and every answer's
 * rows + other = total = the sum of what went in, across hour and day
 * boundaries, for the writer and for another process, after a late interval
 * re-rolls a day, and for a database whose days were never rolled up.
 */
process.env.TZ = 'UTC';
import t, { type Test } from 'tap';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/index.js';
import { DB_FILE } from '../../src/store/schema.js';
import { interval, manualClock, row, talker, tempDataDir } from '../helpers/intervals.js';

const H = 3_600_000;
const D = 24 * H;
const DAY0 = Date.UTC(2026, 5, 1);
const day = (ms: number) => Math.floor(ms / D);

/** Intervals at these offsets from DAY0; interval j carries 12 countries, "C{i}" with (i + 1) * (j + 1) bytes up and i down. */
const OFFSETS = [22 * H + 59 * 60_000, 23 * H + 59 * 60_000 + 59_000, D, D + 5 * H + 1, D + 23 * H + 30 * 60_000, 2 * D + 10 * 60_000, 2 * D + 3 * H];
const rowsOf = (j: number) => Array.from({ length: 12 }, (_, i) => talker(`C${i}`, (i + 1) * (j + 1) * 10, i, { newSessions: 1, label: `country ${i}` }));
const bytesOf = (j: number) => rowsOf(j).reduce((a, r) => a + r.bytesUp + r.bytesDown, 0);
/** The interval's traffic, equal to its talkers (as the flows stage makes them). */
const trafficOf = (j: number) => [row('eth0', 'up', 'internet', rowsOf(j).reduce((a, r) => a + r.bytesUp, 0)), row('eth0', 'down', 'internet', rowsOf(j).reduce((a, r) => a + r.bytesDown, 0))];

function fill(store: Store, indexes = OFFSETS.map((_, j) => j)): number {
  let sum = 0;
  for (const j of indexes) {
    store.add(interval({ end: DAY0 + OFFSETS[j]!, traffic: trafficOf(j), talkers: { country: rowsOf(j) } }));
    sum += bytesOf(j);
  }
  return sum;
}

function exact(t: Test, top: ReturnType<Store['topTalkers']>, expected: number, label: string): void {
  t.equal(top.total.bytes, expected, `${label}: total = the sum of the inputs (${expected})`);
  t.equal(top.rows.reduce((a, r) => a + r.bytes, 0) + top.other.bytes, expected, `${label}: rows + other = total`);
  t.equal(top.rows.reduce((a, r) => a + r.connections, 0) + top.other.connections, top.total.connections, `${label}: connections too`);
}

t.test('complete days are rolled up; ranges over them, their edges and today sum exactly', async (t) => {
  const dir = tempDataDir(t, 'day');
  const clock = manualClock(DAY0 + 2 * D + 3 * H + 30 * 60_000);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 3 });
  t.teardown(() => store.close());
  const total = fill(store);
  const all = () => store.topTalkers({ dimension: 'country', from: '2026-06-01', to: '2026-06-03', limit: 5 });
  exact(t, all(), total, 'pending, before any flush');
  store.flush();

  const db = new Database(path.join(dir, DB_FILE), { readonly: true });
  t.teardown(() => db.close());
  const done = (db.prepare('SELECT day FROM talker_day_done ORDER BY day').all() as Array<{ day: number }>).map((r) => r.day);
  t.same(done, [day(DAY0), day(DAY0) + 1], 'the two complete days are rolled up, today is not');
  const dayKeys = (db.prepare(`SELECT key FROM talker_day WHERE dimension = 'country' AND day = ? ORDER BY key`).all(day(DAY0) + 1) as Array<{ key: string }>).map((r) => r.key);
  t.same(dayKeys, ['', 'C10', 'C11', 'C9'], 'a day holds its top 3 and "other"');
  const daySum = (d: number) => (db.prepare(`SELECT sum(bytes_up + bytes_down) AS b FROM talker_day WHERE dimension = 'country' AND day = ?`).get(d) as { b: number }).b;
  t.equal(daySum(day(DAY0)), bytesOf(0) + bytesOf(1) + bytesOf(2), 'day 1 sums to its three intervals (the one ending at midnight is its own)');
  t.equal(daySum(day(DAY0) + 1), bytesOf(3) + bytesOf(4), 'day 2 to its two');

  exact(t, all(), total, 'three days, writer');
  const reader = Store.openReadOnly({ dataDir: dir, clock: clock.now });
  t.teardown(() => reader.close());
  const r = reader.topTalkers({ dimension: 'country', from: '2026-06-01', to: '2026-06-03', limit: 5 });
  exact(t, r, total, 'three days, another process');
  t.same(r.rows.map((x) => [x.key, x.bytes]), all().rows.map((x) => [x.key, x.bytes]), 'the same rows for both');
  exact(t, store.topTalkers({ dimension: 'country', from: '2026-06-02', to: '2026-06-02' }), bytesOf(3) + bytesOf(4), 'one rolled-up day');
  exact(t, store.topTalkers({ dimension: 'country', from: '2026-06-02T05', to: '2026-06-03T00' }), bytesOf(3) + bytesOf(4) + bytesOf(5),
    'hours of a rolled-up day (by hour) and of today');
  exact(t, store.topTalkers({ dimension: 'country', from: '2026-06-01T23', to: '2026-06-03T02' }), total - bytesOf(0), 'an edge hour, a whole day, today\'s first hours');
});

t.test('a late interval for a rolled-up day rolls it up again; a database without rollups gets them', async (t) => {
  const dir = tempDataDir(t, 'dayl');
  const clock = manualClock(DAY0 + 2 * D + 3 * H + 30 * 60_000);
  let store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 3 });
  let total = fill(store, [0, 1, 2, 3, 4]);
  store.flush();
  store.close();
  // a restarted writer gets an interval of yesterday (a queue drained late): it is added to the stored hour and the day
  store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 3 });
  store.add(interval({ end: DAY0 + D + 7 * H, traffic: trafficOf(9), talkers: { country: rowsOf(9) } }));
  total += bytesOf(9);
  store.flush();
  exact(t, store.topTalkers({ dimension: 'country', from: '2026-06-01', to: '2026-06-02' }), total, 'writer, after the late interval');
  store.close();
  const reader = Store.openReadOnly({ dataDir: dir, clock: clock.now });
  exact(t, reader.topTalkers({ dimension: 'country', from: '2026-06-02', to: '2026-06-02' }), total - bytesOf(0) - bytesOf(1) - bytesOf(2), 'the re-rolled day, read by another process');
  reader.close();

  // as a database from before the rollup: no days rolled up
  const db = new Database(path.join(dir, DB_FILE));
  db.exec('DELETE FROM talker_day; DELETE FROM talker_day_done;');
  db.close();
  const before = Store.openReadOnly({ dataDir: dir, clock: clock.now });
  exact(t, before.topTalkers({ dimension: 'country', from: '2026-06-01', to: '2026-06-02' }), total, 'without rollups, by hour');
  before.close();
  store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 3 });
  t.teardown(() => store.close());
  store.flush();
  const check = new Database(path.join(dir, DB_FILE), { readonly: true });
  t.teardown(() => check.close());
  t.equal((check.prepare('SELECT count(*) AS n FROM talker_day_done').get() as { n: number }).n, 2, 'the first flush rolled up both days');
  exact(t, store.topTalkers({ dimension: 'country', from: '2026-06-01', to: '2026-06-02' }), total, 'and they sum as before');
});
