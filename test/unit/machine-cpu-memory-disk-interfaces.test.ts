/**
 * The machine flowlens runs on: CPU, memory, load, the data directory's disk
 * and the interfaces' kernel counters, read from /proc, /sys and statfs — in
 * the status API, gRPC, /metrics (under node_exporter's names) and InfluxDB
 * points. Crafted /proc and /sys files give exact expected values and rates;
 * the real ones must agree with what Node and the kernel say.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HostSampler, REUSE_MS } from '../../src/system/host.js';
import { machineLines } from '../../src/sinks/influx/schema.js';
import { startApi, tcpFlows } from '../helpers/api-fixture.js';
import { grpcClients, httpRequest, unary } from '../helpers/api-clients.js';

function fakeRoots(t: Test) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowlens-machine-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const proc = path.join(dir, 'proc');
  const sys = path.join(dir, 'net');
  fs.mkdirSync(proc);
  for (const dev of ['eth0', 'lo']) fs.mkdirSync(path.join(sys, dev, 'statistics'), { recursive: true });
  const write = (stat: { user: number; idle: number }, rx: number) => {
    // ticks of 1/100 s: user nice system idle iowait irq softirq steal
    fs.writeFileSync(path.join(proc, 'stat'), `cpu  ${stat.user * 2} 0 0 ${stat.idle * 2} 0 0 0 0 0 0\ncpu0 ${stat.user} 0 0 ${stat.idle} 0 0 0 0 0 0\ncpu1 ${stat.user} 0 0 ${stat.idle} 0 0 0 0 0 0\nintr 1\n`);
    fs.writeFileSync(path.join(proc, 'meminfo'), 'MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n');
    fs.writeFileSync(path.join(proc, 'loadavg'), '0.52 0.41 0.30 2/345 6789\n');
    const counters: Record<string, number> = { rx_bytes: rx, tx_bytes: rx / 10, rx_packets: 100, tx_packets: 50, rx_errors: 3, tx_errors: 0, rx_dropped: 7, tx_dropped: 1 };
    for (const [k, v] of Object.entries(counters)) {
      fs.writeFileSync(path.join(sys, 'eth0', 'statistics', k), `${v}\n`);
      fs.writeFileSync(path.join(sys, 'lo', 'statistics', k), '999\n');
    }
  };
  return { dir, proc, sys, write };
}

t.test('crafted /proc and /sys: exact values, rates over the time between readings', async (t) => {
  const f = fakeRoots(t);
  const sampler = new HostSampler(f.dir, f.sys, f.proc);
  f.write({ user: 1000, idle: 9000 }, 1_000_000);
  const first = sampler.sample(1_000_000);
  t.same(first.perCpu.map((c) => c.cpu), ['0', '1'], 'one entry per CPU line');
  t.equal(first.cpuSeconds.user, 20, 'user seconds of all CPUs (ticks / 100)');
  t.same([first.load1, first.load5, first.load15], [0.52, 0.41, 0.3]);
  t.same([first.memTotalBytes, first.memAvailableBytes], [16_000_000 * 1024, 8_000_000 * 1024], 'MemTotal and MemAvailable in bytes');
  t.same(first.interfaces.map((i) => i.name), ['eth0'], 'lo is left out');
  t.match(first.interfaces[0], { rxBytes: 1_000_000, txBytes: 100_000, rxErrors: 3, rxDropped: 7, rxBytesPerSecond: 0 });
  t.ok(first.disk && first.disk.sizeBytes > 0 && first.disk.availBytes <= first.disk.sizeBytes, 'the data directory\'s filesystem');

  // 2 s later: each CPU 50 ticks busy, 150 idle → 25 % busy; 4 MB received → 2 MB/s
  f.write({ user: 1050, idle: 9150 }, 5_000_000);
  const second = sampler.sample(1_002_000);
  t.equal(second.cpuBusy, 0.25, 'CPU busy share between the readings');
  t.equal(second.interfaces[0]!.rxBytesPerSecond, 2_000_000, 'receive rate');
  t.equal(second.interfaces[0]!.txBytesPerSecond, 200_000, 'transmit rate');
  // a reading 100 ms later keeps the 2 s base: rates never come from a few milliseconds
  f.write({ user: 1051, idle: 9151 }, 5_100_000);
  const quick = sampler.sample(1_002_100);
  t.equal(quick.interfaces[0]!.rxBytesPerSecond, (5_100_000 - 1_000_000) / 2.1, 'a quick second reading shares the older base');

  const lines = machineLines(second, 'gw1', 1_002_000, 'ms');
  t.equal(lines[0], 'flowlens_machine,host=gw1 cpu_busy=0.25,disk_avail_bytes=' + second.disk!.availBytes + 'i,disk_size_bytes=' + second.disk!.sizeBytes
    + 'i,load1=0.52,load15=0.3,load5=0.41,mem_available_bytes=8192000000i,mem_total_bytes=16384000000i,process_cpu_cores=' + second.process.cpuShare
    + ',process_resident_bytes=' + second.process.residentBytes + 'i 1002000', 'the InfluxDB point of the machine');
  t.equal(lines[1], 'flowlens_machine_interface,host=gw1,iface=eth0 rx_bytes_per_second=2000000,rx_dropped=7i,rx_errors=3i,tx_bytes_per_second=200000,tx_dropped=1i,tx_errors=0i 1002000', 'and one per interface');
});

t.test('recent(): a reading younger than REUSE_MS is handed out again, an older one is read anew', async (t) => {
  const f = fakeRoots(t);
  const sampler = new HostSampler(f.dir, f.sys, f.proc);
  f.write({ user: 1000, idle: 9000 }, 1_000_000);
  const first = sampler.recent(1_000_000);
  t.equal(first.interfaces[0]!.rxBytes, 1_000_000);
  f.write({ user: 1050, idle: 9150 }, 5_000_000);
  t.equal(sampler.recent(1_000_000 + REUSE_MS - 1), first, 'within REUSE_MS: the same reading, the files are not read');
  const later = sampler.recent(1_000_000 + REUSE_MS);
  t.not(later, first, 'at REUSE_MS: a new reading');
  t.equal(later.interfaces[0]!.rxBytes, 5_000_000, 'of the files as they are now');
  t.equal(later.interfaces[0]!.rxBytesPerSecond, 4_000_000 / (REUSE_MS / 1000), 'with its rate over the time since the first');
  t.not(sampler.recent(1_000_000), later, 'a clock set back: read anew, not a reading from the future');
});

t.test('the real machine: what Node and the kernel say', async (t) => {
  const sampler = new HostSampler(os.tmpdir());
  const s = sampler.sample();
  t.equal(s.cpus, os.cpus().length);
  t.equal(s.perCpu.length, os.cpus().length, 'one per CPU');
  t.equal(s.memTotalBytes, os.totalmem(), 'MemTotal is what Node reports');
  const fsStat = fs.statfsSync(os.tmpdir());
  t.equal(s.disk!.sizeBytes, fsStat.blocks * fsStat.bsize);
  for (const i of s.interfaces) {
    const rx = Number(fs.readFileSync(`/sys/class/net/${i.name}/statistics/rx_packets`, 'utf8'));
    t.ok(rx >= i.rxPackets, `${i.name}: rx_packets as the kernel counts them`);
  }
  t.ok(s.process.residentBytes > 10_000_000, 'flowlens\'s own resident memory');
});

t.test('status API, gRPC and /metrics carry the machine', async (t) => {
  const sampler = new HostSampler(os.tmpdir());
  const f = await startApi(t, {}, { sinks: () => ({ machine: sampler.sample() }) });
  const now = Date.now();
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 20000, now - 900), now);
  const web = { base: `http://127.0.0.1:${f.api.httpPort}` };
  const status = (await httpRequest(web, '/api/status')).json();
  t.equal(status.machine.cpus, os.cpus().length, '/api/status: the machine');
  t.equal(status.machine.memTotalBytes, os.totalmem());
  t.equal(status.machine.diskPath, os.tmpdir());
  t.ok(status.machine.processResidentBytes > 0);
  const c = grpcClients(`127.0.0.1:${f.api.grpcPort}`);
  t.teardown(() => c.close());
  const g = await unary<{ machine: { cpus: number; memTotalBytes: number } }>(c.traffic, 'status', {});
  t.equal(g.machine.cpus, os.cpus().length, 'gRPC Status: the machine');
  const metrics = (await httpRequest(web, '/metrics')).text;
  for (const name of ['node_cpu_seconds_total{cpu="0",mode="idle"', 'node_load1{', 'node_memory_MemTotal_bytes{', 'node_memory_MemAvailable_bytes{',
    `node_filesystem_avail_bytes{mountpoint="${os.tmpdir()}"`, 'node_network_receive_bytes_total{device=', 'process_resident_memory_bytes']) {
    t.ok(metrics.includes(name), `/metrics has ${name}`);
  }
  const total = /node_memory_MemTotal_bytes\{[^}]*\} (\d+)/.exec(metrics);
  t.equal(Number(total?.[1]), os.totalmem(), 'node_memory_MemTotal_bytes: the machine\'s memory');
});
