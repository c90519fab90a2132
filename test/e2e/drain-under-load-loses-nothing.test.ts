/**
 * Drains while traffic runs: the collector drains every 100 ms (A/B table swap)
 * while tcpreplay sends as fast as it can, on both CPUs, into and out of the
 * monitored interface. Summed over all intervals, each flow's packets and bytes
 * equal exactly what crossed the hook: nothing lost, nothing counted twice.
 *
 * One flow per direction, every frame of a flow the same size, so the bytes are
 * packets × size. Into the interface, two replays of the same capture run at
 * once, pinned to different CPUs, so the one flow is counted on two CPUs
 * (per-CPU values summed by the drain). A frame the veth itself drops before
 * the ingress hook (its receive ring or backlog full) never reaches flowlens:
 * the veth counts those in the sender's tx_dropped, and the truth subtracts
 * them explicitly (and checks that the receiving end's rx_packets agrees).
 */
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor, type End, type Lab } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { ipFrame } from '../helpers/packets.js';
import { Collector, defaultConfig } from '../../src/collector/index.js';
import { Tally, flowIdKey, flowKey } from '../helpers/tally.js';

const SRC_MAC = '02:e2:e4:00:00:01';
const DST_MAC = '02:e2:e4:00:00:02'; // nobody's: dropped as PACKET_OTHERHOST after the hooks
const FRAMES = 1000; // per capture
const LOOPS = 100; // 100,000 frames per replay
const INTERVAL_MS = 100;

