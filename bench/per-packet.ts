/**
 * Per-packet cost of flowlens's programs, measured with BPF_PROG_TEST_RUN, beside
 * the yardsticks of bench/bench.bpf.c (an empty program and a plain per-CPU hash
 * counter) in the same run.
 *
 *   node --import tsx bench/per-packet.ts [options]      (as root; `npm run build` first)
 *
 * For every packet type and flow count N, each counting program gets its own
 * map filled with N distinct flows (one test run per flow, each packet a
 * different source address and port), then three measurements:
 *
 *   hot    one packet of one of the N flows, test-run with `repeat` (the
 *          kernel's average): everything the program touches stays in cache.
 *   cyc100 `cycle` test runs of repeat=100, each over a different existing flow
 *          (a random sample of the N): one cold lookup per 100 packets.
 *   cold   `cold` test runs of repeat=1 over random existing flows: every packet
 *          looks up a flow the previous packet did not touch, as with many
 *          concurrent flows on a real link. Each figure includes the kernel's
 *          timer overhead of one run, which the empty program's row shows.
 *
 * Programs measured in rounds, interleaved, so noise from other load on the
 * machine falls on all of them alike. The ratio columns divide by the plain
 * counter of the same hook (bench_xdp_plain or bench_tc_plain). Target:
 * flowlens <= 1.5 x plain at every flow count.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NativeCollector } from '../src/native/binding.js';
import { loadBenchAddon, median, printHeader, repoRoot, rng, table, loadAverage, type NativeBpfObject } from './lib.js';

const TYPES = ['ipv4-tcp', 'ipv4-udp', 'ipv6-tcp', 'vlan-ipv4-tcp'] as const;
type PacketType = (typeof TYPES)[number];
const TARGET_RATIO = 1.5;

const { values: opt } = parseArgs({
  options: {
    flows: { type: 'string', default: '1,1000,100000,1000000' },
    types: { type: 'string', default: TYPES.join(',') },
    hooks: { type: 'string', default: 'xdp,tc' },
    repeat: { type: 'string', default: '1000000' },
    trials: { type: 'string', default: '5' },
    cycle: { type: 'string', default: '10000' },
    'cycle-repeat': { type: 'string', default: '100' },
    cold: { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '3' },
    'map-entries': { type: 'string', default: String(1 << 20) },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
    roles: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});

if (opt.help) {
  process.stdout.write(`Usage: node --import tsx bench/per-packet.ts [options]
  --flows LIST         flow counts already in the map (default 1,1000,100000,1000000)
  --types LIST         ${TYPES.join(',')} (default all)
  --hooks LIST         xdp,tc (default both)
  --repeat N           repeat of the "hot" test run (default 1000000)
  --trials N           hot test runs per program, the median is shown (default 5)
  --cycle N            test runs of the "cyc100" variant (default 10000)
  --cycle-repeat N     repeat of each of those runs (default 100)
  --cold N             repeat=1 test runs of the "cold" variant (default 30000)
  --rounds N           rounds the cyc100/cold runs are split into, median shown (default 3)
  --map-entries N      flowlens's --map-size: flows its table holds (default 1048576, the plain
                       map's size; must be >= the largest flow count)
  --seed N             PRNG seed of the flow samples (default 1)
  --json FILE          also write every figure as JSON
  --roles              also flowlens's programs with gateway roles on, loopback (where test
                       runs happen) given a role: "lan" (counted as without roles, after the
                       role check), "wan-own" (the gateway's own traffic: conntrack lookup,
                       own address, socket lookup, then counted; needs TCP port 443 and UDP
                       port 53 free to listen on) and "wan-fwd" (a forwarded packet at the WAN:
                       conntrack lookup, own address miss, then only the forwarded counter);
                       the "x off" column divides by the same program without roles
`);
  process.exit(0);
}

const num = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not "${v}"`);
  return n;
};
const flowCounts = String(opt.flows).split(',').map((s) => num('flows', s)).sort((a, b) => a - b);
const types = String(opt.types).split(',').map((s) => {
  if (!(TYPES as readonly string[]).includes(s)) throw new Error(`unknown packet type "${s}" (${TYPES.join(', ')})`);
  return s as PacketType;
});
const hooks = String(opt.hooks).split(',').map((s) => {
  if (s !== 'xdp' && s !== 'tc') throw new Error(`unknown hook "${s}" (xdp, tc)`);
  return s;
});
const REPEAT = num('repeat', opt.repeat);
const TRIALS = num('trials', opt.trials);
const CYCLE = num('cycle', opt.cycle);
const CYCLE_REPEAT = num('cycle-repeat', opt['cycle-repeat']);
const COLD = num('cold', opt.cold);
const ROUNDS = num('rounds', opt.rounds);
const MAP_ENTRIES = num('map-entries', opt['map-entries']);
const SEED = num('seed', opt.seed);
const PLAIN_MAP_ENTRIES = 1 << 20;  // bench.bpf.c's plain_counts
const maxFlows = flowCounts[flowCounts.length - 1];
if (maxFlows > MAP_ENTRIES || maxFlows > PLAIN_MAP_ENTRIES) {
  throw new Error(`${maxFlows} flows do not fit: flowlens map ${MAP_ENTRIES}, plain map ${PLAIN_MAP_ENTRIES} entries`);
}

// ---- packets ----------------------------------------------------------------

/** One frame per type; setFlow(i) makes it flow i (source address and port). */
interface Template {
  buf: Buffer;
  setFlow(i: number): void;
}

