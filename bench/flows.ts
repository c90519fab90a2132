/**
 * The flows stage's cost per interval: FlowProcessor.process() over a batch of
 * N flows (both directions of N/2 conversations) against a table that already
 * holds S sessions, for the steady state (every conversation known) and for
 * churn (every conversation new). This runs on the event loop once per
 * interval, so it bounds how many flows per second the control plane keeps up
 * with.
 *
 *   node --import tsx bench/flows.ts [--flows 10000,65536,262144] [--reps 5] [--sizes varied|equal]
 *
 * Names and devices are looked up as in `flowlens run` (empty tables: every
 * session stays unnamed, so each interval retries its lookups).
 *
 * Each size runs twice: with the collector's stable flow ids (how `flowlens
 * run` drains) and without them (FLOW_ID_NONE: routed by raw key, the path
 * before ids and the fallback past the id limit).
 *
 * Prints figures; asserts nothing.
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FlowProcessor } from '../src/flows/processor.js';
import { defaultSessionConfig } from '../src/flows/sessions.js';
import { AddressClassifier, defaultLocalNetworks } from '../src/net/classify.js';
import { DeviceTable } from '../src/enrich/devices.js';
import { NameTable } from '../src/enrich/names.js';
import { RemoteEnrichment } from '../src/enrich/remote.js';
import { flowBatch, totalsFor, type FlowSpec } from '../test/helpers/flow-batch.js';
import { median, printHeader, table } from './lib.js';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '10000,65536,262144' }, reps: { type: 'string', default: '5' }, sizes: { type: 'string', default: 'varied' } } });
const sizes = values.sizes!;
if (sizes !== 'varied' && sizes !== 'equal') throw new Error(`--sizes is varied or equal, not "${sizes}"`);
const counts = values.flows!.split(',').map(Number);
const reps = Number(values.reps);

/**
 * A conversation's download bytes. `varied`: a gateway's mix, one in ten large
 * and the rest small, in no order (as the kernel's hash table drains them),
 * so the talker rows must really be ranked; `equal`: every one alike (the
 * bench's shape before, whose rows came out already in order).
 */
function downBytes(i: number): number {
  if (sizes === 'equal') return 30000;
  const h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return h % 10 === 0 ? 10_000 + (h % 1_000_000) : 60 * (1 + (h % 8));
}

/** Both directions of n/2 conversations between LAN hosts and public addresses; `salt` makes them distinct. */
function specs(n: number, salt: number, ids = true): FlowSpec[] {
  const out: FlowSpec[] = [];
  for (let i = 0; i < n / 2; i++) {
    const local = `192.168.${(i >> 8) & 0xff}.${i & 0xff}`;
    const remote = `203.${salt & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
    const port = 40000 + (i % 20000);
    const id = (k: number) => (ids ? { flowId: 2 * i + k } : {});
    out.push({ direction: 'egress', protocol: 6, src: local, dst: remote, srcPort: port, dstPort: 443, packets: 10, bytes: 1500, tcpFlags: 0x18, ...id(0) });
    out.push({ direction: 'ingress', protocol: 6, src: remote, dst: local, srcPort: 443, dstPort: port, packets: 20, bytes: downBytes(i), tcpFlags: 0x18, ...id(1) });
  }
  return out;
}

function processor(): FlowProcessor {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, ['192.168.0.1']);
  // names and devices as `flowlens run` has them (empty: no DNS answers, no neighbours), so a
  // session without a name is looked up again each interval, as on a real gateway
  const enrichment = new RemoteEnrichment(undefined, new NameTable(), new DeviceTable());
  return new FlowProcessor({ sessions: { ...defaultSessionConfig(), maxSessions: 2_000_000 }, filters: { ignore: [], keep: [] } }, classifier, enrichment);
}

v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

printHeader('flows stage: FlowProcessor.process() per interval');
const rows: string[][] = [];
for (const n of counts) for (const ids of [true, false]) {
  const batch = flowBatch(specs(n, 7, ids), 1_000_500);
  const totals = totalsFor(specs(n, 7));
  const steady: number[] = [];
  const churn: number[] = [];
  const steadyCpu: number[] = [];
  const churnCpu: number[] = [];
  /** Runs one interval; wall ms and the process's CPU ms (this machine is shared: CPU time is the steadier figure). */
  const timed = (p: FlowProcessor, start: number, wall: number[], cpu: number[]) => {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    p.process({ start, end: start + 1000, flows: batch, totals });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  };
  for (let r = 0; r < reps; r++) {
    // churn: a fresh processor sees every conversation for the first time
    const p = processor();
    timed(p, 1_000_000, churn, churnCpu);
    // steady state: the same conversations again, already known (three intervals)
    for (let k = 1; k <= 3; k++) timed(p, 1_000_000 + k * 1000, steady, steadyCpu);
  }
  // after a full GC: without one, heapUsed counts the garbage of earlier repetitions
  collectGarbage();
  const heap = process.memoryUsage().heapUsed / 1e6;
  const perFlow = (ms: number[]) => ((median(ms) * 1e6) / n).toFixed(0);
  rows.push([String(n), ids ? 'on' : 'off', String(n / 2), median(churn).toFixed(1), median(steady).toFixed(1),
    perFlow(steady), perFlow(churn), perFlow(steadyCpu), perFlow(churnCpu), heap.toFixed(0)]);
}
console.log(table(['flows/interval', 'flow ids', 'sessions', 'new sessions ms', 'known sessions ms', 'ns/flow (known)', 'ns/flow (new)', 'CPU ns/flow (known)', 'CPU ns/flow (new)', 'heap MB'], rows));
console.log(`(medians of ${reps} fresh processors, 3 known intervals each; conversation sizes ${sizes}; CPU: the whole process's user + system time, GC threads included)`);
