/**
 * The alerts' series in /metrics, read when Prometheus scrapes:
 *   flowlens_alerts_firing{kind,severity}                  firing alerts now (every kind × severity, zeros included)
 *   flowlens_alert_receiver_up{receiver,kind}              1 while the receiver's last attempt succeeded
 *   flowlens_alert_notifications_queued{receiver}          notifications waiting
 *   flowlens_alert_notifications_sent_total{receiver}      delivered
 *   flowlens_alert_notification_failures_total{receiver}   failed attempts (each retried)
 *   flowlens_alert_notifications_dropped_total             lost because the queue was full
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { ALERT_KINDS } from './types.js';
import type { AlertsStatus } from './index.js';

const SEVERITIES = ['info', 'warning', 'critical'];

export function registerAlertMetrics(r: Registry, status: () => AlertsStatus | undefined): void {
  new Gauge({
    name: 'flowlens_alerts_firing', help: 'Firing alerts by kind and severity', labelNames: ['kind', 'severity'], registers: [r],
    collect() {
      const s = status();
      this.reset();
      for (const kind of ALERT_KINDS) for (const severity of SEVERITIES) this.set({ kind, severity }, s?.firingBy[`${kind}|${severity}`] ?? 0);
    },
  });
  new Gauge({
    name: 'flowlens_alert_receiver_up', help: '1 while the receiver\'s last delivery succeeded (or none was tried), 0 after a failure', labelNames: ['receiver', 'kind'], registers: [r],
    collect() {
      this.reset();
      for (const x of status()?.receivers ?? []) this.set({ receiver: x.name, kind: x.kind }, x.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'flowlens_alert_notifications_queued', help: 'Notifications waiting for their receiver', labelNames: ['receiver'], registers: [r],
    collect() {
      this.reset();
      for (const x of status()?.receivers ?? []) this.set({ receiver: x.name }, x.queued);
    },
  });
  // counters of the receivers' own totals: set to the running values at each scrape
  const total = (name: string, help: string, pick: (x: AlertsStatus['receivers'][number]) => number) => new Counter({
    name, help, labelNames: ['receiver'], registers: [r],
    collect() {
      this.reset();
      for (const x of status()?.receivers ?? []) this.inc({ receiver: x.name }, pick(x));
    },
  });
  total('flowlens_alert_notifications_sent_total', 'Notifications delivered', (x) => x.sent);
  total('flowlens_alert_notification_failures_total', 'Failed delivery attempts (each is retried)', (x) => x.failures);
  new Counter({
    name: 'flowlens_alert_notifications_dropped_total', help: 'Notifications lost because the queue was full (alerts.queueLimit)', registers: [r],
    collect() {
      this.reset();
      this.inc(status()?.notificationsDropped ?? 0);
    },
  });
}
