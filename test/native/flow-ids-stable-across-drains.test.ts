/**
 * Flow ids through the real drain: packets counted by the loaded BPF program
 * (BPF_PROG_TEST_RUN, and real frames on a veth for the Collector), drained,
 * and each drained flow's id read back with FlowBatch.flowId. Off until asked;
 * then a flow keeps its id over drains until released, different flows never
 * share one, a released id goes to the next new flow while the released flow
 * gets a fresh one, ids stay dense, and beyond the limit flows get none.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { requireKernel } from '../helpers/kernel.js';
import { createLab } from '../helpers/netns.js';
import { loadAddon, type DrainResult, type NativeCollector } from '../../src/native/binding.js';
import { FlowBatch, FLOW_ID_NONE } from '../../src/collector/decode.js';
import { ClockOffset } from '../../src/collector/clock.js';
import { Collector, defaultConfig } from '../../src/collector/index.js';
import { udp4 } from '../helpers/packets.js';

/** One test-run packet of flow `n`: 10.233.x.y:(40000 + n % 1000) → 10.233.255.1:53. */
function packet(n: number): Buffer {
  return udp4(`10.233.${(n >> 8) & 0xff}.${n & 0xff}`, '10.233.255.1', 40000 + (n % 1000), 53);
}

/** Drains; returns the result and flow → id by "src:port". */
async function drainIds(c: NativeCollector, buf: Buffer): Promise<{ r: DrainResult; ids: Map<string, number> }> {
  const r = await c.drain(buf);
  const batch = new FlowBatch(buf, r.flowsOffset, r.flows, ClockOffset.now());
  const ids = new Map<string, number>();
  for (let i = 0; i < batch.count; i++) ids.set(`${batch.src(i)}:${batch.srcPort(i)}`, batch.flowId(i));
  return { r, ids };
}

const name = (n: number) => `10.233.${(n >> 8) & 0xff}.${n & 0xff}:${40000 + (n % 1000)}`;

function send(c: NativeCollector, flows: number[]): void {
  for (const n of flows) c.testRun('flowlens_tc_in', packet(n));
}

t.test('ids are off until asked for: every drained flow has FLOW_ID_NONE', async (t) => {
  if (!requireKernel(t)) return;
  const c = new (loadAddon().Collector)(1024);
  t.teardown(() => c.close());
  const buf = Buffer.alloc(c.bufferSize);
  send(c, [1, 2]);
  const { r, ids } = await drainIds(c, buf);
  t.equal(r.flows, 2);
  t.same([...ids.values()], [FLOW_ID_NONE, FLOW_ID_NONE]);
  t.match(r, { flowIds: 0, flowIdsRefused: 0 });
});

t.test('a flow keeps its id over drains; different flows get different ids', async (t) => {
  if (!requireKernel(t)) return;
  const c = new (loadAddon().Collector)(1024);
  t.teardown(() => c.close());
  const buf = Buffer.alloc(c.bufferSize);
  c.setFlowIdLimit(1000);
  send(c, [1, 2]);
  const first = await drainIds(c, buf);
  t.same(new Set(first.ids.values()), new Set([0, 1]), 'two flows, ids 0 and 1');
  t.equal(first.r.flowIds, 2, 'two live ids');
  for (let d = 0; d < 3; d++) {
    send(c, d === 1 ? [2] : [2, 1]);
    const again = await drainIds(c, buf);
    t.equal(again.ids.get(name(2)), first.ids.get(name(2)), `drain ${d + 2}: flow 2 kept its id`);
    if (d !== 1) t.equal(again.ids.get(name(1)), first.ids.get(name(1)), `drain ${d + 2}: flow 1 kept its id`);
    t.equal(again.r.flowIds, 2, 'still two live ids');
  }
  const empty = await drainIds(c, buf);
  t.equal(empty.r.flows, 0, 'a quiet interval');
  t.equal(empty.r.flowIds, 2, 'a quiet interval keeps the ids');
  send(c, [1]);
  t.equal((await drainIds(c, buf)).ids.get(name(1)), first.ids.get(name(1)), 'flow 1 still has its id after a quiet interval');
});

t.test('a released id goes to the next new flow; the released flow comes back with a fresh id', async (t) => {
  if (!requireKernel(t)) return;
  const c = new (loadAddon().Collector)(1024);
  t.teardown(() => c.close());
  const buf = Buffer.alloc(c.bufferSize);
  c.setFlowIdLimit(1000);
  send(c, [1, 2, 3]);
  const first = (await drainIds(c, buf)).ids;
  const old = first.get(name(2))!;
  c.releaseFlowIds(Uint32Array.of(old));
  send(c, [4]);
  const next = await drainIds(c, buf);
  t.equal(next.ids.get(name(4)), old, 'the new flow 4 got the released id');
  t.equal(next.r.flowIds, 3, 'three live ids: 1, 3 and 4');
  send(c, [2, 1, 3, 4]);
  const back = await drainIds(c, buf);
  const fresh = back.ids.get(name(2))!;
  t.not(fresh, old, 'flow 2 has a new id');
  t.notOk([1, 3, 4].some((n) => back.ids.get(name(n)) === fresh), 'one no other flow holds');
  for (const n of [1, 3]) t.equal(back.ids.get(name(n)), first.get(name(n)), `flow ${n} kept its id`);
  t.equal(back.ids.get(name(4)), old, 'flow 4 kept the id it got');
  t.equal(back.r.flowIds, 4);
  t.equal(Math.max(...back.ids.values()), 3, 'dense: four live ids are 0 .. 3');
  // released twice and never handed out: nothing happens to the live ids
  c.releaseFlowIds(Uint32Array.of(first.get(name(1))!, first.get(name(1))!, 999));
  send(c, [5, 6]);
  const after = await drainIds(c, buf);
  t.equal(after.r.flowIds, 5, '4 - 1 + 2 live ids');
  t.not(after.ids.get(name(5)), after.ids.get(name(6)), 'the two new flows do not share the freed id');
  t.ok(Math.max(...after.ids.values()) < after.r.flowIds, 'dense');
});

