/**
 * The APIs under load with 100k live sessions (the real flows stage fed one
 * interval of 200k flows, a real history store): JSON summary and a filtered
 * sessions page (100 rows) under autocannon (a child process, so the load
 * generator does not share the server's event loop), and gRPC TopTalkers and
 * Sessions latency from a small grpc-js client calling in a loop (in this
 * process: the figures include the client's own work). Also the live query
 * alone (no transport). Targets: summary p99 < 10 ms, sessions page p99 < 30 ms.
 *
 *   node --import tsx bench/api.ts [--sessions 100000] [--duration 10] [--connections 10] [--calls 2000]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { FlowProcessor, type Enrichment } from '../src/flows/processor.js';
import { AddressClassifier, defaultLocalNetworks } from '../src/net/classify.js';
import { defaultSessionConfig } from '../src/flows/sessions.js';
import { Store } from '../src/store/index.js';
import { ApiServer } from '../src/api/index.js';
import type { MonitorStatus } from '../src/monitor.js';
import { SessionsRequest, TopTalkersRequest, TrafficClient } from '../src/api/grpc/gen/flowlens/v1/flowlens.js';
import { flowBatch, totalsFor, type FlowSpec } from '../test/helpers/flow-batch.js';
import { collectorStatus } from '../test/helpers/interval-stats.js';
import { commandLine, gitDescription, machineLine, printHeader, repoRoot, table } from './lib.js';

const { values: opts } = parseArgs({
  options: { sessions: { type: 'string', default: '100000' }, duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '10' }, calls: { type: 'string', default: '2000' }, help: { type: 'boolean' } },
});
if (opts.help) {
  console.log('node --import tsx bench/api.ts [--sessions N] [--duration SECONDS] [--connections N] [--calls N]');
  process.exit(0);
}
const SESSIONS = Number(opts.sessions);
const DURATION = Number(opts.duration);
const CONNECTIONS = Number(opts.connections);
const CALLS = Number(opts.calls);
const HOST = '10.9.0.2';

/** Public remotes get a country and ASN, every 7th a name: the filters have something to match. */
const enrichment: Enrichment = {
  place: (remote) => {
    const n = Number(remote.split('.').at(-1));
    return { country: ['DE', 'FR', 'US', 'NL'][n % 4], asn: 64500 + (n % 50) };
  },
  domain: (_l, _lp, remote) => (Number(remote.split('.').at(-1)) % 7 === 0 ? 'cdn.example.com' : undefined),
};

function flows(n: number, at: number): FlowSpec[] {
  const specs: FlowSpec[] = [];
  for (let i = 0; i < n; i++) {
    // 2/3 internet (100.72+ is public), 1/3 lan; ports 443, 80, 53
    const lan = i % 3 === 2;
    const remote = lan ? `10.${20 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}` : `${100 + ((i >> 16) % 20) + 80}.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`;
    const port = [443, 80, 53][i % 3]!;
    const protocol = port === 53 ? 17 : 6;
    const lp = 1024 + (i % 60000);
    specs.push({ direction: 'egress', protocol, src: HOST, dst: remote, srcPort: lp, dstPort: port, packets: 1 + (i % 5), bytes: 100 + (i % 1000), tcpFlags: 0x12, firstSeen: at + (i % 900) });
    specs.push({ direction: 'ingress', protocol, src: remote, dst: HOST, srcPort: port, dstPort: lp, packets: 2 + (i % 9), bytes: 500 + ((i * 13) % 100_000), tcpFlags: 0x12, firstSeen: at + (i % 900) + 1 });
  }
  return specs;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function autocannon(url: string, connections: number): Promise<{ rps: number; p50: number; p99: number; errors: number; non2xx: number }> {
  const bin = path.join(repoRoot, 'node_modules/.bin/autocannon');
  const child = spawn(bin, ['-j', '-c', String(connections), '-d', String(DURATION), url], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  await new Promise((resolve) => child.on('close', resolve));
  const r = JSON.parse(out);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors, non2xx: r.non2xx };
}

function call<Res>(fn: (cb: (e: grpc.ServiceError | null, v: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v))));
}

