/**
 * flowlens beside its peers, on the same replayed traffic: pmacct (pmacctd: libpcap, memory
 * plugin aggregating by src/dst host, src/dst port and protocol) and softflowd (libpcap,
 * NetFlow v9 to a UDP socket of this bench on loopback), each alone on the receiving veth end
 * in turn, and `flowlens run` as a user starts it (--format none --interval 1s, history and
 * APIs on, --map-size fitting the flows). A workload is N distinct UDP flows (one 72-byte L3
 * frame each in a pcap) replayed with tcpreplay at --pps for --seconds from a network
 * namespace into a veth end in the root namespace, where the tool counts.
 *
 * Per run: the tool's own CPU (utime + stime of its process and its child processes, every
 * thread, /proc/<pid>/stat) from the replay's start until --settle seconds after its end (for
 * flowlens, and until its count is complete), divided by the packets the veth delivered
 * (rx_packets): µs per packet. For flowlens also the kernel's run time of its BPF programs on
 * that link (kernel.bpf_stats_enabled=1 while the bench runs, restored after; bpftool prog
 * show), which runs in softirq and so is not in its own CPU; the pcap tools' kernel side
 * (AF_PACKET copying every frame into their ring) is not measured. What each tool saw is
 * printed beside it, so that a tool that missed packets is not a win: flowlens's packet
 * total (/metrics), pmacct's memory table summed (pmacct -N udp -S), softflowd's "Packets processed"
 * (softflowctl statistics). The pcap tools may miss the last partly filled ring block (it is
 * handed over when the next traffic fills it): a shortfall of a few hundred packets.
 *
 * Both pcap tools are sized for the flows as flowlens is (softflowd -m, pmacct imt_buckets and
 * memory pools for 1 KB per entry) and pmacct gets the core-to-plugin buffers its documentation
 * prescribes for heavy traffic: with its defaults it drops most records ("Missing data
 * detected").
 *
 *   node --import tsx bench/peers.ts [--workloads many,few] [--reps 3] [--pps 100000]
 *       [--seconds 10] [--settle 2] [--tools flowlens,pmacct,softflowd]
 *   workloads: many = 50,000 flows, few = 100 flows, or a number of flows
 *
 * Needs root, tcpreplay, bpftool, and the peers: apt-get install -y pmacct softflowd tcpreplay
 * (scripts/install-deps.sh --test installs them). Medians of --reps runs; the tools take turns
 * within each repetition, in a rotating order. Cleans up its namespace, links and processes
 * on exit and on Ctrl-C. Prints figures; asserts nothing.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { createLab, waitFor, type Lab } from '../test/helpers/netns.js';
import { ipFrame } from '../test/helpers/packets.js';
import { PcapWriter } from '../test/helpers/pcap.js';
import { mapSizeFor } from '../src/collector/table-fit.js';
import { CLK_TCK, median, metricSum, printHeader, procCpuTicks, repoRoot, stopChild, table } from './lib.js';

const TOOLS = ['flowlens', 'pmacct', 'softflowd'] as const;
type ToolName = (typeof TOOLS)[number];
const NAMED_WORKLOADS: Record<string, number> = { many: 50_000, few: 100 };

const { values } = parseArgs({
  options: {
    workloads: { type: 'string', default: 'many,few' },
    reps: { type: 'string', default: '3' },
    pps: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '10' },
    settle: { type: 'string', default: '2' },
    tools: { type: 'string', default: TOOLS.join(',') },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]);
  process.exit(0);
}

function positive(name: string, text: string): number {
  const x = Number(text);
  if (!Number.isFinite(x) || x <= 0) {
    process.stderr.write(`bench/peers.ts: --${name} must be a positive number, not "${text}"\n`);
    process.exit(2);
  }
  return x;
}
const reps = Math.round(positive('reps', values.reps!));
const pps = Math.round(positive('pps', values.pps!));
const seconds = positive('seconds', values.seconds!);
const settleS = positive('settle', values.settle!);
const workloads = values.workloads!.split(',').map((w) => {
  const n = NAMED_WORKLOADS[w] ?? Number(w);
  if (!Number.isInteger(n) || n < 1 || n > 1 << 20) {
    process.stderr.write(`bench/peers.ts: --workloads takes many, few or a number of flows (1 to 1048576), not "${w}"\n`);
    process.exit(2);
  }
  return { name: w in NAMED_WORKLOADS ? w : `${n} flows`, flows: n };
});
const tools = values.tools!.split(',').map((t) => {
  if (!(TOOLS as readonly string[]).includes(t)) {
    process.stderr.write(`bench/peers.ts: --tools takes ${TOOLS.join(', ')}, not "${t}"\n`);
    process.exit(2);
  }
  return t as ToolName;
});

if (process.getuid?.() !== 0) {
  process.stderr.write('bench/peers.ts: needs root (BPF, network namespaces, packet capture)\n');
  process.exit(1);
}

/** Programs each tool needs, and the Debian package that has them. */
const NEEDS: Record<string, string> = { tcpreplay: 'tcpreplay', bpftool: 'bpftool' };
if (tools.includes('pmacct')) Object.assign(NEEDS, { pmacctd: 'pmacct', pmacct: 'pmacct' });
if (tools.includes('softflowd')) Object.assign(NEEDS, { softflowd: 'softflowd', softflowctl: 'softflowd' });
const onPath = (cmd: string) => (process.env.PATH ?? '/usr/sbin:/usr/bin').split(':').some((d) => existsSync(path.join(d, cmd)));
const missing = Object.keys(NEEDS).filter((cmd) => !onPath(cmd));
if (missing.length) {
  const pkgs = [...new Set(missing.map((c) => NEEDS[c]))];
  process.stderr.write(`bench/peers.ts: ${missing.join(', ')} not found: install them with apt-get install -y ${pkgs.join(' ')}` +
    ` (or scripts/install-deps.sh --test), or leave a peer out with --tools\n`);
  process.exit(1);
}

