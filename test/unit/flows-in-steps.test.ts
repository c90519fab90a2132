/**
 * The flows stage taken in steps (FlowProcessor.begin / step / finish), as the
 * monitor takes a large interval so the event loop turns between steps: the
 * same stats, sessions and flow ids as one process() of the same flows, and
 * between steps the live view is the previous interval's, whole (no new
 * session of the interval in steps, no count of it, the same latest deltas).
 */
import t from 'tap';
import { FlowProcessor } from '../../src/flows/processor.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import type { LiveSessions } from '../../src/flows/live.js';
import type { IntervalStats } from '../../src/flows/types.js';
import { flowBatch, totalsFor, type FlowSpec } from '../helpers/flow-batch.js';

const HOST = '10.9.0.2';

function processor(maxSessions = 100_000): FlowProcessor {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, [HOST]);
  return new FlowProcessor({ sessions: { ...defaultSessionConfig(), maxSessions }, filters: { ignore: [{ port: [5353] }], keep: [] } }, classifier);
}

/**
 * Interval k's flows: conversations 0..n-1 of a mix (TCP and UDP to public
 * addresses, LAN peers, ICMP, IPv6, a filtered port), each conversation sending
 * in interval k when (i + k) % 3 != 0, so every interval has known, returning
 * and new sessions; flow ids on for even conversations, raw keys for odd ones.
 */
function specs(n: number, k: number): FlowSpec[] {
  const out: FlowSpec[] = [];
  const base = 1_000_000 + k * 1000;
  for (let i = 0; i < n; i++) {
    if ((i + k) % 3 === 0) continue;
    const kind = i % 5;
    const remote = kind === 3 ? `2001:db8::${(i % 60000).toString(16)}` : kind === 1 ? `10.9.${(i >> 8) & 0xff}.${i & 0xff}` : `203.0.${(i >> 8) & 0xff}.${i & 0xff}`;
    const local = kind === 3 ? '2001:db8:1::2' : HOST;
    const protocol = kind === 3 ? 17 : kind === 4 ? 1 : kind === 2 ? 17 : 6;
    const port = 40000 + (i % 20000);
    const dstPort = kind === 2 && i % 7 === 0 ? 5353 : 443;
    const ids = i % 2 === 0 ? (d: number) => ({ flowId: 2 * i + d }) : () => ({});
    const icmp = protocol === 1;
    out.push({ direction: 'egress', protocol, src: local, dst: remote, srcPort: icmp ? 8 : port, dstPort: icmp ? 0 : dstPort, packets: 1 + (i % 4), bytes: 100 + i, tcpFlags: k === 0 ? 0x02 : 0x10, firstSeen: base + (i % 500), lastSeen: base + 500 + (i % 400), ...ids(0) });
    if (i % 4 !== 1) out.push({ direction: 'ingress', protocol, src: remote, dst: local, srcPort: icmp ? 0 : dstPort, dstPort: icmp ? 0 : port, packets: 2, bytes: 1000 + 3 * i, tcpFlags: k === 0 ? 0x12 : 0x10, firstSeen: base + 1 + (i % 500), lastSeen: base + 600, ...ids(1) });
  }
  return out;
}

function input(n: number, k: number) {
  const s = specs(n, k);
  const end = 1_001_000 + k * 1000;
  return { start: end - 1000, end, flows: flowBatch(s, end - 500), totals: totalsFor(s) };
}

/** What a reader of the live view sees: every session's record and latest deltas, and the view's counters. */
function view(live: LiveSessions) {
  const sessions = [...live.values()].map((s) => ({ ...s.toRecord(), latest: [live.latestBytesUp(s), live.latestBytesDown(s), live.latestPacketsUp(s), live.latestPacketsDown(s)], isNew: live.isNew(s) }));
  return { size: live.size, intervals: live.intervals, moved: live.moved().map((s) => s.id), sessions };
}

const N = 3000;

t.test('in steps of any size: the same stats, sessions, view and released flow ids as one process()', async (t) => {
  for (const stepFlows of [1, 7, 500, 4096]) {
    // 2000 sessions at most: some conversations are counted untracked, as on a full table
    const whole = processor(2000);
    const stepped = processor(2000);
    for (let k = 0; k < 5; k++) {
      const expected = whole.process(input(N, k));
      stepped.begin(input(N, k));
      let steps = 0;
      while (!stepped.step(stepFlows)) steps++;
      const got = stepped.finish();
      t.ok(steps > 0 || stepFlows >= N, 'it took more than one step');
      t.same(got, expected, `interval ${k} in steps of ${stepFlows}: the same stats`);
      t.same(view(stepped.live), view(whole.live), `interval ${k} in steps of ${stepFlows}: the same live view after`);
      t.same([...stepped.takeReleasedFlowIds()].sort(), [...whole.takeReleasedFlowIds()].sort(), `interval ${k}: the same flow ids released`);
      t.same(stepped.status(), whole.status(), `interval ${k}: the same status`);
    }
  }
});

