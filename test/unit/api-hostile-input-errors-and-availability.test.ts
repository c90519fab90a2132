/**
 * The APIs against hostile and careless input, as a client meets them over a
 * real socket (fastify) and a real grpc-js client: dates beyond what a Date
 * holds and reversed ranges are one 400 / INVALID_ARGUMENT naming the request's
 * own parameters (start/end over JSON, from/to over gRPC); names that every
 * JavaScript object has ("constructor", "toString", "__proto__") sent to every
 * name-like parameter never reach SQL; an unexpected failure answers a generic
 * message with an id, its details only in the server's log; HEAD is answered
 * on every route (the SSE ones included); health answers while heavy history
 * queries run; a listen name is trusted only for what it resolves to.
 */
import t, { type Test } from 'tap';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApi, tcpFlows } from '../helpers/api-fixture.js';
import { grpcClients, grpcCode, httpRequest, unary, type HttpTarget } from '../helpers/api-clients.js';
import { checkListenAddress, isLoopbackAddress } from '../../src/api/listen-address.js';
import { SessionsRequest, SummaryRequest } from '../../src/api/grpc/gen/flowlens/v1/flowlens.js';

const BEYOND = ['8700000000000000', '8700000100000000']; // past Date's ±8.64e15 ms
const OBJECT_NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'prototype'];
/** Text that must never reach a client: SQLite's, JavaScript's, a stack. */
const INTERNAL_TEXT = /no such column|SQLITE|sqlite|undefined|Cannot read properties|TypeError|at .*\.js:\d+|NaN/;

async function fixture(t: Test) {
  const f = await startApi(t);
  const now = Date.now();
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 20000, now - 900), now);
  const web: HttpTarget = { base: `http://127.0.0.1:${f.api.httpPort}` };
  const c = grpcClients(`127.0.0.1:${f.api.grpcPort}`);
  t.teardown(() => c.close());
  return { f, web, c, get: async (p: string) => { const r = await httpRequest(web, p); return { status: r.status, text: r.text, body: r.text ? r.json() : undefined }; } };
}

t.test('dates past what a Date holds: 400 / INVALID_ARGUMENT naming the parameter', async (t) => {
  const { get, c } = await fixture(t);
  const [a, b] = BEYOND;
  for (const [p, message] of [
    [`/api/query?start=${a}&end=${b}&granularity=day`, /^start: 8700000000000000 is after the year 9999$/],
    [`/api/query?start=${a}&end=${b}&granularity=hour`, /^start: 8700000000000000 is after the year 9999$/],
    [`/api/query?start=1000000000000&end=${b}&granularity=month`, /^end: 8700000100000000 is after the year 9999$/],
    [`/api/top_ips?start=${a}&end=${b}`, /^start: 8700000000000000 is after the year 9999$/],
    [`/api/top?dimension=port&start=1000000000000&end=${b}`, /^end: 8700000100000000 is after the year 9999$/],
    [`/api/sessions?source=ended&start=${a}`, /^start: 8700000000000000 is after the year 9999$/],
  ] as const) {
    const r = await get(p);
    t.equal(r.status, 400, `${p}: 400`);
    t.match(r.body.message, message, `${p}: ${r.body.message}`);
    t.notMatch(r.text, INTERNAL_TEXT, `${p}: no internal text`);
  }
  const history = await grpcCode(unary(c.traffic, 'history', { preset: '', from: a, to: b, granularity: 'day' }));
  t.equal(history.code, grpc.status.INVALID_ARGUMENT, 'gRPC History: INVALID_ARGUMENT');
  t.match(history.details, /^from: 8700000000000000 is after the year 9999/, history.details);
  const top = await grpcCode(unary(c.traffic, 'topTalkers', { dimension: 'ip', from: '1000000000000', to: b, windowSeconds: 0, limit: 5, scope: '', direction: '' }));
  t.equal(top.code, grpc.status.INVALID_ARGUMENT, 'gRPC TopTalkers: INVALID_ARGUMENT');
  t.match(top.details, /^to: 8700000100000000 is after the year 9999/, top.details);
  const last = await get('/api/query?start=253402214400000&end=253402300799000&granularity=hour');
  t.equal(last.status, 200, 'the last day of the year 9999 is still a range');
  t.same([last.body.buckets.length, last.body.buckets[0].label.slice(0, 4)], [24, '9999'], 'with real labels');
});

