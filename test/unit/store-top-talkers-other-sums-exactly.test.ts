/**
 * Hourly talkers: every hour is stored as its top N keys per dimension plus one
 * "other" row with the rest, so the table stays bounded while every range's
 * rows + other equal the talker total exactly — before and after the cut, with
 * pending counts merged, and when keys held in memory overflow their bound.
 * The live snapshot (top of the last flush window) is what another process reads.
 */
process.env.TZ = 'UTC';
import t from 'tap';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/index.js';
import { DB_FILE } from '../../src/store/schema.js';
import { interval, manualClock, talker, tempDataDir } from '../helpers/intervals.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 10);

/** 12 countries per interval: "C0".."C11", country i carrying (i + 1) * 100 bytes up and i down. */
function countries(scale = 1) {
  return Array.from({ length: 12 }, (_, i) => talker(`C${i}`, (i + 1) * 100 * scale, i, { newSessions: 1, label: `country ${i}` }));
}

t.test('top N per finished hour, "other" keeps the sum exact', async (t) => {
  const dir = tempDataDir(t, 'top');
  const clock = manualClock(T0);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 3 });
  t.teardown(() => store.close());
  // two hours, 10 intervals each
  for (const hour of [0, 1]) {
    for (let i = 1; i <= 10; i++) store.add(interval({ end: T0 + hour * H + i * 60_000, talkers: { country: countries(hour + 1) } }));
  }
  const perInterval = (s: number) => countries(s).reduce((a, r) => a + r.bytesUp + r.bytesDown, 0);
  const total = 10 * perInterval(1) + 10 * perInterval(2);

  const check = (label: string) => {
    const top = store.topTalkers({ dimension: 'country', from: '2026-06-01', to: '2026-06-01', limit: 2 });
    t.same(top.rows.map((r) => r.key), ['C11', 'C10'], `${label}: the largest first`);
    t.same(top.rows.map((r) => r.bytes), [10 * (1200 + 11) + 10 * (2400 + 11), 10 * (1100 + 10) + 10 * (2200 + 10)], `${label}: their bytes`);
    t.equal(top.rows[0].connections, 20, `${label}: connections summed`);
    t.equal(top.rows[0].label, 'country 11', `${label}: label kept`);
    t.equal(top.total.bytes, total, `${label}: total`);
    t.equal(top.rows.reduce((a, r) => a + r.bytes, 0) + top.other.bytes, total, `${label}: rows + other = total`);
    t.equal(top.rows.reduce((a, r) => a + r.packetsUp, 0) + top.other.packetsUp, top.total.packetsUp, `${label}: packets too`);
  };
  check('pending');
  clock.set(T0 + 1 * H + 30 * 60_000); // hour 10 finished, hour 11 not
  store.flush();
  check('first hour cut');

  const db = new Database(path.join(dir, DB_FILE), { readonly: true });
  t.teardown(() => db.close());
  const keys = (hour: number) => (db.prepare(`SELECT key FROM talker_hour WHERE dimension = 'country' AND hour = ? ORDER BY key`).all((T0 + hour * H) / H) as Array<{ key: string }>).map((r) => r.key);
  t.same(keys(0), ['', 'C10', 'C11', 'C9'], 'the finished hour holds its top 3 and "other"');
  t.same(keys(1), ['', 'C10', 'C11', 'C9'], 'so does the current one: the writer holds it whole in memory');
  const reader = Store.openReadOnly({ dataDir: dir, clock: clock.now });
  t.teardown(() => reader.close());
  const fromDb = reader.topTalkers({ dimension: 'country', from: '2026-06-01', to: '2026-06-01', limit: 5 });
  t.same([fromDb.rows.map((r) => r.key), fromDb.total.bytes], [['C11', 'C10', 'C9'], total], 'another process reads the same totals');

  clock.set(T0 + 2 * H + 5 * 60_000);
  store.flush();
  check('both hours finished');

  const oneHour = store.topTalkers({ dimension: 'country', from: '2026-06-01T10', to: '2026-06-01T10', limit: 5 });
  t.same(oneHour.rows.map((r) => r.key), ['C11', 'C10', 'C9'], 'keys folded away stay in "other"');
  t.equal(oneHour.total.bytes, 10 * perInterval(1));
  t.equal(oneHour.from, T0);
  t.equal(oneHour.to, T0 + H);
});

