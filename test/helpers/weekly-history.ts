/**
 * Past weeks of history written through the store's own API (Store.open, add,
 * flush, close), one interval per local hour, for the anomaly detector's
 * tests: an interface's up and down traffic in one scope, and the same bytes
 * as one local host's talker rows.
 */
import { Store } from '../../src/store/index.js';
import { buckets } from '../../src/store/time.js';
import type { TrafficScope } from '../../src/flows/types.js';
import { interval, talker } from './intervals.js';

export interface WeeklyHistory {
  dataDir: string;
  iface: string;
  scope: TrafficScope;
  /** The local host(s) the traffic is from (several: an equal share each). */
  host: string | string[];
  /** Whole weeks before `before` (its local hour) to write. */
  weeks: number;
  /** The end: hours before the local hour that contains it. */
  before: number;
  /** Bytes per second up and down in the hour that starts at `hourStart` (of week `week`, 0 = the oldest). */
  rate: (hourStart: number, week: number) => { up: number; down: number };
}

/** Writes the hours; returns how many. */
export function writeWeeklyHistory(h: WeeklyHistory): number {
  const store = Store.open({ dataDir: h.dataDir, flushIntervalMs: 0 });
  const end = new Date(h.before).setMinutes(0, 0, 0);
  const from = sameHourDaysBefore(end, 7 * h.weeks);
  const hosts = typeof h.host === 'string' ? [h.host] : h.host;
  // the talker rows add up to the traffic exactly: the first host takes the remainder
  const share = (bytes: number, i: number) => Math.floor(bytes / hosts.length) + (i === 0 ? bytes % hosts.length : 0);
  let n = 0;
  for (const [start, stop] of buckets(from, end, 'hour')) {
    const week = Math.floor((start - from) / (7 * 86_400_000));
    const r = h.rate(start, week);
    const seconds = (stop - start) / 1000;
    const up = Math.round(r.up * seconds), down = Math.round(r.down * seconds);
    store.add(interval({
      end: stop, lengthMs: stop - start,
      traffic: [
        { iface: h.iface, direction: 'up', scope: h.scope, bytes: up, packets: Math.ceil(up / 1000) },
        { iface: h.iface, direction: 'down', scope: h.scope, bytes: down, packets: Math.ceil(down / 1000) },
      ],
      talkers: { host: hosts.map((x, i) => talker(x, share(up, i), share(down, i))) },
    }));
    n++;
    if (n % 24 === 0) store.flush();
  }
  store.close();
  return n;
}

/** A daily pattern: `base` B/s at 04:00, 3× at 16:00 (a cosine over the local day), ±5 % from week to week. */
export function dailyPattern(base: number): (hourStart: number, week: number) => { up: number; down: number } {
  return (hourStart, week) => {
    const hour = new Date(hourStart).getHours();
    const v = base * (2 - Math.cos((2 * Math.PI * (hour - 4)) / 24)) * (1 + 0.05 * ((week % 3) - 1));
    return { up: v, down: v / 2 };
  };
}

/** The same local hour `days` days before `t` (an hour start). */
export function sameHourDaysBefore(t: number, days: number): number {
  const d = new Date(t);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() - days, d.getHours()).getTime();
}
