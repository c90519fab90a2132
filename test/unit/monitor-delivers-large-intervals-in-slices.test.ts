/**
 * A large interval (10k flows or more) reaches the consumers one per turn of
 * the event loop, so the APIs answer between them; each consumer still gets
 * every interval whole and in order, with exact totals. When the next interval
 * arrives before a delivery is done, the rest of it is done at once, first,
 * and counted (status lateDeliveries, flowlens_late_deliveries_total on /metrics);
 * the interval after it has its talkers coarsened (the largest keys and "other"),
 * counted too, with traffic, talker sums and the history's totals exact.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { configFrom, type FlowlensConfig } from '../../src/config/index.js';
import { Monitor, type Consumer } from '../../src/monitor.js';
import { FlowMetrics } from '../../src/api/metrics.js';
import { Store } from '../../src/store/index.js';
import { COARSE_TALKERS } from '../../src/flows/coarsen.js';
import type { IntervalStats } from '../../src/flows/types.js';
import { FakeCollector } from '../helpers/fake-collector.js';
import type { FlowSpec } from '../helpers/flow-batch.js';
import { tempDataDir } from '../helpers/intervals.js';

const HOST = '192.168.0.1';
/** Conversations per interval: 2 flows each, 12k flows (over the 10k at which delivery is sliced). */
const CONVERSATIONS = 6000;

function settings(t: Test): FlowlensConfig {
  const file = path.join(tempDataDir(t, 'slices'), 'flowlens.yaml');
  writeFileSync(file, '{}\n');
  return configFrom({ file, env: {}, flags: { iface: 'eth0', host: 'fake-host' } });
}

/** Both directions of CONVERSATIONS conversations, `k` bytes per flow more in interval k: the totals tell intervals apart. */
function flows(k: number, at: number): FlowSpec[] {
  const out: FlowSpec[] = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const local = `192.168.${(i >> 8) & 0xff}.${i & 0xff}`;
    const remote = `203.0.${(i >> 8) & 0xff}.${i & 0xff}`;
    out.push({ direction: 'egress', protocol: 17, src: local, dst: remote, srcPort: 40000, dstPort: 53, packets: 1, bytes: 100 + k, firstSeen: at, lastSeen: at });
    out.push({ direction: 'ingress', protocol: 17, src: remote, dst: local, srcPort: 53, dstPort: 40000, packets: 2, bytes: 1000 + k, firstSeen: at, lastSeen: at });
  }
  return out;
}

const trafficBytes = (s: IntervalStats) => s.traffic.reduce((a, r) => a + r.bytes, 0);
const talkerBytes = (s: IntervalStats) => s.talkers.ip.reduce((a, r) => a + r.bytesUp + r.bytesDown, 0);
const expectedBytes = (k: number) => CONVERSATIONS * (1100 + 2 * k);

function recorder(name: string, marks: string[], got: IntervalStats[]): Consumer {
  return { name, add: (s) => { marks.push(name); if (name === 'first') got.push(s); } };
}

t.test('each consumer gets a large interval in a turn of its own, whole', async (t) => {
  const fake = new FakeCollector();
  const marks: string[] = [];
  const got: IntervalStats[] = [];
  const monitor = new Monitor(settings(t), { openCollector: () => fake, consumers: [recorder('first', marks, got), recorder('second', marks, [])], hostAddresses: () => [HOST] });
  monitor.start();
  const now = Date.now();
  fake.drain({ end: now, flows: flows(1, now - 500) });
  t.same(marks, [], 'nothing delivered inside the drain');
  t.ok(monitor.busy, 'the delivery is pending');
  // a mark at every turn of the event loop while the interval is taken
  let turning = true;
  const turn = () => { if (!turning) return; marks.push('turn'); setImmediate(turn); };
  setImmediate(turn);
  t.equal(monitor.processor.live.size, 0, 'the live view stays the previous interval while the flows are taken');
  await monitor.idle();
  turning = false;
  const first = marks.indexOf('first');
  const second = marks.indexOf('second');
  t.ok(marks.slice(0, first).includes('turn'), 'the event loop turned between the drain and the first consumer (the flows stage takes a large interval in steps)');
  t.ok(second > first && marks.slice(first, second).includes('turn'), 'the event loop turned between the consumers');
  t.equal(monitor.processor.live.size, CONVERSATIONS, 'the live view has the interval once it is taken');
  t.equal(trafficBytes(got[0]!), expectedBytes(1), 'traffic exact');
  t.equal(talkerBytes(got[0]!), expectedBytes(1), 'talkers sum to the traffic');
  t.equal(got[0]!.talkers.ip.length, CONVERSATIONS, 'every remote');
  t.equal(monitor.status().lateDeliveries, 0, 'nothing late');
  await monitor.stop();
});

