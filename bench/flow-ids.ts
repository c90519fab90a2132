/**
 * What stable flow ids cost and save (native/src/flow_ids.c, FlowBatch.flowId).
 *
 * 1. Drain of N flows through the loaded BPF program (TC test-runs of N distinct
 *    packets before each drain), ids off (today's drain) against ids on: the
 *    first drain with ids (every key new, the table grows), a drain of the same
 *    keys again (every key known: the steady state), and a drain after every id
 *    was released (every key new, the table already sized). Drain ms as the
 *    event loop awaits it, and the worker-thread ms the ids took (flowIdsNs).
 * 2. The id table alone (FlowIdTable over a synthetic buffer of N records, no
 *    kernel): ns per flow for new keys, known keys, and releasing every id.
 * 3. The event loop's per-flow routing cost: `routes[flowId(i)]` against
 *    `routes.get(rawKey(i))` (a Map by the key's latin1 string, today's
 *    processor), over the same batch, in one run, and their ratio.
 *
 *   node --import tsx bench/flow-ids.ts [--flows 100000,1000000] [--reps 5]
 *
 * Prints figures (medians of --reps); asserts nothing beyond sanity checks.
 */
import { parseArgs } from 'node:util';
import { ClockOffset } from '../src/collector/clock.js';
import { FlowBatch } from '../src/collector/decode.js';
import { FLOW_ID_NONE } from '../src/collector/layout.gen.js';
import { records } from '../test/helpers/flow-records.js';
import { loadBenchAddon, median, printHeader, table } from './lib.js';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '100000,1000000' }, reps: { type: 'string', default: '5' } } });
const counts = values.flows!.split(',').map(Number);
const reps = Number(values.reps);
const addon = loadBenchAddon();

/** An IPv4 UDP frame; fill(i) makes its addresses and ports encode i (distinct for i < 2^32). */
const frame = Buffer.alloc(14 + 20 + 8 + 18);
frame.writeUInt16BE(0x0800, 12);
frame[14] = 0x45;
frame.writeUInt16BE(20 + 8 + 18, 16);
frame[22] = 64;
frame[23] = 17;
frame.set([10, 2, 0, 1], 30);
frame.writeUInt16BE(53, 36);
frame.writeUInt16BE(8 + 18, 38);
function fill(i: number): Buffer {
  frame.set([10, 1, (i >> 24) & 0xff, (i >> 16) & 0xff], 26);
  frame.writeUInt16BE(i & 0xffff, 34);
  return frame;
}

const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;

// ---- 1. drain with and without ids ----
printHeader('flow ids: drain of N flows, ids off against ids on');
const drainRows: string[][] = [];
for (const n of counts) {
  const c = new addon.Collector(n);
  const buf = Buffer.alloc(c.bufferSize);
  const off: number[] = [], first: number[] = [], firstIds: number[] = [], known: number[] = [], knownIds: number[] = [],
    renew: number[] = [], renewIds: number[] = [];
  const drainOnce = async (drains: number[], ids?: number[]) => {
    for (let i = 0; i < n; i++) c.testRun('flowlens_tc_in', fill(i));
    const t0 = process.hrtime.bigint();
    const r = await c.drain(buf);
    drains.push(ms(t0, process.hrtime.bigint()));
    ids?.push(r.flowIdsNs / 1e6);
    if (r.flows !== n) throw new Error(`drained ${r.flows} flows, expected ${n}`);
    return r;
  };
  for (let rep = 0; rep < reps; rep++) {
    c.setFlowIdLimit(0); // off, and the table forgotten
    await drainOnce(off);
    c.setFlowIdLimit(2 * n);
    await drainOnce(first, firstIds);
    const r = await drainOnce(known, knownIds);
    if (r.flowIds !== n || r.flowIdsRefused) throw new Error(`${r.flowIds} live ids, ${r.flowIdsRefused} refused`);
    c.releaseFlowIds(Uint32Array.from({ length: n }, (_, i) => i));
    await drainOnce(renew, renewIds);
  }
  c.close();
  const m = median;
  drainRows.push([n.toLocaleString('en'), m(off).toFixed(1), m(known).toFixed(1), m(knownIds).toFixed(1),
    (m(known) / m(off)).toFixed(2), m(first).toFixed(1), m(firstIds).toFixed(1), m(renew).toFixed(1), m(renewIds).toFixed(1),
    (m(knownIds) * 1e6 / n).toFixed(0)]);
}
process.stdout.write(`${table(['flows', 'off: drain ms', 'on, known keys: drain ms', 'of which ids ms', 'known/off',
  'on, first drain: drain ms', 'of which ids ms', 'on, all released: drain ms', 'of which ids ms', 'ids ns/flow (known)'], drainRows)}\n`);
