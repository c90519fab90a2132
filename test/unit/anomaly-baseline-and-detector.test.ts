/**
 * The traffic anomaly detector: its arithmetic (median, MAD, the band, the
 * recent level, the sliding window, the cold start), then the detector on
 * weeks of history written through the store's own API: a rate at the hour's
 * baseline raises nothing, one far above it fires naming the series with the
 * baseline, and it resolves once the rate is back inside the band.
 */
import t from 'tap';
import { AnomalyDetector } from '../../src/alerts/anomaly.js';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { Alert } from '../../src/alerts/types.js';
import { clearEdge, hourOfWeek, LEARN_WEEKS, mad, median, RateWindow, SeasonalSeries, upperEdge, type BandParams } from '../../src/alerts/baseline.js';
import type { DetectorConfig } from '../../src/alerts/config.js';
import type { LiveSessions } from '../../src/flows/live.js';
import { Store } from '../../src/store/index.js';
import { HOUR_MS } from '../../src/store/time.js';
import { interval, talker, tempDataDir } from '../helpers/intervals.js';
import { dailyPattern, sameHourDaysBefore, writeWeeklyHistory } from '../helpers/weekly-history.js';

const P: BandParams = { deviations: 6, ratio: 4, minRate: 125_000, minWeeks: 3 };
const WEEK = 7 * 86_400_000;

t.test('median, MAD and the band', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(mad([90, 100, 110, 1000], 105), 10, 'one odd week moves the MAD by one step, not by its size');
  const e = { expected: 1_000_000, spread: 100_000, weeks: 3 };
  t.equal(upperEdge(e, P), 4_000_000, 'the ratio decides for a large, steady hour');
  t.equal(upperEdge({ expected: 1_000_000, spread: 1_000_000, weeks: 3 }, P), 7_000_000, 'the deviations for a noisy one');
  t.equal(upperEdge({ expected: 1000, spread: 100, weeks: 3 }, P), 126_000, 'the minimum rate for a quiet one');
  t.equal(clearEdge(e, P), 2_500_000, 'resolves at the middle of the band');
});

t.test('a series: hour of week slots, cold start, first traffic, level', async (t) => {
  const s = new SeasonalSeries();
  const h0 = new Date(2026, 10, 2, 14).getTime(); // a Monday, 14:00 local
  t.equal(hourOfWeek(h0), 24 + 14);
  s.add(h0 - WEEK, 0, P);
  t.notOk(s.started, 'zeros before the first traffic are not learned');
  for (let w = 0; w < 2; w++) s.add(h0 + w * WEEK, 1000 * (w + 1), P);
  t.equal(s.expect(38, P), undefined, 'two weeks: not enough (minWeeks 3)');
  s.add(h0 + 2 * WEEK, 3000, P);
  t.same(s.expect(38, P), { expected: 2000, spread: 1.4826 * 1000, weeks: 3 });
  s.add(h0 + 2 * WEEK, 9e9, P);
  t.equal(s.expect(38, P)!.expected, 2000, 'an hour is taken once');
  for (let w = 3; w < 3 + LEARN_WEEKS; w++) s.add(h0 + w * WEEK, 5000, P);
  t.equal(s.expect(38, P)!.weeks, LEARN_WEEKS, `at most ${LEARN_WEEKS} weeks are remembered`);
  t.equal(s.expect(38, P)!.spread, 0);

  // the level: a day of hours at twice their usual rate raises the expectation, clipped per hour
  const l = new SeasonalSeries();
  const start = h0 - 4 * WEEK;
  for (let h = 0; h < 3 * 168; h++) l.add(start + h * HOUR_MS, 1_000_000, P);
  t.equal(l.level, 1, 'steady weeks: level 1');
  for (let h = 3 * 168; h < 3 * 168 + 24; h++) l.add(start + h * HOUR_MS, 2_000_000, P);
  t.ok(l.level > 1.4 && l.level < 1.6, `a day at 2×: the level follows half way (${l.level.toFixed(3)})`);
  const one = new SeasonalSeries();
  for (let h = 0; h < 3 * 168; h++) one.add(start + h * HOUR_MS, 1_000_000, P);
  one.add(start + 3 * 168 * HOUR_MS, 1e12, P);
  t.ok(one.level < 1.1, `one hour at 10⁶×: the level moves less than 10 % (${one.level.toFixed(3)})`);
});

