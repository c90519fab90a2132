// Dates on the dashboard: one style (the browser's locale, month names), the
// host's zone, and history axis ticks that name each bucket once.
import t from 'tap';
import { bucketName, bucketTicks, formatDateTime, formatRelative, tickLabels } from '../../ui/src/lib/dates.js';

const GB = 'en-GB';
const US = 'en-US';

t.test('bucket names follow the zone given (the host\'s), not the machine running the browser', async (t) => {
  // 2026-03-08 04:00 UTC: 23:00 on the 7th in New York (EST, −5 h), 05:00 on the 8th in Berlin
  const instant = Date.UTC(2026, 2, 8, 4);
  t.equal(bucketName(instant, 'hour', 'America/New_York', GB), '7 Mar, 23:00');
  t.equal(bucketName(instant, 'hour', 'Europe/Berlin', GB), '8 Mar, 05:00');
  t.equal(bucketName(instant, 'hour', 'Asia/Kathmandu', GB), '8 Mar, 09:45');
  t.equal(bucketName(instant, 'day', 'America/New_York', GB), '7 Mar 2026');
  t.equal(bucketName(Date.UTC(2026, 0, 1, 5), 'month', 'America/New_York', GB), 'Jan 2026');
  t.equal(bucketName(Date.UTC(2026, 0, 1, 4), 'month', 'America/New_York', GB), 'Dec 2025', 'an hour earlier is still last year there');
});

t.test('the locale orders the parts; the month is always a name, never a number', async (t) => {
  const instant = Date.UTC(2026, 11, 2, 19, 53);
  t.equal(formatDateTime(instant, 'UTC', GB), '2 Dec 2026, 19:53');
  t.match(formatDateTime(instant, 'UTC', US), /^Dec 2, 2026, 0?7:53\sPM$/);
  t.notMatch(formatDateTime(instant, 'UTC', US), /\d+\/\d+/, 'no "12/02" a reader could take either way');
});

t.test('relative times', async (t) => {
  const now = 1_000_000_000;
  t.equal(formatRelative(now - 2000, now), 'just now');
  t.equal(formatRelative(now - 42_000, now), '42 s ago');
  t.equal(formatRelative(now - 200_000, now), '3 min ago');
  t.equal(formatRelative(now - 7_500_000, now), '2 h ago');
  t.equal(formatRelative(now - 3 * 86_400_000, now), '3 d ago');
  t.equal(formatRelative(now + 180_000, now), 'in 3 min');
});

/** Bucket starts (epoch ms) of local days/months/hours in a zone, made with the zone's own calendar. */
function localStarts(granularity: 'hour' | 'day' | 'month', from: Date, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const d = new Date(from);
    if (granularity === 'hour') d.setUTCHours(d.getUTCHours() + i);
    else if (granularity === 'day') d.setUTCDate(d.getUTCDate() + i);
    else d.setUTCMonth(d.getUTCMonth() + i);
    out.push(d.getTime());
  }
  return out;
}

t.test('history ticks: one per bucket shown, each label unique and at a bucket start', async (t) => {
  const cases = [
    { name: 'this year by month', g: 'month' as const, starts: localStarts('month', new Date(Date.UTC(2026, 0, 1)), 12), width: 1100 },
    { name: '13 months across a new year', g: 'month' as const, starts: localStarts('month', new Date(Date.UTC(2025, 11, 1)), 13), width: 500 },
    { name: '7 days by day', g: 'day' as const, starts: localStarts('day', new Date(Date.UTC(2026, 10, 26)), 7), width: 1100 },
    { name: '30 days by day on a phone', g: 'day' as const, starts: localStarts('day', new Date(Date.UTC(2026, 10, 3)), 30), width: 330 },
    { name: 'a year by day', g: 'day' as const, starts: localStarts('day', new Date(Date.UTC(2026, 0, 1)), 365), width: 1100 },
    { name: 'today by hour', g: 'hour' as const, starts: localStarts('hour', new Date(Date.UTC(2026, 11, 2)), 24), width: 1100 },
    { name: '30 days by hour', g: 'hour' as const, starts: localStarts('hour', new Date(Date.UTC(2026, 10, 3)), 720), width: 1100 },
  ];
  for (const c of cases) {
    const ticks = bucketTicks(c.starts, c.g, c.width);
    const labels = tickLabels(ticks, c.g, 'UTC', GB);
    t.ok(ticks.length >= 2, `${c.name}: ${ticks.length} ticks`);
    t.ok(ticks.every((x) => c.starts.includes(x)), `${c.name}: every tick is a bucket's start`);
    t.equal(new Set(labels).size, labels.length, `${c.name}: no label repeats (${labels.slice(0, 4).join(' | ')} …)`);
    t.ok(ticks.length * 50 <= c.width + 50, `${c.name}: the labels fit ${c.width} px`);
  }
  const year = tickLabels(bucketTicks(localStarts('month', new Date(Date.UTC(2026, 0, 1)), 12), 'month', 1100), 'month', 'UTC', GB);
  t.same(year, ['Jan\n2026', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sept', 'Oct', 'Nov', 'Dec'].map((m) => (m === 'Sept' ? year[8] : m)), 'this year: every month named once, December included');
  t.match(year[8], /^Sep/);
  const turn = tickLabels(localStarts('month', new Date(Date.UTC(2025, 10, 1)), 4), 'month', 'UTC', GB);
  t.same(turn, ['Nov\n2025', 'Dec', 'Jan\n2026', 'Feb'], 'the year where it changes, not on every month');
  const days = tickLabels(localStarts('day', new Date(Date.UTC(2026, 10, 26)), 7), 'day', 'UTC', GB);
  t.same(days, ['26 Nov', '27 Nov', '28 Nov', '29 Nov', '30 Nov', '1 Dec', '2 Dec'], '7 days: each day named once');
  t.same(tickLabels(localStarts('hour', new Date(Date.UTC(2026, 11, 2)), 3), 'hour', 'UTC', GB), ['00:00', '01:00', '02:00'], 'one day by hour: times only');
});
