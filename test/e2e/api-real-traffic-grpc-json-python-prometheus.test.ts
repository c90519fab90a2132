/**
 * The APIs of a running flowlens, with real traffic in a namespace: a grpc-js
 * client and a Python client (Debian's python3-grpcio) call every RPC, a live
 * stream gets updates while traffic flows and ends cleanly on cancel, another
 * ends cleanly (status OK) when flowlens stops, the JSON API answers what gRPC
 * answers, reflection lists the services, and a Prometheus server (Debian's)
 * scrapes /metrics and gives a flowlens series back through its query API.
 *
 * flowlens runs in the host namespace with --http-port 0 --grpc-port 0 and
 * says where it listens (the NDJSON "api" object); the test reaches those
 * ports through unix-forward.cjs (a Unix socket joined to 127.0.0.1:PORT in
 * the namespace), so every client runs as a user's would, unchanged.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { grpcClients, httpRequest, unary, type HttpTarget } from '../helpers/api-clients.js';
import { repoRoot } from '../../src/native/binding.js';
import type * as pb from '../../src/api/grpc/gen/flowlens/v1/flowlens.js';

const PEER = path.join(repoRoot, 'test/helpers/traffic-peer.cjs');
const FORWARD = path.join(repoRoot, 'test/helpers/unix-forward.cjs');
const PY_CLIENT = path.join(repoRoot, 'test/helpers/grpc-client.py');
const node = (script: string, args: string[]): [string, string[]] => ['env', ['-u', 'NODE_OPTIONS', process.execPath, script, ...args]];

const HOST_LAN = '10.234.1.1', PEER_LAN = '10.234.1.2';
const HOST_PUBLIC = '198.51.100.1', PEER_PUBLIC = '198.51.100.2';
/** UDP: 10 datagrams of 100 bytes up, 10 replies of 300 down; L3 adds 8 + 20 bytes each. */
const UDP_UP = 10 * (100 + 28), UDP_DOWN = 10 * (300 + 28);

async function ready(t: Test, topo: Topology, ns: string, cmd: [string, string[]], what: string): Promise<void> {
  const child = topo.spawn(ns, ...cmd);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  t.ok(await waitFor(() => out.includes('ready'), 10_000), `${what} ready (${out.trim()})`);
}

