/**
 * The alerts of a running flowlens (the composition root with a fake
 * collector, history, API and a webhook receiver on loopback): a port scan is
 * one alert naming scanner and target, a SYN flood names its victim and
 * resolves when it stops, a threshold rule respects for:, a daily quota fires
 * at 80 % then 100 %, and each firing and resolved is notified exactly once —
 * signed, in order after an outage, and not again after a restart — and by
 * email to a real SMTP server (Debian's python3-aiosmtpd); InfluxDB points and
 * the gRPC Alerts service.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import net from 'node:net';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import * as grpc from '@grpc/grpc-js';
import { AlertsClient, type AlertEvent, type ListAlertsResponse } from '../../src/api/grpc/gen/flowlens/v1/flowlens.js';
import { configFrom, dumpConfig, loadConfig, type FlowlensConfig } from '../../src/config/index.js';
import { Flowlens } from '../../src/compose.js';
import { FlowlensError } from '../../src/errors.js';
import type { FlowSpec } from '../helpers/flow-batch.js';
import { FakeCollector } from '../helpers/fake-collector.js';
import { HOST } from '../helpers/api-fixture.js';
import { httpRequest } from '../helpers/api-clients.js';
import { tempDataDir } from '../helpers/intervals.js';
import { until, webhookReceiver } from '../helpers/webhook-receiver.js';

const SCANNER = '198.51.100.9';
const FLOODER = '198.51.100.20';
const SECRET = 'hook-secret';

function settings(t: Test, dataDir: string, alerts: Record<string, unknown>): FlowlensConfig {
  const file = path.join(tempDataDir(t, 'cfg'), 'flowlens.yaml');
  writeFileSync(file, stringify({ alerts }));
  return configFrom({ file, env: {}, flags: { iface: 'eth0', host: 'fake-host', 'data-dir': dataDir, 'flush-interval': '1h', 'http-port': '0', 'grpc-port': '0' } });
}

async function running(t: Test, config: FlowlensConfig): Promise<{ flowlens: Flowlens; fake: FakeCollector; web: { base: string } }> {
  const fake = new FakeCollector();
  const flowlens = new Flowlens(config, { collector: { check: () => undefined, open: () => fake }, hostAddresses: () => [HOST] });
  await flowlens.start();
  t.teardown(() => flowlens.stop().catch(() => undefined));
  return { flowlens, fake, web: { base: `http://127.0.0.1:${flowlens.api!.status()!.httpPort}` } };
}

/** SYNs from `src` to HOST on each port, each refused with RST|ACK. */
function refusedSyns(src: string, ports: number[], at: number): FlowSpec[] {
  return ports.flatMap((port) => [
    { direction: 'ingress' as const, protocol: 6, src, dst: HOST, srcPort: 40000, dstPort: port, packets: 1, bytes: 44, tcpFlags: 0x02, firstSeen: at, lastSeen: at },
    { direction: 'egress' as const, protocol: 6, src: HOST, dst: src, srcPort: port, dstPort: 40000, packets: 1, bytes: 40, tcpFlags: 0x14, firstSeen: at + 1, lastSeen: at + 1 },
  ]);
}

/** A normal download: handshake completed both ways, `bytes` down. */
function download(remote: string, localPort: number, bytes: number, at: number): FlowSpec[] {
  return [
    { direction: 'egress', protocol: 6, src: HOST, dst: remote, srcPort: localPort, dstPort: 443, packets: 10, bytes: 600, tcpFlags: 0x12, firstSeen: at, lastSeen: at },
    { direction: 'ingress', protocol: 6, src: remote, dst: HOST, srcPort: 443, dstPort: localPort, packets: Math.ceil(bytes / 1400), bytes, tcpFlags: 0x12, firstSeen: at + 1, lastSeen: at + 1 },
  ];
}

const webhooks = (url: string) => [{ name: 'ops', url, secret: SECRET }];

