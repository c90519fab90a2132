/**
 * gRPC reflection as standard clients use it: a Python client (Debian's
 * python3-grpcio and python3-protobuf) that knows only the address of a
 * running flowlens lists the services (reflection v1 and v1alpha), fetches the
 * descriptors by symbol and by file name, builds a descriptor pool from them
 * (protobuf rejects malformed ones: map entries set by hand, missing imports),
 * and calls every method of flowlens.v1 with messages made from that pool —
 * with real traffic counted on a veth in the test's namespaces.
 */
import t from 'tap';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { repoRoot } from '../../src/native/binding.js';

const PEER = path.join(repoRoot, 'test/helpers/traffic-peer.cjs');
const PY_CLIENT = path.join(repoRoot, 'test/helpers/grpc-reflection-client.py');
const node = (script: string, args: string[]): [string, string[]] => ['env', ['-u', 'NODE_OPTIONS', process.execPath, script, ...args]];
const HOST = '10.237.1.1', PEER_ADDR = '10.237.1.2';

interface MethodReport {
  input: string;
  output: string;
  serverStreaming: boolean;
  outputFields: string[];
  answer?: Record<string, any>;
  error?: { code: string; details: string };
}

t.test('a Python client with only the address: reflection, a descriptor pool, every method called', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-refl-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const topo = Topology.create(t, 'ref');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, `${HOST}/24`, peer, `${PEER_ADDR}/24`);
  // a day quota the UDP exchange passes: an alert that stays firing, for WatchAlerts to begin with
  const config = path.join(tmp, 'flowlens.yaml');
  writeFileSync(config, 'alerts:\n  rules:\n    - name: tiny-day\n      quota: {period: day, limit: 2KB, steps: [100]}\n');

  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--config', config, '--iface', link.a, '--format', 'ndjson', '--interval', '200ms',
    '--data-dir', path.join(tmp, 'data'), '--http-port', '0', '--grpc-port', '0'])));
  t.teardown(() => run.stop());
  t.ok(await run.waitFor((r) => r.tally.api !== undefined && r.tally.intervals >= 1, 20_000), `flowlens runs (stderr: ${run.stderr})`);
  const server = topo.spawn(peer, ...node(PEER, ['udp-server', '5300', '300']));
  let ready = '';
  server.stdout!.setEncoding('utf8').on('data', (d: string) => { ready += d; });
  t.ok(await waitFor(() => ready.includes('ready'), 10_000), 'UDP server ready');
  const udp = await topo.run(host, ...node(PEER, ['udp-client', PEER_ADDR, '5300', '10', '100']));
  t.equal(udp.stdout.trim(), 'done 3000', 'UDP replies received');
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 3, 5000);
  t.ok(await waitFor(() => /alert firing: \[critical\] tiny-day/.test(run.stderr), 10_000), `the day quota fired (stderr: ${run.stderr})`);

  // requests in protobuf's JSON mapping: what a user would type into grpcurl -d
  const requests = {
    'Traffic/History': { from: 'today', to: 'today', granularity: 'hour' },
    'Traffic/TopTalkers': { dimension: 'ip', windowSeconds: 300, limit: 10 },
    'Traffic/Sessions': { source: 'live', limit: 10 },
    'Traffic/Realtime': { seconds: 30 },
    'Traffic/Usage': { cycle: 0, limit: 5 },
    'Traffic/WatchLive': { dimensions: ['ip'], limit: 5 },
    'Traffic/WatchSessions': { sort: 'bytes', limit: 5 },
    'Alerts/ListAlerts': { state: 'firing', limit: 10 },
    'Alerts/WatchAlerts': {},
  };
  const target = `127.0.0.1:${run.tally.api!.grpcPort}`;
  const py = await topo.run(host, '/usr/bin/python3', [PY_CLIENT, target, JSON.stringify(requests)], 60_000);
  t.equal(py.code, 0, `the Python client ran (stderr: ${py.stderr.slice(-2000)})`);
  const out = JSON.parse(py.stdout) as { services: Record<string, string[]>; files: Record<string, string[]>; errors: Array<{ asked: string; code: number }>; methods: Record<string, MethodReport> };

  const services = ['flowlens.v1.Admin', 'flowlens.v1.Alerts', 'flowlens.v1.Traffic', 'grpc.health.v1.Health'];
  t.same(out.services.v1!.filter((s) => !s.startsWith('grpc.reflection.')), services, 'reflection v1 lists the services');
  t.same(out.services.v1alpha!.filter((s) => !s.startsWith('grpc.reflection.')), services, 'reflection v1alpha lists the same');
  t.same(out.files['flowlens/v1/flowlens.proto'], ['flowlens/v1/flowlens.proto'], 'file_by_filename answers protoc\'s file name');
  t.same(out.files['health/v1/health.proto'], ['health/v1/health.proto'], 'and the health proto\'s');
  t.same(out.files['missing.proto'], [], 'an unknown file: no descriptor');
  t.same(out.errors.map((e) => [e.asked, e.code]), [['missing.proto', 5]], 'only the unknown file is an error: NOT_FOUND (5)');

  const m = out.methods;
  const unaryMethods = ['Traffic/Summary', 'Traffic/History', 'Traffic/DateRange', 'Traffic/TopTalkers', 'Traffic/Usage', 'Traffic/Sessions', 'Traffic/Realtime', 'Traffic/Status', 'Traffic/Devices', 'Traffic/Reconcile', 'Admin/FlushHistory', 'Alerts/ListAlerts'];
  const streamingMethods = ['Traffic/WatchLive', 'Traffic/WatchSessions', 'Alerts/WatchAlerts', 'Admin/Capture'];
  t.same(Object.keys(m).sort(), [...unaryMethods, ...streamingMethods].sort(), 'every method of flowlens.v1 described from the pool');
  for (const name of unaryMethods) t.equal(m[name]!.serverStreaming, false, `${name}: unary`);
  for (const name of streamingMethods) t.equal(m[name]!.serverStreaming, true, `${name}: server streaming`);
  for (const [name, r] of Object.entries(m)) t.notOk(r.error, `${name} (${r.input} → ${r.output}) answered${r.error ? `: ${JSON.stringify(r.error)}` : ''}`);
  t.same(m['Traffic/Status']!.output, 'flowlens.v1.StatusResponse', 'Status answers a StatusResponse');
  t.ok(m['Traffic/Status']!.outputFields.includes('bpf_errors'), 'whose map field the pool accepted');

  // sane answers: the UDP exchange is there, in every view of it (int64 are strings in JSON)
  const UP = 10 * (100 + 28), DOWN = 10 * (300 + 28);
  const a = (name: string) => m[name]!.answer!;
  t.equal(a('Traffic/Summary').today.totals.up, String(UP), 'Summary: today\'s bytes up are the datagrams');
  t.equal(a('Traffic/Summary').today.totals.down, String(DOWN), 'Summary: and down the replies');
  t.ok(a('Traffic/History').buckets?.length > 0, 'History: today\'s hours (zero-filled)');
  t.ok(a('Traffic/DateRange').first, 'DateRange: a first day');
  const talker = a('Traffic/TopTalkers').rows.find((r: { key: string }) => r.key === PEER_ADDR);
  t.same([talker?.bytesUp, talker?.bytesDown], [String(UP), String(DOWN)], 'TopTalkers: the peer with its exact bytes');
  const session = a('Traffic/Sessions').sessions.find((s: { remote: string }) => s.remote === PEER_ADDR);
  t.same([session?.bytesUp, session?.bytesDown], [String(UP), String(DOWN)], 'Sessions: the UDP session');
  t.ok(a('Traffic/Realtime').times?.length === 30, 'Realtime: the last 30 seconds');
  t.ok(a('Traffic/Usage').from, 'Usage: the current billing cycle');
  t.ok(a('Traffic/Status').interfaces.some((i: { name: string }) => i.name === link.a), 'Status: the interface counted on');
  t.ok(a('Traffic/Reconcile').interfaces.some((i: { iface: string }) => i.iface === link.a), 'Reconcile: the interface counted on');
  t.ok(Number(a('Admin/FlushHistory').at) > 0, 'FlushHistory: flushed');
  t.ok(Array.isArray(a('Traffic/WatchLive').top), 'WatchLive: a first update');
  t.ok(Array.isArray(a('Traffic/WatchSessions').sessions), 'WatchSessions: a first update');
  t.equal(Buffer.from(String(a('Admin/Capture').data), 'base64').readUInt32BE(0), 0x0a0d0d0a, 'Capture: the first chunk begins a pcapng file (its section header block)');
  t.equal(a('Alerts/ListAlerts').alerts?.[0]?.rule, 'tiny-day', 'ListAlerts: the firing quota');
  t.same([a('Alerts/WatchAlerts').event, a('Alerts/WatchAlerts').alert?.rule], ['active', 'tiny-day'], 'WatchAlerts: begins with the alert firing now');
});
