/**
 * Opening the store: the directory and schema are created (WAL, a schema
 * version; WAL while open); a directory that cannot be made, a file that is not a flowlens
 * database, one from a newer flowlens, a missing database for a reader and bad
 * settings each give one clear FlowlensError — and the file is left untouched.
 * SIGTERM-style shutdown (close) flushes; the flush timer flushes on its own,
 * in two turns of the event loop.
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

t.test("the timer's flush settles in one turn and writes in the next, with what came between; close() in between writes it once", async (t) => {
  const dir = tempDataDir(t, 'two-turns');
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => T0 });
  const reader = Store.openReadOnly({ dataDir: dir, clock: () => T0 });
  t.teardown(() => reader.close());
  const flushInTwoTurns = () => (store as unknown as { flushInTwoTurns(): void }).flushInTwoTurns();
  store.add(interval({ end: T0, traffic: [row('eth0', 'up', 'internet', 100)], talkers: { ip: [talker('192.0.2.1', 100)] } }));
  flushInTwoTurns();
  t.equal(reader.summary().today.up, 0, 'nothing written in the first turn');
  // an interval between the turns (the monitor's history step)
  store.add(interval({ end: T0 + 1000, traffic: [row('eth0', 'up', 'internet', 20)], talkers: { ip: [talker('192.0.2.1', 20), talker('192.0.2.2', 5)] } }));
  flushInTwoTurns(); // a second call while one is due is the same flush
  await new Promise((r) => setImmediate(r));
  t.equal(reader.summary().today.up, 120, 'both intervals written in the second turn');
  const top = reader.topTalkers({ dimension: 'ip', from: '2026-09-01', to: '2026-09-01' });
  t.same(top.rows.map((r) => [r.key, r.bytesUp]), [['192.0.2.1', 120], ['192.0.2.2', 5]], 'the talkers of both, settled whole');
  const live = reader.liveTop({ dimension: 'ip' });
  t.same(live?.rows.map((r) => [r.key, r.bytesUp]), [['192.0.2.1', 120], ['192.0.2.2', 5]], "the flush window's live talkers hold both");

  store.add(interval({ end: T0 + 2000, traffic: [row('eth0', 'up', 'internet', 3)] }));
  flushInTwoTurns();
  store.close();
  await new Promise((r) => setImmediate(r));
  t.equal(reader.summary().today.up, 123, 'close() wrote it, and the due turn did nothing after close');
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
