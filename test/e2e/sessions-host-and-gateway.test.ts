/**
 * Sessions from real traffic, on a host and on a gateway.
 *
 * Host: flowlens counts in the namespace of a host with a LAN address and a
 * public one; UDP and ping to a public peer are internet sessions begun
 * locally, TCP from a LAN peer to a server on the host is a lan session begun
 * remotely. Gateway: a namespace forwards between a LAN client and a public
 * server; on both of its interfaces the client (the LAN side) is local.
 * Every session equals, exactly, the kernel flows it pairs; UDP and ICMP also
 * equal the sizes sent (L3: payload + 8 + 20 bytes).
 */
import t, { type Test } from 'tap';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { peerCommand, startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import type { SessionRecord } from '../../src/flows/types.js';


async function client(t: Test, topo: Topology, ns: string, args: string[]): Promise<number> {
  const r = await topo.run(ns, ...peerCommand(args));
  t.equal(r.code, 0, `${args.join(' ')}: ${r.stdout.trim()} ${r.stderr.trim()}`);
  return Number(/done (\d+)/.exec(r.stdout)?.[1] ?? NaN);
}

/** The kernel flows of one conversation on one interface, summed by direction. */
function flowSums(run: CliRun, iface: string, local: string, remote: string, protocol: number) {
  const out = { up: { bytes: 0, packets: 0 }, down: { bytes: 0, packets: 0 } };
  for (const f of run.tally.flows.values()) {
    if (f.iface !== iface || f.protocol !== protocol) continue;
    if (f.src === local && f.dst === remote) { out.up.bytes += f.bytes; out.up.packets += f.packets; }
    if (f.src === remote && f.dst === local) { out.down.bytes += f.bytes; out.down.packets += f.packets; }
  }
  return out;
}

function find(sessions: SessionRecord[], iface: string, protocol: number): SessionRecord[] {
  return sessions.filter((s) => s.iface === iface && s.protocol === protocol);
}

async function stopAndCollect(t: Test, run: CliRun): Promise<SessionRecord[]> {
  const r = await run.stop('SIGTERM');
  t.equal(r.code, 0, `flowlens exits 0 on SIGTERM (stderr: ${run.stderr.trim()})`);
  return run.tally.sessions;
}

t.test('a host: internet sessions begun here, a lan session begun by a peer', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const topo = Topology.create(t, 'sh');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, '10.232.1.1/24', peer, '10.232.1.2/24');
  topo.exec(host, 'ip', ['addr', 'add', '198.51.100.1/24', 'dev', link.a]);
  topo.exec(peer, 'ip', ['addr', 'add', '198.51.100.2/24', 'dev', link.b]);

  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--iface', link.a, '--format', 'ndjson', '--interval', '200ms', '--no-history', '--top', '50'])));
  t.ok(await run.waitFor((r) => r.tally.intervals >= 2, 30_000), `flowlens is counting (stderr: ${run.stderr})`);

  await startPeerServer(t, topo, peer, ['udp-server', '5300', '300']);
  t.equal(await client(t, topo, host, ['udp-client', '198.51.100.2', '5300', '10', '100']), 3000, 'UDP replies received');
  await startPeerServer(t, topo, host, ['tcp-server', '18080', '50000']);
  t.equal(await client(t, topo, peer, ['tcp-client', '10.232.1.1', '18080', '1000']), 50000, 'TCP download complete');
  const ping = await topo.run(host, 'ping', ['-c', '3', '-i', '0.2', '-s', '56', '198.51.100.2']);
  t.equal(ping.code, 0, 'ping answered');
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 3, 5000);
  const sessions = await stopAndCollect(t, run);

  const udp = find(sessions, link.a, 17);
  t.equal(udp.length, 1, 'one UDP session');
  t.match(udp[0], { local: '198.51.100.1', remote: '198.51.100.2', remotePort: 5300, scope: 'internet', initiator: 'local',
    bytesUp: 10 * 128, bytesDown: 10 * 328, packetsUp: 10, packetsDown: 10, endReason: 'shutdown' });

  const tcp = find(sessions, link.a, 6);
  t.equal(tcp.length, 1, 'one TCP session');
  const sums = flowSums(run, link.a, '10.232.1.1', '10.232.1.2', 6);
  t.match(tcp[0], { local: '10.232.1.1', localPort: 18080, remote: '10.232.1.2', scope: 'lan', initiator: 'remote', state: 'closed',
    bytesUp: sums.up.bytes, bytesDown: sums.down.bytes, packetsUp: sums.up.packets, packetsDown: sums.down.packets });
  t.ok(tcp[0]!.bytesUp > 50000 && tcp[0]!.bytesDown > 1000, 'payload plus headers each way');

  const icmp = find(sessions, link.a, 1);
  t.equal(icmp.length, 1, 'echo requests and replies are one session');
  t.match(icmp[0], { state: 'echo', initiator: 'local', scope: 'internet', packetsUp: 3, packetsDown: 3, bytesUp: 3 * 84, bytesDown: 3 * 84 });

  // the per-interval traffic rows agree with the sessions
  const internetUp = run.tally.stats.flatMap((s) => s.traffic).filter((r) => r.iface === link.a && r.scope === 'internet' && r.direction === 'up')
    .reduce((a, r) => a + r.bytes, 0);
  const internetSessionsUp = sessions.filter((s) => s.iface === link.a && s.scope === 'internet').reduce((a, s) => a + s.bytesUp, 0);
  t.equal(internetUp, internetSessionsUp, 'internet upload in the traffic rows equals the internet sessions\' upload');
  const ports = new Set(run.tally.stats.flatMap((s) => s.talkers.port.map((r) => r.key)));
  for (const p of ['udp/5300', 'tcp/18080', 'icmp/echo']) t.ok(ports.has(p), `service ${p} among the talkers`);
});

