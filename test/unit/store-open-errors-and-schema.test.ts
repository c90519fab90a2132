/**
 * Opening the store: the directory and schema are created (WAL, a schema
 * version; WAL while open); a directory that cannot be made, a file that is not a flowlens
 * database, one from a newer flowlens, a missing database for a reader and bad
 * settings each give one clear FlowlensError — and the file is left untouched.
 * SIGTERM-style shutdown (close) flushes; the flush timer flushes on its own,
 * in turns of the event loop (a dimension's settle each, then the writes).
 */
import t from 'tap';
import path from 'node:path';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/index.js';
import { DB_FILE, SCHEMA_VERSION } from '../../src/store/schema.js';
import { interval, row, talker, tempDataDir } from '../helpers/intervals.js';

const T0 = Date.UTC(2026, 8, 1, 12);

t.test('creates the directory and a WAL database with its schema version', async (t) => {
  const dir = path.join(tempDataDir(t, 'create'), 'a', 'b');
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => T0 });
  const open = new Database(path.join(dir, DB_FILE), { readonly: true });
  t.equal(open.pragma('journal_mode', { simple: true }), 'wal', 'WAL while it runs');
  open.close();
  store.close();
  const db = new Database(path.join(dir, DB_FILE), { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('journal_mode', { simple: true }), 'delete', 'a rollback journal once closed (readable without write access)');
  t.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  t.equal(db.pragma('application_id', { simple: true }), 0x666c6f77);
});

