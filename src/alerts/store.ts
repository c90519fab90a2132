/**
 * The alerts in the embedded database (tables alert, alert_silence and
 * alert_outbox of src/store/schema.ts): every state change, and the
 * notifications it causes, are written in one transaction, and a notification
 * is unique per (receiver, alert, event), so a restart neither loses one nor
 * sends one twice. The CLI reads the same tables (listAlerts) beside a running
 * flowlens.
 */
import type { Db } from '../store/schema.js';
import type { Transition } from './engine.js';
import { ALERT_KINDS, type Alert, type AlertKind, type AlertState } from './types.js';
import { FlowlensError } from '../errors.js';

export interface AlertQuery {
  /** Alerts active at some time in [from, to) (epoch ms). */
  from?: number;
  to?: number;
  state?: AlertState;
  kind?: AlertKind;
  limit?: number;
}

/** A silence: alerts it matches are kept, but not notified. `match` fields: rule, kind, and any subject field. */
export interface Silence {
  id: number;
  match: Record<string, string>;
  until: number;
  reason: string;
  created: number;
}

export interface OutboxItem {
  id: number;
  receiver: string;
  alertId: number;
  event: 'firing' | 'resolved';
  body: string;
  created: number;
  attempts: number;
}

interface AlertRow {
  id: number; fingerprint: string; rule: string; kind: string; severity: string; subject: string; summary: string;
  value: number; threshold: number; baseline: number | null; unit: string; start: number; fired_at: number | null;
  end: number | null; state: string; contributors: string;
}

function alertOf(r: AlertRow): Alert {
  return {
    id: r.id, fingerprint: r.fingerprint, rule: r.rule, kind: r.kind as AlertKind, severity: r.severity as Alert['severity'],
    subject: JSON.parse(r.subject) as Record<string, string>, summary: r.summary, value: r.value, threshold: r.threshold,
    ...(r.baseline !== null ? { baseline: r.baseline } : {}), unit: r.unit, start: r.start,
    ...(r.fired_at !== null ? { firedAt: r.fired_at } : {}), ...(r.end !== null ? { end: r.end } : {}),
    state: r.state as AlertState, contributors: JSON.parse(r.contributors) as Alert['contributors'],
  };
}

const usage = (m: string) => new FlowlensError('FLOW_ERR_USAGE', m);

/** The alerts matching q, newest first. */
export function listAlerts(db: Db, q: AlertQuery = {}): Alert[] {
  if (q.state !== undefined && !['pending', 'firing', 'resolved'].includes(q.state)) throw usage(`state must be pending, firing or resolved, not "${q.state}"`);
  if (q.kind !== undefined && !ALERT_KINDS.includes(q.kind)) throw usage(`kind must be one of ${ALERT_KINDS.join(', ')}, not "${q.kind}"`);
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (q.from !== undefined) { where.push('(end IS NULL OR end >= ?)'); params.push(q.from); }
  if (q.to !== undefined) { where.push('start < ?'); params.push(q.to); }
  if (q.state) { where.push('state = ?'); params.push(q.state); }
  if (q.kind) { where.push('kind = ?'); params.push(q.kind); }
  const rows = db.prepare(`SELECT * FROM alert ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY start DESC, id DESC LIMIT ?`)
    .all(...params, q.limit ?? 100) as AlertRow[];
  return rows.map(alertOf);
}

export function listSilences(db: Db, now: number): Silence[] {
  return (db.prepare('SELECT * FROM alert_silence WHERE until > ? ORDER BY id').all(now) as Array<{ id: number; match: string; until: number; reason: string; created: number }>)
    .map((r) => ({ ...r, match: JSON.parse(r.match) as Record<string, string> }));
}

/** Does the silence match the alert? Every field of `match` must equal the alert's rule, kind or subject field. */
export function silences(s: Pick<Silence, 'match'>, a: Pick<Alert, 'rule' | 'kind' | 'subject'>): boolean {
  return Object.entries(s.match).every(([k, v]) => (k === 'rule' ? a.rule : k === 'kind' ? a.kind : a.subject[k]) === v);
}

export class AlertStore {
  private readonly upsert;
  private readonly remove;
  private readonly enqueue;
  /** Notifications dropped because the queue was full. */
  dropped = 0;