t.test('late counts for a finished hour continue its whole state, totals exact', async (t) => {
  const dir = tempDataDir(t, 'late');
  const clock = manualClock(T0 + 2 * H);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 2 });
  t.teardown(() => store.close());
  store.add(interval({ end: T0 + 60_000, talkers: { port: [talker('tcp/443', 50), talker('udp/53', 40), talker('tcp/22', 30)] } }));
  store.flush();
  store.add(interval({ end: T0 + 120_000, talkers: { port: [talker('tcp/22', 100), talker('udp/123', 1)] } }));
  store.flush();
  const top = store.topTalkers({ dimension: 'port', from: T0, to: T0 + H, limit: 10 });
  // the hour was dropped from memory after the first flush; its open state (kept a day) gives tcp/22 back its first 30 bytes
  t.same(top.rows.map((r) => [r.key, r.bytes]), [['tcp/22', 130], ['tcp/443', 50]], 'the late key joins the top with all its bytes; the rest are in "other"');
  t.equal(top.other.bytes, 41);
  t.equal(top.total.bytes, 221);
});

t.test('keys held in memory are bounded; the fold keeps totals exact', async (t) => {
  const dir = tempDataDir(t, 'bound');
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => T0, pendingKeysLimit: 10 });
  t.teardown(() => store.close());
  const ips = Array.from({ length: 25 }, (_, i) => talker(`198.51.100.${i}`, 1000 - i));
  store.add(interval({ end: T0 + 1000, talkers: { ip: ips } }));
  const top = store.topTalkers({ dimension: 'ip', from: T0, to: T0 + H, limit: 3 });
  t.same(top.rows.map((r) => r.key), ['198.51.100.0', '198.51.100.1', '198.51.100.2']);
  t.equal(top.total.bytes, ips.reduce((a, r) => a + r.bytesUp, 0));
  store.flush();
  t.equal(store.topTalkers({ dimension: 'ip', from: T0, to: T0 + H, limit: 3 }).total.bytes, ips.reduce((a, r) => a + r.bytesUp, 0));
});

t.test('live snapshot: the last flush window, for other processes', async (t) => {
  const dir = tempDataDir(t, 'live');
  const clock = manualClock(T0);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 2 });
  t.teardown(() => store.close());
  store.add(interval({ end: T0 + 1000, talkers: { domain: [talker('a.example', 10), talker('b.example', 5), talker('c.example', 1)] } }));
  clock.set(T0 + 2000);
  store.flush();
  const reader = Store.openReadOnly({ dataDir: dir });
  t.teardown(() => reader.close());
  const live = reader.liveTop({ dimension: 'domain', limit: 5 });
  t.same(live && { from: live.from, to: live.to, rows: live.rows.map((r) => [r.key, r.bytes]), other: live.other.bytes, total: live.total.bytes },
    { from: T0, to: T0 + 1000, rows: [['a.example', 10], ['b.example', 5]], other: 1, total: 16 });
  t.same(reader.liveTop({ dimension: 'asn' })?.rows, [], 'a dimension without traffic is empty');

  store.add(interval({ end: T0 + 3000, talkers: { domain: [talker('z.example', 7)] } }));
  store.flush();
  t.same(reader.liveTop({ dimension: 'domain' })?.rows.map((r) => r.key), ['z.example'], 'replaced on each flush');
  t.throws(() => reader.topTalkers({ dimension: 'colour' as 'ip', from: 'today', to: 'today' }), { message: /dimension must be one of ip, host, port, proto, country, asn, domain/ });
  t.throws(() => reader.topTalkers({ dimension: 'ip', from: 'today', to: 'today', limit: 0 }), { message: /limit must be a whole number/ });
});

