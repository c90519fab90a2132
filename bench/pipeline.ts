/**
 * The whole per-interval control plane without a kernel: the composition root
 * (src/compose.ts) with the API (live query, /metrics), the history store, the
 * alerts and the InfluxDB writer on (pointed at a loopback server that takes
 * v2 writes), fed by the fake collector (test/helpers/fake-collector.ts) with
 * batches of N flows (both directions of N/2 conversations, as bench/flows.ts
 * builds them). Per interval it times each stage — the flows processor, each
 * consumer (api: live query + metrics; history; alerts; influx), and
 * separately a /metrics scrape and the history flush — as ns per flow, and the
 * longest event-loop block (the largest gap of a 1 ms timer chain) while the interval is
 * delivered. Medians of --reps intervals after one warm-up interval (the first
 * sees every conversation as new).
 *
 *   node --import tsx bench/pipeline.ts [--flows 100000,1000000] [--reps 5]
 *
 * Prints figures; asserts nothing.
 */
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configFrom } from '../src/config/index.js';
import { Flowlens } from '../src/compose.js';
import { FakeCollector } from '../test/helpers/fake-collector.js';
import { flowBatch, totalsFor, type FlowSpec } from '../test/helpers/flow-batch.js';
import type { Interval } from '../src/collector/index.js';
import { median, printHeader, table } from './lib.js';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '100000,1000000' }, reps: { type: 'string', default: '5' } } });
const counts = values.flows!.split(',').map(Number);
const reps = Number(values.reps);
const HOST = '192.168.0.1';

