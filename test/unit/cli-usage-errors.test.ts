/**
 * The command line's usage errors need no privileges and never show a stack
 * trace: a bad command, option or value exits non-zero with one line on
 * stderr (`flowlens: what is wrong`, optionally followed by one `  → hint` line);
 * --help exits 0. When the tests run as root, the CLI is run as `nobody`, which
 * proves that the usage checks come before anything needs a privilege.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/native/binding.js';
import { readableCheckout } from '../helpers/readable-checkout.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
// the checkout as nobody can read it (a root user's clone may sit in a 0700 directory)
let root = repoRoot;

interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function flowlens(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    // through env -u: tap's spawn wrapper would add its process-info loader to
    // NODE_OPTIONS, and that loader cannot write its records as nobody
    const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, path.join(root, 'dist/src/cli.js'), ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', LANG: 'C' },
      ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
      timeout: 15_000,
    });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const STACK_LINE = /^\s+at /m;

/** One error line, optionally one hint line; no stack trace. */
function assertUsageError(t: Test, r: Result, message: RegExp) {
  t.equal(r.signal, null, 'not killed');
  t.ok(r.code === 1 || r.code === 2, `exit code 1 or 2 (got ${r.code})`);
  t.equal(r.stdout, '', 'nothing on stdout');
  t.notMatch(r.stderr, STACK_LINE, 'no stack trace');
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  t.ok(lines.length === 1 || (lines.length === 2 && lines[1].startsWith('  → ')), `one message line (+ one hint): ${JSON.stringify(r.stderr)}`);
  t.match(lines[0], /^flowlens: \S/, 'starts with "flowlens: "');
  t.match(lines[0], message, lines[0]);
}