function ipv4(buf: Buffer, off: number, proto: number, totLen: number): void {
  buf[off] = 0x45;
  buf.writeUInt16BE(totLen, off + 2);
  buf.writeUInt16BE(0x4000, off + 6);  // DF
  buf[off + 8] = 64;
  buf[off + 9] = proto;
  buf.writeUInt32BE(0x0a000001, off + 12);
  buf.writeUInt32BE(0x0aff0001, off + 16);  // 10.255.0.1
}

function tcp(buf: Buffer, off: number): void {
  buf.writeUInt16BE(1024, off);
  buf.writeUInt16BE(443, off + 2);
  buf.writeUInt32BE(1, off + 4);
  buf.writeUInt32BE(1, off + 8);
  buf[off + 12] = 5 << 4;
  buf[off + 13] = 0x10;  // ACK
  buf.writeUInt16BE(65535, off + 14);
}

function makeTemplate(type: PacketType): Template {
  const eth = (len: number, ethertype: number, vlan = false): Buffer => {
    const b = Buffer.alloc(len);
    b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
    if (vlan) {
      b.writeUInt16BE(0x8100, 12);
      b.writeUInt16BE(100, 14);
      b.writeUInt16BE(ethertype, 16);
    } else {
      b.writeUInt16BE(ethertype, 12);
    }
    return b;
  };
  // Flow i: source address i+1 within 10.0.0.0/8 (or fd00::/64), source port 1024 + i % 60000.
  // The plain counter reads fixed IPv4 offsets (26..37); these keep its keys distinct too.
  switch (type) {
    case 'ipv4-tcp':
    case 'vlan-ipv4-tcp': {
      const l3 = type === 'ipv4-tcp' ? 14 : 18;
      const buf = eth(l3 + 50, 0x0800, l3 === 18);  // 64 or 68 bytes: 20 IP + 20 TCP + 10 payload
      ipv4(buf, l3, 6, 50);
      tcp(buf, l3 + 20);
      return { buf, setFlow: (i) => { buf.writeUInt32BE(0x0a000000 + i + 1, l3 + 12); buf.writeUInt16BE(1024 + (i % 60000), l3 + 20); } };
    }
    case 'ipv4-udp': {
      const buf = eth(64, 0x0800);  // 20 IP + 8 UDP + 22 payload
      ipv4(buf, 14, 17, 50);
      buf.writeUInt16BE(1024, 34);
      buf.writeUInt16BE(53, 36);
      buf.writeUInt16BE(30, 38);
      return { buf, setFlow: (i) => { buf.writeUInt32BE(0x0a000000 + i + 1, 26); buf.writeUInt16BE(1024 + (i % 60000), 34); } };
    }
    case 'ipv6-tcp': {
      const buf = eth(14 + 40 + 30, 0x86dd);  // 84 bytes: 40 IPv6 + 20 TCP + 10 payload
      buf.writeUInt32BE(0x60000000, 14);
      buf.writeUInt16BE(30, 18);
      buf[20] = 6;
      buf[21] = 64;
      buf.writeUInt16BE(0xfd00, 22);  // fd00::i+1
      buf.writeUInt16BE(0xfd00, 38);  // fd00::ffff:1
      buf.writeUInt32BE(0xffff0001, 50);
      tcp(buf, 54);
      return { buf, setFlow: (i) => { buf.writeUInt32BE(i + 1, 34); buf.writeUInt16BE(1024 + (i % 60000), 54); } };
    }
  }
}