const CLI = path.join(repoRoot, 'dist/src/cli.js');
if (tools.includes('flowlens') && !existsSync(CLI)) {
  process.stderr.write(`bench/peers.ts: ${CLI} is missing: run npm run build\n`);
  process.exit(1);
}
const SRC_MAC = '02:be:c0:00:00:01';
const DST_MAC = '02:be:c0:00:00:02'; // nobody's: the stack drops the frames after the hooks and taps

// ---- the lab, and its cleanup on every way out ----

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-peers-'));
// createLab wants a tap Test only to register its teardown; a bench has none, and the lab
// also tears itself down (its processes by PID, its links and namespace) on process exit
const lab: Lab = createLab({ teardown: () => undefined } as unknown as Test, { tag: 'pe', layout: 'root' });
const MON = lab.a; // root namespace: where the tools count
const PEER = lab.b; // its own namespace: where tcpreplay sends from

/** Grandchildren (pmacct's plugin processes) are not the lab's: ended here, by PID, if still the same process. */
const grandchildren = new Map<number, string>();
const bpfStatsPath = '/proc/sys/kernel/bpf_stats_enabled';
const bpfStatsBefore = readFileSync(bpfStatsPath, 'utf8').trim();

function cleanup(): void {
  for (const [pid, start] of grandchildren) {
    if (startTime(pid) === start) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  grandchildren.clear();
  lab.teardownSync();
  try { writeFileSync(bpfStatsPath, bpfStatsBefore); } catch { /* not ours to fix */ }
  rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => process.exit(130));

function rxPackets(): number {
  return Number(readFileSync(`/sys/class/net/${MON.name}/statistics/rx_packets`, 'utf8'));
}

/** N distinct UDP flows, one 72-byte L3 packet each (as bench/gateway.ts). */
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

// ---- processes from outside: CPU of a process tree ----

/** Field 22 of /proc/<pid>/stat (start time since boot): tells a PID from its reuse. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** A process and its descendants (pmacctd forks one process per plugin). */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch { /* exited */ }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

function treeCpuTicks(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try { ticks += procCpuTicks(pid); } catch { /* exited */ }
  }
  return ticks;
}

// ---- the kernel side of flowlens: run time of its programs on the link ----