t.before(() => {
  const cli = path.join(repoRoot, 'dist/src/cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run bash scripts/build.sh`);
  if (asRoot) root = readableCheckout(t);
});

const errors: [string[], RegExp][] = [
  [['bogus'], /unknown command "bogus"/],
  [['Run'], /unknown command "Run"/],
  [['run', '--bogus'], /Unknown option '--bogus'/],
  [['run', '-x'], /Unknown option '-x'/],
  [['interfaces', '--hook', 'xdp'], /Unknown option '--hook'/],
  [['check', '--verbose'], /Unknown option '--verbose'/],
  [['run', 'lo'], /Unexpected argument 'lo'/],
  [['run', '--iface'], /--iface/],
  [['run', '--demo=yes'], /--demo/],
  [['run', '--iface', 'lo', '--map-size', 'abc'], /--map-size must be a whole number from 1 to 16777216, not "abc"/],
  [['run', '--iface', 'lo', '--map-size', ''], /--map-size must be a whole number from 1 to 16777216, not ""/],
  [['run', '--iface', 'lo', '--map-size', '1.5'], /--map-size must be a whole number from 1 to 16777216, not "1\.5"/],
  [['run', '--iface', 'lo', '--map-size', '0'], /--map-size must be a whole number from 1 to 16777216, not "0"/],
  [['run', '--iface', 'lo', '--map-size', '99999999'], /--map-size must be a whole number from 1 to 16777216, not "99999999"/],
  [['run', '--format', 'xml'], /--format must be table, ndjson or none, not "xml"/],
  [['run', '--iface', 'lo', '--format', 'json'], /--format must be table, ndjson or none, not "json"/],
  [['run'], /no interface given/],
  [['run', '--iface', ''], /no interface given/],
  [['run', '--iface', 'lo,lo'], /an interface is named twice: lo,lo/],
  [['run', '--iface', 'lo', '--hook', 'kprobe'], /--hook must be one of xdp, tc, not "kprobe"/],
  [['run', '--iface', 'lo', '--xdp-mode', 'offload'], /--xdp-mode must be one of auto, native, generic, not "offload"/],
  [['run', '--iface', 'lo', '--interval', 'abc'], /--interval must be a duration from 100ms to 1m like 500ms, 10s, 2m or 1h, not "abc"/],
  [['run', '--iface', 'lo', '--interval', '10ms'], /--interval must be a duration from 100ms to 1m like 500ms, 10s, 2m or 1h, not "10ms"/],
  [['run', '--iface', 'lo', '--duration', 'soon'], /--duration must be a duration like 1s, 500ms or 2m, not "soon"/],
  [['run', '--iface', 'lo', '--top', '0'], /--top must be a positive integer, not "0"/],
  [['run', '--iface', 'lo', '--top', 'ten'], /--top must be a whole number, not "ten"/],
  [['run', '--demo', '--iface', 'lo'], /--demo makes its own interface/],
  [['run', '--iface', 'no-such-if0'], /no interface named "no-such-if0"/],
  [['interfaces', '--format', 'xml'], /--format must be table or json, not "xml"/],
  [['check', '--format', 'yaml'], /--format must be table or json, not "yaml"/],
  [['run', '--iface', 'lo', '--idle-timeout', 'forever'], /--idle-timeout must be a duration/],
  [['run', '--iface', 'lo', '--private-networks', '10.0.0.0/99'], /--private-networks: "10.0.0.0\/99" is not an address or CIDR prefix/],
  [['run', '--iface', 'lo', '--config', '/nonexistent/flowlens.yaml'], /cannot read the config file \/nonexistent\/flowlens.yaml: it does not exist/],
  [['config'], /say --check or --dump/],
  [['config', '--check', '--iface', 'no-such-if0'], /no interface named "no-such-if0"/],
];

for (const [args, message] of errors) {
  t.test(`flowlens ${args.map((a) => (a === '' ? "''" : a)).join(' ')}: a usage error`, async (t) => {
    assertUsageError(t, await flowlens(args), message);
  });
}

const helps: [string[], RegExp][] = [
  [['--help'], /^flowlens — .*\n\nUsage: flowlens <command>/],
  [['-h'], /Usage: flowlens <command>/],
  [['help'], /Usage: flowlens <command>/],
  [['run', '--help'], /^count traffic on interfaces.*\n\nUsage: flowlens run --iface/],
  [['run', '-h'], /Usage: flowlens run --iface/],
  [['run', '--iface', 'lo', '--bogus', '--help'], /Usage: flowlens run --iface/],
  [['interfaces', '--help'], /^list network interfaces.*\n\nUsage: flowlens interfaces/],
  [['check', '--help'], /^check that this host can run flowlens.*\n\nUsage: flowlens check/],
];

for (const [args, usage] of helps) {
  t.test(`flowlens ${args.join(' ')}: help on stdout, exit 0`, async (t) => {
    const r = await flowlens(args);
    t.equal(r.code, 0, 'exit 0');
    t.equal(r.stderr, '', 'nothing on stderr');
    t.match(r.stdout, usage);
  });
}

t.test('every command is listed in the main help and has its own', async (t) => {
  const r = await flowlens(['--help']);
  const commands = [...r.stdout.matchAll(/^ {2}(\w+) {2,}\S/gm)].map((m) => m[1]);
  for (const c of ['check', 'config', 'interfaces', 'run']) t.ok(commands.includes(c), `${c} is listed`);
  for (const c of commands) {
    const h = await flowlens([c, '--help']);
    t.equal(h.code, 0, `${c} --help exits 0`);
    t.match(h.stdout, new RegExp(`Usage: flowlens ${c}`));
  }
});

t.test('--version (and -V, version): the package\'s version on stdout, exit 0', async (t) => {
  const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  for (const arg of ['--version', '-V', 'version']) {
    const r = await flowlens([arg]);
    t.same({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 0, stdout: `flowlens ${version}\n`, stderr: '' }, arg);
  }
});

t.test('no arguments: the help, and exit 2 (a usage error)', async (t) => {
  const r = await flowlens([]);
  t.equal(r.code, 2);
  t.match(r.stdout, /Usage: flowlens <command>/);
  t.notMatch(r.stderr, STACK_LINE);
});
