/**
 * `flowlens analyze` throughput against the usual tools, on the same file in
 * the same run: packets per second of
 *   flowlens analyze FILE --format json      (every frame through the BPF program, then the control plane)
 *   tshark -q -n -z conv,ip -r FILE          (per-conversation statistics)
 *   tcpdump -r FILE -w /dev/null             (read and write only: a floor)
 * on a generated pcap (default 5M frames: 4000 flows of IPv4 UDP/TCP, 64-1500
 * byte frames, 10 µs apart). Each command runs --runs times (default 3); the
 * median wall time is printed with the command line. Run as root:
 *   node --import tsx bench/analyze.ts [--packets N] [--runs N]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './lib.js';

const { values } = parseArgs({ options: { packets: { type: 'string' }, runs: { type: 'string' } } });
const packets = Number(values.packets ?? 5_000_000);
const runs = Number(values.runs ?? 3);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-analyze-'));
const file = path.join(tmp, 'bench.pcap');

/** Writes the pcap in 4 MiB chunks: frames from a few templates, addresses and ports per flow. */
function generate(): void {
  const fd = openSync(file, 'w');
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0); g.writeUInt16LE(2, 4); g.writeUInt16LE(4, 6); g.writeUInt32LE(65535, 16); g.writeUInt32LE(1, 20);
  writeSync(fd, g);
  const chunk = Buffer.alloc(4 << 20);
  let used = 0;
  const sizes = [64, 128, 590, 1514];
  for (let i = 0; i < packets; i++) {
    const flow = i % 4000;
    const len = sizes[i % sizes.length]!;
    if (used + 16 + len > chunk.length) { writeSync(fd, chunk, 0, used); used = 0; }
    const us = i * 10;
    chunk.writeUInt32LE(1_700_000_000 + Math.floor(us / 1e6), used);
    chunk.writeUInt32LE(us % 1e6, used + 4);
    chunk.writeUInt32LE(len, used + 8);
    chunk.writeUInt32LE(len, used + 12);
    const f = used + 16;
    chunk.fill(0, f, f + len);
    chunk.writeUInt32BE(0x02000000, f); chunk.writeUInt16BE(0x0001, f + 4); // dst MAC
    chunk.writeUInt32BE(0x02000000, f + 6); chunk.writeUInt16BE(0x0002, f + 10); // src MAC
    chunk.writeUInt16BE(0x0800, f + 12);
    const ip = f + 14;
    const tcp = flow % 2 === 0;
    chunk[ip] = 0x45;
    chunk.writeUInt16BE(len - 14, ip + 2);
    chunk[ip + 8] = 64;
    chunk[ip + 9] = tcp ? 6 : 17;
    chunk.writeUInt32BE((10 << 24) | (1 << 16) | (flow >> 8), ip + 12);
    chunk.writeUInt32BE((10 << 24) | (2 << 16) | (flow & 0xff), ip + 16);
    chunk.writeUInt16BE(20000 + flow, ip + 20);
    chunk.writeUInt16BE(tcp ? 443 : 53, ip + 22);
    if (tcp) { chunk[ip + 32] = 0x50; chunk[ip + 33] = 0x10; } else chunk.writeUInt16BE(len - 34, ip + 24);
    used += 16 + len;
  }
  writeSync(fd, chunk, 0, used);
  closeSync(fd);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

generate();
console.log(`file: ${file}, ${packets} frames, ${(statSync(file).size / 1e6).toFixed(0)} MB; ${runs} runs each, median wall time`);
const cli = path.join(repoRoot, 'dist/src/cli.js');
const check = JSON.parse(execFileSync(process.execPath, [cli, 'analyze', file, '--format', 'json', '--no-history'], { maxBuffer: 1 << 28 }).toString()) as { totals: { packets: number } };
if (check.totals.packets !== packets) throw new Error(`flowlens counted ${check.totals.packets} packets, the file has ${packets}`);
const commands: Array<[string, string[]]> = [
  [process.execPath, [cli, 'analyze', file, '--format', 'json']],
  ['tshark', ['-q', '-n', '-z', 'conv,ip', '-r', file]],
  ['tcpdump', ['-r', file, '-w', '/dev/null']],
];
const results: Array<{ line: string; s: number }> = [];
for (const [cmd, args] of commands) {
  const times = Array.from({ length: runs }, () => time(cmd, args));
  const s = median(times);
  const line = `${path.basename(cmd)} ${args.map((a) => (a === cli ? 'dist/src/cli.js' : a === file ? 'FILE' : a)).join(' ')}`;
  results.push({ line, s });
  console.log(`${line.padEnd(52)} ${s.toFixed(2)} s  ${(packets / s / 1e6).toFixed(2)} M packets/s  (runs: ${times.map((x) => x.toFixed(2)).join(', ')})`);
}
const ours = results[0]!.s;
for (const r of results.slice(1)) console.log(`flowlens analyze / ${r.line.split(' ')[0]}: ${(r.s / ours).toFixed(2)}× the speed`);
if (!process.env.FLOWLENS_BENCH_KEEP) rmSync(tmp, { recursive: true, force: true });