t.test('the database, its WAL and its shared memory file are 0640 (owner and group), whatever the umask', async (t) => {
  for (const umask of [0o000, 0o022, 0o077]) {
    const dir = tempDataDir(t, `mode-${umask.toString(8)}`);
    const old = process.umask(umask);
    let store: Store;
    try {
      store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => T0 });
      store.add(interval({ end: T0 + 1000, traffic: [row('eth0', 'up', 'internet', 10)] }));
      store.flush();
    } finally {
      process.umask(old);
    }
    const modes = [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`].map((f) => `${f} ${(statSync(path.join(dir, f)).mode & 0o777).toString(8)}`);
    t.same(modes, [`${DB_FILE} 640`, `${DB_FILE}-wal 640`, `${DB_FILE}-shm 640`], `umask ${umask.toString(8)}`);
    store.close();
  }
});

t.test('a data directory that cannot be created', async (t) => {
  const base = tempDataDir(t, 'notdir');
  writeFileSync(path.join(base, 'file'), 'x');
  t.throws(() => Store.open({ dataDir: path.join(base, 'file', 'sub') }), {
    code: 'FLOW_ERR_STORE', message: `cannot write the data directory ${path.join(base, 'file', 'sub')}: ENOTDIR`, hint: /--data-dir/,
  });
});

t.test('a file that is not a flowlens database is refused and left as it was', async (t) => {
  const dir = tempDataDir(t, 'notours');
  const file = path.join(dir, DB_FILE);
  writeFileSync(file, 'hello, this is not SQLite at all, just some text long enough to have a header........');
  const before = readFileSync(file);
  t.throws(() => Store.open({ dataDir: dir }), { code: 'FLOW_ERR_STORE', message: `${file} is not a flowlens database`, hint: /move the file away, or choose another directory with --data-dir/ });
  t.throws(() => Store.openReadOnly({ dataDir: dir }), { message: `${file} is not a flowlens database` });
  t.same(readFileSync(file), before, 'unchanged');

  const other = tempDataDir(t, 'otherapp');
  const db = new Database(path.join(other, DB_FILE));
  db.exec('CREATE TABLE recipes (name TEXT)');
  db.close();
  t.throws(() => Store.open({ dataDir: other }), { message: /is not a flowlens database/ }, "another program's SQLite database");
  const check = new Database(path.join(other, DB_FILE), { readonly: true });
  t.same(check.prepare(`SELECT name FROM sqlite_master`).all(), [{ name: 'recipes' }], 'no table added to it');
  check.close();
});

t.test('a database from a newer flowlens', async (t) => {
  const dir = tempDataDir(t, 'newer');
  Store.open({ dataDir: dir, flushIntervalMs: 0 }).close();
  const db = new Database(path.join(dir, DB_FILE));
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  t.throws(() => Store.open({ dataDir: dir }), { code: 'FLOW_ERR_STORE', message: /was written by a newer flowlens/, hint: /upgrade flowlens/ });
  t.throws(() => Store.openReadOnly({ dataDir: dir }), { message: /was written by a newer flowlens/ });
});

t.test('a reader on a directory without history', async (t) => {
  const dir = tempDataDir(t, 'empty');
  t.throws(() => Store.openReadOnly({ dataDir: dir }), { code: 'FLOW_ERR_STORE', message: `no history in ${dir} yet (${DB_FILE} does not exist)`, hint: /flowlens run writes it/ });
});

t.test('bad settings name the setting', async (t) => {
  const dir = tempDataDir(t, 'config');
  t.throws(() => Store.open({ dataDir: dir, hourlyTopN: 0 }), { code: 'FLOW_ERR_USAGE', message: 'store: hourlyTopN must be a whole number ≥ 1, not 0' });
  t.throws(() => Store.open({ dataDir: dir, flushIntervalMs: 1.5 }), { message: /flushIntervalMs must be a whole number/ });
  t.throws(() => Store.open({ dataDir: '' }), { message: /dataDir must be a directory path/ });
});

t.test('close() flushes; the timer flushes by itself; a closed store says so', async (t) => {
  const dir = tempDataDir(t, 'close');
  let store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => T0 });
  store.add(interval({ end: T0, traffic: [row('eth0', 'up', 'internet', 1234)] }));
  store.close();
  const reader = Store.openReadOnly({ dataDir: dir, clock: () => T0 });
  t.teardown(() => reader.close());
  t.equal(reader.summary().today.up, 1234, 'close wrote what was pending');
  t.throws(() => store.summary(), { code: 'FLOW_ERR_STORE', message: 'the history store is closed' });

  store = Store.open({ dataDir: dir, flushIntervalMs: 50, clock: () => T0 });
  t.teardown(() => store.close());
  store.add(interval({ end: T0, traffic: [row('eth0', 'up', 'internet', 1)] }));
  for (let i = 0; i < 100 && reader.summary().today.up !== 1235; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(reader.summary().today.up, 1235, 'the flush timer wrote it');
});

/** The talkers a store answers for a dimension and scope: as a flush at once, or (past the keys limit, where folds differ) their totals. */
const talkersOf = (store: Store, dimension: 'ip' | 'host' | 'port' | 'proto' | 'country' | 'asn' | 'domain' | 'device', scope: '' | 'internet' | 'lan', totalsOnly: boolean) => {
  const top = store.topTalkers({ dimension, from: '2026-09-01', to: '2026-09-01', ...(scope ? { scope } : {}) });
  return totalsOnly ? top.total : top;
};
const DIMENSIONS = ['ip', 'host', 'port', 'proto', 'country', 'asn', 'domain', 'device'] as const;

for (const keysLimit of [1000, 40]) t.test(`the timer's flush settles and ranks in turns, then writes what was added before it began; what came between the turns is counted, and in the next flush (keys limit ${keysLimit})`, async (t) => {
  // under the keys limit the talkers are the same; past it (folds into "other", which keys
  // make it in depends on when they were settled) their totals are
  const folds = keysLimit < 100;
  type Turns = { flushInTurns(): void; flushing: unknown };
  const open = (tag: string) => {
    const dir = tempDataDir(t, tag);
    return { dir, store: Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => T0 + 60_000, pendingKeysLimit: keysLimit, hourlyTopN: 10 }) };
  };
  const atOnce = open('flush-at-once');
  const inTurns = open('flush-in-turns');
  // intervals of many keys in every dimension, internet and LAN differing (no shared sets)
  // (`size` keys a dimension at most: under the keys limit, so an add does not settle by itself)
  const stats = (k: number, size: number) => {
    const rows = (dim: string, n: number) => Array.from({ length: Math.min(n, size) }, (_, i) => talker(`${dim}-${(i * 7 + k * 3) % 90}`, 10 + ((i * 31 + k) % 97), (i * 13) % 50));
    const all = { ip: rows('ip', 60), host: rows('host', 20), port: rows('port', 50), proto: rows('proto', 3), country: rows('cc', 30), asn: rows('as', 45), domain: rows('dom', 55), device: rows('dev', 15) };
    const lan = Object.fromEntries(Object.entries(all).map(([d, r]) => [d, r.filter((_, i) => i % 3 === 0)]));
    const internet = Object.fromEntries(Object.entries(all).map(([d, r]) => [d, r.filter((_, i) => i % 3 !== 0)]));
    return interval({ end: T0 + k * 1000, traffic: [row('eth0', 'up', 'internet', 100 + k), row('eth0', 'down', 'lan', 7 * k)], talkers: all, scopedTalkers: { internet, lan } });
  };
  for (let k = 1; k <= 6; k++) { atOnce.store.add(stats(k, folds ? 38 : 60)); inTurns.store.add(stats(k, folds ? 38 : 60)); }
  const turns = inTurns.store as unknown as Turns;
  const unsettled = () => (inTurns.store as unknown as { pending: { unsettled: Map<number, Map<string, Map<string, unknown>>> } }).pending.unsettled;
  const keysWaiting = () => [...unsettled().values()].reduce((n, sets) => n + [...sets.values()].reduce((m, x) => m + x.size, 0), 0);
  // an interval after the settle that the last add made by itself (past the keys limit)
  if (folds) { atOnce.store.add(stats(0, 30)); inTurns.store.add(stats(0, 30)); }
  t.ok(keysWaiting() > 100, `keys waiting to be settled when the flush begins (${keysWaiting()})`);
  const upBefore = Array.from({ length: 6 }, (_, i) => 101 + i).reduce((a, b) => a + b, 0) + (folds ? 100 : 0);
  turns.flushInTurns();
  const reader = Store.openReadOnly({ dataDir: inTurns.dir, clock: () => T0 + 60_000 });
  t.teardown(() => reader.close());
  t.equal(reader.summary().today.up, 0, 'nothing written in the first turn');
  // intervals between the turns (the monitor's history steps)
  const late: ReturnType<typeof stats>[] = [];
  let k = 7, turnsTaken = 0;
  while (turns.flushing) {
    const s = stats(k++, 4);
    late.push(s);
    inTurns.store.add(s);
    turns.flushInTurns(); // a call while one is due is the same flush
    await new Promise((r) => setImmediate(r));
    turnsTaken++;
  }
  atOnce.store.flush();
  t.ok(turnsTaken >= 1, `turns, then the writes (${turnsTaken} turns)`);
  t.equal(reader.summary().today.up, upBefore, 'the flush wrote the intervals added before it began, none of those during it');
  const atOnceReader = Store.openReadOnly({ dataDir: atOnce.dir, clock: () => T0 + 60_000 });
  t.teardown(() => atOnceReader.close());
  for (const dimension of DIMENSIONS) {
    for (const scope of ['', 'internet', 'lan'] as const) {
      t.same(talkersOf(reader, dimension, scope, folds), talkersOf(atOnceReader, dimension, scope, folds), `${dimension} ${scope || 'all'}: the database holds the talkers of a flush at once of those`);
      if (!folds) t.same(reader.liveTop({ dimension, scope }), atOnceReader.liveTop({ dimension, scope }), `${dimension} ${scope || 'all'}: and the same live talkers`);
    }
  }
  // what came during the flush is counted: the store's own answers have it, and so does the next flush
  for (const s of late) atOnce.store.add(s);
  const upAll = upBefore + late.reduce((n, s) => n + s.traffic[0]!.bytes, 0);
  t.equal(inTurns.store.summary().today.up, upAll, 'the store answers with every interval added, those during the flush too');
  for (const dimension of DIMENSIONS) t.same(talkersOf(inTurns.store, dimension, '', folds), talkersOf(atOnce.store, dimension, '', folds), `${dimension}: and their talkers`);
  inTurns.store.flush();
  atOnce.store.flush();
  t.equal(reader.summary().today.up, upAll, 'the next flush wrote them');
  for (const dimension of DIMENSIONS) {
    for (const scope of ['', 'internet', 'lan'] as const) {
      t.same(talkersOf(reader, dimension, scope, folds), talkersOf(atOnceReader, dimension, scope, folds), `${dimension} ${scope || 'all'}: with their talkers`);
    }
  }
  atOnce.store.close();

  // close() during a flush in turns writes everything, also what came between the turns
  inTurns.store.add(stats(k, 4));
  turns.flushInTurns();
  inTurns.store.add(stats(k + 1, 4));
  inTurns.store.close();
  await new Promise((r) => setImmediate(r));
  t.equal(reader.summary().today.up, upAll + 100 + k + 100 + k + 1, 'close() between the turns wrote it all; the due turn did nothing after close');
});

