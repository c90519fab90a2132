/**
 * The addon is context-aware: it loads and works in a worker_thread, next to
 * the main thread's own instance, and every Collector (two in one thread, or
 * one per thread) has tables of its own. A worker that ends while its drain is
 * still running does not take the process down, and a worker's collector is
 * released with the worker even when it never called close().
 */
import t from 'tap';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { requireKernel } from '../helpers/kernel.js';
import { addonPath, loadAddon, type NativeCollector } from '../../src/native/binding.js';
import { FlowBatch } from '../../src/collector/decode.js';
import { ClockOffset } from '../../src/collector/clock.js';
import { FlowRecord, IfaceRecord } from '../../src/collector/layout.gen.js';
import { udp4 } from '../helpers/packets.js';
import { bpfHeldBy } from '../helpers/bpf-inspect.js';
import { CRASH_TEXT, fixtures, runNode } from '../helpers/child-process.js';

interface Seen { src: string; dst: string; srcPort: number; dstPort: number; packets: number; bytes: number }


/** Drains and returns the flows (as plain objects). */
async function drainFlows(c: NativeCollector, buf = Buffer.alloc(c.bufferSize)): Promise<Seen[]> {
  const r = await c.drain(buf);
  const batch = new FlowBatch(buf, r.flowsOffset, r.flows, ClockOffset.now());
  return batch.flows().map(({ src, dst, srcPort, dstPort, packets, bytes }) => ({ src, dst, srcPort, dstPort, packets, bytes }));
}

const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const addon = require(workerData.addon);
  (async () => {
    const c = new addon.Collector(256);
    const testRun = c.testRun('flowlens_xdp', Buffer.from(workerData.packet), { repeat: workerData.repeat });
    const buf = Buffer.alloc(c.bufferSize);
    const drain = await c.drain(buf);
    const errors = c.errors();
    c.close();
    let afterClose;
    try { c.errors(); } catch (e) { afterClose = e.code; }
    parentPort.postMessage({ testRun, drain, errors, afterClose, records: buf.subarray(drain.flowsOffset, drain.flowsOffset + drain.flows * ${FlowRecord.size}) });
  })().catch((e) => parentPort.postMessage({ failed: e.message }));