// ---- programs -----------------------------------------------------------------

interface Prog {
  /** What the tables show: the program's name, with its role variant. */
  name: string;
  /** Roles variants: the name of the same program without roles (the "x off" reference). */
  off?: string;
  hook: 'xdp' | 'tc';
  kind: 'empty' | 'plain' | 'flowlens';
  /** Whether it keeps a flow table that must hold the N flows. */
  counts: boolean;
  run(packet: Buffer, repeat: number): number;
  close(): void;
  collector?: NativeCollector;
}

const addon = loadBenchAddon();
const benchObject = path.join(repoRoot, 'build/bpf/bench.bpf.o');

/*
 * An XDP test run with repeat > 1 enters the program into the kernel's XDP
 * dispatcher before the run and takes it out after, and each change waits for an
 * RCU grace period (milliseconds) under a global mutex: thousands of such runs
 * would take minutes and stall everyone else's XDP test runs. A program that is
 * attached somewhere stays in the dispatcher, so its test runs change nothing.
 * Attaching is also what makes the test runs call the program the way a driver
 * does (a direct call through the dispatcher, not a retpolined indirect call).
 * So each XDP program under test is attached (generic mode) to an idle veth device
 * (not dummy: not every kernel has that driver) in a network namespace of our own,
 * which carries no traffic and is deleted on exit.
 */
const NETNS = `flowlens-bench-pp-${process.pid}`;
let netnsCreated = false;
let devices = 0;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function removeStaleNamespaces(): void {
  let names: string[] = [];
  try { names = readdirSync('/run/netns'); } catch { return; }
  for (const n of names) {
    const m = /^flowlens-bench-pp-(\d+)$/.exec(n);
    if (!m) continue;
    try { process.kill(Number(m[1]), 0); continue; } catch { /* its benchmark is gone */ }
    try { sh('ip', ['netns', 'del', n]); } catch { /* raced with its owner */ }
  }
}

function cleanupNetns(): void {
  if (!netnsCreated) return;
  netnsCreated = false;
  try { sh('ip', ['netns', 'del', NETNS]); } catch (e) { process.stderr.write(`per-packet: cannot delete netns ${NETNS}: ${(e as Error).message}\n`); }
}

/** Ids of the BPF programs this process holds file descriptors of. */
function ownProgIds(): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:bpf-prog') continue;
      const m = /^prog_id:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch { /* fd closed meanwhile */ }
  }
  return ids;
}

/** Opens something that loads BPF programs; returns it and its programs' ids by name. */
function loadTracked<T>(open: () => T): { value: T; ids: Map<string, number> } {
  const before = ownProgIds();
  const value = open();
  const ids = new Map<string, number>();
  for (const id of ownProgIds()) {
    if (before.has(id)) continue;
    const info = JSON.parse(sh('bpftool', ['prog', 'show', 'id', String(id), '--json'])) as { name: string };
    ids.set(info.name, id);
  }
  return { value, ids };
}