t.test('the timer\'s flush of 25k keys a dimension: slices of a turn each, the same history and live talkers as a flush at once', async (t) => {
  type Turns = { flushInTurns(): void; flushing: unknown };
  const open = (tag: string) => {
    const dir = tempDataDir(t, tag);
    return { dir, store: Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => T0 + 60_000, hourlyTopN: 20 }) };
  };
  const atOnce = open('large-at-once');
  const inTurns = open('large-in-turns');
  // the flows stage's rows: each with its key number (TalkerRow.id), so the history sums them by number
  const stats = (k: number) => {
    const rows = (dim: string, n: number) => Array.from({ length: n }, (_, i) => talker(`${dim}-${i}`, 1 + ((i * 31 + k * 7) % 997), (i * 13 + k) % 50, { id: i }));
    return interval({ end: T0 + k * 1000, traffic: [row('eth0', 'up', 'internet', 100 + k)], talkers: { ip: rows('ip', 25_000), host: rows('host', 12_000), proto: rows('proto', 3) } });
  };
  for (let k = 1; k <= 3; k++) { atOnce.store.add(stats(k)); inTurns.store.add(stats(k)); }
  const turns = inTurns.store as unknown as Turns;
  const reader = Store.openReadOnly({ dataDir: inTurns.dir, clock: () => T0 + 60_000 });
  t.teardown(() => reader.close());
  const atOnceReader = Store.openReadOnly({ dataDir: atOnce.dir, clock: () => T0 + 60_000 });
  t.teardown(() => atOnceReader.close());
  const dims = ['ip', 'host', 'proto'] as const;
  const same = (what: string, a: Store, b: Store) => {
    for (const dimension of dims) {
      t.same(talkersOf(a, dimension, '', false), talkersOf(b, dimension, '', false), `${dimension}: ${what}`);
      t.same(a.liveTop({ dimension }), b.liveTop({ dimension }), `${dimension}: ${what} (live talkers)`);
    }
  };
  // an interval after the first and the fifth turn: written by the next flush
  turns.flushInTurns();
  t.equal(reader.summary().today.up, 0, 'nothing written in the first turn');
  let turnsTaken = 0;
  const late: ReturnType<typeof stats>[] = [];
  while (turns.flushing) {
    turnsTaken++;
    if (turnsTaken === 1 || turnsTaken === 5) { const s = stats(10 + turnsTaken); late.push(s); inTurns.store.add(s); }
    if (turns.flushing) t.equal(reader.summary().today.up, 0, `nothing written before the last turn (turn ${turnsTaken})`);
    await new Promise((r) => setImmediate(r));
  }
  t.ok(turnsTaken >= 6 && late.length === 2, `25k keys in slices of 10k, each a turn (${turnsTaken} turns)`);
  atOnce.store.flush();
  t.equal(reader.summary().today.up, 306, 'the intervals before the flush written, those during it not');
  same('the database holds what a flush at once of those does', reader, atOnceReader);
  for (const s of late) atOnce.store.add(s);
  same('the store answers with every interval, those during the flush too', inTurns.store, atOnce.store);

  // a query amid the next flush counts what came during it, and the flush then writes everything at once
  turns.flushInTurns();
  turnsTaken = 0;
  while (turns.flushing) {
    turnsTaken++;
    if (turnsTaken === 1 || turnsTaken === 3) { const s = stats(20 + turnsTaken); late.push(s); inTurns.store.add(s); }
    if (turnsTaken === 2) t.equal(inTurns.store.summary().today.up, 306 + 111 + 115 + 121, 'a query amid the flush has every interval added');
    await new Promise((r) => setImmediate(r));
  }
  for (const s of late.slice(2)) atOnce.store.add(s);
  atOnce.store.flush();
  t.equal(reader.summary().today.up, 306 + late.reduce((n, s) => n + s.traffic[0]!.bytes, 0), `that flush wrote every interval added until it (${late.length - 2} during it)`);
  same('and the talkers of a flush at once', reader, atOnceReader);
  inTurns.store.flush();
  atOnce.store.flush();
  same('after another flush, the same', reader, atOnceReader);
  atOnce.store.close();
  inTurns.store.close();
});

