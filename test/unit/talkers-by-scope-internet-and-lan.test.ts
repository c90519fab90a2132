/**
 * Talkers restricted to internet or LAN traffic — the answer a NAS owner asks
 * for ("my internet use, without the nightly backup"): one host talks to two
 * internet remotes and does a bulk LAN transfer, and also sends multicast and
 * link-local announcements. Through the real flows stage, history store, JSON
 * API, gRPC and CLI, the internet-only and LAN-only talkers of every dimension
 * hold exactly that scope's bytes, all = internet + LAN key by key, and the
 * group and link-local addresses are counted under their own labels, never as
 * a remote address or a local host.
 */
process.env.TZ = 'UTC';
import t from 'tap';
import { startApi, tcpFlows, HOST } from '../helpers/api-fixture.js';
import { getOk, grpcClients, httpRequest, readEvents, unary } from '../helpers/api-clients.js';
import { cliBuilt, runCliOnce } from '../helpers/flowlens-cli.js';
import type { FlowSpec } from '../helpers/flow-batch.js';

const WEB = '203.0.113.7';
const VIDEO = '198.51.100.20';
const NAS = '10.9.0.50';

/** Bytes per interval: internet web and video downloads, a LAN backup far larger than both, and announcements. */
function interval(at: number): FlowSpec[] {
  return [
    ...tcpFlows(WEB, 50000, 443, 2_000, 30_000, at),
    ...tcpFlows(VIDEO, 50001, 443, 1_000, 120_000, at),
    ...tcpFlows(NAS, 50002, 445, 900_000, 4_000, at),
    { direction: 'egress', protocol: 17, src: HOST, dst: '224.0.0.251', srcPort: 5353, dstPort: 5353, packets: 2, bytes: 300, firstSeen: at, lastSeen: at },
    { direction: 'egress', protocol: 17, src: 'fe80::1', dst: 'ff02::fb', srcPort: 5353, dstPort: 5353, packets: 1, bytes: 200, firstSeen: at, lastSeen: at },
    { direction: 'ingress', protocol: 17, src: 'fe80::9', dst: 'fe80::1', srcPort: 547, dstPort: 546, packets: 1, bytes: 120, firstSeen: at, lastSeen: at },
  ];
}
const INTERNET_DOWN = 150_000;
const INTERNET_UP = 3_000;
const LAN = 904_000 + 300 + 200 + 120;

interface Top { rows: { key: string; bytes: number; bytesUp: number; bytesDown: number }[]; other: { bytes: number }; total: { bytes: number; bytesUp: number; bytesDown: number } }