t.test('live snapshot: a query between flushes, and keys over the bound, keep the window and the hour exact', async (t) => {
  const dir = tempDataDir(t, 'live-window');
  const clock = manualClock(T0);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 2, pendingKeysLimit: 6 });
  t.teardown(() => store.close());
  const reader = Store.openReadOnly({ dataDir: dir });
  t.teardown(() => reader.close());
  const liveOf = () => { const l = reader.liveTop({ dimension: 'domain', limit: 2 })!; return { rows: l.rows.map((r) => [r.key, r.bytes]), total: l.total.bytes }; };
  const hourOf = () => store.topTalkers({ dimension: 'domain', from: T0, to: T0 + H, limit: 1 });
  store.add(interval({ end: T0 + 1000, talkers: { domain: [talker('a.example', 10), talker('b.example', 4)] } }));
  // a query settles the counts into the hour and the live window before the flush
  t.same(hourOf().rows.map((r) => [r.key, r.bytes]), [['a.example', 10]]);
  store.add(interval({ end: T0 + 2000, talkers: { domain: [talker('a.example', 5), talker('d.example', 3)] } }));
  store.flush();
  t.same(liveOf(), { rows: [['a.example', 15], ['b.example', 4]], total: 22 }, 'the window: both intervals, each once');
  t.equal(hourOf().total.bytes, 22, 'the hour: the same, nothing counted twice');
  // the next window: 10 keys in one interval, over the bound of 6 (the smallest are summed as "other")
  store.add(interval({ end: T0 + 3000, talkers: { domain: Array.from({ length: 10 }, (_, i) => talker(`k${i}.example`, 100 + i)) } }));
  store.flush();
  t.same(liveOf(), { rows: [['k9.example', 109], ['k8.example', 108]], total: 1045 }, 'the window of the next flush alone, its total exact past the bound');
  t.equal(hourOf().total.bytes, 22 + 1045, 'the hour has both windows');
});

t.test('a full hour: small new keys go to "other", a large one still takes a place; the total stays exact', async (t) => {
  const dir = tempDataDir(t, 'full-hour');
  const clock = manualClock(T0 + 10 * 60_000);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 10, pendingKeysLimit: 6 });
  t.teardown(() => store.close());
  const add = (k: number, rows: ReturnType<typeof talker>[]) => { store.add(interval({ end: T0 + k * 1000, talkers: { domain: rows } })); store.flush(); };
  const top = () => store.topTalkers({ dimension: 'domain', from: T0, to: T0 + H, limit: 10 });
  // 10 keys over the bound of 6: the 3 largest are kept, the rest summed in "other"
  add(1, Array.from({ length: 10 }, (_, i) => talker(`k${i}.example`, 100 + i)));
  t.same(top().rows.map((r) => r.key), ['k9.example', 'k8.example', 'k7.example']);
  // four small newcomers: three fill the room ("other" takes none), the fourth (smaller than any kept at the fold) goes to "other"
  add(2, ['n0', 'n1', 'n2', 'n3'].map((k) => talker(`${k}.example`, 50)));
  t.same(top().rows.map((r) => r.key), ['k9.example', 'k8.example', 'k7.example', 'n0.example', 'n1.example', 'n2.example'], 'n3 is in "other"');
  // a large newcomer to the full set takes a place, and keeps all its bytes
  add(3, [talker('big.example', 1_000_000)]);
  const after = top();
  t.same(after.rows[0], { key: 'big.example', bytesUp: 1_000_000, bytesDown: 0, bytes: 1_000_000, packetsUp: 1, packetsDown: 0, connections: 0 }, 'its own row, whole');
  t.equal(after.total.bytes, 1045 + 200 + 1_000_000, 'rows + other: every byte, once');
});

