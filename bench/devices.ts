/**
 * The cost of the device table's refresh (src/enrich/devices.ts), which runs
 * every 5 s: one rtnetlink neighbour dump (the addon's neighbours()), the
 * filter to the LAN interfaces and formatting (kernelNeighbours), and
 * DeviceTable.observe, with N permanent neighbours on a veth in a namespace
 * the benchmark makes. Reference in the same run: `ip -j neigh show`, what the
 * control plane would spawn without the addon call. Also the one-time cost of
 * reading Debian's ieee-data registry (OuiRegistry.load) and its memory.
 *
 *   node --import tsx bench/devices.ts [--neighbours 100,1000,10000] [--reps 9]     (as root)
 *
 * Prints medians; asserts nothing.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeviceTable, kernelNeighbours } from '../src/enrich/devices.js';
import { OuiRegistry } from '../src/enrich/oui.js';
import { loadAddon } from '../src/native/binding.js';
import { median, printHeader, table } from './lib.js';

const { values } = parseArgs({ options: { neighbours: { type: 'string', default: '100,1000,10000' }, reps: { type: 'string', default: '9' } } });
const counts = values.neighbours!.split(',').map(Number);
const reps = Number(values.reps);

// the veth's end in this namespace (the dump reads this process's namespace), its peer in a namespace of its own;
// the entries need no address on the link, so no route is added here
const ns = `flbench-dev-${process.pid}`;
const dev = `flbd${process.pid % 100000}`;
const cleanup = () => {
  try { execFileSync('ip', ['link', 'del', dev], { stdio: 'ignore' }); } catch { /* gone */ }
  try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* gone */ }
};
process.on('exit', cleanup);

const ms = (f: () => unknown) => { const t0 = process.hrtime.bigint(); f(); return Number(process.hrtime.bigint() - t0) / 1e6; };

printHeader('device table refresh (neighbour dump + filter + DeviceTable.observe), every 5 s');
const rss0 = process.memoryUsage().rss;
const loadMs = ms(() => OuiRegistry.load());
const oui = OuiRegistry.load();
console.log(`# ieee-data registry: ${oui.size} blocks, read in ${loadMs.toFixed(1)} ms, ~${((process.memoryUsage().rss - rss0) / 2 ** 20).toFixed(0)} MiB RSS for two copies`);

execFileSync('ip', ['netns', 'add', ns]);
execFileSync('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`, 'netns', ns]);
execFileSync('ip', ['link', 'set', dev, 'up']);
const rows: string[][] = [];
let added = 0;
const batch = path.join(os.tmpdir(), `flbench-neigh-${process.pid}`);
for (const n of counts) {
  // ip -batch: thousands of entries in one process; 100.64.0.0/10 addresses (local), Apple-block MACs
  const lines: string[] = [];
  for (; added < n; added++) {
    const i = added + 1;
    const mac = (0x001b63000000 + i).toString(16).padStart(12, '0').match(/../g)!.join(':');
    lines.push(`neigh add 100.${64 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff} lladdr ${mac} dev ${dev} nud permanent`);
  }
  writeFileSync(batch, lines.join('\n') + '\n');
  execFileSync('ip', ['-force', '-batch', batch], { stdio: ['ignore', 'pipe', 'pipe'] });
  const times = { dump: [] as number[], filter: [] as number[], observe: [] as number[], ip: [] as number[] };
  const devices = new DeviceTable({ oui: () => oui });
  for (let r = 0; r < reps; r++) {
    times.dump.push(ms(() => loadAddon().neighbours()));
    let list: ReturnType<typeof kernelNeighbours> = [];
    times.filter.push(ms(() => { list = kernelNeighbours([dev]); }));
    times.observe.push(ms(() => devices.observe(list, Date.now())));
    times.ip.push(ms(() => execFileSync('ip', ['-j', 'neigh', 'show', 'dev', dev], { maxBuffer: 1 << 28 })));
  }
  rows.push([String(n), String(devices.list().length), median(times.dump).toFixed(2), median(times.filter).toFixed(2), median(times.observe).toFixed(2),
    median(times.ip).toFixed(2), (median(times.filter) / median(times.ip)).toFixed(2)]);
}
rmSync(batch, { force: true });
console.log(table(['neighbours', 'devices', 'dump ms', 'dump+filter ms', 'observe ms', 'ip -j neigh ms', 'dump+filter / ip'], rows));
cleanup();