function tmpDir(t: Test, tag: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `flowlens-api-${tag}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Drops fields that change with every interval or every call, so two answers to one question compare equal. */
function withoutClock<T extends object>(o: T, keys: string[]): T {
  const copy = { ...o } as Record<string, unknown>;
  for (const k of keys) delete copy[k];
  return copy as T;
}

t.test('every RPC and endpoint with real traffic; streams; Python; Prometheus', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const tmp = tmpDir(t, 'e2e');
  const topo = Topology.create(t, 'api');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, `${HOST_LAN}/24`, peer, `${PEER_LAN}/24`);
  topo.exec(host, 'ip', ['addr', 'add', `${HOST_PUBLIC}/24`, 'dev', link.a]);
  topo.exec(peer, 'ip', ['addr', 'add', `${PEER_PUBLIC}/24`, 'dev', link.b]);

  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--iface', link.a, '--format', 'ndjson', '--interval', '200ms',
    '--data-dir', path.join(tmp, 'data'), '--flush-interval', '1s', '--http-port', '0', '--grpc-port', '0', '--top', '50'])));
  t.ok(await run.waitFor((r) => r.tally.api !== undefined && r.tally.intervals >= 2, 20_000), `flowlens counts and says where it listens (stderr: ${run.stderr})`);
  const api = run.tally.api!;
  t.match(api.http, /^http:\/\/127\.0\.0\.1:\d+$/, 'HTTP on loopback, a port the kernel chose');
  t.not(api.httpPort, 0);
  t.not(api.grpcPort, 0);

  const httpSock = path.join(tmp, 'http.sock');
  const grpcSock = path.join(tmp, 'grpc.sock');
  await ready(t, topo, host, node(FORWARD, [httpSock, String(api.httpPort)]), 'HTTP forwarder');
  await ready(t, topo, host, node(FORWARD, [grpcSock, String(api.grpcPort)]), 'gRPC forwarder');
  const web: HttpTarget = { base: 'http://localhost', socketPath: httpSock };
  const c = grpcClients(`unix:${grpcSock}`);
  t.teardown(() => c.close());

  // live streams before the traffic: updates must arrive while it flows
  const liveUpdates: pb.LiveUpdate[] = [];
  const live = c.traffic.watchLive({ dimensions: ['ip', 'port'], limit: 10, windowSeconds: 300, scope: '', direction: '' });
  const liveEnded = new Promise<{ code: number; details: string }>((resolve) => {
    live.on('data', (u: pb.LiveUpdate) => liveUpdates.push(u));
    live.on('error', (e: grpc.ServiceError) => resolve(e));
    live.on('end', () => resolve({ code: grpc.status.OK, details: '' }));
  });
  const sessionUpdates: pb.SessionsResponse[] = [];
  const watchSessions = c.traffic.watchSessions({ filter: { addr: '', protocol: 'udp', iface: '', scope: '', country: '', asn: '', domain: '' }, sort: 'bytes', limit: 5 });
  const sessionsStatus = new Promise<grpc.StatusObject>((resolve) => {
    watchSessions.on('data', (u: pb.SessionsResponse) => sessionUpdates.push(u));
    watchSessions.on('error', () => {});
    watchSessions.on('status', (s: grpc.StatusObject) => resolve(s));
  });

  await ready(t, topo, peer, node(PEER, ['udp-server', '5300', '300']), 'UDP server');
  const udp = await topo.run(host, ...node(PEER, ['udp-client', PEER_PUBLIC, '5300', '10', '100']));
  t.equal(udp.stdout.trim(), 'done 3000', 'UDP replies received');
  await ready(t, topo, host, node(PEER, ['tcp-server', '8080', '50000']), 'TCP server');
  const tcp = await topo.run(peer, ...node(PEER, ['tcp-client', HOST_LAN, '8080', '1000']));
  t.equal(tcp.stdout.trim(), 'done 50000', 'TCP download complete');

  const udpTop = (u: pb.LiveUpdate) => u.top.find((x) => x.dimension === 'ip')?.rows.find((r) => r.key === PEER_PUBLIC);
  t.ok(await waitFor(() => liveUpdates.some((u) => udpTop(u)?.bytesUp === UDP_UP && udpTop(u)?.bytesDown === UDP_DOWN), 10_000),
    'the live stream shows the UDP peer\'s exact bytes in its 300 s window');
  t.ok(liveUpdates.some((u) => u.traffic.some((r) => r.iface === link.a && r.scope === 'internet' && r.direction === 'up' && r.bytes > 0 && r.bytesPerSecond > 0)),
    'updates carry the interval\'s traffic and rates');
  const seen = liveUpdates.length;
  live.cancel();
  const liveEnd = await liveEnded;
  t.equal(liveEnd.code, grpc.status.CANCELLED, `the stream ends on cancel (CANCELLED on the client side; ${liveEnd.details})`);
  await new Promise((r) => setTimeout(r, 600));
  t.equal(liveUpdates.length, seen, 'no update after the cancel');

  // the traffic is over: let the last packets' interval pass, then every answer is stable
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 4, 5000);

  // the kernel's own flows (NDJSON) are the reference for exact bytes
  const sum = (pred: (f: { src: string; dst: string; protocol: number }) => boolean) =>
    [...run.tally.flows.values()].filter((f) => f.iface === link.a && pred(f)).reduce((a, f) => ({ bytes: a.bytes + f.bytes, packets: a.packets + f.packets }), { bytes: 0, packets: 0 });
  const tcpUp = sum((f) => f.protocol === 6 && f.src === HOST_LAN && f.dst === PEER_LAN);
  const tcpDown = sum((f) => f.protocol === 6 && f.src === PEER_LAN && f.dst === HOST_LAN);
  const trafficBy = (direction: string) => run.tally.stats.flatMap((s) => s.traffic).filter((r) => r.direction === direction).reduce((a, r) => a + r.bytes, 0);
  const allUp = trafficBy('up'), allDown = trafficBy('down');

  // ---- gRPC, every method ----
  const summary = await unary<pb.SummaryResponse>(c.traffic, 'summary', { filter: undefined });
  t.same(summary.today!.totals, { up: allUp, down: allDown, total: allUp + allDown, packetsUp: summary.today!.totals!.packetsUp, packetsDown: summary.today!.totals!.packetsDown },
    'Summary: today is exactly the traffic flowlens counted');
  t.same(summary.year!.totals, summary.today!.totals, 'Summary: this year is today (a fresh history)');
  const internetUp = await unary<pb.SummaryResponse>(c.traffic, 'summary', { filter: { iface: link.a, direction: 'up', scope: 'internet' } });
  t.equal(internetUp.today!.totals!.total, UDP_UP, 'Summary with a filter: internet up is the UDP datagrams');

  const history = await unary<pb.HistoryResponse>(c.traffic, 'history', { preset: '', from: 'today', to: 'today', granularity: 'hour', filter: undefined });
  t.equal(history.buckets.length >= 23, true, 'History: a bucket per hour of today');
  t.same(history.total, summary.today!.totals, 'History: the hours sum to today');
  const days = await unary<pb.HistoryResponse>(c.traffic, 'history', { preset: '30days', from: '', to: '', granularity: '', filter: undefined });
  t.equal(days.buckets.length, 30, 'History preset 30days: 30 zero-filled days');
  t.same(days.buckets.at(-1)!.totals, summary.today!.totals, 'the last day is today');

  const range = await unary<pb.DateRangeResponse>(c.traffic, 'dateRange', {});
  t.equal(range.first, summary.today!.label, 'DateRange: the history begins today');
  t.equal(range.last, summary.today!.label);

  const topLive = await unary<pb.TopTalkersResponse>(c.traffic, 'topTalkers', { dimension: 'ip', from: '', to: '', windowSeconds: 300, limit: 10, scope: '', direction: '' });
  const udpRow = topLive.rows.find((r) => r.key === PEER_PUBLIC);
  const tcpRow = topLive.rows.find((r) => r.key === PEER_LAN);
  t.same([udpRow?.bytesUp, udpRow?.bytesDown, udpRow?.connections], [UDP_UP, UDP_DOWN, 1], 'TopTalkers live: the UDP peer, exact');
  t.same([tcpRow?.bytesUp, tcpRow?.bytesDown, tcpRow?.connections], [tcpUp.bytes, tcpDown.bytes, 1], 'TopTalkers live: the TCP peer, exact (as the kernel flows)');
  t.equal(topLive.total!.bytes, topLive.rows.reduce((a, r) => a + r.bytes, 0) + topLive.other!.bytes, 'rows + other = total');
  const topHistory = await unary<pb.TopTalkersResponse>(c.traffic, 'topTalkers', { dimension: 'ip', from: 'today', to: 'today', windowSeconds: 0, limit: 10, scope: '', direction: '' });
  t.equal(topHistory.source, 'history');
  t.same(topHistory.rows.find((r) => r.key === PEER_PUBLIC)?.bytes, UDP_UP + UDP_DOWN, 'TopTalkers over today (history): the UDP peer');
  const ports = await unary<pb.TopTalkersResponse>(c.traffic, 'topTalkers', { dimension: 'port', from: '', to: '', windowSeconds: 300, limit: 10, scope: '', direction: '' });
  t.same(ports.rows.map((r) => r.key).sort(), ['tcp/8080', 'udp/5300'], 'TopTalkers by service port');

  const udpSessions = await unary<pb.SessionsResponse>(c.traffic, 'sessions', { source: 'live', filter: { addr: `${PEER_PUBLIC}/32`, port: 5300, protocol: 'udp', iface: link.a, scope: 'internet', country: '', asn: '', domain: '' }, sort: 'bytes', limit: 10, cursor: '', from: '', to: '' });
  t.equal(udpSessions.sessions.length, 1, 'Sessions with a filter: the one UDP session');
  const us = udpSessions.sessions[0]!;
  t.same([us.local, us.remote, us.remotePort, us.scope, us.initiator, us.bytesUp, us.bytesDown, us.packetsUp, us.packetsDown],
    [HOST_PUBLIC, PEER_PUBLIC, 5300, 'internet', 'local', UDP_UP, UDP_DOWN, 10, 10], 'the UDP session, exact');
  const tcpSessions = await unary<pb.SessionsResponse>(c.traffic, 'sessions', { source: 'live', filter: { addr: '', port: 8080, protocol: 'tcp', iface: '', scope: 'lan', country: '', asn: '', domain: '' }, sort: '', limit: 10, cursor: '', from: '', to: '' });
  const ts = tcpSessions.sessions[0]!;
  t.same([tcpSessions.sessions.length, ts.local, ts.localPort, ts.remote, ts.initiator, ts.bytesUp, ts.bytesDown], [1, HOST_LAN, 8080, PEER_LAN, 'remote', tcpUp.bytes, tcpDown.bytes], 'the TCP session, exact');
  const page1 = await unary<pb.SessionsResponse>(c.traffic, 'sessions', { source: 'live', filter: undefined, sort: 'bytes', limit: 1, cursor: '', from: '', to: '' });
  const page2 = await unary<pb.SessionsResponse>(c.traffic, 'sessions', { source: 'live', filter: undefined, sort: 'bytes', limit: 1, cursor: page1.nextCursor, from: '', to: '' });
  t.same([page1.matched, page1.sessions[0]?.id, page2.sessions[0]?.id, page2.nextCursor], [2, ts.id, us.id, ''], 'Sessions pages: largest first, the cursor reaches the end');

  const realtime = await unary<pb.RealtimeResponse>(c.traffic, 'realtime', { seconds: 120 });
  t.equal(realtime.times.length, 120, 'Realtime: one value per second');
  const rtUp = realtime.series.find((s) => s.iface === link.a && s.direction === 'up' && s.scope === 'internet');
  t.ok(rtUp && Math.abs(rtUp.bytesPerSecond.reduce((a, b) => a + b, 0) - UDP_UP) < 1e-6, 'Realtime: the per-second rates add up to the bytes sent');

  const status = await unary<pb.StatusResponse>(c.traffic, 'status', {});
  t.same(status.interfaces.map((i) => i.name), [link.a], 'Status: the interface');
  t.ok(status.intervals >= ticks && status.history && status.activeSessions === 2, 'Status: intervals, history on, two sessions');

  const flushed = await unary<pb.FlushHistoryResponse>(c.admin, 'flushHistory', {});
  t.ok(flushed.at > 0, 'Admin FlushHistory (no tokens configured: allowed on loopback)');
  const afterFlush = await unary<pb.SummaryResponse>(c.traffic, 'summary', { filter: undefined });
  t.same(afterFlush.today!.totals, summary.today!.totals, 'the flush changes no total');

  // ---- reflection: what grpcurl uses ----
  const reflectionProto = path.join(repoRoot, 'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto');
  if (existsSync(reflectionProto)) {
    const def = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto, { keepCase: true })) as any;
    const refl = new def.grpc.reflection.v1alpha.ServerReflection(`unix:${grpcSock}`, grpc.credentials.createInsecure());
    const services = await new Promise<string[]>((resolve, reject) => {
      const call = refl.ServerReflectionInfo();
      call.on('data', (m: any) => { resolve(m.list_services_response.service.map((s: { name: string }) => s.name)); call.end(); });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
    refl.close();
    t.same(services.filter((s) => /flowlens|health/.test(s)).sort(), ['flowlens.v1.Admin', 'flowlens.v1.Alerts', 'flowlens.v1.Traffic', 'grpc.health.v1.Health'], 'reflection lists the services');
  } else t.fail(`reflection.proto not found at ${reflectionProto}`);

  // ---- the JSON API answers what gRPC answers ----
  const json = async (p: string) => {
    const r = await httpRequest(web, p);
    t.equal(r.status, 200, `GET ${p}: 200 (${r.text.slice(0, 200)})`);
    return r.json();
  };
  t.same(withoutClock(await json('/api/summary'), ['at']), withoutClock(afterFlush, ['at']), '/api/summary = Summary');
  t.same(withoutClock(await json(`/api/summary?iface=${link.a}&direction=up&scope=internet`), ['at']), withoutClock(internetUp, ['at']), '/api/summary with a filter = Summary with a filter');
  t.same(await json('/api/query?start=today&end=today&granularity=hour'), history, '/api/query = History');
  t.same(await json('/api/history/30days'), days, '/api/history/30days = History preset 30days');
  const todayHours = await unary<pb.HistoryResponse>(c.traffic, 'history', { preset: 'today_hours', from: '', to: '', granularity: '', filter: undefined });
  t.same(await json('/api/history/today_hours'), todayHours, '/api/history/today_hours = History preset today_hours');
  const months = await unary<pb.HistoryResponse>(c.traffic, 'history', { preset: '12months', from: '', to: '', granularity: '', filter: undefined });
  t.same(await json('/api/history/12months'), months, '/api/history/12months = History preset 12months');
  t.same(await json('/api/date_range'), range, '/api/date_range = DateRange');
  t.same(await json('/api/top?dimension=ip&start=today&end=today'), topHistory, '/api/top = TopTalkers (history)');
  t.same(withoutClock(await json('/api/top_ips?window=300'), ['from', 'to']), withoutClock(topLive, ['from', 'to']), '/api/top_ips = TopTalkers ip (live window)');
  t.same(withoutClock(await json('/api/sessions?protocol=udp&port=5300&addr=198.51.100.2/32&scope=internet'), ['at']), withoutClock(udpSessions, ['at']), '/api/sessions = Sessions');
  const statusJson = await json('/api/status');
  t.same(statusJson.interfaces, status.interfaces, '/api/status = Status (interfaces)');
  const rt = await json('/api/realtime');
  t.equal(rt.times.length, 30, '/api/realtime: the last 30 s');
  t.same(await json('/api/health'), { status: 'ok' }, '/api/health: ok');

  // ---- Python (Debian's grpcio), stubs generated by Debian's protoc ----
  const stubs = path.join(tmp, 'py');
  execFileSync('mkdir', ['-p', stubs]);
  execFileSync('protoc', ['-I', path.join(repoRoot, 'proto'), `--python_out=${stubs}`, path.join(repoRoot, 'proto/flowlens/v1/flowlens.proto')]);
  const py = JSON.parse(execFileSync('/usr/bin/python3', [PY_CLIENT, `unix:${grpcSock}`, stubs], { encoding: 'utf8', timeout: 60_000 }));
  for (const m of ['Summary', 'History', 'HistoryPreset', 'DateRange', 'TopTalkersLive', 'TopTalkersHistory', 'Sessions', 'SessionsUdp', 'Realtime', 'Status', 'FlushHistory']) {
    t.notOk(py[m].error, `Python ${m}: answered (${JSON.stringify(py[m]).slice(0, 120)})`);
  }
  t.equal(py.Summary.today.totals.up, String(allUp), 'Python Summary: today up, as grpc-js');
  t.equal(py.SessionsUdp.sessions[0].bytesUp, String(UDP_UP), 'Python Sessions: the UDP session');
  t.equal(py.TopTalkersLive.rows.find((r: { key: string }) => r.key === PEER_PUBLIC)?.bytesDown, String(UDP_DOWN), 'Python TopTalkers live');
  t.equal(py.BadDimension.error, 'INVALID_ARGUMENT', 'Python: a bad dimension is INVALID_ARGUMENT');
  t.equal(py.WatchLive.length, 2, 'Python: the live stream gave two updates, then was cancelled');
  t.same(py.Health, { status: 'SERVING' }, 'Python: the standard health check says SERVING');

  // ---- Prometheus (Debian's) scrapes /metrics; the series comes back through its query API ----
  const promConfig = path.join(tmp, 'prometheus.yml');
  writeFileSync(promConfig, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: flowlens\n    static_configs:\n      - targets: ['127.0.0.1:${api.httpPort}']\n`);
  const prom = topo.spawn(host, '/usr/bin/prometheus', [`--config.file=${promConfig}`, `--storage.tsdb.path=${path.join(tmp, 'tsdb')}`,
    '--web.listen-address=127.0.0.1:9090', '--log.level=warn']);
  let promOut = '';
  prom.stderr!.setEncoding('utf8').on('data', (d: string) => { promOut += d; });
  const promQuery = (q: string): any => {
    try {
      return JSON.parse(topo.exec(host, 'curl', ['-sf', '--get', '--data-urlencode', `query=${q}`, 'http://127.0.0.1:9090/api/v1/query']));
    } catch {
      return null;
    }
  };
  const series = `flowlens_traffic_bytes_total{iface="${link.a}",direction="up",scope="internet"}`;
  const got = await waitFor(() => promQuery(series)?.data?.result?.[0]?.value?.[1], 30_000, 500);
  t.equal(got, String(UDP_UP), `Prometheus scraped ${series} = ${UDP_UP} (prometheus: ${promOut.slice(0, 300)})`);
  const remote = await waitFor(() => promQuery(`flowlens_remote_bytes_total{remote="${PEER_PUBLIC}",direction="down"}`)?.data?.result?.[0]?.value?.[1], 10_000, 500);
  t.equal(remote, String(UDP_DOWN), 'Prometheus: the remote series of the UDP peer');
  const drains = await waitFor(() => Number(promQuery('flowlens_drain_duration_seconds_count')?.data?.result?.[0]?.value?.[1] ?? 0), 10_000, 500);
  t.ok(drains > 0, 'Prometheus: the drain time histogram');

  // ---- stopping flowlens ends the open stream cleanly ----
  t.ok(sessionUpdates.some((u) => u.sessions.some((s) => s.id === us.id && s.bytesUp === UDP_UP)), 'WatchSessions: updates with the UDP session');
  const r = await run.stop('SIGTERM');
  t.equal(r.code, 0, `flowlens exits 0 on SIGTERM (stderr: ${run.stderr.trim()})`);
  const end = await Promise.race([sessionsStatus, new Promise<null>((res) => setTimeout(() => res(null), 5000))]);
  t.equal(end?.code, grpc.status.OK, 'WatchSessions ends with status OK when flowlens stops');
});
