/**
 * History equals the live totals: intervals added across an hour, a day, a
 * month and a year boundary give exact per-hour/day/month sums, before the
 * flush (pending part), after it, after a second flush and after a reopen; an
 * interval belongs to the bucket of its last millisecond; ranges are
 * zero-filled; filters narrow by interface, direction and scope.
 */
process.env.TZ = 'UTC';
import t from 'tap';
import { Store } from '../../src/store/index.js';
import type { History } from '../../src/store/index.js';
import { interval, manualClock, row, tempDataDir } from '../helpers/intervals.js';

const MIN = 60_000;
const NEW_YEAR = Date.UTC(2027, 0, 1);

/** 1-second intervals from 23:57:00 to 00:03:00 around new year 2027, each with distinct byte counts. */
function traffic() {
  const list = [];
  for (let end = NEW_YEAR - 3 * MIN + 1000; end <= NEW_YEAR + 3 * MIN; end += 1000) {
    const i = (end - NEW_YEAR) / 1000;
    list.push(interval({
      end,
      traffic: [
        row('eth0', 'up', 'internet', 1000 + i * 3, 2),
        row('eth0', 'down', 'internet', 5000 + i * 7, 5),
        row('eth1', 'down', 'lan', 300, 1),
        row('eth1', 'up', 'unknown', 11, 1),
      ],
    }));
  }
  return list;
}

/** The truth, from the intervals themselves: bucket by the UTC hour/day/month of end - 1. */
function expected(list: ReturnType<typeof traffic>, key: (t: number) => string, filter: (r: { iface: string; direction: string; scope: string }) => boolean = () => true) {
  const m = new Map<string, { up: number; down: number }>();
  for (const s of list) {
    const k = key(s.end - 1);
    const e = m.get(k) ?? { up: 0, down: 0 };
    for (const r of s.traffic) if (filter(r)) e[r.direction] += r.bytes;
    m.set(k, e);
  }
  return m;
}

const hourKey = (t: number) => new Date(t).toISOString().slice(0, 13);
const dayKey = (t: number) => new Date(t).toISOString().slice(0, 10);
const monthKey = (t: number) => new Date(t).toISOString().slice(0, 7);

function nonZero(h: History): Record<string, { up: number; down: number }> {
  return Object.fromEntries(h.buckets.filter((b) => b.total > 0).map((b) => [b.label, { up: b.up, down: b.down }]));
}

t.test('hour, day, month and year boundaries: exact before flush, after flush, after reopen', async (t) => {
  const dir = tempDataDir(t, 'bound');
  const clock = manualClock(NEW_YEAR + 3 * MIN);
  const list = traffic();
  let store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now });
  // a flush in the middle, so the answer mixes flushed and pending counts
  list.forEach((s, i) => {
    store.add(s);
    if (i === 100) store.flush();
  });

  const byHour = expected(list, hourKey);
  const byDay = expected(list, dayKey);
  const byMonth = expected(list, monthKey);
  t.same([...byHour.keys()], ['2026-12-31T23', '2027-01-01T00'], 'the data spans two hours');

  const check = (label: string) => {
    const h = store.history({ from: '2026-12-31T23', to: '2027-01-01T00', granularity: 'hour' });
    t.same(nonZero(h), { '2026-12-31T23:00+00:00': byHour.get('2026-12-31T23'), '2027-01-01T00:00+00:00': byHour.get('2027-01-01T00') }, `${label}: by hour`);
    const d = store.history({ from: '2026-12-31', to: '2027-01-01', granularity: 'day' });
    t.same(nonZero(d), { '2026-12-31': byDay.get('2026-12-31'), '2027-01-01': byDay.get('2027-01-01') }, `${label}: by day`);
    const m = store.history({ from: '2026-12', to: '2027-01', granularity: 'month' });
    t.same(nonZero(m), { '2026-12': byMonth.get('2026-12'), '2027-01': byMonth.get('2027-01') }, `${label}: by month`);
    const all = [...byDay.values()].reduce((a, b) => ({ up: a.up + b.up, down: a.down + b.down }), { up: 0, down: 0 });
    t.same({ up: m.total.up, down: m.total.down }, all, `${label}: range total`);
    const sum = store.summary();
    const jan1 = byDay.get('2027-01-01')!;
    t.same([sum.today.up, sum.today.down, sum.today.total], [jan1.up, jan1.down, jan1.up + jan1.down], `${label}: summary today`);
    t.same([sum.month.up, sum.month.down], [jan1.up, jan1.down], `${label}: summary month (January only)`);
    t.same([sum.year.up, sum.year.down], [jan1.up, jan1.down], `${label}: summary year (2027 only)`);
    t.equal(sum.today.label, '2027-01-01');
  };
  check('half flushed');
  store.flush();
  check('flushed');
  store.flush();
  check('flushed twice');
  store.close();
  store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now });
  check('reopened');
  store.close();
});

