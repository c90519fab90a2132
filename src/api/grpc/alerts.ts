/**
 * The Alerts service of the gRPC API: the alerts as proto messages
 * (ListAlerts), and a stream of every firing and resolved one (WatchAlerts).
 */
import type { Alert as AlertRecord, AlertsComponent } from '../../alerts/index.js';
import type { Transition } from '../../alerts/engine.js';
import { FlowlensError } from '../../errors.js';
import type * as pb from './gen/flowlens/v1/flowlens.js';

export function alertMessage(a: AlertRecord): pb.Alert {
  return {
    id: a.id, fingerprint: a.fingerprint, rule: a.rule, kind: a.kind, severity: a.severity, subject: { ...a.subject }, summary: a.summary,
    value: a.value, threshold: a.threshold, baseline: a.baseline ?? 0, unit: a.unit, start: Math.floor(a.start), firedAt: Math.floor(a.firedAt ?? 0),
    end: Math.floor(a.end ?? 0), state: a.state,
    contributors: a.contributors.map((c) => ({ source: c.source, target: c.target ?? '', service: c.service ?? '', bytes: c.bytes, packets: c.packets })),
  };
}

export function listAlerts(alerts: AlertsComponent | undefined, req: pb.ListAlertsRequest): pb.ListAlertsResponse {
  if (!alerts) throw new FlowlensError('FLOW_ERR_USAGE', 'alerts are off (alerts.enabled: false)');
  return {
    alerts: alerts.list({
      ...(req.state ? { state: req.state as AlertRecord['state'] } : {}), ...(req.kind ? { kind: req.kind as AlertRecord['kind'] } : {}),
      ...(req.from ? { from: req.from } : {}), ...(req.to ? { to: req.to } : {}), limit: req.limit || 100,
    }).map(alertMessage),
  };
}

/**
 * Calls `send` with each alert firing now (event "active": a client that joins
 * late knows the state without a second call), then with every firing and
 * resolved one until the returned function is called.
 */
export function watchAlerts(alerts: AlertsComponent | undefined, send: (e: pb.AlertEvent) => void): () => void {
  if (!alerts) throw new FlowlensError('FLOW_ERR_USAGE', 'alerts are off (alerts.enabled: false)');
  const listener = (t: Transition) => {
    if (t.event === 'firing' || t.event === 'resolved') send({ event: t.event, alert: alertMessage(t.alert) });
  };
  alerts.on('alert', listener);
  for (const a of alerts.list({ state: 'firing', limit: 1000 })) send({ event: 'active', alert: alertMessage(a) });
  return () => alerts.off('alert', listener);
}
