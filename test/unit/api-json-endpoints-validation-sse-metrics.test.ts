/**
 * The JSON API over a real socket, fed by the real flows stage and a real
 * history store: every endpoint with good parameters (exact answers) and bad
 * ones (400 naming the parameter), the OpenAPI document, the live push over
 * Server-Sent Events, the session log, and /metrics with its remote series
 * budget and folded gauge.
 */
import t from 'tap';
import { startApi, tcpFlows, HOST } from '../helpers/api-fixture.js';
import { httpRequest, readEvents, type HttpTarget } from '../helpers/api-clients.js';
import type { FlowSpec } from '../helpers/flow-batch.js';

function target(port: number): HttpTarget {
  return { base: `http://127.0.0.1:${port}` };
}

t.test('every endpoint: good parameters give exact answers, bad ones a 400 naming them', async (t) => {
  const f = await startApi(t);
  const now = Date.now();
  f.feed([...tcpFlows('203.0.113.7', 50000, 443, 1000, 20000, now - 900), ...tcpFlows('10.9.0.3', 50001, 22, 500, 700, now - 800)], now);
  const web = target(f.api.httpPort);
  const get = async (p: string) => {
    const r = await httpRequest(web, p);
    return { status: r.status, body: r.text ? r.json() : undefined };
  };

  const good: Array<[string, (b: any) => unknown, unknown]> = [
    ['/api/summary', (b) => b.today.totals, { up: 1500, down: 20700, total: 22200, packetsUp: 2, packetsDown: 21 }],
    ['/api/summary?iface=eth0&direction=down&scope=internet', (b) => b.today.totals.total, 20000],
    ['/api/summary?scope=lan', (b) => b.month.totals.total, 1200],
    ['/api/query?start=today&end=today&granularity=hour', (b) => [b.granularity, b.total.total], ['hour', 22200]],
    [`/api/query?start=${now - 3_600_000}&end=${now + 3_600_000}&granularity=hour&direction=up`, (b) => b.total.total, 1500],
    ['/api/query?start=today&end=today&granularity=day', (b) => b.buckets.length, 1],
    ['/api/history/30days', (b) => [b.buckets.length, b.buckets.at(-1).totals.total], [30, 22200]],
    ['/api/history/12months?scope=internet', (b) => [b.buckets.length, b.total.total], [12, 21000]],
    ['/api/history/today_hours', (b) => [b.granularity, b.total.total], ['hour', 22200]],
    ['/api/date_range', (b) => b.first === b.last && /^\d{4}-\d{2}-\d{2}$/.test(b.first), true],
    ['/api/top_ips', (b) => [b.source, b.rows.map((r: any) => [r.key, r.bytes])], ['live', [['203.0.113.7', 21000], ['10.9.0.3', 1200]]]],
    ['/api/top_ips?window=10&limit=1', (b) => [b.rows.length, b.other.bytes, b.total.bytes], [1, 1200, 22200]],
    ['/api/top_ips?start=today&end=today', (b) => [b.source, b.rows[0].key, b.total.bytes], ['history', '203.0.113.7', 22200]],
    ['/api/top?dimension=port', (b) => b.rows.map((r: any) => r.key), ['tcp/443', 'tcp/22']],
    ['/api/top?dimension=host&start=today&end=today', (b) => b.rows.map((r: any) => [r.key, r.bytes]), [[HOST, 22200]]],
    ['/api/sessions', (b) => [b.source, b.matched, b.sessions.length, b.nextCursor], ['live', 2, 2, '']],
    ['/api/sessions?addr=203.0.113.0/24&sort=rate', (b) => b.sessions.map((s: any) => [s.remote, s.bytesUp, s.bytesDown, s.rateDown]), [['203.0.113.7', 1000, 20000, 20000]]],
    ['/api/sessions?port=22&protocol=tcp&scope=lan&iface=eth0', (b) => b.sessions.map((s: any) => s.remotePort), [22]],
    ['/api/sessions?sort=first_seen&limit=1', (b) => [b.sessions.length, b.nextCursor !== ''], [1, true]],
    ['/api/sessions?source=ended', (b) => [b.source, b.sessions.length], ['ended', 0]],
    ['/api/realtime?seconds=5', (b) => [b.times.length, b.series.length], [5, 4]],
    ['/api/realtime', (b) => b.times.length, 30],
    ['/api/status', (b) => [b.host, b.interfaces.length, b.activeSessions, b.history], ['test-host', 1, 2, true]],
    ['/api/health', (b) => b, { status: 'ok' }],
  ];
  for (const [path, pick, want] of good) {
    const r = await get(path);
    t.equal(r.status, 200, `${path}: 200`);
    t.same(r.status === 200 ? pick(r.body) : r.body, want, `${path}: the answer`);
  }

  const bad: Array<[string, RegExp]> = [
    ['/api/summary?direction=sideways', /direction must be one of up, down/],
    ['/api/summary?scope=moon', /scope must be one of/],
    ['/api/summary?colour=red', /unknown parameter "colour"/],
    ['/api/query?start=today&end=today', /parameter "granularity" is required/],
    ['/api/query?start=today&granularity=day', /parameter "end" is required/],
    ['/api/query?start=today&end=today&granularity=week', /granularity must be one of hour, day, month/],
    ['/api/query?start=2026-13-01&end=today&granularity=day', /^start: "2026-13-01" is not a date/],
    ['/api/query?start=today&end=soon&granularity=day', /^end: "soon" is not a date/],
    ['/api/history/30days?iface=', /iface must NOT have fewer than 1 characters/],
    ['/api/date_range?x=1', /unknown parameter "x"/],
    ['/api/top_ips?limit=0', /limit must be >= 1/],
    ['/api/top_ips?limit=ten', /limit must be integer/],
    ['/api/top_ips?window=301', /window must be <= 300/],
    ['/api/top_ips?start=today', /end is required with start/],
    ['/api/top_ips?start=today&end=today&window=30', /either a live window or a date range/],
    ['/api/top?start=today&end=today', /parameter "dimension" is required/],
    ['/api/top?dimension=colour', /dimension must be one of ip, host, port, proto, country, asn, domain/],
    ['/api/sessions?port=70000', /port must be <= 65535/],
    ['/api/sessions?port=http', /port must be integer/],
    ['/api/sessions?addr=300.1.1.1', /addr: "300.1.1.1" is not an address or CIDR prefix/],
    ['/api/sessions?asn=Google', /asn must match pattern/],
    ['/api/sessions?country=Germany', /country must match pattern/],
    ['/api/sessions?sort=size', /sort must be one of/],
    ['/api/sessions?cursor=abc', /cursor is not one this query returned/],
    ['/api/sessions?source=ended&sort=rate', /sort rate applies to live sessions only/],
    ['/api/sessions?start=today', /start and end apply to ended sessions/],
    ['/api/sessions?source=archive', /source must be one of live, ended/],
    ['/api/sessions?limit=10001', /limit must be <= 10000/],
    ['/api/realtime?seconds=0', /seconds must be >= 1/],
    ['/api/realtime?seconds=301', /seconds must be <= 300/],
    ['/api/live?dimensions=ip,colour', /dimensions must match pattern/],
  ];
  for (const [path, message] of bad) {
    const r = await get(path);
    t.equal(r.status, 400, `${path}: 400`);
    t.match(r.body?.message, message, `${path}: the message names what is wrong (${r.body?.message})`);
  }

  const doc = (await get('/api/openapi.json')).body;
  t.equal(doc.openapi, '3.0.3', 'the OpenAPI document');
  for (const p of ['/api/summary', '/api/query', '/api/history/30days', '/api/history/12months', '/api/history/today_hours', '/api/date_range',
    '/api/top_ips', '/api/top', '/api/sessions', '/api/realtime', '/api/status', '/api/health', '/api/live', '/api/live/sessions', '/api/admin/flush', '/metrics']) {
    t.ok(doc.paths[p], `OpenAPI documents ${p}`);
  }
  t.same(doc.paths['/api/query'].get.parameters.map((p: { name: string }) => p.name).sort(), ['direction', 'end', 'granularity', 'iface', 'scope', 'start'], 'with its parameters');
  t.equal((await get('/nowhere')).status, 404);
});

