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
import { parseRange } from '../../store/time.js';

const DATE_DOC = 'epoch ms, or YYYY-MM-DD, YYYY-MM, YYYY-MM-DDTHH (the host\'s local time), today, yesterday';

const usage = (m: string) => new FlowlensError('FLOW_ERR_USAGE', m);

/** Epoch ms as text is an instant; anything else is a date as every history endpoint takes it (the host's local dates, an end date included). */
const dateArg = (text: string | undefined) => (text === undefined || text === '' ? undefined : /^\d+$/.test(text) ? Number(text) : text);

export function alertRoutes(app: FastifyInstance, alerts: AlertsComponent, read: preHandlerHookHandler, admin: preHandlerHookHandler): void {
  const qs = {
    type: 'object', additionalProperties: false, properties: {
      start: { type: 'string', description: `alerts active at or after this time: ${DATE_DOC}` },
      end: { type: 'string', description: `alerts that began before this time (an end date is included): ${DATE_DOC}` },
      state: { type: 'string', enum: ['pending', 'firing', 'resolved'] },
      kind: { type: 'string', enum: [...ALERT_KINDS] },
      limit: { type: 'integer', minimum: 1, maximum: 10_000 },
    },
  };
  app.get('/api/alerts', { schema: { summary: 'Alerts, newest first, filtered by range, state and kind', querystring: qs }, preHandler: read }, async (req) => {
    const q = req.query as Record<string, string | number | undefined>;
    const range = parseRange(dateArg(q.start as string | undefined), dateArg(q.end as string | undefined), Date.now(), { from: 'start', to: 'end' });
    const from = range.from ?? undefined, to = range.to ?? undefined;
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
