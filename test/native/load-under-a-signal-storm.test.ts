/**
 * Loading the flow counter while signals keep arriving: the verifier gives up
 * with EAGAIN whenever a signal is pending for the loading thread, and a load
 * takes long enough for one to arrive every time. Under `node --cpu-prof`
 * (SIGPROF to the main thread every millisecond) and under a storm of SIGUSR2
 * sent to the process from outside, every load succeeds.
 */
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { requireKernel } from '../helpers/kernel.js';
import { collect, firstRecord, fixtures, spawnNode } from '../helpers/child-process.js';

const LOADS = 3;
const fixture = path.join(fixtures, 'load-repeatedly.cjs');
const TIMEOUT_MS = 180_000; // a load takes seconds on a busy 2-core machine

function loads(records: Record<string, unknown>[]): Record<string, unknown>[] {
  return records.filter((r) => 'ok' in r);
}

t.test(`${LOADS} loads under node --cpu-prof all succeed`, async (t) => {
  if (!requireKernel(t)) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-cpu-prof-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawnNode(['--cpu-prof', `--cpu-prof-dir=${dir}`, fixture, String(LOADS)]);
  child.stdin.end();
  const r = await collect(child, TIMEOUT_MS);
  t.equal(r.code, 0, `the child ends normally\n${r.stderr}`);
  t.same(loads(r.records), Array.from({ length: LOADS }, () => ({ ok: true })), 'every load succeeded');
});

t.test(`${LOADS} loads while SIGUSR2 keeps arriving all succeed`, async (t) => {
  if (!requireKernel(t)) return;
  const child = spawnNode([fixture, String(LOADS)]);
  child.stdin.end();
  const done = collect(child, TIMEOUT_MS);
  const ready = await firstRecord(child);
  // a separate process, so the storm goes on while the child's main thread is in the kernel
  const storm = spawn('/bin/sh', ['-c', `while kill -USR2 ${Number(ready.pid)} 2>/dev/null; do :; done`], { stdio: 'ignore' });
  t.teardown(() => { if (storm.exitCode === null) storm.kill('SIGKILL'); });
  const r = await done;
  t.equal(r.code, 0, `the child ends normally\n${r.stderr}`);
  t.same(loads(r.records), Array.from({ length: LOADS }, () => ({ ok: true })), 'every load succeeded');
  const signals = Number(r.records.find((x) => 'signals' in x)?.signals ?? 0);
  t.ok(signals > LOADS, `the child did receive the storm (${signals} SIGUSR2 handled)`);
});
