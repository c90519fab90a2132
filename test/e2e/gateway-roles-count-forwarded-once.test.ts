/**
 * A gateway with interface roles counts forwarded traffic once, as the LAN
 * device's, with real NAT.
 *
 * Three namespaces: a LAN device (192.168.88.10) → the gateway (forwarding,
 * nftables from Debian) → an "internet" peer (203.0.113.2). flowlens runs in
 * the gateway on both interfaces with --iface LAN:lan,WAN:wan, with the APIs
 * and the history on. Real programs make the traffic: traffic-peer.cjs (UDP
 * and TCP of known sizes, many short connections), iperf3 both ways, curl
 * against a web server, ping; the gateway itself pings and connects too.
 *
 * Asserted, in each of masquerade, plain routing and a DNAT port forward:
 *  - every conversation is one session, with the device's address as its
 *    local end (the gateway's own traffic: one session with the gateway's);
 *  - the totals (traffic rows, the host talkers, /api/summary from the
 *    history, /metrics) equal, exactly, the IP bytes that crossed the WAN
 *    interface: its own kernel counters (/sys/class/net/WAN/statistics) less
 *    the Ethernet headers and the non-IP frames flowlens counted;
 *  - the per-interface numbers reconcile: on each interface, counted +
 *    forwarded (counted on the other interface) + non-IP = the kernel's packets.
 * Without roles the same gateway warns at start that forwarded packets count
 * on each interface, and says how to set roles.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { Topology, type Link } from '../helpers/topology.js';
import { peerCommand, startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import type { SessionRecord } from '../../src/flows/types.js';

const DEVICE = '192.168.88.10';
const GW_LAN = '192.168.88.1';
const GW_WAN = '203.0.113.1';
const PEER = '203.0.113.2';
const ETH_HEADER = 14;

interface Lab {
  topo: Topology;
  dev: string;
  gw: string;
  net: string;
  lan: Link;
  wan: Link;
}

type Mode = 'masquerade' | 'routed' | 'dnat';

function lab(t: Test, tag: string, mode: Mode): Lab {
  const topo = Topology.create(t, tag);
  const dev = topo.ns('dev');
  const gw = topo.ns('gw');
  const net = topo.ns('net');
  const lan = topo.link(dev, `${DEVICE}/24`, gw, `${GW_LAN}/24`);
  const wan = topo.link(gw, `${GW_WAN}/24`, net, `${PEER}/24`);
  topo.route(dev, 'default', GW_LAN);
  topo.forward(gw);
  if (mode === 'routed') topo.route(net, '192.168.88.0/24', GW_WAN);
  else {
    // the peer has no route to the LAN: without masquerade nothing would come back
    topo.exec(gw, 'nft', ['add table ip gwnat']);
    topo.exec(gw, 'nft', ['add chain ip gwnat post { type nat hook postrouting priority srcnat; }']);
    topo.exec(gw, 'nft', [`add rule ip gwnat post oifname "${wan.a}" masquerade`]);
    if (mode === 'dnat') {
      topo.exec(gw, 'nft', ['add chain ip gwnat pre { type nat hook prerouting priority dstnat; }']);
      topo.exec(gw, 'nft', [`add rule ip gwnat pre iifname "${wan.a}" tcp dport 8080 dnat to ${DEVICE}:18090`]);
      topo.exec(gw, 'nft', [`add rule ip gwnat pre iifname "${wan.a}" udp dport 5400 dnat to ${DEVICE}:5400`]);
    }
  }
  return { topo, dev, gw, net, lan, wan };
}

interface IfStats { rxBytes: number; rxPackets: number; txBytes: number; txPackets: number }

function ifStats(l: Lab, ns: string, dev: string): IfStats {
  const read = (f: string) => Number(l.topo.exec(ns, 'cat', [`/sys/class/net/${dev}/statistics/${f}`]).trim());
  return { rxBytes: read('rx_bytes'), rxPackets: read('rx_packets'), txBytes: read('tx_bytes'), txPackets: read('tx_packets') };
}

function minus(a: IfStats, b: IfStats): IfStats {
  return { rxBytes: a.rxBytes - b.rxBytes, rxPackets: a.rxPackets - b.rxPackets, txBytes: a.txBytes - b.txBytes, txPackets: a.txPackets - b.txPackets };
}

async function client(t: Test, l: Lab, ns: string, args: string[]): Promise<number> {
  const r = await l.topo.run(ns, ...peerCommand(args));
  t.equal(r.code, 0, `${args.join(' ')}: ${r.stdout.trim()} ${r.stderr.trim()}`);
  return Number(/done (\d+)/.exec(r.stdout)?.[1] ?? NaN);
}

async function ready(t: Test, l: Lab, ns: string, cmd: string, args: string[], what: string, port: number): Promise<void> {
  l.topo.spawn(ns, cmd, args);
  const up = await waitFor(async () => (await l.topo.run(ns, 'ss', ['-Hltn', `sport = :${port}`])).stdout.trim() !== '', 5000);
  t.ok(up, `${what} listens on ${port}`);
}

/** Starts flowlens in the gateway with roles (or none), APIs and history on. */
async function startFlowlens(t: Test, l: Lab, tmp: string, roles: boolean): Promise<CliRun> {
  const ifaces = roles ? `${l.lan.b}:lan,${l.wan.a}:wan` : `${l.lan.b},${l.wan.a}`;
  const run = new CliRun(l.topo.spawn(l.gw, ...cliCommand(['run', '--iface', ifaces, '--format', 'ndjson', '--interval', '200ms',
    '--data-dir', path.join(tmp, 'data'), '--flush-interval', '1s', '--http-port', '0', '--grpc-port', '0', '--top', '1000',
    '--no-bundled-geo'])));
  t.ok(await run.waitFor((r) => r.tally.intervals >= 4 && r.tally.api !== undefined, 30_000), `flowlens is counting (stderr: ${run.stderr})`);
  return run;
}

