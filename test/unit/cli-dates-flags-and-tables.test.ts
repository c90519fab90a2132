/**
 * The command line's rough edges, smoothed: relative and named dates in the one
 * date parser (local time), a value that starts with a dash, a missing value, the
 * help of --no-X flags, config --check listing every problem, sessions sorted by
 * rate with each state printed once and LAN rows saying LAN, and ranges with no
 * traffic (empty, or in the future) saying so instead of printing silent zeros.
 */
process.env.TZ = 'Europe/Berlin';
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseDateArg } from '../../src/store/time.js';
import { prepareArgs } from '../../src/cli/args.js';
import { SETTINGS } from '../../src/config/schema.js';
import { Store } from '../../src/store/index.js';
import type { History, SessionPage } from '../../src/store/index.js';
import { cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { interval, row, session, tempDataDir } from '../helpers/intervals.js';

const local = (y: number, mo: number, d: number, h = 0) => new Date(y, mo - 1, d, h).getTime();
// 15 March 2026, 14:20 in Berlin (CET, +01:00; the clocks go forward on 29 March)
const NOW = local(2026, 3, 15, 14) + 20 * 60_000;

t.test('relative and named dates: the local unit they name, inclusive ranges', async (t) => {
  const cases: Array<[string, number, number]> = [
    ['today', local(2026, 3, 15), local(2026, 3, 16)],
    ['yesterday', local(2026, 3, 14), local(2026, 3, 15)],
    ['thismonth', local(2026, 3, 1), local(2026, 4, 1)],
    ['lastmonth', local(2026, 2, 1), local(2026, 3, 1)],
    ['thisyear', local(2026, 1, 1), local(2027, 1, 1)],
    ['lastyear', local(2025, 1, 1), local(2026, 1, 1)],
    ['-30d', local(2026, 2, 13), local(2026, 2, 14)],
    ['-12h', local(2026, 3, 15, 2), local(2026, 3, 15, 3)],
    ['-2w', local(2026, 3, 1), local(2026, 3, 2)],
    ['-3mo', local(2025, 12, 1), local(2026, 1, 1)],
    ['-1y', local(2025, 1, 1), local(2026, 1, 1)],
    ['ThisMonth', local(2026, 3, 1), local(2026, 4, 1)],
  ];
  for (const [text, start, end] of cases) {
    t.same([parseDateArg(text, 'from', 'start', NOW), parseDateArg(text, 'to', 'end', NOW)], [start, end], text);
  }
  // across the DST change: -1d from 30 March is the 23-hour 29 March
  const after = local(2026, 3, 30, 12);
  t.equal(parseDateArg('-1d', 'to', 'end', after) - parseDateArg('-1d', 'from', 'start', after), 23 * 3_600_000, '29 March has 23 hours in Berlin');
  for (const bad of ['-30', '-30x', '30d', 'nextmonth', '-d']) {
    t.throws(() => parseDateArg(bad, 'from', 'start', NOW), { code: 'FLOW_ERR_USAGE', message: `from: "${bad}" is not a date`, hint: /thismonth, lastmonth.*-30d/ }, bad);
  }
});

t.test('a value that starts with a dash joins its option; a missing value is named', async (t) => {
  const options = { from: { type: 'string' as const }, ended: { type: 'boolean' as const }, limit: { type: 'string' as const } };
  t.same(prepareArgs(['--from', '-30d', '--ended'], options, 'sessions'), ['--from=-30d', '--ended']);
  t.same(prepareArgs(['--limit', '-5'], options, 'sessions'), ['--limit=-5'], 'a negative number: the option\'s own check judges it');
  t.same(prepareArgs(['--from=-30d', '--ended', '--from', 'today'], options, 'sessions'), ['--from=-30d', '--ended', '--from', 'today'], 'the rest as it was');
  t.throws(() => prepareArgs(['--from'], options, 'sessions'), { message: '--from needs a value', hint: 'see flowlens sessions --help' });
  t.throws(() => prepareArgs(['--from', '--ended'], options, 'sessions'), { message: '--from needs a value' });
});

interface Result { code: number | null; stdout: string; stderr: string }
function flowlens(args: string[]): Result {
  const [cmd, rest] = cliCommand(args);
  const r = spawnSync(cmd, rest, { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('the CLI: dates, flags, help, config --check, sessions, empty ranges', async (t) => {
  if (!cliBuilt()) { t.fail('the CLI is built (scripts/build.sh)'); return; }
  const dir = tempDataDir(t, 'cli-edges');
  const DAY = 86_400_000;
  const today = Math.floor(Date.now() / DAY) * DAY;
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0 });
  store.add(interval({ end: today - 3 * DAY + 1000, traffic: [row('eth0', 'up', 'internet', 300)] }));
  store.add(interval({ end: today + 1000, ended: [
    // 10 KB in 10 s (8 kbit/s) and 6 KB in 2 s (24 kbit/s): by bytes the first, by rate the second
    session({ remote: '203.0.113.9', firstSeen: today, lastSeen: today + 10_000, bytesUp: 4000, bytesDown: 6000, country: 'NL', asn: 64501 }),
    session({ remote: '192.168.1.20', remotePort: 445, scope: 'lan', firstSeen: today, lastSeen: today + 2000, bytesUp: 3000, bytesDown: 3000, endReason: 'idle' }),
  ] }));
  store.close();

  const h = flowlens(['history', '--data-dir', dir, '--from', '-30d', '--format', 'json']);
  t.equal(h.code, 0, h.stderr);
  const history = JSON.parse(h.stdout) as History;
  t.same([history.buckets.length, history.total.up], [31, 300], '--from -30d: 31 days to today, the traffic of 3 days ago');

  const missing = flowlens(['history', '--data-dir', dir, '--from']);
  t.same([missing.code, missing.stderr], [1, 'flowlens: --from needs a value\n  → see flowlens history --help\n'], 'a missing value: a flowlens error');
  const negative = flowlens(['sessions', '--data-dir', dir, '--limit', '-5']);
  t.same([negative.code, negative.stderr], [1, 'flowlens: --limit must be a positive whole number, not "-5"\n'], 'a negative number: the option\'s own message');
  t.notMatch(missing.stderr + negative.stderr, /ambiguous/);

  const help = flowlens(['run', '--help']);
  t.match(help.stdout, /^ {2}--no-names +do not learn names/m, '--no-names says what it does');
  t.match(help.stdout, /^ {2}--no-history +do not keep history/m);
  t.match(help.stdout, /^ {2}--no-api +do not serve/m);
  t.match(help.stdout, /^ {2}--no-bundled-geo +do not use the bundled/m);
  for (const s of SETTINGS.filter((x) => x.flag?.startsWith('no-'))) t.match(s.offDoc, /^do not /, `--${s.flag} has its own help (offDoc)`);

  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'interfaces: [nosuch0]\ngeo:\n  country: /nonexistent/country.mmdb\napi:\n  tokensFile: /nonexistent/tokens\n');
  const check = flowlens(['config', '--check', '--config', bad]);
  t.equal(check.code, 1);
  t.match(check.stderr, /^flowlens: 3 problems in the configuration:\n {2}no interface named "nosuch0".*\n {2}geo\.country: \/nonexistent\/country\.mmdb does not exist.*\n {2}cannot read the tokens file \/nonexistent\/tokens.*\n {2}→ fix them all/, 'every problem at once');

  const byRate = flowlens(['sessions', '--data-dir', dir, '--ended', '--sort', 'rate', '--format', 'json']);
  t.same((JSON.parse(byRate.stdout) as SessionPage).sessions.map((s) => s.remote), ['192.168.1.20', '203.0.113.9'], '--sort rate: the faster first');
  const byBytes = flowlens(['sessions', '--data-dir', dir, '--ended', '--sort', 'bytes', '--format', 'json']);
  t.same((JSON.parse(byBytes.stdout) as SessionPage).sessions.map((s) => s.remote), ['203.0.113.9', '192.168.1.20']);
  const table = flowlens(['sessions', '--data-dir', dir, '--ended', '--sort', 'rate']);
  t.match(table.stdout, /192\.168\.1\.20:445 +LAN +3\.00 KB +3\.00 KB +24\.0 kbit\/s .* closed \(idle\)$/m, 'a LAN row says LAN; the end reason where it differs');
  t.match(table.stdout, /203\.0\.113\.9:443 +NL AS64501 +4\.00 KB +6\.00 KB +8\.00 kbit\/s .* closed$/m, 'an internet row: country and AS; "closed" once');

  const future = flowlens(['history', '--data-dir', dir, '--from', '2099-01', '--to', '2099-02', '--by', 'month']);
  t.equal(future.code, 0, future.stderr);
  t.match(future.stdout, /^this range is in the future \(it starts 2099-01-01 00:00:00\): nothing counted yet$/m);
  const empty = flowlens(['history', '--data-dir', dir, '--from', '2026-01-01', '--to', '2026-01-02']);
  t.match(empty.stdout, /^no traffic recorded in this range \(the history has traffic from \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d\)$/m);
  const emptyTop = flowlens(['top', '--data-dir', dir, '--by', 'ip', '--from', '2026-01-01']);
  t.match(emptyTop.stdout, /^no traffic recorded in this range/m, 'top too');
  const some = flowlens(['history', '--data-dir', dir]);
  t.notMatch(some.stdout, /no traffic|future/, 'a range with traffic: no note');
});
