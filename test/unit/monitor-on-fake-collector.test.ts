/**
 * The whole control plane without a kernel: the composition root (src/compose.ts)
 * with every part on — API server, history store, InfluxDB writer, names, geo —
 * fed by a fake collector that replays crafted FlowBatches over several
 * intervals. The exact totals, talkers and sessions reach every consumer; the
 * status is typed; a consumer that throws is counted and counting goes on; a
 * part that fails to start stops the ones started before it.
 */
import t, { type Test } from 'tap';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { configFrom, type FlowlensConfig } from '../../src/config/index.js';
import { Flowlens, type CollectorDependency } from '../../src/compose.js';
import { Monitor, type Consumer } from '../../src/monitor.js';
import { Store } from '../../src/store/index.js';
import type { IntervalStats } from '../../src/flows/types.js';
import { FakeCollector } from '../helpers/fake-collector.js';
import { HOST, tcpFlows } from '../helpers/api-fixture.js';
import { httpRequest } from '../helpers/api-clients.js';
import { tempDataDir } from '../helpers/intervals.js';
import { dnsResponse, TYPE } from '../helpers/dns-messages.js';
import { mmdbTempDir, writeMmdb } from '../helpers/mmdb-writer.js';

const REMOTE = '203.0.113.7';

/** A loopback server that takes InfluxDB v2 writes and keeps every line. */
async function influxServer(t: Test): Promise<{ url: string; lines: string[] }> {
  const lines: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString();
      if (req.url?.startsWith('/api/v2/write')) lines.push(...text.split('\n').filter(Boolean));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, lines };
}

/** Σ of an integer field over the lines of a measurement whose tags include all of `tags`. */
function sumField(lines: string[], measurement: string, tags: Record<string, string>, field: string): number {
  let sum = 0;
  for (const l of lines) {
    const [series, fields] = l.split(' ');
    const [m, ...kv] = series!.split(',');
    if (m !== measurement || !Object.entries(tags).every(([k, v]) => kv.includes(`${k}=${v}`))) continue;
    const f = fields!.split(',').find((x) => x.startsWith(`${field}=`));
    if (f) sum += Number(f.slice(field.length + 1).replace(/i$/, ''));
  }
  return sum;
}

function settings(t: Test, flags: Record<string, string | boolean>): FlowlensConfig {
  const file = path.join(tempDataDir(t, 'cfg'), 'flowlens.yaml');
  writeFileSync(file, '{}\n');
  return configFrom({ file, env: {}, flags: { iface: 'eth0', host: 'fake-host', ...flags } });
}

function fakeDependency(fake: FakeCollector): CollectorDependency {
  return { check: () => undefined, open: () => fake };
}

/** The three intervals: up 1000·k, down 10000·k bytes of one TCP conversation; a DNS answer names the remote first. */
function replay(fake: FakeCollector, now: number): void {
  const dns = dnsResponse({ question: 'example.test', qtype: TYPE.A, answers: [{ name: 'example.test', type: TYPE.A, ttl: 3600, data: REMOTE }] });
  for (let k = 1; k <= 3; k++) {
    const end = now - (3 - k) * 1000;
    fake.drain({
      end, flows: tcpFlows(REMOTE, 50000, 443, 1000 * k, 10_000 * k, end - 500),
      captures: k === 1 ? [{ kind: 'dns', ifindex: 2, direction: 'ingress', ipVersion: 4, protocol: 17, src: '10.9.0.1', dst: HOST,
        srcPort: 53, dstPort: 40000, time: end - 900, payload: dns, payloadLength: dns.length }] : [],
    });
  }
}

