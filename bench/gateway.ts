/**
 * A gateway's load, replayed: N distinct UDP flows (one frame each in a pcap)
 * sent continuously with tcpreplay from a network namespace into a veth end in
 * the root namespace, where `flowlens run` counts them (XDP ingress, 1 s
 * interval, history on, APIs on). Over a steady window it reports flowlens's
 * own CPU (% of one core, /proc/<pid>/stat), RSS (VmRSS), the interval period
 * (distinct lastIntervalEnd values of /api/status), the event-loop lag
 * (prom-client's nodejs_eventloop_lag_max_seconds from /metrics, scraped every
 * 5 s), V8's heap used and total at the end of the window (what of the RSS is
 * JS objects), late interval ticks (flowlens_late_intervals_total), intervals
 * still in steps at the next drain and intervals coarsened (flowlens_late_deliveries_total,
 * flowlens_coarsened_intervals_total), the p99 latency of
 * GET /api/status and GET /api/sessions?limit=100 (both sent every 100 ms, not
 * waiting for the previous answer, so a blocked event loop shows as latency),
 * and whether the counts are exact: after the replay stops, flowlens's
 * interface total (flowlens_traffic_packets_total) against the veth's own
 * rx_packets counter. Medians of --reps runs; each run starts a fresh flowlens.
 *
 *   node --import tsx bench/gateway.ts [--flows 10000,100000] [--with-500k] [--reps 3]
 *       [--warmup 10] [--seconds 30] [--pps-per-flow 1.5] [--profile DIR] [--heap-snapshot DIR] [--child-stdout FILE] [--long-tasks FILE] [--node-flags=--max-semi-space-size=64]
 *
 * Needs root and tcpreplay. Cleans up its namespace, links and processes on
 * exit and on Ctrl-C. Prints figures; asserts nothing. --child-stdout keeps
 * flowlens's standard output (with --node-flags=--trace-gc: its collections);
 * --long-tasks writes each timer or immediate callback of flowlens's that held
 * its event loop over 20 ms (bench/long-tasks.cjs), the makings of the p99.
 * Each run writes both files anew: with --reps above 1 they hold the last run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { PcapWriter } from '../test/helpers/pcap.js';
import { ipFrame } from '../test/helpers/packets.js';
import { mapSizeFor } from '../src/collector/table-fit.js';
import { CLK_TCK, median, metricSum, printHeader, procCpuTicks, repoRoot, stopChild, table } from './lib.js';

const { values } = parseArgs({
  options: {
    flows: { type: 'string', default: '10000,100000' },
    'with-500k': { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '30' },
    'pps-per-flow': { type: 'string', default: '1.5' },
    // a CPU profile of each flowlens run (node --cpu-prof), written when it stops
    profile: { type: 'string' },
    // a heap snapshot of each flowlens run at the end of its window (after the figures are taken)
    'heap-snapshot': { type: 'string' },
    'child-stdout': { type: 'string' },
    'long-tasks': { type: 'string' },
    // V8 flags for the flowlens process, space-separated: by default bin/flowlens's (and the
    // systemd unit's); --node-flags= runs it with none
    'node-flags': { type: 'string', default: '--max-semi-space-size=64' },
  },
});
const flowCounts = values.flows!.split(',').map(Number);
if (values['with-500k'] && !flowCounts.includes(500_000)) flowCounts.push(500_000);
const reps = Number(values.reps);
const warmupS = Number(values.warmup);
const windowS = Number(values.seconds);
const ppsPerFlow = Number(values['pps-per-flow']);

const CLI = path.join(repoRoot, 'dist/src/cli.js');
const NS = `flbench-gw-${process.pid}`;
const MON = `flgw${process.pid}a`; // the end flowlens counts on (root namespace)
const PEER = `flgw${process.pid}b`; // the end tcpreplay sends from (in NS)
const SRC_MAC = '02:be:c0:00:00:01';
const DST_MAC = '02:be:c0:00:00:02'; // nobody's: the frames are dropped after the hooks

// ---- the lab, and its cleanup on every way out ----

const children = new Set<ChildProcess>();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-gateway-'));

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.pid) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }
  children.clear();
  try { sh('ip', ['link', 'del', MON]); } catch { /* gone with the namespace */ }
  try { sh('ip', ['netns', 'del', NS]); } catch { /* not made */ }
  rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { cleanup(); process.exit(130); });