t.test('a reversed range is the same 400 on every endpoint, in the request\'s own names', async (t) => {
  const { get, c } = await fixture(t);
  const want = /^end \(2026-03-01\) must come after start \(2026-03-05\)$/;
  for (const p of ['/api/query?start=2026-03-05&end=2026-03-01&granularity=day', '/api/top_ips?start=2026-03-05&end=2026-03-01',
    '/api/top?dimension=host&start=2026-03-05&end=2026-03-01', '/api/sessions?source=ended&start=2026-03-05&end=2026-03-01']) {
    const r = await get(p);
    t.equal(r.status, 400, `${p}: 400`);
    t.match(r.body.message, want, `${p}: ${r.body.message}`);
    t.match(r.body.hint, /start 2026-03-01 and end 2026-03-01 is one day/, 'the hint in the same names');
  }
  t.match((await get('/api/query?start=2026-03-05&granularity=day')).body.message, /parameter "end" is required/);
  t.match((await get('/api/top_ips?end=today')).body.message, /^start is required with end$/);
  const grpcWant = /^to \(2026-03-01\) must come after from \(2026-03-05\)/;
  for (const [method, req] of [
    ['history', { preset: '', from: '2026-03-05', to: '2026-03-01', granularity: 'day' }],
    ['topTalkers', { dimension: 'ip', from: '2026-03-05', to: '2026-03-01', windowSeconds: 0, limit: 5, scope: '', direction: '' }],
    ['sessions', { source: 'ended', from: '2026-03-05', to: '2026-03-01', sort: '', limit: 0, cursor: '' }],
  ] as const) {
    const r = await grpcCode(unary(c.traffic, method, req));
    t.equal(r.code, grpc.status.INVALID_ARGUMENT, `gRPC ${method}: INVALID_ARGUMENT`);
    t.match(r.details, grpcWant, `gRPC ${method}: ${r.details}`);
  }
});

t.test('object property names in every name-like parameter never reach SQL', async (t) => {
  const { get, c } = await fixture(t);
  for (const name of OBJECT_NAMES) {
    const q = encodeURIComponent(name);
    for (const p of [
      `/api/sessions?sort=${q}`, `/api/sessions?source=ended&sort=${q}`, `/api/sessions?source=${q}`, `/api/sessions?protocol=${q}`,
      `/api/sessions?iface=${q}`, `/api/sessions?domain=${q}`, `/api/sessions?cursor=${q}`, `/api/sessions?source=ended&cursor=${q}`,
      `/api/top?dimension=${q}`, `/api/top?dimension=${q}&start=today&end=today`, `/api/query?start=today&end=today&granularity=${q}`,
      `/api/query?start=${q}&end=today&granularity=day`, `/api/summary?iface=${q}`, `/api/summary?direction=${q}`, `/api/summary?scope=${q}`,
      `/api/live?dimensions=${q}`, `/api/live/sessions?sort=${q}`, `/api/summary?${q}=1`,
    ]) {
      const r = await get(p);
      t.ok(r.status === 400 || r.status === 200, `${p}: ${r.status} (400 or an empty answer, never 500)`);
      t.notMatch(r.text, INTERNAL_TEXT, `${p}: no internal text (${r.text.slice(0, 120)})`);
    }
    const calls: Array<[string, unknown]> = [
      ['sessions', { source: 'ended', sort: name, limit: 0, cursor: '', from: '', to: '' }],
      ['sessions', { source: 'live', sort: name, limit: 0, cursor: '', from: '', to: '' }],
      ['sessions', { source: name, sort: '', limit: 0, cursor: '', from: '', to: '' }],
      ['sessions', SessionsRequest.fromPartial({ source: 'ended', cursor: name, filter: { protocol: name, iface: name, domain: name } })],
      ['topTalkers', { dimension: name, from: '', to: '', windowSeconds: 30, limit: 5, scope: '', direction: '' }],
      ['topTalkers', { dimension: name, from: 'today', to: 'today', windowSeconds: 0, limit: 5, scope: '', direction: '' }],
      ['history', { preset: name, from: '', to: '', granularity: '' }],
      ['history', { preset: '', from: 'today', to: 'today', granularity: name }],
      ['history', { preset: '', from: name, to: 'today', granularity: 'day' }],
      ['summary', SummaryRequest.fromPartial({ filter: { iface: name, direction: name, scope: name } })],
    ];
    for (const [method, req] of calls) {
      const r = await grpcCode(unary(c.traffic, method, req));
      t.ok(r.code === -1 || r.code === grpc.status.INVALID_ARGUMENT, `gRPC ${method} ${JSON.stringify(req)}: ${r.code} ${r.details}`);
      t.notMatch(r.details, INTERNAL_TEXT, `gRPC ${method}: no internal text`);
    }
    for (const [method, req] of [['watchSessions', { sort: name, limit: 1 }], ['watchLive', { dimensions: [name], limit: 1, windowSeconds: 0 }]] as const) {
      const stream = (c.traffic as unknown as Record<string, (r: unknown) => grpc.ClientReadableStream<unknown>>)[method]!(req);
      const e = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
      t.equal(e.code, grpc.status.INVALID_ARGUMENT, `gRPC ${method} ${name}: INVALID_ARGUMENT`);
      t.notMatch(e.details, INTERNAL_TEXT);
    }
  }
  const ended = await get('/api/sessions?source=ended&sort=constructor');
  t.match(ended.body.message, /^sort must be one of/, 'the sort check names the allowed sorts');
  const sorted = await grpcCode(unary(c.traffic, 'sessions', { source: 'ended', sort: 'toString', limit: 0, cursor: '', from: '', to: '' }));
  t.match(sorted.details, /^sort must be one of lastSeen, firstSeen, bytes, packets, rate, not "toString"/, sorted.details);
});

