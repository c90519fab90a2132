/**
 * Detection latency of the built-in detectors, in intervals: synthetic attacks
 * (test/helpers/flow-batch.ts) fed interval after interval through the real
 * path — FlowProcessor.process(), then AlertsComponent.add() (rules, detectors,
 * anomaly detector, engine, in-memory alert store) — with the default settings
 * (src/config/schema.ts, no settings file) and the default interval (1 s).
 * Each attack is sized at 2× and 10× the detector's default threshold (the
 * scans also as one nmap-like burst); it runs for its stated length, then stops.
 *
 * Counted from the first interval of the attack (1 = the alert came at the end
 * of the attack's first interval); resolved counted from the first interval
 * after it stopped. The detectors have no `for:`, so pending and firing come in
 * the same interval (the engine skips the pending event).
 *
 * The traffic anomaly detector runs on 3 weeks of history written through the
 * store's API (test/helpers/weekly-history.ts, 20 hosts), after one full window
 * (15 min) of traffic at the baseline; its threshold (the band's upper edge) is
 * read from a first calibration run. The other detectors run without history.
 *
 *   node --import tsx bench/alert-latency.ts
 *
 * Prints figures; asserts nothing.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { configFrom } from '../src/config/index.js';
import { FlowProcessor } from '../src/flows/processor.js';
import { AddressClassifier } from '../src/net/classify.js';
import { AlertsComponent } from '../src/alerts/index.js';
import { Store } from '../src/store/index.js';
import { flowBatch, totalsFor, type FlowSpec } from '../test/helpers/flow-batch.js';
import { dailyPattern, writeWeeklyHistory } from '../test/helpers/weekly-history.js';
import { printHeader, table } from './lib.js';

// defaults only: an empty environment, and no settings file unless /etc/flowlens/flowlens.yaml exists
const config = configFrom({ env: {} });
const d = config.alerts.detectors;
const INTERVAL = config.collector.intervalMs;
const SYN = 0x02, ACK = 0x10, RST = 0x04;

interface Scenario {
  detector: string;
  attack: string;
  threshold: string;
  /** The alert measured. */
  fingerprint: (fp: string) => boolean;
  /** Intervals of the attack. */
  length: number;
  /** The attack's flows in interval i (0-based) starting at t. */
  flows: (i: number, t: number) => FlowSpec[];
  /** Traffic before, during and after the attack (the anomaly's baseline traffic). */
  normal?: (t: number) => FlowSpec[];
  /** Intervals of normal traffic before the attack. */
  warmup?: number;
  /** Intervals after the attack to wait for resolved, at most. */
  after?: number;
  history?: Store;
}

/** The share of `total` items in interval i of n (whole items, all of them by the end). */
const share = (total: number, n: number, i: number) => Math.floor(((i + 1) * total) / n) - Math.floor((i * total) / n);

const tcp = (src: string, dst: string, srcPort: number, dstPort: number, flags: number, t: number, dir: 'ingress' | 'egress', packets = 1, bytes = 60): FlowSpec =>
  ({ direction: dir, protocol: 6, src, dst, srcPort, dstPort, packets, bytes, tcpFlags: flags, firstSeen: t, lastSeen: t });

/** One source, `ports` distinct ports of one host over `seconds`, each refused (RST-ACK). */
function portScan(ports: number, seconds: number, attack: string): Scenario {
  return {
    detector: 'port scan', attack, threshold: `${d.portScanPorts} ports / ${d.scanWindowMs / 1000} s`, fingerprint: (fp) => fp.startsWith('port-scan|'), length: seconds,
    flows: (i, t) => {
      const out: FlowSpec[] = [];
      const first = Math.floor((i * ports) / seconds);
      for (let k = 0; k < share(ports, seconds, i); k++) {
        const port = 1 + first + k;
        out.push(tcp('203.0.113.7', '192.168.1.10', 61000, port, SYN, t + 100, 'ingress'), tcp('192.168.1.10', '203.0.113.7', port, 61000, RST | ACK, t + 101, 'egress', 1, 54));
      }
      return out;
    },
  };
}