function makeLab(): void {
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['link', 'add', MON, 'type', 'veth', 'peer', 'name', PEER, 'netns', NS]);
  // nothing but the replay on the link: no IPv6 (no MLD, RS, NDP), no addresses (no ARP)
  sh('sysctl', ['-qw', `net.ipv6.conf.${MON}.disable_ipv6=1`]);
  sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', `net.ipv6.conf.${PEER}.disable_ipv6=1`]);
  sh('ip', ['link', 'set', MON, 'up']);
  sh('ip', ['-n', NS, 'link', 'set', PEER, 'up']);
}

function rxPackets(): number {
  return Number(readFileSync(`/sys/class/net/${MON}/statistics/rx_packets`, 'utf8'));
}

function peerTxDropped(): number {
  return Number(sh('ip', ['netns', 'exec', NS, 'cat', `/sys/class/net/${PEER}/statistics/tx_dropped`]));
}

/** N distinct UDP flows, one 72-byte L3 packet each. */
function writePcap(n: number): string {
  const file = path.join(tmp, `flows-${n}.pcap`);
  const w = new PcapWriter();
  const payload = Buffer.alloc(44);
  for (let i = 0; i < n; i++) {
    const f = ipFrame(DST_MAC, SRC_MAC, {
      src: `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, dst: '10.250.0.1',
      l4: { proto: 'udp', srcPort: 10000 + (i % 50000), dstPort: 53, payload },
    });
    w.add(f.frame, 10);
  }
  w.write(file);
  return file;
}

function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

// ---- reading flowlens from outside ----

function vmRssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

interface RunFigures {
  cpuPct: number;
  rssMb: number;
  /** V8's heap at the end of the window (prom-client's nodejs_heap_size_*_bytes): what of the RSS is JS objects, and what V8 holds for them. */
  heapUsedMb: number;
  heapTotalMb: number;
  periodMeanS: number;
  periodP95S: number;
  periods: number;
  lagMaxS: number;
  lateTicks: number | undefined;
  /** Intervals still in steps at the next drain (finished at once), and intervals delivered coarsened, over the window. */
  lateDeliveries: number | undefined;
  coarsened: number | undefined;
  statusP99Ms: number;
  sessionsP99Ms: number;
  unanswered: number;
  flowlensPackets: number;
  vethPackets: number;
  overflowPackets: number;
}

/** Asks flowlens for a heap snapshot (SIGUSR2) and waits until the file is written whole. */
async function heapSnapshot(pid: number, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  let size = -1;
  for (let i = 0; i < 600; i++) {
    await sleep(500);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const now = statSync(path.join(dir, file)).size;
    // V8 writes the snapshot in one go on the main thread: the size stops changing when it is done
    if (now > 0 && now === size) { console.log(`bench: heap snapshot ${path.join(dir, file)}`); return; }
    size = now;
  }
  console.log('bench: no heap snapshot within 300 s');
}

async function oneRun(n: number, pcap: string): Promise<RunFigures> {
  const dataDir = mkdtempSync(path.join(tmp, 'data-'));
  const args = [CLI, 'run', '--iface', MON, '--format', 'none', '--interval', '1s', '--map-size', String(mapSizeFor(n)),
    '--max-sessions', '2000000', '--data-dir', dataDir, '--http-port', '0', '--grpc-port', '0'];
  const nodeFlags = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : [];
  nodeFlags.push(...values['node-flags']!.split(' ').filter(Boolean));
  const heapDir = values['heap-snapshot'] ? path.resolve(values['heap-snapshot']) : undefined;
  if (heapDir) nodeFlags.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`);
  const longTasks = values['long-tasks'] ? path.resolve(values['long-tasks']) : undefined;
  if (longTasks) nodeFlags.push('--require', path.join(import.meta.dirname, 'long-tasks.cjs'));
  const flowlens = track(spawn(process.execPath, [...nodeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '', ...(longTasks ? { FLOWLENS_LONG_TASKS: longTasks } : {}) } }));
  let stderr = '';
  const api = await new Promise<string>((resolve, reject) => {
    flowlens.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      // "flowlens: dashboard on http://127.0.0.1:PORT/ (JSON API and /metrics on the same port), gRPC on ..."
      const m = /dashboard on (https?:\/\/\S+?)\/? \(JSON API and \/metrics/.exec(stderr);
      if (m) resolve(m[1]);
    });
    if (values['child-stdout']) flowlens.stdout!.pipe(createWriteStream(values['child-stdout']));
    else flowlens.stdout!.resume();
    flowlens.once('exit', (code) => reject(new Error(`flowlens ended (${code}) before listening:\n${stderr}`)));
  });
  const get = async (p: string) => { const r = await fetch(`${api}${p}`); if (!r.ok) throw new Error(`${p}: HTTP ${r.status}`); return r.text(); };
  const status = async () => JSON.parse(await get('/api/status')) as { lastIntervalEnd: string | number; intervals: string | number };
  // attached once the API answers; the link's counters start from here
  const rx0 = rxPackets();
  const dropped0 = peerTxDropped();
  const pps = Math.round(n * ppsPerFlow);
  const replay = track(spawn('ip', ['netns', 'exec', NS, 'tcpreplay', '-K', `--pps=${pps}`, '--loop=0', '-q', '-i', PEER, pcap],
    { stdio: ['ignore', 'ignore', 'pipe'] }));
  let replayErr = '';
  replay.stderr!.setEncoding('utf8').on('data', (d: string) => { replayErr += d; });
  await sleep(warmupS * 1000);
  if (replay.exitCode !== null) throw new Error(`tcpreplay ended early: ${replayErr}`);

  // the steady window
  const metrics0 = await get('/metrics');
  const cpu0 = procCpuTicks(flowlens.pid!);
  const t0 = performance.now();
  const latency = { status: [] as number[], sessions: [] as number[] };
  const ends = new Set<number>();
  let lagMax = 0, unanswered = 0, inFlight = 0;
  const probe = (which: 'status' | 'sessions') => {
    if (inFlight > 50) { unanswered++; return; }
    inFlight++;
    const s = performance.now();
    get(which === 'status' ? '/api/status' : '/api/sessions?limit=100')
      .then((body) => {
        latency[which].push(performance.now() - s);
        if (which === 'status') ends.add(Number(JSON.parse(body).lastIntervalEnd));
      }, () => { unanswered++; })
      .finally(() => { inFlight--; });
  };
  const probes = setInterval(() => { probe('status'); probe('sessions'); }, 100);
  const scrape = async () => {
    const m = await get('/metrics').catch(() => '');
    lagMax = Math.max(lagMax, metricSum(m, 'nodejs_eventloop_lag_max_seconds') ?? 0);
    return m;
  };
  const scrapes = setInterval(() => { void scrape(); }, 5000);
  let rss = 0;
  const rssTimer = setInterval(() => { rss = Math.max(rss, vmRssMb(flowlens.pid!)); }, 1000);
  await sleep(windowS * 1000);
  const cpu1 = procCpuTicks(flowlens.pid!);
  const elapsedS = (performance.now() - t0) / 1000;
  clearInterval(probes);
  clearInterval(scrapes);
  clearInterval(rssTimer);
  rss = Math.max(rss, vmRssMb(flowlens.pid!));
  const metrics1 = await scrape();
  const late0 = metricSum(metrics0, 'flowlens_late_intervals_total');
  const late1 = metricSum(metrics1, 'flowlens_late_intervals_total');
  const over = (name: string) => {
    const a = metricSum(metrics0, name), b = metricSum(metrics1, name);
    return a !== undefined && b !== undefined ? b - a : undefined;
  };
  if (heapDir) await heapSnapshot(flowlens.pid!, heapDir);

  // stop the replay, let flowlens drain what it saw, then compare with the link
  await stopChild(replay, 'SIGKILL', 1000);
  const vethPackets = rxPackets() - rx0;
  const traffic = async () => metricSum(await get('/metrics'), 'flowlens_traffic_packets_total', `iface="${MON}"`) ?? 0;
  let flowlensPackets = await traffic();
  for (let i = 0; i < 60 && flowlensPackets < vethPackets; i++) {
    await sleep(500);
    flowlensPackets = await traffic();
  }
  const overflowPackets = metricSum(await get('/metrics'), 'flowlens_overflow_packets_total') ?? 0;
  const droppedByVeth = peerTxDropped() - dropped0;
  if (droppedByVeth) process.stderr.write(`bench: the veth dropped ${droppedByVeth} frames before flowlens's hook (not counted there, correctly)\n`);
  await stopChild(flowlens, 'SIGTERM', 30_000);
  rmSync(dataDir, { recursive: true, force: true });

  const sorted = [...ends].filter((e) => e > 0).sort((a, b) => a - b);
  const periods = sorted.slice(1).map((e, i) => (e - sorted[i]) / 1000);
  return {
    cpuPct: ((cpu1 - cpu0) / CLK_TCK / elapsedS) * 100,
    rssMb: rss,
    heapUsedMb: (metricSum(metrics1, 'nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20,
    heapTotalMb: (metricSum(metrics1, 'nodejs_heap_size_total_bytes') ?? NaN) / 2 ** 20,
    periodMeanS: periods.length ? periods.reduce((a, b) => a + b, 0) / periods.length : NaN,
    periodP95S: quantile(periods, 0.95),
    periods: periods.length,
    lagMaxS: lagMax,
    lateTicks: late0 !== undefined && late1 !== undefined ? late1 - late0 : undefined,
    lateDeliveries: over('flowlens_late_deliveries_total'),
    coarsened: over('flowlens_coarsened_intervals_total'),
    statusP99Ms: quantile(latency.status, 0.99),
    sessionsP99Ms: quantile(latency.sessions, 0.99),
    unanswered,
    flowlensPackets,
    vethPackets,
    overflowPackets,
  };
}

// ---- main ----

if (process.getuid?.() !== 0) {
  process.stderr.write('bench/gateway.ts: needs root (BPF, network namespaces)\n');
  process.exit(1);
}
printHeader('gateway replay: N active UDP flows at a 1 s interval, flowlens run (XDP, history, APIs)');
process.stdout.write(`# flowlens: node ${values['node-flags'] ? `${values['node-flags']} ` : ''}dist/src/cli.js run --iface <veth> --format none --interval 1s --map-size <2^k above N> ` +
  `--max-sessions 2000000 --data-dir <tmp> --http-port 0 --grpc-port 0\n` +
  `# replay: tcpreplay -K --pps=<N x ${ppsPerFlow}> --loop=0 (one frame per flow, 72 B L3); warmup ${warmupS} s, window ${windowS} s, ${reps} runs\n`);
makeLab();
const rows: string[][] = [];
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
for (const n of flowCounts) {
  const pcap = writePcap(n);
  const runs: RunFigures[] = [];
  for (let r = 0; r < reps; r++) {
    const f = await oneRun(n, pcap);
    runs.push(f);
    process.stderr.write(`bench: ${n} flows, run ${r + 1}: ${JSON.stringify(f)}\n`);
  }
  const med = (k: keyof RunFigures) => median(runs.map((x) => Number(x[k])));
  const exact = runs.map((x) => x.flowlensPackets === x.vethPackets);
  rows.push([
    n.toLocaleString('en'), fmt(med('cpuPct')), fmt(med('rssMb'), 0), `${fmt(med('heapUsedMb'), 0)} / ${fmt(med('heapTotalMb'), 0)}`, `${fmt(med('periodMeanS'), 2)} / ${fmt(med('periodP95S'), 2)}`,
    fmt(med('periods'), 0), fmt(Math.max(...runs.map((x) => x.lagMaxS)), 2),
    runs.every((x) => x.lateTicks === undefined) ? '-' : fmt(med('lateTicks'), 0),
    runs.every((x) => x.lateDeliveries === undefined) ? '-' : `${fmt(med('lateDeliveries'), 0)} / ${fmt(med('coarsened'), 0)}`,
    fmt(med('statusP99Ms')), fmt(med('sessionsP99Ms')), fmt(med('unanswered'), 0), fmt(med('overflowPackets'), 0),
    exact.every(Boolean) ? `exact (${runs.length}/${runs.length})` : `NOT exact: ${runs.map((x) => `${x.flowlensPackets}/${x.vethPackets}`).join(', ')}`,
  ]);
}
process.stdout.write(`${table(['active flows', 'CPU % of a core', 'RSS MB (max)', 'JS heap used / total MB', 'period mean / p95 s', 'periods seen', 'max loop lag s',
  'late ticks', 'late deliveries / coarsened', 'status p99 ms', 'sessions p99 ms', 'unanswered', 'overflow pkts', 'counts (flowlens / veth rx)'], rows)}\n`);
process.stdout.write(`(medians of ${reps} runs, max loop lag is the max over runs; over the ${windowS} s window after ${warmupS} s of warmup;` +
  ` API probes every 100 ms each, at most 50 in flight ("unanswered": skipped or failed); counts compared after the replay stopped)\n`);
