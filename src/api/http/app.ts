/**
 * The JSON API on fastify: the same queries as gRPC (ApiService answers both,
 * with the same objects), the simple endpoints people script against, a live
 * push over Server-Sent Events, /metrics for Prometheus, the OpenAPI document
 * at /api/openapi.json, and the dashboard's files from ui/dist at the root when
 * they are built. buildHttpApp never listens: the caller does (or inject()s).
 *
 * Every parameter is checked by a JSON schema; a bad or unknown one gets 400
 * with a message naming it. With tokens configured every route but
 * /api/health, /api/openapi.json and the dashboard's static files (which hold
 * no data: the page asks for the token) needs `Authorization: Bearer TOKEN`
 * (admin routes an admin token). Request bodies are capped (bodyLimit) and each
 * client address may make rateLimit requests a minute.
 */
import { existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import { FlowlensError } from '../../errors.js';
import { internalError } from '../internal-error.js';
import { TALKER_DIMENSIONS, type IntervalStats } from '../../flows/types.js';
import { allows, type Role, type TokenSet } from '../auth.js';
import type { FlowMetrics } from '../metrics.js';
import { LIVE_SORTS, MAX_PAGE, MAX_REALTIME_SECONDS, MAX_WINDOW_SECONDS } from '../live-query.js';
import type { ApiService } from '../service.js';
import type * as pb from '../grpc/gen/flowlens/v1/flowlens.js';
import type { AlertsComponent } from '../../alerts/index.js';
import { alertRoutes } from './alerts.js';
import { captureRoutes } from './capture.js';
import { CaptureRegistry } from '../capture.js';
import type { PacketCaptures } from '../../capture/index.js';

export interface HttpOptions {
  tokens: TokenSet;
  rateLimit: number;
  bodyLimit: number;
  /** The built dashboard (served at / when the directory exists). */
  uiDir?: string;
  https?: { cert: Buffer; key: Buffer };
  /** Is the collector attached and draining? For /api/health. */
  healthy(): { ok: boolean; degraded?: boolean; reason?: string };
}

export interface HttpDeps {
  service: ApiService;
  metrics: FlowMetrics;
  /** Subscribes to every processed interval; returns the unsubscribe function. */
  onInterval(listener: (stats: IntervalStats) => void): () => void;
  /** The latest processed interval, if any: a new stream starts with it, not with nothing. */
  latest?(): IntervalStats | null;
  /** The alerts, when they run (their routes: ./alerts.ts). */
  alerts?: AlertsComponent;
  /** Packet captures of the running collector (routes: ./capture.ts); undefined when it has none. */
  captures?(): PacketCaptures | undefined;
}

type Query = Record<string, string | number | undefined>;

/** The JSON API's names of a range's ends: errors say start/end, as the request did. */
const JSON_RANGE = { from: 'start', to: 'end' };

const str = (doc: string, extra: Record<string, unknown> = {}) => ({ type: 'string', description: doc, ...extra });
const int = (doc: string, minimum: number, maximum: number) => ({ type: 'integer', description: doc, minimum, maximum });

const trafficFilter = {
  iface: str('interface name', { minLength: 1 }),
  direction: str('up (local → remote) or down', { enum: ['up', 'down'] }),
  scope: str('internet, lan or unknown (counted while the flow table was full)', { enum: ['internet', 'lan', 'unknown'] }),
};
const dateDoc = 'YYYY-MM-DD, YYYY-MM, YYYY-MM-DDTHH (local time), today, yesterday, or epoch milliseconds';
const range = { start: str(`start: ${dateDoc}`, { minLength: 1 }), end: str(`end (a date is included): ${dateDoc}`, { minLength: 1 }) };
const sessionFilter = {
  addr: str('an address or CIDR prefix (local or remote end)', { minLength: 1 }),
  port: int('local or remote port', 0, 65535),
  protocol: str('tcp, udp, icmp, ... or an IP protocol number', { minLength: 1 }),
  iface: str('interface name', { minLength: 1 }),
  scope: str('internet or lan', { enum: ['internet', 'lan'] }),
  country: str('ISO 3166 country code of the remote end', { pattern: '^[A-Za-z]{2}$' }),
  asn: str('15169 or AS15169', { pattern: '^(AS|as)?[0-9]+$' }),
  domain: str('a name or parent domain (example.com matches www.example.com)', { minLength: 1 }),
};
const topParams = {
  ...range,
  window: int('live: the last this many seconds (instead of start/end)', 1, MAX_WINDOW_SECONDS),
  limit: int('rows (the rest is summed in "other")', 1, MAX_PAGE),
  scope: str('internet or lan: only that traffic\'s talkers (default: all)', { enum: ['internet', 'lan'] }),
  direction: str('up or down: that direction\'s bytes, ranked by them (default: both)', { enum: ['up', 'down'] }),
};

function querystring(properties: Record<string, unknown>, required: string[] = []) {
  return { type: 'object', properties, required, additionalProperties: false };
}

/** Query text of the traffic filter → the message field. */
function filterOf(q: Query): pb.TrafficFilter {
  return { iface: String(q.iface ?? ''), direction: String(q.direction ?? ''), scope: String(q.scope ?? '') };
}

function sessionFilterOf(q: Query): pb.SessionFilter {
  return {
    addr: String(q.addr ?? ''), protocol: String(q.protocol ?? ''), iface: String(q.iface ?? ''), scope: String(q.scope ?? ''),
    country: String(q.country ?? ''), asn: String(q.asn ?? ''), domain: String(q.domain ?? ''),
    ...(q.port !== undefined ? { port: Number(q.port) } : {}),
  };
}

function topRequest(dimension: string, q: Query): pb.TopTalkersRequest {
  const live = q.start === undefined && q.end === undefined;
  return {
    dimension, from: String(q.start ?? ''), to: String(q.end ?? ''),
    windowSeconds: q.window !== undefined ? Number(q.window) : live ? 30 : 0,
    limit: q.limit !== undefined ? Number(q.limit) : 10,
    scope: String(q.scope ?? ''),
    direction: String(q.direction ?? ''),
  };
}

/** "querystring/limit must be <= 10000" → "limit must be <= 10000"; unknown parameters are named. */
function validationMessage(e: { validation?: Array<{ instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }>; message: string }): string {
  const v = e.validation?.[0];
  if (!v) return e.message;
  if (v.keyword === 'additionalProperties') return `unknown parameter "${String(v.params.additionalProperty)}"`;
  if (v.keyword === 'required') return `parameter "${String(v.params.missingProperty)}" is required`;
  const name = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (v.keyword === 'enum') return `${name} must be one of ${(v.params.allowedValues as string[]).join(', ')}`;
  return `${name || 'the request'} ${v.message ?? 'is not valid'}`;
}

export async function buildHttpApp(deps: HttpDeps, opts: HttpOptions): Promise<FastifyInstance> {
  const serverOptions: FastifyServerOptions & { https?: { cert: Buffer; key: Buffer } } = {
    bodyLimit: opts.bodyLimit,
    logger: false, // nothing here logs request headers: tokens never reach a log
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  };
  if (opts.https) serverOptions.https = opts.https;
  const app = Fastify(serverOptions) as unknown as FastifyInstance;
  const { service, metrics } = deps;

  app.setErrorHandler((e: FastifyErrorLike, req, reply) => {
    if (e.validation) return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: validationMessage(e) });
    if (e instanceof FlowlensError && (e.code === 'FLOW_ERR_USAGE' || e.code === 'FLOW_ERR_STORE')) {
      const code = e.code === 'FLOW_ERR_USAGE' ? 400 : 503;
      return reply.code(code).send({ statusCode: code, error: code === 400 ? 'Bad Request' : 'Service Unavailable', message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
    }
    // fastify's own refusals (413, 415, 429, a malformed body) say what the request did wrong
    if (!(e instanceof FlowlensError) && e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ statusCode: e.statusCode, error: e.statusCode === 429 ? 'Too Many Requests' : 'Bad Request', message: e.message });
    }
    return reply.code(500).send({ statusCode: 500, error: 'Internal Server Error', message: internalError(e, `${req.method} ${req.routeOptions.url ?? req.url}`) });
  });

  await app.register(rateLimit, { max: opts.rateLimit, timeWindow: 60_000 });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'flowlens JSON API', version: '1', description: 'Traffic, sessions and talkers of a flowlens host. Types mirror proto/flowlens/v1/flowlens.proto; see docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  /** Checks the token of a request that needs `need` (onRequest: before its parameters are validated, so no caller without a token learns the schema). */
  const guard = (need: Role) => async (req: FastifyRequest, reply: FastifyReply) => {
    const access = opts.tokens.check(req.headers.authorization);
    if (access === 'none') {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', message: 'a token is required: send "Authorization: Bearer TOKEN"' });
    }
    if (!allows(access, need)) return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: 'this call needs an admin token' });
  };
  const read = guard('read');

  const get = (url: string, summary: string, qs: Record<string, unknown> | null, handler: (q: Query) => unknown, required: string[] = []) => {
    app.get(url, { schema: { summary, ...(qs ? { querystring: querystring(qs, required) } : { querystring: querystring({}) }) }, onRequest: read },
      async (req) => handler(req.query as Query));
  };

  get('/api/summary', 'Today, this month and this year: up, down, total', trafficFilter, (q) => service.summary({ filter: filterOf(q) }));
  get('/api/query', 'Zero-filled history of a date range at hour, day or month granularity',
    { ...range, granularity: str('hour, day or month', { enum: ['hour', 'day', 'month'] }), ...trafficFilter },
    (q) => service.historyRange({ preset: '', from: String(q.start), to: String(q.end), granularity: String(q.granularity), filter: filterOf(q) }, JSON_RANGE),
    ['start', 'end', 'granularity']);
  get('/api/history/30days', 'The last 30 days by day (today included)', trafficFilter, (q) => service.historyRange({ preset: '30days', from: '', to: '', granularity: '', filter: filterOf(q) }));
  get('/api/history/12months', 'The last 12 months by month (this month included)', trafficFilter, (q) => service.historyRange({ preset: '12months', from: '', to: '', granularity: '', filter: filterOf(q) }));
  get('/api/history/today_hours', 'Today by hour', trafficFilter, (q) => service.historyRange({ preset: 'today_hours', from: '', to: '', granularity: '', filter: filterOf(q) }));
  get('/api/date_range', 'First and last day with traffic', null, () => service.dateRange());
  get('/api/top_ips', 'Top remote addresses over a date range (start, end) or a live window (default: the last 30 s)', topParams, (q) => service.topTalkers(topRequest('ip', q), JSON_RANGE));
  get('/api/usage', 'A billing cycle: use, cap, projection, 95th percentile of 5-minute rates, devices and destinations',
    { cycle: int('0: the current cycle (default); -1 the one before, ...', -1200, 0), limit: int('rows of each breakdown (default 10)', 1, 1000) },
    (q) => service.usage({ cycle: q.cycle !== undefined ? Number(q.cycle) : 0, limit: q.limit !== undefined ? Number(q.limit) : 10 }));
  get('/api/top', 'Top talkers of a dimension over a date range or a live window',
    { dimension: str(TALKER_DIMENSIONS.join(', '), { enum: [...TALKER_DIMENSIONS] }), ...topParams },
    (q) => service.topTalkers(topRequest(String(q.dimension), q), JSON_RANGE), ['dimension']);
  get('/api/devices', 'The LAN\'s devices: MAC, vendor, name (and where it came from), addresses', null, () => service.devices());
  get('/api/sessions', 'Live or ended sessions, filtered, sorted, paged with a cursor',
    {
      source: str('live (default) or ended', { enum: ['live', 'ended'] }), ...sessionFilter,
      sort: str('bytes, packets, rate (live), first_seen, last_seen', { enum: [...LIVE_SORTS, 'first_seen', 'last_seen'] }),
      limit: int('rows per page', 1, MAX_PAGE), cursor: str('next_cursor of the previous page', { minLength: 1 }), ...range,
    },
    (q) => service.sessions({
      source: String(q.source ?? ''), filter: sessionFilterOf(q), sort: String(q.sort ?? ''), limit: q.limit !== undefined ? Number(q.limit) : 100,
      cursor: String(q.cursor ?? ''), from: String(q.start ?? ''), to: String(q.end ?? ''),
    }, JSON_RANGE));
  get('/api/realtime', 'Per-second rates of the last seconds (default 30)', { seconds: int('seconds', 1, MAX_REALTIME_SECONDS) },
    (q) => service.realtime({ seconds: q.seconds !== undefined ? Number(q.seconds) : 30 }));
  get('/api/status', 'Interfaces, attach modes, flow table fill, overflow, malformed, drain time, sessions', null, () => service.status());
  get('/api/reconcile', 'Per interface: the kernel\'s own counters beside flowlens\'s totals, the difference explained term by term', null, () => service.reconcile());

  app.get('/api/health', { schema: { summary: 'Liveness/readiness: 200 while the collector is attached and draining, else 503', security: [] }, config: { rateLimit: false } }, async (_req, reply) => {
    const h = opts.healthy();
    return reply.code(h.ok ? 200 : 503).send({ status: h.ok ? (h.degraded ? 'degraded' : 'ok') : 'unhealthy', ...(h.reason ? { reason: h.reason } : {}) });
  });

  app.post('/api/admin/flush', { schema: { summary: 'Write the pending history to the database now (admin)' }, onRequest: guard('admin') }, async () => service.flushHistory());

  if (deps.alerts) alertRoutes(app, deps.alerts, read, guard('admin'));
  captureRoutes(app, () => deps.captures?.(), new CaptureRegistry(), guard('admin'));

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: false }, onRequest: read }, async (_req, reply) => {
    reply.header('content-type', metrics.contentType);
    return metrics.text();
  });

  /** Server-Sent Events: one event per interval until the client goes away. */
  const sse = (req: FastifyRequest, reply: FastifyReply, event: string, next: (stats: IntervalStats) => unknown) => {
    reply.hijack();
    const res: ServerResponse = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // HEAD (fastify's automatic route for every GET) gets the stream's headers, not a stream that never ends
    if (req.method === 'HEAD') return void res.end();
    res.write(': flowlens live\n\n');
    const send = (stats: IntervalStats) => {
      if (res.writableNeedDrain) return; // a slow reader skips intervals rather than buffering them
      try {
        res.write(`event: ${event}\ndata: ${JSON.stringify(next(stats))}\n\n`);
      } catch (e) {
        const message = e instanceof FlowlensError && e.code === 'FLOW_ERR_USAGE' ? e.message : internalError(e, `${req.method} ${req.url} event`);
        res.write(`event: error\ndata: ${JSON.stringify({ message })}\n\n`);
      }
    };
    // a page opened between intervals (or seconds after a burst) sees the latest window at once
    const latest = deps.latest?.();
    if (latest) send(latest);
    const stop = deps.onInterval(send);
    const end = () => { stop(); res.end(); };
    openStreams.add(end);
    req.raw.on('close', () => { stop(); openStreams.delete(end); });
  };
  // open event streams end before the server closes, or closing would wait for the clients
  const openStreams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of openStreams) end();
    openStreams.clear();
  });

  app.get('/api/live', {
    schema: {
      summary: 'Server-Sent Events: every interval an "interval" event with traffic, rates and top talkers',
      querystring: querystring({
        dimensions: str(`comma-separated talker dimensions (${TALKER_DIMENSIONS.join(', ')})`, { pattern: `^(${TALKER_DIMENSIONS.join('|')})(,(${TALKER_DIMENSIONS.join('|')}))*$` }),
        limit: int('rows per dimension', 1, MAX_PAGE), window: int('talkers over the last this many seconds (default: the interval)', 1, MAX_WINDOW_SECONDS),
        scope: str('internet or lan: only that traffic\'s talkers (default: all)', { enum: ['internet', 'lan'] }),
        direction: str('up or down: that direction\'s bytes, ranked by them (default: both)', { enum: ['up', 'down'] }),
      }),
    },
    onRequest: read,
  }, async (req, reply) => {
    const q = req.query as Query;
    const watch: pb.WatchLiveRequest = { dimensions: q.dimensions ? String(q.dimensions).split(',') : [], limit: q.limit !== undefined ? Number(q.limit) : 10, windowSeconds: q.window !== undefined ? Number(q.window) : 0, scope: String(q.scope ?? ''), direction: String(q.direction ?? '') };
    service.checkWatchLive(watch);
    sse(req, reply, 'interval', (stats) => service.liveUpdate(watch, stats));
  });

  app.get('/api/live/sessions', {
    schema: {
      summary: 'Server-Sent Events: every interval a "sessions" event with the first page of matching live sessions',
      querystring: querystring({ ...sessionFilter, sort: str('bytes, packets, rate (default), first_seen, last_seen', { enum: [...LIVE_SORTS, 'first_seen', 'last_seen'] }), limit: int('rows', 1, MAX_PAGE) }),
    },
    onRequest: read,
  }, async (req, reply) => {
    const q = req.query as Query;
    const watch: pb.WatchSessionsRequest = { filter: sessionFilterOf(q), sort: String(q.sort ?? ''), limit: q.limit !== undefined ? Number(q.limit) : 20 };
    service.watchSessions(watch); // a bad filter is a 400 now, not an event later
    sse(req, reply, 'sessions', () => service.watchSessions(watch));
  });

  app.get('/api/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => app.swagger());

  if (opts.uiDir && existsSync(opts.uiDir)) {
    await app.register(fastifyStatic, { root: opts.uiDir, prefix: '/', wildcard: false });
  }
  return app;
}

interface FastifyErrorLike extends Error {
  statusCode?: number;
  validation?: Array<{ instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }>;
}