t.test('between steps the live view is the previous interval, whole', async (t) => {
  const p = processor();
  const first: IntervalStats = p.process(input(N, 0));
  t.ok(first.activeSessions > 1000, 'sessions to look at');
  const before = view(p.live);
  t.ok(before.sessions.some((s) => s.latest[1]! > 0), 'the view has latest deltas to keep');
  p.begin(input(N, 1));
  t.ok(p.inProgress);
  for (let i = 0; i < 5; i++) {
    p.step(400);
    t.same(view(p.live), before, `after step ${i + 1}: the view is unchanged (no new session, no count of the interval in steps)`);
    const visited: string[] = [];
    p.live.forEach((s) => visited.push(s.id));
    t.same(visited, [...p.live.values()].map((s) => s.id), `after step ${i + 1}: forEach visits what values() gives`);
  }
  const second = p.finish();
  t.notOk(p.inProgress);
  const after = view(p.live);
  t.equal(after.intervals, before.intervals + 1, 'the view moves to the interval once it completes');
  t.equal(after.size, second.activeSessions, 'with its new sessions');
  let visited = 0;
  p.live.forEach(() => visited++);
  t.equal(visited, after.size, 'forEach visits them all');
  t.ok(after.sessions.length > before.sessions.length, 'the interval began sessions');
});

t.test('an interval begun is finished before the next begins', async (t) => {
  const p = processor();
  p.begin(input(10, 0));
  t.throws(() => p.begin(input(10, 1)), /not finished/);
  p.finish();
  t.throws(() => p.step(10), /no interval begun/);
  t.throws(() => p.finish(), /no interval begun/);
});

t.test('a conversation over intervals in steps of one flow: its counts, flags and last packet as the flows say', async (t) => {
  const p = processor();
  const PUBLIC = '203.0.113.9';
  const flows = (k: number, flags: [number, number]): FlowSpec[] => [
    { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 50000, dstPort: 443, packets: 3, bytes: 300, tcpFlags: flags[0], firstSeen: 1_000_100 + k * 1000, lastSeen: 1_000_700 + k * 1000, flowId: 1 },
    { direction: 'ingress', protocol: 6, src: PUBLIC, dst: HOST, srcPort: 443, dstPort: 50000, packets: 5, bytes: 5000, tcpFlags: flags[1], firstSeen: 1_000_050 + k * 1000, lastSeen: 1_000_900 + k * 1000, flowId: 2 },
  ];
  const take = (k: number, f: FlowSpec[]) => {
    const end = 1_001_000 + k * 1000;
    p.begin({ start: end - 1000, end, flows: flowBatch(f, end - 500), totals: totalsFor(f) });
    while (!p.step(1)) t.equal([...p.live.values()].length, k === 0 ? 0 : k === 1 ? 1 : 2, 'the view between steps: the previous interval');
    return p.finish();
  };
  take(0, flows(0, [0x02, 0x12]));
  let [s] = [...p.live.values()].map((x) => x.toRecord());
  t.match(s, { bytesUp: 300, bytesDown: 5000, packetsUp: 3, packetsDown: 5, firstSeen: 1_000_050, lastSeen: 1_000_900, state: 'established', initiator: 'remote' });
  // a second conversation joins mid-stream (no SYN): its initiator guessed from the ports, not from which flow came first
  const joined: FlowSpec[] = [
    { direction: 'ingress', protocol: 6, src: PUBLIC, dst: HOST, srcPort: 443, dstPort: 50001, packets: 1, bytes: 70, tcpFlags: 0x10, firstSeen: 1_001_010, lastSeen: 1_001_020, flowId: 3 },
    { direction: 'egress', protocol: 6, src: HOST, dst: PUBLIC, srcPort: 50001, dstPort: 443, packets: 1, bytes: 60, tcpFlags: 0x18, firstSeen: 1_001_030, lastSeen: 1_001_040, flowId: 4 },
  ];
  take(1, [...flows(1, [0x10, 0x10]), ...joined]);
  const mid = [...p.live.values()].map((x) => x.toRecord()).find((x) => x.localPort === 50001);
  t.match(mid, { initiator: 'local', state: 'established', bytesUp: 60, bytesDown: 70 }, 'joined mid-stream: the ephemeral port is the initiator');
  [s] = [...p.live.values()].map((x) => x.toRecord()).filter((x) => x.localPort === 50000);
  t.match(s, { bytesUp: 600, bytesDown: 10000, packetsUp: 6, packetsDown: 10, firstSeen: 1_000_050, lastSeen: 1_001_900 });
  t.equal(p.live.latestBytesDown([...p.live.values()].find((x) => x.localPort === 50000)!), 5000, 'the latest interval alone');
  take(2, flows(2, [0x11, 0x11]));
  [s] = [...p.live.values()].map((x) => x.toRecord()).filter((x) => x.localPort === 50000);
  t.match(s, { bytesUp: 900, bytesDown: 15000, lastSeen: 1_002_900, tcpFlagsUp: 0x13, tcpFlagsDown: 0x13, state: 'closed' });
});