t.test('the sliding window', async (t) => {
  const w = new RateWindow();
  const T = 1_000_000_000;
  for (let i = 1; i <= 20; i++) w.add(T + i * 1000 - 1, 1000, 10_000);
  t.equal(w.rate(T + 20_000, 10_000, 0), 1000, '1000 B a second over the last 10 s');
  t.equal(w.rate(T + 30_000, 10_000, 0), 0, 'nothing after a window of silence');
  const fresh = new RateWindow();
  for (let i = 1; i <= 5; i++) fresh.add(T + 15_000 + i * 1000 - 1, 1000, 10_000);
  t.equal(fresh.rate(T + 20_000, 10_000, T + 15_000), 1000, 'since the first interval when that is later');
});

const live: LiveSessions = { size: 0, intervals: 0, values: () => [][Symbol.iterator](), forEach: () => {}, moved: () => [], latestBytesUp: () => 0, latestBytesDown: () => 0, latestPacketsUp: () => 0, latestPacketsDown: () => 0, isNew: () => false };

function detectors(over: Partial<DetectorConfig> = {}): DetectorConfig {
  return {
    portScanPorts: 0, hostSweepHosts: 0, scanWindowMs: 60_000, synFloodRate: 0, udpFloodRate: 0, icmpFloodRate: 0, amplificationRate: 0,
    anomalyDeviations: 6, anomalyRatio: 4, anomalyMinRate: 125_000, anomalyWindowMs: 10_000, anomalyMinWeeks: 3, anomalyDevices: 20,
    newCountry: false, newAsn: false, newDomain: false, newPeerPeriodMs: 30 * 86_400_000, ...over,
  };
}

t.test('on history written through the store: at the baseline nothing, far above it fires and resolves', async (t) => {
  const dataDir = tempDataDir(t, 'anomaly');
  const now = Date.now();
  const pattern = dailyPattern(200_000);
  t.equal(writeWeeklyHistory({ dataDir, iface: 'eth0', scope: 'internet', host: '192.168.1.20', weeks: 3, before: now, rate: pattern }) >= 3 * 168 - 1, true, 'three weeks of hours written');
  const store = Store.open({ dataDir, flushIntervalMs: 0 });
  t.teardown(() => store.close());
  const hour = new Date(now).setMinutes(0, 0, 0);
  // what the history says this hour of the week carries: the median of the three weeks
  const expectedUp = median([0, 1, 2].map((w) => pattern(sameHourDaysBefore(hour, 7 * (3 - w)), w).up));
  const d = new AnomalyDetector(detectors(), () => store, 5);
  let at = hour + 5 * 60_000;
  const step = (up: number) => {
    const stats = interval({
      end: at, traffic: [{ iface: 'eth0', direction: 'up', scope: 'internet', bytes: up, packets: 10 }],
      talkers: { host: [talker('192.168.1.20', up, 0)] },
    });
    at += 1000;
    return d.evaluate(stats, live);
  };
  for (let i = 0; i < 15; i++) {
    const o = step(Math.round(expectedUp));
    // the first window is not judged: open alerts (after a restart) are held, nothing starts
    if (i < 9) t.ok(o.length === 3 && o.every((x) => !x.active && !x.clear), `second ${i}: not judged before a full window`);
    else t.same(o, [], `second ${i}: at the baseline, nothing`);
  }
  t.same(d.status(), { anomalySeries: 3, anomalyReady: 3 }, 'eth0 internet up (the only one with traffic now) and the host up/down have a baseline for this hour');
  let fired: ReturnType<typeof step> = [];
  for (let i = 0; i < 15 && !fired.some((o) => o.active); i++) fired = step(Math.round(expectedUp * 20));
  const iface = fired.find((o) => o.subject.iface === 'eth0');
  t.match(iface, { kind: 'anomaly', active: true, unit: 'B/s', subject: { iface: 'eth0', scope: 'internet', direction: 'up' } }, 'eth0 internet up fires');
  t.ok(Math.abs(iface!.baseline! - expectedUp) / expectedUp < 0.01, `its baseline is the hour's (${Math.round(iface!.baseline!)} vs ${Math.round(expectedUp)} B/s)`);
  t.ok(iface!.value > iface!.threshold && iface!.threshold > iface!.baseline!, 'value above the band above the baseline');
  t.match(iface!.summary, /expected .* on \w{3} \d\d:00 \(band up to .*, learned from 3 weeks\)/);
  t.match(fired.find((o) => o.subject.host), { subject: { host: '192.168.1.20', direction: 'up' }, active: true }, 'and the device');
  let left = fired;
  for (let i = 0; i < 15 && left.length; i++) left = step(Math.round(expectedUp));
  t.same(left, [], 'back at the baseline within a window: nothing observed, the engine resolves it');
});