async function replay(lab: Lab, where: End, file: string, cpu: number | null): Promise<number> {
  const args = ['--topspeed', '-K', `--loop=${LOOPS}`, '-i', where.name, file];
  const r = cpu === null ? await lab.run(where, 'tcpreplay', args, 60_000)
    : await lab.run(where, 'taskset', ['-c', String(cpu), 'tcpreplay', ...args], 60_000);
  const ok = /Successful packets:\s+(\d+)/.exec(r.stdout);
  const failed = /Failed packets:\s+(\d+)/.exec(r.stdout);
  if (r.code !== 0 || !ok || !failed) throw new Error(`tcpreplay failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  if (Number(failed[1]) !== 0) throw new Error(`tcpreplay could not send ${failed[1]} frames:\n${r.stdout}`);
  return Number(ok[1]);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-drain-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

for (const hook of ['xdp', 'tc'] as const) {
  t.test(`drains every ${INTERVAL_MS} ms under load, ${hook} hook: the sum of the intervals is exact`, async (t) => {
    if (!requireKernel(t)) return;
    const lab = createLab(t, { tag: 'dr', layout: 'root', features: { gro: 'off' } });
    const mon = lab.a;
    const x = 1 + (process.pid % 250);
    const cpus = os.availableParallelism();

    // one UDP flow into the interface (300 bytes L3), one out of it (1000 bytes L3)
    const inFrame = ipFrame(DST_MAC, SRC_MAC, { src: `10.231.${x}.7`, dst: `10.231.${x}.8`,
      l4: { proto: 'udp', srcPort: 41000, dstPort: 42000, payload: Buffer.alloc(300 - 28, 0x11) } });
    const outFrame = ipFrame(DST_MAC, SRC_MAC, { src: `fd00:e2e:${x.toString(16)}::8`, dst: `fd00:e2e:${x.toString(16)}::7`,
      l4: { proto: 'udp', srcPort: 43000, dstPort: 44000, payload: Buffer.alloc(1000 - 48, 0x22) } });
    const files = { in: path.join(tmp, `in-${hook}.pcap`), out: path.join(tmp, `out-${hook}.pcap`) };
    for (const [file, f] of [[files.in, inFrame], [files.out, outFrame]] as const) {
      const w = new PcapWriter();
      for (let i = 0; i < FRAMES; i++) w.add(f.frame, 1);
      w.write(file);
    }

    const collector = Collector.open({ ...defaultConfig(), interfaces: [mon.name], hook, intervalMs: INTERVAL_MS });
    t.teardown(() => collector.stop().catch(() => collector.closeNow()));
    const tally = new Tally();
    const perInterval: Array<{ in: number; out: number; end: number }> = [];
    collector.on('interval', (iv) => {
      tally.addInterval(iv);
      const n = (f: typeof inFrame, dir: 'ingress' | 'egress') => {
        for (const g of iv.flows.flows()) {
          if (g.direction === dir && flowIdKey(g) === flowIdKey(f.flow!)) return g.packets;
        }
        return 0;
      };
      perInterval.push({ in: n(inFrame, 'ingress'), out: n(outFrame, 'egress'), end: iv.end });
    });
    const errors: Error[] = [];
    collector.on('error', (e) => errors.push(e));

    const link0 = { mon: lab.stats(mon), peer: lab.stats(lab.b) };
    collector.start();
    const started = Date.now();
    const [in0, in1, out0] = await Promise.all([
      replay(lab, lab.b, files.in, 0),
      replay(lab, lab.b, files.in, cpus > 1 ? 1 : 0),
      replay(lab, mon, files.out, null),
    ]);
    const trafficMs = Date.now() - started;
    // stop() detaches, then drains what is left: frames still on their way through the receive
    // path after that would not be counted, so first let the periodic drains see every frame
    // the interface received (5 s at most)
    const received = lab.stats(mon).rx.packets - link0.mon.rx.packets;
    const seen = (dir: 'ingress' | 'egress', f: typeof inFrame) => tally.flows.get(flowKey(mon.name, dir, f.flow!))?.packets ?? 0;
    await waitFor(() => seen('ingress', inFrame) >= received && seen('egress', outFrame) >= out0, 5000, 50);
    const { bpfErrors } = collector.status();
    await collector.stop();
    const link1 = { mon: lab.stats(mon), peer: lab.stats(lab.b) };

    const dropped = link1.peer.tx.dropped - link0.peer.tx.dropped;
    const arrived = link1.mon.rx.packets - link0.mon.rx.packets;
    const sentIn = in0 + in1;
    t.equal(sentIn, 2 * FRAMES * LOOPS, 'both ingress replays sent everything');
    t.equal(out0, FRAMES * LOOPS, 'the egress replay sent everything');
    t.equal(arrived, sentIn - dropped, `the interface received what was sent minus what the veth dropped (${dropped})`);

    const got = {
      in: tally.flows.get(flowKey(mon.name, 'ingress', inFrame.flow!)),
      out: tally.flows.get(flowKey(mon.name, 'egress', outFrame.flow!)),
    };
    t.same({ packets: got.in?.packets, bytes: got.in?.bytes }, { packets: arrived, bytes: arrived * inFrame.l3Bytes },
      `ingress flow: ${arrived} packets, exactly, summed over ${perInterval.filter((p) => p.in > 0).length} intervals`);
    t.same({ packets: got.out?.packets, bytes: got.out?.bytes }, { packets: out0, bytes: out0 * outFrame.l3Bytes },
      `egress flow: ${out0} packets, exactly, summed over ${perInterval.filter((p) => p.out > 0).length} intervals`);
    t.equal(tally.flows.size, 2, 'no other flows');
    for (const dir of ['ingress', 'egress'] as const) {
      const tot = tally.totals(mon.name, dir);
      const want = dir === 'ingress' ? { p: arrived, b: arrived * inFrame.l3Bytes } : { p: out0, b: out0 * outFrame.l3Bytes };
      t.same({ packets: tot.packets, bytes: tot.bytes, overflow: tot.overflowPackets, nonIp: tot.nonIpPackets, malformed: tot.malformedPackets },
        { packets: want.p, bytes: want.b, overflow: 0, nonIp: 0, malformed: 0 }, `${dir} totals exact`);
    }
    // the point of the test: the traffic really was split across many drains
    const busy = perInterval.filter((p) => p.in > 0 && p.out > 0).length;
    t.ok(busy >= 3, `${busy} intervals drained while both flows were running (traffic took ${trafficMs} ms, ${perInterval.length} intervals)`);
    t.same(errors, [], 'no drain failed');
    // claim_race is not an error: two CPUs inserted one new flow at once and the drain merged the copies
    t.match(bpfErrors, { probe_limit: 0, iface_full: 0, pull: 0 }, 'no BPF program errors');
  });
}