async function api(l: Lab, run: CliRun, p: string, method = 'GET'): Promise<string> {
  const r = await l.topo.run(l.gw, 'curl', ['-sf', '-X', method, `http://127.0.0.1:${run.tally.api!.httpPort}${p}`]);
  if (r.code !== 0) throw new Error(`curl ${p}: ${r.code} ${r.stderr}`);
  return r.stdout;
}

/** Σ of a counter family in /metrics (every label set). */
function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);

/**
 * Waits for the last packets to be counted, reads the API answers, stops
 * flowlens and checks what every mode shares: totals = the WAN's IP bytes,
 * per-interface reconciliation, one local end per session.
 */
async function finish(t: Test, l: Lab, run: CliRun, before: { lan: IfStats; wan: IfStats }) {
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 4, 10_000);
  await api(l, run, '/api/admin/flush', 'POST');
  const summary = JSON.parse(await api(l, run, '/api/summary'));
  const internet = JSON.parse(await api(l, run, '/api/summary?scope=internet'));
  const hosts = JSON.parse(await api(l, run, '/api/top?dimension=host&start=today&end=today&limit=100'));
  const metrics = await api(l, run, '/metrics');
  const status = JSON.parse(await api(l, run, '/api/status'));
  const r = await run.stop('SIGTERM');
  t.equal(r.code, 0, `flowlens exits 0 (stderr: ${run.stderr.trim()})`);
  const wan = minus(ifStats(l, l.gw, l.wan.a), before.wan);
  const lan = minus(ifStats(l, l.gw, l.lan.b), before.lan);

  t.same(status.interfaces.map((i: { name: string; role: string }) => [i.name, i.role]), [[l.lan.b, 'lan'], [l.wan.a, 'wan']], '/api/status shows the roles');
  t.match(run.stderr + run.stdout, /counting on|"type":"api"/, 'started');

  // per interface: counted + forwarded + non-IP = what the kernel saw, packets and bytes
  const tallied = (iface: string) => ({ in: run.tally.totals(iface, 'ingress'), out: run.tally.totals(iface, 'egress') });
  /**
   * The IP (L3) bytes of one side of a veth from its own counters. veth counts
   * skb->len: with the Ethernet header on transmit, but without it on its NAPI
   * receive path, which it uses while an XDP program is attached (see
   * tcp-bulk-with-offloads-counts-wire-packets.test.ts). flowlens counts non-IP
   * frames with their Ethernet header.
   */
  const ipBytes = (kernelBytes: number, kernelPackets: number, c: { nonIpBytes: number; nonIpPackets: number }, eth: number) =>
    kernelBytes - eth * kernelPackets - (c.nonIpBytes - ETH_HEADER * c.nonIpPackets);
  const RX_ETH = 0;  // the XDP hook (flowlens run's default)
  const ipWire = (iface: string, k: IfStats) => {
    const c = tallied(iface);
    return { rx: ipBytes(k.rxBytes, k.rxPackets, c.in, RX_ETH), tx: ipBytes(k.txBytes, k.txPackets, c.out, ETH_HEADER) };
  };
  for (const [name, k] of [[l.wan.a, wan], [l.lan.b, lan]] as const) {
    const c = tallied(name);
    const wire = ipWire(name, k);
    t.equal(c.in.packets + c.in.forwardedPackets + c.in.nonIpPackets + c.in.malformedPackets, k.rxPackets, `${name}: ingress packets reconcile with rx_packets`);
    t.equal(c.out.packets + c.out.forwardedPackets + c.out.nonIpPackets + c.out.malformedPackets, k.txPackets, `${name}: egress packets reconcile with tx_packets`);
    t.equal(c.in.bytes + c.in.forwardedBytes, wire.rx, `${name}: ingress bytes (counted + forwarded) reconcile with rx_bytes`);
    t.equal(c.out.bytes + c.out.forwardedBytes, wire.tx, `${name}: egress bytes reconcile with tx_bytes`);
  }
  const wanCounts = tallied(l.wan.a);
  const forwardedMetric = new RegExp(`^flowlens_interface_forwarded_packets_total\\{iface="${l.wan.a}"[^}]*\\} (\\d+)$`, 'm').exec(metrics);
  t.equal(Number(forwardedMetric?.[1]), wanCounts.in.forwardedPackets + wanCounts.out.forwardedPackets,
    '/metrics flowlens_interface_forwarded_packets_total: the WAN\'s forwarded packets');
  const lanCounts = tallied(l.lan.b);
  t.equal(lanCounts.in.forwardedPackets + lanCounts.out.forwardedPackets, 0, 'the LAN interface skips nothing');
  // every IP byte that crossed the WAN interface, whoever counted it
  const wanWire = ipWire(l.wan.a, wan);
  const wanIpBytes = wanWire.rx + wanWire.tx;
  t.ok(wanIpBytes > 1_000_000, `the WAN carried the test's traffic (${wanIpBytes} IP bytes)`);

  const rows = run.tally.stats.flatMap((s) => s.traffic);
  t.equal(sum(rows, (x) => x.bytes), wanIpBytes, 'traffic rows, all interfaces: exactly the IP bytes that crossed the WAN');
  t.equal(sum(rows.filter((x) => x.scope === 'internet'), (x) => x.bytes), wanIpBytes, 'internet scope: the same');
  const hostTalkers = run.tally.stats.flatMap((s) => s.talkers.host);
  t.equal(sum(hostTalkers, (x) => x.bytesUp + x.bytesDown), wanIpBytes, 'host talkers (devices and the gateway): the same');
  t.equal(summary.today.totals.total, wanIpBytes, '/api/summary (history): the same');
  t.equal(internet.today.totals.total, wanIpBytes, '/api/summary?scope=internet: the same');
  t.equal(hosts.total.bytes ?? hosts.total.bytesUp + hosts.total.bytesDown, wanIpBytes, '/api/top?dimension=host (history): the same');
  t.equal(metricSum(metrics, 'flowlens_traffic_bytes_total'), wanIpBytes, '/metrics flowlens_traffic_bytes_total: the same');

  const sessions = run.tally.sessions;
  const locals = new Set(sessions.map((s) => s.local));
  t.same([...locals].sort(), [DEVICE, GW_WAN].filter((a) => locals.has(a)).sort(), 'every session has the device or the gateway as its local end');
  t.equal(sum(sessions, (s) => s.bytesUp + s.bytesDown), wanIpBytes, 'sessions: the same bytes');
  return { sessions, wanIpBytes, hosts };
}