/** One source, `hosts` distinct hosts on tcp/22 over `seconds`, unanswered (no host there). */
function hostSweep(hosts: number, seconds: number, attack: string): Scenario {
  return {
    detector: 'host sweep', attack, threshold: `${d.hostSweepHosts} hosts / ${d.scanWindowMs / 1000} s`, fingerprint: (fp) => fp.startsWith('host-sweep|'), length: seconds,
    flows: (i, t) => {
      const out: FlowSpec[] = [];
      const first = Math.floor((i * hosts) / seconds);
      for (let k = 0; k < share(hosts, seconds, i); k++) {
        const h = 1 + first + k;
        out.push(tcp('203.0.113.8', `10.1.${h >> 8}.${h & 0xff}`, 61001, 22, SYN, t + 100, 'ingress'));
      }
      return out;
    },
  };
}

/** hping3 -S -p 80: `rate` SYNs a second from one address, a new source port each, each answered by a SYN-ACK. */
function synFlood(rate: number, seconds: number, attack: string): Scenario {
  return {
    detector: 'TCP SYN flood', attack, threshold: `${d.synFloodRate} SYN/s`, fingerprint: (fp) => fp.startsWith('syn-flood|'), length: seconds,
    flows: (i, t) => {
      const out: FlowSpec[] = [];
      for (let k = 0; k < rate; k++) {
        const port = 1024 + ((i * rate + k) % 64000);
        out.push(tcp('203.0.113.9', '192.168.1.20', port, 80, SYN, t + 100, 'ingress'), tcp('192.168.1.20', '203.0.113.9', 80, port, SYN | ACK, t + 101, 'egress', 1, 58));
      }
      return out;
    },
  };
}

/** `rate` UDP packets a second of 100 bytes from 64 source ports of one address to one service. */
function udpFlood(rate: number, seconds: number, attack: string): Scenario {
  return {
    detector: 'UDP flood', attack, threshold: `${d.udpFloodRate} packets/s`, fingerprint: (fp) => fp.startsWith('udp-flood|'), length: seconds,
    flows: (_i, t) => Array.from({ length: 64 }, (_, k) => {
      const packets = share(rate, 64, k);
      return { direction: 'ingress' as const, protocol: 17, src: '203.0.113.10', dst: '192.168.1.30', srcPort: 40000 + k, dstPort: 27015, packets, bytes: 100 * packets, firstSeen: t + 100, lastSeen: t + 900 };
    }),
  };
}

/** ping -f at `rate` echo requests a second, each answered. */
function icmpFlood(rate: number, seconds: number, attack: string): Scenario {
  return {
    detector: 'ICMP flood', attack, threshold: `${d.icmpFloodRate} packets/s`, fingerprint: (fp) => fp.startsWith('icmp-flood|'), length: seconds,
    flows: (_i, t) => [
      { direction: 'ingress', protocol: 1, src: '203.0.113.11', dst: '192.168.1.40', srcPort: 8, dstPort: 0, packets: rate, bytes: 84 * rate, firstSeen: t + 100, lastSeen: t + 900 },
      { direction: 'egress', protocol: 1, src: '192.168.1.40', dst: '203.0.113.11', srcPort: 0, dstPort: 0, packets: rate, bytes: 84 * rate, firstSeen: t + 101, lastSeen: t + 901 },
    ],
  };
}

/** NTP reflection: 50 servers' udp/123 answers of 468 bytes, `rate` bytes a second in all, to one victim that asked nothing. */
function amplification(rate: number, seconds: number, attack: string): Scenario {
  return {
    detector: 'amplification', attack, threshold: `${d.amplificationRate / 1e6} MB/s`, fingerprint: (fp) => fp.startsWith('amplification|'), length: seconds,
    flows: (_i, t) => Array.from({ length: 50 }, (_, k) => {
      const bytes = share(rate, 50, k);
      return { direction: 'ingress' as const, protocol: 17, src: `198.51.100.${k + 1}`, dst: '192.168.1.50', srcPort: 123, dstPort: 80, packets: Math.ceil(bytes / 468), bytes, firstSeen: t + 100, lastSeen: t + 900 };
    }),
  };
}

interface Result { pending?: number; firing?: number; resolved?: number; threshold?: number; others: Map<string, number> }

