/**
 * The history keeps the internet talkers of an internet-only stretch in the
 * same maps as all traffic's (the flows stage hands over the very same rows
 * for both), and gives them their own the first time LAN traffic makes them
 * differ; the same for the LAN talkers of a LAN-only stretch (a NAS). Whatever the order of internet-only and mixed intervals, flushes and
 * restarts, every set — all, internet, LAN — must hold exactly the sum of its
 * rows, key by key, as the flows stage made them: checked against sums the
 * test makes itself from the processor's output.
 */
process.env.TZ = 'UTC';
import t, { type Test } from 'tap';
import { FlowProcessor } from '../../src/flows/processor.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { Store } from '../../src/store/index.js';
import { TALKER_DIMENSIONS, type IntervalStats, type TalkerDimension } from '../../src/flows/types.js';
import { flowBatch, totalsFor, type FlowSpec } from '../helpers/flow-batch.js';
import { tempDataDir } from '../helpers/intervals.js';

const HOST = '192.168.1.1';
const T0 = Date.UTC(2026, 5, 1, 10);
const H = 3_600_000;

const tcp = (local: string, port: number, remote: string, up: number, down: number): FlowSpec[] => [
  { direction: 'egress', protocol: 6, src: local, dst: remote, srcPort: port, dstPort: 443, packets: 2, bytes: up, tcpFlags: 0x18 },
  { direction: 'ingress', protocol: 6, src: remote, dst: local, srcPort: 443, dstPort: port, packets: 3, bytes: down, tcpFlags: 0x18 },
];
const internetOnly = (k: number): FlowSpec[] => [
  ...tcp('192.168.1.10', 40000, '203.0.113.1', 100 * k, 1000 * k),
  ...tcp('192.168.1.11', 40001, '198.51.100.2', 10 * k, 5000),
];
// the LAN backup goes to the same host that also talks to the internet, so keys are in both scopes
const mixed = (k: number): FlowSpec[] => [...internetOnly(k), ...tcp('192.168.1.10', 40002, '192.168.1.20', 70_000, 300)];

// a NAS's own traffic: a LAN backup only
const lanOnly = (k: number): FlowSpec[] => tcp('192.168.1.10', 40002, '192.168.1.20', 7000 * k, 300);

type Sums = Map<string, Map<string, number>>;

/** Per set (dimension, dimension@internet, dimension@lan), key → bytes, summed from the processor's rows. */
function addSums(sums: Sums, s: IntervalStats): void {
  for (const d of TALKER_DIMENSIONS) {
    const sets: Array<[string, { key: string; bytesUp: number; bytesDown: number }[] | undefined]> = [
      [d, s.talkers[d]], [`${d}@internet`, s.scopedTalkers?.internet[d]], [`${d}@lan`, s.scopedTalkers?.lan[d]],
    ];
    for (const [set, rows] of sets) {
      let m = sums.get(set);
      if (!m) sums.set(set, (m = new Map()));
      for (const r of rows ?? []) m.set(r.key, (m.get(r.key) ?? 0) + r.bytesUp + r.bytesDown);
    }
  }
}

function stored(store: Store, set: string): Map<string, number> {
  const [dimension, scope] = set.split('@') as [TalkerDimension, 'internet' | 'lan' | undefined];
  const top = store.topTalkers({ dimension, scope: scope ?? '', from: T0, to: T0 + H, limit: 1000 });
  t.equal(top.other.bytes, 0, `${set}: nothing in "other"`);
  return new Map(top.rows.map((r) => [r.key, r.bytes]));
}

function checkAll(t: Test, store: Store, sums: Sums, when: string): void {
  let mismatches = 0;
  for (const [set, want] of sums) {
    const got = stored(store, set);
    const wantRows = [...want].filter(([, b]) => b > 0).sort();
    const gotRows = [...got].sort();
    if (JSON.stringify(wantRows) !== JSON.stringify(gotRows)) {
      mismatches++;
      t.same(gotRows, wantRows, `${when}: ${set} key by key`);
    }
  }
  t.equal(mismatches, 0, `${when}: all ${sums.size} sets exact key by key`);
}

/**
 * A flows stage and a store over one data dir, a minute per interval: `add`
 * processes and stores an interval and sums it (Sums) for checkAll;
 * `restart` closes the store and opens it again on the same dir and clock.
 */
function storeLab(t: Test, name: string) {
  const dir = tempDataDir(t, name);
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, [HOST]);
  const p = new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier);
  const sums: Sums = new Map();
  let end = T0;
  const open = () => Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => end, hourlyTopN: 100 });
  const lab = {
    sums,
    store: open(),
    add(specs: FlowSpec[]): IntervalStats {
      end += 60_000;
      const s = p.process({ start: end - 60_000, end, flows: flowBatch(specs, end - 500), totals: totalsFor(specs) });
      addSums(sums, s);
      lab.store.add(s);
      return s;
    },
    restart(): Store {
      lab.store.close();
      return (lab.store = open());
    },
  };
  t.teardown(() => lab.store.close());
  return lab;
}

