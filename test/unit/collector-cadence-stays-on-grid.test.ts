/**
 * The drain cadence on a virtual clock: runs happen at start + k × period
 * whatever each run costs; a run that overruns is followed at once by one run
 * (not a burst), the ticks that went by are counted, and the grid is kept.
 */
import t from 'tap';
import { setImmediate as flush } from 'node:timers/promises';
import { Cadence, type Timers } from '../../src/collector/cadence.js';

/** A clock that moves only when told; a run's work moves it by the run's cost. */
class VirtualTimers implements Timers {
  t = 1000;
  private pending: Array<{ due: number; fn: () => void; id: number }> = [];
  private seq = 0;
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.push({ due: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((p) => p.id !== handle);
  }
  get armed(): number { return this.pending.length; }
  /** Fires the earliest timer (moving the clock to it) and lets the run finish. */
  async step(): Promise<boolean> {
    this.pending.sort((a, b) => a.due - b.due);
    const next = this.pending.shift();
    if (!next) return false;
    this.t = Math.max(this.t, next.due);
    next.fn();
    await flush();
    return true;
  }
}

/** Starts a cadence whose n-th run costs costs[n] ms; returns the run start times (relative to start). */
async function runs(period: number, costs: number[]): Promise<{ starts: number[]; late: number; cadence: Cadence; clock: VirtualTimers }> {
  const clock = new VirtualTimers();
  const t0 = clock.t;
  const starts: number[] = [];
  let concurrent = 0;
  const cadence = new Cadence(period, async () => {
    if (concurrent++) throw new Error('two runs at once');
    starts.push(clock.t - t0);
    clock.t += costs[starts.length - 1] ?? 0;
    await Promise.resolve();
    concurrent--;
  }, clock);
  cadence.start();
  while (starts.length < costs.length && await clock.step());
  return { starts, late: cadence.late, cadence, clock };
}

t.test('cheap runs stay exactly on start + k × period', async (t) => {
  const r = await runs(1000, [5, 300, 999, 0, 10]);
  t.same(r.starts, [1000, 2000, 3000, 4000, 5000], 'the work does not push the next run back');
  t.equal(r.late, 0, 'nothing late');
});

t.test('an overrun: one run at once, then back on the grid, the missed ticks counted', async (t) => {
  // the 2nd run (at 2000) takes 2500 ms: ticks 3000 and 4000 pass while it runs
  const r = await runs(1000, [10, 2500, 10, 10, 10]);
  t.same(r.starts, [1000, 2000, 4500, 5000, 6000], 'one run at once (not one per missed tick), then the grid');
  t.equal(r.late, 2, 'two ticks went by during the long run');
});

t.test('a run that ends just before the next tick is not late', async (t) => {
  const r = await runs(1000, [999, 10, 10]);
  t.same(r.starts, [1000, 2000, 3000]);
  t.equal(r.late, 0);
});

t.test('every run overrunning: back to back, every tick that went by counted', async (t) => {
  const r = await runs(100, [150, 150, 150, 150]);
  t.same(r.starts, [100, 250, 400, 550], 'runs follow each other, never two at once');
  // the runs cover 100..700 ms: the ticks at 200, 300, ..., 700 all came due during a run
  t.equal(r.late, 6, 'every tick that came due during a run');
});

t.test('stop: no run after it', async (t) => {
  const r = await runs(1000, [10, 10]);
  r.cadence.stop();
  t.equal(r.clock.armed, 0, 'no timer left');
  t.notOk(await r.clock.step(), 'nothing fires');
});

t.test('stop during a run: the run finishes and schedules nothing', async (t) => {
  const clock = new VirtualTimers();
  let release!: () => void;
  let n = 0;
  const cadence = new Cadence(1000, () => { n++; return new Promise<void>((r) => { release = r; }); }, clock);
  cadence.start();
  await clock.step();
  t.equal(n, 1, 'a run is in progress');
  cadence.stop();
  release();
  await flush();
  t.equal(clock.armed, 0, 'nothing scheduled after it');
});
