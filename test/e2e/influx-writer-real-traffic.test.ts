/**
 * `flowlens run` with the InfluxDB writer on, counting replayed traffic on a
 * veth, writing to a real server (victoria-metrics, v2 write API) started by
 * the test:
 *  - what the server holds matches the traffic sent and flowlens's own NDJSON
 *    for the same intervals, byte for byte, also across an outage in the
 *    middle of the traffic (flowlens kept counting, the backlog arrived, the
 *    retries show in its health points, nothing was dropped);
 *  - two flowlens processes on two interfaces with two host tags write to one
 *    server, and a query sums them.
 */
import t, { type Test } from 'tap';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor, type End, type Lab } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { ipFrame } from '../helpers/packets.js';
import { CliRun, cliBuilt } from '../helpers/flowlens-cli.js';
import { VictoriaMetrics } from '../helpers/victoria-metrics.js';

const SRC_MAC = '02:e2:e6:00:00:01';
const DST_MAC = '02:e2:e6:00:00:02'; // nobody's: the frames die after the hooks, nothing answers
const REMOTE = '198.51.100.7'; // a public address (TEST-NET-2): scope internet, the remote end

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-influx-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** n UDP frames from the remote to a local address, 300 bytes at L3 each. */
function capture(name: string, n: number, local: string): { file: string; packets: number; bytes: number } {
  const f = ipFrame(DST_MAC, SRC_MAC, { src: REMOTE, dst: local, l4: { proto: 'udp', srcPort: 443, dstPort: 50000, payload: Buffer.alloc(300 - 28) } });
  const w = new PcapWriter();
  for (let i = 0; i < n; i++) w.add(f.frame);
  const file = path.join(tmp, name);
  w.write(file);
  return { file, packets: n, bytes: n * f.l3Bytes };
}

async function replay(lab: Lab, where: End, file: string, n: number): Promise<void> {
  const r = await lab.run(where, 'tcpreplay', ['--topspeed', '-i', where.name, file], 30_000);
  if (r.code !== 0 || !new RegExp(`Successful packets:\\s+${n}\\b`).test(r.stdout)) throw new Error(`tcpreplay failed:\n${r.stdout}\n${r.stderr}`);
}

interface NdjsonInterval { type: string; traffic?: { iface: string; direction: string; scope: string; bytes: number; packets: number }[] }

/** flowlens's own count: its NDJSON interval lines, down/internet on the interface. */
function ownCount(run: CliRun, iface: string): { bytes: number; packets: number } {
  let bytes = 0, packets = 0;
  for (const l of run.stdout.split('\n')) {
    if (!l.startsWith('{"type":"interval"')) continue;
    for (const r of (JSON.parse(l) as NdjsonInterval).traffic ?? []) {
      if (r.iface === iface && r.direction === 'down' && r.scope === 'internet') { bytes += r.bytes; packets += r.packets; }
    }
  }
  return { bytes, packets };
}

function start(t: Test, lab: Lab, vm: VictoriaMetrics, host: string): CliRun {
  const config = path.join(tmp, `${host}.yaml`);
  // a 1 s write period and short back-off keep the test short; the rest are the defaults
  writeFileSync(config, `influx:\n  url: ${vm.url}\n  org: e2e\n  bucket: flowlens\n  interval: 1s\n  retryMin: 200ms\n  retryMax: 1s\n`);
  const run = CliRun.start(lab, lab.a, ['--config', config, '--host', host, '--interval', '1s', '--no-history', '--no-api']);
  t.teardown(() => run.stop('SIGKILL'));
  return run;
}

/** Σ over all stored samples of a metric with these labels. */
async function stored(vm: VictoriaMetrics, selector: string): Promise<number> {
  const series = await vm.export(selector);
  return series.flatMap((s) => s.values).reduce((a, b) => a + b, 0);
}