t.test('internet-only, then LAN, then internet-only again: every set exact, held and flushed, across a restart', async (t) => {
  const lab = storeLab(t, 'shared-internet');
  const { sums, add } = lab;
  let { store } = lab;
  const first = add(internetOnly(1));
  t.equal(first.scopedTalkers!.internet.ip, first.talkers.ip, 'no LAN traffic: the flows stage hands over the same rows for both');
  add(internetOnly(2));
  checkAll(t, store, sums, 'internet-only, held');
  store.flush();
  checkAll(t, store, sums, 'internet-only, flushed');
  const lan = add(mixed(3));
  t.not(lan.scopedTalkers!.internet.ip, lan.talkers.ip, 'with LAN traffic the rows differ');
  checkAll(t, store, sums, 'after the first LAN interval, held');
  add(internetOnly(4));
  add(mixed(5));
  store.flush();
  checkAll(t, store, sums, 'mixed, flushed');
  add(internetOnly(6));
  // a restart within the hour continues each set from what the stop kept
  store = lab.restart();
  add(internetOnly(7));
  add(mixed(8));
  checkAll(t, store, sums, 'after a restart, held');
  store.flush();
  checkAll(t, store, sums, 'after a restart, flushed');
  const ip = stored(store, 'ip@internet');
  t.equal(ip.get('203.0.113.1'), (100 + 1000) * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8), 'one internet remote: every interval\'s bytes, none of the LAN backup');
  t.equal(stored(store, 'host@lan').get('192.168.1.10'), 70_300 * 3, 'the LAN backup in the LAN set: its three intervals');
});

t.test('an internet set that shared its maps before a flush window: the live window sums stay exact too', async (t) => {
  const dir = tempDataDir(t, 'shared-window');
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, [HOST]);
  const p = new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier);
  let end = T0;
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => end, hourlyTopN: 100 });
  t.teardown(() => store.close());
  const add = (specs: FlowSpec[]) => {
    end += 60_000;
    store.add(p.process({ start: end - 60_000, end, flows: flowBatch(specs, end - 500), totals: totalsFor(specs) }));
  };
  add(internetOnly(1));
  store.flush();
  add(internetOnly(2));
  add(mixed(3));
  store.flush();
  const bytes = (dimension: TalkerDimension, scope: '' | 'internet' | 'lan', key: string) =>
    store.liveTop({ dimension, scope, limit: 100 })?.rows.find((r) => r.key === key)?.bytes;
  t.equal(bytes('ip', 'internet', '203.0.113.1'), 1100 * (2 + 3), 'the window since the last flush: two intervals of the internet remote');
  t.equal(bytes('ip', '', '192.168.1.20'), 70_300, 'all traffic has the LAN peer');
  t.equal(bytes('ip', 'internet', '192.168.1.20'), undefined, 'the internet window does not');
  t.equal(bytes('ip', 'lan', '192.168.1.20'), 70_300, 'the LAN window does');
  t.equal(bytes('host', 'internet', '192.168.1.10'), 1100 * (2 + 3), 'the local host\'s internet window: without its backup');
});

t.test('LAN-only (a NAS), then internet, then LAN-only again: every set exact, held and flushed, across a restart', async (t) => {
  const lab = storeLab(t, 'shared-lan');
  const { sums, add } = lab;
  let { store } = lab;
  const first = add(lanOnly(1));
  t.equal(first.scopedTalkers!.lan.ip, first.talkers.ip, 'LAN traffic only: the flows stage hands over the same rows for all and LAN');
  t.same(first.scopedTalkers!.internet.ip, [], 'and none for the internet');
  t.equal(first.talkers.host[0]!.bytesUp, 7000, 'the rows are the backup\'s');
  add(lanOnly(2));
  checkAll(t, store, sums, 'LAN-only, held');
  store.flush();
  checkAll(t, store, sums, 'LAN-only, flushed');
  const m = add(mixed(3));
  t.not(m.scopedTalkers!.lan.ip, m.talkers.ip, 'with internet traffic the rows differ');
  checkAll(t, store, sums, 'after the first internet interval, held');
  add(lanOnly(4));
  add(internetOnly(5));
  add(lanOnly(6));
  store.flush();
  checkAll(t, store, sums, 'mixed, flushed');
  store = lab.restart();
  add(lanOnly(7));
  add(mixed(8));
  checkAll(t, store, sums, 'after a restart, held');
  store.flush();
  checkAll(t, store, sums, 'after a restart, flushed');
  t.equal(stored(store, 'host@lan').get('192.168.1.10'), 7000 * (1 + 2 + 4 + 6 + 7) + 300 * 5 + 70_300 * 2, 'the NAS\'s LAN bytes: every backup interval\'s, none of its internet traffic');
  t.equal(stored(store, 'ip@internet').get('192.168.1.20'), undefined, 'the LAN peer is no internet remote');
  t.equal(stored(store, 'ip@internet').get('203.0.113.1'), 1100 * (3 + 5 + 8), 'the internet remote: its three intervals');
});
