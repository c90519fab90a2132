/**
 * What goes over the wire and what happens when the server says no:
 *  - the InfluxDB 1.8 form (database + retention policy, "user:password"
 *    token) becomes bucket "db/rp" and a Token header, without an org;
 *  - a refused token (401) is retried and shown in lastError with a hint, but
 *    the token itself never appears; at shutdown what is left counts as dropped;
 *  - a batch the server refuses for its content (400) is dropped at once,
 *    counted, and the batches after it are written.
 */
import t from 'tap';
import { InfluxSink, validateInfluxConfig } from '../../src/sinks/influx/index.js';
import { VictoriaMetrics } from '../helpers/victoria-metrics.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { collectorStatus, intervalStats, talker } from '../helpers/interval-stats.js';

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const t0 = Math.floor(Date.now() / 1000) * 1000 - 600_000;
const traffic = [{ iface: 'eth0', direction: 'down' as const, scope: 'internet' as const, bytes: 4242, packets: 42 }];
/** 4 traffic + 8 other talkers + 8 folded + sessions + health. */
const PLAIN_PERIOD_POINTS = 22;

t.test('InfluxDB 1.8 form: bucket "database/retention-policy", Token user:password, no org', async (t) => {
  const vm = await VictoriaMetrics.start();
  t.teardown(() => vm.destroy());
  const proxy = await RecordingProxy.start(vm.url);
  t.teardown(() => proxy.close());
  const config = validateInfluxConfig({ url: proxy.url, database: 'telegraf', retentionPolicy: 'autogen', token: 'flowlens:s3cret', interval: '1s' }, 'influx');
  const sink = new InfluxSink(config, { host: 'old-box' });
  sink.write(intervalStats(t0, t0 + 1000, traffic), collectorStatus(['eth0']));
  await sink.close(5000);
  t.equal(sink.stats().pointsWritten, PLAIN_PERIOD_POINTS);
  t.equal(proxy.requests.length, 1);
  t.equal(proxy.requests[0].path, '/api/v2/write?bucket=telegraf%2Fautogen&precision=ms');
  t.equal(proxy.requests[0].headers.authorization, 'Token flowlens:s3cret');
  const stored = await vm.query('flowlens_traffic_bytes{host="old-box", direction="down", scope="internet"}', t0 + 1000);
  t.same(stored.map((r) => r.value), [4242]);
});

t.test('a refused token is retried, reported with a hint and never shown; shutdown counts what is left', async (t) => {
  // this server takes only Basic auth: the Token header is refused with 401
  const vm = await VictoriaMetrics.start(['-httpAuth.username=flowlens', '-httpAuth.password=right']);
  t.teardown(() => vm.destroy());
  const token = 'wrong-token-0123456789abcdef';
  const config = validateInfluxConfig({ url: vm.url, org: 'o', bucket: 'b', token, interval: '1s', retryMin: '20ms', retryMax: '50ms' }, 'influx');
  const sink = new InfluxSink(config, { host: 'gw' });
  sink.write(intervalStats(t0, t0 + 1000, traffic), collectorStatus(['eth0']));
  await until('three retries', () => sink.stats().retries >= 3);
  const s = sink.stats();
  t.equal(s.pointsWritten, 0);
  t.equal(s.pointsDropped, 0, 'nothing dropped while the buffer has room');
  t.equal(s.bufferedPoints, PLAIN_PERIOD_POINTS);
  t.match(s.lastError?.message, new RegExp(`^InfluxDB at ${vm.url.replace(/\./g, '\\.')} answered HTTP 401 \\(check influx\\.token\\)`));
  t.notOk(JSON.stringify(s).includes(token), 'the token is nowhere in the stats');
  await sink.close(100);
  const end = sink.stats();
  t.equal(end.pointsDropped, PLAIN_PERIOD_POINTS, 'left at shutdown: dropped');
  t.equal(end.bytesDropped, s.bufferedBytes);
  t.equal(end.bufferedPoints, 0);
  sink.write(intervalStats(t0 + 1000, t0 + 2000, traffic), collectorStatus(['eth0']));
  t.equal(sink.stats().bufferedPoints, 0, 'write() after close() is ignored');
});

t.test('a batch refused for its content (400) is dropped and counted; the next batches are written', async (t) => {
  // the server refuses a request whose only line is over its line limit (it skips such lines among others)
  const vm = await VictoriaMetrics.start(['-influx.maxLineSize=1500']);
  t.teardown(() => vm.destroy());
  const config = validateInfluxConfig({ url: vm.url, bucket: 'b', interval: '1s', batchSize: 1, retryMin: '20ms', gzip: false }, 'influx');
  const sink = new InfluxSink(config, { host: 'gw' });
  t.teardown(() => sink.close(0));
  // lines 0-3: traffic; line 4: the ip talker with a 2000-character label
  sink.write(intervalStats(t0, t0 + 1000, traffic, { ip: [talker('192.0.2.7', 0, 4242, { label: `${'x'.repeat(1996)}.org` })] }), collectorStatus(['eth0']));
  await sink.close(5000);
  const s = sink.stats();
  const points = PLAIN_PERIOD_POINTS + 1;
  t.equal(s.pointsDropped, 1, 'the batch with the long line was refused');
  const refused = `flowlens_talkers,dimension=ip,host=gw,key=192.0.2.7,label=${'x'.repeat(1996)}.org ` +
    `bytes=4242i,bytes_down=4242i,bytes_up=0i,new_sessions=0i,packets=43i,packets_down=43i,packets_up=0i,sessions=1 ${t0 + 1000}`;
  t.equal(s.bytesDropped, Buffer.byteLength(refused) + 1, 'and its bytes (the line and its newline)');
  t.equal(s.pointsWritten, points - 1, 'the rest were written');
  t.equal(s.batchesWritten, points - 1);
  t.equal(s.retries, 0, 'a content refusal is not retried');
  t.match(s.lastError?.message, /answered HTTP 400: .*too long line/);
  const health = await vm.query('flowlens_health_intervals{host="gw"}', t0 + 1000);
  t.same(health.map((r) => r.value), [1], 'a later batch arrived');
});
