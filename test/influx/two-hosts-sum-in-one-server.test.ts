/**
 * Many hosts, one InfluxDB: two sinks with different host tags write to the
 * same server at the same time; queries tell them apart by host and sum them.
 */
import t from 'tap';
import { InfluxSink, validateInfluxConfig } from '../../src/sinks/influx/index.js';
import { VictoriaMetrics } from '../helpers/victoria-metrics.js';
import { collectorStatus, intervalStats, talker } from '../helpers/interval-stats.js';

t.test('two hosts into one server: per-host series and their sum', async (t) => {
  const vm = await VictoriaMetrics.start();
  t.teardown(() => vm.destroy());
  const config = validateInfluxConfig({ url: vm.url, org: 'fleet', bucket: 'flowlens', interval: '2s' }, 'influx');
  const hosts = [
    { host: 'alpha', iface: 'eth0', down: 7000, up: 1100 },
    { host: 'beta', iface: 'wlan0', down: 3000, up: 900 },
  ];
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 600_000;
  const sinks = hosts.map((h) => {
    const sink = new InfluxSink(config, { host: h.host });
    t.teardown(() => sink.close(0));
    return sink;
  });
  // two periods of two 1 s intervals each, both hosts interleaved as two processes would be
  for (let i = 0; i < 4; i++) {
    hosts.forEach((h, n) => sinks[n].write(intervalStats(t0 + i * 1000, t0 + (i + 1) * 1000, [
      { iface: h.iface, direction: 'down', scope: 'internet', bytes: h.down, packets: h.down / 100 },
      { iface: h.iface, direction: 'up', scope: 'internet', bytes: h.up, packets: h.up / 100 },
    ], { country: [talker('DE', h.up, h.down)] }), collectorStatus([h.iface])));
  }
  await Promise.all(sinks.map((s) => s.close(5000)));
  for (const s of sinks) t.equal(s.stats().pointsDropped, 0);

  const end1 = t0 + 2000;
  const end2 = t0 + 4000;
  const perHost = await vm.query('sum by (host) (flowlens_traffic_bytes{direction="down"})', end1);
  t.same(perHost.map((r) => [r.metric.host, r.value]).sort(), [['alpha', 14000], ['beta', 6000]], 'each host its own bytes');
  const fleet = await vm.query('sum(flowlens_traffic_bytes{direction="down", scope="internet"})', end1);
  t.same(fleet.map((r) => r.value), [20000], 'the fleet sum of one period');
  const both = await vm.query('sum(sum_over_time(flowlens_traffic_bytes[5s]))', end2);
  t.same(both.map((r) => r.value), [4 * (7000 + 1100 + 3000 + 900)], 'every byte of both periods and hosts, once');
  const country = await vm.query('sum by (key) (flowlens_talkers_bytes{dimension="country"})', end2);
  t.same(country.map((r) => [r.metric.key, r.value]).sort(), [['DE', 2 * (7000 + 1100 + 3000 + 900)], ['other', 0]], 'talkers sum across hosts too');
  const ifaces = await vm.query('count by (host, iface) (flowlens_traffic_bytes)', end2);
  t.same(ifaces.map((r) => [r.metric.host, r.metric.iface, r.value]).sort(), [['alpha', 'eth0', 4], ['beta', 'wlan0', 4]],
    'each host its interface: 2 directions × 2 scopes');
});
