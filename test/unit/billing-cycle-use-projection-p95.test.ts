/**
 * Billing cycles over a faked past: five and a half days of a cycle starting on
 * the 15th (and the days before, in the previous cycle) written through the
 * store's own API at 5-minute resolution, with a daily pattern. The cycle's
 * use, cap share, projection, days left and 95th percentile of 5-minute rates
 * are computed independently here and must equal flowlens's, from the store,
 * the JSON API, gRPC and `flowlens usage`; the previous cycle holds exactly
 * the days before the 15th.
 */
process.env.TZ = 'UTC';
import t from 'tap';
import { Store, cycleBounds, percentile95, type BillingConfig } from '../../src/store/index.js';
import { interval, manualClock, row, session, talker, tempDataDir } from '../helpers/intervals.js';
import { cliBuilt, runCliOnce } from '../helpers/flowlens-cli.js';
import { startApi, tcpFlows } from '../helpers/api-fixture.js';
import { grpcClients, httpRequest, unary } from '../helpers/api-clients.js';

const MIN5 = 5 * 60_000;
const DAY = 86_400_000;
const CYCLE_START = Date.UTC(2026, 5, 15);
const FAKE_FROM = Date.UTC(2026, 5, 12);
const NOW = Date.UTC(2026, 5, 20, 12, 7, 30);
const BILLING: BillingConfig = { cycleStartDay: 15, cap: 50_000_000_000, capScope: 'internet', capDirection: 'both' };

/** Bytes of one 5-minute bucket starting at `at`: evenings busy, nights quiet, a LAN backup at 3:00. */
function bucket(at: number) {
  const hour = new Date(at).getUTCHours();
  const k = Math.floor(at / MIN5) % 7;
  const down = (hour >= 18 ? 40_000_000 : hour >= 8 ? 9_000_000 : 300_000) + k * 100_000;
  const up = Math.round(down / 20) + k * 1000;
  const lan = hour === 3 ? 600_000_000 : 0;
  return { down, up, lan };
}

function fill(store: Store, clock: ReturnType<typeof manualClock>, until: number): void {
  for (let at = FAKE_FROM; at + MIN5 <= until; at += MIN5) {
    const b = bucket(at);
    const device = Math.floor(at / MIN5) % 3 === 0 ? '192.168.1.20' : '192.168.1.10';
    const web = Math.floor(at / MIN5) % 2 === 0 ? 'video.example' : 'cloud.example';
    const traffic = [row('eth0', 'down', 'internet', b.down), row('eth0', 'up', 'internet', b.up)];
    if (b.lan) traffic.push(row('eth0', 'up', 'lan', b.lan));
    const internetHost = [talker(device, b.up, b.down)];
    const lanHost = b.lan ? [talker('192.168.1.10', b.lan, 0)] : [];
    clock.set(at + MIN5);
    store.add(interval({
      end: at + MIN5, lengthMs: MIN5, traffic,
      talkers: { host: b.lan && device === '192.168.1.10' ? [talker(device, b.up + b.lan, b.down)] : [...internetHost, ...lanHost], domain: [talker(web, b.up, b.down), ...(b.lan ? [talker('unknown', b.lan, 0)] : [])] },
      scopedTalkers: { internet: { host: internetHost, domain: [talker(web, b.up, b.down)] }, lan: { host: lanHost, domain: b.lan ? [talker('unknown', b.lan, 0)] : [] } },
      ended: [session({ local: device, remote: '203.0.113.9', domain: web, firstSeen: at, lastSeen: at + MIN5 - 1, bytesUp: b.up, bytesDown: b.down })],
    }));
    if ((at / MIN5) % 288 === 0) store.flush();
  }
  store.flush();
}

/** The expected figures, from the pattern alone. */
function expected(from: number, until: number) {
  let down = 0, up = 0, lan = 0;
  const ups: number[] = [], downs: number[] = [];
  for (let at = from; at < until; at += MIN5) {
    const b = at + MIN5 <= NOW - (NOW % MIN5) ? bucket(at) : { down: 0, up: 0, lan: 0 };
    down += b.down; up += b.up; lan += b.lan;
    ups.push((b.up * 8) / 300); downs.push((b.down * 8) / 300);
  }
  return { down, up, lan, p95Up: percentile95(ups), p95Down: percentile95(downs), samples: ups.length };
}

