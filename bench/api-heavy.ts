/**
 * /api/health while heavy history queries hammer the JSON API: a real store and
 * ApiServer in this process; the load and the health probe in a child process
 * (so they do not share the server's event loop). 16 clients each ask in a loop
 * for a long range by hour (9000 buckets, distinct starts so the answer cache
 * does not help) and for the range the issue found (36000 months, which this
 * flowlens refuses with a 400); a probe asks for /api/health every 20 ms. The
 * figures: health p50/p99/max alone (the reference) and under the load, and
 * their ratio; how many heavy answers the clients got.
 *
 *   node --import tsx bench/api-heavy.ts [--clients 16] [--duration 10]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FlowProcessor } from '../src/flows/processor.js';
import { AddressClassifier, defaultLocalNetworks } from '../src/net/classify.js';
import { defaultSessionConfig } from '../src/flows/sessions.js';
import { Store } from '../src/store/index.js';
import { ApiServer } from '../src/api/index.js';
import type { MonitorStatus } from '../src/monitor.js';
import { collectorStatus } from '../test/helpers/interval-stats.js';
import { printHeader, table } from './lib.js';

const { values: opts } = parseArgs({ options: { clients: { type: 'string', default: '16' }, duration: { type: 'string', default: '10' }, help: { type: 'boolean' } } });
if (opts.help) {
  console.log('node --import tsx bench/api-heavy.ts [--clients N] [--duration SECONDS]');
  process.exit(0);
}
const CLIENTS = Number(opts.clients);
const DURATION = Number(opts.duration);

/** The child: `clients` heavy loops (when > 0) and a health probe, for `seconds`; prints one JSON line. */
const LOAD = String.raw`
const http = require('node:http');
const [port, clients, seconds] = process.argv.slice(1).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: clients + 4 });
const get = (path) => new Promise((resolve) => {
  const t0 = performance.now();
  http.get({ host: '127.0.0.1', port, path, agent }, (res) => { res.resume(); res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 })); })
    .on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
});
const until = Date.now() + seconds * 1000;
const heavy = { ok: 0, refused: 0, other: 0 };
async function client(i) {
  for (let n = 0; Date.now() < until; n++) {
    const start = Date.UTC(2020, 0, 1) + ((i * 1000 + n) % 5000) * 3600000;
    const path = n % 2 ? '/api/query?start=8700000000000&end=103400000000000&granularity=month' // 36000 months
      : '/api/query?start=' + start + '&end=' + (start + 9000 * 3600000) + '&granularity=hour';
    const r = await get(path);
    if (r.status === 200) heavy.ok++; else if (r.status === 400) heavy.refused++; else heavy.other++;
  }
}
async function probe(out) {
  while (Date.now() < until) {
    const r = await get('/api/health');
    out.push(r.ms);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
(async () => {
  const health = [];
  await Promise.all([probe(health), ...Array.from({ length: clients }, (_, i) => client(i))]);
  console.log(JSON.stringify({ health, heavy }));
  agent.destroy();
})();
`;

function runLoad(port: number, clients: number, seconds: number): Promise<{ health: number[]; heavy: { ok: number; refused: number; other: number } }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', LOAD, String(port), String(clients), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d; });
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load exited ${code}`))));
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

async function main(): Promise<void> {
  printHeader(`/api/health under ${CLIENTS} clients asking for heavy history ranges, ${DURATION} s`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-heavy-'));
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, ['10.9.0.2']);
  const processor = new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0 });
  const startedAt = Date.now();
  const status = (): MonitorStatus => ({ host: 'bench', startedAt, collector: collectorStatus(['eth0']), flows: processor.status(), consumerErrors: {}, lateDeliveries: 0, coarsenedIntervals: 0, sinks: {} });
  // a long interval allowance: health answers "ok" with no interval fed
  const api = await ApiServer.start({ enabled: true, listen: '127.0.0.1', httpPort: 0, grpcPort: 0, rateLimit: 1e9, bodyLimit: 65536, metricsRemoteSeries: 50 },
    { processor, status, store, intervalMs: 3_600_000, host: 'bench' });
  try {
    const idle = await runLoad(api.httpPort, 0, Math.min(DURATION, 5));
    const loaded = await runLoad(api.httpPort, CLIENTS, DURATION);
    const row = (name: string, h: number[]) => [name, String(h.length), pct(h, 50).toFixed(1), pct(h, 99).toFixed(1), Math.max(...h).toFixed(1)];
    console.log(table(['/api/health', 'probes', 'p50 ms', 'p99 ms', 'max ms'], [row('alone', idle.health), row(`${CLIENTS} heavy clients`, loaded.health)]));
    console.log(`p99 ratio (loaded / alone): ${(pct(loaded.health, 99) / pct(idle.health, 99)).toFixed(1)}x`);
    console.log(`heavy answers: ${loaded.heavy.ok} x 200 (9000 hours), ${loaded.heavy.refused} x 400 (36000 months: over the bucket limit), ${loaded.heavy.other} other`);
  } finally {
    await api.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
