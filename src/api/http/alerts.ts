/**
 * The alerts' routes of the JSON API:
 *   GET    /api/alerts                  alerts, newest first, filtered by start/end, state, kind
 *   GET    /api/alerts/status           open alerts, receivers (queued, failures, up), detectors
 *   GET    /api/alerts/silences         the active silences
 *   POST   /api/admin/alerts/silences   {match: {victim: "10.0.0.2"}, until: ms | duration: "2h", reason}
 *   DELETE /api/admin/alerts/silences/:id
 *   POST   /api/admin/alerts/reload     re-read the rules, thresholds and receivers from the settings
 */
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { FlowlensError } from '../../errors.js';
import type { AlertsComponent } from '../../alerts/index.js';
import { ALERT_KINDS, type AlertKind, type AlertState } from '../../alerts/types.js';
import { parseSettingDuration } from '../../config/units.js';

const usage = (m: string) => new FlowlensError('FLOW_ERR_USAGE', m);

/** Epoch ms or an ISO date. */
function time(text: string | undefined, param: string): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(n)) throw usage(`${param} must be epoch milliseconds or an ISO date, not "${text}"`);
  return n;
}

export function alertRoutes(app: FastifyInstance, alerts: AlertsComponent, read: preHandlerHookHandler, admin: preHandlerHookHandler): void {
  const qs = {
    type: 'object', additionalProperties: false, properties: {
      start: { type: 'string', description: 'alerts active at or after this time (epoch ms or ISO date)' },
      end: { type: 'string', description: 'alerts that began before this time' },
      state: { type: 'string', enum: ['pending', 'firing', 'resolved'] },
      kind: { type: 'string', enum: [...ALERT_KINDS] },
      limit: { type: 'integer', minimum: 1, maximum: 10_000 },
    },
  };
  app.get('/api/alerts', { schema: { summary: 'Alerts, newest first, filtered by range, state and kind', querystring: qs }, preHandler: read }, async (req) => {
    const q = req.query as Record<string, string | number | undefined>;
    const from = time(q.start as string | undefined, 'start'), to = time(q.end as string | undefined, 'end');
    return {
      alerts: alerts.list({
        ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}),
        ...(q.state ? { state: q.state as AlertState } : {}), ...(q.kind ? { kind: q.kind as AlertKind } : {}),
        ...(q.limit !== undefined ? { limit: Number(q.limit) } : {}),
      }),
    };
  });
  app.get('/api/alerts/status', { schema: { summary: 'Open alerts, receivers and detectors' }, preHandler: read }, async () => alerts.status());
  app.get('/api/alerts/silences', { schema: { summary: 'Active silences' }, preHandler: read }, async () => ({ silences: alerts.silences() }));
  app.post('/api/admin/alerts/silences', {
    schema: {
      summary: 'Silence the alerts matching (rule, kind or subject fields) until a time (admin)',
      body: {
        type: 'object', additionalProperties: false, required: ['match', 'reason'], properties: {
          match: { type: 'object', additionalProperties: { type: 'string' } },
          until: { type: 'integer' }, duration: { type: 'string' }, reason: { type: 'string', minLength: 1 },
        },
      },
    },
    preHandler: admin,
  }, async (req) => {
    const b = req.body as { match: Record<string, string>; until?: number; duration?: string; reason: string };
    const now = Date.now();
    const until = b.until ?? (b.duration !== undefined ? now + parseSettingDuration(b.duration) : NaN);
    if (!Number.isFinite(until)) throw usage('give until (epoch ms) or duration (like 2h)');
    return alerts.addSilence(b.match, until, b.reason, now);
  });
  app.delete('/api/admin/alerts/silences/:id', { schema: { summary: 'End a silence (admin)' }, preHandler: admin }, async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    if (!alerts.removeSilence(id)) return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no silence ${id}` });
    return { removed: id };
  });
  app.post('/api/admin/alerts/reload', { schema: { summary: 'Re-read the alert rules, thresholds and receivers (admin)' }, preHandler: admin }, async () => alerts.reload());
}
