/**
 * The reconciliation rule without a kernel (src/collector/reconcile.ts): hand
 * made interface counters and interval totals, each term checked, the spans
 * (since the attach, the latest interval) and a re-attach.
 */
import t from 'tap';
import { Reconciler, reconcileDirection } from '../../src/collector/reconcile.js';
import type { LinkCounters } from '../../src/system/link-counters.js';
import type { DirectionTotals } from '../../src/collector/decode.js';

const counters = (o: Partial<LinkCounters> = {}): LinkCounters => ({ rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txDropped: 0,
  rxErrors: 0, txErrors: 0, rxMissed: 0, ...o });
const totals = (o: Partial<DirectionTotals> = {}): DirectionTotals => ({ packets: 0, bytes: 0, flows: 0, overflowPackets: 0, overflowBytes: 0,
  nonIpPackets: 0, nonIpBytes: 0, malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0, ...o });

t.test('every term, on a NIC (Ethernet bytes counted)', async (t) => {
  // 100 IP packets of 1000 L3 bytes, 10 of them overflow; 2 super-packets of 45 segments (88 added, 52-byte headers);
  // 3 forwarded of 500; 4 ARP frames of 42; 1 malformed frame of 30
  const f = totals({ packets: 190, bytes: 190_000, overflowPackets: 10, overflowBytes: 10_000, gsoAddedPackets: 88, gsoAddedBytes: 88 * 52,
    forwardedPackets: 3, forwardedBytes: 1500, nonIpPackets: 4, nonIpBytes: 168, malformedPackets: 1, malformedBytes: 30 });
  const frames = 190 + 3 - 88;
  const kernel = counters({ txPackets: frames + 4 + 1, txBytes: 190_000 + 1500 - 88 * 52 + 14 * frames + 168 + 30, txDropped: 2 });
  const r = reconcileDirection('egress', kernel, f, false);
  t.same(r.terms.map((x) => [x.term, x.packets, x.bytes]), [
    ['flows', 180, 180_000], ['overflow', 10, 10_000], ['forwarded', 3, 1500], ['non-ip', 4, 168], ['malformed', 1, 30],
    ['gso', -88, -88 * 52], ['ethernet', 0, 14 * frames],
  ], 'the terms, in order');
  t.same(r.unexplained, { packets: 0, bytes: 0 }, 'nothing unexplained');
  t.same(r.kernel, { packets: frames + 5, bytes: kernel.txBytes, dropped: 2, errors: 0 }, 'tx counters for egress');
  t.match(r.notes, [{ term: 'tx_dropped', packets: 2 }, { term: 'tx_errors', packets: 0 }], 'drops are notes, outside the sums');

  const strip = reconcileDirection('ingress', counters({ rxPackets: frames + 5, rxBytes: kernel.txBytes - 14 * (frames + 5) }), f, true);
  t.same(strip.terms.at(-1), { term: 'veth-xdp-rx', packets: 0, bytes: -14 * (frames + 5), why: strip.terms.at(-1)!.why }, 'veth with native XDP: 14 bytes less per frame, non-IP ones too');
  t.same(strip.unexplained, { packets: 0, bytes: 0 }, 'explained');
  const missing = reconcileDirection('ingress', counters({ rxPackets: frames + 5 + 7, rxBytes: kernel.txBytes + 7 * 100 }), f, false);
  t.same(missing.unexplained, { packets: 7, bytes: 700 }, 'what flowlens did not see is left, not hidden');
});

t.test('spans: since the attach and the latest interval; a re-attach starts a new span', async (t) => {
  let now = counters({ rxPackets: 50, rxBytes: 5000, txPackets: 40, txBytes: 4000 });
  let clock = 1000;
  const rec = new Reconciler(() => now, () => '', () => clock);
  const info = { ingress: 'xdp-native', egress: 'tcx' };
  rec.attached('eth0', 2, info, rec.baseline('eth0'));
  t.same(rec.report()[0]!.interval, null, 'no interval before the first drain');
  for (const n of [1, 2]) {
    now = { ...now, rxPackets: now.rxPackets + 10, rxBytes: now.rxBytes + 10 * 114, txPackets: now.txPackets + 3, txBytes: now.txBytes + 3 * 74 };
    clock += 1000;
    rec.readKernel();
    rec.add(2, 'ingress', totals({ packets: 10, bytes: 1000, flows: 1 }));
    rec.add(2, 'egress', totals({ packets: 3, bytes: 180, flows: 1 }));
    rec.add(99, 'egress', totals({ packets: 1000 }));  // another interface: not this one's
    const r = rec.report()[0]!;
    t.same([r.sinceAttach.ingress.kernel.packets, r.sinceAttach.ingress.flowlens.packets], [10 * n, 10 * n], `after drain ${n}: both sides since the attach`);
    t.same([r.interval!.egress.kernel.packets, r.interval!.egress.flowlens.packets], [3, 3], `after drain ${n}: the interval alone`);
    t.ok(r.explained, `after drain ${n}: explained`);
    t.same(r.kernelBeforeAttach, { rxPackets: 50, rxBytes: 5000, txPackets: 40, txBytes: 4000 }, 'what the kernel had before');
    t.same([r.since, r.at], [1000, clock], 'the span');
  }
  // re-created with a new ifindex: counters start from 0 again
  now = counters({ rxPackets: 1, rxBytes: 60 });
  rec.attached('eth0', 9, info, rec.baseline('eth0'));
  const list = rec.report();
  t.same(list.map((r) => r.ifindex), [9], 'only the new ifindex is reported');
  t.same(list[0]!.kernelBeforeAttach.rxPackets, 1, 'its own baseline');
});
