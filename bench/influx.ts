/**
 * The InfluxDB writer (src/sinks/influx) against a local victoria-metrics
 * (the same v2 write endpoint InfluxDB has):
 *  1. points per second it sustains: periods with many talker keys are queued
 *     at once into a buffer that holds them all, then timed until the server
 *     has accepted every point; per batch size and gzip on/off;
 *  2. CPU of the writer per 10k points: making the points (write(), on the
 *     event loop) and sending them (line joining, gzip, HTTP), from
 *     process.cpuUsage(); the server's own CPU beside it;
 *  3. memory at the buffer cap: the server unreachable, periods written until
 *     the buffer is full; heap and RSS growth over the empty buffer.
 *
 *   node --import tsx bench/influx.ts [--periods 40] [--budget 1000] [--batches 1000,5000] [--cap 100000]
 *
 * Prints figures; asserts nothing.
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { InfluxSink, validateInfluxConfig } from '../src/sinks/influx/index.js';
import { TALKER_DIMENSIONS, type TalkerDimension, type TalkerRow } from '../src/flows/types.js';
import { VictoriaMetrics, freePort } from '../test/helpers/victoria-metrics.js';
import { collectorStatus, intervalStats } from '../test/helpers/interval-stats.js';
import { procCpuTicks, printHeader, table, CLK_TCK } from './lib.js';

const { values } = parseArgs({
  options: {
    periods: { type: 'string', default: '40' },
    budget: { type: 'string', default: '1000' },
    batches: { type: 'string', default: '1000,5000' },
    cap: { type: 'string', default: '100000' },
  },
});
const periods = Number(values.periods);
const budget = Number(values.budget);
const batches = values.batches!.split(',').map(Number);
const cap = Number(values.cap);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const IFACES = ['eth0', 'eth1'];
const status = collectorStatus(IFACES);
const t0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;

/** `keys` talkers per dimension with distinct, realistic keys and sizes. */
function talkers(keys: number, seed: number): Record<TalkerDimension, TalkerRow[]> {
  const out = {} as Record<TalkerDimension, TalkerRow[]>;
  for (const d of TALKER_DIMENSIONS) {
    out[d] = Array.from({ length: keys }, (_, i) => {
      const key = d === 'ip' ? `203.0.${(i >> 8) & 255}.${i & 255}` : d === 'domain' ? `host-${i}.example.org` : d === 'port' ? `tcp/${1024 + i}`
        : d === 'asn' ? `AS${64512 + i}` : d === 'country' ? `C${i}` : d === 'proto' ? `proto-${i}` : `10.0.${(i >> 8) & 255}.${i & 255}`;
      const bytes = 1_000_000 - i * 7 + seed;
      return { key, label: d === 'ip' ? `name-${i}.example.net` : undefined, bytesUp: bytes >> 2, bytesDown: bytes, packetsUp: bytes >> 12, packetsDown: bytes >> 10,
        sessions: 1 + (i % 5), newSessions: i % 3 };
    });
  }
  return out;
}

/** One period = one 10 s interval. */
function period(k: number, keys: number) {
  return intervalStats(t0 + k * 10_000, t0 + (k + 1) * 10_000, IFACES.flatMap((iface) => [
    { iface, direction: 'up' as const, scope: 'internet' as const, bytes: 1e6 + k, packets: 1000 + k },
    { iface, direction: 'down' as const, scope: 'internet' as const, bytes: 4e6 + k, packets: 3000 + k },
  ]), talkers(keys, k));
}

const ms = (us: number) => (us / 1000).toFixed(1);

printHeader('InfluxDB writer: throughput to a local victoria-metrics, CPU per 10k points, memory at the buffer cap');

