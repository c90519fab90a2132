/**
 * A fixed cadence for the drain loop: runs a task at start + k × period on a
 * monotonic clock, one run at a time. Scheduling the next run only after the
 * previous one's work would stretch every period to period + work (and longer
 * periods pack more flows into each drain, so the work grows: it feeds on
 * itself). Here a run that overruns one or more ticks is followed at once by
 * a single run for the latest tick that is due, not by one run per missed tick;
 * the ticks that went by are counted (late), so falling behind is never silent.
 */

/** The clock and timer the cadence runs on (injectable, for tests). */
export interface Timers {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class Cadence {
  private anchor = 0;
  /** Index of the tick the next run is for (tick k is due at anchor + k × period). */
  private tick = 0;
  private handle: unknown;
  private stopped = true;
  /** Ticks that passed while a run was still going (each made an interval longer than the period). */
  late = 0;

  constructor(
    private readonly periodMs: number,
    /** Must not reject (the caller reports its own errors). */
    private readonly task: () => Promise<void>,
    private readonly timers: Timers = realTimers,
  ) {}

  /** The first run is one period from now. */
  start(): void {
    this.stopped = false;
    this.anchor = this.timers.now();
    this.tick = 1;
    this.arm();
  }

  /** No run starts after this; a run in progress finishes on its own. */
  stop(): void {
    this.stopped = true;
    if (this.handle !== undefined) this.timers.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private arm(): void {
    if (this.stopped) return;
    const due = this.anchor + this.tick * this.periodMs;
    this.handle = this.timers.setTimeout(() => this.run(), Math.max(0, due - this.timers.now()));
  }

  private run(): void {
    this.handle = undefined;
    void this.task().then(() => {
      // the latest tick already due now; timers may fire a hair early, so never step back
      const due = Math.floor((this.timers.now() - this.anchor) / this.periodMs);
      if (due > this.tick) {
        this.late += due - this.tick;
        this.tick = due;
      } else {
        this.tick++;
      }
      this.arm();
    });
  }
}
