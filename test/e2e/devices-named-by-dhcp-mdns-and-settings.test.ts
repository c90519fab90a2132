/**
 * Devices on a real gateway: two LAN devices (namespaces whose MACs the test
 * sets: one in Apple's IEEE block, one locally administered, as phones
 * randomize) reach an "internet" server through a forwarding namespace where
 * flowlens counts on both LAN links (role lan) and the WAN link (role wan).
 * The first device sends a DHCP REQUEST with its host name, the second an
 * mDNS announcement, each as a real frame (built with test/helpers/packets.ts,
 * sent on a packet socket); then both send UDP datagrams of known size.
 *
 * flowlens shows each device with its MAC (from the gateway's neighbour
 * table), vendor (Debian's ieee-data) or "locally administered", name and
 * source, and exact bytes: in /api/devices, on the local-host talker rows of
 * /api/top, and in `flowlens devices` / `flowlens top --by host` from the
 * history. After a restart with a settings file naming the first device,
 * the settings' name wins and the second keeps its mDNS name from the history.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { client, deviceLab, sendFrame, DEV1, DEV2, SERVER } from '../helpers/device-lab.js';
import { startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand, CLI } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { eth, ETH_P, ipv4, IPPROTO, udp, ip4 } from '../helpers/packets.js';
import { dhcpMessage, mdnsAnnouncement, TYPE } from '../helpers/dns-messages.js';
import type { Device } from '../../src/enrich/devices.js';
import { grpcClients, unary } from '../helpers/api-clients.js';
import type * as pb from '../../src/api/grpc/gen/flowlens/v1/flowlens.js';
import { repoRoot } from '../../src/native/binding.js';

const FORWARD = path.join(repoRoot, 'test/helpers/unix-forward.cjs');

const APPLE = '00:1b:63:84:45:e6';
const RANDOM = 'da:a1:19:12:34:56';

function cli(args: string[]): string {
  const [cmd, argv] = cliCommand(args);
  return execFileSync(cmd, argv, { encoding: 'utf8', timeout: 30_000 });
}

t.test('devices: MAC, vendor, DHCP and mDNS names, exact bytes; the settings name wins after a restart', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-devices-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data');
  const { topo, dev1, dev2, gw, srv, lan1, lan2, wan } = deviceLab(t, 'dev', [APPLE, RANDOM]);
  await startPeerServer(t, topo, srv, ['udp-server', '5301', '300']);

  const ifaces = `${lan1.b}:lan,${lan2.b}:lan,${wan.a}:wan`;
  const run = new CliRun(topo.spawn(gw, ...cliCommand(['run', '--iface', ifaces, '--format', 'ndjson', '--interval', '200ms',
    '--data-dir', dataDir, '--flush-interval', '1s', '--http-port', '0', '--grpc-port', '0'])));
  t.ok(await run.waitFor((r) => r.tally.api !== undefined && r.tally.intervals >= 2, 30_000), `flowlens counts (stderr: ${run.stderr})`);
  const api = (p: string) => JSON.parse(topo.exec(gw, 'curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${run.tally.api!.httpPort}${p}`]));

  // device 1 asks for its lease with its host name; device 2 announces its name over mDNS
  const dhcp = eth({ type: ETH_P.IPV4, src: APPLE, dst: 'ff:ff:ff:ff:ff:ff' }, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', protocol: IPPROTO.UDP, l4Checksum: true },
    udp({ sport: 68, dport: 67 }, dhcpMessage({ mac: APPLE, type: 3, options: [[50, ip4(DEV1)], [12, Buffer.from('alice-laptop')]] }))));
  sendFrame(topo, dev1, lan1.a, dhcp);
  const mdns = eth({ type: ETH_P.IPV4, src: RANDOM, dst: '01:00:5e:00:00:fb' }, ipv4({ src: DEV2, dst: '224.0.0.251', protocol: IPPROTO.UDP, ttl: 255, l4Checksum: true },
    udp({ sport: 5353, dport: 5353 }, mdnsAnnouncement([{ name: 'kitchen-speaker.local', type: TYPE.A, ttl: 120, data: DEV2 }]))));
  sendFrame(topo, dev2, lan2.a, mdns);
  const mdnsL3 = mdns.length - 14;
  // another customer's DHCP request on the WAN segment (a cable network) is nobody's device here
  sendFrame(topo, srv, wan.b, eth({ type: ETH_P.IPV4, src: 'b8:27:eb:00:00:99', dst: 'ff:ff:ff:ff:ff:ff' }, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', protocol: IPPROTO.UDP, l4Checksum: true },
    udp({ sport: 68, dport: 67 }, dhcpMessage({ mac: 'b8:27:eb:00:00:99', type: 1, options: [[12, Buffer.from('isp-neighbour')]] })))));
  // traffic of known size: UDP payload + 8 + 20 bytes each way
  await client(t, topo, dev1, ['udp-client', SERVER, '5301', '10', '100']);
  await client(t, topo, dev2, ['udp-client', SERVER, '5301', '5', '200']);

  const named = (list: Device[]) => list.find((d) => d.mac === APPLE)?.name && list.find((d) => d.mac === RANDOM)?.name;
  t.ok(await waitFor(() => named(api('/api/devices').devices), 20_000), 'both devices named in /api/devices');
  const devices: Device[] = api('/api/devices').devices;
  t.equal(devices.length, 2, `two devices: neither the WAN server nor the WAN's DHCP client is one (${JSON.stringify(devices)})`);
  t.match(devices.find((d) => d.mac === APPLE), { macKind: 'universal', vendor: 'Apple, Inc.', name: 'alice-laptop', nameSource: 'dhcp', addresses: [DEV1], iface: lan1.b });
  const phone = devices.find((d) => d.mac === RANDOM)!;
  t.match(phone, { macKind: 'local', name: 'kitchen-speaker', nameSource: 'mdns', addresses: [DEV2], iface: lan2.b });
  t.equal(phone.vendor, undefined, 'a locally administered MAC has no vendor');

  t.match(api('/api/status'), { devices: 2, dhcpRequests: 1, mdnsAnswers: 1, deviceVendorProblem: '' }, '/api/status counts the devices and what named them');
  const top = api('/api/top?dimension=host&window=300&limit=50');
  const row = (key: string) => top.rows.find((r: { key: string }) => r.key === key);
  t.match(row(DEV1), { label: 'alice-laptop', bytesUp: 10 * 128, bytesDown: 10 * 328, packetsUp: 10, packetsDown: 10 }, 'device 1 on its local-host talker row, exact bytes');
  t.match(row(DEV2), { label: 'kitchen-speaker', bytesUp: 5 * 228 + mdnsL3, bytesDown: 5 * 328 }, 'device 2: its datagrams and its announcement');

  const stop = await run.stop('SIGTERM');
  t.equal(stop.code, 0, `exit 0 (stderr: ${run.stderr.trim()})`);

  // the history: `flowlens devices` and `flowlens top --by host`
  const stored: Array<Device & { bytesUp: number; bytesDown: number }> = JSON.parse(cli(['devices', '--data-dir', dataDir, '--format', 'json'])).devices;
  t.match(stored.find((d) => d.mac === APPLE), { vendor: 'Apple, Inc.', name: 'alice-laptop', addresses: [DEV1], bytesUp: 10 * 128, bytesDown: 10 * 328 });
  t.match(stored.find((d) => d.mac === RANDOM), { macKind: 'local', name: 'kitchen-speaker', bytesUp: 5 * 228 + mdnsL3, bytesDown: 5 * 328 });
  const table = cli(['devices', '--data-dir', dataDir]);
  t.match(table, /alice-laptop \(dhcp\)\s+00:1b:63:84:45:e6\s+Apple, Inc\.\s+192\.168\.77\.10\s+1\.28 KB\s+3\.28 KB/, 'the table: name, MAC, vendor, address, today\'s bytes');
  t.match(table, /kitchen-speaker \(mdns\)\s+da:a1:19:12:34:56\s+\(locally administered MAC\)/);
  const hosts = JSON.parse(cli(['top', '--by', 'host', '--data-dir', dataDir, '--format', 'json', '--limit', '50']));
  t.match(hosts.rows.find((r: { key: string }) => r.key === DEV1), { label: 'alice-laptop', bytesUp: 10 * 128 }, 'flowlens top --by host labels the device');

  // a restart with the settings file: its name wins; the mDNS name comes back from the history
  const config = path.join(dir, 'flowlens.yaml');
  writeFileSync(config, `interfaces: [{name: ${lan1.b}, role: lan}, {name: ${lan2.b}, role: lan}, {name: ${wan.a}, role: wan}]
dataDir: ${dataDir}
interval: 200ms
api: {httpPort: 0, grpcPort: 0}
devices:
  - {mac: "00:1B:63:84:45:E6", name: "Alice's MacBook"}
`);
  const again = new CliRun(topo.spawn(gw, 'env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, 'run', '--config', config, '--format', 'ndjson']));
  t.teardown(() => again.stop('SIGKILL'));
  t.ok(await again.waitFor((r) => r.tally.api !== undefined && r.tally.intervals >= 2, 30_000), `flowlens counts again (stderr: ${again.stderr})`);
  const api2 = (p: string) => JSON.parse(topo.exec(gw, 'curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${again.tally.api!.httpPort}${p}`]));
  const after: Device[] = api2('/api/devices').devices;
  t.match(after.find((d) => d.mac === APPLE), { name: "Alice's MacBook", nameSource: 'settings', vendor: 'Apple, Inc.' }, 'the settings name wins over the DHCP one');
  t.match(after.find((d) => d.mac === RANDOM), { name: 'kitchen-speaker', nameSource: 'mdns', addresses: [DEV2] }, 'restored from the history, no new announcement');
  // gRPC: Devices, and the device label on TopTalkers (a real grpc-js client, through a Unix socket into the namespace)
  const grpcSock = path.join(dir, 'grpc.sock');
  const forward = topo.spawn(gw, 'env', ['-u', 'NODE_OPTIONS', process.execPath, FORWARD, grpcSock, String(again.tally.api!.grpcPort)]);
  let forwardOut = '';
  forward.stdout!.setEncoding('utf8').on('data', (d: string) => { forwardOut += d; });
  t.ok(await waitFor(() => forwardOut.includes('ready'), 10_000), 'gRPC forwarder ready');
  const c = grpcClients(`unix:${grpcSock}`);
  t.teardown(() => c.close());
  const g = await unary<pb.DevicesResponse>(c.traffic, 'devices', {});
  t.match(g.devices.find((d) => d.mac === APPLE), { macKind: 'universal', vendor: 'Apple, Inc.', name: "Alice's MacBook", nameSource: 'settings', addresses: [DEV1], iface: lan1.b });
  t.match(g.devices.find((d) => d.mac === RANDOM), { macKind: 'local', vendor: '', name: 'kitchen-speaker', nameSource: 'mdns' }, 'gRPC Devices');
  const gt = await unary<pb.TopTalkersResponse>(c.traffic, 'topTalkers', { dimension: 'host', from: 'today', to: 'today', windowSeconds: 0, limit: 50, scope: '', direction: '' });
  t.match(gt.rows.find((r) => r.key === DEV1), { label: "Alice's MacBook", bytesUp: 10 * 128, bytesDown: 10 * 328 }, 'gRPC TopTalkers host rows carry the device label');
  const today = api2('/api/top?dimension=host&start=today&end=today&limit=50');
  t.match(today.rows.find((r: { key: string }) => r.key === DEV1), { label: "Alice's MacBook", bytesUp: 10 * 128, bytesDown: 10 * 328 }, 'history talker rows carry the device label');
  const r2 = await again.stop('SIGTERM');
  t.equal(r2.code, 0, `exit 0 (stderr: ${again.stderr.trim()})`);
});