t.test('a gateway: forwarded traffic has the LAN client as its local end on both interfaces', async (t) => {
  if (!requireKernel(t)) return;
  const topo = Topology.create(t, 'sg');
  const lanClient = topo.ns('client');
  const gw = topo.ns('gw');
  const srv = topo.ns('server');
  const lan = topo.link(lanClient, '192.168.77.10/24', gw, '192.168.77.1/24');
  const wan = topo.link(gw, '198.51.100.1/24', srv, '198.51.100.2/24');
  topo.route(lanClient, 'default', '192.168.77.1');
  topo.route(srv, '192.168.77.0/24', '198.51.100.1');
  topo.forward(gw);

  const run = new CliRun(topo.spawn(gw, ...cliCommand(['run', '--iface', `${lan.b},${wan.a}`, '--format', 'ndjson', '--interval', '200ms', '--no-history'])));
  t.ok(await run.waitFor((r) => r.tally.intervals >= 4, 30_000), `flowlens is counting (stderr: ${run.stderr})`);
  await startPeerServer(t, topo, srv, ['udp-server', '5301', '300']);
  t.equal(await client(t, topo, lanClient, ['udp-client', '198.51.100.2', '5301', '10', '100']), 3000);
  await startPeerServer(t, topo, srv, ['tcp-server', '18081', '20000']);
  t.equal(await client(t, topo, lanClient, ['tcp-client', '198.51.100.2', '18081', '5000']), 20000);
  const ticks = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= ticks + 4, 5000);
  const sessions = await stopAndCollect(t, run);

  for (const iface of [lan.b, wan.a]) {
    const udp = find(sessions, iface, 17);
    t.equal(udp.length, 1, `${iface}: one UDP session`);
    t.match(udp[0], { local: '192.168.77.10', remote: '198.51.100.2', remotePort: 5301, scope: 'internet', initiator: 'local',
      bytesUp: 10 * 128, bytesDown: 10 * 328, packetsUp: 10, packetsDown: 10 }, `${iface}: UDP exact`);
    const tcp = find(sessions, iface, 6);
    t.equal(tcp.length, 1, `${iface}: one TCP session`);
    const sums = flowSums(run, iface, '192.168.77.10', '198.51.100.2', 6);
    t.match(tcp[0], { local: '192.168.77.10', remote: '198.51.100.2', remotePort: 18081, scope: 'internet', initiator: 'local',
      bytesUp: sums.up.bytes, bytesDown: sums.down.bytes, packetsUp: sums.up.packets, packetsDown: sums.down.packets }, `${iface}: TCP equals its flows`);
    t.ok(tcp[0]!.bytesUp > 5000 && tcp[0]!.bytesDown > 20000, `${iface}: payload plus headers each way`);
  }
  // forwarding changes nothing in L3 sizes: both interfaces saw the same bytes
  const lanTcp = find(sessions, lan.b, 6)[0]!;
  const wanTcp = find(sessions, wan.a, 6)[0]!;
  t.equal(lanTcp.bytesUp, wanTcp.bytesUp, 'the same upload on both sides of the gateway');
  t.equal(lanTcp.bytesDown, wanTcp.bytesDown, 'the same download on both sides of the gateway');
});