function bpfRunTotals(): { ns: number; runs: number } {
  let ns = 0, runs = 0;
  for (const p of lab.attached(MON)) {
    const info = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'id', String(p.id)], { encoding: 'utf8' }));
    ns += Number(info.run_time_ns ?? 0);
    runs += Number(info.run_cnt ?? 0);
  }
  return { ns, runs };
}

// ---- the tools: start, what they saw, stop ----

interface Running {
  pid: number;
  /** Packets the tool accounted since it started. */
  seen(): Promise<number>;
  /** The pcap tools' libpcap counters (packets handed to the tool, dropped in the ring), read by seen(). */
  libpcap?: { received: number; dropped: number };
  /** Called in the window's tail: resolves once the tool has accounted `delivered` packets, or gives up. */
  complete?(delivered: number): Promise<void>;
  stop(): Promise<void>;
  /** A line for the reader when the tool said something worth knowing (e.g. lost records). */
  remark(): string;
}

/** Keeps the last 64 KB of a stream (pmacctd pads its log lines with kilobytes of spaces). */
function tail(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (d: string) => { text = (text + d).slice(-65536); });
  return () => text.replace(/ {3,}/g, ' ');
}

function exited(c: ChildProcess, what: string, log: () => string): Promise<never> {
  return new Promise((_, reject) => c.once('exit', (code, sig) => reject(new Error(`${what} ended (${code ?? sig}) before it was ready:\n${log()}`))));
}