process.stdout.write(`(median of ${reps}; the drain and its ids run on a libuv worker thread, the event loop only awaits)\n\n`);

// ---- 2. the table alone ----
printHeader('flow ids: the id table alone (FlowIdTable, no kernel), ns per flow');
const tableRows: string[][] = [];
for (const n of counts) {
  const buf = records(Array.from({ length: n }, (_, i) => i));
  const all = Uint32Array.from({ length: n }, (_, i) => i);
  const fresh: number[] = [], known: number[] = [], release: number[] = [], reuse: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const t = new addon.FlowIdTable();
    const t0 = process.hrtime.bigint();
    t.assign(buf, 0, n);
    const t1 = process.hrtime.bigint();
    t.assign(buf, 0, n);
    const t2 = process.hrtime.bigint();
    if (t.release(all) !== n) throw new Error('release');
    const t3 = process.hrtime.bigint();
    t.assign(buf, 0, n);
    const t4 = process.hrtime.bigint();
    fresh.push(Number(t1 - t0) / n); known.push(Number(t2 - t1) / n); release.push(Number(t3 - t2) / n); reuse.push(Number(t4 - t3) / n);
  }
  tableRows.push([n.toLocaleString('en'), median(fresh).toFixed(1), median(known).toFixed(1), median(release).toFixed(1), median(reuse).toFixed(1)]);
}
process.stdout.write(`${table(['flows', 'new keys (table grows) ns', 'known keys ns', 'release ns', 'new keys (table sized) ns'], tableRows)}\n`);
process.stdout.write(`(median of ${reps}; synthetic IPv4 UDP keys, one batch of N records)\n\n`);

// ---- 3. event-loop routing: array by id against Map by raw key ----
printHeader('flow ids: per-flow routing on the event loop, routes[flowId(i)] against routes.get(rawKey(i))');
const jsRows: string[][] = [];
for (const n of counts) {
  const buf = records(Array.from({ length: n }, (_, i) => i));
  new addon.FlowIdTable().assign(buf, 0, n);
  const batch = new FlowBatch(buf, 0, n, ClockOffset.now());
  // one route object per flow, as the processor keeps: reachable both ways
  const byKey = new Map<string, { srcIsLocal: boolean; n: number }>();
  const byId: ({ srcIsLocal: boolean; n: number } | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const route = { srcIsLocal: (i & 1) === 0, n: i };
    byKey.set(batch.rawKey(i), route);
    const id = batch.flowId(i);
    if (id === FLOW_ID_NONE) throw new Error('no id');
    byId[id] = route;
  }
  const viaKey: number[] = [], viaId: number[] = [];
  let sink = 0;
  for (let rep = 0; rep < reps; rep++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch.count; i++) sink += byKey.get(batch.rawKey(i))!.n;
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < batch.count; i++) sink += byId[batch.flowId(i)]!.n;
    const t2 = process.hrtime.bigint();
    viaKey.push(Number(t1 - t0) / n);
    viaId.push(Number(t2 - t1) / n);
  }
  if (sink !== reps * n * (n - 1)) throw new Error('routes disagree');
  jsRows.push([n.toLocaleString('en'), median(viaKey).toFixed(1), median(viaId).toFixed(1), (median(viaKey) / median(viaId)).toFixed(1)]);
}
process.stdout.write(`${table(['flows', 'rawKey + Map.get ns/flow', 'flowId + array ns/flow', 'ratio'], jsRows)}\n`);
process.stdout.write(`(median of ${reps}; both loops over the same FlowBatch in one run, each reading one field of the route)\n`);
