/**
 * Packet captures (bpf/pcap.bpf.h, src/capture/): what they cost the counter,
 * and what they lose at a high packet rate next to tcpdump.
 *
 *   node --import tsx bench/capture.ts [--repeat N] [--rounds N] [--duration S]   (as root; npm run build first)
 *
 * 1. Per packet (BPF_PROG_TEST_RUN, one UDP packet of 64 bytes of payload,
 *    `repeat` runs each, the kernel's average; rounds interleaved, medians),
 *    for flowlens_xdp and flowlens_tc_eg beside the plain per-CPU counter of
 *    bench/bench.bpf.c on the same hook:
 *      ring off        loaded without a packet ring (the verifier drops the code)
 *      idle            loaded with the ring, no capture running (flowlens run's normal state)
 *      other filter    a capture runs whose filter the packet does not match
 *      copied          a capture runs that matches: the frame is copied into the ring
 * 2. On a veth between two namespaces, iperf3 -u -l 64 -b 0 (the peer bench's
 *    small-packet traffic) for `duration` seconds, once captured by
 *    `flowlens capture --proto udp` and once by `tcpdump udp`, each writing to
 *    a file in /dev/shm: frames written, frames the kernel lost, against the
 *    receiver's packet count.
 */
import { parseArgs } from 'node:util';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { loadAddon, type NativeCollector } from '../src/native/binding.js';
import { encodeCaptureFilter, parseCaptureFilter } from '../src/capture/filter.js';
import { loadBenchAddon, median, printHeader, repoRoot, table } from './lib.js';

