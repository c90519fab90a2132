/**
 * InfluxDB goes away while intervals keep coming: write() still returns at
 * once, the buffer never holds more than its caps, the oldest points are
 * dropped and counted exactly; when the server is back (same port, same data)
 * the backlog arrives oldest first, and the drops show in the health points
 * written afterwards (health points are dropped last, so their sum is exact
 * even when an outage outlasts the buffer many times).
 */
import t from 'tap';
import { InfluxSink, validateInfluxConfig } from '../../src/sinks/influx/index.js';
import { VictoriaMetrics } from '../helpers/victoria-metrics.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { collectorStatus, intervalStats } from '../helpers/interval-stats.js';

async function until(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** 1 interface, no talkers: 4 traffic + 8 "other" talkers + 8 folded counts + sessions + health. */
const POINTS_PER_PERIOD = 22;
const CAP = 10 * POINTS_PER_PERIOD;

for (const viaProxy of [true, false]) {
  t.test(`outage ${viaProxy ? 'behind a proxy (connection dropped; arrival order recorded)' : 'of the server itself (connection refused)'}`, async (t) => {
    const vm = await VictoriaMetrics.start();
    t.teardown(() => vm.destroy());
    const proxy = viaProxy ? await RecordingProxy.start(vm.url) : undefined;
    if (proxy) t.teardown(() => proxy.close());
    const config = validateInfluxConfig({
      url: proxy?.url ?? vm.url, bucket: 'flowlens', interval: '1s', batchSize: POINTS_PER_PERIOD, maxBufferPoints: CAP,
      retryMin: '50ms', retryMax: '200ms', timeout: '2s', gzip: false,
    }, 'influx');
    const sink = new InfluxSink(config, { host: 'nas' });
    t.teardown(() => sink.close(0));

    const t0 = Math.floor(Date.now() / 1000) * 1000 - 600_000;
    const status = collectorStatus(['eth0']);
    /** Period k: one 1 s interval with k kB up. */
    const period = (k: number) => {
      sink.write(intervalStats(t0 + (k - 1) * 1000, t0 + k * 1000, [{ iface: 'eth0', direction: 'up', scope: 'internet', bytes: k * 1000, packets: k }]), status);
    };

    range(1, 5).forEach(period);
    await until('5 periods written', () => sink.stats().pointsWritten === 5 * POINTS_PER_PERIOD);

    await vm.stop();
    let maxPoints = 0, maxBytes = 0;
    for (const k of range(6, 25)) {
      period(k);
      const s = sink.stats();
      maxPoints = Math.max(maxPoints, s.bufferedPoints);
      maxBytes = Math.max(maxBytes, s.bufferedBytes);
    }
    await until('retries against the stopped server', () => sink.stats().retries >= 3);
    const down = sink.stats();
    t.ok(maxPoints <= CAP, `buffer never above its cap (${maxPoints} <= ${CAP} points)`);
    t.ok(maxBytes <= config.maxBufferBytes, `nor above its byte cap (${maxBytes} bytes)`);
    t.equal(down.bufferedPoints, CAP, 'the buffer is full');
    t.equal(down.pointsDropped, 20 * POINTS_PER_PERIOD - CAP, 'exactly the points beyond the cap were dropped');
    t.ok(down.bytesDropped > 0);
    t.equal(down.pointsWritten, 5 * POINTS_PER_PERIOD, 'nothing written while down');
    t.match(down.lastError?.message, viaProxy
      ? /^cannot write to InfluxDB at http:\/\/127\.0\.0\.1:\d+: (ECONNRESET|socket hang up)/
      : /^cannot write to InfluxDB at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/);
    t.ok(down.backingOff || down.retries > 0, 'retrying with back-off');

    await vm.resume();
    await until('backlog written', () => sink.stats().bufferedPoints === 0);
    const recovered = sink.stats();
    t.equal(recovered.pointsWritten, 5 * POINTS_PER_PERIOD + CAP, 'the whole backlog arrived');
    t.ok(recovered.lastSuccess! >= down.lastError!.at, 'a success after the last error');

    range(26, 28).forEach(period);
    await sink.close(10_000);
    const end = sink.stats();
    t.equal(end.pointsWritten, 5 * POINTS_PER_PERIOD + CAP + 3 * POINTS_PER_PERIOD);
    t.equal(end.pointsDropped, 20 * POINTS_PER_PERIOD - CAP, 'no drop after recovery');
    t.equal(end.bytesDropped, down.bytesDropped);

    // the server holds periods 1-5, 6 (the batch in flight when it went down is never dropped),
    // 18-25 (the newest that fit) and 26-28; 7-17 were dropped as the oldest, all but their
    // health points, which carry the drop counts and go last (so they take the room of period 17)
    const kept = [...range(1, 6), ...range(18, 28)];
    const series = await vm.export('{__name__="flowlens_traffic_bytes", direction="up", scope="internet"}');
    t.equal(series.length, 1);
    t.same(series[0].timestamps, kept.map((k) => t0 + k * 1000), 'timestamps of the kept periods');
    t.same(series[0].values, kept.map((k) => k * 1000), 'their bytes');

    // the drops and retries are in the health points written afterwards, exactly
    const health = await vm.export('{__name__=~"flowlens_health_sink_.*"}');
    const total = (name: string) => sum(health.filter((x) => x.metric.__name__ === name).flatMap((x) => x.values));
    t.equal(total('flowlens_health_sink_points_dropped'), end.pointsDropped, 'Σ sink_points_dropped = points dropped');
    t.equal(total('flowlens_health_sink_bytes_dropped'), end.bytesDropped, 'Σ sink_bytes_dropped = bytes dropped');
    t.equal(total('flowlens_health_sink_retries'), end.retries, 'Σ sink_retries = retries');
    const buffered = health.find((x) => x.metric.__name__ === 'flowlens_health_sink_buffered_points')!;
    t.equal(buffered.values[buffered.timestamps.indexOf(t0 + 25 * 1000)], CAP, 'period 25 was made while the buffer was full');

    if (proxy) {
      // arrival order: every accepted line's timestamp is at or after the one before it
      const stamps = proxy.acceptedLines().map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
      t.equal(stamps.length, end.pointsWritten, 'every written point went through once');
      t.ok(stamps.every((s, i) => i === 0 || s >= stamps[i - 1]), 'oldest first');
      t.same([...new Set(stamps)], range(1, 28).map((k) => t0 + k * 1000), 'periods in order (7-17 by their health points only)');
      t.ok(proxy.refused >= 3, `requests refused while down: ${proxy.refused}`);
    }
  });
}

t.test('a long outage with a small buffer: the health points survive, so the drops they carry sum exactly', async (t) => {
  const vm = await VictoriaMetrics.start();
  t.teardown(() => vm.destroy());
  const config = validateInfluxConfig({
    url: vm.url, bucket: 'flowlens', interval: '1s', batchSize: POINTS_PER_PERIOD, maxBufferPoints: 3 * POINTS_PER_PERIOD,
    retryMin: '50ms', retryMax: '200ms', timeout: '2s', gzip: false,
  }, 'influx');
  const sink = new InfluxSink(config, { host: 'nas' });
  t.teardown(() => sink.close(0));
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 600_000;
  const status = collectorStatus(['eth0']);
  const period = (k: number) => {
    sink.write(intervalStats(t0 + (k - 1) * 1000, t0 + k * 1000, [{ iface: 'eth0', direction: 'up', scope: 'internet', bytes: k * 1000, packets: k }]), status);
  };
  period(1);
  await until('period 1 written', () => sink.stats().pointsWritten === POINTS_PER_PERIOD);
  await vm.stop();
  // 40 periods into a buffer of 3: before, the health points that carried the drops were dropped with them
  for (const k of range(2, 41)) period(k);
  await until('retries against the stopped server', () => sink.stats().retries >= 3);
  t.ok(sink.stats().pointsDropped > 30 * POINTS_PER_PERIOD, `most points were dropped (${sink.stats().pointsDropped})`);
  await vm.resume();
  await until('backlog written', () => sink.stats().bufferedPoints === 0);
  period(42);
  await sink.close(10_000);
  const end = sink.stats();
  const health = await vm.export('{__name__=~"flowlens_health_sink_.*"}');
  const total = (name: string) => sum(health.filter((x) => x.metric.__name__ === name).flatMap((x) => x.values));
  t.equal(total('flowlens_health_sink_points_dropped'), end.pointsDropped, `Σ sink_points_dropped = points dropped (${end.pointsDropped})`);
  t.equal(total('flowlens_health_sink_bytes_dropped'), end.bytesDropped, 'Σ sink_bytes_dropped = bytes dropped');
});
