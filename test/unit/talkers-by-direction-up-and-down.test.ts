/**
 * Talkers restricted to one direction ("who uploads the most?"): a LAN backup
 * uploads far more than anything, two internet remotes download more than it.
 * Through the real flows stage, history store, JSON API, gRPC and CLI, the
 * up-only and down-only lists rank by that direction, hold only that
 * direction's bytes and packets, drop keys with none that way, and rows +
 * other = total of that direction exactly.
 */
process.env.TZ = 'UTC';
import t, { type Test } from 'tap';
import { startApi, tcpFlows } from '../helpers/api-fixture.js';
import { getOk, grpcClients, httpRequest, readEvents, unary } from '../helpers/api-clients.js';
import { cliBuilt, runCliOnce } from '../helpers/flowlens-cli.js';
import type { FlowSpec } from '../helpers/flow-batch.js';

const WEB = '203.0.113.7';
const VIDEO = '198.51.100.20';
const NAS = '10.9.0.50';
const SENSOR = '10.9.0.60';

/** Per interval: up and down bytes of each remote; SENSOR only ever receives (no down bytes). */
function interval(at: number): FlowSpec[] {
  return [
    ...tcpFlows(WEB, 50000, 443, 2_000, 30_000, at),
    ...tcpFlows(VIDEO, 50001, 443, 1_000, 120_000, at),
    ...tcpFlows(NAS, 50002, 445, 900_000, 4_000, at),
    { direction: 'egress', protocol: 17, src: '10.9.0.1', dst: SENSOR, srcPort: 4000, dstPort: 4000, packets: 3, bytes: 700, firstSeen: at, lastSeen: at },
  ];
}
const UP = { [NAS]: 900_000, [WEB]: 2_000, [VIDEO]: 1_000, [SENSOR]: 700 } as Record<string, number>;
const DOWN = { [VIDEO]: 120_000, [WEB]: 30_000, [NAS]: 4_000 } as Record<string, number>;
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

type Row = { key: string; bytes: number; bytesUp: number; bytesDown: number; packetsUp: number; packetsDown: number };
interface Top { rows: Row[]; other: Row; total: Row }

function checkOneWay(t: Test, top: Top, dir: 'up' | 'down', expected: Record<string, number>, n: number, limit: number, what: string): void {
  const ranked = Object.entries(expected).sort((a, b) => b[1] - a[1]);
  t.same(top.rows.map((r) => [r.key, r.bytes]), ranked.slice(0, limit).map(([k, b]) => [k, n * b]), `${what}: ranked by ${dir} bytes, keys with none ${dir} left out`);
  const off = dir === 'up' ? 'bytesDown' : 'bytesUp';
  const offPackets = dir === 'up' ? 'packetsDown' : 'packetsUp';
  t.ok([...top.rows, top.other, top.total].every((r) => Number(r[off]) === 0 && Number(r[offPackets]) === 0), `${what}: no ${dir === 'up' ? 'down' : 'up'} bytes or packets anywhere`);
  t.equal(Number(top.total.bytes), n * sum(expected), `${what}: total = the ${dir} bytes`);
  t.equal(top.rows.reduce((a, r) => a + Number(r.bytes), 0) + Number(top.other.bytes), Number(top.total.bytes), `${what}: rows + other = total`);
}

