/**
 * The set-up decides "nothing changed" from build stamps, as make does
 * (scripts/steps.sh): a second call runs no step, and a source that changed
 * reruns only the steps that depend on it. Read from the lines the set-up prints
 * for every step it runs ("flowlens setup: [typescript] done in 7.5 s").
 * Touching a file changes only its modification time, which is what the set-up
 * compares; its content stays as it is.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, utimesSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/native/binding.js';
import { readableCheckout } from '../helpers/readable-checkout.js';
import { tempDataDir } from '../helpers/intervals.js';

interface Setup { code: number | null; stderr: string; steps: string[] }

function setup(): Setup {
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts/setup.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 280_000 });
  const steps = [...r.stderr.matchAll(/^flowlens setup: \[([\w-]+)\] done in \d+\.\d s$/gm)].map((m) => m[1]);
  return { code: r.status, stderr: r.stderr, steps };
}

function touch(file: string): void {
  const now = new Date();
  utimesSync(path.join(repoRoot, file), now, now);
}

function writable(): boolean {
  try { accessSync(repoRoot, constants.W_OK); return true; } catch { return false; }
}

t.test('nothing changed: no step runs; one source changed: only what depends on it', { skip: !writable() && 'the checkout is not writable by this user' }, async (t) => {
  // whatever is out of date now (a fresh checkout, an edit) is built first
  const first = setup();
  t.equal(first.code, 0, `set-up succeeds ${first.stderr}`);
  for (const line of first.stderr.split('\n').filter((l) => l.includes('] done in'))) t.match(line, /^flowlens setup: \[[\w-]+\] done in \d+\.\d s$/, 'a step says how long it took');

  const again = setup();
  t.same([again.code, again.steps, again.stderr], [0, [], ''], 'a second call runs no step and prints nothing');

  touch('src/cli/format.ts');
  const ts = setup();
  t.same([ts.code, ts.steps], [0, ['typescript']], `a TypeScript source: only tsc ${ts.stderr}`);
  t.match(ts.stderr, /^flowlens setup: \[typescript\] TypeScript \(tsc -p tsconfig\.json\) \(src\/cli\/format\.ts changed\) …$/m, 'the start line says what runs and why');

  touch('ui/src/main.ts');
  const ui = setup();
  t.same([ui.code, ui.steps], [0, ['dashboard']], `a dashboard source: only vite ${ui.stderr}`);

  touch('proto/flowlens/v1/flowlens.proto');
  const proto = setup();
  t.same([proto.code, proto.steps], [0, ['proto']], `a proto file: only the gRPC code check ${proto.stderr}`);

  const last = setup();
  t.same([last.code, last.steps], [0, []], 'and then nothing again');

  const wrapper = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', path.join(repoRoot, 'bin/flowlens'), '--help'], { encoding: 'utf8' });
  t.same([wrapper.status, wrapper.stderr], [0, ''], 'bin/flowlens --help: no set-up output');
  t.match(wrapper.stdout, /^Usage: flowlens <command>/m);
});

t.test('another user: read-only commands start with the build current; a build it cannot write is named', { skip: process.getuid?.() !== 0 && 'needs root to switch to nobody' }, async (t) => {
  const root = readableCheckout(t);
  // through env -u NODE_OPTIONS: tap puts its process-info loader there, which cannot write as nobody
  const asNobody = (args: string[]) => spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', path.join(root, 'bin/flowlens'), ...args], {
    encoding: 'utf8', cwd: '/', uid: 65534, gid: 65534, timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
  });
  t.equal(setup().code, 0, 'the build is current');

  const interfaces = asNobody(['interfaces', '--format', 'json']);
  t.same([interfaces.status, interfaces.stderr], [0, ''], 'interfaces');
  t.ok((JSON.parse(interfaces.stdout) as Array<{ name: string }>).some((i) => i.name === 'lo'), 'lists lo');
  const config = asNobody(['config', '--dump', '--config', '/dev/null']);
  t.same([config.status, config.stderr], [0, ''], 'config --dump');
  const check = asNobody(['check']);
  t.equal(check.stderr, '', 'check: nothing from the set-up');
  t.match(check.stdout, /^FAIL {2}privileges {2}missing CAP_BPF/m, 'check runs, and says what an unprivileged user lacks');
  const dir = tempDataDir(t, 'nobody-history');
  chmodSync(dir, 0o755);
  const history = asNobody(['history', '--data-dir', dir]);
  t.match([history.status, history.stderr], [1, /^flowlens: no history in \S+ yet/], 'history reaches the store');

  // (the proto check is the quickest step to rerun after)
  touch('proto/flowlens/v1/flowlens.proto');
  const stale = asNobody(['history', '--data-dir', dir]);
  t.equal(stale.status, 1, 'a stale build is not run');
  t.match(stale.stderr, /^flowlens: the build in \S+ is out of date \(proto: proto\/flowlens\/v1\/flowlens\.proto changed\), and nobody cannot write there\.\n {2}→ run bin\/flowlens once as root or as the checkout's owner/, stale.stderr);
  t.notMatch(stale.stderr, /Permission denied/, 'not the first command that failed on a permission');
  const rebuilt = setup();
  t.same([rebuilt.code, rebuilt.steps], [0, ['proto']], 'the owner rebuilds it');
});
