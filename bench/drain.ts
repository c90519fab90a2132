/**
 * Drain + decode cost: N flows put in the flow table (TC test-runs of N distinct
 * packets), then one drain through the addon and a full decode in TypeScript
 * (every flow's packets and bytes read through FlowBatch). Beside it, in the same
 * run, the kernel's own BPF_MAP_LOOKUP_AND_DELETE_BATCH over a per-CPU hash
 * holding the same N flows (bench.bpf.o's plain_counts), which is the floor of
 * any drain that reads a BPF hash map through the bpf() system call. Also the
 * longest event-loop stall while the drain ran (the decode is the consumer's own
 * synchronous loop, reported as its duration).
 *
 *   node --import tsx bench/drain.ts [--flows 100000,1000000] [--reps 3]
 *
 * Prints figures; asserts nothing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ClockOffset } from '../src/collector/clock.js';
import { FlowBatch } from '../src/collector/decode.js';
import { loadBenchAddon, median, printHeader, repoRoot, table } from './lib.js';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '100000,1000000' }, reps: { type: 'string', default: '3' } } });
const counts = values.flows!.split(',').map(Number);
const reps = Number(values.reps);

/** An IPv4 UDP frame whose addresses and ports encode `i` (distinct for i < 2^32). */
function packet(i: number): Buffer {
  const p = Buffer.alloc(14 + 20 + 8 + 18);
  p.writeUInt16BE(0x0800, 12);
  p[14] = 0x45;
  p.writeUInt16BE(20 + 8 + 18, 16);
  p[22] = 64;
  p[23] = 17;
  p.set([10, 1, (i >> 24) & 0xff, (i >> 16) & 0xff], 26);
  p.set([10, 2, 0, 1], 30);
  p.writeUInt16BE(i & 0xffff, 34);
  p.writeUInt16BE(53, 36);
  p.writeUInt16BE(8 + 18, 38);
  return p;
}

printHeader('drain + decode of N flows, beside the kernel batch floor');
const addon = loadBenchAddon();
const rows: string[][] = [];
for (const n of counts) {
  const c = new addon.Collector(n);
  const plain = new addon.BpfObject(path.join(repoRoot, 'build/bpf/bench.bpf.o'));
  const buf = Buffer.alloc(c.bufferSize);
  const ours: number[] = [], decode: number[] = [], floor: number[] = [], stalls: number[] = [];
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) {
      const p = packet(i);
      c.testRun('flowlens_tc_in', p);
      plain.testRun('bench_tc_plain', p);
    }
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const t0 = process.hrtime.bigint();
    const d = await c.drain(buf);
    const t1 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 5)); // let the monitor record the drain's ticks
    loop.disable();
    const t1b = process.hrtime.bigint();
    const batch = new FlowBatch(buf, d.flowsOffset, d.flows, ClockOffset.now());
    let packets = 0, bytes = 0;
    for (let i = 0; i < batch.count; i++) { packets += batch.packets(i); bytes += batch.bytes(i); }
    const t2 = process.hrtime.bigint();
    if (d.flows !== n || packets !== n) throw new Error(`drained ${d.flows} flows / ${packets} packets, expected ${n}`);
    ours.push(Number(t1 - t0) / 1e6);
    decode.push(Number(t2 - t1b) / 1e6);
    stalls.push(loop.max / 1e6);
    const f = plain.batchDrain('plain_counts');
    if (f.entries !== n) throw new Error(`batch drained ${f.entries}, expected ${n}`);
    floor.push(f.ns / 1e6);
  }
  c.close();
  plain.close();
  const total = median(ours) + median(decode);
  rows.push([n.toLocaleString('en'), median(ours).toFixed(1), median(decode).toFixed(1), total.toFixed(1),
    median(floor).toFixed(1), (total / median(floor)).toFixed(2), Math.max(...stalls).toFixed(1)]);
}
process.stdout.write(`${table(['flows', 'drain ms', 'decode ms', 'total ms', 'batch floor ms', 'total/floor', 'max loop stall during drain ms'], rows)}\n`);
process.stdout.write(`(median of ${reps}; drain runs on a libuv worker thread; decode reads every flow's packets and bytes on the main thread)\n`);