t.test('cold start: with fewer weeks than alerts.anomalyMinWeeks nothing fires', async (t) => {
  const dataDir = tempDataDir(t, 'anomaly-cold');
  const now = Date.now();
  writeWeeklyHistory({ dataDir, iface: 'eth0', scope: 'internet', host: '192.168.1.20', weeks: 2, before: now, rate: dailyPattern(200_000) });
  const store = Store.open({ dataDir, flushIntervalMs: 0 });
  t.teardown(() => store.close());
  const d = new AnomalyDetector(detectors(), () => store, 5);
  let at = now;
  for (let i = 0; i < 20; i++) {
    t.same(d.evaluate(interval({ end: at += 1000, traffic: [{ iface: 'eth0', direction: 'up', scope: 'internet', bytes: 1e9, packets: 1e6 }] }), live), []);
  }
  t.same(d.status(), { anomalySeries: 3, anomalyReady: 0 });
  const off = new AnomalyDetector(detectors({ anomalyDeviations: 0 }), () => store, 5);
  t.same(off.evaluate(interval({ end: at, traffic: [] }), live), [], 'alerts.anomaly 0: off');
  t.same(new AnomalyDetector(detectors(), () => undefined, 5).evaluate(interval({ end: at, traffic: [] }), live), [], 'no history: nothing');
});

t.test('an hour that completes is learned from the store', async (t) => {
  const dataDir = tempDataDir(t, 'anomaly-hour');
  const store = Store.open({ dataDir, flushIntervalMs: 0 });
  t.teardown(() => store.close());
  const d = new AnomalyDetector(detectors({ anomalyMinWeeks: 1 }), () => store, 5);
  const h = new Date(2026, 10, 2, 14).getTime(); // Monday 14:00
  const feed = (end: number, lengthMs: number, bytes: number) => {
    const stats = interval({ end, lengthMs, traffic: [{ iface: 'eth0', direction: 'up', scope: 'lan', bytes, packets: 1 }] });
    store.add(stats);
    return d.evaluate(stats, live);
  };
  // Monday 14:00–15:00 at 1 MB/s, one second at a time, then a week of hours with a byte each
  for (let s = 1; s <= 3600; s++) feed(h + s * 1000, 1000, 1_000_000);
  t.same(d.status(), { anomalySeries: 1, anomalyReady: 0 }, 'nothing learned for Monday 14:00 while it runs');
  for (let k = 2; k <= 168; k++) feed(h + k * HOUR_MS, HOUR_MS, 1);
  let fired: ReturnType<typeof feed> = [];
  for (let s = 1; s <= 20 && !fired.some((o) => o.active); s++) fired = feed(h + 168 * HOUR_MS + s * 1000, 1000, 10_000_000);
  t.match(fired, [{ subject: { iface: 'eth0', scope: 'lan', direction: 'up' }, baseline: 1_000_000, threshold: 4_000_000, active: true }],
    'a week later, 10 MB/s fires against the Monday 14:00 it saw: baseline 1 MB/s, band up to 4 MB/s');
  t.same(d.status(), { anomalySeries: 1, anomalyReady: 1 });
});