t.test('one writer per data directory; a stale PID file is taken over', async (t) => {
  const { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { spawn } = await import('node:child_process');
  const { Store } = await import('../../src/store/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { processIdentity } = await import('../../src/store/lock.js');
  // a live process that is not us holds the directory: its PID file names it (PID, boot, start time)
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.teardown(() => { holder.kill('SIGKILL'); });
  await new Promise((r) => holder.once('spawn', r));
  writeFileSync(join(dir, 'flowlens.pid'), `${holder.pid}\n${processIdentity(holder.pid!)}\n`);
  t.throws(() => Store.open({ dataDir: dir, flushIntervalMs: 0 }), new RegExp(`another flowlens \\(PID ${holder.pid}\\) writes the history in`));
  // the same PID with another start time (the writer died and the PID was reused): taken over
  writeFileSync(join(dir, 'flowlens.pid'), `${holder.pid}\n${processIdentity(holder.pid!)!.replace(/start \d+/, 'start 1')}\n`);
  Store.open({ dataDir: dir, flushIntervalMs: 0 }).close();
  writeFileSync(join(dir, 'flowlens.pid'), `${holder.pid}\n${processIdentity(holder.pid!)}\n`);
  // its writer died (kill -9): the file is taken over
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0 });
  const [pid, identity] = readFileSync(join(dir, 'flowlens.pid'), 'utf8').split('\n');
  t.equal(pid, String(process.pid), 'the PID file names this process');
  t.equal(identity, processIdentity(process.pid), 'and its identity (boot, start time)');
  store.flush();
  const reader = Store.openReadOnly({ dataDir: dir });
  t.same(reader.dateRange().first, null, 'a reader beside the writer is never refused');
  reader.close();
  store.close();
  t.notOk(existsSync(join(dir, 'flowlens.pid')), 'close releases the directory');
});

t.test('a stale PID file naming a live process that is no flowlens (PID 1 after a reboot) is taken over', async (t) => {
  const { mkdtempSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { Store } = await import('../../src/store/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'flowlens-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // the format of older flowlens versions (the PID only) and of this one (with an identity from another boot)
  for (const stale of ['1\n', '1\nboot 00000000-0000-0000-0000-000000000000 start 1\n']) {
    writeFileSync(join(dir, 'flowlens.pid'), stale);
    const store = Store.open({ dataDir: dir, flushIntervalMs: 0 });
    t.equal(readFileSync(join(dir, 'flowlens.pid'), 'utf8').split('\n')[0], String(process.pid), `taken over from ${JSON.stringify(stale)}`);
    store.close();
  }
});