async function startFlowlens(n: number): Promise<Running> {
  const dataDir = mkdtempSync(path.join(tmp, 'flowlens-'));
  const args = [CLI, 'run', '--iface', MON.name, '--format', 'none', '--interval', '1s', '--map-size', String(mapSizeFor(n)),
    '--data-dir', dataDir, '--http-port', '0', '--grpc-port', '0'];
  const child = lab.spawn(MON, process.execPath, args, { env: { ...process.env, NODE_OPTIONS: '' } });
  const log = tail(child.stderr);
  child.stdout?.resume();
  // "flowlens: dashboard on http://127.0.0.1:PORT/ (JSON API and /metrics on the same port), ...": attached by then
  const api = await Promise.race([exited(child, 'flowlens', log), waitFor(() => /dashboard on (https?:\/\/\S+?)\/? \(JSON API/.exec(log())?.[1], 60_000, 100)]);
  if (!api) throw new Error(`flowlens did not start within 60 s:\n${log()}`);
  const seen = async () => {
    const r = await fetch(`${api}/metrics`);
    return metricSum(await r.text(), 'flowlens_traffic_packets_total', `iface="${MON.name}"`) ?? 0;
  };
  return {
    pid: child.pid!,
    seen,
    // an interval's packets show after its drain: wait for them, polling as a scraper would (0.5 s)
    complete: async (delivered) => { await waitFor(async () => (await seen()) >= delivered, 20_000, 500); },
    stop: async () => { await stopChild(child, 'SIGTERM', 30_000); rmSync(dataDir, { recursive: true, force: true }); },
    remark: () => '',
  };
}

/** A prime at or above n (pmacct's documentation asks for a prime number of buckets). */
function primeAtLeast(n: number): number {
  const prime = (x: number) => { for (let d = 2; d * d <= x; d++) if (x % d === 0) return false; return x > 1; };
  while (!prime(n)) n++;
  return n;
}

async function startPmacct(n: number, run: number): Promise<Running> {
  const pipe = path.join(tmp, `pmacct-${run}.pipe`); // a new name each run: an exiting pmacctd unlinks its own
  const conf = path.join(tmp, `pmacctd-${run}.conf`);
  writeFileSync(conf, [
    'daemonize: false',
    `pcap_interface: ${MON.name}`,
    'aggregate: src_host,dst_host,src_port,dst_port,proto',
    'plugins: memory',
    `imt_path: ${pipe}`,
    `imt_buckets: ${primeAtLeast(mapSizeFor(n))}`,
    // room for every flow: 0 ("grow as needed" in CONFIG-KEYS) still stops at the default 16 pools
    // ("Unable to allocate more memory pools") in 1.7.7; these are allocated as the table grows
    `imt_mem_pools_number: ${Math.max(16, Math.ceil((mapSizeFor(n) * 1024) / (1 << 20)))}`,
    'imt_mem_pools_size: 1048576',
    // core-to-plugin queue for heavy traffic, buffers 1:1000 of it (CONFIG-KEYS); the defaults lose records
    'plugin_pipe_size: 40960000',
    'plugin_buffer_size: 40960',
    '',
  ].join('\n'));
  const child = lab.spawn(MON, 'pmacctd', ['-f', conf]);
  const log = tail(child.stderr);
  child.stdout?.resume();
  const ready = await Promise.race([exited(child, 'pmacctd', log),
    waitFor(() => /link type is/.test(log()) && /waiting for data on/.test(log()), 30_000, 100)]);
  if (!ready) throw new Error(`pmacctd did not start within 30 s:\n${log()}`);
  for (const pid of processTree(child.pid!).slice(1)) grandchildren.set(pid, startTime(pid) ?? '');
  const running: Running = {
    pid: child.pid!,
    seen: async () => {
      // the core's libpcap counters, which it logs on SIGUSR1: tells capture loss from plugin loss
      const before = log().length;
      process.kill(child.pid!, 'SIGUSR1');
      const stats = await waitFor(() => /stats \[[^\]]*\] time=\d+ received_packets=(\d+) dropped_packets=(\d+)/.exec(log().slice(before)), 5000, 50);
      if (stats) running.libpcap = { received: Number(stats[1]), dropped: Number(stats[2]) };
      // the table's packets summed by the plugin (all the replay sends is UDP): one short answer. The whole
      // table (pmacct -s) comes back cut short when the plugin's writes to the client fail with EAGAIN
      const sum = execFileSync('pmacct', ['-p', pipe, '-c', 'proto', '-N', 'udp', '-n', 'packets', '-S'], { encoding: 'utf8' }).trim();
      if (!/^\d+$/.test(sum)) throw new Error(`pmacct -c proto -N udp -n packets -S printed "${sum}", not a packet count`);
      return Number(sum);
    },
    stop: async () => {
      const plugins = processTree(child.pid!).slice(1).map((pid) => [pid, startTime(pid)] as const);
      await stopChild(child, 'SIGTERM', 10_000);
      // the plugins end after the core; whichever is still the same process after 10 s is killed
      await waitFor(() => plugins.every(([pid, start]) => startTime(pid) !== start), 10_000, 100);
      for (const [pid, start] of plugins) {
        if (startTime(pid) === start) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        grandchildren.delete(pid);
      }
    },
    // the warnings pmacctd logged (a lost record, a full table), each once
    remark: () => [...new Set(log().split('\n').filter((l) => /^(WARN|ERROR)/.test(l)).map((l) => `pmacctd: ${l.trim()}`))].join('; '),
  };
  return running;
}

async function startSoftflowd(n: number, run: number): Promise<Running> {
  // the NetFlow collector: a UDP socket on loopback that counts what arrives
  const collector = createSocket('udp4');
  let datagrams = 0;
  collector.on('message', () => { datagrams++; });
  await new Promise<void>((resolve) => collector.bind(0, '127.0.0.1', resolve));
  const ctl = path.join(tmp, `softflowd-${run}.ctl`);
  const child = lab.spawn(MON, 'softflowd', ['-d', '-i', MON.name, '-m', String(mapSizeFor(n)), '-v', '9',
    '-n', `127.0.0.1:${collector.address().port}`, '-c', ctl, '-p', path.join(tmp, `softflowd-${run}.pid`)]);
  const log = tail(child.stderr);
  child.stdout?.resume();
  const statistics = () => {
    try { return execFileSync('softflowctl', ['-c', ctl, 'statistics'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }); } catch { return ''; }
  };
  const ready = await Promise.race([exited(child, 'softflowd', log), waitFor(() => /Packets processed/.test(statistics()), 30_000, 100)]);
  if (!ready) throw new Error(`softflowd did not answer softflowctl within 30 s:\n${log()}`);
  const running: Running = {
    pid: child.pid!,
    seen: async () => {
      const s = statistics();
      const processed = /Packets processed:\s+(\d+)/.exec(s);
      if (!processed) throw new Error(`softflowctl statistics printed no "Packets processed":\n${s}`);
      const received = /Packets received by libpcap:\s+(\d+)/.exec(s);
      const dropped = /Packets dropped by libpcap:\s+(\d+)/.exec(s);
      if (received && dropped) running.libpcap = { received: Number(received[1]), dropped: Number(dropped[1]) };
      return Number(processed[1]);
    },
    stop: async () => {
      await stopChild(child, 'SIGTERM', 10_000);
      collector.close();
    },
    // flows expire after minutes: an export within a run is news
    remark: () => (datagrams ? `softflowd exported ${datagrams} NetFlow datagrams during a run` : ''),
  };
  return running;
}

