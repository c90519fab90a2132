/**
 * What reconciliation adds to every interval (src/collector/reconcile.ts): after
 * each drain the collector reads each attached interface's statistics files
 * (readKernel) and adds the interval's totals (add); report() runs only when
 * someone asks (API, /metrics). Beside, in the same run: one HostSampler.sample()
 * (what every /api/status call already costs) as the reference. Medians of
 * rounds of 1000 calls; the interfaces are this machine's own.
 *
 *   node --import tsx bench/reconcile.ts
 */
import fs from 'node:fs';
import { Reconciler } from '../src/collector/reconcile.js';
import { HostSampler } from '../src/system/host.js';
import type { DirectionTotals } from '../src/collector/decode.js';
import { median, printHeader, table } from './lib.js';

const ifaces = fs.readdirSync('/sys/class/net').sort();
const ROUNDS = 15, CALLS = 1000;
const counts: DirectionTotals = { packets: 10, bytes: 1000, flows: 1, overflowPackets: 0, overflowBytes: 0, nonIpPackets: 0, nonIpBytes: 0,
  malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0 };

function perCall(fn: () => void): number {
  const runs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) fn();
    runs.push(Number(process.hrtime.bigint() - t0) / 1e3 / CALLS);
  }
  return median(runs);
}

printHeader('reconciliation: cost per interval');
const rows: string[][] = [];
const host = new HostSampler(undefined);
const reference = perCall(() => host.sample());
for (const n of [1, ifaces.length]) {
  const rec = new Reconciler(undefined, () => '');
  ifaces.slice(0, n).forEach((name, i) => rec.attached(name, i + 1, { ingress: 'xdp-native', egress: 'tcx' }, rec.baseline(name)));
  const interval = perCall(() => {
    rec.readKernel();
    for (let i = 1; i <= n; i++) { rec.add(i, 'ingress', counts); rec.add(i, 'egress', counts); }
  });
  const report = perCall(() => rec.report());
  rows.push([`${n} interface${n > 1 ? 's' : ''}`, interval.toFixed(1), (interval / reference).toFixed(2), (interval / 1e4).toFixed(4), report.toFixed(1)]);
}
process.stdout.write(`# reference: HostSampler.sample() ${reference.toFixed(1)} µs (${ifaces.length} interfaces: ${ifaces.join(', ')}); medians of ${ROUNDS} rounds of ${CALLS} calls\n`);
process.stdout.write(`${table(['attached', 'per interval µs', 'x sample()', '% of a 1 s interval', 'report() µs'], rows)}\n`);
