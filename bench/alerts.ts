/**
 * The alert stage's cost per interval: the rules and the detectors over the
 * live sessions after FlowProcessor.process() of a batch of N flows (both
 * directions of N/2 conversations), in the steady state (every session moved
 * in the interval), with the flows stage's own time for the same batch as the
 * reference; and the memory of the detectors' state when R remote sources
 * each leave one unanswered attempt (the scan windows full of pairs).
 *
 * The detectors are timed on a UDP flood too (N sources to one local host,
 * over the flood threshold): an interval of a flood going on (the engine asks
 * for no names), and one whose observations are read whole (the sources named,
 * as when its alert starts or gets worse).
 *
 * The traffic anomaly detector is timed on its own too (its share of the
 * alert stage), on three weeks of history for the bench's interface and its 20
 * largest hosts written through the store's API: the learning at the first
 * interval, the per-interval cost, and its state per series.
 *
 *   node --import tsx bench/alerts.ts [--flows 10000,100000] [--remotes 100000] [--reps 5]
 *
 * Prints figures; asserts nothing.
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FlowProcessor } from '../src/flows/processor.js';
import { defaultSessionConfig } from '../src/flows/sessions.js';
import { AddressClassifier, defaultLocalNetworks } from '../src/net/classify.js';
import { Detectors } from '../src/alerts/detectors.js';
import { RuleSet } from '../src/alerts/rules.js';
import { parseAlertLists } from '../src/alerts/config.js';
import { AlertEngine } from '../src/alerts/engine.js';
import { AnomalyDetector } from '../src/alerts/anomaly.js';
import { Store } from '../src/store/index.js';
import { flowBatch, totalsFor, type FlowSpec } from '../test/helpers/flow-batch.js';
import { dailyPattern, writeWeeklyHistory } from '../test/helpers/weekly-history.js';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { median, printHeader, table } from './lib.js';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '10000,100000' }, remotes: { type: 'string', default: '100000' }, reps: { type: 'string', default: '5' } } });
const counts = values.flows!.split(',').map(Number);
const remotes = Number(values.remotes);
const reps = Number(values.reps);

const DETECTORS = {
  portScanPorts: 100, hostSweepHosts: 64, scanWindowMs: 60_000, synFloodRate: 1000, udpFloodRate: 100_000, icmpFloodRate: 2000, amplificationRate: 1_000_000,
  // a 1 s window: full from the second interval on, so every interval takes the whole path
  anomalyDeviations: 6, anomalyRatio: 4, anomalyMinRate: 125_000, anomalyWindowMs: 1000, anomalyMinWeeks: 3, anomalyDevices: 20,
  newCountry: false, newAsn: false, newDomain: false, newPeerPeriodMs: 30 * 86_400_000,
};
/** The bench's first 20 local hosts (specs() gives 16 flows to each). */
const HOSTS = Array.from({ length: 20 }, (_, i) => `192.168.0.${i}`);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-alerts-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
const NOW = new Date(2026, 10, 4, 14, 30).getTime();
writeWeeklyHistory({ dataDir, iface: 'eth0', scope: 'internet', host: HOSTS, weeks: 3, before: NOW, rate: dailyPattern(1e6) });
const store = Store.open({ dataDir, flushIntervalMs: 0 });
const { rules } = parseAlertLists({
  rules: [
    { name: 'wan-down', metric: 'bit/s', window: '10s', subject: { scope: 'internet', direction: 'down' }, above: '900M', for: '30s' },
    { name: 'device-volume', metric: 'bytes', window: '1m', subject: { each: 'host' }, above: '10G' },
    { name: 'device-fanout', metric: 'distinct-remotes', window: '1m', subject: { each: 'host' }, above: 5000 },
    { name: 'day-cap', quota: { period: 'day', limit: '1TB' } },
  ], webhooks: [], emails: [],
});

function specs(n: number, at: number): FlowSpec[] {
  const out: FlowSpec[] = [];
  for (let i = 0; i < n / 2; i++) {
    const local = `192.168.${(i >> 12) & 0xff}.${(i >> 4) & 0xff}`;
    const remote = `203.7.${(i >> 8) & 0xff}.${i & 0xff}`;
    const port = 40000 + (i % 20000);
    out.push({ direction: 'egress', protocol: 6, src: local, dst: remote, srcPort: port, dstPort: 443, packets: 10, bytes: 1500, tcpFlags: 0x18, flowId: 2 * i, firstSeen: at, lastSeen: at });
    out.push({ direction: 'ingress', protocol: 6, src: remote, dst: local, srcPort: 443, dstPort: port, packets: 20, bytes: 30000, tcpFlags: 0x18, flowId: 2 * i + 1, firstSeen: at, lastSeen: at });
  }
  return out;
}

