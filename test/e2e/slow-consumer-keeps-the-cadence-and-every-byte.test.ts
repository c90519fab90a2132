/**
 * A consumer slower than the interval: every other 'interval' listener call
 * blocks the event loop for 1.5 intervals while tcpreplay sends a known
 * capture into the monitored interface. The collector does not stretch its
 * cadence by the listener's time without saying so: every tick that went by
 * during a slow call is counted in status().lateIntervals; the intervals stay
 * contiguous (each starts where the one before ended); and summed over all of
 * them every flow's packets and bytes are exactly what the interface received.
 */
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { ipFrame } from '../helpers/packets.js';
import { TruthTable } from '../helpers/tally.js';
import { Collector, defaultConfig } from '../../src/collector/index.js';
import { Tally, flowKey } from '../helpers/tally.js';

const SRC_MAC = '02:e2:e5:00:00:01';
const DST_MAC = '02:e2:e5:00:00:02'; // nobody's: dropped after the hooks
const FLOWS = 200;
const LOOPS = 10;
const INTERVAL_MS = 200;

/** Blocks the event loop, as a consumer's synchronous work does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* working */ }
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-cadence-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('a slow interval listener: late ticks counted, intervals contiguous, totals exact', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'cad', layout: 'root' });
  const mon = lab.a;
  const x = 1 + (process.pid % 250);
  const truth = new TruthTable();
  const pcap = new PcapWriter();
  for (let i = 0; i < FLOWS; i++) {
    const f = ipFrame(DST_MAC, SRC_MAC, { src: `10.233.${x}.${1 + (i % 200)}`, dst: `10.233.${x}.250`,
      l4: { proto: 'udp', srcPort: 20000 + i, dstPort: 53, payload: Buffer.alloc(40 + (i % 50)) } });
    truth.add(f);
    pcap.add(f.frame);
  }
  const file = path.join(tmp, 'flows.pcap');
  pcap.write(file);

  const collector = Collector.open({ ...defaultConfig(), interfaces: [mon.name], hook: 'xdp', intervalMs: INTERVAL_MS });
  t.teardown(() => collector.stop().catch(() => collector.closeNow()));
  const tally = new Tally();
  const spans: Array<{ start: number; end: number }> = [];
  let slowCalls = 0;
  collector.on('interval', (iv) => {
    tally.addInterval(iv);
    spans.push({ start: iv.start, end: iv.end });
    if (spans.length % 2 === 0) {
      slowCalls++;
      busy(1.5 * INTERVAL_MS);
    }
  });
  const errors: Error[] = [];
  collector.on('error', (e) => errors.push(e));

  const link0 = lab.stats(mon);
  collector.start();
  // ~2000 frames a second for ~1 s: spread over several intervals, slow and fast ones
  const r = await lab.run(lab.b, 'tcpreplay', ['--pps=2000', `--loop=${LOOPS}`, '-i', lab.b.name, file], 60_000);
  t.equal(r.code, 0, `tcpreplay ran\n${r.stderr}`);
  const received = lab.stats(mon).rx.packets - link0.rx.packets;
  await waitFor(() => [...tally.flows.values()].reduce((s, f) => s + f.packets, 0) >= received, 10_000, 50);
  const late = collector.status().lateIntervals;
  await collector.stop();

  t.equal(received, FLOWS * LOOPS, 'the interface received every frame sent');
  let packets = 0, bytes = 0, exact = 0;
  for (const want of truth.flows.values()) {
    const got = tally.flows.get(flowKey(mon.name, 'ingress', want));
    packets += got?.packets ?? 0;
    bytes += got?.bytes ?? 0;
    if (got?.packets === want.packets * LOOPS && got.bytes === want.bytes * LOOPS) exact++;
  }
  t.equal(exact, FLOWS, `every one of the ${FLOWS} flows has exactly its packets and bytes`);
  t.same({ packets, bytes }, { packets: truth.packets * LOOPS, bytes: truth.bytes * LOOPS }, 'summed over all intervals: exact');
  t.equal(tally.flows.size, FLOWS, 'no other flows');
  const tot = tally.totals(mon.name, 'ingress');
  t.same({ packets: tot.packets, bytes: tot.bytes, overflow: tot.overflowPackets },
    { packets: truth.packets * LOOPS, bytes: truth.bytes * LOOPS, overflow: 0 }, 'interface totals exact');

  const gaps = spans.slice(1).filter((s, i) => s.start !== spans[i].end);
  t.same(gaps, [], `${spans.length} intervals, each starting where the one before ended`);
  // a slow call blocks 1.5 intervals from after its drain: at least one tick goes by in each
  const slowBeforeStop = slowCalls - (spans.length % 2 === 0 ? 1 : 0); // the last one may be the stop() drain's
  t.ok(late >= slowBeforeStop && slowBeforeStop >= 2, `late ticks counted: ${late} for ${slowBeforeStop} slow listener calls`);
  const periods = spans.slice(1, -1).map((s) => Math.round(s.end - s.start));
  t.comment(`interval lengths (ms): ${periods.join(' ')}`);
  t.same(errors, [], 'no drain failed');
});
