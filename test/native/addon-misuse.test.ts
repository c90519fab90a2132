/**
 * Misusing the addon never crashes the process: wrong argument types and
 * counts, a too small drain buffer, use after close, overlapping drains,
 * closing (or dropping) a collector while it drains, and calling methods on the
 * wrong `this` all throw (or reject) clear errors. Each group runs in a child
 * process (test/native/fixtures/misuse.cjs), so that a crash is one failed
 * assertion here rather than a lost test runner; the child reports each case
 * as one JSON line.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { CRASH_TEXT, fixtures, runNode, type ChildResult } from '../helpers/child-process.js';
import { loadAddon, repoRoot } from '../../src/native/binding.js';
import { loadBenchAddon } from '../../bench/lib.js';

const benchObject = path.join(repoRoot, 'build/bpf/bench.bpf.o');

type Expect = Record<string, unknown>;

const USAGE = (s: string) => ({ threw: true, isError: true, type: 'TypeError', message: s });
const TYPE = (re: RegExp) => ({ threw: true, isError: true, type: 'TypeError', message: re });
const CLOSED = { threw: true, isError: true, type: 'Error', code: 'FLOW_ERR_CLOSED', message: 'the collector is closed' };
const ILLEGAL = { threw: true, isError: true, type: 'TypeError', message: /^Illegal invocation/ };
/** Accessors get no receiver check from V8; napi_unwrap refuses a plain object. */
const NOT_WRAPPED = { threw: true, isError: true, message: /^(Illegal invocation|Invalid argument)/ };
const OK = { threw: false };

async function runGroup(t: Test, group: string, expected: [string, Expect][]): Promise<ChildResult> {
  const r = await runNode(['--expose-gc', path.join(fixtures, 'misuse.cjs'), group, benchObject]);
  t.equal(r.signal, null, `the child was not killed by a signal (${r.signal})`);
  t.equal(r.code, 0, 'the child exited normally');
  t.notMatch(r.stderr, CRASH_TEXT, 'no crash on stderr');
  t.equal(r.stderr, '', 'nothing on stderr');
  const byLabel = new Map(r.records.map((rec) => [rec.label as string, rec]));
  for (const [label, want] of expected) {
    const got = byLabel.get(label);
    if (!got) { t.fail(`${label}: not reported (the child stopped early?)`); continue; }
    t.match(got, want, label);
  }
  t.ok(byLabel.has('done'), 'the child ran every case');
  t.same(r.records.filter((rec) => !expected.some(([l]) => l === rec.label) && rec.label !== 'done').map((rec) => rec.label), [],
    'every reported case has an expectation');
  return r;
}

t.test('the shipped addon has the product calls only; the bench addon adds BpfObject and FlowIdTable', async (t) => {
  t.same(Object.keys(loadAddon()).sort(), ['Collector', 'LinkWatch', 'layout', 'libbpfVersion', 'neighbours', 'xdpSupport']);
  t.same(Object.keys(loadBenchAddon()).sort(), ['BpfObject', 'Collector', 'FlowIdTable', 'LinkWatch', 'layout', 'libbpfVersion', 'neighbours', 'xdpSupport']);
});

t.test('a LinkWatch reads without blocking, and throws once closed; close is idempotent', async (t) => {
  const w = new (loadAddon().LinkWatch)();
  t.match(w.read(), { events: Array, overflow: false }, 'what other tests\' links did meanwhile, if anything');
  w.close();
  w.close();
  t.throws(() => w.read(), /the link watch is closed/);
});