t.test('the rules and receivers are checked with every error listed', async (t) => {
  const dir = tempDataDir(t, 'bad');
  try {
    settings(t, dir, {
      rules: [
        { name: 'a', metric: 'bits', above: 5 },
        { name: 'a', metric: 'bit/s', above: 5, below: 1, subject: { host: '10.0.0.1', remote: '1.2.3.4' } },
        { metric: 'bytes', above: 'lots', for: 'soon' },
        { name: 'q', quota: { period: 'week', limit: 0 } },
      ],
      webhooks: [{ name: 'x', url: 'ftp://nowhere' }],
    });
    t.fail('accepted');
  } catch (e) {
    t.type(e, FlowlensError);
    const text = (e as FlowlensError).message;
    for (const want of ['rules[0].metric must be one of', 'rules[1].name "a" is used by another rule', 'rules[1] needs exactly one of above: or below:',
      'rules[1].subject names host and remote', 'rules[2].name is missing', 'rules[2].above must be a number', 'rules[2].for must be a duration',
      'rules[3].quota.period must be day or month', 'rules[3].quota.limit must be a size', 'webhooks[0].url must be a http or https URL']) {
      t.match(text, want, want);
    }
    t.match(text, /^10 settings are wrong/, 'all ten at once');
  }
});

t.test('a port scan is one alert naming scanner and target, notified once when firing and once when resolved', async (t) => {
  const hook = await webhookReceiver(t);
  const { flowlens, fake, web } = await running(t, settings(t, tempDataDir(t, 'scan'), { webhooks: webhooks(hook.url), scanWindow: '3s' }));
  const now = Date.now();
  const ports = Array.from({ length: 1000 }, (_, i) => i + 1);
  fake.drain({ end: now, flows: refusedSyns(SCANNER, ports, now - 500) });
  t.same((await httpRequest(web, '/api/alerts')).json().alerts, [], 'judged one interval after the attempts (an answer may come late)');
  fake.drain({ end: now + 1000, flows: [] });
  const alerts = (await httpRequest(web, '/api/alerts?state=firing')).json().alerts;
  t.equal(alerts.length, 1, 'one alert for 1000 ports');
  t.match(alerts[0], { kind: 'port-scan', state: 'firing', subject: { attacker: SCANNER, victim: HOST }, value: 1000, threshold: 100 });
  t.equal(alerts[0].contributors.length, 5, 'the contributors: first ports probed');
  t.match(alerts[0].contributors[0], { source: SCANNER, target: HOST, service: 'tcp/1' });
  await until(() => hook.notifications().length === 1, 'the firing notification');
  const req = hook.requests[0]!;
  t.equal(req.signature, `sha256=${createHmac('sha256', SECRET).update(req.body).digest('hex')}`, 'signed with the secret');
  t.match(JSON.parse(req.body), { version: 1, host: 'fake-host', receiver: 'ops', notifications: [{ event: 'firing', alert: { kind: 'port-scan', subject: { attacker: SCANNER } } }] });
  t.match((await httpRequest(web, '/metrics')).text, /flowlens_alerts_firing\{[^}]*kind="port-scan",severity="warning"[^}]*\} 1\n/, '/metrics counts it');

  // the window passes: the scan is over
  for (let k = 2; k <= 6; k++) fake.drain({ end: now + k * 1000, flows: [] });
  t.match((await httpRequest(web, '/api/alerts')).json().alerts, [{ kind: 'port-scan', state: 'resolved' }]);
  await until(() => hook.notifications().length === 2, 'the resolved notification');
  t.same(hook.notifications().map((n) => n.event), ['firing', 'resolved'], 'each once');
  t.equal(flowlens.alerts!.status().firing, 0);
});

