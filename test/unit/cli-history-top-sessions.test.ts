/**
 * `flowlens history`, `top` and `sessions` as a user runs them (node
 * dist/src/cli.js in a child process), against a database this test writes
 * through the store — while the writer still holds it open, as a running
 * flowlens would. Tables and JSON are parsed and checked to the byte; bad
 * arguments and a missing database are one clear message, never a stack trace.
 */
process.env.TZ = 'UTC';
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Store } from '../../src/store/index.js';
import type { History, SessionPage, Summary, TopTalkers } from '../../src/store/index.js';
import { cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { interval, row, session, talker, tempDataDir } from '../helpers/intervals.js';
import { readableCheckout } from '../helpers/readable-checkout.js';

interface Result { code: number | null; stdout: string; stderr: string }

function flowlens(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const [cmd, rest] = cliCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC', ...env }, timeout: 30_000 });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function json<T>(t: Test, args: string[]): Promise<T> {
  const r = await flowlens([...args, '--format', 'json']);
  t.equal(r.code, 0, `flowlens ${args.join(' ')}: exit 0 ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** The table's rows as cells (split on runs of 2+ spaces), keyed by their first cell. */
function tableRows(text: string): Map<string, string[]> {
  return new Map(text.trim().split('\n').slice(1).map((l) => l.split(/ {2,}/)).map((cells) => [cells[0], cells.slice(1)]));
}

const DAY = 86_400_000;
const MAR2 = Date.UTC(2026, 2, 2);
const STACK_LINE = /^\s+at /m;

t.test('history, top and sessions against a store being written', async (t) => {
  if (!cliBuilt()) { t.fail('the CLI is built (scripts/build.sh)'); return; }
  const dir = tempDataDir(t, 'cli');
  const today = Math.floor(Date.now() / DAY) * DAY;
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, hourlyTopN: 2 });
  t.teardown(() => store.close());
  // March 1-3 2026: 1500 B up on eth0/internet on the 2nd at 10:xx and 11:xx, 700 B down on eth1/lan on the 3rd
  store.add(interval({ end: MAR2 + 10 * 3_600_000 + 5000, traffic: [row('eth0', 'up', 'internet', 1000, 10)], talkers: { country: [talker('US', 600), talker('DE', 300), talker('FR', 100)] } }));
  store.add(interval({ end: MAR2 + 11 * 3_600_000 + 5000, traffic: [row('eth0', 'up', 'internet', 500, 5)], talkers: { country: [talker('US', 500)] } }));
  store.add(interval({ end: MAR2 + DAY + 60_000, traffic: [row('eth1', 'down', 'lan', 700, 7)] }));
  // today and yesterday (real clock): the default views
  store.add(interval({ end: today + 1000, traffic: [row('eth0', 'down', 'internet', 4_000_000, 3000)], talkers: { domain: [talker('a.example', 0, 3_000_000), talker('b.example', 0, 1_000_000)] } }));
  store.add(interval({ end: today - DAY + 1000, traffic: [row('eth0', 'up', 'internet', 250)] }));
  store.add(interval({ end: MAR2 + 12 * 3_600_000, ended: [
    session({ remote: '203.0.113.53', remotePort: 53, protocol: 17, protocolName: 'udp', firstSeen: today + 1000, lastSeen: today + 2000, bytesUp: 60, bytesDown: 120, country: 'US', asn: 64500 }),
    session({ remote: '203.0.113.80', remotePort: 80, firstSeen: today + 3000, lastSeen: today + 9000, bytesUp: 500, bytesDown: 9000, domain: 'www.example.com' }),
  ] }));
  store.setLiveSessions([session({ remote: '198.51.100.7', firstSeen: today, lastSeen: today + 5000, state: 'established', bytesUp: 1234, bytesDown: 5678 })]);
  store.flush();
  // not flushed: invisible to other processes, never half-visible
  store.add(interval({ end: MAR2 + 10 * 3_600_000 + 6000, traffic: [row('eth0', 'up', 'internet', 99999)] }));

  t.test('history by day, JSON', async (t) => {
    const h = await json<History>(t, ['history', '--data-dir', dir, '--from', '2026-03-01', '--to', '2026-03-03']);
    t.same(h.buckets.map((b) => [b.label, b.up, b.down, b.packetsUp, b.packetsDown]), [['2026-03-01', 0, 0, 0, 0], ['2026-03-02', 1500, 0, 15, 0], ['2026-03-03', 0, 700, 0, 7]]);
    t.same([h.total.up, h.total.down, h.total.total], [1500, 700, 2200]);
  });

  t.test('history by hour, filtered, as a table', async (t) => {
    const r = await flowlens(['history', '--data-dir', dir, '--by', 'hour', '--from', '2026-03-02T09', '--to', '2026-03-02T11', '--iface', 'eth0', '--scope', 'internet']);
    t.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    t.match(lines[0], /^interface eth0, internet — by hour, 2026-03-02 … 2026-03-02 \(UTC\)$/);
    const rows = tableRows(r.stdout.split('\n').slice(1).join('\n'));
    t.same(rows.get('2026-03-02 09:00+00:00'), ['0 B', '0 B', '0 B']);
    t.same(rows.get('2026-03-02 10:00+00:00'), ['1.00 KB', '0 B', '1.00 KB']);
    t.same(rows.get('2026-03-02 11:00+00:00'), ['500 B', '0 B', '500 B']);
    t.same(rows.get('total'), ['1.50 KB', '0 B', '1.50 KB']);
  });

  t.test('history without a range: the last 30 days; --summary', async (t) => {
    const h = await json<History>(t, ['history', '--data-dir', dir]);
    t.equal(h.buckets.length, 30);
    t.same(h.buckets.slice(-2).map((b) => [b.up, b.down]), [[250, 0], [0, 4_000_000]], 'yesterday and today');
    const r = await flowlens(['history', '--data-dir', dir]);
    t.same(tableRows(r.stdout.split('\n').slice(1).join('\n')).get('total'), ['250 B', '4.00 MB', '4.00 MB']);
    const s = await json<Summary>(t, ['history', '--data-dir', dir, '--summary', '--iface', 'eth0']);
    t.same([s.today.up, s.today.down], [0, 4_000_000]);
  });

  t.test('top over a range and live', async (t) => {
    const top = await json<TopTalkers>(t, ['top', '--data-dir', dir, '--by', 'country', '--from', '2026-03-02', '--to', '2026-03-02', '--limit', '1']);
    t.same(top.rows.map((r) => [r.key, r.bytes]), [['US', 1100]]);
    t.same([top.other.bytes, top.total.bytes], [400, 1500], 'the rest in "other", summing to the total');
    const r = await flowlens(['top', '--data-dir', dir, '--by', 'country', '--from', '2026-03-02', '--to', '2026-03-02', '--limit', '2']);
    t.equal(r.code, 0, r.stderr);
    const rows = tableRows(r.stdout.split('\n').slice(1).join('\n'));
    t.same(rows.get('1. US'), ['1.10 KB', '0 B', '1.10 KB', '73.3%', '0']);
    t.same(rows.get('2. DE'), ['300 B', '0 B', '300 B', '20.0%', '0']);
    t.same(rows.get('other'), ['100 B', '0 B', '100 B', '6.7%', '0']);
    t.same(rows.get('total'), ['1.50 KB', '0 B', '1.50 KB', '100.0%', '0']);
    const live = await json<TopTalkers>(t, ['top', '--data-dir', dir, '--by', 'domain', '--live']);
    t.same(live.rows.map((x) => [x.key, x.bytesDown]), [['a.example', 3_000_000], ['b.example', 1_000_000]]);
  });

  t.test('sessions: live by default, the log with --ended, filters and pages', async (t) => {
    const live = await json<SessionPage>(t, ['sessions', '--data-dir', dir]);
    t.same(live.sessions.map((s) => [s.remote, s.bytesUp, s.bytesDown, s.state]), [['198.51.100.7', 1234, 5678, 'established']]);
    const dns = await json<SessionPage>(t, ['sessions', '--data-dir', dir, '--ended', '--port', '53']);
    t.same(dns.sessions.map((s) => [s.remote, s.remotePort, s.protocolName, s.country, s.asn]), [['203.0.113.53', 53, 'udp', 'US', 64500]]);
    const p1 = await flowlens(['sessions', '--data-dir', dir, '--ended', '--sort', 'bytes', '--limit', '1']);
    t.equal(p1.code, 0, p1.stderr);
    const started = `${new Date(today).toISOString().slice(0, 10)} 00:00:03`;
    // the state once: "closed", not "closed (closed)"; the mean rate (9.5 KB in 6 s)
    t.match(p1.stdout, new RegExp(`203\\.0\\.113\\.80:80 .*www\\.example\\.com .*500 B .*9\\.00 KB .*12\\.7 kbit/s .*${started} .*6s +closed$`, 'm'));
    const cursor = /more: add --cursor (\S+)/.exec(p1.stdout)?.[1];
    t.ok(cursor, 'a full page says how to get the next');
    const p2 = await json<SessionPage>(t, ['sessions', '--data-dir', dir, '--ended', '--sort', 'bytes', '--limit', '1', '--cursor', cursor!]);
    t.same([p2.sessions.map((s) => s.remote), p2.nextCursor], [['203.0.113.53'], null], 'the second and last page');
    const cidr = await json<SessionPage>(t, ['sessions', '--data-dir', dir, '--ended', '--addr', '203.0.113.0/24', '--proto', 'tcp', '--domain', 'example.com']);
    t.same(cidr.sessions.map((s) => s.remote), ['203.0.113.80']);
  });

  t.test('a user of the database\'s group reads it, while it is written and after; others may not', { skip: process.getuid?.() !== 0 && 'needs root to switch to nobody' }, async (t) => {
    chmodSync(dir, 0o755);
    const root = readableCheckout(t);
    // the history is 0640 (owner and group): nobody reads it as a member of its group
    const toGroup = (d: string) => { for (const f of readdirSync(d).filter((f) => f.startsWith('flowlens.db'))) chownSync(path.join(d, f), 0, 65534); };
    toGroup(dir);
    const asNobody = (args: string[], gid = 65534) => {
      const [cmd, rest] = cliCommand(args, root);
      return new Promise<Result>((resolve, reject) => {
        const child = spawn(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC' }, uid: 65534, gid, timeout: 30_000 });
        let stdout = '', stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
        child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    };
    const args = ['history', '--data-dir', dir, '--from', '2026-03-02', '--to', '2026-03-02', '--format', 'json'];
    let r = await asNobody(args);
    t.equal(r.code, 0, `while the writer has it open ${r.stderr}`);
    t.equal((JSON.parse(r.stdout) as History).total.up, 1500);
    const outsider = await asNobody(args, 65533);
    t.equal(outsider.code, 1, 'a user outside the group may not read who talked to whom');
    t.match(outsider.stderr, /^flowlens: cannot read \S+flowlens\.db: EACCES \(the history is readable by its owner and its group only\)\n {2}→ run as its owner or a member of its group/, outsider.stderr);
    const copy = tempDataDir(t, 'cli-closed');
    chmodSync(copy, 0o755);
    const other = Store.open({ dataDir: copy, flushIntervalMs: 0 });
    other.add(interval({ end: MAR2 + 1000, traffic: [row('eth0', 'up', 'internet', 42)] }));
    other.close();
    toGroup(copy);
    r = await asNobody(['history', '--data-dir', copy, '--from', '2026-03-02', '--to', '2026-03-02', '--format', 'json']);
    t.equal(r.code, 0, `after the writer closed it ${r.stderr}`);
    t.equal((JSON.parse(r.stdout) as History).total.up, 42);
  });

  t.test('bad arguments and a missing database: one message, exit 1, no stack', async (t) => {
    const cases: Array<[string[], RegExp]> = [
      [['history', '--data-dir', dir, '--by', 'week'], /^flowlens: --by must be hour, day or month, not "week"\n$/],
      [['history', '--data-dir', dir, '--from', '2026-02-30'], /^flowlens: from: "2026-02-30" is not a date\n {2}→ write YYYY-MM-DD/],
      [['history', '--data-dir', dir, '--summary', '--by', 'day'], /--summary takes no --from, --to or --by/],
      [['top', '--data-dir', dir], /^flowlens: --by is required\n {2}→ one of ip, host, port, proto, country, asn, domain, device\n$/],
      [['top', '--data-dir', dir, '--by', 'ip', '--live', '--from', 'today'], /--live takes no --from or --to/],
      [['sessions', '--data-dir', dir, '--from', 'today'], /--from and --to need --ended/],
      [['sessions', '--data-dir', dir, '--ended', '--addr', '300.1.1.1'], /addr: "300.1.1.1" is not an address or CIDR prefix/],
      [['sessions', '--data-dir', dir, '--limit', '0'], /--limit must be a positive whole number, not "0"/],
      [['history', '--data-dir', `${dir}/nowhere`], /^flowlens: no history in \S+\/nowhere yet \(flowlens\.db does not exist\)\n {2}→ flowlens run writes it/],
    ];
    for (const [args, message] of cases) {
      const r = await flowlens(args);
      t.equal(r.code, 1, `${args.slice(3).join(' ') || args.join(' ')}: exit 1`);
      t.match(r.stderr, message);
      t.notMatch(r.stderr, STACK_LINE);
    }
  });
});

t.test('history, top and sessions find the data directory as flowlens run does: flag > FLOWLENS_DATA_DIR > config file > default', async (t) => {
  if (!cliBuilt()) { t.fail('the CLI is built (scripts/build.sh)'); return; }
  // two stores with different traffic, so the answer shows which one was read
  const today = Math.floor(Date.now() / DAY) * DAY;
  const stores = ['a', 'b'].map((tag, i) => {
    const dir = tempDataDir(t, `settings-${tag}`);
    const store = Store.open({ dataDir: dir, flushIntervalMs: 0 });
    store.add(interval({ end: today + 1000, traffic: [row('eth0', 'up', 'internet', 1000 * (i + 1), 1)], talkers: { country: [talker(tag === 'a' ? 'US' : 'DE', 1000 * (i + 1))] },
      ended: [session({ remote: `203.0.113.${i + 1}`, firstSeen: today + 100, lastSeen: today + 900 })] }));
    store.close();
    return dir;
  });
  const [a, b] = stores;
  const config = path.join(tempDataDir(t, 'settings-config'), 'flowlens.yaml');
  writeFileSync(config, `dataDir: ${a}\n`);
  const noEnv = { FLOWLENS_DATA_DIR: undefined, FLOWLENS_CONFIG: undefined };
  /** Which store answered: a or b, by its up bytes, top country and session log. */
  const read = async (args: string[], env: NodeJS.ProcessEnv) => {
    const day = ['--from', 'today', '--to', 'today', '--format', 'json'];
    const results = await Promise.all([['history', ...day], ['top', '--by', 'country', ...day], ['sessions', '--ended', ...day]]
      .map((cmd) => flowlens([...cmd, ...args], { ...noEnv, ...env })));
    for (const r of results) t.equal(r.code, 0, `exit 0 ${r.stderr}`);
    if (results.some((r) => r.code !== 0)) return [];
    const [h, top, sessions] = results.map((r) => JSON.parse(r.stdout)) as [History, TopTalkers, SessionPage];
    return [h.total.up === 1000 ? 'a' : h.total.up === 2000 ? 'b' : `up ${h.total.up}`,
      top.rows[0]?.key === 'US' ? 'a' : top.rows[0]?.key === 'DE' ? 'b' : `top ${top.rows[0]?.key}`,
      sessions.sessions[0]?.remote === '203.0.113.1' ? 'a' : sessions.sessions[0]?.remote === '203.0.113.2' ? 'b' : `session ${sessions.sessions[0]?.remote}`];
  };
  t.same(await read(['--config', config], {}), ['a', 'a', 'a'], 'dataDir of the --config file');
  t.same(await read([], { FLOWLENS_CONFIG: config }), ['a', 'a', 'a'], 'dataDir of the file FLOWLENS_CONFIG names');
  t.same(await read([], { FLOWLENS_DATA_DIR: b }), ['b', 'b', 'b'], 'FLOWLENS_DATA_DIR');
  t.same(await read(['--config', config], { FLOWLENS_DATA_DIR: b }), ['b', 'b', 'b'], 'the environment beats the file');
  t.same(await read(['--config', config, '--data-dir', b], { FLOWLENS_DATA_DIR: `${a}/nowhere` }), ['b', 'b', 'b'], 'the flag beats both');

  // a wrong setting in the file is the same error flowlens run gives
  const bad = path.join(path.dirname(config), 'bad.yaml');
  writeFileSync(bad, `dataDir: ${a}\nhistory:\n  minuteDays: forever\n`);
  const r = await flowlens(['history', '--config', bad]);
  t.equal(r.code, 1);
  t.equal(r.stderr, `flowlens: ${bad}: history.minuteDays must be a whole number from 1 to 3660, not "forever"\n`);
});