t.test('the current cycle: use, cap, projection, days left, 95th percentile, devices', async (t) => {
  const dir = tempDataDir(t, 'usage');
  const clock = manualClock(FAKE_FROM);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, minuteRetentionDays: 40 });
  t.teardown(() => store.close());
  fill(store, clock, NOW - (NOW % MIN5));
  clock.set(NOW);

  const { start, end } = cycleBounds(NOW, 15);
  t.same([start, end], [CYCLE_START, Date.UTC(2026, 6, 15)], 'the cycle: 15 June to 15 July');
  const u = store.usage(BILLING, { limit: 5 });
  const until = Math.ceil(NOW / (15 * 60_000)) * 15 * 60_000;
  const e = expected(CYCLE_START, until);
  t.same([u.cycle.from, u.cycle.to, u.cycle.complete], ['2026-06-15', '2026-07-14', false]);
  t.same([u.internet.down, u.internet.up, u.lan.total], [e.down, e.up, e.lan], 'internet up and down, LAN: exact');
  t.equal(u.all.total, e.down + e.up + e.lan, 'all = internet + LAN');
  t.equal(u.counted, e.down + e.up, 'the cap counts internet traffic');
  t.equal(u.capShare, (e.down + e.up) / BILLING.cap!, 'its share of the cap');
  const rate = (e.down + e.up) / (until - CYCLE_START);
  t.equal(u.projected, Math.round(e.down + e.up + rate * (end - until)), 'projected at the rate so far (under 7 days of the cycle)');
  t.equal(u.daysLeft, Math.ceil((end - NOW) / DAY), 'days left');
  t.equal(u.p95.resolution, '5min');
  t.equal(u.p95.samples, e.samples, `${e.samples} five-minute samples, quiet ones included`);
  t.equal(u.p95.downBitsPerSecond, e.p95Down, `95th percentile down: ${(e.p95Down / 1e6).toFixed(2)} Mbit/s`);
  t.equal(u.p95.upBitsPerSecond, e.p95Up, '95th percentile up');
  t.equal(u.p95.billedBitsPerSecond, Math.max(e.p95Up, e.p95Down), 'billed: the larger');
  t.same(u.devices.map((r) => r.key).sort(), ['192.168.1.10', '192.168.1.20'], 'devices: internet use only (the backup is LAN)');
  t.equal(u.devices.reduce((a, r) => a + r.bytes, 0), e.down + e.up, 'devices add up to the internet use');
  t.same(u.destinations.map((r) => r.key).sort(), ['cloud.example', 'video.example']);
  t.ok(u.pairs.length === 4 && u.pairs.every((p) => /^192\.168\.1\.(10|20) → (cloud|video)\.example$/.test(p.key)), `device × destination: ${u.pairs.map((p) => p.key).join(', ')}`);

  const previous = store.usage(BILLING, { cycle: -1 });
  const p = expected(FAKE_FROM, CYCLE_START);
  t.same([previous.cycle.from, previous.cycle.to, previous.cycle.complete], ['2026-05-15', '2026-06-14', true], 'the cycle before');
  t.equal(previous.internet.total, p.down + p.up, 'holds exactly the days before the 15th');
  t.equal(previous.projected, previous.counted, 'a complete cycle projects to what it used');
  t.equal(previous.observedFrom, FAKE_FROM, 'history of that cycle begins where the store\'s does (the 12th)');
  t.equal(previous.p95.samples, expected(FAKE_FROM, CYCLE_START).samples, 'its percentile covers only what was counted');
  t.equal(previous.p95.downBitsPerSecond, p.p95Down, 'and equals the independent one');

  const none = store.usage({ ...BILLING, cap: undefined, capScope: 'all', capDirection: 'down' });
  t.equal(none.counted, e.down, 'all traffic, down only');
  t.equal(none.capShare, null, 'no cap, no share');
  t.throws(() => store.usage({ ...BILLING, cycleStartDay: 31 }), /1 to 28/, 'a start day February lacks is refused');
  t.throws(() => store.usage(BILLING, { cycle: 1 }), /past one/, 'a future cycle is refused');

  store.close();
  if (!cliBuilt()) return;
  const run = runCliOnce;
  // the CLI's now is today's: the faked cycles are asked for by a date in them
  const prev = await run(['usage', '--data-dir', dir, '--cycle-start-day', '15', '--cycle', '2026-06-01', '--format', 'json']);
  t.equal(prev.code, 0, prev.stderr);
  t.equal(JSON.parse(prev.stdout).internet.total, p.down + p.up, 'flowlens usage --cycle 2026-06-01: the same as the store');
  const text = await run(['usage', '--data-dir', dir, '--cycle-start-day', '15', '--cycle', '2026-06-14', '--cap', '1TB']);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /billing cycle 2026-05-15 … 2026-06-14 \(\d+ back\), complete/, 'the table names the cycle');
  const minus = await run(['usage', '--data-dir', dir, '--cycle', '-1', '--format', 'json']);
  t.equal(minus.code, 0, `--cycle -1 (a negative value, not an option) ${minus.stderr}`);
  t.equal(JSON.parse(minus.stdout).cycle.index, -1);
  t.match(text.stdout, /of the 1\.00 TB cap/, 'and the cap');
  const bad = await run(['usage', '--data-dir', dir, '--cycle', '2']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /--cycle must be 0/, 'a bad --cycle is named');
  const badDay = await run(['usage', '--data-dir', dir, '--cycle-start-day', '30']);
  t.match(badDay.stderr, /cycleStartDay|cycle-start-day/, 'a bad start day is named');
});

