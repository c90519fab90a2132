// The live chart's 5-minute window, the realtime answer, the virtual table's
// row window and talker share bars.
import t from 'tap';
import { LiveSeries } from '../../ui/src/lib/live-series.js';
import { realtimeSeconds } from '../../ui/src/lib/realtime.js';
import { rowWindow } from '../../ui/src/lib/virtual-rows.js';
import { shareRows } from '../../ui/src/lib/shares.js';

const S = 1_800_000_000; // an epoch second

t.test('live series: one point per complete second, zero-filled, the newest complete second last', async (t) => {
  const s = new LiveSeries(5);
  s.add({ start: S * 1000, end: (S + 1) * 1000, up: 100, down: 1000 });
  s.add({ start: (S + 2) * 1000, end: (S + 3) * 1000, up: 300, down: 3000 }); // nothing in S+1
  const [xs, up, down] = s.columns();
  t.same([...xs], [S - 2, S - 1, S, S + 1, S + 2]);
  t.same([...up], [0, 0, 100, 0, 300]);
  t.same([...down], [0, 0, 1000, 0, 3000]);
  t.same(s.latest(), { up: 300, down: 3000, second: S + 2 });
});

t.test('live series: intervals off the second are shared by overlap; the filling second is not shown', async (t) => {
  const s = new LiveSeries(4);
  // 1 s intervals starting 300 ms into a second: each second gets 0.7 of one and 0.3 of the next
  s.add({ start: S * 1000 + 300, end: (S + 1) * 1000 + 300, up: 1000, down: 0 });
  s.add({ start: (S + 1) * 1000 + 300, end: (S + 2) * 1000 + 300, up: 2000, down: 0 });
  t.equal(s.newestSecond, S + 1, 'S+2 is still filling');
  t.same([...s.columns()[0]], [S - 2, S - 1, S, S + 1]);
  t.same([...s.columns()[1]].map((x) => Math.round(x)), [0, 0, 700, 300 + 1400]);
  // a 2 s interval fills two seconds at its average rate
  const two = new LiveSeries(3);
  two.add({ start: S * 1000, end: (S + 2) * 1000, up: 2000, down: 500 });
  t.same([...two.columns()[1]], [0, 1000, 1000]);
  t.same([...two.columns()[2]], [0, 250, 250]);
  // old seconds fall out, and a slot reused for a later second never shows the earlier value
  two.add({ start: (S + 2) * 1000, end: (S + 3) * 1000, up: 7, down: 0 });
  two.add({ start: (S + 3) * 1000, end: (S + 4) * 1000, up: 9, down: 0 });
  t.same([...two.columns()[0]], [S + 1, S + 2, S + 3]);
  t.same([...two.columns()[1]], [1000, 7, 9]);
  t.same([...two.columns(S + 7)[1]], [0, 0, 0]);
});

t.test('live series: seeded seconds are exact and idempotent; intervals add to them only where they overlap', async (t) => {
  const s = new LiveSeries(4);
  s.set(S, 10, 20);
  s.set(S + 1, 30, 40);
  s.set(S + 1, 30, 40); // a reconnect seeds the same second again
  t.same([...s.columns()[1]], [0, 0, 10, 30]);
  s.add({ start: (S + 2) * 1000, end: (S + 3) * 1000, up: 5, down: 6 });
  t.same([...s.columns()[1]], [0, 10, 30, 5]);
  t.same(s.latest(), { up: 5, down: 6, second: S + 2 });
});

t.test('realtime answer → per-second bytes per interface, up and down summed over scopes', async (t) => {
  const seconds = realtimeSeconds({
    times: [S * 1000, (S + 1) * 1000],
    series: [
      { iface: 'eth0', direction: 'up', scope: 'internet', bytesPerSecond: [10, 20] },
      { iface: 'eth0', direction: 'up', scope: 'lan', bytesPerSecond: [1, 2] },
      { iface: 'eth0', direction: 'down', scope: 'internet', bytesPerSecond: [100, 200] },
      { iface: 'wg0', direction: 'down', scope: 'lan', bytesPerSecond: [5, 0] },
    ],
  });
  t.equal(seconds.length, 2);
  t.same(seconds[0]!.start, S * 1000);
  t.same(seconds[0]!.end, (S + 1) * 1000);
  t.same(Object.fromEntries(seconds[0]!.perIface), { eth0: { up: 11, down: 100 }, wg0: { up: 0, down: 5 } });
  t.same(Object.fromEntries(seconds[1]!.perIface), { eth0: { up: 22, down: 200 }, wg0: { up: 0, down: 0 } });
});

t.test('virtual rows: only the rows in view plus overscan, spacers for the rest', async (t) => {
  t.same(rowWindow(0, 340, 34, 100_000, 8), { first: 0, end: 19, padTop: 0, padBottom: (100_000 - 19) * 34 });
  const w = rowWindow(34 * 50_000, 340, 34, 100_000, 8);
  t.same(w, { first: 49_992, end: 50_019, padTop: 49_992 * 34, padBottom: (100_000 - 50_019) * 34 });
  t.equal(w.end - w.first, 27, 'a few dozen rows in the DOM for 100k sessions');
  t.same(rowWindow(34 * 99_999, 340, 34, 100_000, 8), { first: 99_991, end: 100_000, padTop: 99_991 * 34, padBottom: 0 });
  t.same(rowWindow(0, 340, 34, 0), { first: 0, end: 0, padTop: 0, padBottom: 0 });
});

t.test('share bars: top rows, "other" for the rest of the total, bars scaled to the largest', async (t) => {
  const rows = shareRows(
    [
      { key: 'b', bytesUp: 10, bytesDown: 30 },
      { key: 'a', bytesUp: 50, bytesDown: 30, label: 'a.example' },
      { key: 'c', bytesUp: 5, bytesDown: 5 },
    ],
    { bytesUp: 70, bytesDown: 90 },
    2,
  );
  t.same(rows.map((r) => [r.key, r.bytes, r.other]), [['a', 80, false], ['b', 40, false], ['other', 40, true]]);
  t.equal(rows[0]!.share, 0.5);
  t.equal(rows[0]!.barUp + rows[0]!.barDown, 1);
  t.equal(rows[1]!.barDown, 30 / 80);
  t.equal(rows[0]!.label, 'a.example');
  t.same(shareRows([{ key: 'x', bytesUp: 1, bytesDown: 1 }], { bytesUp: 1, bytesDown: 1 }).map((r) => r.key), ['x'], 'no "other" when the rows are everything');
});
