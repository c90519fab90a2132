/**
 * kill -9 between flushes keeps each key's bytes, not only the totals: a real
 * writer process adds an hour's talkers (more keys than the stored top N),
 * flushes and is killed with SIGKILL; a new writer continues the same hour,
 * and a key that was cut from the stored top N before the kill (its bytes in
 * "other") still has them when it grows afterwards. Before talker_hour_open
 * was written with every flush, those bytes stayed in "other" after a kill.
 */
process.env.TZ = 'UTC';
import t, { type Test } from 'tap';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/store/index.js';
import { interval, talker, tempDataDir } from '../helpers/intervals.js';
import { FlowProcessor } from '../../src/flows/processor.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { flowBatch, totalsFor, type FlowSpec } from '../helpers/flow-batch.js';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/store/flush-and-hold.ts');
const H = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 10);
const CLOCK = T0 + 20 * 60_000;

/** Runs the writer until it has flushed, then kills it with SIGKILL. */
async function flushThenKill(t: Test, dir: string, intervals: unknown): Promise<void> {
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', fixture, dir, JSON.stringify(intervals), String(CLOCK), '2'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const flushed = new Promise<boolean>((resolve) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; if (out.includes('"flushed"')) resolve(true); });
  });
  t.ok(await Promise.race([flushed, exited.then(() => false)]), `the writer flushed (${stderr.trim()})`);
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL', 'killed with SIGKILL');
}

t.test('after kill -9, a key cut from the stored top N keeps its earlier bytes when it grows', async (t) => {
  const dir = tempDataDir(t, 'kill9-keys');
  // 5 keys, top 2 stored: AS3, AS4, AS5 are in "other" on disk
  await flushThenKill(t, dir, [
    { end: T0 + 60_000, asn: [['AS1', 1000], ['AS2', 500], ['AS3', 40], ['AS4', 30]] },
    { end: T0 + 120_000, asn: [['AS1', 1000], ['AS5', 7], ['AS3', 2]] },
  ]);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => CLOCK, hourlyTopN: 2 });
  t.teardown(() => store.close());
  // the same hour, after the restart: AS3 grows past AS2
  store.add(interval({ end: T0 + 180_000, talkers: { asn: [talker('AS3', 900)] } }));
  const top = store.topTalkers({ dimension: 'asn', from: T0, to: T0 + H, limit: 10 });
  t.same(top.rows.map((r) => [r.key, r.bytes]), [['AS1', 2000], ['AS3', 942], ['AS2', 500], ['AS4', 30], ['AS5', 7]],
    'every key with all its bytes: AS3 has the 42 it had before the kill and the 900 after');
  t.same([top.other.bytes, top.total.bytes], [0, 3479], 'nothing left in "other", the total exact');
  store.flush();
  const stored = store.topTalkers({ dimension: 'asn', from: T0, to: T0 + H, limit: 10 });
  t.same(stored.rows.map((r) => [r.key, r.bytes]), [['AS1', 2000], ['AS3', 942], ['AS2', 500], ['AS4', 30], ['AS5', 7]], 'the same after the next flush');
});

t.test('a second kill -9 in the same hour: the open state follows every flush, nothing counted twice', async (t) => {
  const dir = tempDataDir(t, 'kill9-twice');
  await flushThenKill(t, dir, [{ end: T0 + 60_000, asn: [['AS1', 1000], ['AS2', 500], ['AS3', 40]] }]);
  await flushThenKill(t, dir, [{ end: T0 + 120_000, asn: [['AS3', 5], ['AS4', 1]] }]);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => CLOCK, hourlyTopN: 2 });
  t.teardown(() => store.close());
  const top = store.topTalkers({ dimension: 'asn', from: T0, to: T0 + H, limit: 10 });
  t.same([top.other.bytes, top.total.bytes], [46, 1546], 'read from disk: the top 2 + "other", the exact total');
  store.add(interval({ end: T0 + 180_000, talkers: { asn: [talker('AS4', 2000)] } }));
  const after = store.topTalkers({ dimension: 'asn', from: T0, to: T0 + H, limit: 10 });
  t.same(after.rows.map((r) => [r.key, r.bytes]), [['AS4', 2001], ['AS1', 1000], ['AS2', 500], ['AS3', 45]], 'AS4 kept the 1 byte of the second run, AS3 the bytes of both');
  t.same([after.other.bytes, after.total.bytes], [0, 3546]);
});

/**
 * The set that shares all traffic's maps (internet with no LAN traffic, LAN
 * with no internet traffic) keeps each key's bytes across a kill -9: four
 * peers of `scope`, the top 2 stored, then one interval with traffic of the
 * other scope after the restart, so the sets differ from then on.
 */
const sharedSetCases = [
  { scope: 'internet', peers: ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'], otherPeer: '192.168.1.20', what: 'no LAN traffic' },
  { scope: 'lan', peers: ['192.168.1.21', '192.168.1.22', '192.168.1.23', '192.168.1.24'], otherPeer: '203.0.113.9', what: 'LAN traffic only' },
] as const;

for (const { scope, peers, otherPeer, what } of sharedSetCases) {
  t.test(`after kill -9, ${scope} talkers that shared all traffic's maps (${what}) keep each key's bytes too`, async (t) => {
    const dir = tempDataDir(t, `kill9-shared-${scope}`);
    const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, ['192.168.1.1']);
    const p = new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier);
    const udp = (local: string, remote: string, down: number): FlowSpec[] => [
      { direction: 'ingress', protocol: 17, src: remote, dst: local, srcPort: 5000, dstPort: 40000, packets: 1, bytes: down },
    ];
    const at = (end: number, specs: FlowSpec[]) => p.process({ start: end - 60_000, end, flows: flowBatch(specs, end - 500), totals: totalsFor(specs) });
    const local = '192.168.1.10';
    const [a, b, c, d] = peers;
    const first = at(T0 + 60_000, [...udp(local, a, 1000), ...udp(local, b, 500), ...udp(local, c, 40), ...udp(local, d, 30)]);
    t.equal(first.scopedTalkers![scope].ip, first.talkers.ip, `${what}: the flows stage hands over the same rows`);
    const second = at(T0 + 120_000, udp(local, c, 2));
    await flushThenKill(t, dir, [{ stats: first }, { stats: second }]);
    const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => CLOCK, hourlyTopN: 2 });
    t.teardown(() => store.close());
    store.add(at(T0 + 180_000, [...udp(local, c, 900), ...udp(local, otherPeer, 7000)]));
    for (const set of ['', scope] as const) {
      const top = store.topTalkers({ dimension: 'ip', scope: set, from: T0, to: T0 + H, limit: 10 });
      const want = [[otherPeer, 7000], [a, 1000], [c, 942], [b, 500], [d, 30]].filter(([k]) => set === '' || k !== otherPeer);
      t.same(top.rows.map((r) => [r.key, r.bytes]), want, `${set || 'all'}: every peer with all its bytes (${c}: 42 before the kill, 900 after)`);
      t.equal(top.other.bytes, 0, `${set || 'all'}: nothing left in "other"`);
    }
  });
}