t.test('an interval belongs to the bucket of its last millisecond', async (t) => {
  const dir = tempDataDir(t, 'edge');
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => NEW_YEAR + MIN });
  t.teardown(() => store.close());
  store.add(interval({ end: NEW_YEAR, traffic: [row('eth0', 'up', 'internet', 7)] }));      // [23:59:59, 00:00:00) → old year
  store.add(interval({ end: NEW_YEAR + 1, traffic: [row('eth0', 'up', 'internet', 13)] }));  // ends 1 ms into the new year
  store.flush();
  const d = store.history({ from: '2026-12-31', to: '2027-01-01', granularity: 'day' });
  t.same(d.buckets.map((b) => b.up), [7, 13]);
});

t.test('zero-filled ranges and the fixed views', async (t) => {
  const dir = tempDataDir(t, 'zero');
  const clock = manualClock(Date.UTC(2027, 1, 10, 15, 20));
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now });
  t.teardown(() => store.close());
  store.add(interval({ end: Date.UTC(2027, 1, 3, 8, 0, 30), traffic: [row('eth0', 'down', 'internet', 500, 4)] }));
  store.add(interval({ end: Date.UTC(2027, 1, 10, 14, 59, 59), traffic: [row('eth0', 'up', 'lan', 40, 1)] }));
  store.flush();

  const d = store.history({ from: '2027-02-01', to: '2027-02-10', granularity: 'day' });
  t.equal(d.buckets.length, 10, 'ten days, every one present');
  t.same(d.buckets.map((b) => b.label), Array.from({ length: 10 }, (_, i) => `2027-02-${String(i + 1).padStart(2, '0')}`));
  t.same(d.buckets.map((b) => b.total), [0, 0, 500, 0, 0, 0, 0, 0, 0, 40]);
  t.same([d.buckets[2].packetsDown, d.buckets[9].packetsUp], [4, 1]);
  t.equal(d.from, Date.UTC(2027, 1, 1));
  t.equal(d.to, Date.UTC(2027, 1, 11));

  const m30 = store.last30Days();
  t.equal(m30.buckets.length, 30);
  t.equal(m30.buckets[29].label, '2027-02-10', 'the last of the 30 days is today');
  t.equal(m30.buckets[0].label, '2027-01-12');
  t.equal(m30.total.total, 540);

  const m12 = store.last12Months();
  t.same(m12.buckets.map((b) => b.label), ['2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10', '2026-11', '2026-12', '2027-01', '2027-02']);
  t.same(m12.buckets.map((b) => b.total), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 540]);

  const today = store.todayByHour();
  t.equal(today.buckets.length, 24);
  t.same(today.buckets.filter((b) => b.total).map((b) => [b.label, b.up]), [['2027-02-10T14:00+00:00', 40]]);

  t.same(store.dateRange(), { first: '2027-02-03', last: '2027-02-10', firstTime: Date.UTC(2027, 1, 3, 8, 0), lastTime: Date.UTC(2027, 1, 10, 14, 45) });

  // epoch-ms bounds are instants, rounded out to whole buckets
  const h = store.history({ from: Date.UTC(2027, 1, 3, 8, 20), to: Date.UTC(2027, 1, 3, 9, 10), granularity: 'hour' });
  t.same(h.buckets.map((b) => [b.label, b.total]), [['2027-02-03T08:00+00:00', 500], ['2027-02-03T09:00+00:00', 0]]);

  t.same([store.history({ from: 'yesterday', to: 'today', granularity: 'day' }).buckets.map((b) => b.label)], [['2027-02-09', '2027-02-10']]);
});