// ---- one run ----

interface RunFigures {
  tool: ToolName;
  usPerPacket: number;
  cpuPct: number;
  bpfUsPerPacket: number | undefined;
  bpfRuns: number | undefined;
  delivered: number;
  sent: number;
  seen: number;
  libpcapReceived: number | undefined;
  libpcapDropped: number | undefined;
  achievedPps: number;
  remark: string;
}

let runSeq = 0;

async function oneRun(tool: ToolName, n: number, pcap: string): Promise<RunFigures> {
  const run = runSeq++;
  const running = tool === 'flowlens' ? await startFlowlens(n) : tool === 'pmacct' ? await startPmacct(n, run) : await startSoftflowd(n, run);
  try {
    const bpf0 = tool === 'flowlens' ? bpfRunTotals() : undefined;
    const rx0 = rxPackets();
    const cpu0 = treeCpuTicks(running.pid);
    const t0 = performance.now();
    const replay = await lab.run(PEER, 'tcpreplay', ['-K', `--pps=${pps}`, `--limit=${Math.round(pps * seconds)}`, '--loop=0', '-q',
      '-i', PEER.name, pcap], (seconds + 60) * 1000);
    const replayS = (performance.now() - t0) / 1000;
    if (replay.code !== 0) throw new Error(`tcpreplay failed (${replay.code}): ${replay.stderr}${replay.stdout}`);
    const sent = Number(/Actual:\s+(\d+) packets/.exec(replay.stdout)?.[1] ?? NaN);
    await sleep(settleS * 1000);
    const delivered = rxPackets() - rx0;
    await running.complete?.(delivered);
    const cpu1 = treeCpuTicks(running.pid);
    const windowS = (performance.now() - t0) / 1000;
    const bpf1 = tool === 'flowlens' ? bpfRunTotals() : undefined;
    const seen = await running.seen();
    const cpuS = (cpu1 - cpu0) / CLK_TCK;
    return {
      tool,
      usPerPacket: (cpuS * 1e6) / delivered,
      cpuPct: (cpuS / windowS) * 100,
      bpfUsPerPacket: bpf0 && bpf1 ? (bpf1.ns - bpf0.ns) / 1000 / delivered : undefined,
      bpfRuns: bpf0 && bpf1 ? bpf1.runs - bpf0.runs : undefined,
      delivered,
      sent,
      seen,
      libpcapReceived: running.libpcap?.received,
      libpcapDropped: running.libpcap?.dropped,
      achievedPps: delivered / replayS,
      remark: running.remark(),
    };
  } finally {
    await running.stop();
  }
}

// ---- main ----

printHeader('peers: own CPU per packet of flowlens, pmacct (pmacctd) and softflowd on the same replayed UDP flows');
const mapSizes = workloads.map((w) => `${w.flows}: ${mapSizeFor(w.flows)}`).join(', ');
process.stdout.write(
  `# flowlens: node dist/src/cli.js run --iface <veth> --format none --interval 1s --map-size <2^k above N> --data-dir <tmp> --http-port 0 --grpc-port 0\n` +
  `# pmacct: pmacctd -f <conf>: pcap_interface <veth>, aggregate src_host,dst_host,src_port,dst_port,proto, plugins memory,\n` +
  `#   imt_buckets <prime above the map size>, 1 MB memory pools for 1 KB per map entry, plugin_pipe_size 40960000, plugin_buffer_size 40960\n` +
  `# softflowd: softflowd -d -i <veth> -m <map size> -v 9 -n 127.0.0.1:<port of a UDP socket of the bench> -c <ctl>\n` +
  `# map sizes (flows: entries): ${mapSizes}\n` +
  `# replay: tcpreplay -K --pps=${pps} --limit=${Math.round(pps * seconds)} --loop=0 (one 72 B L3 frame per flow); ` +
  `window: replay + ${settleS} s (flowlens: and until its count is complete); ${reps} runs per tool and workload\n`);
