/**
 * Days, hours and months are the host's (TZ): New York's 23- and 25-hour days
 * around DST, India (+5:30) and Nepal (+5:45) whose days start at 18:30 and
 * 18:15 UTC — exact to the minute, also after per-minute rows are pruned
 * (quarter-hour rollups carry history). Talkers are per UTC hour: their range
 * is widened to whole UTC hours and says so.
 *
 * Each zone runs in a child process with TZ set (one zone per process, as on a host).
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE } from '../../src/store/schema.js';
import { Store } from '../../src/store/index.js';
import { interval, manualClock, row, talker, tempDataDir } from '../helpers/intervals.js';

const MIN = 60_000;
const zone = process.env.FLOWLENS_TEST_ZONE;

/** One interval per minute in [from, to), minute m carrying m % 97 + 1 bytes up: every minute tells. */
function fill(store: Store, from: number, to: number): (a: number, b: number) => number {
  for (let end = from + MIN; end <= to; end += MIN) {
    const m = (end - MIN) / MIN;
    store.add(interval({ end, lengthMs: MIN, traffic: [row('eth0', 'up', 'internet', (m % 97) + 1)], talkers: { ip: [talker('203.0.113.9', (m % 97) + 1)] } }));
  }
  // the truth for [a, b): sum of the minutes that start in it
  return (a, b) => {
    let sum = 0;
    for (let s = Math.max(a, from); s < Math.min(b, to); s += MIN) sum += ((s / MIN) % 97) + 1;
    return sum;
  };
}