t.test('history off: history endpoints say so (503), live ones answer', async (t) => {
  const f = await startApi(t, {}, { history: false });
  const now = Date.now();
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 20000, now - 900), now);
  const web = target(f.api.httpPort);
  const r = await httpRequest(web, '/api/summary');
  t.equal(r.status, 503);
  t.match(r.json().message, /history is off/);
  t.equal((await httpRequest(web, '/api/top_ips')).json().total.bytes, 21000, 'live talkers still answer');
  t.equal((await httpRequest(web, '/api/status')).json().history, false);
});

t.test('ended sessions reach the log and the JSON API; admin flush writes them', async (t) => {
  const f = await startApi(t);
  const now = Date.now() - 30_000;
  const closed: FlowSpec[] = [
    { direction: 'egress', protocol: 6, src: HOST, dst: '203.0.113.9', srcPort: 50100, dstPort: 443, packets: 3, bytes: 300, tcpFlags: 0x13, firstSeen: now - 900 },
    { direction: 'ingress', protocol: 6, src: '203.0.113.9', dst: HOST, srcPort: 443, dstPort: 50100, packets: 4, bytes: 4000, tcpFlags: 0x13, firstSeen: now - 899 },
  ];
  f.feed(closed, now);
  f.feed([], now + 15_000); // past the closed-session linger: it ends into the log
  const web = target(f.api.httpPort);
  const flush = await httpRequest(web, '/api/admin/flush', { method: 'POST' });
  t.equal(flush.status, 200, 'no tokens configured: the admin call is allowed on loopback');
  t.equal(flush.json().sessions, 1, 'the flush wrote the ended session');
  const page = (await httpRequest(web, '/api/sessions?source=ended&addr=203.0.113.9')).json();
  t.same(page.sessions.map((s: any) => [s.remote, s.bytesUp, s.bytesDown, s.endReason]), [['203.0.113.9', 300, 4000, 'closed']], 'the session log');
  t.equal((await httpRequest(web, '/api/sessions')).json().matched, 0, 'no live session left');
});

