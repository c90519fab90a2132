/**
 * Throughput and CPU cost of flowlens on real traffic: iperf3 between two network
 * namespaces joined by a veth pair, all created (and removed) by this script.
 *
 *   node --import tsx bench/throughput.ts [options]      (as root; `npm run build` first)
 *
 *   ns A (10.233.0.1, iperf3 client) ── veth ── ns B (10.233.0.2, iperf3 server)
 *                                                 └ counting on B's veth: ingress carries
 *                                                   the data, egress the ACKs/replies
 *
 * Per hook (XDP, TC) and traffic (TCP bulk; UDP with 64-byte payloads, which is
 * bound by the packet rate), three cases:
 *   none      nothing attached
 *   bare      bench/bench.bpf.o's plain per-CPU counter attached the way flowlens
 *             attaches: XDP hook = bench_xdp_plain in native XDP + bench_tc_plain on
 *             TC egress; TC hook = bench_tc_plain on TC ingress and egress
 *   flowlens  `node dist/src/cli.js run --iface <B's veth> --hook xdp|tc --format ndjson
 *             --interval 1s` (output read only to cross-check its packet totals)
 * Cases are interleaved, repetition by repetition; the tables show medians.
 *
 * Figures: throughput (Gbit/s from iperf3 -J, received), packets/s (B's interface
 * counters, rx + tx: skbs, so a TSO/GRO super-packet is one), flowlens's CPU
 * (utime + stime from /proc/<pid>/stat, also per million packets), and the whole
 * machine's system and softirq CPU from /proc/stat over the run. Targets:
 * flowlens throughput within 5% of bare; flowlens CPU < 0.05 s per million packets.
 *
 * On veth, native XDP turns off TSO/GSO on the peer (a program without
 * multi-buffer support cannot see 64 KB frames), so TCP with XDP runs with
 * MTU-sized packets: compare XDP rows with XDP rows only.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addonPath } from '../src/native/binding.js';
import { parseArgs } from 'node:util';
import { machineCpuTicks, median, printHeader, procCpuTicks, procSchedNs, repoRoot, table, loadAverage, type CpuTimes } from './lib.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    hooks: { type: 'string', default: 'xdp,tc' },
    traffic: { type: 'string', default: 'tcp,udp64' },
    interval: { type: 'string', default: '1s' },
    affinity: { type: 'string', default: '0,1' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  process.stdout.write(`Usage: node --import tsx bench/throughput.ts [options]
  --duration S     seconds of each iperf3 run (default 10)
  --reps N         repetitions of every case, interleaved; medians shown (default 3)
  --hooks LIST     xdp,tc (default both)
  --traffic LIST   tcp,udp64,idle (default tcp,udp64; idle: no traffic for --duration, to see
                   flowlens's fixed CPU cost per interval)
  --interval DUR   flowlens --interval (default 1s)
  --affinity C,S   CPUs of the iperf3 client and server (iperf3 -A; default 0,1; "none": unpinned)
  --json FILE      also write every run's figures as JSON
`);
  process.exit(0);
}
const DURATION = Number(opt.duration);
const REPS = Number(opt.reps);
if (!(DURATION >= 1) || !Number.isInteger(REPS) || REPS < 1) throw new Error('--duration must be >= 1 and --reps a positive integer');
const HOOKS = String(opt.hooks).split(',') as ('xdp' | 'tc')[];
type Traffic = 'tcp' | 'udp64' | 'idle';
const TRAFFIC = String(opt.traffic).split(',') as Traffic[];
for (const h of HOOKS) if (h !== 'xdp' && h !== 'tc') throw new Error(`unknown hook "${h}"`);
for (const t of TRAFFIC) if (t !== 'tcp' && t !== 'udp64' && t !== 'idle') throw new Error(`unknown traffic "${t}"`);
const AFFINITY = opt.affinity === 'none' || os.cpus().length < 2 ? undefined : String(opt.affinity).split(',');

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const PREFIX = 'flowlens-bench-tp-';
const NS_A = `${PREFIX}${process.pid}-a`;
const NS_B = `${PREFIX}${process.pid}-b`;
const DEV_A = 'flbtp-a';
const DEV_B = 'flbtp-b';
const ADDR_A = '10.233.0.1';
const ADDR_B = '10.233.0.2';
const BENCH_OBJ = path.join(repoRoot, 'build/bpf/bench.bpf.o');
const CLI = path.join(repoRoot, 'dist/src/cli.js');

/*
 * flowlens runs from a copy of dist/ and of the addon taken at the start: others
 * may rebuild the tree while this runs for minutes, and a half-written dist/ must
 * not end (or change) the benchmark halfway.
 */