const { values: opt } = parseArgs({ options: { repeat: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' }, duration: { type: 'string', default: '5' } } });
const REPEAT = Number(opt.repeat), ROUNDS = Number(opt.rounds), DURATION = Number(opt.duration);

function udpFrame(): Buffer {
  const payload = 64;
  const f = Buffer.alloc(14 + 20 + 8 + payload);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(20 + 8 + payload, 16);
  f[22] = 64;
  f[23] = 17;
  Buffer.from([10, 0, 0, 1]).copy(f, 26);
  Buffer.from([10, 0, 0, 2]).copy(f, 30);
  f.writeUInt16BE(40000, 34);
  f.writeUInt16BE(5201, 36);
  f.writeUInt16BE(8 + payload, 38);
  return f;
}

function perPacket(): void {
  const addon = loadAddon();
  const bench = new (loadBenchAddon().BpfObject)(path.join(repoRoot, 'build/bpf/bench.bpf.o'));
  const off = new addon.Collector(1024, 0);
  const on = new addon.Collector(1024, 0, undefined, 4 << 20);
  const frame = udpFrame();
  const buf = Buffer.alloc(8 << 20);
  const drainRing = (c: NativeCollector) => { while (c.readPackets(buf).records) { /* empty it */ } };
  const cases: Array<[string, () => void, () => void]> = [
    ['ring off', () => undefined, () => undefined],
    ['idle', () => undefined, () => undefined],
    ['other filter', () => on.startPacketCapture(0, encodeCaptureFilter(parseCaptureFilter({ host: '192.0.2.1' }), 0)), () => on.stopPacketCapture(0)],
    ['copied', () => on.startPacketCapture(0, encodeCaptureFilter(parseCaptureFilter({ proto: 'udp' }), 0)), () => { on.stopPacketCapture(0); drainRing(on); }],
  ];
  const rows: string[][] = [];
  for (const [prog, plain] of [['flowlens_xdp', 'bench_xdp_plain'], ['flowlens_tc_eg', 'bench_tc_plain']] as const) {
    const ns: Record<string, number[]> = { plain: [] };
    for (const [name] of cases) ns[name] = [];
    for (let r = 0; r < ROUNDS; r++) {
      ns.plain!.push(bench.testRun(plain, frame, { repeat: REPEAT }).durationNs);
      for (const [name, before, after] of cases) {
        before();
        // the copied case writes ~100 bytes a run: keep each run within the 4 MiB ring
        const repeat = name === 'copied' ? Math.min(REPEAT, 20000) : REPEAT;
        ns[name]!.push((name === 'ring off' ? off : on).testRun(prog, frame, { repeat }).durationNs);
        after();
      }
    }
    const base = median(ns.plain!);
    rows.push([prog, 'plain counter', base.toFixed(1), '1.00']);
    for (const [name] of cases) rows.push([prog, name, median(ns[name]!).toFixed(1), (median(ns[name]!) / base).toFixed(2)]);
  }
  off.close();
  on.close();
  bench.close();
  process.stdout.write(`\n## per packet (BPF_PROG_TEST_RUN, UDP, 64-byte payload, repeat ${REPEAT}, ${ROUNDS} rounds, medians)\n`);
  process.stdout.write(`${table(['program', 'case', 'ns/packet', 'x plain'], rows, [0, 1])}\n`);
}

// ---- drops at a high packet rate, against tcpdump ----

const NS_A = `flowlens-bench-cap-${process.pid}-a`, NS_B = `flowlens-bench-cap-${process.pid}-b`;
const DEV_A = 'flbcap-a', DEV_B = 'flbcap-b', ADDR_A = '10.234.0.1', ADDR_B = '10.234.0.2';
const children = new Set<ChildProcess>();
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (ns: string, cmd: string, args: string[]) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);

function startIn(ns: string, cmd: string, args: string[]): { child: ChildProcess; err: () => string; out: () => string } {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let err = '', out = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  return { child, err: () => err, out: () => out };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  for (const ns of [NS_A, NS_B]) { try { sh('ip', ['netns', 'del', ns]); } catch { /* gone */ } }
}

function rxPackets(): number {
  return Number(inNs(NS_B, 'cat', [`/sys/class/net/${DEV_B}/statistics/rx_packets`]).trim());
}

async function oneRun(tool: 'flowlens' | 'tcpdump', dir: string): Promise<string[]> {
  const file = path.join(dir, `${tool}.pcap`);
  const cap = tool === 'flowlens'
    ? startIn(NS_B, process.execPath, [path.join(repoRoot, 'dist/src/cli.js'), 'capture', '--standalone', '--iface', DEV_B, '--proto', 'udp', '-w', file])
    : startIn(NS_B, 'tcpdump', ['-n', '-i', DEV_B, '-w', file, 'udp']);
  await until(() => /capturing on|listening on/.test(cap.err()), 60_000);
  const server = startIn(NS_B, 'iperf3', ['-s', '-1', '-B', ADDR_B]);
  await new Promise((r) => setTimeout(r, 300));
  const rx0 = rxPackets();
  const client = startIn(NS_A, 'iperf3', ['-c', ADDR_B, '-u', '-l', '64', '-b', '0', '-t', String(DURATION), '-J']);
  await new Promise((r) => client.child.once('exit', r));
  await new Promise((r) => setTimeout(r, 300));
  const rx = rxPackets() - rx0;
  server.child.kill('SIGKILL');
  cap.child.kill('SIGINT');
  await new Promise((r) => cap.child.once('exit', r));
  const written = Number(sh('capinfos', ['-T', '-r', '-c', file]).trim().split('\t').pop());
  const lost = tool === 'flowlens'
    ? Number(/(\d+) lost in the kernel/.exec(cap.err())?.[1] ?? 0) + Number(/(\d+) lost because the output/.exec(cap.err())?.[1] ?? 0)
    : Number(/(\d+) packets dropped by kernel/.exec(cap.err())?.[1] ?? NaN);
  rmSync(file, { force: true });
  return [tool, String(rx), String(written), String(lost), `${((100 * lost) / Math.max(written + lost, 1)).toFixed(2)}%`];
}

async function drops(): Promise<void> {
  process.on('exit', cleanup);
  sh('ip', ['netns', 'add', NS_A]);
  sh('ip', ['netns', 'add', NS_B]);
  sh('ip', ['link', 'add', DEV_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', DEV_B, 'netns', NS_B]);
  for (const [ns, dev, addr] of [[NS_A, DEV_A, ADDR_A], [NS_B, DEV_B, ADDR_B]] as const) {
    sh('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
    sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const dir = mkdtempSync('/dev/shm/flowlens-bench-cap-');
  const rows: string[][] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) for (const tool of ['flowlens', 'tcpdump'] as const) rows.push(await oneRun(tool, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    cleanup();
  }
  process.stdout.write(`\n## drops at iperf3 -u -l 64 -b 0 for ${DURATION} s on a veth (each round: flowlens, then tcpdump)\n`);
  process.stdout.write(`${table(['capture', 'received', 'written', 'lost', 'lost %'], rows)}\n`);
}

printHeader('packet captures: cost per packet, and drops next to tcpdump');
perPacket();
await drops();