function processor(): FlowProcessor {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, ['192.168.0.1']);
  return new FlowProcessor({ sessions: { ...defaultSessionConfig(), maxSessions: 2_000_000 }, filters: { ignore: [], keep: [] } }, classifier);
}

v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

printHeader('alert stage: rules + detectors + engine per interval, after the flows stage');
const rows: string[][] = [];
for (const n of counts) {
  const p = processor();
  const detectors = new Detectors(DETECTORS, 5);
  const ruleSet = new RuleSet(rules, undefined, 5);
  let id = 0;
  const engine = new AlertEngine([], () => ++id);
  const anomaly = new AnomalyDetector(DETECTORS, () => store, 5);
  const flowsMs: number[] = [];
  const alertsMs: number[] = [];
  const anomalyMs: number[] = [];
  let learnMs = 0;
  let t = NOW;
  for (let r = 0; r < reps + 1; r++) {
    const spec = specs(n, t + 500);
    const batch = flowBatch(spec, t + 500);
    const totals = totalsFor(spec);
    // a full GC before each timed stage: the batch building's garbage is not the stages' cost
    collectGarbage();
    let t0 = process.hrtime.bigint();
    const stats = p.process({ start: t, end: t + 1000, flows: batch, totals });
    const f = Number(process.hrtime.bigint() - t0) / 1e6;
    collectGarbage();
    t0 = process.hrtime.bigint();
    // the anomaly detector first, right after the GC: its own figure is not another stage's garbage
    const observations = anomaly.evaluate(stats, p.live);
    const an = Number(process.hrtime.bigint() - t0) / 1e6;
    observations.push(...ruleSet.evaluate(stats, p.live), ...detectors.evaluate(stats, p.live));
    engine.step(stats.end, observations);
    const a = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r === 0) learnMs = an;
    if (r > 0) { flowsMs.push(f); alertsMs.push(a); anomalyMs.push(an); } // the first interval creates the sessions (and the anomaly detector learns)
    t += 1000;
  }
  const st = anomaly.status();
  rows.push([String(n), String(p.live.size), median(flowsMs).toFixed(1), median(alertsMs).toFixed(1), (median(alertsMs) / median(flowsMs)).toFixed(2), ((median(alertsMs) * 1e6) / p.live.size).toFixed(0),
    median(anomalyMs).toFixed(2), (median(anomalyMs) / median(flowsMs)).toFixed(3), `${st.anomalyReady}/${st.anomalySeries}`, learnMs.toFixed(0)]);
}
console.log(table(['flows/interval', 'sessions', 'flows stage ms', 'alert stage ms', 'alerts/flows', 'ns/session', 'anomaly ms', 'anomaly/flows', 'ready/series', 'anomaly learn ms (1st interval)'], rows));

printHeader('detectors on a UDP flood: N remote sources, 2 packets each per interval, to one local host (going on, and with its sources named)');
{
  const frows: string[][] = [];
  for (const n of counts) {
    const p = processor();
    const detectors = new Detectors(DETECTORS, 5);
    const ms: number[] = [];
    const namedMs: number[] = [];
    let observations = 0;
    let t = NOW;
    const flood = (at: number): FlowSpec[] => Array.from({ length: n }, (_, i) => ({
      direction: 'ingress' as const, protocol: 17, src: `203.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`, dst: '192.168.1.10',
      srcPort: 40000 + (i % 20000), dstPort: 9000, packets: 2, bytes: 144, tcpFlags: 0, flowId: i, firstSeen: at, lastSeen: at,
    }));
    for (let r = 0; r < reps + 1; r++) {
      const spec = flood(t + 500);
      const stats = p.process({ start: t, end: t + 1000, flows: flowBatch(spec, t + 500), totals: totalsFor(spec) });
      collectGarbage();
      const t0 = process.hrtime.bigint();
      const seen = detectors.evaluate(stats, p.live);
      const t1 = process.hrtime.bigint();
      // what the engine reads of a new or worse alert: the sources named
      for (const o of seen) if (!o.summary || !o.subject.attacker) throw new Error('an observation without a summary');
      const t2 = process.hrtime.bigint();
      observations = seen.length;
      if (r > 0) { ms.push(Number(t1 - t0) / 1e6); namedMs.push(Number(t2 - t0) / 1e6); }
      t += 1000;
    }
    frows.push([String(n), String(2 * n), String(observations), median(ms).toFixed(1), ((median(ms) * 1e6) / n).toFixed(0), median(namedMs).toFixed(1), ((median(namedMs) * 1e6) / n).toFixed(0)]);
  }
  console.log(table(['sources', 'packets/s', 'observations', 'detectors ms (going on)', 'ns/source', 'with sources named ms', 'ns/source (named)'], frows));
}