t.test('default settings: a bursty normal hour raises nothing, a sustained transfer fires', async (t) => {
  const dataDir = tempDataDir(t, 'anomaly-bursty');
  const now = Date.now();
  const pattern = dailyPattern(200_000);
  writeWeeklyHistory({ dataDir, iface: 'eth0', scope: 'internet', host: '192.168.1.20', weeks: 3, before: now, rate: pattern });
  const store = Store.open({ dataDir, flushIntervalMs: 0 });
  t.teardown(() => store.close());
  const hour = new Date(now).setMinutes(0, 0, 0);
  const expectedUp = median([0, 1, 2].map((w) => pattern(sameHourDaysBefore(hour, 7 * (3 - w)), w).up));
  // the defaults: 15 min window, 6 MADs, 4×, 125 kB/s
  const d = new AnomalyDetector(detectors({ anomalyWindowMs: 900_000 }), () => store, 5);
  let at = hour + 1000;
  const step = (up: number) => d.evaluate(interval({ end: at += 1000, traffic: [{ iface: 'eth0', direction: 'up', scope: 'internet', bytes: Math.round(up), packets: 10 }] }), live);
  // a normal hour: 5 s downloads at 12× the mean once a minute (the mean is the baseline), for 50 minutes
  let active = 0;
  for (let s = 0; s < 3000; s++) active += step(s % 60 < 5 ? 12 * expectedUp : 0).filter((o) => o.active).length;
  t.equal(active, 0, 'bursts at 12× for 5 s a minute: never an anomaly');
  // then a backup at 10× for 10 minutes
  let fired = -1;
  for (let s = 0; s < 600 && fired < 0; s++) if (step(10 * expectedUp).some((o) => o.active)) fired = s;
  t.ok(fired > 0, `a sustained 10× fires, after ${fired} s of it (the window's mean must pass 4×)`);
});

t.test('a restart in the middle of an anomaly: the open alert is held through the first window, then judged', async (t) => {
  const dataDir = tempDataDir(t, 'anomaly-restart');
  const now = Date.now();
  writeWeeklyHistory({ dataDir, iface: 'eth0', scope: 'internet', host: '192.168.1.20', weeks: 3, before: now, rate: dailyPattern(200_000) });
  const store = Store.open({ dataDir, flushIntervalMs: 0 });
  t.teardown(() => store.close());
  const open: Alert = {
    id: 7, fingerprint: 'anomaly|eth0|internet|up', rule: 'anomaly', kind: 'anomaly', severity: 'warning', subject: { iface: 'eth0', scope: 'internet', direction: 'up' },
    summary: 'before the restart', value: 9e6, threshold: 1e6, baseline: 2e5, unit: 'B/s', start: now - 60_000, firedAt: now - 60_000, state: 'firing', contributors: [],
  };
  const engine = new AlertEngine([open], () => 8);
  const d = new AnomalyDetector(detectors(), () => store, 5);
  const hour = new Date(now).setMinutes(0, 0, 0);
  let at = hour + 60_000;
  const step = () => engine.step(at, d.evaluate(interval({ end: at += 1000, traffic: [{ iface: 'eth0', direction: 'up', scope: 'internet', bytes: 1000, packets: 1 }] }), live));
  for (let i = 0; i < 9; i++) t.same(step(), [], `second ${i}: held, nothing notified`);
  const judged = step();
  t.match(judged, [{ event: 'resolved', alert: { id: 7, value: 9e6 } }], 'a full window at 1 kB/s: resolved');
});

t.test('a device that became large is followed from the next local day on', async (t) => {
  const dataDir = tempDataDir(t, 'anomaly-devices');
  const evening = new Date(2026, 10, 4, 20).getTime(); // Wednesday 20:00
  writeWeeklyHistory({ dataDir, iface: 'eth0', scope: 'lan', host: '192.168.1.20', weeks: 3, before: evening, rate: dailyPattern(1000) });
  const store = Store.open({ dataDir, flushIntervalMs: 0 });
  t.teardown(() => store.close());
  const d = new AnomalyDetector(detectors({ anomalyMinWeeks: 1 }), () => store, 5);
  const feed = (end: number, lengthMs: number) => {
    const stats = interval({ end, lengthMs, traffic: [{ iface: 'eth0', direction: 'up', scope: 'lan', bytes: 1e6, packets: 1 }], talkers: { host: [talker('192.168.1.30', 1e6, 0)] } });
    store.add(stats);
    return d.evaluate(stats, live);
  };
  feed(evening + 1000, 1000);
  t.same(d.status().anomalySeries, 3, 'eth0 lan up, and 192.168.1.20 up and down');
  for (let k = 1; k <= 4; k++) feed(evening + k * HOUR_MS, HOUR_MS);
  t.same(d.status().anomalySeries, 3, 'the same day: the devices stay');
  for (let k = 5; k <= 6; k++) feed(evening + k * HOUR_MS, HOUR_MS);
  t.same(d.status().anomalySeries, 5, 'after midnight 192.168.1.30, new in the history, has its series too');
});
