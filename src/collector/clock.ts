/**
 * Kernel timestamps (bpf_ktime_get_ns, CLOCK_MONOTONIC) to wall-clock time.
 * The offset is taken once per drain, reading both clocks back to back, so
 * every record of one interval shares one time base.
 */
export class ClockOffset {
  /** Wall ms minus monotonic ms. */
  readonly offsetMs: number;

  constructor(wallMs: number, monoNs: number) {
    this.offsetMs = wallMs - monoNs / 1e6;
  }

  /** Reads both clocks now. process.hrtime is CLOCK_MONOTONIC on Linux, as bpf_ktime_get_ns. */
  static now(): ClockOffset {
    const mono = Number(process.hrtime.bigint());
    return new ClockOffset(Date.now(), mono);
  }

  /** 0 (never seen) stays 0. */
  toWallMs(monoNs: number): number {
    return monoNs === 0 ? 0 : Math.round((monoNs / 1e6 + this.offsetMs) * 1000) / 1000;
  }
}