printHeader('anomaly detector state: series learned from 3 weeks of history (1 interface × 2 directions + N devices × 2)');
{
  const mrows: string[][] = [];
  for (const devices of [20, 200]) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-anomaly-'));
    const hosts = Array.from({ length: devices }, (_, i) => `192.168.${i >> 8}.${i & 0xff}`);
    writeWeeklyHistory({ dataDir: dir, iface: 'eth0', scope: 'internet', host: hosts, weeks: 3, before: NOW, rate: dailyPattern(1e6) });
    const s = Store.open({ dataDir: dir, flushIntervalMs: 0 });
    const traffic = [{ iface: 'eth0', direction: 'up' as const, scope: 'internet' as const, bytes: 1000, packets: 1 }, { iface: 'eth0', direction: 'down' as const, scope: 'internet' as const, bytes: 1000, packets: 1 }];
    const stats = { start: NOW - 1000, end: NOW, traffic, activeSessions: 0, activeRemotes: 0, endedSessions: [],
      talkers: { ip: [], host: [], port: [], proto: [], country: [], asn: [], domain: [], device: [] } };
    const empty = { size: 0, intervals: 0, values: () => [][Symbol.iterator](), forEach: () => {}, moved: () => [], latestBytesUp: () => 0, latestBytesDown: () => 0, latestPacketsUp: () => 0, latestPacketsDown: () => 0, isNew: () => false };
    collectGarbage();
    const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const d = new AnomalyDetector({ ...DETECTORS, anomalyDevices: devices }, () => s, 5);
    const t0 = process.hrtime.bigint();
    d.evaluate(stats, empty);
    const learn = Number(process.hrtime.bigint() - t0) / 1e6;
    collectGarbage();
    const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const series = d.status().anomalySeries;
    mrows.push([String(devices), String(series), learn.toFixed(0), ((after - before) / 1e3).toFixed(0), ((after - before) / series).toFixed(0), (d.stateBytes() / series).toFixed(0)]);
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(table(['devices', 'series', 'learn ms', 'heap kB', 'bytes/series (heap)', 'bytes/series (arrays)'], mrows));
}

printHeader(`detector state: ${remotes} remote sources, one unanswered SYN each, in the scan windows`);
{
  const p = processor();
  const t = 2_000_000_000;
  const probes: FlowSpec[] = [];
  for (let i = 0; i < remotes; i++) {
    probes.push({ direction: 'ingress', protocol: 6, src: `100.${64 + ((i >> 16) & 0x3f)}.${(i >> 8) & 0xff}.${i & 0xff}`, dst: '192.168.0.1', srcPort: 40000, dstPort: 1 + (i % 1000), packets: 1, bytes: 44, tcpFlags: 0x02, firstSeen: t + 500, lastSeen: t + 500 });
  }
  const stats1 = p.process({ start: t, end: t + 1000, flows: flowBatch(probes, t + 500), totals: totalsFor(probes) });
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const detectors = new Detectors(DETECTORS, 5);
  detectors.evaluate(stats1, p.live);
  const stats2 = p.process({ start: t + 1000, end: t + 2000, flows: flowBatch([], t + 1500), totals: totalsFor([]) });
  const t0 = process.hrtime.bigint();
  const observations = detectors.evaluate(stats2, p.live);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  collectGarbage();
  const after = process.memoryUsage().heapUsed;
  const s = detectors.status();
  console.log(table(['remotes', 'sessions', 'scan pairs', 'pairs dropped', 'observations', 'judging interval ms', 'detector heap MB', 'bytes/remote'],
    [[String(remotes), String(p.live.size), String(s.scanPairs), String(s.scanPairsDropped), String(observations.length), ms.toFixed(1), ((after - before) / 1e6).toFixed(1), ((after - before) / remotes).toFixed(0)]]));
}
