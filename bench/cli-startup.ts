/**
 * How long `bin/flowlens --help` takes once set up, against its floor in the same
 * run: `node dist/src/cli.js --help` (node's start-up and the CLI's imports). The
 * difference is the wrapper's "is anything out of date?" check (scripts/steps.sh),
 * which must not be felt: the target is a ratio of at most 2. Runs alternate, so
 * that load on the machine hits both sides alike.
 *
 *   node --import tsx bench/cli-startup.ts [--runs 15]
 *
 * Prints figures; asserts nothing.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median, printHeader, repoRoot, table } from './lib.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const runs = Number(values.runs);

const commands: Record<string, [string, string[]]> = {
  'bin/flowlens --help': [path.join(repoRoot, 'bin/flowlens'), ['--help']],
  'node dist/src/cli.js --help': [process.execPath, [path.join(repoRoot, 'dist/src/cli.js'), '--help']],
};

function timeOnce([cmd, args]: [string, string[]]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  if (r.stderr.length) throw new Error(`${cmd} printed on stderr (a set-up step ran? run it once first): ${r.stderr}`);
  return ms;
}

printHeader('CLI start-up: the wrapper against node on the built CLI');
// once each, untimed: a first call after a change builds, and the page cache warms
for (const c of Object.values(commands)) spawnSync(c[0], c[1], { stdio: 'ignore' });
const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
for (let i = 0; i < runs; i++) for (const [name, c] of Object.entries(commands)) times[name].push(timeOnce(c));
const floor = median(times['node dist/src/cli.js --help']);
process.stdout.write(`${table(['command', 'median ms', 'min ms', 'max ms', 'ratio'], Object.entries(times).map(([name, t]) => [
  name, median(t).toFixed(1), Math.min(...t).toFixed(1), Math.max(...t).toFixed(1), (median(t) / floor).toFixed(2),
]))}\n# ${runs} runs each, alternating; ratio = median / median of node dist/src/cli.js --help (target ≤ 2)\n`);