/** Runs a scenario through FlowProcessor and AlertsComponent from `start`; intervals counted as described above. */
function run(s: Scenario, start: number): Result {
  const classifier = new AddressClassifier({ localNetworks: config.networks.local, privateNetworks: config.networks.private }, ['192.168.1.1']);
  const p = new FlowProcessor({ sessions: config.sessions, filters: config.filters }, classifier);
  const alerts = new AlertsComponent(config.alerts, { live: () => p.live, history: () => s.history, host: 'bench' });
  alerts.start();
  const r: Result = { others: new Map() };
  let n = 0; // the current interval, counted from the attack's first (1)
  let stopped = 0; // the attack's last interval
  let phase: 'warmup' | 'attack' | 'after' = 'warmup';
  alerts.on('alert', (tr) => {
    if (!s.fingerprint(tr.alert.fingerprint)) {
      const key = `${tr.alert.kind}${phase === 'warmup' ? ' (before the attack)' : ''}`;
      if (tr.event === 'firing') r.others.set(key, (r.others.get(key) ?? 0) + 1);
      return;
    }
    if (phase === 'warmup') { r.others.set(`${tr.alert.kind} (before the attack)`, 1); return; }
    if ((tr.event === 'pending' || tr.event === 'firing') && r.pending === undefined) r.pending = n;
    if (tr.event === 'firing' && r.firing === undefined) { r.firing = n; r.threshold = tr.alert.threshold; }
    if (tr.event === 'resolved' && phase === 'after' && r.resolved === undefined) r.resolved = n - stopped;
  });
  let t = start;
  const step = (flows: FlowSpec[]) => {
    const all = [...(s.normal?.(t) ?? []), ...flows];
    alerts.add(p.process({ start: t, end: t + INTERVAL, flows: flowBatch(all, t + 500), totals: totalsFor(all) }));
    t += INTERVAL;
  };
  for (let i = 0; i < (s.warmup ?? 0); i++) step([]);
  phase = 'attack';
  for (n = 1; n <= s.length; n++) step(s.flows(n - 1, t));
  phase = 'after';
  stopped = s.length;
  for (n = s.length + 1; n <= s.length + (s.after ?? 180) && (r.firing === undefined || r.resolved === undefined); n++) step([]);
  alerts.stop();
  return r;
}

// --- the traffic anomaly detector's history and traffic
const HOSTS = Array.from({ length: 20 }, (_, i) => `192.168.0.${i + 2}`);
// a Wednesday 14:00 local: the whole run stays in one hour of the week
const NOW = new Date(2026, 10, 4, 14, 0).getTime();
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-bench-latency-'));
process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
const pattern = dailyPattern(1e6);
writeWeeklyHistory({ dataDir, iface: 'eth0', scope: 'internet', host: HOSTS, weeks: 3, before: NOW, rate: pattern });
const store = Store.open({ dataDir, flushIntervalMs: 0 });
const usual = pattern(NOW, 1); // the median week's rates of this hour
const WINDOW = d.anomalyWindowMs / INTERVAL;
/** Each host's share of the usual traffic of this hour. */
function traffic(t: number): FlowSpec[] {
  const up = Math.round((usual.up * INTERVAL) / 1000 / HOSTS.length), down = Math.round((usual.down * INTERVAL) / 1000 / HOSTS.length);
  return HOSTS.flatMap((h) => [
    { direction: 'egress' as const, protocol: 6, src: h, dst: '203.0.113.100', srcPort: 50000, dstPort: 443, packets: Math.ceil(up / 1400), bytes: up, tcpFlags: ACK, firstSeen: t + 100, lastSeen: t + 900 },
    { direction: 'ingress' as const, protocol: 6, src: '203.0.113.100', dst: h, srcPort: 443, dstPort: 50000, packets: Math.ceil(down / 1400), bytes: down, tcpFlags: ACK, firstSeen: t + 100, lastSeen: t + 900 },
  ]);
}
const IFACE_FP = 'anomaly|eth0|internet|up';
const DEVICE_FP = `anomaly|${HOSTS[0]}|up`;
/** An upload of `extra` B/s on top of the usual traffic, from all hosts (interface) or from the first (device), for one window. */
function anomaly(what: 'interface' | 'device', extra: number, attack: string, threshold: string, length = WINDOW): Scenario {
  const hosts = what === 'interface' ? HOSTS : HOSTS.slice(0, 1);
  const bytes = Math.round((extra * INTERVAL) / 1000 / hosts.length);
  return {
    detector: what === 'interface' ? 'anomaly (eth0 internet up)' : `anomaly (device ${HOSTS[0]} up)`, attack, threshold,
    fingerprint: (fp) => fp === (what === 'interface' ? IFACE_FP : DEVICE_FP),
    // the usual traffic for a window before the attack (no series fires in the first window after a start)
    warmup: WINDOW, length, after: WINDOW + 60, history: store, normal: traffic,
    flows: (_i, t) => hosts.map((h) => tcp(h, '203.0.113.101', 50001, 443, ACK, t + 100, 'egress', Math.ceil(bytes / 1400), bytes)),
  };
}