t.test('the server holds exactly the traffic sent, across an outage in the middle of it', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
  const vm = await VictoriaMetrics.start();
  t.teardown(() => vm.destroy());
  const lab = createLab(t, { tag: 'ix', layout: 'root' });
  const host = `e2e-${process.pid}-ix`;
  const local = `10.77.${process.pid % 250}.2`;
  const run = start(t, lab, vm, host);
  t.ok(await run.waitFor((r) => r.lines > 0, 30_000), `flowlens started ${run.stderr}`);

  const before = capture('before.pcap', 40, local);
  const during = capture('during.pcap', 70, local);
  const after = capture('after.pcap', 25, local);
  await replay(lab, lab.b, before.file, before.packets);
  await waitFor(async () => (await stored(vm, `{__name__="flowlens_traffic_bytes", host="${host}"}`)) === before.bytes, 15_000);

  await vm.stop();
  await replay(lab, lab.b, during.file, during.packets);
  t.ok(await run.waitFor((r) => ownCount(r, lab.a.name).packets === before.packets + during.packets, 15_000),
    'flowlens counted the traffic sent while InfluxDB was down');
  // a few write periods go by with the server down
  await new Promise((r) => setTimeout(r, 3000));
  await vm.resume();
  await replay(lab, lab.b, after.file, after.packets);
  t.ok(await run.waitFor((r) => ownCount(r, lab.a.name).packets === before.packets + during.packets + after.packets, 15_000));
  const exit = await run.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: exit 0 after the final flush');
  t.equal(run.stderr, '', 'nothing on stderr');

  const truth = { bytes: before.bytes + during.bytes + after.bytes, packets: before.packets + during.packets + after.packets };
  t.same(ownCount(run, lab.a.name), truth, 'flowlens counted every frame');
  const sel = (field: string, extra = '') => `{__name__="flowlens_traffic_${field}", host="${host}", iface="${lab.a.name}", direction="down", scope="internet"${extra}}`;
  t.equal(await stored(vm, sel('bytes')), truth.bytes, 'bytes in InfluxDB = bytes sent = flowlens\'s own count');
  t.equal(await stored(vm, sel('packets')), truth.packets, 'packets too');
  t.equal(await stored(vm, `{__name__="flowlens_traffic_bytes", host="${host}", direction="up"}`), 0, 'nothing up');
  t.equal(await stored(vm, `{__name__="flowlens_talkers_bytes_down", host="${host}", dimension="ip", key="${REMOTE}"}`), truth.bytes,
    'the remote address as a talker');
  t.equal(await stored(vm, `{__name__="flowlens_talkers_bytes_down", host="${host}", dimension="host", key="${local}"}`), truth.bytes,
    'the local address as a talker');
  t.ok(await stored(vm, `{__name__="flowlens_health_sink_retries", host="${host}"}`) > 0, 'the outage shows as retries in the health points');
  t.equal(await stored(vm, `{__name__="flowlens_health_sink_points_dropped", host="${host}"}`), 0, 'nothing dropped (the buffer had room)');
});

t.test('two flowlens on two interfaces, two host tags, one server: a query sums them', async (t) => {
  if (!requireKernel(t)) return;
  const vm = await VictoriaMetrics.start();
  t.teardown(() => vm.destroy());
  const sides = ['ia', 'ib'].map((tag, i) => {
    const lab = createLab(t, { tag, layout: 'root' });
    const host = `e2e-${process.pid}-${tag}`;
    return { lab, host, run: start(t, lab, vm, host), traffic: capture(`${tag}.pcap`, 30 + 20 * i, `10.78.${i}.2`) };
  });
  for (const s of sides) t.ok(await s.run.waitFor((r) => r.lines > 0, 30_000), `${s.host} started ${s.run.stderr}`);
  await Promise.all(sides.map((s) => replay(s.lab, s.lab.b, s.traffic.file, s.traffic.packets)));
  for (const s of sides) {
    t.ok(await s.run.waitFor((r) => ownCount(r, s.lab.a.name).packets === s.traffic.packets, 15_000));
    t.same(await s.run.stop('SIGTERM'), { code: 0, signal: null });
  }
  for (const s of sides) {
    t.equal(await stored(vm, `{__name__="flowlens_traffic_bytes", host="${s.host}", iface="${s.lab.a.name}"}`), s.traffic.bytes, `${s.host}: its own bytes`);
  }
  // a minute ahead: a query at "now" leaves out the points stamped this very moment
  const now = Date.now() + 60_000;
  const hosts = sides.map((s) => s.host).join('|');
  const sum = await vm.query(`sum(sum_over_time(flowlens_traffic_bytes{host=~"${hosts}"}[10m]))`, now);
  t.same(sum.map((r) => r.value), [sides[0].traffic.bytes + sides[1].traffic.bytes], 'the fleet sum');
  const perHost = await vm.query(`sum by (host) (sum_over_time(flowlens_traffic_bytes{host=~"${hosts}"}[10m]))`, now);
  t.same(perHost.map((r) => [r.metric.host, r.value]).sort(), sides.map((s) => [s.host, s.traffic.bytes]).sort(), 'and per host');
});