t.test('"other" is no key: a set filled to the bound keeps its keys when "other" rows come (a coarsened interval)', async (t) => {
  const dir = tempDataDir(t, 'other-no-key');
  const clock = manualClock(T0 + 10 * 60_000);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 10, pendingKeysLimit: 6 });
  t.teardown(() => store.close());
  const keys = Array.from({ length: 6 }, (_, i) => `k${i}.example`);
  store.add(interval({ end: T0 + 1000, talkers: { domain: keys.map((k, i) => talker(k, 100 + i)) } }));
  store.flush();
  // a coarsened interval: the same keys, and the rest of its traffic as an "other" row
  for (let n = 2; n <= 4; n++) {
    store.add(interval({ end: T0 + n * 1000, talkers: { domain: [...keys.map((k) => talker(k, 10)), talker('', 7)] } }));
    store.flush();
  }
  const top = store.topTalkers({ dimension: 'domain', from: T0, to: T0 + H, limit: 10 });
  t.same(top.rows.map((r) => [r.key, r.bytes]), keys.map((k, i) => [k, 100 + i + 30]).reverse(), 'every key whole: none folded away');
  t.equal(top.other.bytes, 21);
  t.equal(top.total.bytes, 615 + 180 + 21);
});

t.test('a restarted writer continues the hour an earlier one wrote, counting nothing twice', async (t) => {
  for (const stop of ['clean', 'kill'] as const) {
    const dir = tempDataDir(t, `restart-${stop}`);
    const clock = manualClock(T0 + 10 * 60_000);
    let store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 2 });
    store.add(interval({ end: T0 + 60_000, talkers: { asn: [talker('AS1', 100, 0, { label: 'One' }), talker('AS2', 50), talker('AS3', 10)] } }));
    store.close();
    if (stop === 'kill') {
      // as for a set past OPEN_KEYS_LIMIT, or a database of an older flowlens: the cut rows are stored, the hour's whole state is not
      const db = new Database(path.join(dir, DB_FILE));
      db.exec('DELETE FROM talker_hour_open');
      db.close();
    }
    store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, hourlyTopN: 2 });
    t.teardown(() => store.close());
    store.add(interval({ end: T0 + 120_000, talkers: { asn: [talker('AS2', 70), talker('AS3', 40), talker('AS4', 5)] } }));
    const top = store.topTalkers({ dimension: 'asn', from: T0, to: T0 + H, limit: 5 });
    if (stop === 'clean') {
      t.same(top.rows.map((r) => [r.key, r.bytes, r.label]), [['AS2', 120, undefined], ['AS1', 100, 'One'], ['AS3', 50, undefined], ['AS4', 5, undefined]],
        'clean stop: the hour continues whole — AS3, cut from the stored top 2, keeps the 10 bytes it had before the restart');
      t.same([top.other.bytes, top.total.bytes], [0, 275], 'nothing in "other", the total exact');
    } else {
      t.same(top.rows.map((r) => [r.key, r.bytes, r.label]), [['AS2', 120, undefined], ['AS1', 100, 'One'], ['AS3', 40, undefined], ['AS4', 5, undefined]],
        'without open state: the hour continues from its cut rows, AS3 shows only its later bytes');
      t.same([top.other.bytes, top.total.bytes], [10, 275], 'its earlier 10 stay in "other": the total is exact either way');
    }
    store.flush();
    const reader = Store.openReadOnly({ dataDir: dir, clock: clock.now });
    t.teardown(() => reader.close());
    const stored = reader.topTalkers({ dimension: 'asn', from: T0, to: T0 + H, limit: 5 });
    t.same(stored.rows.map((r) => [r.key, r.bytes]), [['AS2', 120], ['AS1', 100]], `${stop}: stored, the top 2`);
    t.same([stored.other.bytes, stored.total.bytes], [55, 275], `${stop}: the rest in "other", the same total`);
  }
});
