// The Alerts view's logic without a browser: a range of host-local days as
// instants (DST days included), the timeline's bars and lanes, its ticks on
// round times of the host's clock, the fit to the alerts, the chart markers,
// values in their units, subjects, filters and which silence covers an alert.
import t from 'tap';
import {
  alertCounts, chartMarkers, filterAlerts, fitWindow, formatAlertValue, silenceCovers, silenceMatchFor, spanMs, subjectText,
  timelineBars, timelineTicks, zonedMidnight, type Alert,
} from '../../ui/src/lib/alerts.js';

let nextId = 1;
function alert(over: Partial<Alert>): Alert {
  return {
    id: nextId++, fingerprint: 'f', rule: 'r', kind: 'threshold', severity: 'warning', subject: {}, summary: 's', value: 1, threshold: 1,
    unit: 'B', start: 0, state: 'firing', contributors: [], ...over,
  };
}

t.test('host-local days as instants, in the host\'s zone (not the browser\'s)', async (t) => {
  t.equal(zonedMidnight('2026-03-08', 'UTC'), Date.UTC(2026, 2, 8));
  t.equal(zonedMidnight('2026-03-08', 'Europe/Berlin'), Date.UTC(2026, 2, 7, 23), 'CET: 23:00 UTC the day before');
  t.equal(zonedMidnight('2026-07-08', 'Europe/Berlin'), Date.UTC(2026, 6, 7, 22), 'CEST');
  t.equal(zonedMidnight('2026-03-08', 'Asia/Kathmandu'), Date.UTC(2026, 2, 7, 18, 15), '+5:45');
  t.equal(zonedMidnight('2026-03-08', 'America/New_York'), Date.UTC(2026, 2, 8, 5), 'the day the clocks go forward starts in EST');
  // the range of a DST day is 23 hours; its end is the next day's midnight
  const r = spanMs({ from: '2026-03-29', to: '2026-03-29' }, 'Europe/Berlin');
  t.same(r, { from: Date.UTC(2026, 2, 28, 23), to: Date.UTC(2026, 2, 29, 22) });
  t.equal((r.to - r.from) / 3600_000, 23);
  t.equal((spanMs({ from: '2026-03-01', to: '2026-03-31' }, 'UTC').to - Date.UTC(2026, 2, 1)) / 86_400_000, 31, 'the end day is included');
});

t.test('timeline: a bar per alert from start to end, open ones to now, lanes only where they overlap', async (t) => {
  const from = 0, to = 100_000, now = 90_000;
  const a = alert({ start: 10_000, end: 30_000, state: 'resolved' });
  const b = alert({ start: 20_000, end: 40_000, state: 'resolved' });
  const c = alert({ start: 50_000 });
  const d = alert({ start: -50_000, end: 5_000, state: 'resolved' });
  const e = alert({ start: 200_000 });
  const { bars, lanes } = timelineBars([c, b, a, d, e], from, to, now);
  // the exact layout: d [0,5) lane 0; a [10,30) lane 0 (d ended before); b [20,40) overlaps a: lane 1; c [50,90) lane 0
  t.same(bars.map((x) => ({ id: x.alert.id, left: x.left, width: x.width, lane: x.lane, open: x.open })), [
    { id: d.id, left: 0, width: 5, lane: 0, open: false },
    { id: a.id, left: 10, width: 20, lane: 0, open: false },
    { id: b.id, left: 20, width: 20, lane: 1, open: false },
    { id: c.id, left: 50, width: 40, lane: 0, open: true },
  ]);
  t.equal(lanes, 2, 'two lanes');
  t.notOk(bars.some((x) => x.alert.id === e.id), 'an alert after the range is not drawn');
  // a one-second alert in a day is still wide enough to see and hover
  const day = timelineBars([alert({ start: 43_200_000, end: 43_201_000, state: 'resolved' })], 0, 86_400_000, 86_400_000);
  t.equal(day.bars[0]!.width, 0.6);
  const atEnd = timelineBars([alert({ start: 86_399_000 })], 0, 86_400_000, 86_400_000);
  t.ok(atEnd.bars[0]!.left + atEnd.bars[0]!.width <= 100, 'a bar at the right edge stays inside');
  // 50 alerts open at once: 12 lanes, not 50
  const storm = timelineBars(Array.from({ length: 50 }, (_, i) => alert({ start: i * 1000 })), 0, 100_000, 100_000);
  t.equal(storm.lanes, 12);
  t.equal(storm.bars.length, 50, 'every alert still drawn');
  t.ok(storm.bars.every((b) => b.lane < 12));
});