function one(t: Test, sessions: SessionRecord[], what: string, pred: (s: SessionRecord) => boolean): SessionRecord | undefined {
  const found = sessions.filter(pred);
  t.equal(found.length, 1, `${what}: one session (${JSON.stringify(found.map((s) => `${s.iface} ${s.local}:${s.localPort} ${s.remote}:${s.remotePort}`))})`);
  return found[0];
}

/** The device's conversations out to the peer, and the gateway's own; shared by masquerade and routing. */
async function outbound(t: Test, l: Lab, tmp: string) {
  await startPeerServer(t, l.topo, l.net, ['udp-server', '5300', '300']);
  await startPeerServer(t, l.topo, l.net, ['tcp-server', '18080', '100000']);
  await startPeerServer(t, l.topo, l.net, ['tcp-server', '18082', '2000']);
  const www = path.join(tmp, 'www');
  rmSync(www, { recursive: true, force: true });
  writeFileSync(path.join(tmp, 'file.bin'), Buffer.alloc(300_000, 0x7a));
  await ready(t, l, l.net, 'python3', ['-m', 'http.server', '8000', '--bind', PEER, '--directory', tmp], 'web server', 8000);
  await ready(t, l, l.net, 'iperf3', ['-s', '-p', '5201', '-B', PEER], 'iperf3 server', 5201);

  t.equal(await client(t, l, l.dev, ['udp-client', PEER, '5300', '10', '100']), 3000, 'UDP replies received');
  t.equal(await client(t, l, l.dev, ['tcp-client', PEER, '18080', '1000']), 100000, 'TCP download complete');
  for (let i = 0; i < 20; i++) t.equal(await client(t, l, l.dev, ['tcp-client', PEER, '18082', '100']), 2000, `short connection ${i}`);
  const curl = await l.topo.run(l.dev, 'curl', ['-sf', '-o', '/dev/null', '-w', '%{size_download}', `http://${PEER}:8000/file.bin`]);
  t.equal(curl.stdout.trim(), '300000', 'curl downloaded the file');
  for (const reverse of [false, true]) {
    const r = await l.topo.run(l.dev, 'iperf3', ['-c', PEER, '-p', '5201', '-n', '2M', ...(reverse ? ['-R'] : [])]);
    t.equal(r.code, 0, `iperf3 ${reverse ? 'download' : 'upload'}: ${r.stderr}`);
  }
  t.equal((await l.topo.run(l.dev, 'ping', ['-c', '3', '-i', '0.2', PEER])).code, 0, 'the device pings the peer');
  // the gateway's own traffic
  t.equal((await l.topo.run(l.gw, 'ping', ['-c', '2', '-i', '0.2', PEER])).code, 0, 'the gateway pings the peer');
  t.equal(await client(t, l, l.gw, ['tcp-client', PEER, '18080', '500']), 100000, 'the gateway downloads');
}