t.test('a SYN flood names its victim and the sources, and resolves when it stops; normal downloads raise nothing', async (t) => {
  const { fake, web } = await running(t, settings(t, tempDataDir(t, 'syn'), {}));
  const now = Date.now();
  const syns: FlowSpec = { direction: 'ingress', protocol: 6, src: FLOODER, dst: HOST, srcPort: 1234, dstPort: 80, packets: 5000, bytes: 5000 * 40, tcpFlags: 0x02, firstSeen: now - 900, lastSeen: now - 10 };
  const benign = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((i) => download(`203.0.113.${i}`, 50000 + i, 5_000_000, now - 800));
  fake.drain({ end: now - 1000, flows: benign });
  fake.drain({ end: now, flows: [syns, ...download('203.0.113.1', 50001, 5_000_000, now - 800)] });
  const firing = (await httpRequest(web, '/api/alerts?state=firing')).json().alerts;
  t.equal(firing.length, 1, 'only the flood');
  t.match(firing[0], { kind: 'syn-flood', severity: 'critical', subject: { victim: HOST, service: 'tcp/80', attacker: FLOODER }, value: 5000, contributors: [{ source: FLOODER, target: HOST, service: 'tcp/80', packets: 5000 }] });
  fake.drain({ end: now + 1000, flows: download('203.0.113.1', 50001, 5_000_000, now + 200) });
  t.match((await httpRequest(web, '/api/alerts?kind=syn-flood')).json().alerts, [{ state: 'resolved', end: now + 1000 }]);
  t.equal((await httpRequest(web, '/api/alerts')).json().alerts.length, 1, 'nothing else');
  // ranges as every history endpoint takes them: the host's local dates (the end day included), named days, epoch ms
  t.equal((await httpRequest(web, '/api/alerts?start=today&end=today')).json().alerts.length, 1, 'today (local dates)');
  t.equal((await httpRequest(web, '/api/alerts?start=yesterday&end=yesterday')).json().alerts.length, 0, 'not yesterday');
  t.equal((await httpRequest(web, `/api/alerts?start=${now + 5000}`)).json().alerts.length, 0, 'epoch ms: it ended before');
  const bad = await httpRequest(web, '/api/alerts?start=2026-02-30');
  t.equal(bad.status, 400);
  t.match(bad.json().message, /start: "2026-02-30" is not a date/, 'a bad date names the parameter');
  const reversed = await httpRequest(web, '/api/alerts?start=2026-03-05&end=2026-03-01');
  t.match(reversed.json().message, /end \(2026-03-01\) must come after start \(2026-03-05\)/);
});

t.test('a threshold rule fires only after for:, and resolves below its hysteresis band', async (t) => {
  const rules = [{ name: 'wan-down', metric: 'bit/s', subject: { scope: 'internet', direction: 'down' }, above: '10M', for: '2s', hysteresis: '20%' }];
  const { fake, web } = await running(t, settings(t, tempDataDir(t, 'rule'), { rules }));
  const now = Date.now();
  const states = async () => (await httpRequest(web, '/api/alerts?kind=threshold')).json().alerts.map((a: { state: string }) => a.state);
  // 2 MB a second: 16 Mbit/s
  fake.drain({ end: now, flows: download('203.0.113.7', 50000, 2_000_000, now - 500) });
  t.same(await states(), ['pending']);
  fake.drain({ end: now + 1000, flows: download('203.0.113.7', 50000, 2_000_000, now + 500) });
  t.same(await states(), ['pending'], 'held 1 s of 2');
  fake.drain({ end: now + 2000, flows: download('203.0.113.7', 50000, 2_000_000, now + 1500) });
  const [alert] = (await httpRequest(web, '/api/alerts')).json().alerts;
  t.match(alert, { state: 'firing', rule: 'wan-down', start: now, firedAt: now + 2000, threshold: 10_000_000, unit: 'bit/s' });
  t.ok(Math.abs(alert.value - 16_000_000) < 100_000, `value ${alert.value} ≈ 16 Mbit/s (headers included)`);
  t.match(alert.contributors, [{ source: HOST, target: '203.0.113.7', service: 'tcp/443' }]);
  // 9 Mbit/s: under the threshold, inside the band (> 8 Mbit/s): still firing
  fake.drain({ end: now + 3000, flows: download('203.0.113.7', 50000, 1_125_000, now + 2500) });
  t.same(await states(), ['firing'], 'inside the hysteresis band');
  fake.drain({ end: now + 4000, flows: download('203.0.113.7', 50000, 500_000, now + 3500) });
  t.same(await states(), ['resolved']);
  // a short burst that ends before for: leaves nothing
  fake.drain({ end: now + 5000, flows: download('203.0.113.7', 50000, 2_000_000, now + 4500) });
  fake.drain({ end: now + 6000, flows: [] });
  t.same(await states(), ['resolved'], 'the burst was pending and dropped');
});