/** Attaches program `id` in generic XDP mode to a new (idle) veth device; returns a detach function. */
function pinXdp(id: number | undefined, name: string): () => void {
  if (id === undefined) throw new Error(`cannot find the id of ${name}`);
  if (!netnsCreated) {
    removeStaleNamespaces();
    sh('ip', ['netns', 'add', NETNS]);
    netnsCreated = true;
  }
  const dev = `flbpp${devices++}`;
  sh('ip', ['-n', NETNS, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
  sh('ip', ['netns', 'exec', NETNS, 'bpftool', 'net', 'attach', 'xdpgeneric', 'id', String(id), 'dev', dev]);
  return () => {
    // the attachment holds the program (and its 1M-entry map): drop it with the device
    try { sh('ip', ['-n', NETNS, 'link', 'del', dev]); } catch { /* netns already gone */ }
  };
}

function openPrograms(): Prog[] {
  const progs: Prog[] = [];
  const expect = (hook: 'xdp' | 'tc') => (hook === 'xdp' ? 2 : 0xffffffff);  // XDP_PASS, TC_ACT_UNSPEC
  const wrap: Wrap = (name, hook, kind, target, ids, owns, variant) => {
    const unpin = hook === 'xdp' ? pinXdp(ids.get(name), name) : () => undefined;
    return {
      name: variant ? `${name} ${variant.label}` : name, off: variant ? name : undefined,
      hook, kind, counts: variant ? variant.counts : kind !== 'empty',
      run(packet, repeat) {
        const r = target.testRun(name, packet, { repeat });
        if (r.retval !== expect(hook)) throw new Error(`${name} returned ${r.retval}`);
        return r.durationNs;
      },
      close() {
        unpin();
        if (owns) target.close();
      },
      collector: kind === 'flowlens' && (!variant || variant.counts) ? (target as NativeCollector) : undefined,
    };
  };
  for (const hook of hooks) {
    // one object per hook, so each plain counter fills its own map with its own program
    const bench = loadTracked(() => new addon.BpfObject(benchObject));
    progs.push(wrap(`bench_${hook}_empty`, hook, 'empty', bench.value, bench.ids, false));
    progs.push(wrap(`bench_${hook}_plain`, hook, 'plain', bench.value, bench.ids, true));
    for (const name of hook === 'xdp' ? ['flowlens_xdp'] : ['flowlens_tc_in', 'flowlens_tc_eg']) {
      // one collector per program: tc_eg's keys (egress) differ from tc_in's, and both
      // sets of N flows would not fit one table at the largest N
      const c = loadTracked(() => new addon.Collector(MAP_ENTRIES));
      progs.push(wrap(name, hook, 'flowlens', c.value, c.ids, true));
      if (opt.roles) progs.push(...roleVariants(name, hook, wrap));
    }
  }
  return progs;
}

/** enum flow_role; loopback's ifindex, where BPF_PROG_TEST_RUN runs the programs. */
const ROLE = { lan: 1, wan: 2 } as const;
const LOOPBACK = 1;
/** The templates' destination, made one of "the gateway's own addresses" for wan-own. */
const OWN_DST = Buffer.from([4, 0, 0, 0, 10, 255, 0, 1, ...new Array(12).fill(0)]);

type Wrap = (name: string, hook: 'xdp' | 'tc', kind: Prog['kind'], target: NativeBpfObject | NativeCollector,
  ids: Map<string, number>, owns: boolean, variant?: { label: string; counts: boolean }) => Prog;

function roleVariants(name: string, hook: 'xdp' | 'tc', wrap: Wrap): Prog[] {
  const out: Prog[] = [];
  const egress = name === 'flowlens_tc_eg';
  const variants: { label: string; role: number; own: boolean; counts: boolean }[] = [
    { label: 'lan', role: ROLE.lan, own: false, counts: true },
    ...(ownSockets ? [{ label: 'wan-own', role: ROLE.wan, own: true, counts: true }] : []),
    ...(egress ? [] : [{ label: 'wan-fwd', role: ROLE.wan, own: false, counts: false }]),
  ];
  for (const v of variants) {
    const c = loadTracked(() => new addon.Collector(MAP_ENTRIES, undefined, new Uint32Array([LOOPBACK, v.role])));
    if (v.own) c.value.setOwnAddresses(OWN_DST);
    out.push(wrap(name, hook, 'flowlens', c.value, c.ids, true, { label: v.label, counts: v.counts }));
  }
  return out;
}

/**
 * wan-own needs sockets that take the templates' packets (TCP to 443, UDP to
 * 53), as the gateway's own services would: listened on for the whole run.
 */
let ownSockets = false;
async function listenOwnSockets(): Promise<void> {
  try {
    const tcp = net.createServer();
    await new Promise<void>((resolve, reject) => { tcp.once('error', reject); tcp.listen(443, '0.0.0.0', resolve); });
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => { udp.once('error', reject); udp.bind(53, '0.0.0.0', resolve); });
    tcp.unref();
    udp.unref();
    ownSockets = true;
  } catch (e) {
    process.stderr.write(`per-packet: cannot listen on TCP 443 and UDP 53 (${(e as Error).message}): no wan-own rows\n`);
  }
}

// ---- measurement --------------------------------------------------------------

interface Row {
  type: PacketType;
  flows: number;
  program: string;
  /** Roles variants: the program without roles. */
  off?: string;
  hook: 'xdp' | 'tc';
  kind: Prog['kind'];
  hot: number;
  cyc100: number;
  cold: number;
  hotTrials: number[];
  cyc100Rounds: number[];
  coldRounds: number[];
}

/** Runs past this are an interrupt or preemption inside the timed section, not the program. */
const OUTLIER_NS = 20000;

function sample(rand: () => number, n: number, k: number): Uint32Array {
  // k distinct flows of n (partial Fisher-Yates over a lazily materialised permutation)
  const out = new Uint32Array(Math.min(n, k));
  const swapped = new Map<number, number>();
  for (let i = 0; i < out.length; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const vj = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    out[i] = vj;
  }
  return out;
}

/** Lets signal handlers run between long synchronous stretches of test runs. */
const yieldToEvents = () => new Promise<void>((resolve) => setImmediate(resolve));

async function measureLevel(type: PacketType, flows: number, progs: Prog[], tpl: Template, rand: () => number): Promise<Row[]> {
  const hot = new Map<string, number[]>(progs.map((p) => [p.name, []]));
  const cyc = new Map<string, number[]>(progs.map((p) => [p.name, []]));
  const cold = new Map<string, number[]>(progs.map((p) => [p.name, []]));

  const hotFlow = Math.floor(rand() * flows);
  tpl.setFlow(hotFlow);
  for (const p of progs) p.run(tpl.buf, 1000);  // warm up
  for (let t = 0; t < TRIALS; t++) {
    for (const p of progs) {
      hot.get(p.name)!.push(p.run(tpl.buf, REPEAT));
      await yieldToEvents();
    }
  }

  // the same flows for every program, in the same order
  const cycFlows = sample(rand, flows, CYCLE);
  const coldFlows = sample(rand, flows, COLD);
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of progs) {
      let sum = 0, n = 0;
      const from = Math.floor((r * CYCLE) / ROUNDS), to = Math.floor(((r + 1) * CYCLE) / ROUNDS);
      for (let i = from; i < to; i++) {
        tpl.setFlow(cycFlows[i % cycFlows.length]);
        sum += p.run(tpl.buf, CYCLE_REPEAT);
        n++;
      }
      cyc.get(p.name)!.push(sum / n);
      await yieldToEvents();
    }
    for (const p of progs) {
      let sum = 0, n = 0;
      const from = Math.floor((r * COLD) / ROUNDS), to = Math.floor(((r + 1) * COLD) / ROUNDS);
      for (let i = from; i < to; i++) {
        tpl.setFlow(coldFlows[i % coldFlows.length]);
        const d = p.run(tpl.buf, 1);
        if (d < OUTLIER_NS) { sum += d; n++; }
      }
      cold.get(p.name)!.push(sum / n);
      await yieldToEvents();
    }
  }
  return progs.map((p) => ({
    type, flows, program: p.name, off: p.off, hook: p.hook, kind: p.kind,
    hot: median(hot.get(p.name)!), cyc100: median(cyc.get(p.name)!), cold: median(cold.get(p.name)!),
    hotTrials: hot.get(p.name)!, cyc100Rounds: cyc.get(p.name)!, coldRounds: cold.get(p.name)!,
  }));
}