t.test('100,000 flows in one drain: unique ids 0 .. 99,999, the same again in the next drain', async (t) => {
  if (!requireKernel(t)) return;
  const n = 100_000;
  const c = new (loadAddon().Collector)(131072);
  t.teardown(() => c.close());
  const buf = Buffer.alloc(c.bufferSize);
  c.setFlowIdLimit(n);
  const byKey = new Map<string, number>();
  for (let pass = 0; pass < 2; pass++) {
    // flows 0 .. n-1 are distinct: 256 x 256 source addresses x 1000 ports would be more than enough
    for (let i = 0; i < n; i++) c.testRun('flowlens_tc_in', udp4(`10.234.${(i >> 8) & 0xff}.${i & 0xff}`, '10.234.255.1', 1000 + (i >> 16), 53));
    const r = await c.drain(buf);
    t.equal(r.flows, n, `pass ${pass}: ${n} flows drained`);
    t.equal(r.flowIds, n);
    t.equal(r.flowIdsRefused, 0);
    const batch = new FlowBatch(buf, r.flowsOffset, r.flows, ClockOffset.now());
    const seen = new Uint8Array(n);
    let bad = 0, moved = 0;
    for (let i = 0; i < batch.count; i++) {
      const id = batch.flowId(i);
      if (id >= n || seen[id]) bad++;
      else seen[id] = 1;
      const k = batch.rawKey(i);
      if (pass === 0) byKey.set(k, id);
      else if (byKey.get(k) !== id) moved++;
    }
    t.equal(bad, 0, `pass ${pass}: every id unique and below ${n}`);
    if (pass === 1) t.equal(moved, 0, 'every flow kept its id');
  }
});

t.test('beyond the limit flows get FLOW_ID_NONE and are counted; limit 0 forgets every id', async (t) => {
  if (!requireKernel(t)) return;
  const c = new (loadAddon().Collector)(1024);
  t.teardown(() => c.close());
  const buf = Buffer.alloc(c.bufferSize);
  c.setFlowIdLimit(2);
  send(c, [1, 2, 3]);
  const a = await drainIds(c, buf);
  t.equal(a.r.flowIds, 2);
  t.equal(a.r.flowIdsRefused, 1, 'one flow refused');
  t.equal([...a.ids.values()].filter((id) => id === FLOW_ID_NONE).length, 1, 'one flow without an id');
  c.setFlowIdLimit(0);
  send(c, [1, 2]);
  const off = await drainIds(c, buf);
  t.same([...off.ids.values()], [FLOW_ID_NONE, FLOW_ID_NONE], 'off: no ids');
  t.equal(off.r.flowIds, 0, 'off: the table is gone');
  c.setFlowIdLimit(10);
  send(c, [3]);
  const on = await drainIds(c, buf);
  t.equal(on.ids.get(name(3)), 0, 'on again: ids start from 0');
  t.throws(() => c.setFlowIdLimit(-1), TypeError);
  t.throws(() => c.setFlowIdLimit(2 ** 28 + 1), TypeError);
  t.throws(() => c.releaseFlowIds([1] as unknown as Uint32Array), TypeError);
});

t.test('Collector: trackFlowIds, status().flowIds and releaseFlowIds on frames sent on a veth', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'fi', layout: 'root' });
  const collector = Collector.open({ ...defaultConfig(), interfaces: [lab.a.name], hook: 'tc', intervalMs: 3_600_000 });
  t.teardown(() => collector.stop().catch(() => collector.closeNow()));
  // frames leave the monitored end (TC egress counts them); nothing else crosses the link
  const sendFrames = (flows: number[]) => execFileSync('python3', ['-c',
    'import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind((sys.argv[1],0))\n' +
    'for h in sys.stdin.read().split(): s.send(bytes.fromhex(h))', lab.a.name],
  { input: flows.map((n) => packet(n).toString('hex')).join('\n') });
  const ids = async () => {
    const iv = await collector.drainNow();
    const m = new Map<string, number>();
    for (let i = 0; i < iv.flows.count; i++) m.set(`${iv.flows.src(i)}:${iv.flows.srcPort(i)}`, iv.flows.flowId(i));
    return m;
  };
  await ids(); // anything from before
  collector.trackFlowIds(100);
  sendFrames([1, 2]);
  const first = await ids();
  t.equal(first.size, 2, 'two flows');
  t.same(new Set(first.values()), new Set([0, 1]));
  t.match(collector.status(), { flowIds: 2, flowIdsRefused: 0 });
  collector.releaseFlowIds(Uint32Array.of(first.get(name(1))!));
  sendFrames([2, 3]);
  const second = await ids();
  t.equal(second.get(name(2)), first.get(name(2)), 'flow 2 kept its id');
  t.equal(second.get(name(3)), first.get(name(1)), 'flow 3 got the released id');
  t.match(collector.status(), { flowIds: 2 });
});
