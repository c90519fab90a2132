/**
 * kill -9 while writing: a child adds and flushes in a loop and is killed with
 * SIGKILL at random moments, six times. After each kill the database holds
 * exactly what the child had confirmed as flushed, or that plus the one flush it
 * had announced (the transaction either committed or not) — never anything
 * else: nothing lost beyond one flush, nothing counted twice. Traffic and
 * talkers move together; the session log is the flush's second transaction, so
 * a kill between the two leaves the flight's counts without its sessions (lost
 * with the process, as the flush's whole counts would be). Meanwhile a read-only reader in this
 * process (as the CLI beside a running flowlens) only ever sees committed flushes.
 */
import t from 'tap';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/index.js';
import { DB_FILE } from '../../src/store/schema.js';
import { tempDataDir } from '../helpers/intervals.js';

const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/store/crash-writer.ts');
const START = Date.UTC(2026, 0, 1);

interface Added { bytes: number; talkerBytes: number; sessions: number }
const none: Added = { bytes: 0, talkerBytes: 0, sessions: 0 };

/** What the database holds, read straight from its tables. */
function contents(dir: string): Added & { minuteBytes: number } {
  const db = new Database(path.join(dir, DB_FILE), { readonly: true, fileMustExist: true });
  try {
    const one = (sql: string) => (db.prepare(sql).get() as { n: number | null }).n ?? 0;
    return {
      bytes: one('SELECT sum(bytes) AS n FROM traffic_quarter'),
      minuteBytes: one('SELECT sum(bytes) AS n FROM traffic_minute'),
      talkerBytes: one('SELECT sum(bytes_up + bytes_down) AS n FROM talker_hour'),
      sessions: one('SELECT count(*) AS n FROM session_log'),
    };
  } finally {
    db.close();
  }
}

const plus = (a: Added, b: Added): Added => ({ bytes: a.bytes + b.bytes, talkerBytes: a.talkerBytes + b.talkerBytes, sessions: a.sessions + b.sessions });

t.test('SIGKILL at random moments: committed flushes exactly, at most the one in flight on top', async (t) => {
  const dir = tempDataDir(t, 'kill9');
  let before = none;
  let killedInFlight = 0, committedUnconfirmed = 0;
  for (let run = 0; run < 6; run++) {
    const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', writer, dir, String(START + run * 600_000), `run${run}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '', buf = '';
    let flushing = none, flushed = none;
    const announced: Added[] = [];
    let reader: Store | null = null;
    const seen: number[] = [];
    // an aimed kill waits for output that ends on an announced, unconfirmed flush
    // (on a busy machine both lines often arrive in one chunk: that one is no aim)
    let aim: (() => void) | null = null;
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const firstFlush = new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = JSON.parse(buf.slice(0, nl)) as { flushing?: Added; flushed?: Added };
          buf = buf.slice(nl + 1);
          if (line.flushing) { flushing = line.flushing; announced.push(line.flushing); }
          if (line.flushed) { flushed = line.flushed; resolve(); }
        }
        if (aim && flushing.sessions !== flushed.sessions) { aim(); aim = null; }
      });
    });
    await Promise.race([firstFlush, exited]);
    t.equal(child.exitCode, null, `run ${run}: the writer is running (${stderr.trim()})`);
    // read while it writes, as the CLI does
    reader = Store.openReadOnly({ dataDir: dir, clock: () => START });
    const poll = setInterval(() => {
      seen.push(reader!.history({ from: '2025-12', to: '2026-12', granularity: 'month' }).total.total);
    }, 15);
    await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 900)));
    // every other run aims at a flush: killed as soon as one is announced
    if (run % 2 === 1) await new Promise<void>((resolve) => { aim = resolve; });
    child.kill('SIGKILL');
    t.equal(await exited, 'SIGKILL', `run ${run}: killed`);
    clearInterval(poll);
    reader.close();

    const after = contents(dir);
    const committed = plus(before, flushed);
    const inFlight = plus(before, flushing);
    const got = { bytes: after.bytes, talkerBytes: after.talkerBytes, sessions: after.sessions };
    const countsInFlight = got.bytes === inFlight.bytes && inFlight.bytes !== committed.bytes;
    // the session log is the flush's second transaction (store/writer.ts): a kill between the two
    // leaves the flight's counts committed and its sessions not
    const which = countsInFlight ? (got.sessions === committed.sessions ? { ...inFlight, sessions: committed.sessions } : inFlight) : committed;
    if (flushing.sessions !== flushed.sessions) killedInFlight++;
    if (countsInFlight) committedUnconfirmed++;
    t.same(got, which, `run ${run}: the database holds the confirmed flushes${countsInFlight ? ` and the one in flight${which === inFlight ? '' : ' (its counts: killed before its sessions)'}` : ''} (${flushed.sessions} intervals confirmed)`);
    t.equal(after.minuteBytes, after.bytes, `run ${run}: minute and quarter-hour rollups agree`);
    const valid = new Set([before.bytes, ...announced.map((a) => before.bytes + a.bytes)]);
    t.ok(seen.length > 0 && seen.every((v) => valid.has(v)), `run ${run}: the reader saw only committed flushes (${seen.length} reads)`);
    t.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]), `run ${run}: and never went back`);
    before = got;
  }
  t.comment(`${killedInFlight} of 6 kills landed between an announced flush and its confirmation; in ${committedUnconfirmed} the flush had committed`);
  t.ok(killedInFlight >= 1, 'at least one kill landed during a flush');

  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => START + 7 * 86_400_000 });
  t.teardown(() => store.close());
  t.equal(store.history({ from: '2026-01', to: '2026-01', granularity: 'month' }).total.total, before.bytes, 'reopened for writing: the same totals');
  const db = new Database(path.join(dir, DB_FILE), { readonly: true });
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'the database is intact');
  db.close();
});