t.test('an unexpected failure: a generic message with an id, the details only in the log', async (t) => {
  const { f, get, c } = await fixture(t);
  const secret = 'SqliteError: database disk image is malformed at /var/lib/flowlens/flowlens.db';
  f.store!.summary = () => { throw new Error(secret); };
  const logged: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (String(chunk).includes('internal error')) { logged.push(String(chunk)); return true; }
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  t.teardown(() => { process.stderr.write = write; });

  const r = await get('/api/summary');
  t.equal(r.status, 500);
  const id = /^internal error \(id ([0-9a-f]{12})\); the server's log has the details$/.exec(r.body.message)?.[1];
  t.ok(id, `a generic message with an id: ${r.body.message}`);
  t.notMatch(r.text, /malformed|flowlens\.db|Sqlite/, 'no internal text');
  const g = await grpcCode(unary(c.traffic, 'summary', {}));
  t.equal(g.code, grpc.status.INTERNAL, 'gRPC: INTERNAL');
  const gid = /^internal error \(id ([0-9a-f]{12})\)/.exec(g.details)?.[1];
  t.ok(gid && gid !== id, `gRPC: its own id: ${g.details}`);
  t.notMatch(g.details, /malformed|flowlens\.db|Sqlite/);
  // an answer that cannot be encoded: grpc-js would send the encoder's own text
  (f.api.service as unknown as { dateRange: () => unknown }).dateRange = () => ({ first: '', last: '', firstTime: 'SELECT secret', lastTime: 0 });
  const enc = await grpcCode(unary(c.traffic, 'dateRange', {}));
  t.equal(enc.code, grpc.status.INTERNAL, 'gRPC: an answer that cannot be encoded: INTERNAL');
  t.match(enc.details, /^Error serializing response$|internal error \(id [0-9a-f]{12}\)/, `grpc-js's own words: ${enc.details}`);
  t.notMatch(enc.details, /BigInt|SyntaxError|SELECT secret/, 'not the encoder\'s text');
  t.equal(logged.length, 3, 'all three logged');
  t.match(logged[2], /in gRPC \/flowlens\.v1\.Traffic\/DateRange response: SyntaxError: Cannot convert SELECT secret to a BigInt/);
  t.match(logged[0], new RegExp(`internal error ${id} in GET /api/summary: .*database disk image is malformed`), 'the log has the id and the details');
  t.match(logged[1], new RegExp(`internal error ${gid} in gRPC Summary: .*database disk image is malformed`));
});

t.test('HEAD is answered on every route, the event streams included', async (t) => {
  const { get, web } = await fixture(t);
  const doc = (await get('/api/openapi.json')).body;
  const routes = Object.keys(doc.paths);
  t.ok(routes.includes('/api/live') && routes.includes('/api/live/sessions') && routes.length >= 16, `the route table (${routes.length} routes)`);
  for (const p of [...routes, '/', '/api/openapi.json']) {
    const methods = Object.keys(doc.paths[p] ?? { get: {} });
    const r = await httpRequest(web, p === '/api/top' ? '/api/top?dimension=ip' : p === '/api/query' ? '/api/query?start=today&end=today&granularity=day' : p, { method: 'HEAD' });
    t.equal(r.status, methods.includes('get') ? 200 : 404, `HEAD ${p}: ${r.status}`);
    t.equal(r.text, '', `HEAD ${p}: no body`);
    if (p.startsWith('/api/live')) t.equal(r.headers['content-type'], 'text/event-stream', `HEAD ${p}: the stream's headers`);
  }
  const get200 = await get('/api/live/sessions?sort=constructor');
  t.equal(get200.status, 400, 'a bad stream request is still refused before it starts');
});

