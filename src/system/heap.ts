/**
 * The V8 heap settings a long-running flowlens keeps to.
 *
 * V8 grows the old generation to about twice what was live after each full
 * collection before it collects again. A gateway's sessions and talkers are a
 * few hundred MB that live for minutes, with as much again made and dropped
 * per minute: at 100k flows that default held ~1.05 GB resident for ~270 MB
 * live. Growing by half instead held ~600 MB, for about a tenth more CPU in
 * the collector, which a larger young generation (--max-semi-space-size=64 in
 * bin/flowlens and deploy/, start-up only) wins back: 660–690 MB at the same
 * CPU (bench/gateway.ts --node-flags; README "Performance", docs/deploy.md).
 */
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

/**
 * Sets --heap-growing-percent unless the user chose one (node's command
 * line, NODE_OPTIONS). V8 reads it at each collection, so setting it after
 * start-up holds from the next one. Returns the setting in force, or
 * undefined when the user's stands.
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): number | undefined {
  const chosen = (s: string) => /--heap[-_]growing[-_]percent/.test(s);
  if (execArgv.some(chosen) || chosen(nodeOptions)) return undefined;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return HEAP_GROWING_PERCENT;
}