t.test('wrong argument types and counts throw TypeErrors with the signature', async (t) => {
  if (!requireKernel(t)) return;
  const ATTACH = "attach(ifindex: number, hook: 'xdp' | 'tc', xdpMode: 'auto' | 'native' | 'generic')";
  const TESTRUN = 'testRun(program: string, packet: Buffer, options?: { repeat, gsoSegs, gsoSize })';
  const ENTRIES = 'mapEntries must be an integer from 1 to 4294967295';
  const NEW = 'new Collector(mapEntries: number, captureRingBytes?: number, roles?: Uint32Array, packetRingBytes?: number)';
  const IFINDEX = 'ifindex must be a positive integer';
  await runGroup(t, 'args', [
    ['new Collector()', USAGE(NEW)],
    ["new Collector('1024')", USAGE(NEW)],
    ['new Collector(0)', USAGE(ENTRIES)],
    ['new Collector(-1)', USAGE(ENTRIES)],
    ['new Collector(1.5)', USAGE(ENTRIES)],
    ['new Collector(NaN)', USAGE(ENTRIES)],
    ['new Collector(2**32)', USAGE(ENTRIES)],
    ["new Collector(16, '4096')", USAGE(NEW)],
    ['new Collector(16, 4096, 1)', USAGE(NEW)],
    ['new Collector(16, -1)', USAGE('captureRingBytes must be an integer from 0 to 1073741824')],
    ['new Collector(16, 5000)', { threw: true, isError: true, code: 'FLOW_ERR_KERNEL',
      message: /^the capture ring size must be a power of two of at least 4096 bytes, not 5000$/ }],
    ['Collector(16) without new', TYPE(/without 'new'/)],
    ['attach()', USAGE(ATTACH)],
    ['attach(ifindex)', USAGE(ATTACH)],
    ["attach('1', 'tc', 'auto')", USAGE(ATTACH)],
    ["attach(N, 'kprobe', 'auto')", USAGE("hook must be 'xdp' or 'tc'")],
    ["attach(N, 'tc', 'offload')", USAGE("xdpMode must be 'auto', 'native' or 'generic'")],
    ["attach(N, 'tc', 2)", USAGE(ATTACH)],
    ["attach(0, 'tc', 'auto')", USAGE(IFINDEX)],
    ["attach(-2, 'tc', 'auto')", USAGE(IFINDEX)],
    ["attach(2147483646.5, 'tc', 'auto')", USAGE(IFINDEX)],
    ["attach(NaN, 'tc', 'auto')", USAGE(IFINDEX)],
    ["attach(2**32 + 2147483646, 'tc', 'auto')", USAGE(IFINDEX)],
    ["attach(N, 'tc', 'auto', 'extra')", USAGE(ATTACH)],
    ["attach(no such ifindex, 'tc', 'auto')", { threw: true, isError: true, code: 'FLOW_ERR_KERNEL', message: /#2147483647: No such device/ }],
    ['detach()', USAGE('detach(ifindex: number)')],
    ["detach('1')", USAGE('detach(ifindex: number)')],
    ['detach(-1)', USAGE(IFINDEX)],
    ['detach(2147483646.5)', USAGE(IFINDEX)],
    ['detach(never attached)', { threw: true, isError: true, code: 'FLOW_ERR_NOT_ATTACHED', message: 'not attached to #2147483647' }],
    ['drain()', USAGE('drain(buffer: Buffer)')],
    ["drain('buffer')", USAGE('drain(buffer: Buffer)')],
    ['drain({ length })', USAGE('drain(buffer: Buffer)')],
    ['drain(ArrayBuffer)', USAGE('drain(buffer: Buffer)')],
    ['drain(Buffer.alloc(10))', { threw: true, isError: true, type: 'RangeError', message: /^drain buffer too small: 10 bytes, need \d+ \(use bufferSize\)$/ }],
    ['drain(bufferSize - 1)', { threw: true, isError: true, type: 'RangeError', message: /too small: (\d+) bytes, need \d+ .*bufferSize/ }],
    ['drain(buf, extra)', USAGE('drain(buffer: Buffer)')],
    ['testRun()', USAGE(TESTRUN)],
    ["testRun('flowlens_xdp')", USAGE(TESTRUN)],
    ['testRun(1, packet)', USAGE(TESTRUN)],
    ["testRun('flowlens_xdp', 'packet')", USAGE(TESTRUN)],
    ["testRun('no_such_prog', packet)", { threw: true, isError: true, message: "no BPF program named 'no_such_prog'" }],
    ["testRun('flowlens_xdp', packet, { repeat: 'x' })", { threw: true, isError: true, type: 'TypeError' }],
    ["testRun('flowlens_xdp', empty packet)", { threw: true, isError: true, code: 'FLOW_ERR_KERNEL', message: /BPF_PROG_TEST_RUN failed/ }],
    ['xdpSupport()', USAGE('xdpSupport(ifindex: number)')],
    ["xdpSupport('lo')", USAGE('xdpSupport(ifindex: number)')],
    ['new BpfObject()', USAGE('new BpfObject(path: string)')],
    ["new BpfObject('/nonexistent.bpf.o')", { threw: true, isError: true, message: 'cannot open /nonexistent.bpf.o: No such file or directory' }],
    ["testRun('flowlens_xdp', packet) after misuse", { threw: false, value: { retval: 2 } }], // XDP_PASS
    ['drain(buf) after misuse', { settled: 'resolved', value: { ifaces: 1, flows: 1 } }],
    ['close()', OK],
  ]);
});

t.test('after close every method throws FLOW_ERR_CLOSED; close is idempotent', async (t) => {
  if (!requireKernel(t)) return;
  const r = await runGroup(t, 'closed', [
    ['close()', OK],
    ['bpf fds', { before: Number, after: 0 }],
    ['close() again', OK],
    ['attach(...) after close', CLOSED],
    ['detach(...) after close', CLOSED],
    ['drain(buf) after close', CLOSED],
    ['errors() after close', CLOSED],
    ['captureErrors() after close', CLOSED],
    ["testRun('flowlens_xdp', packet) after close", CLOSED],
    ['mapEntries after close', CLOSED],
    ['bufferSize after close', CLOSED],
    ['close() a third time', OK],
    ['BpfObject close()', OK],
    ['BpfObject close() again', OK],
    ['BpfObject testRun after close', { threw: true, isError: true, message: 'the object is closed' }],
  ]);
  const fds = r.records.find((rec) => rec.label === 'bpf fds');
  t.ok((fds?.before as number) > 0, 'the open collector held BPF fds; close released them all');
});

t.test('a second drain while one runs throws FLOW_ERR_DRAIN_BUSY; the first resolves', async (t) => {
  if (!requireKernel(t)) return;
  const BUSY = { threw: true, isError: true, code: 'FLOW_ERR_DRAIN_BUSY', message: /already running; await it/ };
  await runGroup(t, 'drain-busy', [
    ['second drain while the first runs', BUSY],
    ['second drain with another buffer', BUSY],
    ['errors() while draining', { threw: false, value: [0, 0, 0, 0] }],
    ['testRun while draining', { threw: false, value: { retval: 2 } }],
    // the packet counted before the first drain is in it
    ['first drain', { settled: 'resolved', value: { ifaces: 1, flows: 1, graceNs: Number, drainNs: Number, monoNs: Number } }],
    // the one counted while it ran went to the new table: the next drain has it
    ['drain after the first settled', { settled: 'resolved', value: { flows: 1 } }],
  ]);
});

t.test('close while a drain is in flight: the drain still settles, then everything is released', async (t) => {
  if (!requireKernel(t)) return;
  await runGroup(t, 'close-during-drain', [
    ['close() during the drain', OK],
    ['close() again during the drain', OK],
    ['drain(buf) after close, while the first runs', CLOSED],
    ['errors() after close, while the drain runs', CLOSED],
    ['the drain in flight', { settled: 'resolved', value: { flows: 1 } }],
    ['bpf fds', { after: 0 }],
    ['close() after the drain settled', OK],
    ['bufferSize after the drain settled', CLOSED],
  ]);
});

t.test('dropping the last reference while a drain runs: it settles, and GC releases the collector', async (t) => {
  if (!requireKernel(t)) return;
  await runGroup(t, 'gc-during-drain', [
    ['the drain of an unreferenced collector', { settled: 'resolved', value: { flows: 0 } }],
    ['bpf fds', { after: 0 }],
  ]);
});

t.test('methods and accessors called on a wrong `this` throw', async (t) => {
  if (!requireKernel(t)) return;
  const expected: [string, Expect][] = [];
  for (const name of ['attach', 'detach', 'drain', 'errors', 'captureErrors', 'testRun', 'close']) {
    for (const what of ['{}', 'undefined', 'a number', 'Object.create(Collector.prototype)', 'a BpfObject']) {
      expected.push([`Collector.prototype.${name}.call(${what})`, ILLEGAL]);
    }
  }
  for (const name of ['mapEntries', 'bufferSize']) {
    for (const what of ['{}', 'undefined', 'Object.create(Collector.prototype)']) expected.push([`${name} getter on ${what}`, NOT_WRAPPED]);
    // another wrapped object must not be read as a Collector
    expected.push([`${name} getter on a BpfObject`, ILLEGAL]);
  }
  expected.push(
    ['BpfObject.prototype.testRun.call(collector)', ILLEGAL],
    ['BpfObject.prototype.close.call(collector)', ILLEGAL],
    ['fake.bufferSize', NOT_WRAPPED],
    ['collector testRun afterwards', { threw: false, value: { retval: 2 } }],
    ['collector drain afterwards', { settled: 'resolved', value: { flows: 1 } }],
    ['BpfObject testRun afterwards', { threw: false, value: { retval: 2 } }],
  );
  await runGroup(t, 'wrong-this', expected);
});
