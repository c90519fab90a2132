/**
 * Delivers the queued notifications (AlertStore's outbox) to each receiver,
 * in order, at most rateLimit requests a minute: everything due for a receiver
 * goes in one request (a scan and a flood that fire together are one message).
 * A failure keeps them queued and retries with a doubling back-off (1 s up to
 * 5 min); a receiver that is down never holds up counting, only its own queue.
 *
 * Webhook: POST of application/json
 *   { "version": 1, "host": "gw", "receiver": "ops", "sentAt": 1700000000000,
 *     "notifications": [ { "event": "firing" | "resolved", "alert": Alert } ] }
 * with X-Flowlens-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>.
 * Email: one message per request, a text and an HTML part listing each alert and its contributors.
 */
import { createHmac } from 'node:crypto';
import type { EmailReceiver, WebhookReceiver } from './config.js';
import type { AlertStore, OutboxItem } from './store.js';
import type { Alert } from './types.js';

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 300_000;
const TICK_MS = 250;
/** Notifications per request, at most. */
const BATCH = 100;

export interface ReceiverStatus {
  name: string;
  kind: 'webhook' | 'email';
  queued: number;
  sent: number;
  failures: number;
  /** false after a failed attempt, until one succeeds. */
  up: boolean;
  lastError?: string;
  lastSuccess?: number;
}

export interface NotificationBody {
  event: 'firing' | 'resolved';
  alert: Alert;
}

export function sign(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

type Send = (items: NotificationBody[]) => Promise<void>;

function webhookSender(r: WebhookReceiver, host: string): Send {
  return async (items) => {
    const body = JSON.stringify({ version: 1, host, receiver: r.name, sentAt: Date.now(), notifications: items });
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'flowlens' };
    if (r.secret) headers['x-flowlens-signature'] = sign(body, r.secret);
    const res = await fetch(r.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(r.timeoutMs) });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status}`);
  };
}

function contributorsText(a: Alert): string[] {
  return a.contributors.map((c) => `    ${c.source}${c.target ? ` → ${c.target}` : ''}${c.service ? ` ${c.service}` : ''}: ${c.bytes} B, ${c.packets} packets`);
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]!));

/** Subject, text and HTML of one email. */
export function emailContent(items: NotificationBody[], host: string): { subject: string; text: string; html: string } {
  const first = items[0]!;
  const subject = items.length === 1
    ? `[flowlens ${host}] ${first.event === 'firing' ? 'FIRING' : 'RESOLVED'}: ${first.alert.summary}`
    : `[flowlens ${host}] ${items.filter((i) => i.event === 'firing').length} firing, ${items.filter((i) => i.event === 'resolved').length} resolved`;
  const text = items.map(({ event, alert: a }) => [
    `${event.toUpperCase()} ${a.severity} ${a.kind}: ${a.summary}`,
    `  value ${a.value} ${a.unit} (threshold ${a.threshold}${a.baseline !== undefined ? `, baseline ${a.baseline}` : ''})`,
    `  since ${new Date(a.start).toISOString()}${a.end ? `, resolved ${new Date(a.end).toISOString()}` : ''}`,
    ...(a.contributors.length ? ['  contributors:', ...contributorsText(a)] : []),
  ].join('\n')).join('\n\n');
  const html = items.map(({ event, alert: a }) => `<h3>${event.toUpperCase()} ${escape(a.severity)} ${escape(a.kind)}</h3><p>${escape(a.summary)}</p>` +
    `<p>value ${a.value} ${escape(a.unit)}, threshold ${a.threshold}${a.baseline !== undefined ? `, baseline ${a.baseline}` : ''}</p>` +
    (a.contributors.length ? `<table><tr><th>source</th><th>target</th><th>service</th><th>bytes</th><th>packets</th></tr>${a.contributors.map((c) =>
      `<tr><td>${escape(c.source)}</td><td>${escape(c.target ?? '')}</td><td>${escape(c.service ?? '')}</td><td>${c.bytes}</td><td>${c.packets}</td></tr>`).join('')}</table>` : '')).join('<hr>');
  return { subject, text, html };
}

function emailSender(r: EmailReceiver, host: string): Send {
  let transport: { sendMail(m: Record<string, unknown>): Promise<unknown> } | undefined;
  return async (items) => {
    if (!transport) {
      const nodemailer = (await import('nodemailer')).default;
      transport = nodemailer.createTransport(r.url);
    }
    const { subject, text, html } = emailContent(items, host);
    await transport.sendMail({ from: r.from, to: r.to.join(', '), subject, text, html });
  };
}

interface Receiver {
  status: ReceiverStatus;
  rateLimit: number;
  send: Send;
  /** Request times of the last minute. */
  recent: number[];
  busy: boolean;
}

export class Notifier {
  private receivers = new Map<string, Receiver>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: AlertStore, private readonly host: string, private readonly clock: () => number = Date.now) {}

  /** The receivers (again, on a reload: counters of a kept receiver stay). */
  configure(webhooks: WebhookReceiver[], emails: EmailReceiver[]): void {
    const next = new Map<string, Receiver>();
    const keep = (name: string, kind: 'webhook' | 'email', rateLimit: number, send: Send) => {
      const old = this.receivers.get(name);
      next.set(name, { status: old?.status ?? { name, kind, queued: 0, sent: 0, failures: 0, up: true }, rateLimit, send, recent: old?.recent ?? [], busy: false });
    };
    for (const w of webhooks) keep(w.name, 'webhook', w.rateLimit, webhookSender(w, this.host));
    for (const e of emails) keep(e.name, 'email', e.rateLimit, emailSender(e, this.host));
    this.receivers = next;
  }

  get names(): string[] {
    return [...this.receivers.keys()];
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  status(): ReceiverStatus[] {
    return [...this.receivers.values()].map((r) => ({ ...r.status, queued: this.store.queued(r.status.name) }));
  }

  /** Sends what is due (each receiver one request at a time). */
  tick(): void {
    const now = this.clock();
    for (const r of this.receivers.values()) {
      if (r.busy) continue;
      r.recent = r.recent.filter((t) => t > now - 60_000);
      if (r.recent.length >= r.rateLimit) continue;
      const items = this.store.due(r.status.name, now, BATCH);
      if (!items.length) continue;
      r.busy = true;
      r.recent.push(now);
      void this.deliver(r, items).finally(() => { r.busy = false; });
    }
  }

  private async deliver(r: Receiver, items: OutboxItem[]): Promise<void> {
    try {
      await r.send(items.map((i) => JSON.parse(i.body) as NotificationBody));
      this.store.delivered(items.map((i) => i.id));
      r.status.sent += items.length;
      r.status.up = true;
      r.status.lastSuccess = this.clock();
    } catch (e) {
      const attempts = Math.max(...items.map((i) => i.attempts)) + 1;
      const wait = Math.min(RETRY_MIN_MS * 2 ** (attempts - 1), RETRY_MAX_MS);
      r.status.failures++;
      r.status.up = false;
      r.status.lastError = (e as Error).message;
      try { this.store.failed(items.map((i) => i.id), this.clock() + wait, r.status.lastError); } catch { /* closed */ }
    }
  }
}