async function main(): Promise<void> {
  printHeader(`APIs with ${SESSIONS} live sessions`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-api-'));
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, [HOST]);
  const processor = new FlowProcessor({ sessions: { ...defaultSessionConfig(), maxSessions: SESSIONS * 2 }, filters: { ignore: [], keep: [] } }, classifier, enrichment);
  const store = Store.open({ dataDir, flushIntervalMs: 0 });
  const startedAt = Date.now();
  const collector = collectorStatus(['eth0'], { intervals: 1, lastDrainMs: 5 });
  const status = (): MonitorStatus => ({ host: 'bench', startedAt, collector, flows: processor.status(), consumerErrors: {}, lateDeliveries: 0, coarsenedIntervals: 0, sinks: {} });
  const api = await ApiServer.start({ enabled: true, listen: '127.0.0.1', httpPort: 0, grpcPort: 0, rateLimit: 100_000_000, bodyLimit: 65536, metricsRemoteSeries: 50 }, { processor, status, store, intervalMs: 1000, host: 'bench' });
  const end = Date.now();
  const t0 = performance.now();
  const stats = processor.process({ start: end - 1000, end, flows: flowBatch(flows(SESSIONS, end - 950), end - 500), totals: totalsFor([]) });
  const processMs = performance.now() - t0;
  store.add(stats);
  store.flush();
  api.add(stats, collector);
  console.log(`${processor.live.size} live sessions (one interval of ${2 * SESSIONS} flows processed in ${processMs.toFixed(0)} ms)\n`);

  // the live query alone; its first call after an interval builds the columns it scans
  const built = performance.now();
  api.live.sessions({ limit: 1 });
  const snapshotMs = performance.now() - built;
  const filter = { scope: 'internet' as const, port: 443 };
  const direct: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    api.live.sessions({ filter, sort: 'bytes', limit: 100 });
    direct.push(performance.now() - s);
  }
  const directAll: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    api.live.sessions({ sort: 'rate', limit: 100 });
    directAll.push(performance.now() - s);
  }
  console.log(table(['live query (no transport), 200 calls', 'p50 ms', 'p99 ms'], [
    ['sessions page, 100 rows, scope=internet port=443', direct.length ? pct(direct, 50).toFixed(2) : '-', pct(direct, 99).toFixed(2)],
    ['sessions page, 100 rows, all, by rate', pct(directAll, 50).toFixed(2), pct(directAll, 99).toFixed(2)],
  ]));
  console.log(`(the first query after each interval also builds the session columns: ${snapshotMs.toFixed(1)} ms for ${processor.live.size} sessions)\n`);

  const base = api.httpUrl;
  const rows: string[][] = [];
  for (const [name, url] of [['GET /api/summary', `${base}/api/summary`], ['GET /api/sessions?limit=100&scope=internet&port=443', `${base}/api/sessions?limit=100&scope=internet&port=443`], ['GET /api/top_ips?window=30', `${base}/api/top_ips?window=30`]] as const) {
    // one connection: the latency of a request alone; several: throughput (p99 then includes queueing)
    for (const c of [1, CONNECTIONS]) {
      const r = await autocannon(url, c);
      rows.push([name, String(c), r.rps.toFixed(0), String(r.p50), String(r.p99), String(r.errors + r.non2xx)]);
    }
  }
  console.log(table([`JSON API, autocannon -d ${DURATION}`, 'conns', 'req/s', 'p50 ms', 'p99 ms', 'errors'], rows));
  console.log();

  const client = new TrafficClient(`127.0.0.1:${api.grpcPort}`, grpc.credentials.createInsecure());
  const grpcRows: string[][] = [];
  const topReq = TopTalkersRequest.fromPartial({ dimension: 'ip', windowSeconds: 30, limit: 10 });
  const topHistReq = TopTalkersRequest.fromPartial({ dimension: 'ip', from: 'today', to: 'today', limit: 10 });
  const sessReq = SessionsRequest.fromPartial({ filter: { scope: 'internet', port: 443 }, sort: 'bytes', limit: 100 });
  for (const [name, fn] of [
    ['TopTalkers ip, live 30 s, limit 10', () => call((cb) => client.topTalkers(topReq, cb))],
    ['TopTalkers ip, history today, limit 10', () => call((cb) => client.topTalkers(topHistReq, cb))],
    ['Sessions live, 100 rows, scope=internet port=443', () => call((cb) => client.sessions(sessReq, cb))],
  ] as const) {
    for (let i = 0; i < 20; i++) await fn(); // warm up
    const lat: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const s = performance.now();
      await fn();
      lat.push(performance.now() - s);
    }
    grpcRows.push([name, pct(lat, 50).toFixed(2), pct(lat, 99).toFixed(2)]);
  }
  client.close();
  console.log(table([`gRPC, one client, ${CALLS} calls in a loop`, 'p50 ms', 'p99 ms'], grpcRows));
  console.log(`\n${machineLine()}\ncommit ${gitDescription()}\n$ ${commandLine()}`);
  await api.close();
  store.close();
  rmSync(dataDir, { recursive: true, force: true });
}

await main();