t.test('a daily quota on one host fires at 80 % and at 100 %, and the use survives a restart', async (t) => {
  const dataDir = tempDataDir(t, 'quota');
  const rules = [{ name: 'nas-day', quota: { period: 'day', limit: '10MB', steps: [80, 100] }, subject: { host: HOST } }];
  const config = settings(t, dataDir, { rules });
  let { flowlens, fake, web } = await running(t, config);
  const now = Date.now();
  fake.drain({ end: now, flows: download('203.0.113.7', 50000, 7_000_000, now - 500) });
  t.same((await httpRequest(web, '/api/alerts')).json().alerts, [], '7.0 MB of 10: below 80 %');
  await flowlens.stop();
  ({ flowlens, fake, web } = await running(t, config));
  fake.drain({ end: now + 1000, flows: download('203.0.113.7', 50001, 1_500_000, now + 500) });
  t.match((await httpRequest(web, '/api/alerts')).json().alerts, [{ kind: 'quota', state: 'firing', subject: { host: HOST, step: '80%', period: 'day' }, baseline: 10_000_000 }],
    'the history gave the use before the restart: 8.5 MB is 80 %');
  fake.drain({ end: now + 2000, flows: download('203.0.113.7', 50001, 2_000_000, now + 1500) });
  const steps = (await httpRequest(web, '/api/alerts?state=firing')).json().alerts.map((a: { subject: { step: string }; severity: string }) => [a.subject.step, a.severity]);
  t.same(steps, [['100%', 'critical'], ['80%', 'warning']]);
});

t.test('an outage of the receiver loses nothing; the queued ones arrive once each, in order; a restart sends nothing twice', async (t) => {
  const hook = await webhookReceiver(t);
  const dataDir = tempDataDir(t, 'outbox');
  const config = settings(t, dataDir, { webhooks: webhooks(hook.url) });
  let { flowlens, fake, web } = await running(t, config);
  hook.down = true;
  const now = Date.now();
  const flood = (victimPort: number, at: number): FlowSpec => ({ direction: 'ingress', protocol: 6, src: FLOODER, dst: HOST, srcPort: 1000 + victimPort, dstPort: victimPort, packets: 3000, bytes: 120_000, tcpFlags: 0x02, firstSeen: at, lastSeen: at });
  fake.drain({ end: now, flows: [flood(80, now - 500)] }); // firing
  fake.drain({ end: now + 1000, flows: [] }); // resolved
  fake.drain({ end: now + 2000, flows: [flood(81, now + 1500)] }); // firing again: a second alert
  await until(() => hook.refused >= 1, 'a refused delivery');
  t.equal(flowlens.alerts!.status().receivers[0]!.up, false, 'the failed receiver is visible in the status');
  t.match((await httpRequest(web, '/metrics')).text, /flowlens_alert_receiver_up\{[^}]*receiver="ops"[^}]*\} 0\n/, 'and in /metrics');
  t.equal(flowlens.alerts!.status().receivers[0]!.queued, 3, 'three notifications queued');
  // restart while the second alert fires (the last drain still carries the flood) and the receiver is still down
  fake.last = { end: now + 2500, ms: 500, flows: [flood(81, now + 2200)] };
  await flowlens.stop();
  ({ flowlens, fake, web } = await running(t, config));
  fake.drain({ end: now + 3000, flows: [flood(81, now + 2500)] });
  t.equal((await httpRequest(web, '/api/alerts?state=firing')).json().alerts.length, 1, 'the open alert goes on after the restart');
  hook.down = false;
  await until(() => hook.notifications().length === 3, 'the queued notifications', 15_000);
  fake.drain({ end: now + 4000, flows: [] });
  await until(() => hook.notifications().length === 4, 'the resolved one');
  const got = hook.notifications().map((n) => [n.event, n.alert.id]);
  const ids = (await httpRequest(web, '/api/alerts')).json().alerts.map((a: { id: number }) => a.id).sort();
  t.same(got, [['firing', ids[0]], ['resolved', ids[0]], ['firing', ids[1]], ['resolved', ids[1]]], 'once each, in order, no duplicate after the restart');
  t.equal(flowlens.alerts!.status().receivers[0]!.up, true);
});

