/**
 * A WAN interface that is deleted and created again (a PPP or WireGuard
 * uplink on every reconnect) keeps its role on its new ifindex, so forwarded
 * traffic is still counted once: on the LAN side, as the device's.
 *
 * Three namespaces: a LAN device (192.168.89.10) → a routing gateway → an
 * "internet" peer (203.0.113.2), flowlens in the gateway with
 * --iface LAN:lan,WAN:wan. UDP exchanges of known sizes (100-byte requests,
 * 300-byte replies: 128 and 328 IP bytes) before the WAN is deleted and after
 * it is re-created. If the role were lost, the WAN would count the second
 * life's packets a second time.
 */
import t from 'tap';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { peerCommand, startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';

const DEVICE = '192.168.89.10', GW_LAN = '192.168.89.1', GW_WAN = '203.0.113.1', PEER = '203.0.113.2';
const UP = 128, DOWN = 328;

t.test('a re-created WAN keeps its role: forwarded traffic counted once in both lives', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const topo = Topology.create(t, 'rwr');
  const dev = topo.ns('dev'), gw = topo.ns('gw'), net = topo.ns('net');
  const lan = topo.link(dev, `${DEVICE}/24`, gw, `${GW_LAN}/24`);
  const wan = topo.link(gw, `${GW_WAN}/24`, net, `${PEER}/24`);
  topo.route(dev, 'default', GW_LAN);
  topo.forward(gw);
  const peerRoute = () => topo.route(net, '192.168.89.0/24', GW_WAN);
  peerRoute();
  await startPeerServer(t, topo, net, ['udp-server', '5400', '300']);
  const send = async (count: number) => {
    const r = await topo.run(dev, ...peerCommand(['udp-client', PEER, '5400', String(count), '100']));
    t.equal(r.code, 0, `${count} datagrams through the gateway answered (${r.stdout.trim()} ${r.stderr.trim()})`);
  };

  const run = new CliRun(topo.spawn(gw, ...cliCommand(['run', '--iface', `${lan.b}:lan,${wan.a}:wan`, '--format', 'ndjson', '--interval', '200ms',
    '--listen', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--no-bundled-geo'])));
  t.teardown(() => run.stop('SIGKILL'));
  t.ok(await run.waitFor((r) => r.tally.api !== undefined && r.tally.intervals >= 2, 30_000), `flowlens is counting (stderr: ${run.stderr})`);
  const status = async () => {
    const r = await topo.run(gw, 'curl', ['-sf', `${run.tally.api!.http}/api/status`]);
    return (JSON.parse(r.stdout).interfaces as Array<{ name: string; role?: string; state: string; ifindex: number; reattaches: number }>);
  };
  const wanStatus = async () => (await status()).find((i) => i.name === wan.a)!;
  const rowBytes = () => run.tally.stats.flatMap((s) => s.traffic).reduce((a, r) => a + r.bytes, 0);
  const wanForwarded = () => run.tally.totals(wan.a, 'ingress').forwardedPackets + run.tally.totals(wan.a, 'egress').forwardedPackets;

  // first life
  await send(20);
  t.ok(await waitFor(() => rowBytes() >= 20 * (UP + DOWN), 15_000, 100), 'the first life is counted');
  const firstIfindex = (await wanStatus()).ifindex;

  // the uplink goes away and comes back under the same name, on a new ifindex
  topo.exec(gw, 'ip', ['link', 'del', wan.a]);
  t.ok(await waitFor(async () => (await wanStatus()).state === 'gone', 15_000, 100), 'status: the WAN is gone');
  topo.exec(gw, 'ip', ['link', 'add', wan.a, 'type', 'veth', 'peer', 'name', wan.b, 'netns', net]);
  t.ok(await waitFor(async () => (await wanStatus()).state === 'attached', 15_000, 100), 'status: attached again');
  const back = await wanStatus();
  t.not(back.ifindex, firstIfindex, 'on a new ifindex');
  t.equal(back.role, 'wan', 'still the WAN');
  t.equal(back.reattaches, 1, 'one reattach');
  topo.exec(gw, 'ip', ['addr', 'add', `${GW_WAN}/24`, 'dev', wan.a]);
  topo.exec(net, 'ip', ['addr', 'add', `${PEER}/24`, 'dev', wan.b]);
  topo.exec(gw, 'ip', ['link', 'set', wan.a, 'up']);
  topo.exec(net, 'ip', ['link', 'set', wan.b, 'up']);
  peerRoute();

  // second life
  await send(30);
  t.ok(await waitFor(() => rowBytes() >= 50 * (UP + DOWN) && wanForwarded() >= 100, 15_000, 100), 'the second life is counted');
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 3, 10_000);

  t.equal(rowBytes(), 50 * (UP + DOWN), 'traffic rows: every forwarded byte of both lives, once');
  const rows = run.tally.stats.flatMap((s) => s.traffic);
  t.same([...new Set(rows.map((r) => r.iface))], [lan.b], 'all of it counted on the LAN side');
  t.equal(wanForwarded(), 100, 'the WAN passed on all 100 packets (50 each way) as forwarded, in both lives');
  const wanCounted = run.tally.totals(wan.a, 'ingress').packets + run.tally.totals(wan.a, 'egress').packets;
  t.equal(wanCounted, 0, 'and counted none of them itself');
  const hosts = run.tally.stats.flatMap((s) => s.talkers.host);
  t.same([...new Set(hosts.map((h) => h.key))], [DEVICE], 'the device is the only local host');
  t.equal(hosts.reduce((a, h) => a + h.bytesUp + h.bytesDown, 0), 50 * (UP + DOWN), 'and has all the bytes');

  const r = await run.stop('SIGTERM');
  t.equal(r.code, 0, 'exits 0');
  const sessions = run.tally.sessions;
  t.equal(sessions.reduce((a, s) => a + s.bytesUp + s.bytesDown, 0), 50 * (UP + DOWN), 'the sessions have the same bytes');
  t.same([...new Set(sessions.map((s) => `${s.local} ${s.remote}`))], [`${DEVICE} ${PEER}`], 'every session is the device\'s with the peer');
});