t.test('health answers while heavy history queries run', async (t) => {
  const { f, web, get } = await fixture(t);
  const refused = await get('/api/query?start=8700000000000&end=103400000000000&granularity=month');
  t.equal(refused.status, 400, 'a range of ~36000 months: 400');
  t.match(refused.body.message, /^the range has about 36\d{3} months; a query may have at most 10000 buckets$/, refused.body.message);
  t.match(refused.body.hint, /shorter range/);
  t.match((await get('/api/query?start=2020-01-01&end=2026-12-31&granularity=hour')).body.hint, /ask by day or month \(granularity\)/, 'hours: the hint names the coarser granularities');

  const done: number[] = [];
  const start = Date.UTC(2020, 0, 1);
  const heavy = Array.from({ length: 16 }, (_, i) => {
    const from = start + i * 3_600_000;
    return httpRequest(web, `/api/query?start=${from}&end=${from + 9000 * 3_600_000}&granularity=hour`).then((r) => { done.push(i); return r; });
  });
  // the probe goes after all 16 are sent: the server has them all before it
  await new Promise((resolve) => setImmediate(resolve));
  const health = await httpRequest(web, '/api/health');
  const finishedBefore = done.length;
  t.equal(health.status, 200, 'health: 200');
  t.ok(finishedBefore < 16, `health answered before the heavy queries were all done (${finishedBefore} of 16 done)`);
  const answers = await Promise.all(heavy);
  t.same(answers.map((r) => r.status), Array(16).fill(200), 'and every heavy query got its answer');
  t.same(answers.map((r) => r.json().buckets.length), Array(16).fill(9000), 'of 9000 hours each');
  t.equal(f.api.httpPort > 0, true);
});

t.test('a listen name is trusted only for what it resolves to', async (t) => {
  t.ok(isLoopbackAddress('127.0.0.1') && isLoopbackAddress('127.3.2.1') && isLoopbackAddress('::1') && isLoopbackAddress('::ffff:127.0.0.1'), 'loopback addresses');
  t.notOk(isLoopbackAddress('10.0.0.5') || isLoopbackAddress('::') || isLoopbackAddress('0.0.0.0') || isLoopbackAddress('localhost') || isLoopbackAddress('::ffff:10.0.0.1'), 'others (and names) are not');
  const hosts = (map: Record<string, string[]>) => async (name: string) => {
    if (!map[name]) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return map[name]!;
  };
  // a hosts file that maps localhost to a LAN address
  const lan = hosts({ localhost: ['192.168.1.20', '127.0.0.1'] });
  await t.rejects(startApi(t, { listen: 'localhost' }, { lookup: lan }),
    { code: 'FLOW_ERR_USAGE', message: 'refusing to serve the APIs on localhost without access tokens: it resolves to 192.168.1.20, not only loopback' }, 'refused without tokens');
  await t.rejects(checkListenAddress('localhost', false, hosts({})), { message: /^cannot resolve the listen address localhost: ENOTFOUND$/ });
  await t.resolves(checkListenAddress('localhost', true, lan), 'with tokens any address is fine');
  await t.resolves(checkListenAddress('127.0.0.1', false, lan), 'an address literal is not looked up');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-listen-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokens = path.join(dir, 'tokens');
  writeFileSync(tokens, 'read read-token-0123456789abcdef\n');
  // localhost resolving to loopback only is served without tokens: bound for real on 127.0.0.1
  const ok = await startApi(t, { listen: 'localhost' }, { lookup: hosts({ localhost: ['127.0.0.1'] }) });
  t.equal((await httpRequest({ base: `http://127.0.0.1:${ok.api.httpPort}` }, '/api/status')).status, 200, 'loopback only: served without a token');
  const guarded = await startApi(t, { listen: 'localhost', tokensFile: tokens }, { lookup: lan });
  t.equal((await httpRequest({ base: `http://127.0.0.1:${guarded.api.httpPort}` }, '/api/status')).status, 401, 'with tokens: served, tokens required');
});