/** Drains each flowlens table: it must hold exactly the flows put in, none in overflow, no bpf_errors. */
async function checkFlows(progs: Prog[], expected: number): Promise<string[]> {
  const notes: string[] = [];
  const { layout } = addon;
  // overflow_packets of each iface record, where this build's layout has it
  const rec = layout.iface_record, ctr = layout.iface_counters;
  const overflowAt = rec?.fields.counters !== undefined && ctr?.fields.overflow_packets !== undefined
    ? rec.fields.counters + ctr.fields.overflow_packets : undefined;
  let buf: Buffer | undefined;
  for (const p of progs) {
    if (!p.collector) continue;
    buf ??= Buffer.alloc(p.collector.bufferSize);
    const r = await p.collector.drain(buf);
    const errors = p.collector.errors();
    let overflow = 0;
    if (overflowAt !== undefined) {
      for (let i = 0; i < r.ifaces; i++) overflow += Number(buf.readBigUInt64LE(i * rec.size + overflowAt));
    }
    if (r.flows !== expected || overflow !== 0 || errors.some((e) => e !== 0)) {
      notes.push(`${p.name}: ${r.flows} flows in the table (expected ${expected}), ${overflow} overflow packets, bpf_errors [${errors}]`);
    }
  }
  return notes;
}

