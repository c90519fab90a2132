/**
 * `flowlens run` limits how far V8 grows the old generation past what is live
 * (src/system/heap.ts): the same churn of long-lived records (sessions turning
 * over) holds a clearly smaller old space with it than with V8's default, and
 * a growth the user chose on node's command line is left alone.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { HEAP_GROWING_PERCENT, limitHeapGrowth } from '../../src/system/heap.js';

interface ChildFigures { setting: number | null; peakOldMB: number; liveMB: number }

if (process.env.FLOWLENS_HEAP_CHILD) {
  const setting = process.env.FLOWLENS_HEAP_CHILD === 'limit' ? limitHeapGrowth() : undefined;
  // 200k live records, a tenth replaced per round: old space fills with the dead ones between collections
  const live = new Array<unknown>(200_000);
  const record = (i: number) => ({ id: i, key: `10.0.${i & 255}.${i >> 8}:${i}`, a: i * 1.5, b: i * 2.5, counts: [i, i + 1, i + 2, i + 3].map((x) => x * 0.5) });
  for (let i = 0; i < live.length; i++) live[i] = record(i);
  const oldSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_size;
  let peak = 0;
  for (let round = 0; round < 300; round++) {
    for (let j = 0; j < 20_000; j++) { const i = (j * 7919 + round * 104_729) % live.length; live[i] = record(i + round); }
    peak = Math.max(peak, oldSpace());
  }
  (globalThis as { gc?: () => void }).gc!();
  const figures: ChildFigures = { setting: setting ?? null, peakOldMB: peak / 2 ** 20, liveMB: process.memoryUsage().heapUsed / 2 ** 20 };
  process.stdout.write(JSON.stringify({ ...figures, records: live.length }));
} else {
  const child = (mode: string, nodeFlags: string[] = []): ChildFigures => {
    const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '--expose-gc', ...nodeFlags, '--import', 'tsx', fileURLToPath(import.meta.url)], {
      encoding: 'utf8', env: { ...process.env, FLOWLENS_HEAP_CHILD: mode }, timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`child ${mode} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as ChildFigures;
  };

  t.test('the old space held for the same live records: limited against V8\'s default', async (t) => {
    const dflt = child('default');
    const limited = child('limit');
    t.equal(limited.setting, HEAP_GROWING_PERCENT, 'the limit was set');
    t.ok(Math.abs(limited.liveMB - dflt.liveMB) < 8, `the same live data: ${limited.liveMB.toFixed(0)} and ${dflt.liveMB.toFixed(0)} MB`);
    // measured 125 against 287 MB peak old space for 66 MB live
    t.ok(limited.peakOldMB < 0.75 * dflt.peakOldMB,
      `peak old space ${limited.peakOldMB.toFixed(0)} MB limited, ${dflt.peakOldMB.toFixed(0)} MB by default (${limited.liveMB.toFixed(0)} MB live)`);
  });

  t.test('a growth chosen on node\'s command line or in NODE_OPTIONS stands', async (t) => {
    t.equal(limitHeapGrowth(['--heap-growing-percent=100'], ''), undefined, 'command line');
    t.equal(limitHeapGrowth([], '--max-old-space-size=4000 --heap_growing_percent=80'), undefined, 'NODE_OPTIONS, underscores');
    const chosen = child('limit', ['--heap-growing-percent=100']);
    t.equal(chosen.setting, null, 'not overridden in a process started with it');
  });
}