t.test('the JSON API and gRPC answer the running flowlens\'s cycle', async (t) => {
  const f = await startApi(t);
  const now = Date.now();
  f.feed([...tcpFlows('203.0.113.7', 50000, 443, 1000, 20000, now - 900), ...tcpFlows('10.9.0.3', 50001, 22, 500, 700, now - 800)], now);
  const r = await httpRequest({ base: `http://127.0.0.1:${f.api.httpPort}` }, '/api/usage');
  t.equal(r.status, 200, r.text);
  const u = r.json();
  t.equal(u.counted, 21000, 'counted: the internet traffic (the default cap scope)');
  t.equal(u.lan.total, 1200, 'LAN beside it');
  t.equal(u.devices[0].key, '10.9.0.2');
  const bad = await httpRequest({ base: `http://127.0.0.1:${f.api.httpPort}` }, '/api/usage?cycle=3');
  t.equal(bad.status, 400, 'a future cycle: 400');
  const c = grpcClients(`127.0.0.1:${f.api.grpcPort}`);
  t.teardown(() => c.close());
  const g = await unary<{ counted: number; internet: { total: number } }>(c.traffic, 'usage', { cycle: 0, limit: 5 });
  t.equal(Number(g.counted), 21000, 'gRPC Usage: the same');
});

t.test('beyond history.minuteDays the percentile is of 15-minute rates, and says so', async (t) => {
  const dir = tempDataDir(t, 'usage15');
  const clock = manualClock(FAKE_FROM);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, minuteRetentionDays: 2 });
  t.teardown(() => store.close());
  fill(store, clock, NOW - (NOW % MIN5));
  clock.set(NOW);
  store.flush();
  const u = store.usage(BILLING);
  t.equal(u.p95.resolution, '15min', 'the cycle began before the kept minutes');
  const until = Math.ceil(NOW / (15 * 60_000)) * 15 * 60_000;
  const quarters: number[] = [];
  for (let q = CYCLE_START; q < until; q += 3 * MIN5) {
    let down = 0;
    for (let at = q; at < q + 3 * MIN5; at += MIN5) if (at + MIN5 <= NOW - (NOW % MIN5)) down += bucket(at).down;
    quarters.push((down * 8) / 900);
  }
  t.equal(u.p95.samples, quarters.length);
  t.equal(u.p95.downBitsPerSecond, percentile95(quarters), 'the 95th percentile of the quarter-hour rates');
  t.equal(u.internet.down, expected(CYCLE_START, until).down, 'totals stay exact');
});