`;

function runWorker(packet: Buffer, repeat: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { addon: addonPath(), packet, repeat } });
    let msg: Record<string, unknown> | undefined;
    w.on('message', (m: Record<string, unknown>) => { msg = m; });
    w.on('error', reject);
    w.on('exit', (code) => (msg && code === 0 ? resolve(msg) : reject(new Error(`worker exited ${code} with ${JSON.stringify(msg)}`))));
  });
}

t.test('a worker thread loads the addon, counts a test-run packet, drains it and closes', async (t) => {
  if (!requireKernel(t)) return;
  const heldBefore = bpfHeldBy('self').progIds.length;
  const packet = udp4('10.232.7.1', '10.232.7.2', 40001, 53);
  const m = await runWorker(packet, 5);
  t.notOk(m.failed, `no failure in the worker: ${m.failed}`);
  t.match(m.testRun, { retval: 2 }, 'XDP_PASS');
  t.match(m.drain, { ifaces: 1, flows: 1 }, 'one flow, and its interface totals');
  t.same(m.errors, [0, 0, 0, 0]);
  t.equal(m.afterClose, 'FLOW_ERR_CLOSED');
  const records = Buffer.from(m.records as Uint8Array);
  const flows = new FlowBatch(records, 0, 1, ClockOffset.now()).flows();
  t.match(flows, [{ ipVersion: 4, protocol: 17, src: '10.232.7.1', dst: '10.232.7.2', srcPort: 40001, dstPort: 53, packets: 5, bytes: 5 * 60 }]);
  t.equal(bpfHeldBy('self').progIds.length, heldBefore, 'the worker released its programs');
});

t.test('the main thread and a worker each have their own collector', async (t) => {
  if (!requireKernel(t)) return;
  const { Collector } = loadAddon();
  const main = new Collector(128);
  t.teardown(() => main.close());
  main.testRun('flowlens_xdp', udp4('10.232.8.1', '10.232.8.2', 1111, 2222), { repeat: 2 });
  // the worker counts and drains while the main thread's flow sits in its table
  const m = await runWorker(udp4('10.232.9.1', '10.232.9.2', 3333, 4444), 3);
  const workerFlows = new FlowBatch(Buffer.from(m.records as Uint8Array), 0, (m.drain as { flows: number }).flows, ClockOffset.now()).flows();
  t.match(workerFlows, [{ src: '10.232.9.1', srcPort: 3333, packets: 3 }], 'the worker saw only its own flow');
  t.equal(workerFlows.length, 1);
  t.same(await drainFlows(main), [{ src: '10.232.8.1', dst: '10.232.8.2', srcPort: 1111, dstPort: 2222, packets: 2, bytes: 120 }],
    'the main thread saw only its own flow');
});

t.test('two collectors in one thread count and drain independently', async (t) => {
  if (!requireKernel(t)) return;
  const addon = loadAddon();
  const a = new addon.Collector(128);
  const b = new addon.Collector(512);
  t.teardown(() => { a.close(); b.close(); });
  t.equal(a.mapEntries, 128);
  t.equal(b.mapEntries, 512);
  t.ok(b.bufferSize > a.bufferSize, 'each has its own buffer size');
  const pa = udp4('10.232.10.1', '10.232.10.2', 1000, 2000);
  const pb = udp4('10.232.11.1', '10.232.11.2', 3000, 4000, 100);
  a.testRun('flowlens_xdp', pa, { repeat: 4 });
  b.testRun('flowlens_tc_in', pb, { repeat: 7 });
  b.testRun('flowlens_xdp', pa);
  // both drains at once, each on its own buffer
  const [fa, fb] = await Promise.all([drainFlows(a), drainFlows(b)]);
  t.same(fa, [{ src: '10.232.10.1', dst: '10.232.10.2', srcPort: 1000, dstPort: 2000, packets: 4, bytes: 4 * 60 }]);
  t.same(fb.sort((x, y) => x.srcPort - y.srcPort), [
    { src: '10.232.10.1', dst: '10.232.10.2', srcPort: 1000, dstPort: 2000, packets: 1, bytes: 60 },
    { src: '10.232.11.1', dst: '10.232.11.2', srcPort: 3000, dstPort: 4000, packets: 7, bytes: 7 * 128 },
  ]);
  // closing one leaves the other working
  a.close();
  t.throws(() => a.errors(), { code: 'FLOW_ERR_CLOSED' });
  b.testRun('flowlens_xdp', pb);
  t.match(await drainFlows(b), [{ srcPort: 3000, packets: 1 }]);
  t.same(b.errors(), [0, 0, 0, 0]);
});

t.test('workers that end with a drain in flight do not crash the process and release their collectors', async (t) => {
  if (!requireKernel(t)) return;
  // in a child process: before the fix this aborted ("terminate called after
  // throwing an instance of 'Napi::Error'")
  // a hang guard, not a timing: 8 workers each load and verify the programs, slow on a loaded machine
  const r = await runNode([path.join(fixtures, 'worker-teardown.cjs'), '2'], {}, 150_000);
  t.equal(r.signal, null, `not killed by a signal (${r.signal})`);
  t.equal(r.code, 0, 'exit 0');
  t.notMatch(r.stderr, CRASH_TEXT, 'no crash on stderr');
  const survived = r.records.find((rec) => rec.label === 'survived');
  t.ok(survived, 'the process outlived every worker');
  t.match(survived, { exits: { exit: [0, 0], terminate: [Number, Number], return: [0, 0], throw: [1, 1] } });
  t.equal(survived?.after, survived?.before, 'no BPF fd left behind by the workers');
});
