/**
 * A session's current rate from two looks at it: the bytes it gained between
 * two snapshots over the time between them. A session seen once has no rate yet
 * (null) rather than a lifetime average that would hide a stalled transfer.
 */

interface Seen {
  bytes: number;
  at: number;
  /** Bytes per second over the last two snapshots, or null. */
  rate: number | null;
}

export class RateTracker {
  private readonly seen = new Map<string, Seen>();

  constructor(private readonly forgetAfterMs = 120_000) {}

  /** Records sessions as of snapshot time `at` (epoch ms). */
  observe(sessions: readonly { id: string; bytesUp: number; bytesDown: number }[], at: number): void {
    for (const s of sessions) {
      const bytes = s.bytesUp + s.bytesDown;
      const prev = this.seen.get(s.id);
      if (!prev) { this.seen.set(s.id, { bytes, at, rate: null }); continue; }
      if (at <= prev.at) continue;
      // fewer bytes than before: a new session with the same key; start over
      const rate = bytes >= prev.bytes ? ((bytes - prev.bytes) * 1000) / (at - prev.at) : null;
      this.seen.set(s.id, { bytes, at, rate });
    }
    if (this.seen.size > 1000) for (const [id, v] of this.seen) if (at - v.at > this.forgetAfterMs) this.seen.delete(id);
  }

  rate(id: string): number | null {
    return this.seen.get(id)?.rate ?? null;
  }
}