printHeader('detection latency per detector: intervals from the attack\'s first interval to the alert (default settings)');
const scenarios: Scenario[] = [
  portScan(2 * d.portScanPorts, 60, `${2 * d.portScanPorts} ports in 60 s (2×)`),
  portScan(10 * d.portScanPorts, 60, `${10 * d.portScanPorts} ports in 60 s (10×)`),
  portScan(1000, 1, '1000 ports in 1 s (nmap -T4)'),
  hostSweep(2 * d.hostSweepHosts, 60, `${2 * d.hostSweepHosts} hosts in 60 s (2×)`),
  hostSweep(10 * d.hostSweepHosts, 60, `${10 * d.hostSweepHosts} hosts in 60 s (10×)`),
  hostSweep(254, 1, '254 hosts in 1 s (a /24)'),
  synFlood(2 * d.synFloodRate, 10, `${2 * d.synFloodRate} SYN/s for 10 s (2×)`),
  synFlood(10 * d.synFloodRate, 10, `${10 * d.synFloodRate} SYN/s for 10 s (10×)`),
  udpFlood(2 * d.udpFloodRate, 10, `${2 * d.udpFloodRate} packets/s for 10 s (2×)`),
  udpFlood(10 * d.udpFloodRate, 10, `${10 * d.udpFloodRate} packets/s for 10 s (10×)`),
  icmpFlood(2 * d.icmpFloodRate, 10, `${2 * d.icmpFloodRate} packets/s for 10 s (2×)`),
  icmpFlood(10 * d.icmpFloodRate, 10, `${10 * d.icmpFloodRate} packets/s for 10 s (10×)`),
  amplification(2 * d.amplificationRate, 10, `${(2 * d.amplificationRate) / 1e6} MB/s for 10 s (2×)`),
  amplification(10 * d.amplificationRate, 10, `${(10 * d.amplificationRate) / 1e6} MB/s for 10 s (10×)`),
];
// the anomaly's thresholds (the bands' upper edges), from a calibration run each: one host uploading 100× the interface's usual rate
{
  const edge = (fp: string) => {
    const s = anomaly('device', 100 * usual.up, '', '', 60);
    s.fingerprint = (x) => x === fp;
    s.after = 0;
    return run(s, NOW).threshold ?? NaN;
  };
  const mb = (bps: number) => (bps / 1e6).toFixed(2);
  const ifaceEdge = edge(IFACE_FP), deviceEdge = edge(DEVICE_FP);
  for (const m of [2, 10]) {
    scenarios.push(anomaly('interface', m * ifaceEdge - usual.up, `${mb(m * ifaceEdge)} MB/s up for 15 min, all hosts (${m}×)`, `${mb(ifaceEdge)} MB/s (usual ${mb(usual.up)})`));
  }
  const deviceUsual = usual.up / HOSTS.length;
  for (const m of [2, 10]) {
    scenarios.push(anomaly('device', m * deviceEdge - deviceUsual, `${mb(m * deviceEdge)} MB/s up for 15 min (${m}×)`, `${mb(deviceEdge)} MB/s (usual ${mb(deviceUsual)})`));
  }
}

const rows: string[][] = [];
for (const s of scenarios) {
  const r = run(s, NOW);
  const never = (x: number | undefined) => (x === undefined ? 'never' : String(x));
  rows.push([s.detector, s.attack, s.threshold, never(r.pending), never(r.firing), r.firing !== undefined ? ((r.firing * INTERVAL) / 1000).toFixed(0) : '-',
    never(r.resolved), [...r.others].map(([k, c]) => `${c} ${k}`).join(', ') || '-']);
}
console.log(`# interval ${INTERVAL / 1000} s; pending/firing counted from the attack's first interval (1 = at its end, even when the attack is over by then), resolved from the first interval after it stopped`);
console.log(table(['detector', 'attack', 'threshold', 'intervals to pending', 'intervals to firing', 's to firing', 'intervals to resolved after stop', 'other alerts firing'], rows, [0, 1, 2, 7]));
store.close();
