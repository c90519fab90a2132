/**
 * A pcap the test writes itself (so it knows the truth), replayed with tcpreplay
 * into the ingress of the interface flowlens counts on, and then out of it
 * through TC egress. Every flow's packets and L3 bytes, and every total
 * (IP packets and bytes, non-IP and malformed frames, overflow), must match the
 * truth exactly, with the XDP and the TC ingress hook.
 *
 * The monitored end is in the test's own namespace (so the Collector runs in
 * process); it has no addresses and IPv6 is off on it, so the kernel sends
 * nothing on it by itself. Frames are addressed to a MAC nobody has: the
 * receiving stack drops them as PACKET_OTHERHOST after the hooks saw them, so
 * nothing is routed or answered.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor, type Lab } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { Collector, defaultConfig } from '../../src/collector/index.js';
import { Tally, flowIdKey, flowKey, type Dir } from '../helpers/tally.js';
import { DST_MAC, buildCapture, replay } from '../helpers/replay-capture.js';

const ZERO = { packets: 0, bytes: 0, flows: 0, overflowPackets: 0, overflowBytes: 0,
  nonIpPackets: 0, nonIpBytes: 0, malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0 };

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-pcap-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

for (const hook of ['xdp', 'tc'] as const) {
  t.test(`replayed pcap, ${hook} ingress hook: every flow and every total is exact in both directions`, async (t) => {
    if (!requireKernel(t)) return;
    const lab = createLab(t, { tag: 'pr', layout: 'root', features: { gro: 'off' } });
    const mon = lab.a;
    t.not(mon.mac, DST_MAC, 'the replayed frames are not addressed to the monitored interface');
    t.not(lab.b.mac, DST_MAC, 'nor to its peer');
    const cap = buildCapture(1 + (process.pid % 250));
    const file = path.join(tmp, `replay-${hook}.pcap`);
    const pcap = new PcapWriter();
    for (const f of cap.frames) pcap.add(f.frame);
    pcap.write(file);
    t.ok(cap.truth.flows.size >= 20 && cap.frames.length >= 300, `${cap.truth.flows.size} flows, ${cap.frames.length} frames`);

    const collector = Collector.open({ ...defaultConfig(), interfaces: [mon.name], hook, intervalMs: 3_600_000 });
    t.teardown(() => collector.stop().catch(() => collector.closeNow()));
    t.equal(collector.attached[0].ingress, hook === 'xdp' ? 'xdp-native' : 'tcx', 'ingress hook');
    t.equal(collector.attached[0].egress, 'tcx', 'egress hook');

    // nothing but the replays crosses the link: the first drain must be empty
    const before = new Tally();
    before.addInterval(await collector.drainNow());
    t.same(before.totals(mon.name, 'ingress'), ZERO, 'nothing counted before the replay (ingress)');
    t.same(before.totals(mon.name, 'egress'), ZERO, 'nothing counted before the replay (egress)');
    t.equal(before.flows.size, 0, 'no flows before the replay');

    const runDirection = async (t: Test, dir: Dir) => {
      const tally = new Tally();
      const linkBefore = lab.stats(mon);
      // ingress: replayed on the peer, arrives on the monitored end; egress: replayed on the monitored end itself
      await replay(lab, dir === 'ingress' ? lab.b : mon, file, cap.frames.length);
      // the last frames may still be on their way through the receive path: drain until all
      // frames arrived (or 5 s), and sum the intervals; nothing is tolerated beyond that wait
      const want = cap.truth.packets;
      await waitFor(async () => {
        tally.addInterval(await collector.drainNow());
        const got = tally.totals(mon.name, dir);
        return got.packets >= want && got.nonIpPackets + got.malformedPackets >= 3;
      }, 5000, 100);
      tally.addInterval(await collector.drainNow());
      const linkAfter = lab.stats(mon);
      const side = dir === 'ingress' ? 'rx' : 'tx';
      t.equal(linkAfter[side].packets - linkBefore[side].packets, cap.frames.length,
        `the link counted every replayed frame (${side})`);
      t.equal(linkAfter.rx.dropped - linkBefore.rx.dropped + linkAfter.tx.dropped - linkBefore.tx.dropped, 0, 'no drops on the link');

      // every flow, exactly; and no flow that is not in the capture
      let mismatches = 0;
      for (const f of cap.truth.flows.values()) {
        const got = tally.flows.get(flowKey(mon.name, dir, f));
        if (!got || got.packets !== f.packets || got.bytes !== f.bytes) {
          mismatches++;
          t.fail(`${dir} ${flowIdKey(f)}: want ${f.packets} packets / ${f.bytes} bytes, got ${got ? `${got.packets} / ${got.bytes}` : 'no flow'}`);
        }
      }
      t.equal(mismatches, 0, `all ${cap.truth.flows.size} ${dir} flows have exact packets and bytes`);
      const extra = tally.list(mon.name, dir).filter((f) => !cap.truth.flows.has(flowIdKey(f)));
      t.same(extra.map((f) => flowIdKey(f)), [], `no ${dir} flow that is not in the capture`);
      const other: Dir = dir === 'ingress' ? 'egress' : 'ingress';
      t.same(tally.list(mon.name, other), [], `nothing counted in the other direction (${other})`);

      const { flows, ...tot } = tally.totals(mon.name, dir);
      t.same(tot, {
        packets: cap.truth.packets, bytes: cap.truth.bytes,
        overflowPackets: 0, overflowBytes: 0,
        nonIpPackets: cap.nonIp.packets, nonIpBytes: cap.nonIp.bytes,
        malformedPackets: cap.malformed.packets, malformedBytes: cap.malformed.bytes,
        forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0,
      }, `${dir} totals are exact`);
      // a flow whose frames were drained in two intervals is one entry in each
      t.equal(flows, tally.list(mon.name, dir).reduce((n, f) => n + f.intervals, 0), 'flow entries add up');
      t.same(tally.totals(mon.name, other), ZERO, `nothing at all in the other direction (${other})`);
      // claim_race is not an error: two CPUs inserted one new flow at once and the drain merged the copies
      t.match(collector.status().bpfErrors, { probe_limit: 0, iface_full: 0, pull: 0 }, 'no BPF program errors');
    };

    await t.test('into the monitored interface (ingress)', async (t) => runDirection(t, 'ingress'));
    await t.test('out of the monitored interface (TC egress)', async (t) => runDirection(t, 'egress'));
    // the status keeps each interface's own counts since start: both replays
    t.match(collector.status().attachments.find((a) => a.iface === mon.name),
      { nonIpPackets: 2 * cap.nonIp.packets, malformedPackets: 2 * cap.malformed.packets, overflowPackets: 0 },
      'per-interface non-IP, malformed and overflow packets in the status');
  });
}