t.test('filters: interface, direction, scope', async (t) => {
  const dir = tempDataDir(t, 'filter');
  const end = Date.UTC(2027, 4, 5, 12);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => end });
  t.teardown(() => store.close());
  store.add(interval({ end, traffic: [row('eth0', 'up', 'internet', 1), row('eth0', 'down', 'internet', 2), row('eth0', 'down', 'lan', 4), row('wg0', 'up', 'lan', 8), row('wg0', 'down', 'unknown', 16)] }));
  const q = (f: object) => store.history({ from: '2027-05-05', to: '2027-05-05', granularity: 'day', ...f }).total.total;
  const both = () => [q({}), q({ iface: 'eth0' }), q({ iface: 'wg0' }), q({ direction: 'up' }), q({ direction: 'down' }), q({ scope: 'internet' }), q({ scope: 'lan' }), q({ scope: 'unknown' }), q({ iface: 'eth0', direction: 'down', scope: 'lan' }), q({ iface: 'nope' })];
  const want = [31, 7, 24, 9, 22, 3, 12, 16, 4, 0];
  t.same(both(), want, 'pending');
  store.flush();
  t.same(both(), want, 'flushed');
  const s = store.summary({ iface: 'wg0' });
  t.same([s.today.up, s.today.down], [8, 16], 'summary per interface');
});

t.test('bad arguments name the parameter and change nothing', async (t) => {
  const dir = tempDataDir(t, 'args');
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => Date.UTC(2027, 0, 1) });
  t.teardown(() => store.close());
  t.throws(() => store.history({ from: '2027-13-01', to: '2027-01-02', granularity: 'day' }), { code: 'FLOW_ERR_USAGE', message: 'from: "2027-13-01" is not a date' });
  t.throws(() => store.history({ from: '2027-01-01', to: '2027-02-30', granularity: 'day' }), { message: 'to: "2027-02-30" is not a date' });
  t.throws(() => store.history({ from: '2027-01-01', to: 'tomorrow', granularity: 'day' }), { message: 'to: "tomorrow" is not a date' });
  t.throws(() => store.history({ from: '2027-01-05', to: '2027-01-01', granularity: 'day' }), { message: /must come after from/ });
  t.throws(() => store.history({ from: '2027-01-01', to: '2027-01-02', granularity: 'week' as 'day' }), { message: 'granularity must be hour, day or month, not "week"' });
  t.throws(() => store.history({ from: '2027-01-01', to: '2027-01-02', granularity: 'day', scope: 'wan' as 'lan' }), { message: /scope must be internet, lan or unknown/ });
  t.throws(() => store.history({ from: '1990-01-01', to: '2027-01-02', granularity: 'hour' }), { message: /^the range has about 324\d{3} hours; a query may have at most 50000 buckets$/ });
  t.throws(() => store.add(interval({ end: Date.UTC(2027, 0, 1), traffic: [row('eth0', 'up', 'internet', 5), row('eth0', 'up', 'internet', -1)] })), { code: 'FLOW_ERR_STORE' });
  t.throws(() => store.add(interval({ end: Date.UTC(2027, 0, 1), traffic: [row('eth0', 'up', 'wan' as 'lan', 5)] })), { code: 'FLOW_ERR_STORE', message: /refused an interval with a traffic row/ });
  t.equal(store.summary().year.total, 0, 'the refused intervals added nothing, not even their good rows');
});

t.test('past days the writer remembers still take late counts', async (t) => {
  const dir = tempDataDir(t, 'late');
  const now = Date.UTC(2027, 3, 20, 12);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => now });
  t.teardown(() => store.close());
  store.add(interval({ end: Date.UTC(2027, 3, 18, 9), traffic: [row('eth0', 'up', 'internet', 100)] }));
  store.add(interval({ end: Date.UTC(2027, 3, 20, 9), traffic: [row('eth0', 'up', 'internet', 1)] }));
  store.flush();
  const days = () => store.last30Days().buckets.slice(-3).map((b) => b.up);
  const year = () => store.summary().year.up;
  t.same([days(), year()], [[100, 0, 1], 101]);
  t.same([days(), year()], [[100, 0, 1], 101], 'asked again: the same (from the remembered sums)');
  // an interval of the day before yesterday arrives late
  store.add(interval({ end: Date.UTC(2027, 3, 18, 23), traffic: [row('eth0', 'up', 'internet', 20)] }));
  t.same([days(), year()], [[120, 0, 1], 121], 'pending');
  store.flush();
  t.same([days(), year()], [[120, 0, 1], 121], 'flushed: the remembered sums were dropped');
  const reader = Store.openReadOnly({ dataDir: dir, clock: () => now });
  t.teardown(() => reader.close());
  t.same([reader.last30Days().buckets.slice(-3).map((b) => b.up), reader.summary().year.up], [[120, 0, 1], 121], 'a reader agrees');
});
