/**
 * The sink against a real server speaking the InfluxDB v2 write API
 * (victoria-metrics): intervals with known numbers go in; what the server
 * then holds — measurements, tags, fields and timestamps — matches the sums
 * over the write period exactly, the talkers of each dimension sum to the
 * traffic, and the health counters are the increase over each period.
 */
import t, { type Test } from 'tap';
import { InfluxSink, validateInfluxConfig, type InfluxConfig, type InfluxSinkStats } from '../../src/sinks/influx/index.js';
import type { CollectorStatus } from '../../src/collector/index.js';
import { VictoriaMetrics, type ExportedSeries } from '../helpers/victoria-metrics.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { collectorStatus, endedSessions, intervalStats, talker } from '../helpers/interval-stats.js';

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The one sample of a metric with exactly these labels. */
function sample(series: ExportedSeries[], name: string, labels: Record<string, string>): { value: number; ts: number } | undefined {
  const want = { __name__: name, ...labels };
  const s = series.filter((x) => Object.keys(x.metric).length === Object.keys(want).length &&
    Object.entries(want).every(([k, v]) => x.metric[k] === v));
  if (s.length !== 1 || s[0].values.length !== 1) return undefined;
  return { value: s[0].values[0], ts: s[0].timestamps[0] };
}

function values(series: ExportedSeries[], name: string, labels: Record<string, string> = {}): number[] {
  return series.filter((x) => x.metric.__name__ === name && Object.entries(labels).every(([k, v]) => x.metric[k] === v)).flatMap((x) => x.values);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

// a whole second ten minutes ago (inside the server's retention, clear of "now"), plus half a millisecond
const t0 = Math.floor(Date.now() / 1000) * 1000 - 600_000 + 0.5;
const status = (over: Partial<CollectorStatus>) => collectorStatus(['veth0', 'veth1'], over);
const errs = (probe_limit: number, claim_race: number) => ({ probe_limit, iface_full: 0, claim_race, pull: 0 });

/** Three 1 s intervals; the talkers of each interval sum to its traffic rows of known scope. */
function firstPeriod(sink: InfluxSink): void {
  sink.write(intervalStats(t0, t0 + 1000, [
    { iface: 'veth0', direction: 'up', scope: 'internet', bytes: 1000, packets: 10 },
    { iface: 'veth0', direction: 'down', scope: 'internet', bytes: 5000, packets: 50 },
    { iface: 'veth0', direction: 'up', scope: 'lan', bytes: 300, packets: 3 },
  ], {
    ip: [talker('1.1.1.1', 1000, 4000, { sessions: 2, newSessions: 2, label: 'one.example' }), talker('3.3.3.3', 0, 1000, { newSessions: 1 }),
      talker('192.168.1.5', 300, 0, { newSessions: 1 })],
    domain: [talker('one.example', 1000, 4000, { sessions: 2 }), talker('unknown', 0, 1000), talker('other', 300, 0)],
  }, { activeSessions: 4, activeRemotes: 3 }), status({ mapFill: 0.1, lastDrainMs: 1.5, overflowPackets: 0, nonIpPackets: 2, bpfErrors: errs(0, 1) }));
  sink.write(intervalStats(t0 + 1000, t0 + 2000, [
    { iface: 'veth0', direction: 'up', scope: 'internet', bytes: 2000, packets: 20 },
    { iface: 'veth0', direction: 'down', scope: 'unknown', bytes: 700, packets: 7 },
  ], {
    ip: [talker('1.1.1.1', 1500, 0), talker('4.4.4.4', 500, 0, { newSessions: 1 })],
    domain: [talker('one.example', 1500, 0), talker('unknown', 500, 0)],
  }, { activeSessions: 2, activeRemotes: 2, endedSessions: endedSessions(1, t0 + 2000) }),
  status({ mapFill: 0.5, lastDrainMs: 3.25, overflowPackets: 7, nonIpPackets: 2, malformedPackets: 1, bpfErrors: errs(0, 1) }));
  sink.write(intervalStats(t0 + 2000, t0 + 3000, [
    { iface: 'veth0', direction: 'up', scope: 'internet', bytes: 500, packets: 5 },
    { iface: 'veth1', direction: 'down', scope: 'lan', bytes: 64, packets: 1 },
  ], {
    ip: [talker('3.3.3.3', 500, 0), talker('10.0.0.9', 0, 64, { newSessions: 1 })],
    domain: [talker('unknown', 500, 64)],
  }, { activeSessions: 3, activeRemotes: 2, endedSessions: endedSessions(2, t0 + 3000) }),
  status({ mapFill: 0.2, lastDrainMs: 2, overflowPackets: 7, nonIpPackets: 5, malformedPackets: 1, bpfErrors: errs(3, 1) }));
}

async function setup(t: Test, raw: Record<string, unknown>): Promise<{ vm: VictoriaMetrics; proxy: RecordingProxy; sink: InfluxSink; config: InfluxConfig }> {
  const vm = await VictoriaMetrics.start();
  t.teardown(() => vm.destroy());
  const proxy = await RecordingProxy.start(vm.url);
  t.teardown(() => proxy.close());
  const config = validateInfluxConfig({ url: proxy.url, org: 'flowlens', bucket: 'traffic', ...raw }, 'influx');
  const sink = new InfluxSink(config, { host: 'gw1' });
  t.teardown(() => sink.close(0));
  return { vm, proxy, sink, config };
}

t.test('one write period: every point, tag, field and timestamp as summed from the intervals', async (t) => {
  const { vm, proxy, sink } = await setup(t, { interval: '3s', seriesBudget: { ip: 2 } });
  firstPeriod(sink);
  await until('period 1 written', () => sink.stats().pointsWritten > 0);
  const afterFirst: InfluxSinkStats = sink.stats();
  // 2 ifaces × 2 directions × {internet, lan} + veth0 down unknown; ip: 2 + other, domain: 2 + other,
  // 6 empty dimensions: other; 8 folded counts; sessions; health
  t.equal(afterFirst.pointsWritten, 9 + 3 + 3 + 6 + 8 + 1 + 1, 'points of the first period');
  t.same(afterFirst.seriesFolded, { ip: 3, host: 0, port: 0, proto: 0, country: 0, asn: 0, domain: 1, device: 0 });
  t.equal(afterFirst.pointsDropped, 0);

  // the second period: 3 intervals with nothing but counters moving
  for (let i = 3; i < 6; i++) {
    sink.write(intervalStats(t0 + i * 1000, t0 + (i + 1) * 1000, [{ iface: 'veth1', direction: 'up', scope: 'lan', bytes: 100 * i, packets: i }],
      { host: [talker('10.1.1.1', 100 * i, 0)] }),
    status({ mapFill: 0.01, lastDrainMs: 0.5, overflowPackets: 10, nonIpPackets: 5, malformedPackets: 4, bpfErrors: errs(3, 2) }));
  }
  await sink.close(5000);
  const s = sink.stats();
  t.equal(s.pointsWritten, 31 + 27, 'both periods written (the second: 8 traffic, host 1 + other, 7 others, 8 folded, sessions, health)');
  t.equal(s.bufferedPoints, 0);
  t.equal(s.retries, 0);
  t.equal(s.lastError, undefined);

  const series = await vm.export('{__name__=~"flowlens_.*"}');
  const end1 = Math.floor(t0 + 3000);
  const end2 = Math.floor(t0 + 6000);
  const at = (name: string, labels: Record<string, string>, ts: number) => {
    const x = series.find((s) => s.metric.__name__ === name && Object.keys(s.metric).length === Object.keys(labels).length + 1 &&
      Object.entries(labels).every(([k, v]) => s.metric[k] === v));
    const i = x?.timestamps.indexOf(ts) ?? -1;
    return i < 0 ? undefined : x!.values[i];
  };
  const tr = (iface: string, direction: string, scope: string) => ({ host: 'gw1', iface, direction, scope });

  // traffic: exact sums, zero series for quiet combinations, "unknown" only where there was overflow
  const traffic: [string, string, string, number, number][] = [
    ['veth0', 'up', 'internet', 3500, 35], ['veth0', 'down', 'internet', 5000, 50], ['veth0', 'up', 'lan', 300, 3],
    ['veth0', 'down', 'lan', 0, 0], ['veth0', 'down', 'unknown', 700, 7],
    ['veth1', 'up', 'internet', 0, 0], ['veth1', 'down', 'internet', 0, 0], ['veth1', 'up', 'lan', 0, 0], ['veth1', 'down', 'lan', 64, 1],
  ];
  for (const [iface, dir, scope, bytes, packets] of traffic) {
    const l = tr(iface, dir, scope);
    t.equal(at('flowlens_traffic_bytes', l, end1), bytes, `bytes ${iface} ${dir} ${scope}`);
    t.equal(at('flowlens_traffic_packets', l, end1), packets, `packets ${iface} ${dir} ${scope}`);
    t.ok(Math.abs(at('flowlens_traffic_bits_per_second', l, end1)! - (bytes * 8) / 3) < 1e-9 * Math.max(1, bytes), `bit/s ${iface} ${dir} ${scope}`);
    t.ok(Math.abs(at('flowlens_traffic_packets_per_second', l, end1)! - packets / 3) < 1e-9 * Math.max(1, packets), `packet/s ${iface} ${dir} ${scope}`);
  }
  t.equal(at('flowlens_traffic_bytes', tr('veth0', 'up', 'unknown'), end1), undefined, 'no unknown series without overflow');
  t.equal(at('flowlens_traffic_bytes', tr('veth1', 'up', 'lan'), end2), 300 + 400 + 500, 'second period');
  t.equal(at('flowlens_traffic_bytes', tr('veth0', 'down', 'unknown'), end2), undefined, 'no overflow in the second period');
  t.same(series.find((x) => x.metric.__name__ === 'flowlens_traffic_bytes' && x.metric.iface === 'veth0' && x.metric.direction === 'up' &&
    x.metric.scope === 'internet')!.timestamps, [end1, end2], 'one point per series per period');

  // talkers: top 2 by bytes, the rest summed into other; labels on the keys that have one
  const tk = (dimension: string, key: string, label?: string) => ({ host: 'gw1', dimension, key, ...(label ? { label } : {}) });
  const talkers: [Record<string, string>, number, number, number, number, number, number][] = [
    // labels, bytes_up, bytes_down, packets_up, packets_down, sessions (mean), new_sessions
    [tk('ip', '1.1.1.1', 'one.example'), 2500, 4000, 25, 40, 1, 2],
    [tk('ip', '3.3.3.3'), 500, 1000, 5, 10, 2 / 3, 1],
    [tk('ip', 'other'), 800, 64, 8, 1, 1, 3],
    [tk('domain', 'one.example'), 2500, 4000, 25, 40, 2 / 3 + 1 / 3, 0],
    [tk('domain', 'unknown'), 1000, 1064, 10, 11, 1, 0],
    [tk('domain', 'other'), 300, 0, 3, 0, 1 / 3, 0],
  ];
  for (const [labels, bu, bd, pu, pd, sessions, newSessions] of talkers) {
    const what = `${labels.dimension} ${labels.key}`;
    t.equal(at('flowlens_talkers_bytes_up', labels, end1), bu, `${what} bytes_up`);
    t.equal(at('flowlens_talkers_bytes_down', labels, end1), bd, `${what} bytes_down`);
    t.equal(at('flowlens_talkers_bytes', labels, end1), bu + bd, `${what} bytes`);
    t.equal(at('flowlens_talkers_packets_up', labels, end1), pu, `${what} packets_up`);
    t.equal(at('flowlens_talkers_packets_down', labels, end1), pd, `${what} packets_down`);
    t.equal(at('flowlens_talkers_packets', labels, end1), pu + pd, `${what} packets`);
    t.ok(Math.abs(at('flowlens_talkers_sessions', labels, end1)! - sessions) < 1e-9, `${what} sessions ${sessions}`);
    t.equal(at('flowlens_talkers_new_sessions', labels, end1), newSessions, `${what} new_sessions`);
  }
  const keysAt = (dimension: string, ts: number) => series
    .filter((x) => x.metric.__name__ === 'flowlens_talkers_bytes' && x.metric.dimension === dimension && x.timestamps.includes(ts))
    .map((x) => x.metric.key).sort();
  t.same(keysAt('ip', end1), ['1.1.1.1', '3.3.3.3', 'other'], 'ip: the budget of 2 keys plus other');
  t.same(keysAt('domain', end1), ['one.example', 'other', 'unknown'], 'a real key "other" is folded into other');
  for (const dim of ['host', 'port', 'proto', 'country', 'asn', 'device']) {
    t.same(keysAt(dim, end1), ['other'], `${dim}: only other, zero`);
    t.equal(at('flowlens_talkers_bytes', tk(dim, 'other'), end1), 0);
  }
  t.same(keysAt('host', end2), ['10.1.1.1', 'other'], 'second period: host talkers');

  // parts sum to the total: every dimension's talkers add up to the traffic of known scope
  for (const dim of ['ip', 'domain']) {
    for (const [dir, field] of [['up', 'flowlens_talkers_bytes_up'], ['down', 'flowlens_talkers_bytes_down']] as const) {
      const talkerSum = sum(series.filter((x) => x.metric.__name__ === field && x.metric.dimension === dim)
        .map((x) => x.values[x.timestamps.indexOf(end1)] ?? 0));
      const trafficSum = sum(series.filter((x) => x.metric.__name__ === 'flowlens_traffic_bytes' && x.metric.direction === dir && x.metric.scope !== 'unknown')
        .map((x) => x.values[x.timestamps.indexOf(end1)] ?? 0));
      t.equal(talkerSum, trafficSum, `${dim} ${dir}: talkers sum to the traffic (${trafficSum})`);
    }
  }

  // folded series counts
  t.equal(at('flowlens_series_folded_folded', { host: 'gw1', dimension: 'ip' }, end1), 3);
  t.equal(at('flowlens_series_folded_keys', { host: 'gw1', dimension: 'ip' }, end1), 5);
  t.equal(at('flowlens_series_folded_folded', { host: 'gw1', dimension: 'domain' }, end1), 1);
  t.equal(at('flowlens_series_folded_keys', { host: 'gw1', dimension: 'domain' }, end1), 3);
  t.equal(at('flowlens_series_folded_folded', { host: 'gw1', dimension: 'ip' }, end2), 0);

  // sessions: at the period's end; ended sessions summed
  t.equal(at('flowlens_sessions_active', { host: 'gw1' }, end1), 3);
  t.equal(at('flowlens_sessions_remotes', { host: 'gw1' }, end1), 2);
  t.equal(at('flowlens_sessions_ended', { host: 'gw1' }, end1), 3);

  // health: gauges at their worst in the period, counters as their increase over it
  const h = (field: string, ts: number) => at(`flowlens_health_${field}`, { host: 'gw1' }, ts);
  const health1: Record<string, number> = {
    interfaces: 2, intervals: 3, map_entries: 65536, map_fill: 0.5, drain_ms: 3.25, overflow_packets: 7, non_ip_packets: 5,
    malformed_packets: 1, bpf_errors: 4, bpf_error_probe_limit: 3, bpf_error_claim_race: 1, bpf_error_iface_full: 0, bpf_error_pull: 0,
    sink_points_written: 0, sink_points_dropped: 0, sink_bytes_dropped: 0, sink_retries: 0, sink_buffered_points: 0, sink_buffered_bytes: 0,
  };
  for (const [field, v] of Object.entries(health1)) t.equal(h(field, end1), v, `health ${field} (period 1)`);
  const health2: Record<string, number> = {
    intervals: 3, map_fill: 0.01, drain_ms: 0.5, overflow_packets: 3, non_ip_packets: 0, malformed_packets: 3, bpf_errors: 1,
    bpf_error_probe_limit: 0, bpf_error_claim_race: 1, sink_points_written: 31, sink_points_dropped: 0, sink_buffered_points: 0,
  };
  for (const [field, v] of Object.entries(health2)) t.equal(h(field, end2), v, `health ${field} (period 2)`);

  // on the wire: the v2 write path with org, bucket and precision; gzip for bodies over 1 KiB
  t.equal(proxy.requests.length, 2, 'one request per period');
  for (const r of proxy.requests) {
    t.equal(r.method, 'POST');
    t.equal(r.path, '/api/v2/write?org=flowlens&bucket=traffic&precision=ms');
    t.equal(r.headers['content-encoding'], 'gzip');
    t.equal(r.status, 204);
  }
  t.equal(afterFirst.bytesWritten, Buffer.byteLength(proxy.requests[0].body) + 1, 'bytes written: the body plus its last newline');
  t.equal(proxy.acceptedLines().length, 58);
  t.equal(sum(values(series, 'flowlens_health_intervals')), 6, 'every interval counted once');
});

t.test('precision: timestamps in s, us and ns land on the period end; gzip off sends plain text', async (t) => {
  for (const [precision, expected] of [
    ['s', Math.floor((t0 + 3000) / 1000) * 1000],
    ['us', Math.floor(t0 + 3000)],
    ['ns', Math.floor(t0 + 3000)],
  ] as const) {
    const { vm, proxy, sink } = await setup(t, { interval: '3s', precision, gzip: false });
    firstPeriod(sink);
    await sink.close(5000);
    const series = await vm.export('{__name__="flowlens_traffic_bytes"}');
    t.equal(series.length, 9, `${precision}: 9 traffic series`);
    t.ok(series.every((x) => x.timestamps.length === 1 && x.timestamps[0] === expected), `${precision}: stored at ${expected}`);
    t.equal(sample(series, 'flowlens_traffic_bytes', { host: 'gw1', iface: 'veth0', direction: 'up', scope: 'internet' })?.value, 3500);
    t.equal(proxy.requests[0].headers['content-encoding'], undefined, `${precision}: no gzip`);
    t.match(proxy.requests[0].path, new RegExp(`precision=${precision}$`));
    const line = proxy.requests[0].body.split('\n').find((l) => l.startsWith('flowlens_traffic,') && l.includes('iface=veth0') && l.includes('direction=up') && l.includes('scope=internet'))!;
    const stamp = { s: String(Math.floor((t0 + 3000) / 1000)), us: String(Math.round((t0 + 3000) * 1000)), ns: `${Math.round((t0 + 3000) * 1000)}000` }[precision];
    t.equal(line, `flowlens_traffic,direction=up,host=gw1,iface=veth0,scope=internet bits_per_second=${(3500 * 8) / 3},bytes=3500i,packets=35i,packets_per_second=${35 / 3} ${stamp}`,
      `${precision}: the line as sent`);
  }
});

t.test('keys with line protocol\'s special characters arrive as they are; a trailing backslash becomes ∖', async (t) => {
  const { vm, sink } = await setup(t, { interval: '1s' });
  const keys: [string, number][] = [['a b', 100], ['c,d', 200], ['e=f', 300], ['h\\i', 400], ['ünï.example', 500], ['g\\', 600], ['g\u2216', 7]];
  sink.write(intervalStats(t0, t0 + 1000, [{ iface: 'veth0', direction: 'down', scope: 'internet', bytes: 2107, packets: 30 }],
    { domain: keys.map(([k, b]) => talker(k, 0, b)) }), collectorStatus(['veth0']));
  await sink.close(5000);
  t.equal(sink.stats().pointsDropped, 0, 'the server took every point');
  t.equal(sink.stats().lastError, undefined);
  const series = await vm.export('{__name__="flowlens_talkers_bytes_down", dimension="domain"}');
  const stored = Object.fromEntries(series.map((s) => [s.metric.key, s.values[0]]));
  t.same(stored, { 'a b': 100, 'c,d': 200, 'e=f': 300, 'h\\i': 400, 'ünï.example': 500, 'g\u2216': 607, other: 0 },
    'keys as written; "g\\" and "g∖" would be one series, so they are summed');
});