t.test('every part of a running flowlens gets the exact totals, talkers and sessions of the replayed intervals', async (t) => {
  const influx = await influxServer(t);
  const dataDir = tempDataDir(t, 'plane');
  const city = path.join(mmdbTempDir(t), 'city.mmdb');
  writeMmdb(city, [{ cidr: '203.0.113.0/24', record: { city: 'Sydney', country_code: 'AU' } }]);
  const config = settings(t, {
    'data-dir': dataDir, 'flush-interval': '1h', 'http-port': '0', 'grpc-port': '0', 'geo-city': city,
    'influx-url': influx.url, 'influx-org': 'org', 'influx-bucket': 'bucket', 'influx-token': 'secret',
  });
  const fake = new FakeCollector();
  const flowlens = new Flowlens(config, { collector: fakeDependency(fake), hostAddresses: () => [HOST] });
  const errors: string[] = [];
  flowlens.monitor.on('error', (e) => errors.push(e.message));
  await flowlens.start();
  t.teardown(() => flowlens.stop().catch(() => undefined));
  t.ok(fake.started, 'the monitor drains the collector');

  const now = Date.now();
  replay(fake, now);
  const web = { base: `http://127.0.0.1:${flowlens.api!.status()!.httpPort}` };

  // the API server: live talkers with the geo and names labels, the history through the store, /metrics
  const top = (await httpRequest(web, '/api/top_ips')).json();
  t.same(top.rows.map((r: { key: string; bytes: number }) => [r.key, r.bytes]), [[REMOTE, 66_000]], 'live top remotes');
  t.same((await httpRequest(web, '/api/top?dimension=country')).json().rows.map((r: { key: string }) => r.key), ['AU'], 'the country from the geo database');
  t.same((await httpRequest(web, '/api/top?dimension=domain')).json().rows.map((r: { key: string }) => r.key), ['example.test'], 'the name from the DNS answer');
  t.same((await httpRequest(web, '/api/summary')).json().today.totals, { up: 6000, down: 60_000, total: 66_000, packetsUp: 6, packetsDown: 60 }, 'history via the API');
  const metrics = (await httpRequest(web, '/metrics')).text;
  t.match(metrics, /flowlens_traffic_bytes_total\{[^}]*direction="up",scope="internet"[^}]*\} 6000\n/, '/metrics: bytes up');
  t.match(metrics, /flowlens_traffic_bytes_total\{[^}]*direction="down",scope="internet"[^}]*\} 60000\n/, '/metrics: bytes down');
  const status = (await httpRequest(web, '/api/status')).json();
  t.match(status, { host: 'fake-host', intervals: 3, activeSessions: 1, namedAddresses: 1, dnsAnswers: 1, interfaces: [{ name: 'eth0' }] }, '/api/status');

  // the typed status: each part's own figures, no casts
  const s = flowlens.monitor.status();
  t.equal(s.collector.intervals, 3);
  t.equal(s.sinks.history?.dataDir, dataDir);
  t.equal(s.sinks.names?.names, 1);
  t.equal(s.sinks.geo?.databases[0]?.role, 'city');
  t.equal(s.sinks.influx?.periods, 0, 'the InfluxDB period (10 s) is still open');
  t.same(s.consumerErrors, {});

  await flowlens.stop();
  t.ok(fake.stopped, 'the collector drained one last time');
  t.equal((await httpRequest(web, '/api/status').then(() => 'answered', (e: NodeJS.ErrnoException) => e.code)), 'ECONNREFUSED', 'the API is closed');

  // the history store: flushed at stop, with the session that was open at shutdown
  const store = Store.openReadOnly({ dataDir });
  t.teardown(() => store.close());
  t.match(store.summary().today, { up: 6000, down: 60_000, total: 66_000, packetsUp: 6, packetsDown: 60 }, 'history on disk');
  const ended = store.sessions({ source: 'ended' }).sessions;
  t.match(ended, [{ remote: REMOTE, remotePort: 443, bytesUp: 6000, bytesDown: 60_000, domain: 'example.test', country: 'AU', city: 'Sydney', endReason: 'shutdown' }]);
  t.equal(ended.length, 1, 'one session');

  // the InfluxDB writer: the last period written at stop
  t.equal(sumField(influx.lines, 'flowlens_traffic', { host: 'fake-host', direction: 'up', scope: 'internet' }, 'bytes'), 6000, 'influx: bytes up');
  t.equal(sumField(influx.lines, 'flowlens_traffic', { direction: 'down', scope: 'internet' }, 'bytes'), 60_000, 'influx: bytes down');
  t.equal(sumField(influx.lines, 'flowlens_talkers', { dimension: 'ip', key: REMOTE }, 'bytes'), 66_000, 'influx: the remote as talker');
  t.equal(sumField(influx.lines, 'flowlens_talkers', { dimension: 'domain', key: 'example.test' }, 'bytes'), 66_000, 'influx: the named talker');
  t.equal(flowlens.influx?.status()?.pointsWritten, influx.lines.length, 'the writer counted what the server got');
  t.same(errors, [], 'no part failed');
});

t.test('a consumer that throws is counted and skipped; counting goes on', async (t) => {
  const fake = new FakeCollector();
  const got: IntervalStats[] = [];
  const broken: Consumer = { name: 'broken', add: () => { throw new Error('disk full'); } };
  const recording: Consumer = { name: 'recording', add: (s) => { got.push(s); } };
  const monitor = new Monitor(settings(t, {}), { openCollector: () => fake, consumers: [broken, recording], hostAddresses: () => [HOST] });
  const errors: string[] = [];
  monitor.on('error', (e) => errors.push(e.message));
  t.same(monitor.status().collector.attachments, [], 'not attached before start');
  monitor.start();
  const now = Date.now();
  for (let k = 1; k <= 3; k++) fake.drain({ end: now + k * 1000, flows: tcpFlows(REMOTE, 50000, 443, 100, 900, now + k * 1000 - 500) });
  t.same(got.map((s) => s.traffic.reduce((a, r) => a + r.bytes, 0)), [1000, 1000, 1000], 'the consumer after it got every interval');
  t.same(got.map((s) => s.talkers.ip.map((r) => [r.key, r.bytesUp, r.bytesDown])), [1, 2, 3].map(() => [[REMOTE, 100, 900]]));
  t.same(monitor.status().consumerErrors, { broken: { count: 3, last: 'disk full' } });
  t.same(errors, ['broken: disk full', 'broken: disk full', 'broken: disk full']);
  await monitor.stop();
  t.same(got.at(-1)?.endedSessions.map((e) => [e.remote, e.bytesUp, e.bytesDown, e.endReason]), [[REMOTE, 300, 2700, 'shutdown']], 'at stop: the open session, ended');
  t.equal(monitor.status().consumerErrors.broken?.count, 5, 'and the last drain and the ended sessions were tried too');
});

t.test('a part that fails to start stops the ones started before it, in reverse order', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const dataDir = tempDataDir(t, 'partial');
  const config = settings(t, { 'data-dir': dataDir, 'http-port': String((busy.address() as net.AddressInfo).port), 'grpc-port': '0', 'no-bundled-geo': true });
  const fake = new FakeCollector();
  let opened = 0;
  const flowlens = new Flowlens(config, { collector: { check: () => undefined, open: () => { opened++; return fake; } }, hostAddresses: () => [HOST] });
  await t.rejects(flowlens.start(), { message: /cannot serve HTTP on 127\.0\.0\.1:\d+: the port is in use/ });
  t.equal(opened, 0, 'the busy port is found before the collector is opened (nothing attached)');
  t.notOk(fake.started, 'and nothing drained');
  t.equal(flowlens.history?.store, undefined, 'the history store was closed');
  const again = Store.open({ dataDir, flushIntervalMs: 0 });  // the writer's lock was released
  again.close();
  t.pass('the data directory can be opened by the next writer');
});