t.test('a silence keeps the alert but notifies nothing; reload keeps the open alerts', async (t) => {
  const hook = await webhookReceiver(t);
  const { flowlens, fake, web } = await running(t, settings(t, tempDataDir(t, 'silence'), { webhooks: webhooks(hook.url) }));
  const r = await httpRequest(web, '/api/admin/alerts/silences', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ match: { victim: HOST, kind: 'syn-flood' }, duration: '1h', reason: 'load test' }) });
  t.equal(r.status, 200, r.text);
  const now = Date.now();
  fake.drain({ end: now, flows: [{ direction: 'ingress', protocol: 6, src: FLOODER, dst: HOST, srcPort: 1, dstPort: 80, packets: 3000, bytes: 120_000, tcpFlags: 0x02, firstSeen: now - 500, lastSeen: now - 500 }] });
  t.equal((await httpRequest(web, '/api/alerts?state=firing')).json().alerts.length, 1, 'kept');
  t.same((await httpRequest(web, '/api/admin/alerts/reload', { method: 'POST' })).json(), { rules: 0, receivers: 1 });
  t.equal(flowlens.alerts!.status().firing, 1, 'still firing after the reload');
  t.equal(flowlens.alerts!.status().receivers[0]!.queued, 0, 'nothing queued');
  t.equal(hook.requests.length, 0);
});

/** Debian's aiosmtpd on loopback, writing each message into a Maildir. */
async function smtpServer(t: Test): Promise<{ url: string; messages: () => string[] }> {
  const dir = tempDataDir(t, 'mail');
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  const child = spawn('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', path.join(dir, 'box')], { stdio: 'ignore' });
  t.teardown(() => { child.kill('SIGTERM'); });
  await until(() => existsSync(path.join(dir, 'box', 'new')), 'the SMTP server', 10_000);
  await new Promise<void>((resolve, reject) => {
    const tryConnect = (left: number) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(); });
      c.on('error', () => (left > 0 ? setTimeout(() => tryConnect(left - 1), 50) : reject(new Error('SMTP server not listening'))));
    };
    tryConnect(100);
  });
  const box = path.join(dir, 'box', 'new');
  // Maildir names begin with the delivery time: seconds.Mmicroseconds
  const order = (f: string) => { const m = /^(\d+)\.M(\d+)/.exec(f); return m ? Number(m[1]) * 1e6 + Number(m[2]) : 0; };
  // headers unfolded, quoted-printable parts decoded: the message as a mail reader shows it
  const readable = (raw: string) => Buffer.from(raw.replace(/\r?\n[ \t]+/g, ' ').replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  return { url: `smtp://127.0.0.1:${port}`, messages: () => readdirSync(box).sort((a, b) => order(a) - order(b)).map((f) => readable(readFileSync(path.join(box, f), 'latin1'))) };
}

t.test('a real SMTP server gets exactly one firing and one resolved email, with the contributors', async (t) => {
  const smtp = await smtpServer(t);
  const { fake } = await running(t, settings(t, tempDataDir(t, 'email'), { emails: [{ name: 'mail', url: smtp.url, from: 'flowlens@example.test', to: ['ops@example.test'] }] }));
  const now = Date.now();
  fake.drain({ end: now, flows: [{ direction: 'ingress', protocol: 6, src: FLOODER, dst: HOST, srcPort: 7, dstPort: 443, packets: 4000, bytes: 160_000, tcpFlags: 0x02, firstSeen: now - 500, lastSeen: now - 500 }] });
  await until(() => smtp.messages().length === 1, 'the firing email');
  fake.drain({ end: now + 1000, flows: [] });
  await until(() => smtp.messages().length === 2, 'the resolved email');
  const [firing, resolved] = smtp.messages();
  t.match(firing, /Subject: \[flowlens fake-host\] FIRING: SYN flood on 10\.9\.0\.2 tcp\/443 from 198\.51\.100\.20/);
  t.match(firing, /To: ops@example\.test/);
  t.match(firing, /198\.51\.100\.20 → 10\.9\.0\.2 tcp\/443: 160000 B, 4000 packets/, 'the contributors in the text part');
  t.match(firing, /Content-Type: text\/html/, 'and an HTML part');
  t.match(resolved, /Subject: \[flowlens fake-host\] RESOLVED: SYN flood on 10\.9\.0\.2/);
  fake.drain({ end: now + 2000, flows: [] });
  await new Promise((r) => setTimeout(r, 300));
  t.equal(smtp.messages().length, 2, 'nothing more');
});