function checkOutbound(t: Test, l: Lab, sessions: SessionRecord[]) {
  const udp = one(t, sessions, 'UDP', (s) => s.protocol === 17 && s.remotePort === 5300);
  t.match(udp, { iface: l.lan.b, local: DEVICE, remote: PEER, scope: 'internet', initiator: 'local',
    bytesUp: 10 * 128, bytesDown: 10 * 328, packetsUp: 10, packetsDown: 10 }, 'UDP: the sizes sent, as the device\'s');
  const dl = one(t, sessions, 'TCP download', (s) => s.protocol === 6 && s.remotePort === 18080 && s.local === DEVICE);
  t.match(dl, { iface: l.lan.b, scope: 'internet', initiator: 'local' });
  t.ok(dl && dl.bytesDown > 100000 && dl.bytesUp > 1000, 'TCP download: payload plus headers');
  t.equal(sessions.filter((s) => s.remotePort === 18082 && s.local === DEVICE).length, 20, 'twenty short connections, twenty sessions');
  t.equal(sessions.filter((s) => s.remotePort === 18082).length, 20, 'and no other session to that port');
  const web = one(t, sessions, 'curl', (s) => s.remotePort === 8000);
  t.ok(web && web.local === DEVICE && web.bytesDown > 300000, 'curl: the device\'s download');
  const perf = sessions.filter((s) => s.remotePort === 5201);
  t.equal(perf.length, 4, 'iperf3: a control and a data connection per run');
  t.ok(perf.every((s) => s.local === DEVICE && s.iface === l.lan.b), 'iperf3: the device\'s, on the LAN interface');
  const perfUp = sum(perf, (s) => s.bytesUp), perfDown = sum(perf, (s) => s.bytesDown);
  // the upload's sender resets its data connection at the end (iperf3 does), so what its socket
  // still held never reaches the wire: more than 1 MiB of its 2 MiB does; the download all of it
  t.ok(perfUp > 1 << 20 && perfDown > 2 << 20, `iperf3: both ways (up ${perfUp}, down ${perfDown}: ${JSON.stringify(perf.map((s) => [s.localPort, s.bytesUp, s.bytesDown, s.state, s.endReason]))})`);
  const ping = one(t, sessions, 'the device\'s ping', (s) => s.protocol === 1 && s.local === DEVICE);
  t.match(ping, { iface: l.lan.b, packetsUp: 3, packetsDown: 3, bytesUp: 3 * 84, bytesDown: 3 * 84, scope: 'internet' });
  const gwPing = one(t, sessions, 'the gateway\'s ping', (s) => s.protocol === 1 && s.local === GW_WAN);
  t.match(gwPing, { iface: l.wan.a, packetsUp: 2, packetsDown: 2, bytesUp: 2 * 84, bytesDown: 2 * 84 });
  const gwTcp = one(t, sessions, 'the gateway\'s download', (s) => s.protocol === 6 && s.local === GW_WAN);
  t.match(gwTcp, { iface: l.wan.a, remotePort: 18080, initiator: 'local' });
  t.equal(sessions.filter((s) => s.iface === l.wan.a).length, 2, 'the WAN interface has the gateway\'s own sessions only');
}