  constructor(readonly db: Db, private readonly queueLimit: number) {
    this.upsert = db.prepare(`INSERT INTO alert (id, fingerprint, rule, kind, severity, subject, summary, value, threshold, baseline, unit, start, fired_at, end, state, contributors)
      VALUES (@id, @fingerprint, @rule, @kind, @severity, @subject, @summary, @value, @threshold, @baseline, @unit, @start, @firedAt, @end, @state, @contributors)
      ON CONFLICT (id) DO UPDATE SET summary = excluded.summary, value = excluded.value, fired_at = excluded.fired_at, end = excluded.end,
        state = excluded.state, contributors = excluded.contributors`);
    this.remove = db.prepare('DELETE FROM alert WHERE id = ?');
    this.enqueue = db.prepare(`INSERT OR IGNORE INTO alert_outbox (receiver, alert_id, event, body, created, next_at) VALUES (?, ?, ?, ?, ?, ?)`);
  }

  /** The pending and firing alerts (a restart goes on with them). */
  open(): Alert[] {
    return (this.db.prepare(`SELECT * FROM alert WHERE state != 'resolved' ORDER BY id`).all() as AlertRow[]).map(alertOf);
  }

  maxId(): number {
    return (this.db.prepare('SELECT coalesce(max(id), 0) AS n FROM alert').get() as { n: number }).n;
  }

  /**
   * Writes the transitions, and for each firing or resolved one that no active
   * silence matches, one notification per receiver (body made by `body`).
   */
  apply(now: number, transitions: Transition[], receivers: string[], body: (t: Transition) => string): void {
    if (!transitions.length) return;
    const active = listSilences(this.db, now);
    this.db.transaction(() => {
      for (const t of transitions) {
        const a = t.alert;
        if (t.event === 'dropped') { this.remove.run(a.id); continue; }
        this.upsert.run({
          id: a.id, fingerprint: a.fingerprint, rule: a.rule, kind: a.kind, severity: a.severity, subject: JSON.stringify(a.subject),
          summary: a.summary, value: a.value, threshold: a.threshold, baseline: a.baseline ?? null, unit: a.unit, start: a.start,
          firedAt: a.firedAt ?? null, end: a.end ?? null, state: a.state, contributors: JSON.stringify(a.contributors),
        });
        if ((t.event === 'firing' || t.event === 'resolved') && receivers.length && !active.some((s) => silences(s, a))) {
          const text = body(t);
          for (const r of receivers) this.enqueue.run(r, a.id, t.event, text, now, 0);
        }
      }
      this.trimQueue();
    })();
  }

  private trimQueue(): void {
    const n = (this.db.prepare('SELECT count(*) AS n FROM alert_outbox').get() as { n: number }).n;
    if (n <= this.queueLimit) return;
    const over = n - this.queueLimit;
    this.db.prepare('DELETE FROM alert_outbox WHERE id IN (SELECT id FROM alert_outbox ORDER BY id LIMIT ?)').run(over);
    this.dropped += over;
  }

  /**
   * The receiver's oldest notifications, when they are due: a back-off holds
   * the head of its queue, and everything behind it waits, so the order stays.
   */
  due(receiver: string, now: number, limit: number): OutboxItem[] {
    const rows = this.db.prepare(`SELECT id, receiver, alert_id AS alertId, event, body, created, attempts, next_at AS nextAt FROM alert_outbox
      WHERE receiver = ? ORDER BY id LIMIT ?`).all(receiver, limit) as Array<OutboxItem & { nextAt: number }>;
    if (!rows.length || rows[0]!.nextAt > now) return [];
    return rows.map(({ nextAt: _, ...item }) => item);
  }

  queued(receiver: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM alert_outbox WHERE receiver = ?').get(receiver) as { n: number }).n;
  }

  delivered(ids: number[]): void {
    const del = this.db.prepare('DELETE FROM alert_outbox WHERE id = ?');
    this.db.transaction(() => { for (const id of ids) del.run(id); })();
  }

  /** A failed attempt: retried from `nextAt` (the rest of the receiver's queue waits behind them). */
  failed(ids: number[], nextAt: number, error: string): void {
    const upd = this.db.prepare('UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?');
    this.db.transaction(() => { for (const id of ids) upd.run(error, nextAt, id); })();
  }

  addSilence(match: Record<string, string>, until: number, reason: string, now: number): Silence {
    if (!Object.keys(match).length) throw usage('a silence needs a match (rule, kind or a subject field such as victim=10.0.0.2)');
    if (!(until > now)) throw usage('a silence must end in the future');
    const id = Number(this.db.prepare('INSERT INTO alert_silence (match, until, reason, created) VALUES (?, ?, ?, ?)').run(JSON.stringify(match), until, reason, now).lastInsertRowid);
    return { id, match, until, reason, created: now };
  }

  removeSilence(id: number): boolean {
    return this.db.prepare('DELETE FROM alert_silence WHERE id = ?').run(id).changes > 0;
  }
}
