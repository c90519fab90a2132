// History's quick ranges, typed ranges and the granularity it picks, as local
// calendar dates of the host: month ends, leap years and the turn of the year.
import t from 'tap';
import {
  addDays, allowedGranularities, autoGranularity, bucketCount, dayNumber, matchQuickRange, monthOf, quickRange, spanDays, spanLabel,
  spanProblem, QUICK_RANGES,
} from '../../ui/src/lib/ranges.js';
import { historyColumns, peakBucket, stackLayers, sumBuckets } from '../../ui/src/lib/history.js';

t.test('quick ranges from the host\'s today', async (t) => {
  const today = '2026-03-15';
  t.same(quickRange('today', today), { from: '2026-03-15', to: '2026-03-15' });
  t.same(quickRange('yesterday', today), { from: '2026-03-14', to: '2026-03-14' });
  t.same(quickRange('7d', today), { from: '2026-03-09', to: '2026-03-15' });
  t.same(quickRange('30d', today), { from: '2026-02-14', to: '2026-03-15' });
  t.same(quickRange('thisMonth', today), { from: '2026-03-01', to: '2026-03-15' });
  t.same(quickRange('lastMonth', today), { from: '2026-02-01', to: '2026-02-28' });
  t.same(quickRange('thisYear', today), { from: '2026-01-01', to: '2026-03-15' });
  t.equal(spanDays(quickRange('7d', today)), 7);
  t.equal(spanDays(quickRange('30d', today)), 30);
});

t.test('across the turn of the year and in a leap year', async (t) => {
  t.same(quickRange('yesterday', '2027-01-01'), { from: '2026-12-31', to: '2026-12-31' });
  t.same(quickRange('lastMonth', '2027-01-01'), { from: '2026-12-01', to: '2026-12-31' });
  t.same(quickRange('7d', '2027-01-03'), { from: '2026-12-28', to: '2027-01-03' });
  t.same(quickRange('lastMonth', '2028-03-31'), { from: '2028-02-01', to: '2028-02-29' });
  t.same(monthOf('2028-01-31', 1), { from: '2028-02-01', to: '2028-02-29' });
  t.equal(addDays('2028-02-28', 1), '2028-02-29');
  t.equal(addDays('2026-02-28', 1), '2026-03-01');
  t.equal(dayNumber('1970-01-02'), 1);
});

t.test('granularity: hours up to two days, days up to ~3 months, months beyond; choices that fit', async (t) => {
  const today = '2026-03-15';
  t.equal(autoGranularity(quickRange('today', today)), 'hour');
  t.equal(autoGranularity({ from: '2026-03-14', to: '2026-03-15' }), 'hour');
  t.equal(autoGranularity(quickRange('7d', today)), 'day');
  t.equal(autoGranularity(quickRange('lastMonth', today)), 'day');
  t.equal(autoGranularity({ from: '2026-01-01', to: '2026-04-02' }), 'day', '92 days');
  t.equal(autoGranularity({ from: '2026-01-01', to: '2026-04-03' }), 'month', '93 days');
  t.equal(autoGranularity({ from: '2025-01-01', to: '2026-03-15' }), 'month');
  t.equal(bucketCount({ from: '2026-03-01', to: '2026-03-31' }, 'hour'), 744);
  t.equal(bucketCount({ from: '2025-11-20', to: '2026-02-03' }, 'month'), 4);
  t.same(allowedGranularities(quickRange('30d', today)), ['hour', 'day', 'month'], '720 hours still fit');
  t.same(allowedGranularities({ from: '2026-01-01', to: '2026-03-15' }), ['day', 'month'], '1776 hours do not');
  t.same(allowedGranularities({ from: '2020-01-01', to: '2026-03-15' }), ['month'], 'six years of days do not either');
});