let tmpDirs: string[] = [];
t.teardown(() => { for (const d of tmpDirs) rmSync(d, { recursive: true, force: true }); });
function tmpDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'flowlens-gw-'));
  tmpDirs.push(d);
  return d;
}

t.test('masquerade: the device\'s traffic counted once, on the LAN side, the gateway\'s own on the WAN', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const l = lab(t, 'gm', 'masquerade');
  const tmp = tmpDir();
  const run = await startFlowlens(t, l, tmp, true);
  const before = { lan: ifStats(l, l.gw, l.lan.b), wan: ifStats(l, l.gw, l.wan.a) };
  await outbound(t, l, tmp);
  const { sessions, hosts } = await finish(t, l, run, before);
  checkOutbound(t, l, sessions);
  t.same(hosts.rows.map((r: { key: string }) => r.key).sort(), [DEVICE, GW_WAN].sort(), 'host talkers: the device and the gateway');
});

t.test('routed without NAT: the same, counted once', async (t) => {
  if (!requireKernel(t)) return;
  const l = lab(t, 'gr', 'routed');
  const tmp = tmpDir();
  const run = await startFlowlens(t, l, tmp, true);
  const before = { lan: ifStats(l, l.gw, l.lan.b), wan: ifStats(l, l.gw, l.wan.a) };
  await outbound(t, l, tmp);
  const { sessions } = await finish(t, l, run, before);
  checkOutbound(t, l, sessions);
});