if (zone === undefined) {
  for (const z of ['America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu']) {
    t.test(z, async (t) => {
      const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url)], {
        env: { ...process.env, TZ: z, FLOWLENS_TEST_ZONE: z }, encoding: 'utf8', timeout: 120_000,
      });
      t.equal(r.status, 0, `the ${z} run passes`);
      t.match(r.stdout, /^ok 1 - /m, 'its test ran');
      t.notMatch(r.stdout, /not ok/, r.stdout.split('\n').filter((l) => /not ok|found|wanted|^\s+[-+]/.test(l)).join('\n'));
    });
  }
} else if (zone === 'America/New_York') {
  t.test('spring forward: 23 hours; fall back: 25 hours, the repeated hour told apart', async (t) => {
    const dir = tempDataDir(t, 'ny');
    const clock = manualClock(Date.UTC(2026, 10, 5));
    const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now });
    t.teardown(() => store.close());
    // 2026-03-07 00:00 EST .. 2026-03-10 00:00 EDT, and 2026-10-31 .. 2026-11-03
    const springFrom = Date.UTC(2026, 2, 7, 5), springTo = Date.UTC(2026, 2, 10, 4);
    const fallFrom = Date.UTC(2026, 9, 31, 4), fallTo = Date.UTC(2026, 10, 3, 5);
    const spring = fill(store, springFrom, springTo);
    const fall = fill(store, fallFrom, fallTo);
    store.flush();

    const d = store.history({ from: '2026-03-07', to: '2026-03-09', granularity: 'day' });
    t.same(d.buckets.map((b) => (b.end - b.start) / 3_600_000), [24, 23, 24], 'March 8 has 23 hours');
    t.same(d.buckets.map((b) => b.up), [spring(springFrom, Date.UTC(2026, 2, 8, 5)), spring(Date.UTC(2026, 2, 8, 5), Date.UTC(2026, 2, 9, 4)), spring(Date.UTC(2026, 2, 9, 4), springTo)]);
    const h = store.history({ from: '2026-03-08', to: '2026-03-08', granularity: 'hour' });
    t.equal(h.buckets.length, 23);
    t.same(h.buckets.slice(1, 3).map((b) => b.label), ['2026-03-08T01:00-05:00', '2026-03-08T03:00-04:00'], '02:00 does not exist');
    t.ok(h.buckets.every((b) => b.up === spring(b.start, b.end)), 'every hour exact');

    const f = store.history({ from: '2026-11-01', to: '2026-11-01', granularity: 'hour' });
    t.equal(f.buckets.length, 25, 'November 1 has 25 hours');
    t.same(f.buckets.slice(1, 3).map((b) => b.label), ['2026-11-01T01:00-04:00', '2026-11-01T01:00-05:00'], 'two 01:00 hours, told apart by their offset');
    t.ok(f.buckets.every((b) => b.up === fall(b.start, b.end)), 'every hour exact');
    t.equal(f.total.up, fall(Date.UTC(2026, 10, 1, 4), Date.UTC(2026, 10, 2, 5)));

    const m = store.history({ from: '2026-10', to: '2026-11', granularity: 'month' });
    t.same(m.buckets.map((b) => b.up), [fall(fallFrom, Date.UTC(2026, 10, 1, 4)), fall(Date.UTC(2026, 10, 1, 4), fallTo)], 'months split at local midnight');
  });
} else {
  const offsetMin = zone === 'Asia/Kolkata' ? 330 : 345;
  t.test(`${zone}: days start at local midnight, not on a UTC hour`, async (t) => {
    const dir = tempDataDir(t, 'half');
    // local midnight of 2026-06-15 in UTC
    const midnight = Date.UTC(2026, 5, 15) - offsetMin * MIN;
    const clock = manualClock(midnight + 5 * MIN);
    const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, minuteRetentionDays: 1 });
    t.teardown(() => store.close());
    const from = midnight - 2 * 60 * MIN, to = midnight + 90 * MIN;
    const truth = fill(store, from, to);
    const check = (label: string) => {
      const d = store.history({ from: '2026-06-14', to: '2026-06-15', granularity: 'day' });
      t.same(d.buckets.map((b) => b.start), [midnight - 1440 * MIN, midnight], `${label}: local days`);
      t.same(d.buckets.map((b) => b.up), [truth(from, midnight), truth(midnight, to)], `${label}: split exactly at local midnight`);
      const h = store.history({ from: '2026-06-14T23', to: '2026-06-15T00', granularity: 'hour' });
      t.same(h.buckets.map((b) => b.label), [`2026-06-14T23:00+05:${offsetMin - 300}`, `2026-06-15T00:00+05:${offsetMin - 300}`]);
      t.same(h.buckets.map((b) => b.up), [truth(midnight - 60 * MIN, midnight), truth(midnight, midnight + 60 * MIN)], `${label}: local hours exact`);
      if (label === 'minutes pruned') return; // "today" has moved on
      const s = store.summary();
      t.equal(s.today.up, truth(midnight, to), `${label}: today`);
      t.equal(s.month.up, truth(midnight - 14 * 1440 * MIN, to), `${label}: this month (from June 1, local)`);
    };
    check('pending');
    store.flush();
    check('flushed');
    // two days later the per-minute rows are pruned: quarter hours still give every local hour exactly
    clock.advance(2 * 1440 * MIN);
    store.flush();
    const db = new Database(path.join(dir, DB_FILE), { readonly: true });
    t.equal((db.prepare('SELECT count(*) AS n FROM traffic_minute').get() as { n: number }).n, 0, 'per-minute rows older than a day are gone');
    t.ok((db.prepare('SELECT count(*) AS n FROM traffic_quarter').get() as { n: number }).n > 0, 'quarter-hour rows stay');
    db.close();
    check('minutes pruned');

    const top = store.topTalkers({ dimension: 'ip', from: '2026-06-15', to: '2026-06-15' });
    t.equal(top.from, Math.floor(midnight / 3_600_000) * 3_600_000, 'talker range widened to the UTC hour before local midnight');
    t.ok(top.from < midnight && top.to > midnight + 1440 * MIN - 60 * MIN);
    t.equal(top.total.bytesUp, truth(top.from, top.to), 'talkers of the widened range');
  });
}