t.test('typed ranges: clear problems, and quick ranges recognised', async (t) => {
  t.equal(spanProblem({ from: '2026-03-01', to: '2026-03-31' }), null);
  t.equal(spanProblem({ from: '2026-02-30', to: '2026-03-31' }), 'start "2026-02-30" is not a date (YYYY-MM-DD)');
  t.equal(spanProblem({ from: '2026-03-01', to: '' }), 'end "" is not a date (YYYY-MM-DD)');
  t.equal(spanProblem({ from: '2026-03-02', to: '2026-03-01' }), 'the end is before the start');
  t.throws(() => dayNumber('2026-3-1'), /not a date/);
  t.equal(matchQuickRange({ from: '2026-03-09', to: '2026-03-15' }, '2026-03-15'), '7d');
  t.equal(matchQuickRange({ from: '2026-03-10', to: '2026-03-15' }, '2026-03-15'), null);
  // on the 1st, "this month" and "today" are the same span: the first in the list wins
  t.equal(matchQuickRange({ from: '2026-03-01', to: '2026-03-01' }, '2026-03-01'), 'today');
  t.equal(QUICK_RANGES.length, 7);
  // Intl puts thin spaces around the dash
  const label = (span: { from: string; to: string }, locale: string) => spanLabel(span, locale).replace(/\s+/g, ' ');
  t.equal(label({ from: '2026-03-09', to: '2026-03-15' }, 'en-GB'), '9 – 15 Mar 2026');
  t.equal(label({ from: '2025-12-28', to: '2026-01-03' }, 'en-GB'), '28 Dec 2025 – 3 Jan 2026');
  t.equal(label({ from: '2026-03-15', to: '2026-03-15' }, 'en-GB'), '15 Mar 2026');
  t.equal(label({ from: '2026-03-09', to: '2026-03-15' }, 'en-US'), 'Mar 9 – 15, 2026', 'in the order of the browser\'s locale');
});

t.test('history buckets become stacked layers: by direction, or LAN under internet down under internet up', async (t) => {
  const all = [
    { start: 1_000_000, end: 1_003_600, up: 10, down: 30, label: 'a' },
    { start: 1_003_600, end: 1_007_200, up: 0, down: 0, label: 'b' },
    { start: 1_007_200, end: 1_010_800, up: 50, down: 5, label: 'c' },
  ];
  const byDirection = historyColumns(all, 'direction');
  t.same(byDirection.xs, [1000, 1003.6, 1007.2]);
  t.same(byDirection.layers.map((l) => [l.label, l.values]), [['Download', [30, 0, 5]], ['Upload', [10, 0, 50]]]);
  t.same(stackLayers(byDirection.layers), [[30, 0, 5], [40, 0, 55]], 'the top layer\'s top is the total');
  const internet = all.map((b) => ({ ...b, up: b.up / 2, down: b.down / 2 }));
  const lan = all.map((b) => ({ ...b, up: b.up / 2, down: b.down / 2 }));
  const byScope = historyColumns(all, 'scope', internet, lan);
  t.same(byScope.layers.map((l) => [l.label, l.values]), [['LAN', [20, 0, 27.5]], ['Internet down', [15, 0, 2.5]], ['Internet up', [5, 0, 25]]]);
  t.same(stackLayers(byScope.layers).at(-1), [40, 0, 55], 'stacked by scope, the bars are as tall as the totals');
  const partial = historyColumns(all, 'scope', internet, lan.map((b) => ({ ...b, up: 0, down: 0 })));
  t.same(partial.layers[0], { label: 'Unclassified (table full)', colour: '--muted', values: [20, 0, 27.5] }, 'what is in neither scope is its own layer');
  t.same(historyColumns(all, 'scope', internet, null).layers.map((l) => l.label), ['Download', 'Upload'], 'by direction until the scoped answers arrive');
  t.same(sumBuckets(all), { up: 60, down: 35, total: 95 });
  t.equal(peakBucket(all)?.label, 'c');
  t.equal(peakBucket([all[1]!]), null, 'an all-zero range has no busiest bucket');
});