/** Both directions of n/2 conversations between LAN hosts and public addresses (bench/flows.ts's shape). */
function specs(n: number): FlowSpec[] {
  const out: FlowSpec[] = [];
  for (let i = 0; i < n / 2; i++) {
    const local = `192.168.${(i >> 8) & 0xff}.${i & 0xff}`;
    const remote = `203.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
    const port = 40000 + (i % 20000);
    out.push({ direction: 'egress', protocol: 6, src: local, dst: remote, srcPort: port, dstPort: 443, packets: 10, bytes: 1500, tcpFlags: 0x18, flowId: 2 * i });
    out.push({ direction: 'ingress', protocol: 6, src: remote, dst: local, srcPort: 443, dstPort: port, packets: 20, bytes: 30000, tcpFlags: 0x18, flowId: 2 * i + 1 });
  }
  return out;
}

/** A loopback server that takes InfluxDB v2 writes (as test/unit/monitor-on-fake-collector.test.ts's). */
async function influxServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** Wraps obj[method] so each call's duration is added to times[stage]. */
function timed(obj: object, method: string, stage: string, times: Map<string, number>): void {
  const o = obj as Record<string, (...a: unknown[]) => unknown>;
  const inner = o[method]!.bind(obj);
  o[method] = (...a: unknown[]) => {
    const t0 = performance.now();
    try {
      return inner(...a);
    } finally {
      times.set(stage, (times.get(stage) ?? 0) + performance.now() - t0);
    }
  };
}

const STAGES = ['processor', 'api.live', 'api.metrics', 'api (rest)', 'history', 'alerts', 'influx', 'stages (sum)', 'wall, drain to idle', 'scrape /metrics', 'history flush', 'max loop block'];

async function run(n: number): Promise<Map<string, number[]>> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-pipeline-'));
  const influx = await influxServer();
  const file = path.join(tmp, 'flowlens.yaml');
  writeFileSync(file, '{}\n');
  const config = configFrom({ file, env: {}, flags: {
    iface: 'eth0', host: 'bench-host', 'data-dir': path.join(tmp, 'data'), 'flush-interval': '1h', 'http-port': '0', 'grpc-port': '0',
    'max-sessions': String(Math.max(n, 1000)), 'influx-url': influx.url, 'influx-org': 'org', 'influx-bucket': 'bucket', 'influx-token': 'secret',
  } });
  const fake = new FakeCollector();
  const flowlens = new Flowlens(config, { collector: { check: () => undefined, open: () => fake }, hostAddresses: () => [HOST], neighbours: () => [] });
  const errors: string[] = [];
  flowlens.monitor.on('error', (e) => errors.push(e.message));
  await flowlens.start();
  const times = new Map<string, number>();
  timed(flowlens.monitor.processor, 'process', 'processor', times);
  const server = (flowlens.api as unknown as { server: { live: object; metrics: object } }).server;
  timed(server.live, 'add', 'api.live', times);
  timed(server.metrics, 'add', 'api.metrics', times);
  timed(flowlens.api!, 'add', 'api', times);
  timed(flowlens.history!, 'add', 'history', times);
  timed(flowlens.alerts!, 'add', 'alerts', times);
  timed(flowlens.influx!, 'add', 'influx', times);
  const flows = specs(n);
  const out = new Map<string, number[]>(STAGES.map((s) => [s, []]));
  // the longest stretch without a turn of the event loop: a 1 ms timer chain's largest gap
  const loop = { max: 0, last: performance.now(), on: true };
  const tick = () => {
    const now = performance.now();
    loop.max = Math.max(loop.max, now - loop.last);
    loop.last = now;
    if (loop.on) setTimeout(tick, 1);
  };
  tick();
  let end = Date.now() - (reps + 2) * 1000;
  for (let r = -1; r < reps; r++) {
    times.clear();
    // the batch is encoded before the clock starts (the kernel drain's stand-in is not the control plane)
    end += 1000;
    const iv: Interval = { start: end - 1000, end, flows: flowBatch(flows, end - 500), totals: totalsFor(flows, { 2: 'eth0' }), captures: [], drain: { ms: 1.5, graceMs: 0.5 } };
    await new Promise((resolve) => setTimeout(resolve, 20));
    loop.max = 0;
    const t0 = performance.now();
    fake.emit('interval', iv);
    // whatever the monitor deferred (slices of a long interval) runs before the next interval
    await new Promise<void>((resolve) => { const wait = () => (monitorIdle(flowlens) ? resolve() : setImmediate(wait)); wait(); });
    const wall = performance.now() - t0;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const block = loop.max;
    const t1 = performance.now();
    await fetch(`${flowlens.api!.status()!.http}/metrics`).then((res) => res.text());
    const scrape = performance.now() - t1;
    if (r < 0) continue;
    for (const s of ['processor', 'api.live', 'api.metrics', 'history', 'alerts', 'influx']) out.get(s)!.push(times.get(s) ?? 0);
    out.get('api (rest)')!.push((times.get('api') ?? 0) - (times.get('api.live') ?? 0) - (times.get('api.metrics') ?? 0));
    out.get('stages (sum)')!.push(['processor', 'api', 'history', 'alerts', 'influx'].reduce((a, k) => a + (times.get(k) ?? 0), 0));
    out.get('wall, drain to idle')!.push(wall);
    out.get('scrape /metrics')!.push(scrape);
    out.get('max loop block')!.push(block);
  }
  loop.on = false;
  const t2 = performance.now();
  flowlens.history!.store!.flush();
  out.get('history flush')!.push(performance.now() - t2);
  await flowlens.stop();
  await influx.close();
  if (errors.length) console.log(`errors: ${errors.slice(0, 3).join('; ')} (${errors.length})`);
  rmSync(tmp, { recursive: true, force: true });
  return out;
}

/** True when the monitor has no interval work still queued (an older monitor never has any). */
function monitorIdle(flowlens: Flowlens): boolean {
  return !(flowlens.monitor as unknown as { busy?: boolean }).busy;
}

printHeader('control plane per interval: processor + every consumer (fake collector, history, API, alerts, InfluxDB on)');
for (const n of counts) {
  const out = await run(n);
  const rows = STAGES.map((s) => {
    const ms = median(out.get(s)!);
    return [s, ms.toFixed(1), s === 'max loop block' ? '' : ((ms * 1e6) / n).toFixed(0)];
  });
  console.log(`\n${n} flows per interval (${n / 2} sessions), medians of ${reps} intervals (flush: one)`);
  console.log(table(['stage', 'ms', 'ns/flow'], rows));
}
process.exit(0);