// ---- main -----------------------------------------------------------------------

const fmtNs = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const fmtRatio = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : '-');

async function main(): Promise<void> {
  printHeader('flowlens per-packet cost (BPF_PROG_TEST_RUN), ns per packet');
  process.stdout.write(`# hot: repeat=${REPEAT}, median of ${TRIALS}; cyc100: ${CYCLE} runs x repeat=${CYCLE_REPEAT} over distinct flows; ` +
    `cold: ${COLD} runs x repeat=1 over distinct flows (runs > ${OUTLIER_NS} ns dropped); cyc100/cold: median of ${ROUNDS} rounds\n` +
    `# flowlens table for ${MAP_ENTRIES} flows (Collector(mapEntries)), plain map ${PLAIN_MAP_ENTRIES} entries; ratio = program / plain counter of the same hook (target flowlens <= ${TARGET_RATIO}x)\n\n`);
  const rows: Row[] = [];
  const notes: string[] = [];
  if (opt.roles) await listenOwnSockets();
  for (const type of types) {
    const started = Date.now();
    const progs = openPrograms();
    const tpl = makeTemplate(type);
    const rand = rng(SEED);
    let filled = 0;
    try {
      for (const flows of flowCounts) {
        // grow every counting program's table from `filled` to `flows` distinct flows
        for (let i = filled; i < flows; i++) {
          tpl.setFlow(i);
          for (const p of progs) if (p.counts) p.run(tpl.buf, 1);
          if (i % 20000 === 0) await yieldToEvents();
        }
        filled = flows;
        const level = await measureLevel(type, flows, progs, tpl, rand);
        rows.push(...level);
        printLevel(level);
      }
      notes.push(...await checkFlows(progs, filled));
    } finally {
      for (const p of progs) p.close();
    }
    process.stderr.write(`[per-packet] ${type} done in ${((Date.now() - started) / 1000).toFixed(0)} s, load average ${loadAverage()}\n`);
  }
  printSummary(rows);
  if (notes.length) process.stdout.write(`\nSANITY CHECK FAILED (figures above may not mean what they say):\n${notes.join('\n')}\n`);
  else process.stdout.write(`\nsanity check: every flowlens table held exactly ${flowCounts[flowCounts.length - 1]} flows, no overflow, no bpf_errors\n`);
  process.stdout.write(`# load average at the end: ${loadAverage()}\n`);
  if (opt.json) {
    writeFileSync(opt.json, JSON.stringify({ options: opt, rows }, null, 2));
    process.stdout.write(`# raw figures: ${opt.json}\n`);
  }
}