t.test('an interval that arrives during a delivery waits for it: in order, exact, counted, and coarsened', async (t) => {
  const fake = new FakeCollector();
  const marks: string[] = [];
  const got: IntervalStats[] = [];
  const store = Store.open({ dataDir: tempDataDir(t, 'slices-history') });
  t.teardown(() => store.close());
  const history: Consumer = { name: 'history', add: (s) => store.add(s) };
  const monitor = new Monitor(settings(t), { openCollector: () => fake, consumers: [recorder('first', marks, got), history, recorder('second', marks, [])], hostAddresses: () => [HOST] });
  const metrics = new FlowMetrics(100, { host: 'fake-host' }, undefined, undefined, undefined, undefined, () => monitor.lateDeliveries, () => monitor.coarsenedIntervals);
  monitor.start();
  const now = Date.now();
  fake.drain({ end: now, flows: flows(1, now - 500) });
  fake.drain({ end: now + 1000, flows: flows(2, now + 500) });
  t.same(marks, ['first', 'second'], 'the first interval reached every consumer before the second was delivered');
  await monitor.idle();
  t.same(marks, ['first', 'second', 'first', 'second']);
  t.same(got.map(trafficBytes), [expectedBytes(1), expectedBytes(2)], 'both intervals, in order, exact');
  t.same(got.map(talkerBytes), [expectedBytes(1), expectedBytes(2)]);
  t.equal(monitor.status().lateDeliveries, 1, 'in the status');
  const text = await metrics.text();
  t.match(text, /\nflowlens_late_deliveries_total\{host="fake-host"\} 1\n/, 'on /metrics');

  // behind: the second interval's talkers were cut to the largest keys and "other"
  t.equal(got[0]!.talkers.ip.length, CONVERSATIONS, 'the first interval: every remote');
  t.equal(got[1]!.talkers.ip.length, COARSE_TALKERS + 1, 'the second: the largest remotes and "other"');
  t.match(got[1]!.talkers.ip.at(-1), { key: '', bytesUp: (CONVERSATIONS - COARSE_TALKERS) * 102, bytesDown: (CONVERSATIONS - COARSE_TALKERS) * 1002 }, '"other" sums the rest');
  t.same(got[1]!.talkers.proto.map((r) => [r.key, r.bytesUp + r.bytesDown]), [['udp', expectedBytes(2)]], 'a small dimension untouched');
  t.equal(monitor.status().coarsenedIntervals, 1, 'counted in the status');
  t.match(text, /\nflowlens_coarsened_intervals_total\{host="fake-host"\} 1\n/, 'and on /metrics');

  // stop: a delivery still pending reaches the consumers before the ended sessions do
  fake.last = { end: now + 2000, flows: flows(3, now + 1500) };
  const stopping = monitor.stop();
  await stopping;
  t.same(got.map(trafficBytes), [expectedBytes(1), expectedBytes(2), expectedBytes(3), 0], 'the last drain, then the ended sessions');
  t.equal(got.at(-1)!.endedSessions.length, CONVERSATIONS, 'every session ended at stop');
  const all = expectedBytes(1) + expectedBytes(2) + expectedBytes(3);
  t.equal(got.at(-1)!.endedSessions.reduce((a, s) => a + s.bytesUp + s.bytesDown, 0), all, 'with every byte');

  // the history: its traffic and its talkers' total exact, the coarsened interval included
  store.flush();
  t.equal(store.summary().today.total, all, 'history traffic exact');
  const top = store.topTalkers({ dimension: 'ip', from: now - 3_600_000, to: now + 3_600_000 });
  t.equal(top.total.bytes, all, 'history talkers sum to it');
});

t.test("the rest a consumer returns runs in a turn of its own, before the next consumer; one that throws is counted", async (t) => {
  const fake = new FakeCollector();
  const marks: string[] = [];
  const split: Consumer = { name: 'split', add: () => { marks.push('split'); return () => { marks.push('split-rest'); }; } };
  const failing: Consumer = { name: 'failing', add: () => () => { throw new Error('snapshot failed'); } };
  const monitor = new Monitor(settings(t), { openCollector: () => fake, consumers: [split, failing, recorder('last', marks, [])], hostAddresses: () => [HOST] });
  const errors: string[] = [];
  monitor.on('error', (e) => errors.push(e.message));
  monitor.start();
  const now = Date.now();
  fake.drain({ end: now, flows: flows(1, now - 500) });
  let turning = true;
  const turn = () => { if (!turning) return; marks.push('turn'); setImmediate(turn); };
  setImmediate(turn);
  await monitor.idle();
  turning = false;
  const order = marks.filter((m) => m !== 'turn');
  t.same(order, ['split', 'split-rest', 'last'], 'the rest before the next consumer');
  const at = (m: string) => marks.indexOf(m);
  t.ok(marks.slice(at('split'), at('split-rest')).includes('turn'), 'the event loop turned between a consumer and its rest');
  t.match(monitor.status().consumerErrors, { failing: { count: 1, last: 'snapshot failed' } }, "a rest's failure is the consumer's");
  t.same(errors, ['failing: snapshot failed'], 'and reported');

  // a small interval: all of it in the drain's turn, the rest too
  marks.length = 0;
  fake.drain({ end: now + 1000, flows: flows(2, now + 500).slice(0, 10) });
  t.same(marks, ['split', 'split-rest', 'last'], 'a small interval: everything at once');
  await monitor.stop();
});