// 1 + 2: throughput and CPU. The points are made while the server is stopped (so making
// and sending do not overlap), then the server starts and the backlog is timed until written.
const rows: string[][] = [];
const inputs = Array.from({ length: periods }, (_, k) => period(k, budget));
for (const gzip of [true, false]) {
  for (const batchSize of batches) {
    const server = await VictoriaMetrics.start();
    try {
      const config = validateInfluxConfig({
        url: server.url, bucket: 'bench', interval: '10s', batchSize, gzip, seriesBudget: budget, retryMin: '10ms', retryMax: '20ms',
        maxBufferPoints: Math.max(periods * (7 * (budget + 1) + 20), batchSize), maxBufferBytes: '4GiB',
      }, 'influx');
      // warm-up (JIT, sockets), not measured
      const warm = new InfluxSink(config, { host: 'warm-up' });
      for (const stats of inputs.slice(0, 3)) warm.write(stats, status);
      await warm.close(30_000);

      await server.stop();
      const sink = new InfluxSink(config, { host: 'bench' });
      const cpu0 = process.cpuUsage();
      const start = process.hrtime.bigint();
      for (const stats of inputs) sink.write(stats, status);
      const queued = process.hrtime.bigint();
      const made = process.cpuUsage(cpu0);
      const points = sink.stats().bufferedPoints;

      await server.resume();
      const serverTicks0 = procCpuTicks(server.pid!);
      const cpu1 = process.cpuUsage();
      const t1 = process.hrtime.bigint();
      while (sink.stats().pointsWritten + sink.stats().pointsDropped < points) await new Promise((r) => setTimeout(r, 2));
      const t2 = process.hrtime.bigint();
      const sent = process.cpuUsage(cpu1);
      const serverMs = ((procCpuTicks(server.pid!) - serverTicks0) * 1000) / CLK_TCK;
      await sink.close(10_000);
      const s = sink.stats();
      const seconds = Number(t2 - t1) / 1e9;
      const per10k = (us: number) => ms((us * 10_000) / points);
      rows.push([
        gzip ? 'on' : 'off', String(batchSize), String(points), String(s.pointsDropped), (s.bytesWritten / points).toFixed(0),
        ms(Number(queued - start) / 1000), seconds.toFixed(2), Math.round(points / seconds).toLocaleString('en'),
        per10k(made.user + made.system), per10k(sent.user + sent.system), ((serverMs * 10_000) / points).toFixed(1),
      ]);
    } finally {
      await server.destroy();
    }
  }
}
process.stdout.write(`\n${periods} periods × (7 dimensions × (${budget} keys + other) + traffic, folded, sessions, health), made while the server is down, then sent as a backlog\n`);
process.stdout.write(`${table(['gzip', 'batch', 'points', 'dropped', 'B/point', 'make ms', 'send s', 'points/s', 'make ms/10k', 'send ms/10k', 'server ms/10k'], rows, [0])}\n`);
process.stdout.write('make: write() → period sums, top-N, line protocol (event loop); send: batches, gzip, HTTP (this process, all threads); server: victoria-metrics CPU\n');

// 3: memory at the buffer cap, the server unreachable
const port = await freePort(); // nobody listens there: every write is refused
const config = validateInfluxConfig({ url: `http://127.0.0.1:${port}`, bucket: 'bench', interval: '10s', seriesBudget: 20, maxBufferPoints: cap, retryMin: '1s' }, 'influx');
const sink = new InfluxSink(config, { host: 'bench' });
gc();
const heap0 = process.memoryUsage();
let k = 0;
const sample = period(0, 200);
const next = () => { sink.write({ ...sample, start: t0 + k * 10_000, end: t0 + (k + 1) * 10_000 }, status); k++; };
while (sink.stats().pointsDropped === 0) next();
for (let extra = 0; extra < 50; extra++) next();
gc();
const heap1 = process.memoryUsage();
const s = sink.stats();
const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
process.stdout.write(`\nmemory at the buffer cap (server unreachable; ${k} periods of 200 keys per dimension, budget 20 → ${Math.round((s.pointsWritten + s.bufferedPoints + s.pointsDropped) / k)} points each)\n`);
process.stdout.write(`${table(['maxBufferPoints', 'buffered points', 'buffered MiB (line bytes)', 'dropped points', 'heap growth MiB', 'RSS MiB (at cap)', 'retries'], [[
  String(cap), String(s.bufferedPoints), mib(s.bufferedBytes), String(s.pointsDropped),
  mib(heap1.heapUsed - heap0.heapUsed), mib(heap1.rss), String(s.retries),
]], [])}\n`);
await sink.close(0);
