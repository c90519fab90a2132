/**
 * The traffic anomaly detector: per interface × scope × direction, and per
 * large local host × direction, the rate of the last `alerts.anomalyWindow`
 * compared with what this hour of the week usually carries (src/alerts/baseline.ts).
 *
 * It learns from the history's hourly rollups through the store's own queries:
 * an interface series when it first shows traffic (Store.history by hour, the
 * last LEARN_WEEKS weeks), the devices at the first interval and each local
 * day (the largest `alerts.anomalyDevices` hosts of those weeks, Store.topTalkers
 * hour by hour, read once per new device),
 * and then each hour as it completes. Without history it learns nothing and
 * never fires.
 */
import type { LiveSessions } from '../flows/live.js';
import type { TalkerTotal } from '../flows/talkers.js';
import type { IntervalStats, UpDown } from '../flows/types.js';
import type { Store } from '../store/index.js';
import { addUnits, buckets, startOf } from '../store/time.js';
import { clearEdge, LEARN_WEEKS, RateWindow, SeasonalSeries, slotName, hourOfWeek, upperEdge, type BandParams } from './baseline.js';
import type { DetectorConfig } from './config.js';
import { topSessions } from './rules.js';
import type { Observation } from './types.js';

interface Series {
  fingerprint: string;
  subject: Record<string, string>;
  seasonal: SeasonalSeries;
  window: RateWindow;
  /** Which live sessions make its value (the contributors). */
  keep: (x: { iface: string; scope: string; local: string }) => boolean;
}

export interface AnomalyStatus {
  /** Series followed (interfaces × scope × direction, devices × direction). */
  anomalySeries: number;
  /** Of those, with enough weeks for the current hour of the week to fire. */
  anomalyReady: number;
}

const DIRECTIONS: readonly UpDown[] = ['up', 'down'];