if (tools.includes('flowlens')) writeFileSync(bpfStatsPath, '1'); // restored on exit (cleanup)

const fmt = (x: number | undefined, d = 2) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '-');
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : '-');
const rows: string[][] = [];
const ratioLines: string[] = [];
const remarks = new Set<string>();
for (const w of workloads) {
  const pcap = writePcap(w.flows);
  const runs = new Map<ToolName, RunFigures[]>(tools.map((t) => [t, []]));
  for (let r = 0; r < reps; r++) {
    // rotate the order, so no tool always runs first (a cold cache) or last
    for (const tool of tools.map((_, i) => tools[(i + r) % tools.length])) {
      const f = await oneRun(tool, w.flows, pcap);
      runs.get(tool)!.push(f);
      if (f.remark) remarks.add(`${w.name}, ${tool}, run ${r + 1}: ${f.remark}`);
      process.stderr.write(`bench: ${w.name} (${w.flows} flows), run ${r + 1}, ${tool}: ${JSON.stringify(f)}\n`);
    }
  }
  const med = (t: ToolName, k: keyof RunFigures) => median(runs.get(t)!.map((x) => Number(x[k])));
  for (const t of tools) {
    const rs = runs.get(t)!;
    const share = rs.map((x) => x.seen / x.delivered);
    const own = med(t, 'usPerPacket');
    const bpf = t === 'flowlens' ? med(t, 'bpfUsPerPacket') : undefined;
    rows.push([
      `${w.name} (${w.flows.toLocaleString('en')})`, t, fmt(own), fmt(bpf, 3), t === 'flowlens' ? fmt(own + (bpf ?? 0)) : '-', fmt(med(t, 'cpuPct'), 1),
      int(med(t, 'achievedPps')), int(med(t, 'delivered')), int(med(t, 'seen')),
      `${(Math.min(...share) * 100).toFixed(2)} %`, t === 'flowlens' ? int(med(t, 'bpfRuns')) : '-',
      t === 'flowlens' ? '-' : `${int(med(t, 'libpcapReceived'))} / ${int(med(t, 'libpcapDropped'))}`,
    ]);
  }
  if (tools.includes('flowlens')) {
    const fl = med('flowlens', 'usPerPacket');
    for (const peer of tools.filter((t) => t !== 'flowlens')) {
      const p = med(peer, 'usPerPacket');
      ratioLines.push(`${w.name}: flowlens / ${peer} = ${fmt(fl / p)} (${fmt(fl)} / ${fmt(p)} µs per packet, own CPU)`);
    }
  }
}
process.stdout.write(`${table(['workload (flows)', 'tool', 'own µs/pkt', 'BPF µs/pkt', 'own+BPF', 'CPU % of a core', 'pps delivered',
  'packets delivered', 'seen by tool', 'seen min %', 'BPF runs', 'libpcap received / dropped'], rows, [0, 1])}\n`);
for (const line of ratioLines) process.stdout.write(`${line}\n`);
process.stdout.write(`(medians of ${reps} runs; own = utime + stime of the tool's processes over the window / packets the veth delivered;` +
  ` BPF = run_time_ns of flowlens's programs on the link with kernel.bpf_stats_enabled=1; the pcap tools' kernel side is not measured;` +
  ` "seen min %" is the smallest share of the delivered packets the tool accounted in any run;` +
  ` libpcap received / dropped: the pcap tools' capture counters since they started)\n`);
for (const r of remarks) process.stdout.write(`note: ${r}\n`);
