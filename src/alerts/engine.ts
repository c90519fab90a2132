/**
 * Alertmanager's semantics on the observations of every interval: an alert
 * per fingerprint (rule, subject) at a time; pending while its condition holds
 * for less than the rule's `for:`, then firing; resolved once the value is back
 * on the good side of the hysteresis band (or its subject is gone). A pending
 * alert whose condition ends is dropped: it never fired, so nothing resolves.
 * The engine only decides; AlertStore keeps the result and the notifications.
 */
import type { Alert, Observation } from './types.js';

export interface Transition {
  alert: Alert;
  /** 'pending': new; 'firing'; 'resolved'; 'dropped': a pending one that did not last. */
  event: 'pending' | 'firing' | 'resolved' | 'dropped' | 'updated';
}

export class AlertEngine {
  /** The pending and firing alerts by fingerprint. */
  private readonly open = new Map<string, Alert>();

  /** The open alerts a previous run left (from the database): they go on, nothing is notified again. */
  constructor(restored: Iterable<Alert>, private readonly nextId: () => number) {
    for (const a of restored) this.open.set(a.fingerprint, a);
  }

  get active(): Alert[] {
    return [...this.open.values()];
  }

  /** One interval's observations at `now`; returns what changed. */
  step(now: number, observations: Observation[]): Transition[] {
    const out: Transition[] = [];
    const seen = new Set<string>();
    for (const o of observations) {
      seen.add(o.fingerprint);
      const a = this.open.get(o.fingerprint);
      if (!a) {
        if (!o.active) continue;
        const alert: Alert = {
          id: this.nextId(), fingerprint: o.fingerprint, rule: o.rule, kind: o.kind, severity: o.severity, subject: o.subject,
          summary: o.summary, value: o.value, threshold: o.threshold, ...(o.baseline !== undefined ? { baseline: o.baseline } : {}),
          unit: o.unit, start: now, state: 'pending', contributors: [],
        };
        this.open.set(o.fingerprint, alert);
        if (o.forMs <= 0) {
          this.fire(alert, o, now);
          out.push({ alert, event: 'firing' });
        } else out.push({ alert, event: 'pending' });
        continue;
      }
      if (a.state === 'pending') {
        if (!o.active) {
          this.open.delete(o.fingerprint);
          out.push({ alert: a, event: 'dropped' });
          continue;
        }
        this.worst(a, o);
        if (now - a.start >= o.forMs) {
          this.fire(a, o, now);
          out.push({ alert: a, event: 'firing' });
        }
        continue;
      }
      // firing
      if (o.clear) {
        this.resolve(a, now);
        out.push({ alert: a, event: 'resolved' });
      } else if (this.worst(a, o)) out.push({ alert: a, event: 'updated' });
    }
    // a subject with no observation is back to nothing (a victim no longer hit, a removed rule)
    for (const [fp, a] of this.open) {
      if (seen.has(fp)) continue;
      if (a.state === 'pending') {
        this.open.delete(fp);
        out.push({ alert: a, event: 'dropped' });
      } else {
        this.resolve(a, now);
        out.push({ alert: a, event: 'resolved' });
      }
    }
    return out;
  }

  /** Keeps the worst value seen; true when it changed. */
  private worst(a: Alert, o: Observation): boolean {
    const below = o.value < o.threshold && o.active && a.value < a.threshold;
    const worse = below ? o.value < a.value : o.value > a.value;
    if (!worse) return false;
    a.value = o.value;
    a.summary = o.summary;
    return true;
  }

  private fire(a: Alert, o: Observation, now: number): void {
    a.state = 'firing';
    a.firedAt = now;
    a.value = o.value;
    a.summary = o.summary;
    a.contributors = o.contributors();
  }

  private resolve(a: Alert, now: number): void {
    a.state = 'resolved';
    a.end = now;
    this.open.delete(a.fingerprint);
  }
}