t.test('live push: an SSE event per interval', async (t) => {
  const f = await startApi(t);
  const web = target(f.api.httpPort);
  const events = readEvents(web, '/api/live?dimensions=ip,port&limit=3&window=60', 'interval', 2, 10_000);
  const sessions = readEvents(web, '/api/live/sessions?protocol=tcp&limit=1', 'sessions', 2, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  const now = Date.now();
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 20000, now - 1900), now - 1000);
  f.feed(tcpFlows('203.0.113.8', 50001, 443, 10, 20, now - 900), now);
  const got = await events;
  t.equal(got.status, 200);
  t.equal(got.events.length, 2, 'two intervals, two events');
  const [a, b] = got.events;
  t.same(a.traffic.filter((r: any) => r.direction === 'down').map((r: any) => [r.bytes, r.bytesPerSecond]), [[20000, 20000]], 'the interval\'s traffic and rate');
  t.same(a.top.map((x: any) => x.dimension), ['ip', 'port']);
  t.same(b.top[0].rows.map((r: any) => [r.key, r.bytes]), [['203.0.113.7', 21000], ['203.0.113.8', 30]], 'talkers over the 60 s window');
  t.same(b.activeSessions, 2);
  const s = await sessions;
  t.same(s.events.map((e: any) => [e.sessions.length, e.matched]), [[1, 1], [1, 2]], 'the sessions stream: the first page each interval');
  t.equal((await httpRequest(web, '/api/live?window=0')).status, 400, 'a bad stream parameter is a 400 before the stream starts');
});

t.test('/metrics: traffic counters, a remote series budget with a folded gauge', async (t) => {
  const f = await startApi(t, { metricsRemoteSeries: 2 });
  const now = Date.now();
  const remotes = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5'];
  f.feed(remotes.flatMap((r, i) => tcpFlows(r, 50000 + i, 443, 100 * (i + 1), 1000 * (i + 1), now - 900)), now);
  const text = (await httpRequest(target(f.api.httpPort), '/metrics')).text;
  const value = (series: string) => {
    // every series also carries the default label host="test-host"
    const prefix = series.includes('{') ? series.replace(/}$/, ',') : `${series}{`;
    const line = text.split('\n').find((l) => l.startsWith(prefix));
    return line ? Number(line.split(' ').at(-1)) : undefined;
  };
  t.equal(value('flowlens_traffic_bytes_total{iface="eth0",direction="down",scope="internet"}'), 15000, 'traffic bytes by interface, direction, scope');
  t.equal(value('flowlens_traffic_packets_total{iface="eth0",direction="down",scope="internet"}'), 15, 'packets');
  t.equal(value('flowlens_active_sessions'), 5);
  t.equal(value('flowlens_remote_series'), 2, 'two remotes have their own series (the budget)');
  t.equal(value('flowlens_remote_series_folded'), 3, 'three remotes were folded into "other"');
  const remoteLines = text.split('\n').filter((l) => l.startsWith('flowlens_remote_bytes_total{') && l.includes('direction="down"'));
  t.equal(remoteLines.length, 3, 'two remote series and "other"');
  t.equal(remoteLines.reduce((a, l) => a + Number(l.split(' ').at(-1)), 0), 15000, 'they sum to the traffic');
  t.match(text, /flowlens_remote_bytes_total\{remote="other",direction="down",host="test-host"\} (\d+)/, 'the "other" series');
  t.match(text, /flowlens_drain_duration_seconds_bucket\{le="0.0025",host="test-host"\} 1/, 'the drain time histogram');
  t.match(text, /flowlens_attached\{iface="eth0",ingress="xdp-native",egress="tcx",host="test-host"\} 1/, 'the attachments');
  t.match(text, /^process_cpu_user_seconds_total/m, 'process metrics');
  t.match(text, /^flowlens_bpf_errors_total\{reason="probe_limit",host="test-host"\} 0/m, 'the BPF program\'s errors');
});