t.test('internet-only and LAN-only talkers, live and from history, in every API', async (t) => {
  const f = await startApi(t);
  const now = Date.now();
  const n = 3;
  f.feedSeconds(n, now, interval);
  const { web } = f;
  const get = (p: string) => getOk<Top>(t, web, p);
  const day = new Date(now).toISOString().slice(0, 10);

  for (const source of ['live', 'history'] as const) {
    const range = source === 'live' ? 'window=30' : `start=${day}&end=${day}`;
    const host = await get(`/api/top?dimension=host&scope=internet&${range}`);
    t.same(host.rows.map((r) => [r.key, r.bytesUp, r.bytesDown]), [[HOST, n * INTERNET_UP, n * INTERNET_DOWN]],
      `${source}: the host's internet use, without its LAN backup`);
    const lanHosts = await get(`/api/top?dimension=host&scope=lan&${range}`);
    t.equal(lanHosts.total.bytes, n * LAN, `${source}: LAN talkers hold the LAN bytes`);
    t.same(lanHosts.rows.map((r) => r.key).sort(), [HOST, 'link-local'].sort(), `${source}: a link-local sender is "link-local", not a device`);
    const ips = await get(`/api/top?dimension=ip&scope=internet&${range}`);
    t.same(ips.rows.map((r) => r.key), [VIDEO, WEB], `${source}: internet remotes only, busiest first`);
    t.equal(ips.total.bytes, n * (INTERNET_UP + INTERNET_DOWN), `${source}: and exactly their bytes`);
    const allIps = await get(`/api/top?dimension=ip&${range}&limit=20`);
    t.same(allIps.rows.map((r) => r.key).sort(), [NAS, VIDEO, WEB, 'link-local', 'multicast'].sort(),
      `${source}: all traffic's remote addresses: multicast and link-local under their labels (${allIps.rows.map((r) => r.key).join(', ')})`);
    t.notOk(allIps.rows.some((r) => /^(ff02|fe80|224\.)/.test(r.key)), `${source}: no group or link-local address listed as a remote`);
    for (const dim of ['ip', 'host', 'port', 'proto', 'country', 'asn', 'domain']) {
      const [all, internet, lan] = await Promise.all(['', '&scope=internet', '&scope=lan'].map((s) => get(`/api/top?dimension=${dim}&${range}&limit=100${s}`)));
      t.equal(all.total.bytes, internet.total.bytes + lan.total.bytes, `${source} ${dim}: all = internet + LAN`);
      t.equal(internet.total.bytes, n * (INTERNET_UP + INTERNET_DOWN), `${source} ${dim}: internet total`);
      const lanOf = new Map(lan.rows.map((r) => [r.key, r.bytes]));
      const internetOf = new Map(internet.rows.map((r) => [r.key, r.bytes]));
      t.ok(all.rows.every((r) => r.bytes === (internetOf.get(r.key) ?? 0) + (lanOf.get(r.key) ?? 0)), `${source} ${dim}: and so for every key`);
    }
  }
  const domains = await get(`/api/top?dimension=country&scope=internet&window=30`);
  t.notOk(domains.rows.some((r) => r.key === 'private'), 'internet countries hold no "private" row');

  const bad = await httpRequest(web, '/api/top?dimension=ip&scope=moon&window=30');
  t.equal(bad.status, 400, 'an unknown scope: 400');
  t.match(bad.json().message, /scope/, 'naming the parameter');

  // /metrics: per-protocol and per-domain series (the Go monitor's network_domain_* under flowlens's names)
  const metrics = (await httpRequest(web, '/metrics')).text;
  const sum = (re: RegExp) => [...metrics.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  t.equal(sum(/^flowlens_protocol_bytes_total\{[^}]*\} (\d+)$/gm), n * (INTERNET_UP + INTERNET_DOWN + LAN), 'flowlens_protocol_bytes_total sums to all talker traffic');
  t.equal(sum(/^flowlens_protocol_bytes_total\{[^}]*protocol="udp"[^}]*\} (\d+)$/gm), n * 620, 'udp: the announcements');
  t.equal(sum(/^flowlens_domain_bytes_total\{[^}]*\} (\d+)$/gm), n * (INTERNET_UP + INTERNET_DOWN + LAN), 'flowlens_domain_bytes_total sums to it too ("unknown": no names here)');
  t.match(metrics, /flowlens_protocol_connections_total\{[^}]*protocol="tcp"[^}]*\} 3\n/, 'three TCP sessions begun');

  // the live stream, scoped
  const events = await readEvents(web, '/api/live?dimensions=host&window=30&scope=internet', 'interval', 1, 10_000);
  t.same(events.events[0].top[0].rows.map((r: { key: string }) => r.key), [HOST], 'the live stream opens with the latest window, scoped');
  t.equal(events.events[0].top[0].scope, 'internet');

  // gRPC: the same answer as JSON
  const c = grpcClients(`127.0.0.1:${f.api.grpcPort}`);
  t.teardown(() => c.close());
  const g = await unary<Top & { scope: string }>(c.traffic, 'topTalkers', { dimension: 'ip', scope: 'internet', direction: '', windowSeconds: 30, limit: 10, from: '', to: '' });
  t.same(g.rows.map((r) => r.key), [VIDEO, WEB], 'gRPC TopTalkers with scope internet');
  t.equal(g.scope, 'internet');
  t.equal(Number(g.total.bytes), n * (INTERNET_UP + INTERNET_DOWN));
});

t.test('flowlens top --scope from the store', { skip: !cliBuilt() && 'the CLI is not built (bash scripts/build.sh)' }, async (t) => {
  const f = await startApi(t);
  const now = Date.now();
  f.feed(interval(now - 900), now);
  f.store!.flush();
  const dir = f.dataDir;
  const run = runCliOnce;
  const internet = await run(['top', '--by', 'host', '--scope', 'internet', '--data-dir', dir, '--format', 'json']);
  t.equal(internet.code, 0, internet.stderr);
  const top = JSON.parse(internet.stdout) as Top;
  t.same(top.rows.map((r) => [r.key, r.bytes]), [[HOST, INTERNET_UP + INTERNET_DOWN]], 'top --by host --scope internet: the internet use alone');
  const table = await run(['top', '--by', 'host', '--scope', 'lan', '--data-dir', dir]);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /top host \(LAN traffic\)/, 'the table says which traffic it shows');
  const wrong = await run(['top', '--by', 'host', '--scope', 'wan', '--data-dir', dir]);
  t.equal(wrong.code, 1, 'a wrong scope: an error');
  t.match(wrong.stderr, /--scope/);
});
