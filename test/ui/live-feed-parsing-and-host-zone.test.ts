// The live feed's event parser (Server-Sent Events read through fetch, split
// anywhere) and how the dashboard finds the host's time zone from the summary.
import t from 'tap';
import { SseParser } from '../../ui/src/lib/sse.js';
import { findZone, summaryMidnights } from '../../ui/src/lib/host-zone.js';

t.test('SSE: events split across chunks, comments skipped, multi-line data joined', async (t) => {
  const p = new SseParser();
  t.same(p.push(': flowlens live\n\n'), [], 'the opening comment is no event');
  t.same(p.push('event: interval\ndata: {"a":'), []);
  t.same(p.push('1}\n'), []);
  t.same(p.push('\nevent: interval\r\ndata: {"a":2}\r\n\r\ndata: x\ndata: y\n\n'), [
    { event: 'interval', data: '{"a":1}' },
    { event: 'interval', data: '{"a":2}' },
    { event: 'message', data: 'x\ny' },
  ]);
});

// what GET /api/summary says on a host in New York on 2026-07-04 (EDT, −4 h)
const newYorkSummary = {
  today: { label: '2026-07-04', start: Date.UTC(2026, 6, 4, 4) },
  month: { label: '2026-07', start: Date.UTC(2026, 6, 1, 4) },
  year: { label: '2026', start: Date.UTC(2026, 0, 1, 5) }, // January: EST, −5 h
};

t.test('host zone: the zone where today, the month and the year all start at local midnight', async (t) => {
  const marks = summaryMidnights(newYorkSummary);
  t.same(marks.map((m) => m.date), ['2026-07-04', '2026-07-01', '2026-01-01']);
  const zones = Intl.supportedValuesOf('timeZone');
  t.equal(findZone(marks, ['Europe/Berlin', 'UTC'], ['America/New_York']), 'America/New_York', 'the preferred zones do not fit');
  t.equal(findZone(marks, ['America/Toronto'], zones), 'America/Toronto', 'an equivalent preferred zone (the browser\'s) wins');
  // a fixed −4 h zone fits July but not January: the year start tells them apart
  t.equal(findZone(marks, ['Etc/GMT+4', 'America/Santiago'], []), undefined);
  t.equal(findZone(marks, [], zones)?.startsWith('America/'), true);
  const utc = summaryMidnights({
    today: { label: '2026-07-04', start: Date.UTC(2026, 6, 4) },
    month: { label: '2026-07', start: Date.UTC(2026, 6, 1) },
    year: { label: '2026', start: Date.UTC(2026, 0, 1) },
  });
  t.equal(findZone(utc, ['America/New_York', 'UTC'], zones), 'UTC');
  t.equal(findZone(utc, [], ['Not/AZone', 'Europe/London']), undefined, 'London is +1 h in July');
});