let snapshotDir: string | undefined;
function snapshotCli(): { cli: string; env: NodeJS.ProcessEnv } {
  if (!snapshotDir) {
    snapshotDir = mkdtempSync(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
    cpSync(path.join(repoRoot, 'dist/src'), path.join(snapshotDir, 'dist/src'), { recursive: true });
    cpSync(path.join(repoRoot, 'package.json'), path.join(snapshotDir, 'package.json'));
    cpSync(addonPath(), path.join(snapshotDir, 'flowlens.node'));
  }
  return { cli: path.join(snapshotDir, 'dist/src/cli.js'), env: { ...process.env, FLOWLENS_ADDON: path.join(snapshotDir, 'flowlens.node') } };
}

// ---- processes and cleanup ----------------------------------------------------

const children = new Set<ChildProcess>();
let pinDir: string | undefined;
let namespaces: string[] = [];

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function start(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Ends one child by its PID: SIGTERM, then SIGKILL if it is still there after `ms`. */
async function stop(child: ChildProcess, ms = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

function cleanup(): void {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  children.clear();
  // deleting the namespaces deletes the veth pair, and with it every XDP/TC attachment
  for (const ns of namespaces) {
    try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
  }
  namespaces = [];
  if (pinDir) {
    rmSync(pinDir, { recursive: true, force: true });
    pinDir = undefined;
  }
  if (snapshotDir) {
    rmSync(snapshotDir, { recursive: true, force: true });
    snapshotDir = undefined;
  }
}

/** Namespaces and pins left behind by a run of this script that was killed outright. */
function removeStale(): void {
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  let names: string[] = [];
  try { names = readdirSync('/run/netns'); } catch { /* none */ }
  for (const n of names) {
    const m = /^flowlens-bench-tp-(\d+)-[ab]$/.exec(n);
    if (m && !alive(Number(m[1]))) {
      try { sh('ip', ['netns', 'del', n]); } catch { /* raced */ }
    }
  }
  try {
    for (const d of readdirSync('/sys/fs/bpf')) {
      const m = /^flowlens-bench-tp-(\d+)-/.exec(d);
      if (m && !alive(Number(m[1]))) rmSync(path.join('/sys/fs/bpf', d), { recursive: true, force: true });
    }
  } catch { /* no bpffs */ }
  for (const d of readdirSync(os.tmpdir())) {
    const m = /^flowlens-bench-tp-(\d+)-/.exec(d);
    if (m && !alive(Number(m[1]))) rmSync(path.join(os.tmpdir(), d), { recursive: true, force: true });
  }
}

process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`throughput: ${sig}, cleaning up\n`);
    cleanup();
    process.exit(130);
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- network --------------------------------------------------------------------

function setupNetwork(): void {
  removeStale();
  for (const ns of [NS_A, NS_B]) {
    sh('ip', ['netns', 'add', ns]);
    namespaces.push(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  sh('ip', ['-n', NS_A, 'link', 'add', DEV_A, 'type', 'veth', 'peer', 'name', DEV_B, 'netns', NS_B]);
  sh('ip', ['-n', NS_A, 'addr', 'add', `${ADDR_A}/24`, 'dev', DEV_A]);
  sh('ip', ['-n', NS_B, 'addr', 'add', `${ADDR_B}/24`, 'dev', DEV_B]);
  sh('ip', ['-n', NS_A, 'link', 'set', DEV_A, 'up']);
  sh('ip', ['-n', NS_B, 'link', 'set', DEV_B, 'up']);
  sh('ip', ['netns', 'exec', NS_A, 'ping', '-c', '1', '-W', '2', ADDR_B]);
}

function ifaceStats(): { rxPackets: number; txPackets: number; rxBytes: number; txBytes: number; rxDropped: number } {
  const [link] = JSON.parse(sh('ip', ['-n', NS_B, '-s', '-j', 'link', 'show', 'dev', DEV_B])) as
    { stats64: { rx: { packets: number; bytes: number; dropped: number }; tx: { packets: number; bytes: number } } }[];
  return { rxPackets: link.stats64.rx.packets, txPackets: link.stats64.tx.packets, rxBytes: link.stats64.rx.bytes,
    txBytes: link.stats64.tx.bytes, rxDropped: link.stats64.rx.dropped };
}

// ---- what is attached -------------------------------------------------------------

type Case = 'none' | 'bare' | 'flowlens';

interface Attached {
  /** Detaches. */
  detach(): Promise<void>;
  /** The flowlens process, for its CPU. */
  pid?: number;
  /** Packets flowlens reported (totals lines), since it started. */
  counted?: () => number;
  what: string;
}

/** Loads bench.bpf.o once, pinning every program by name (the "xdp"/"tc" sections hold two each). */
function pinBench(): string {
  if (pinDir) return pinDir;
  const dir = mkdtempSync(`/sys/fs/bpf/${PREFIX}${process.pid}-`);
  pinDir = dir;
  sh('bpftool', ['prog', 'loadall', BENCH_OBJ, dir]);
  for (const p of ['bench_xdp_plain', 'bench_tc_plain']) {
    if (!existsSync(path.join(dir, p))) throw new Error(`bpftool prog loadall did not pin ${p}`);
  }
  return dir;
}

function xdpProgName(): string | undefined {
  const [link] = JSON.parse(sh('ip', ['-n', NS_B, '-j', 'link', 'show', 'dev', DEV_B])) as
    { xdp?: { mode: number; prog?: { name: string }; attached?: { mode: number; prog: { name: string } }[] } }[];
  return link.xdp?.prog?.name ?? link.xdp?.attached?.[0]?.prog.name;
}

async function attach(kind: Case, hook: 'xdp' | 'tc'): Promise<Attached> {
  if (kind === 'none') return { detach: async () => undefined, what: 'nothing' };
  if (kind === 'bare') {
    const dir = pinBench();
    // nsenter, not `ip netns exec`/`tc -n`: those remount /sys and so hide the pins in /sys/fs/bpf
    const inNs = (args: string[]) => sh('nsenter', [`--net=/run/netns/${NS_B}`, ...args]);
    inNs(['tc', 'qdisc', 'add', 'dev', DEV_B, 'clsact']);
    if (hook === 'xdp') {
      inNs(['bpftool', 'net', 'attach', 'xdpdrv', 'pinned', path.join(dir, 'bench_xdp_plain'), 'dev', DEV_B]);
    } else {
      inNs(['tc', 'filter', 'add', 'dev', DEV_B, 'ingress', 'bpf', 'da', 'object-pinned', path.join(dir, 'bench_tc_plain')]);
    }
    inNs(['tc', 'filter', 'add', 'dev', DEV_B, 'egress', 'bpf', 'da', 'object-pinned', path.join(dir, 'bench_tc_plain')]);
    // check that the plain counter, not the empty program of the same section, is what runs
    const tcIn = inNs(['tc', 'filter', 'show', 'dev', DEV_B, 'ingress']);
    const tcEg = inNs(['tc', 'filter', 'show', 'dev', DEV_B, 'egress']);
    const xdp = xdpProgName();
    const ok = tcEg.includes('bench_tc_plain') && (hook === 'xdp' ? xdp === 'bench_xdp_plain' : tcIn.includes('bench_tc_plain') && !xdp);
    if (!ok) throw new Error(`bare counter not attached as intended: xdp=${xdp} ingress=${tcIn} egress=${tcEg}`);
    return {
      what: hook === 'xdp' ? 'bench_xdp_plain (xdpdrv) + bench_tc_plain (tc egress)' : 'bench_tc_plain (tc ingress + egress)',
      async detach() {
        if (hook === 'xdp') inNs(['ip', 'link', 'set', 'dev', DEV_B, 'xdpdrv', 'off']);
        inNs(['tc', 'qdisc', 'del', 'dev', DEV_B, 'clsact']);
      },
    };
  }
  // flowlens, as a user runs it
  const snap = snapshotCli();
  const child = start('ip', ['netns', 'exec', NS_B, process.execPath, snap.cli, 'run', '--iface', DEV_B, '--hook', hook,
    '--format', 'ndjson', '--interval', String(opt.interval)], snap.env);
  let counted = 0, lines = 0, partial = '', stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const text = partial + chunk;
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) {
      lines++;
      if (l.includes('"type":"totals"')) counted += (JSON.parse(l) as { packets: number }).packets;
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  // ready once the programs are attached (XDP: B's veth shows the program) and a drain has run
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`flowlens exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) throw new Error(`flowlens did not start within 30 s: ${stderr}`);
    const xdp = xdpProgName();
    if ((hook === 'xdp' ? xdp === 'flowlens_xdp' : !xdp) && lines > 0) break;
    // an idle link emits nothing: poke it so an interval has something to report
    try { sh('ip', ['netns', 'exec', NS_A, 'ping', '-c', '1', '-W', '1', ADDR_B]); } catch { /* not yet */ }
    await sleep(300);
  }
  return {
    what: `flowlens --hook ${hook}`,
    pid: child.pid,
    counted: () => counted,
    async detach() {
      await stop(child, 10000);
      if (stderr.trim()) process.stderr.write(`[flowlens stderr] ${stderr.trim()}\n`);
    },
  };
}

// ---- traffic -----------------------------------------------------------------------

interface Iperf {
  gbps: number;
  /** UDP: datagrams the server received. */
  udpReceived?: number;
  udpLostPercent?: number;
}

async function iperf(traffic: Traffic): Promise<Iperf> {
  if (traffic === 'idle') {
    await sleep(DURATION * 1000);
    return { gbps: 0 };
  }
  const port = String(5201 + (process.pid % 1000));
  const server = start('ip', ['netns', 'exec', NS_B, 'iperf3', '-s', '-1', '--forceflush', '-B', ADDR_B, '-p', port,
    ...(AFFINITY ? ['-A', AFFINITY[1]] : [])]);
  let serverOut = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`iperf3 server did not start: ${serverOut}`)), 10000);
    server.stdout!.setEncoding('utf8').on('data', (c: string) => {
      serverOut += c;
      if (serverOut.includes('Server listening')) { clearTimeout(t); resolve(); }
    });
  });
  const args = ['netns', 'exec', NS_A, 'iperf3', '-c', ADDR_B, '-p', port, '-t', String(DURATION), '-J'];
  if (traffic === 'udp64') args.push('-u', '-l', '64', '-b', '0');
  if (AFFINITY) args.push('-A', AFFINITY[0]);
  const client = start('ip', args);
  let out = '';
  client.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  const code = await new Promise<number | null>((resolve) => client.on('exit', (c) => resolve(c)));
  await stop(server, 3000);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const j = JSON.parse(out) as any;
  if (code !== 0 || j.error) throw new Error(`iperf3 failed (${code}): ${j.error ?? out.slice(0, 500)}`);
  if (traffic === 'tcp') return { gbps: j.end.sum_received.bits_per_second / 1e9 };
  const sum = j.end.sum;
  const received = sum.packets - sum.lost_packets;
  return { gbps: (received * 64 * 8) / sum.seconds / 1e9, udpReceived: received, udpLostPercent: sum.lost_percent };
}

// ---- one run ----------------------------------------------------------------------

interface Run {
  hook: 'xdp' | 'tc' | '-';
  case: Case;
  traffic: Traffic;
  seconds: number;
  gbps: number;
  /** B's interface: rx + tx packets during the run. */
  packets: number;
  udpReceived?: number;
  udpLostPercent?: number;
  /** flowlens utime + stime during the run, seconds (/proc/<pid>/stat, clock-tick resolution). */
  flowlensCpu?: number;
  /** The same from its threads' schedstat (ns resolution). */
  flowlensSched?: number;
  /** Packets flowlens reported during the run (its intervals overlap the run's edges). */
  flowlensCounted?: number;
  sys: number;
  softirq: number;
  machineBusy: number;
}

async function runOne(hook: 'xdp' | 'tc' | '-', kind: Case, traffic: Traffic): Promise<Run> {
  const att = await attach(kind, hook === '-' ? 'tc' : hook);
  try {
    await sleep(1000);  // let the first interval of flowlens pass and the machine settle
    const s0 = ifaceStats();
    const c0 = machineCpuTicks();
    const p0 = att.pid ? procCpuTicks(att.pid) : 0;
    const q0 = att.pid ? procSchedNs(att.pid) : 0;
    const n0 = att.counted?.() ?? 0;
    const t0 = process.hrtime.bigint();
    const r = await iperf(traffic);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const p1 = att.pid ? procCpuTicks(att.pid) : 0;
    const q1 = att.pid ? procSchedNs(att.pid) : 0;
    const c1 = machineCpuTicks();
    const s1 = ifaceStats();
    // flowlens reports a packet after the interval it fell in ends
    if (att.counted) await sleep(1500);
    const n1 = att.counted?.() ?? 0;
    const d = (k: keyof CpuTimes) => (c1[k] - c0[k]) / CLK_TCK;
    const busy = (['user', 'nice', 'system', 'irq', 'softirq', 'steal'] as const).reduce((a, k) => a + d(k), 0);
    return {
      hook, case: kind, traffic, seconds, gbps: r.gbps,
      packets: s1.rxPackets - s0.rxPackets + s1.txPackets - s0.txPackets,
      udpReceived: r.udpReceived, udpLostPercent: r.udpLostPercent,
      flowlensCpu: att.pid ? (p1 - p0) / CLK_TCK : undefined,
      flowlensSched: att.pid ? (q1 - q0) / 1e9 : undefined,
      flowlensCounted: att.counted ? n1 - n0 : undefined,
      sys: d('system'), softirq: d('softirq'), machineBusy: busy,
    };
  } finally {
    await att.detach();
  }
}

// ---- main -----------------------------------------------------------------------

const f = (n: number | undefined, digits = 2) => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

async function main(): Promise<void> {
  if (!existsSync(CLI) || !existsSync(BENCH_OBJ)) throw new Error('run `npm run build` first (dist/src/cli.js and build/bpf/bench.bpf.o)');
  printHeader('flowlens throughput on veth between two namespaces (iperf3)');
  process.stdout.write(`# ${DURATION} s per iperf3 run, ${REPS} repetitions interleaved, medians shown; iperf3 ${AFFINITY ? `client on CPU ${AFFINITY[0]}, server on CPU ${AFFINITY[1]}` : 'unpinned'}; counting on ${DEV_B} (${ADDR_B}, iperf3 server) in ${NS_B}\n` +
    `# flowlens: node dist/src/cli.js run --iface ${DEV_B} --hook xdp|tc --format ndjson --interval ${opt.interval} (from a copy of dist/ and the addon taken at start)\n\n`);
  setupNetwork();
  snapshotCli();
  const runs: Run[] = [];
  const cases: ['xdp' | 'tc' | '-', Case][] = [['-', 'none']];
  for (const h of HOOKS) cases.push([h, 'bare'], [h, 'flowlens']);
  for (let rep = 0; rep < REPS; rep++) {
    for (const traffic of TRAFFIC) {
      // odd repetitions run the cases in reverse order, so no case always follows the same one
      for (const [hook, kind] of rep % 2 ? [...cases].reverse() : cases) {
        const r = await runOne(hook, kind, traffic);
        runs.push(r);
        process.stderr.write(`[throughput] rep ${rep + 1}/${REPS} ${traffic} ${hook} ${kind}: ${f(r.gbps)} Gbit/s, ` +
          `${f(r.packets / r.seconds / 1e6, 3)} Mpkt/s, flowlens cpu ${f(r.flowlensCpu)} s, load ${loadAverage()}\n`);
      }
    }
  }
  report(runs);
  if (opt.json) {
    writeFileSync(opt.json, JSON.stringify({ options: opt, runs }, null, 2));
    process.stdout.write(`# raw figures: ${opt.json}\n`);
  }
}

function report(runs: Run[]): void {
  const med = (rs: Run[], fn: (r: Run) => number | undefined) => {
    const xs = rs.map(fn).filter((x): x is number => x !== undefined && Number.isFinite(x));
    return xs.length ? median(xs) : undefined;
  };
  const summary: string[][] = [];
  for (const hook of HOOKS) {
    const rows: string[][] = [];
    for (const traffic of TRAFFIC) {
      const pick = (kind: Case) => runs.filter((r) => r.traffic === traffic && r.case === kind && (kind === 'none' || r.hook === hook));
      const bareGbps = med(pick('bare'), (r) => r.gbps);
      const digits = traffic === 'udp64' ? 4 : 2;
      for (const kind of ['none', 'bare', 'flowlens'] as Case[]) {
        const rs = pick(kind);
        const gbps = med(rs, (r) => r.gbps);
        const spread = rs.length ? `${f(Math.min(...rs.map((r) => r.gbps)), digits)}-${f(Math.max(...rs.map((r) => r.gbps)), digits)}` : '-';
        const mpps = med(rs, (r) => r.packets / r.seconds / 1e6);
        const cpu = med(rs, (r) => r.flowlensCpu);
        const sched = med(rs, (r) => r.flowlensSched);
        const msPerS = med(rs, (r) => (r.flowlensCpu === undefined ? undefined : (r.flowlensCpu / r.seconds) * 1000));
        const cpuPerM = med(rs, (r) => (r.flowlensCpu === undefined || r.traffic === 'idle' ? undefined : r.flowlensCpu / (r.packets / 1e6)));
        const kernelNs = med(rs, (r) => (r.traffic === 'idle' ? undefined : ((r.sys + r.softirq) / r.packets) * 1e9));
        const counted = med(rs, (r) => (r.flowlensCounted === undefined ? undefined : r.flowlensCounted / r.packets));
        rows.push([traffic, kind, f(gbps, digits), spread, bareGbps && gbps ? `${((gbps / bareGbps - 1) * 100).toFixed(1)}%` : '-',
          f(mpps, 3), traffic === 'udp64' ? f(med(rs, (r) => r.udpLostPercent), 1) : '-',
          f(med(rs, (r) => r.sys), 2), f(med(rs, (r) => r.softirq), 2), f(kernelNs, 0), f(med(rs, (r) => r.machineBusy / r.seconds), 2),
          f(cpu, 2), f(sched, 3), f(msPerS, 1), f(cpuPerM, 4), f(counted, 2), String(rs.length)]);
        if (kind === 'flowlens' && traffic !== 'idle') {
          summary.push([hook, traffic, gbps && bareGbps ? `${((gbps / bareGbps - 1) * 100).toFixed(1)}%` : '-',
            gbps && bareGbps && gbps >= 0.95 * bareGbps ? 'met' : 'MISSED',
            f(cpuPerM, 4), cpuPerM !== undefined && cpuPerM < 0.05 ? 'met' : 'MISSED']);
        }
      }
    }
    process.stdout.write(`${hook.toUpperCase()} hook (${hook === 'xdp' ? 'ingress XDP native + egress TC' : 'ingress and egress TC'})\n`);
    process.stdout.write(`${table(['traffic', 'attached', 'Gbit/s', '(min-max)', 'vs bare', 'Mpkt/s', 'udp lost%', 'sys s', 'softirq s',
      'sys+si ns/pkt', 'busy CPUs', 'fl cpu s', '(schedstat)', 'fl ms/s', 'fl s/Mpkt', 'counted/pkts', 'runs'], rows, [0, 1])}\n\n`);
  }
  process.stdout.write(`Gbit/s: iperf3 -J, received (UDP: datagrams received x 64 B payload). Mpkt/s, ns/pkt and s/Mpkt count ` +
    `${DEV_B}'s rx + tx packets (skbs: a GSO/GRO super-packet is one).\nsys/softirq/busy CPUs: the whole machine's ` +
    `(/proc/stat; other load included). fl cpu s: flowlens utime + stime (/proc/<pid>/stat), beside the same from ` +
    `its threads' schedstat; fl ms/s: per second of run.\ncounted/pkts: flowlens's packet totals over the interface's ` +
    `(flowlens counts wire packets, so > 1 with GSO; its intervals overlap the run's edges).\n\n`);
  if (summary.length) {
    process.stdout.write(`Targets: flowlens throughput within 5% of bare; flowlens CPU < 0.05 s per million packets at --interval ${opt.interval}\n`);
    process.stdout.write(`${table(['hook', 'traffic', 'vs bare', 'within 5%', 's/Mpkt', '< 0.05'], summary, [0, 1])}\n`);
  }
  process.stdout.write(`# load average at the end: ${loadAverage()}\n`);
}

main().catch((e) => {
  process.stderr.write(`throughput: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
}).finally(cleanup);