t.test('timeline ticks fall on round times of the host\'s clock', async (t) => {
  // a day in Kathmandu (+5:45): ticks every 6 hours at local 00:00, 06:00, 12:00, 18:00
  const day = spanMs({ from: '2026-03-08', to: '2026-03-08' }, 'Asia/Kathmandu');
  const ticks = timelineTicks(day.from, day.to, 'Asia/Kathmandu', 4, 'en-GB');
  t.same(ticks.map((x) => x.label), ['00:00', '06:00', '12:00', '18:00']);
  t.same(ticks.map((x) => x.left), [0, 25, 50, 75]);
  // 40 seconds: every 10 s, with seconds
  const short = timelineTicks(Date.UTC(2026, 2, 8, 6, 46, 3), Date.UTC(2026, 2, 8, 6, 46, 43), 'UTC', 6, 'en-GB');
  t.same(short.map((x) => x.label), ['06:46:10', '06:46:20', '06:46:30', '06:46:40']);
  // a week: by day
  const week = spanMs({ from: '2026-03-02', to: '2026-03-08' }, 'UTC');
  t.same(timelineTicks(week.from, week.to, 'UTC', 8, 'en-GB').map((x) => x.label), ['2 Mar 2026', '3 Mar 2026', '4 Mar 2026', '5 Mar 2026', '6 Mar 2026', '7 Mar 2026', '8 Mar 2026']);
  t.same(timelineTicks(10, 10, 'UTC'), [], 'an empty span has none');
});

t.test('fit: from a little before the first alert to the end', async (t) => {
  const day = { from: 0, to: 86_400_000 };
  t.same(fitWindow([], day.from, day.to), day, 'no alerts: the whole range');
  const w = fitWindow([alert({ start: 86_000_000 }), alert({ start: 86_200_000 })], day.from, day.to);
  t.equal(w.to, day.to);
  t.equal(w.from, 86_000_000 - 40_000, '10 % of the span from the first start before it');
  t.equal(fitWindow([alert({ start: 86_390_000 })], day.from, day.to).from, 86_385_000, 'at least 5 s');
  t.equal(fitWindow([alert({ start: -5 })], day.from, day.to).from, 0, 'never before the range');
});

t.test('chart markers at the starts within the chart\'s x range', async (t) => {
  const a = alert({ start: 100_000, severity: 'critical', summary: 'bulk-download: bit/s of port tcp/5201 above 20000000' });
  const b = alert({ start: 500_000 });
  const m = chartMarkers([a, b], 50, 200, 'UTC', 'en-GB');
  t.equal(m.length, 1, 'only the one that began in the range');
  t.match(m[0], { id: a.id, at: 100, colour: 'var(--sev-critical)' });
  t.match(m[0]!.label, /^bulk-download: bit\/s of port tcp\/5201 above 20000000 — critical, firing, since 00:01:40$/);
});

t.test('values in their units, subjects in words', async (t) => {
  t.equal(formatAlertValue(104_000_000, 'bit/s'), '104 Mbit/s');
  t.equal(formatAlertValue(5_000_000, 'B'), '5.00 MB');
  t.equal(formatAlertValue(1000, 'ports'), '1,000 ports');
  t.equal(formatAlertValue(12.5, 'packets/s'), '12.5 packets/s');
  t.equal(subjectText({ attacker: '198.51.100.9', victim: '10.0.0.2' }), '198.51.100.9 → 10.0.0.2');
  t.equal(subjectText({ victim: '10.0.0.2', service: 'tcp/80' }), '? → 10.0.0.2, service tcp/80');
  t.equal(subjectText({ port: 'tcp/5201', direction: 'down' }), 'port tcp/5201, direction down');
  t.equal(subjectText({}), 'total');
});

t.test('filters, counts and silences', async (t) => {
  const list = [
    alert({ kind: 'port-scan', state: 'firing', rule: 'port-scan', subject: { attacker: '10.0.0.9', victim: '10.0.0.2' } }),
    alert({ kind: 'quota', state: 'firing', rule: 'nas', subject: { host: '10.0.0.5', step: '80%', period: 'day' } }),
    alert({ kind: 'quota', state: 'resolved', rule: 'nas', subject: { host: '10.0.0.5', step: '100%', period: 'day' } }),
  ];
  t.same(alertCounts(list), { state: { firing: 2, pending: 0, resolved: 1 }, kind: { 'port-scan': 1, quota: 2 } });
  t.equal(filterAlerts(list, { state: 'firing', kind: '' }).length, 2);
  t.equal(filterAlerts(list, { state: 'firing', kind: 'quota' }).length, 1);
  t.equal(filterAlerts(list, { state: '', kind: '' }).length, 3);
  // a silence made from a quota step covers the rule's other steps of the same subject
  const match = silenceMatchFor(list[1]!);
  t.same(match, { rule: 'nas', host: '10.0.0.5', period: 'day' });
  t.ok(silenceCovers({ match }, list[2]!), 'the 100 % step too');
  t.notOk(silenceCovers({ match }, list[0]!));
  t.ok(silenceCovers({ match: { kind: 'port-scan', victim: '10.0.0.2' } }, list[0]!), 'kind and a subject field');
  t.notOk(silenceCovers({ match: { kind: 'port-scan', victim: '10.0.0.3' } }, list[0]!));
});