t.test('a DNAT port forward: the peer\'s connections to the LAN server are the device\'s sessions', async (t) => {
  if (!requireKernel(t)) return;
  const l = lab(t, 'gd', 'dnat');
  const tmp = tmpDir();
  const run = await startFlowlens(t, l, tmp, true);
  const before = { lan: ifStats(l, l.gw, l.lan.b), wan: ifStats(l, l.gw, l.wan.a) };
  await startPeerServer(t, l.topo, l.dev, ['tcp-server', '18090', '300000']);
  await startPeerServer(t, l.topo, l.dev, ['udp-server', '5400', '200']);
  for (let i = 0; i < 5; i++) t.equal(await client(t, l, l.net, ['tcp-client', GW_WAN, '8080', '500']), 300000, `download ${i} through the port forward`);
  t.equal(await client(t, l, l.net, ['udp-client', GW_WAN, '5400', '5', '50']), 1000, 'UDP through the port forward');
  const { sessions } = await finish(t, l, run, before);
  const tcp = sessions.filter((s) => s.protocol === 6);
  t.equal(tcp.length, 5, 'five connections, five sessions');
  for (const s of tcp) {
    t.match(s, { iface: l.lan.b, local: DEVICE, localPort: 18090, remote: PEER, initiator: 'remote', scope: 'internet' }, 'the LAN server\'s session, begun by the peer');
    t.ok(s.bytesUp > 300000 && s.bytesDown > 500, 'payload plus headers each way');
  }
  const udp = one(t, sessions, 'UDP forward', (s) => s.protocol === 17);
  t.match(udp, { iface: l.lan.b, local: DEVICE, localPort: 5400, remote: PEER, initiator: 'remote',
    bytesUp: 5 * 228, bytesDown: 5 * 78, packetsUp: 5, packetsDown: 5 }, 'UDP: the sizes sent, first datagram included');
});

t.test('without roles a forwarding gateway keeps the per-interface view and says how to set roles', async (t) => {
  if (!requireKernel(t)) return;
  const l = lab(t, 'gn', 'routed');
  const listed = await l.topo.run(l.gw, ...cliCommand(['interfaces', '--format', 'json', '--iface', `${l.lan.b}:lan,${l.wan.a}:wan`]));
  t.equal(listed.code, 0, `flowlens interfaces: ${listed.stderr}`);
  t.same(JSON.parse(listed.stdout).filter((i: { name: string }) => i.name !== 'lo').map((i: { name: string; role: string | null }) => [i.name, i.role]),
    [[l.lan.b, 'lan'], [l.wan.a, 'wan']], 'flowlens interfaces shows the roles the settings give');
  l.topo.route(l.gw, 'default', PEER); // the suggested wan role goes to the default route's interface
  const run = new CliRun(l.topo.spawn(l.gw, ...cliCommand(['run', '--iface', `${l.lan.b},${l.wan.a}`, '--format', 'ndjson', '--interval', '200ms'])));
  t.ok(await run.waitFor((r) => r.tally.intervals >= 2, 30_000), `flowlens is counting (stderr: ${run.stderr})`);
  t.match(run.stderr, new RegExp(`warning: this host forwards packets .* ${l.lan.b}, ${l.wan.a} have no roles: a packet forwarded between them is counted on each of them.*--iface ${l.lan.b}:lan,${l.wan.a}:wan`),
    'the start warns and shows the flag');
  await startPeerServer(t, l.topo, l.net, ['udp-server', '5300', '300']);
  t.equal(await client(t, l, l.dev, ['udp-client', PEER, '5300', '10', '100']), 3000);
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 3, 5000);
  await run.stop('SIGTERM');
  for (const iface of [l.lan.b, l.wan.a]) {
    const udp = run.tally.sessions.filter((s) => s.iface === iface && s.protocol === 17);
    t.equal(udp.length, 1, `${iface}: its own UDP session, as before roles`);
    t.match(udp[0], { local: DEVICE, bytesUp: 1280, bytesDown: 3280 });
  }
});