let printedHead = false;
function printLevel(level: Row[]): void {
  const plain = (hook: string) => level.find((r) => r.kind === 'plain' && r.hook === hook)!;
  const withRoles = level.some((r) => r.off);
  const rows = level.map((r) => {
    const p = plain(r.hook);
    const off = level.find((x) => x.program === r.off);
    const vsOff = (k: 'hot' | 'cyc100' | 'cold') => (off ? [fmtRatio(r[k] / off[k])] : withRoles ? ['-'] : []);
    return [r.type, String(r.flows), r.program,
      fmtNs(r.hot), fmtRatio(r.hot / p.hot), ...vsOff('hot'),
      fmtNs(r.cyc100), fmtRatio(r.cyc100 / p.cyc100), ...vsOff('cyc100'),
      fmtNs(r.cold), fmtRatio(r.cold / p.cold), ...vsOff('cold')];
  });
  const off = withRoles ? ['x off'] : [];
  const t = table(['type', 'flows', 'program', 'hot ns', 'x plain', ...off, 'cyc100 ns', 'x plain', ...off, 'cold ns', 'x plain', ...off], rows, [0, 2]).split('\n');
  process.stdout.write(`${(printedHead ? t.slice(2) : t).join('\n')}\n`);
  printedHead = true;
}

function printSummary(rows: Row[]): void {
  // worst ratio of each flowlens program per flow count, over packet types
  const out: string[][] = [];
  for (const prog of [...new Set(rows.filter((r) => r.kind === 'flowlens').map((r) => r.program))]) {
    for (const flows of flowCounts) {
      const worst = { hot: 0, cyc100: 0, cold: 0 };
      const at = { hot: '', cyc100: '', cold: '' };
      for (const r of rows.filter((x) => x.program === prog && x.flows === flows)) {
        const p = rows.find((x) => x.kind === 'plain' && x.hook === r.hook && x.flows === flows && x.type === r.type)!;
        for (const k of ['hot', 'cyc100', 'cold'] as const) {
          const ratio = r[k] / p[k];
          if (ratio > worst[k]) { worst[k] = ratio; at[k] = r.type; }
        }
      }
      const max = Math.max(worst.hot, worst.cyc100, worst.cold);
      out.push([prog, String(flows), `${fmtRatio(worst.hot)} ${at.hot}`, `${fmtRatio(worst.cyc100)} ${at.cyc100}`, `${fmtRatio(worst.cold)} ${at.cold}`,
        max <= TARGET_RATIO ? 'met' : 'MISSED']);
    }
  }
  process.stdout.write(`\nWorst ratio to the plain counter over packet types (target <= ${TARGET_RATIO}x):\n`);
  process.stdout.write(`${table(['program', 'flows', 'hot', 'cyc100', 'cold', `<= ${TARGET_RATIO}x`], out, [0, 2, 3, 4])}\n`);
}

process.on('exit', cleanupNetns);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`per-packet: ${sig}, cleaning up\n`);
    cleanupNetns();
    process.exit(130);
  });
}

main().catch((e) => {
  process.stderr.write(`per-packet: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
}).finally(cleanupNetns);