t.test('InfluxDB gets one flowlens_alert point per firing and per resolved, with the state as a tag', async (t) => {
  const lines: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      lines.push(...(req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString().split('\n').filter(Boolean));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const file = path.join(tempDataDir(t, 'cfg'), 'flowlens.yaml');
  writeFileSync(file, '{}\n');
  const config = configFrom({ file, env: {}, flags: { iface: 'eth0', host: 'fake-host', 'data-dir': tempDataDir(t, 'influx'), 'http-port': '0', 'grpc-port': '0',
    'influx-url': `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, 'influx-org': 'o', 'influx-bucket': 'b', 'influx-token': 'x' } });
  const { flowlens, fake } = await running(t, config);
  const now = Date.now();
  fake.drain({ end: now, flows: [{ direction: 'ingress', protocol: 6, src: FLOODER, dst: HOST, srcPort: 7, dstPort: 22, packets: 2500, bytes: 100_000, tcpFlags: 0x02, firstSeen: now - 500, lastSeen: now - 500 }] });
  fake.drain({ end: now + 1000, flows: [] });
  await flowlens.stop();
  const points = lines.filter((l) => l.startsWith('flowlens_alert,'));
  t.equal(points.length, 2, points.join('\n'));
  t.match(points[0], new RegExp(`^flowlens_alert,host=fake-host,kind=syn-flood,severity=critical,rule=syn-flood,state=firing id=1i,value=2500,threshold=1000,start=${now}i,summary="SYN flood on 10\\.9\\.0\\.2 tcp/22 from 198\\.51\\.100\\.20: 2500 SYN/s",subject=.* ${now}$`));
  t.match(points[1], new RegExp(`state=resolved id=1i,.* ${now + 1000}$`));
});

t.test('gRPC: ListAlerts answers what /api/alerts does; WatchAlerts streams firing and resolved', async (t) => {
  const { flowlens, fake, web } = await running(t, settings(t, tempDataDir(t, 'grpc'), {}));
  const client = new AlertsClient(`127.0.0.1:${flowlens.api!.status()!.grpcPort}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const events: AlertEvent[] = [];
  const stream = client.watchAlerts({});
  stream.on('data', (e: AlertEvent) => events.push(e));
  stream.on('error', () => {});
  await until(() => flowlens.alerts!.listenerCount('alert') === 1, 'the stream open on the server');
  const now = Date.now();
  fake.drain({ end: now, flows: [{ direction: 'ingress', protocol: 6, src: FLOODER, dst: HOST, srcPort: 7, dstPort: 25, packets: 2000, bytes: 80_000, tcpFlags: 0x02, firstSeen: now - 500, lastSeen: now - 500 }] });
  fake.drain({ end: now + 1000, flows: [] });
  await until(() => events.length === 2, 'two events');
  t.same(events.map((e) => [e.event, e.alert!.kind, e.alert!.subject.victim]), [['firing', 'syn-flood', HOST], ['resolved', 'syn-flood', HOST]]);
  const listed = await new Promise<ListAlertsResponse>((resolve, reject) => client.listAlerts({ state: 'resolved', kind: '', from: 0, to: 0, limit: 10 }, (e, r) => (e ? reject(e) : resolve(r))));
  const json = (await httpRequest(web, '/api/alerts?state=resolved')).json().alerts;
  t.same(listed.alerts.map((a) => [a.id, a.kind, a.state, a.start, a.end, a.value, a.contributors[0]?.packets]), json.map((a: any) => [a.id, a.kind, a.state, a.start, a.end, a.value, a.contributors[0]?.packets]));
  t.equal(listed.alerts.length, 1);
  stream.cancel();
});

t.test('host sweep, UDP flood, ICMP flood and amplification each name attacker and victim', async (t) => {
  const { fake, web } = await running(t, settings(t, tempDataDir(t, 'detectors'), { udpFlood: 50_000, icmpFlood: 2000, amplification: '1MB', hostSweep: 64 }));
  const now = Date.now();
  const at = now - 500;
  const flows: FlowSpec[] = [
    // the host sweeps 100 addresses on port 22: no answer from any
    ...Array.from({ length: 100 }, (_, i): FlowSpec => ({ direction: 'egress', protocol: 6, src: HOST, dst: `192.0.2.${i + 1}`, srcPort: 41000, dstPort: 22, packets: 1, bytes: 60, tcpFlags: 0x02, firstSeen: at, lastSeen: at })),
    // 60 500 UDP packets to the host's port 9999 from one source, in two sessions (two source ports)
    { direction: 'ingress', protocol: 17, src: '203.0.113.50', dst: HOST, srcPort: 5555, dstPort: 9999, packets: 60_000, bytes: 60_000 * 100, firstSeen: at, lastSeen: at },
    { direction: 'ingress', protocol: 17, src: '203.0.113.50', dst: HOST, srcPort: 5556, dstPort: 9999, packets: 500, bytes: 500 * 100, firstSeen: at, lastSeen: at },
    // 3000 ICMP echo requests
    { direction: 'ingress', protocol: 1, src: '203.0.113.60', dst: HOST, srcPort: 8, dstPort: 0, packets: 3000, bytes: 3000 * 84, firstSeen: at, lastSeen: at },
    // 2 MB of DNS answers the host never asked for, from two resolvers
    { direction: 'ingress', protocol: 17, src: '203.0.113.70', dst: HOST, srcPort: 53, dstPort: 33333, packets: 700, bytes: 1_400_000, firstSeen: at, lastSeen: at },
    { direction: 'ingress', protocol: 17, src: '203.0.113.71', dst: HOST, srcPort: 53, dstPort: 33334, packets: 300, bytes: 600_000, firstSeen: at, lastSeen: at },
  ];
  fake.drain({ end: now, flows });
  fake.drain({ end: now + 1000, flows: [] });
  const all = (await httpRequest(web, '/api/alerts?limit=100')).json().alerts as Array<{ kind: string; subject: Record<string, string>; value: number; state: string }>;
  const by = (kind: string) => all.filter((a) => a.kind === kind);
  t.match(by('host-sweep'), [{ subject: { attacker: HOST, service: 'tcp/22' }, value: 100 }], 'one sweep alert for 100 hosts');
  // every UDP packet to the victim counts, the DNS answers too: the top source first, its two sessions summed (3 sources, not 4)
  t.match(by('udp-flood'), [{ subject: { victim: HOST, attacker: '203.0.113.50 and 2 more' }, value: 61_500, contributors: [{ source: '203.0.113.50', packets: 60_500, bytes: 60_500 * 100 }, { source: '203.0.113.70', packets: 700 }, { source: '203.0.113.71', packets: 300 }] }]);
  t.match(by('icmp-flood'), [{ subject: { victim: HOST, attacker: '203.0.113.60' }, value: 3000 }]);
  t.match(by('amplification'), [{ subject: { victim: HOST, attacker: '203.0.113.70 and 1 more' }, value: 2_000_000 }]);
  t.equal(by('udp-flood').length + by('icmp-flood').length + by('amplification').length, 3, 'one alert each');
  t.equal(all.filter((a) => a.kind === 'port-scan' || a.kind === 'syn-flood').length, 0, 'a sweep is no port scan and no SYN flood');
  t.same(all.filter((a) => ['udp-flood', 'icmp-flood', 'amplification'].includes(a.kind)).map((a) => a.state), ['resolved', 'resolved', 'resolved'], 'the floods stopped: resolved');
});

t.test('a UDP flood names the sources of each interval: those gone are not named, a source is summed over this interval only', async (t) => {
  const { fake, web } = await running(t, settings(t, tempDataDir(t, 'flood-moves'), { udpFlood: 50_000 }));
  const now = Date.now();
  const udp = (src: string, srcPort: number, packets: number, at: number): FlowSpec => ({ direction: 'ingress', protocol: 17, src, dst: HOST, srcPort, dstPort: 9999, packets, bytes: packets * 100, firstSeen: at, lastSeen: at });
  const [A, B, C] = ['203.0.113.81', '203.0.113.82', '203.0.113.83'];
  // 30 000 packets/s: near the threshold (its sources are summed from the next interval on in the same pass), not over it
  fake.drain({ end: now - 1000, flows: [udp(A, 4000, 30_000, now - 1500)] });
  t.same((await httpRequest(web, '/api/alerts')).json().alerts, [], 'below the threshold: no alert');
  // A goes on in the same session (its 30 000 before are not this interval's), B comes in two sessions, C joins
  fake.drain({ end: now, flows: [udp(A, 4000, 10_000, now - 500), udp(B, 4001, 40_000, now - 500), udp(B, 4002, 5_000, now - 500), udp(C, 4003, 1_000, now - 500)] });
  const [fired] = (await httpRequest(web, '/api/alerts?kind=udp-flood')).json().alerts;
  t.match(fired, { state: 'firing', value: 56_000, subject: { victim: HOST, attacker: `${B} and 2 more` } });
  t.same(fired.contributors.map((c: { source: string; packets: number }) => [c.source, c.packets]), [[B, 45_000], [A, 10_000], [C, 1_000]], 'this interval\'s sums, largest first');
  // only C now, harder: the worst interval's summary names it alone
  fake.drain({ end: now + 1000, flows: [udp(C, 4003, 80_000, now + 500)] });
  t.match((await httpRequest(web, '/api/alerts?kind=udp-flood')).json().alerts, [{ state: 'firing', value: 80_000, summary: `UDP flood on ${HOST} from ${C}: 80000 packets/s` }]);
  fake.drain({ end: now + 2000, flows: [] });
  t.match((await httpRequest(web, '/api/alerts?kind=udp-flood')).json().alerts, [{ state: 'resolved', end: now + 2000 }]);
});

t.test('a port scan\'s ports leave the window as they age, and a clock set back does not keep a later scan firing', async (t) => {
  const { fake, web } = await running(t, settings(t, tempDataDir(t, 'scan-ages'), { scanWindow: '3s' }));
  const now = Date.now();
  const ports = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const scans = async () => (await httpRequest(web, '/api/alerts?kind=port-scan&limit=10')).json().alerts as Array<{ state: string; value: number; end?: number; subject: { attacker: string } }>;
  // 120 ports refused, judged at now + 1000; 60 more refused, judged at now + 2000
  fake.drain({ end: now, flows: refusedSyns(SCANNER, ports(1, 120), now - 500) });
  fake.drain({ end: now + 1000, flows: refusedSyns(SCANNER, ports(1001, 60), now + 500) });
  t.match(await scans(), [{ state: 'firing', value: 120 }]);
  fake.drain({ end: now + 2000, flows: [] });
  t.match(await scans(), [{ state: 'firing', value: 180 }], 'the later ports join it');
  for (let k = 3; k <= 5; k++) fake.drain({ end: now + k * 1000, flows: [] });
  // at now + 5000 the first 120 have left the 3 s window: 60 remain, over half the threshold (100)
  t.match(await scans(), [{ state: 'firing' }], 'the later 60 ports still in the window');
  fake.drain({ end: now + 6000, flows: [] });
  t.match(await scans(), [{ state: 'resolved', end: now + 6000 }], 'resolved when the last ports leave it');

  // a scan by another source, then the clock goes back an hour and a third source scans
  const OTHER = '198.51.100.10', THIRD = '198.51.100.11';
  fake.drain({ end: now + 7000, flows: refusedSyns(OTHER, ports(1, 120), now + 6500) });
  fake.drain({ end: now + 8000, flows: [] });
  const back = now - 3_600_000;
  fake.drain({ end: back, flows: refusedSyns(THIRD, ports(1, 120), back - 500) });
  fake.drain({ end: back + 1000, flows: [] });
  t.match((await scans()).find((a) => a.subject.attacker === THIRD), { state: 'firing', value: 120 }, 'the scan after the clock went back');
  for (let k = 2; k <= 4; k++) fake.drain({ end: back + k * 1000, flows: [] });
  t.match((await scans()).find((a) => a.subject.attacker === THIRD), { state: 'firing' }, 'judged at back + 1000: still in the window at back + 4000');
  fake.drain({ end: back + 5000, flows: [] });
  t.match((await scans()).find((a) => a.subject.attacker === THIRD), { state: 'resolved', end: back + 5000 }, 'its ports leave the window by the clock as it is now');
});

t.test('config --dump shows the receivers without their secrets', async (t) => {
  const file = path.join(tempDataDir(t, 'dump'), 'flowlens.yaml');
  writeFileSync(file, stringify({ alerts: { webhooks: [{ name: 'h', url: 'http://127.0.0.1:9/x', secret: 's3cr3t' }], emails: [{ name: 'm', url: 'smtp://bob:hunter2@mail.test:587', from: 'a@b.test', to: ['c@d.test'] }] } }));
  const text = dumpConfig(loadConfig({ file, env: {} }));
  t.notMatch(text, /s3cr3t|hunter2/, 'no secret in the dump');
  t.match(text, /secret: <set>/);
  t.match(text, /url: smtp:\/\/bob:<set>@mail\.test:587/);
});
