/**
 * Shared helpers of the benchmarks: the command line that reproduces a run, a
 * description of the machine, and plain-text tables. Benchmarks print figures;
 * they never assert timings.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Addon, TestRunOptions, TestRunResult } from '../src/native/binding.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..').replace(/\/dist$/, '');

/** An arbitrary BPF object file loaded as is (the benchmarks' yardstick programs). */
export interface NativeBpfObject {
  testRun(program: string, packet: Buffer, options?: TestRunOptions): TestRunResult;
  /** Empties a map with BPF_MAP_LOOKUP_AND_DELETE_BATCH and times it (the kernel's floor for a hash). */
  batchDrain(map: string): { entries: number; ns: number };
  close(): void;
}

/** The addon's flow id table on its own (the code drain() runs), for tests and benchmarks. */
export interface NativeFlowIdTable {
  /**
   * Writes the id of each of `count` flow_records at byte `offset` of `records`
   * (8-byte aligned) into their flow_id field; returns how many got FLOW_ID_NONE.
   */
  assign(records: Buffer, offset: number, count: number): number;
  /** Releases ids now; returns how many were live. */
  release(ids: Uint32Array): number;
  /** live: keys with an id; released: freed ids not yet reused; capacity: hash slots. */
  stats(): { live: number; released: number; capacity: number };
}

/** The bench addon: the product addon's calls plus BpfObject and FlowIdTable (native/binding.gyp's flowlens_bench). */
export interface BenchAddon extends Addon {
  BpfObject: new (path: string) => NativeBpfObject;
  /** A flow id table with at most `limit` live ids (default 268435456). */
  FlowIdTable: new (limit?: number) => NativeFlowIdTable;
}

/** Loads native/build/Release/flowlens_bench.node, built beside the product addon. */
export function loadBenchAddon(): BenchAddon {
  const file = path.join(repoRoot, 'native/build/Release/flowlens_bench.node');
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build (node-gyp builds it beside flowlens.node)`);
  return createRequire(import.meta.url)(file) as BenchAddon;
}

/** The command that reproduces this run, relative to the repository root. */
export function commandLine(): string {
  const script = path.relative(repoRoot, process.argv[1] ?? '');
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return ['node', ...process.execArgv, script, ...process.argv.slice(2)].map(quote).join(' ');
}

export function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** Kernel, CPU, Node and load: what a reader needs to compare two runs. */
export function machineLine(): string {
  const cpus = os.cpus();
  return `kernel ${os.release()}, ${cpus.length} x ${cpus[0]?.model ?? '?'}, node ${process.version}, load average ${loadAverage()}`;
}

/** The commit the figures belong to, marked when the working tree differs from it. */
export function gitDescription(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', repoRoot, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'bpf', 'native', 'src', 'bench').length > 0;
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes in bpf/native/src/bench' : ''}`;
  } catch {
    return 'unknown';
  }
}

export function printHeader(title: string): void {
  process.stdout.write(`# ${title}\n# command: (cd ${repoRoot} && ${commandLine()})\n` +
    `# ${new Date().toISOString()}  commit ${gitDescription()}\n# ${machineLine()}\n`);
}

/** A right-aligned table; columns listed in `left` are left-aligned. */
export function table(headers: string[], rows: string[][], left: number[] = [0]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (left.includes(i) ? (c ?? '').padEnd(widths[i]) : (c ?? '').padStart(widths[i]))).join('  ').trimEnd();
  return [fmt(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A small seeded PRNG (mulberry32), so runs pick the same flows every time. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fields 14 (utime) and 15 (stime) of /proc/<pid>/stat, in clock ticks. */
export function procCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * CPU time of every live thread of a process in ns, from /proc/<pid>/task/<tid>/schedstat:
 * exact where utime + stime (sampled at clock ticks) is coarse. Threads that exited
 * in between are missed: use it as a cross-check of procCpuTicks, not instead of it.
 */
export function procSchedNs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try { ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]); } catch { /* exited */ }
  }
  return ns;
}

export interface CpuTimes {
  user: number; nice: number; system: number; idle: number; iowait: number; irq: number; softirq: number; steal: number;
}

/** The machine-wide "cpu" line of /proc/stat, in clock ticks. */
export function machineCpuTicks(): CpuTimes {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
  const [user, nice, system, idle, iowait, irq, softirq, steal] = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  return { user, nice, system, idle, iowait, irq, softirq, steal };
}

/** Clock ticks per second (USER_HZ): 100 on every Linux architecture Node runs on. */
export const CLK_TCK = 100;

/** Sums the samples of one metric (every label set, or those containing labelFilter) in a Prometheus text exposition. */
export function metricSum(text: string, name: string, labelFilter = ''): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (labelFilter && !line.includes(labelFilter)) continue;
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Sends `signal` to a child (by its PID) and waits for it to exit; SIGKILL after timeoutMs. */
export function stopChild(c: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { if (c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    c.once('exit', () => { clearTimeout(timer); resolve(); });
    if (c.pid) process.kill(c.pid, signal);
  });
}