t.test('up-only and down-only talkers, live and from history, JSON and gRPC', async (t) => {
  const f = await startApi(t);
  const now = Date.now();
  const n = 3;
  f.feedSeconds(n, now, interval);
  const { web } = f;
  const get = (p: string) => getOk<Top>(t, web, p);
  const day = new Date(now).toISOString().slice(0, 10);
  for (const source of ['live', 'history'] as const) {
    const range = source === 'live' ? 'window=30' : `start=${day}&end=${day}`;
    checkOneWay(t, await get(`/api/top?dimension=ip&direction=up&${range}&limit=10`), 'up', UP, n, 10, `${source} up`);
    checkOneWay(t, await get(`/api/top?dimension=ip&direction=down&${range}&limit=10`), 'down', DOWN, n, 10, `${source} down`);
    checkOneWay(t, await get(`/api/top?dimension=ip&direction=down&${range}&limit=2`), 'down', DOWN, n, 2, `${source} down, 2 rows`);
    const both = await get(`/api/top?dimension=ip&${range}&limit=10`);
    t.equal(both.rows[0]!.key, NAS, `${source}: without a direction, today's ranking by the total`);
    t.equal(Number(both.total.bytes), n * (sum(UP) + sum(DOWN)), `${source}: and both directions' bytes`);
    const scoped = await get(`/api/top?dimension=ip&scope=internet&direction=down&${range}`);
    t.same(scoped.rows.map((r) => r.key), [VIDEO, WEB], `${source}: with a scope as well`);
  }
  const events = await readEvents(web, '/api/live?dimensions=ip&window=30&limit=10&direction=up', 'interval', 1, 10_000);
  checkOneWay(t, events.events[0].top[0] as Top, 'up', UP, n, 10, 'the live stream, up only');
  const badStream = await httpRequest(web, '/api/live?dimensions=ip&direction=sideways');
  t.equal(badStream.status, 400, 'the live stream: an unknown direction is 400');

  const bad = await httpRequest(web, '/api/top?dimension=ip&direction=sideways&window=30');
  t.equal(bad.status, 400, 'an unknown direction: 400');
  t.match(bad.json().message, /direction/, 'naming the parameter');

  const c = grpcClients(`127.0.0.1:${f.api.grpcPort}`);
  t.teardown(() => c.close());
  for (const [from, to, windowSeconds] of [['', '', 30], [day, day, 0]] as const) {
    const g = await unary<Top>(c.traffic, 'topTalkers', { dimension: 'ip', scope: '', direction: 'down', windowSeconds, limit: 10, from, to });
    checkOneWay(t, g, 'down', DOWN, n, 10, `gRPC ${windowSeconds ? 'live' : 'history'} down`);
  }
  await t.rejects(unary(c.traffic, 'topTalkers', { dimension: 'ip', scope: '', direction: 'sideways', windowSeconds: 30, limit: 10, from: '', to: '' }),
    { code: 3, details: /direction must be one of up, down, not "sideways"/ }, 'gRPC: INVALID_ARGUMENT naming the valid ones');
});

t.test('flowlens top --direction from the store', { skip: !cliBuilt() && 'the CLI is not built (bash scripts/build.sh)' }, async (t) => {
  const f = await startApi(t);
  const now = Date.now();
  f.feed(interval(now - 900), now);
  f.store!.flush();
  const dir = f.dataDir;
  const run = runCliOnce;
  const up = await run(['top', '--by', 'ip', '--direction', 'up', '--data-dir', dir, '--format', 'json']);
  t.equal(up.code, 0, up.stderr);
  checkOneWay(t, JSON.parse(up.stdout) as Top, 'up', UP, 1, 10, 'top --direction up');
  const down = await run(['top', '--by', 'ip', '--direction', 'down', '--scope', 'lan', '--data-dir', dir, '--format', 'json']);
  t.equal(down.code, 0, down.stderr);
  t.same((JSON.parse(down.stdout) as Top).rows.map((r) => [r.key, r.bytes]), [[NAS, 4_000]], 'top --direction down --scope lan');
  const table = await run(['top', '--by', 'ip', '--direction', 'down', '--data-dir', dir]);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /top ip \(down only\)/, 'the table says which direction it shows');
  const wrong = await run(['top', '--by', 'ip', '--direction', 'sideways', '--data-dir', dir]);
  t.equal(wrong.code, 1, 'a wrong direction: an error');
  t.match(wrong.stderr, /--direction/);
  t.match(wrong.stderr, /up/);
});
