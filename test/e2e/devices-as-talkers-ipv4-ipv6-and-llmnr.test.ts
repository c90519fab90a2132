/**
 * Devices as a talker dimension on a real gateway: device 1 (a MAC in Apple's
 * IEEE block) has an IPv4 and an IPv6 address and names itself in a DHCP
 * REQUEST; device 2 (a locally administered MAC) names itself in an LLMNR
 * answer (RFC 4795, UDP from port 5355, as Windows does), sent as a real
 * datagram across the monitored LAN link. Both then send UDP datagrams of
 * known size to an "internet" server (public IPv4 and IPv6 addresses) through
 * the forwarding namespace where flowlens counts on the LAN links (role lan)
 * and the WAN link (role wan).
 *
 * Each device is one row keyed by its MAC, labelled with its name, with
 * exactly the sum of its addresses' bytes up and down, in the internet scope:
 * live in /api/top?dimension=device, from the history in /api/top (today),
 * gRPC TopTalkers and `flowlens top --by device --scope internet`, and by
 * name in the dashboard's Devices list in Chromium.
 */
import t, { type Test } from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { client, deviceLab, sendFrame, DEV1, DEV2, SERVER } from '../helpers/device-lab.js';
import { startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { eth, ETH_P, ipv4, IPPROTO, udp, ip4 } from '../helpers/packets.js';
import { dhcpMessage, dnsResponse, TYPE } from '../helpers/dns-messages.js';
import { grpcClients, unary } from '../helpers/api-clients.js';
import { CHROMIUM, openBrowser } from '../helpers/dashboard-lab.js';
import type { Device } from '../../src/enrich/devices.js';
import type * as pb from '../../src/api/grpc/gen/flowlens/v1/flowlens.js';
import { repoRoot } from '../../src/native/binding.js';

const FORWARD = path.join(repoRoot, 'test/helpers/unix-forward.cjs');

const APPLE = '00:1b:63:84:45:e6';
const RANDOM = 'da:a1:19:12:34:57';
const DEV1_V6 = 'fd00:77::10';
const SERVER_V6 = '2001:db8:100::2';

/** Per datagram: UDP payload + 8 + the IP header (20 IPv4, 40 IPv6). */
const DEV1_UP = 10 * (100 + 28) + 5 * (100 + 48);
const DEV1_DOWN = 10 * (300 + 28) + 5 * (300 + 48);
const DEV2_UP = 4 * (200 + 28);
const DEV2_DOWN = 4 * (300 + 28);

interface Row { key: string; label?: string; bytesUp: number; bytesDown: number }

function ipv6On(topo: Topology, ns: string): void {
  topo.exec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0']);
}

const MAC_KEY = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * The two device rows, exactly, with their MAC keys, names and bytes; no
 * device address on a row of its own. Other rows are the gateway's own
 * traffic (IPv6 neighbour discovery on its WAN link), keyed by its address.
 */
function checkRows(t: Test, rows: Row[], where: string): void {
  t.same(rows.filter((r) => MAC_KEY.test(r.key)).map((r) => r.key), [APPLE, RANDOM], `${where}: one row per device, busiest first (${JSON.stringify(rows)})`);
  t.same(rows.filter((r) => [DEV1, DEV1_V6, DEV2].includes(r.key)), [], `${where}: no device address has a row of its own`);
  t.match(rows.find((r) => r.key === APPLE), { label: 'alice-laptop', bytesUp: DEV1_UP, bytesDown: DEV1_DOWN }, `${where}: device 1, the sum of its addresses`);
  t.match(rows.find((r) => r.key === RANDOM), { label: 'win-desk', bytesUp: DEV2_UP, bytesDown: DEV2_DOWN }, `${where}: device 2, named by LLMNR`);
}

t.test('devices: one talker row per MAC (IPv4 + IPv6), named by DHCP and LLMNR, exact bytes in every API', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-device-talkers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  const { topo, dev1, dev2, gw, srv, lan1, lan2, wan } = deviceLab(t, 'dvt', [APPLE, RANDOM], (lab) => { for (const ns of [lab.dev1, lab.gw, lab.srv]) ipv6On(lab.topo, ns); });
  // (after the MAC change: a link going down drops its IPv6 addresses)
  // a link's own setting follows where it was made, not its namespace: IPv6 on, per link
  for (const [ns, dev] of [[dev1, lan1.a], [gw, lan1.b], [gw, wan.a], [srv, wan.b]] as const) topo.exec(ns, 'sysctl', ['-qw', `net.ipv6.conf.${dev}.disable_ipv6=0`]);
  // no duplicate address detection: the addresses are usable at once
  topo.exec(dev1, 'ip', ['addr', 'add', `${DEV1_V6}/64`, 'dev', lan1.a, 'nodad']);
  topo.exec(gw, 'ip', ['addr', 'add', 'fd00:77::1/64', 'dev', lan1.b, 'nodad']);
  topo.exec(gw, 'ip', ['addr', 'add', '2001:db8:100::1/64', 'dev', wan.a, 'nodad']);
  topo.exec(srv, 'ip', ['addr', 'add', `${SERVER_V6}/64`, 'dev', wan.b, 'nodad']);
  topo.exec(dev1, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd00:77::1']);
  topo.exec(srv, 'ip', ['-6', 'route', 'add', 'fd00::/8', 'via', '2001:db8:100::1']);
  topo.exec(gw, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  await startPeerServer(t, topo, srv, ['udp-server', '5301', '300', SERVER]);
  await startPeerServer(t, topo, srv, ['udp-server', '5301', '300', SERVER_V6]);

  const ifaces = `${lan1.b}:lan,${lan2.b}:lan,${wan.a}:wan`;
  const run = new CliRun(topo.spawn(gw, ...cliCommand(['run', '--iface', ifaces, '--format', 'ndjson', '--interval', '200ms',
    '--data-dir', dataDir, '--flush-interval', '1s', '--http-port', '0', '--grpc-port', '0'])));
  t.teardown(() => run.stop('SIGKILL'));
  t.ok(await run.waitFor((r) => r.tally.api !== undefined && r.tally.intervals >= 2, 30_000), `flowlens counts (stderr: ${run.stderr})`);
  const httpPort = run.tally.api!.httpPort;
  const api = (p: string) => JSON.parse(topo.exec(gw, 'curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${httpPort}${p}`]));

  // device 1 asks for its lease with its host name (a real frame on its link)
  sendFrame(topo, dev1, lan1.a, eth({ type: ETH_P.IPV4, src: APPLE, dst: 'ff:ff:ff:ff:ff:ff' }, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', protocol: IPPROTO.UDP, l4Checksum: true },
    udp({ sport: 68, dport: 67 }, dhcpMessage({ mac: APPLE, type: 3, options: [[50, ip4(DEV1)], [12, Buffer.from('alice-laptop')]] })))));
  // device 2 answers an LLMNR query for its own name: QR set, no other flag (RFC 4795 §2.1.1), from port 5355
  const llmnr = dnsResponse({ id: 0x4c4c, question: 'WIN-DESK', qtype: TYPE.A, answers: [{ name: 'WIN-DESK', type: TYPE.A, ttl: 30, data: DEV2 }] });
  llmnr.writeUInt16BE(0x8000, 2);
  topo.exec(dev2, 'python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 5355)); s.sendto(bytes.fromhex(sys.argv[3]), (sys.argv[2], 5355))',
    DEV2, '192.168.78.1', llmnr.toString('hex')]);
  // the gateway's neighbour table learns both devices' addresses (MACs): IPv4 and IPv6
  topo.exec(dev1, 'ping', ['-c', '1', '-W', '2', '192.168.77.1']);
  topo.exec(dev1, 'ping', ['-6', '-c', '1', '-W', '2', 'fd00:77::1']);
  topo.exec(dev2, 'ping', ['-c', '1', '-W', '2', '192.168.78.1']);
  const known = (list: Device[]) => {
    const d1 = list.find((d) => d.mac === APPLE);
    const d2 = list.find((d) => d.mac === RANDOM);
    return d1?.name === 'alice-laptop' && d1.addresses.includes(DEV1) && d1.addresses.includes(DEV1_V6) && d2?.name === 'win-desk';
  };
  t.ok(await waitFor(() => known(api('/api/devices').devices), 20_000), `both devices known with their addresses: ${JSON.stringify(api('/api/devices').devices)}`);
  t.match(api('/api/devices').devices.find((d: Device) => d.mac === RANDOM), { name: 'win-desk', nameSource: 'llmnr', addresses: [DEV2] }, 'the LLMNR answer names device 2 (names are compared lower-case, as DNS does)');

  await client(t, topo, dev1, ['udp-client', SERVER, '5301', '10', '100']);
  await client(t, topo, dev1, ['udp-client', SERVER_V6, '5301', '5', '100']);
  await client(t, topo, dev2, ['udp-client', SERVER, '5301', '4', '200']);

  const live = () => api('/api/top?dimension=device&scope=internet&window=300&limit=50').rows as Row[];
  t.ok(await waitFor(() => live().reduce((n, r) => n + r.bytesUp + r.bytesDown, 0) >= DEV1_UP + DEV1_DOWN + DEV2_UP + DEV2_DOWN, 10_000), 'the live window has the traffic');
  checkRows(t, live(), 'live /api/top?dimension=device');
  const host = api('/api/top?dimension=host&scope=internet&window=300&limit=50').rows as Row[];
  t.match(host.find((r) => r.key === DEV1_V6), { bytesUp: 5 * 148 }, 'the host dimension still has each address on its own');

  // the history (flushed every second): /api/top for today, gRPC TopTalkers
  const today = () => api('/api/top?dimension=device&scope=internet&start=today&end=today&limit=50').rows as Row[];
  t.ok(await waitFor(() => today().find((r) => r.key === RANDOM)?.bytesDown === DEV2_DOWN && today().find((r) => r.key === APPLE)?.bytesDown === DEV1_DOWN, 15_000), 'the history has it');
  checkRows(t, today(), 'history /api/top today');
  const grpcSock = path.join(dir, 'grpc.sock');
  const forward = topo.spawn(gw, 'env', ['-u', 'NODE_OPTIONS', process.execPath, FORWARD, grpcSock, String(run.tally.api!.grpcPort)]);
  let forwardOut = '';
  forward.stdout!.setEncoding('utf8').on('data', (d: string) => { forwardOut += d; });
  t.ok(await waitFor(() => forwardOut.includes('ready'), 10_000), 'gRPC forwarder ready');
  const c = grpcClients(`unix:${grpcSock}`);
  t.teardown(() => c.close());
  const gt = await unary<pb.TopTalkersResponse>(c.traffic, 'topTalkers', { dimension: 'device', from: 'today', to: 'today', windowSeconds: 0, limit: 50, scope: 'internet', direction: '' });
  checkRows(t, gt.rows, 'gRPC TopTalkers (history)');
  const gl = await unary<pb.TopTalkersResponse>(c.traffic, 'topTalkers', { dimension: 'device', from: '', to: '', windowSeconds: 300, limit: 50, scope: 'internet', direction: '' });
  checkRows(t, gl.rows, 'gRPC TopTalkers (live)');

  // the dashboard: the Overview's Devices list, today's internet traffic
  const wrapper = path.join(dir, 'chromium-in-netns');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${gw} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const { page, errors } = await openBrowser(t, wrapper);
  await page.goto(`http://127.0.0.1:${httpPort}/#/overview`);
  await page.getByRole('button', { name: 'Today' }).click();
  await page.getByRole('tab', { name: 'Devices' }).click();
  await page.waitForFunction(() => ['alice-laptop', 'win-desk', 'fd00:77::10'].every((s) => document.querySelector('[data-testid=talkers]')?.textContent?.includes(s)), undefined, { timeout: 20_000 });
  const items = (await page.getByTestId('talkers').locator('li').allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
  t.match(items[0], /alice-laptop.*00:1b:63:84:45:e6.*Apple, Inc\..*192\.168\.77\.10.*fd00:77::10|alice-laptop.*00:1b:63:84:45:e6.*Apple, Inc\..*fd00:77::10.*192\.168\.77\.10/, `the busiest device first, with its name, MAC, vendor and addresses: ${items[0]}`);
  t.match(items[1], /win-desk.*da:a1:19:12:34:57/, `then device 2: ${items[1]}`);
  t.same(errors, [], 'no console errors');

  const stop = await run.stop('SIGTERM');
  t.equal(stop.code, 0, `exit 0 (stderr: ${run.stderr.trim()})`);
  // the CLI reads the same rows from the history
  const [cmd, argv] = cliCommand(['top', '--by', 'device', '--scope', 'internet', '--data-dir', dataDir, '--format', 'json', '--limit', '50']);
  checkRows(t, JSON.parse(execFileSync(cmd, argv, { encoding: 'utf8', timeout: 30_000 })).rows, 'flowlens top --by device --scope internet');
  const [cmd2, argv2] = cliCommand(['top', '--by', 'device', '--scope', 'internet', '--data-dir', dataDir]);
  t.match(execFileSync(cmd2, argv2, { encoding: 'utf8', timeout: 30_000 }), /1\. 00:1b:63:84:45:e6\s+alice-laptop/, 'the table: MAC and name');
});