/** "1.2 MB/s" */
export function formatRate(bps: number): string {
  const units = ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  let v = bps, i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export class AnomalyDetector {
  private readonly series = new Map<string, Series>();
  /** Devices with a baseline: host → its up and down series. */
  private devices: Map<string, Record<UpDown, Series>> | undefined;
  /** Start of the local hour the live intervals are in; hours before it are learned. */
  private hour = -Infinity;
  /** The first interval's start: the window is not full before one window after it. */
  private since = Infinity;
  private ready = 0;

  constructor(private config: DetectorConfig, private readonly history: () => Store | undefined, private readonly contributorsN: number) {}

  replace(config: DetectorConfig): void {
    this.config = config;
  }

  private get params(): BandParams {
    const c = this.config;
    return { deviations: c.anomalyDeviations, ratio: c.anomalyRatio, minRate: c.anomalyMinRate, minWeeks: c.anomalyMinWeeks };
  }

  status(): AnomalyStatus {
    return { anomalySeries: this.series.size, anomalyReady: this.ready };
  }

  evaluate(stats: IntervalStats, live: LiveSessions): Observation[] {
    const c = this.config;
    const store = this.history();
    if (c.anomalyDeviations <= 0 || !store) return [];
    const now = stats.end;
    const hour = startOf(now - 1, 'hour');
    if (this.since === Infinity) this.since = stats.start;
    if (!this.devices) this.learnDevices(store, hour);
    else if (hour > this.hour) {
      this.completed(store, this.hour, hour);
      if (startOf(hour, 'day') > startOf(this.hour, 'day')) this.learnDevices(store, hour);
    }
    this.hour = hour;
    const devices = this.devices!;

    const at = now - 1;
    for (const r of stats.traffic) {
      if (r.scope === 'unknown' || r.bytes === 0) continue;
      const key = `${r.iface}|${r.scope}|${r.direction}`;
      let s = this.series.get(key);
      if (!s) s = this.learnInterface(store, r.iface, r.scope, r.direction, hour);
      s.window.add(at, r.bytes, c.anomalyWindowMs);
    }
    for (const t of stats.talkers.host) {
      const d = devices.get(t.key);
      if (!d) continue;
      if (t.bytesUp) d.up.window.add(at, t.bytesUp, c.anomalyWindowMs);
      if (t.bytesDown) d.down.window.add(at, t.bytesDown, c.anomalyWindowMs);
    }
    const p = this.params;
    const slot = hourOfWeek(hour);
    const out: Observation[] = [];
    // the rate is a mean over a full window: none before one window has passed
    const warm = now - this.since >= c.anomalyWindowMs;
    this.ready = 0;
    for (const s of this.series.values()) {
      const e = s.seasonal.expect(slot, p);
      if (!e) continue;
      this.ready++;
      const upper = upperEdge(e, p);
      if (!warm) {
        // not judged yet (a restart in the middle of an anomaly): an alert the database holds open stays
        // open, neither resolved nor fired again, until a full window says which it is
        out.push({ fingerprint: s.fingerprint, rule: 'anomaly', kind: 'anomaly', severity: 'warning', subject: s.subject, summary: '',
          value: 0, threshold: upper, baseline: e.expected, unit: 'B/s', active: false, clear: false, forMs: 0, contributors: () => [] });
        continue;
      }
      const rate = s.window.rate(now, c.anomalyWindowMs, this.since);
      if (rate <= clearEdge(e, p)) continue; // back inside the band (or never out): nothing to start or keep
      const what = Object.entries(s.subject).map(([k, v]) => (k === 'direction' ? v : `${k} ${v}`)).join(' ');
      out.push({
        fingerprint: s.fingerprint, rule: 'anomaly', kind: 'anomaly', severity: 'warning', subject: s.subject,
        summary: `traffic anomaly, ${what}: ${formatRate(rate)} over the last ${Math.round(c.anomalyWindowMs / 1000)} s, ` +
          `expected ${formatRate(e.expected)} on ${slotName(slot)} (band up to ${formatRate(upper)}, learned from ${e.weeks} weeks)`,
        value: rate, threshold: upper, baseline: e.expected, unit: 'B/s', active: rate > upper, clear: false, forMs: 0,
        contributors: () => topSessions(live, s.keep, this.contributorsN),
      });
    }
    return out;
  }

  /** The learned weeks before `hour`: [from, hour), from the history's first hour on (no query for the hours before it). */
  private static learnFrom(store: Store, hour: number): number {
    const from = addUnits(hour, 'day', -7 * LEARN_WEEKS);
    const first = store.dateRange().firstTime;
    return first === null ? hour : Math.min(hour, Math.max(from, startOf(first, 'hour')));
  }

  private learnInterface(store: Store, iface: string, scope: 'internet' | 'lan', direction: UpDown, hour: number): Series {
    const s: Series = {
      fingerprint: `anomaly|${iface}|${scope}|${direction}`, subject: { iface, scope, direction },
      seasonal: new SeasonalSeries(), window: new RateWindow(),
      keep: (x) => x.iface === iface && x.scope === scope,
    };
    this.series.set(`${iface}|${scope}|${direction}`, s);
    const from = AnomalyDetector.learnFrom(store, hour);
    if (from >= hour) return s;
    const h = store.history({ granularity: 'hour', from, to: hour, iface, scope, direction });
    for (const b of h.buckets) s.seasonal.add(b.start, b.total / ((b.end - b.start) / 1000), this.params);
    return s;
  }

  private deviceSeries(host: string, direction: UpDown): Series {
    const s: Series = {
      fingerprint: `anomaly|${host}|${direction}`, subject: { host, direction },
      seasonal: new SeasonalSeries(), window: new RateWindow(), keep: (x) => x.local === host,
    };
    this.series.set(`host ${host}|${direction}`, s);
    return s;
  }

  /**
   * The devices: the largest hosts of the learned weeks, at the first interval
   * and again each local day (a device that became large gets its baseline
   * without a restart); a new one's hours of those weeks are read once. Beyond
   * twice alerts.anomalyDevices, the ones no longer among the largest go.
   */
  private learnDevices(store: Store, hour: number): void {
    const devices = (this.devices ??= new Map());
    const n = this.config.anomalyDevices;
    const from = AnomalyDetector.learnFrom(store, hour);
    if (n <= 0 || from >= hour) return;
    const top = store.topTalkers({ dimension: 'host', from, to: hour, limit: n }).rows.filter((r) => r.bytesUp + r.bytesDown > 0).map((r) => r.key);
    const added = new Map<string, Record<UpDown, Series>>();
    for (const host of top) if (!devices.has(host)) added.set(host, { up: this.deviceSeries(host, 'up'), down: this.deviceSeries(host, 'down') });
    if (added.size) for (const [start, end] of buckets(from, hour, 'hour')) this.addDeviceHour(store, added, start, end);
    for (const [host, d] of added) devices.set(host, d);
    if (devices.size > 2 * n) {
      const keep = new Set(top);
      for (const host of devices.keys()) {
        if (keep.has(host)) continue;
        devices.delete(host);
        for (const dir of DIRECTIONS) this.series.delete(`host ${host}|${dir}`);
      }
    }
  }

  /**
   * One hour of the devices' history. The history keeps an hour's top N hosts
   * and folds the rest into "other": a device not among them moved at most as
   * much as the smallest kept one (and as "other"), which is counted as its value —
   * too high rather than too low, so a baseline never makes a quiet hour look busier than it was.
   */
  private addDeviceHour(store: Store, devices: Map<string, Record<UpDown, Series>>, start: number, end: number): void {
    const top = store.topTalkers({ dimension: 'host', from: start, to: end, limit: 10_000 });
    const byKey = new Map<string, TalkerTotal>(top.rows.map((r) => [r.key, r]));
    const smallest = (d: UpDown) => {
      const o = d === 'up' ? top.other.bytesUp : top.other.bytesDown;
      if (o === 0) return 0;
      return Math.min(o, ...top.rows.map((r) => (d === 'up' ? r.bytesUp : r.bytesDown)));
    };
    const seconds = (end - start) / 1000;
    for (const [host, d] of devices) {
      const r = byKey.get(host);
      for (const dir of DIRECTIONS) d[dir].seasonal.add(start, (r ? (dir === 'up' ? r.bytesUp : r.bytesDown) : smallest(dir)) / seconds, this.params);
    }
  }

  /** The hours in [from, to) completed since the last interval: each series takes them. */
  private completed(store: Store, from: number, to: number): void {
    for (const [start, end] of buckets(from, to, 'hour')) {
      for (const s of this.series.values()) {
        if (!('iface' in s.subject)) continue;
        const { iface, scope, direction } = s.subject as { iface: string; scope: 'internet' | 'lan'; direction: UpDown };
        const h = store.history({ granularity: 'hour', from: start, to: end, iface, scope, direction });
        s.seasonal.add(start, h.total.total / ((end - start) / 1000), this.params);
      }
      if (this.devices?.size) this.addDeviceHour(store, this.devices, start, end);
    }
  }

  /** Bytes of state (bench/alerts.ts): the series' rings and windows. */
  stateBytes(): number {
    return this.series.size * (SeasonalSeries.BYTES + 30 * 16);
  }
}
