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
import { accessSync, constants, utimesSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/native/binding.js';

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

  const wrapper = spawnSync(path.join(repoRoot, 'bin/flowlens'), ['--help'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  t.same([wrapper.status, wrapper.stderr], [0, ''], 'bin/flowlens --help: no set-up output');
  t.match(wrapper.stdout, /^Usage: flowlens <command>/m);
});
