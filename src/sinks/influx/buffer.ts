/**
 * The bounded buffer of points (line-protocol lines) waiting to be written, in
 * order. At most one batch at a time is in flight: it leaves the queue but
 * still counts against the caps until it is written or given up. When new
 * points would exceed the caps, the oldest queued points are dropped (as
 * Telegraf's metric buffer does: recent data is worth more after an outage),
 * and every drop is counted. Lines the caller marks as kept (the health points,
 * which carry the drop counts themselves) are dropped last: only when nothing
 * else is left to drop, so the count of what was lost survives the loss.
 */

export interface DropCount {
  points: number;
  bytes: number;
}

export class LineBuffer {
  private lines: string[] = [];
  private sizes: number[] = [];
  /** Index of the oldest queued line in `lines` (removed lines before it are compacted away now and then). */
  private head = 0;
  private queuedBytes = 0;
  private flight: { lines: string[]; bytes: number } | undefined;

  constructor(readonly maxPoints: number, readonly maxBytes: number,
    /** Lines to drop only when nothing else is left (e.g. the health points). */
    private readonly keep: (line: string) => boolean = () => false) {}

  /** Points held: queued and in flight. */
  get points(): number {
    return this.lines.length - this.head + (this.flight?.lines.length ?? 0);
  }

  /** Bytes held (UTF-8 line plus newline, as sent). */
  get bytes(): number {
    return this.queuedBytes + (this.flight?.bytes ?? 0);
  }

  get queued(): number {
    return this.lines.length - this.head;
  }

  get inFlight(): readonly string[] | undefined {
    return this.flight?.lines;
  }

  /** Appends lines; returns what had to be dropped (oldest first) to stay within the caps. */
  push(newLines: readonly string[]): DropCount {
    for (const l of newLines) {
      this.lines.push(l);
      const size = Buffer.byteLength(l) + 1;
      this.sizes.push(size);
      this.queuedBytes += size;
    }
    const dropped: DropCount = { points: 0, bytes: 0 };
    // kept lines met at the head step aside (still held, still counted) and go back in front after
    const aside: Array<[string, number]> = [];
    while (this.points + aside.length > this.maxPoints || this.bytes > this.maxBytes) {
      let size: number;
      if (this.head < this.lines.length) {
        const line = this.lines[this.head]!;
        size = this.sizes[this.head]!;
        this.head++;
        if (this.keep(line)) {
          aside.push([line, size]);
          continue;
        }
      } else if (aside.length) {
        size = aside.shift()![1]; // nothing else left: the oldest kept line goes too
      } else {
        break;
      }
      dropped.points++;
      dropped.bytes += size;
      this.queuedBytes -= size;
    }
    // the slots before head are consumed: the kept lines go back there, oldest first
    this.head -= aside.length;
    aside.forEach(([line, size], i) => {
      this.lines[this.head + i] = line;
      this.sizes[this.head + i] = size;
    });
    this.compact();
    return dropped;
  }

  /** Moves the oldest lines (at most maxLines) into flight; returns the in-flight batch (the same one until settled). */
  takeBatch(maxLines: number): readonly string[] | undefined {
    if (this.flight) return this.flight.lines;
    const n = Math.min(maxLines, this.queued);
    if (n === 0) return undefined;
    const lines = this.lines.slice(this.head, this.head + n);
    let bytes = 0;
    for (let i = this.head; i < this.head + n; i++) bytes += this.sizes[i];
    this.head += n;
    this.queuedBytes -= bytes;
    this.flight = { lines, bytes };
    this.compact();
    return lines;
  }

  /** The in-flight batch was written (or given up, for a drop count): it leaves the buffer. */
  settle(): DropCount {
    const f = this.flight;
    this.flight = undefined;
    return { points: f?.lines.length ?? 0, bytes: f?.bytes ?? 0 };
  }

  /** Empties the buffer; returns what it held. */
  clear(): DropCount {
    const held = { points: this.points, bytes: this.bytes };
    this.lines = [];
    this.sizes = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.flight = undefined;
    return held;
  }

  /** Drops consumed slots once they are many and at least half the array, so memory follows the held points. */
  private compact(): void {
    if (this.head === this.lines.length) {
      this.lines = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}
