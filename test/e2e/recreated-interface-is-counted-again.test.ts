/**
 * An interface deleted and created again under the same name (a PPP,
 * WireGuard or VPN link on every reconnect) is counted again on its new
 * ifindex: flowlens's totals equal the veth's own counters for the two
 * periods it existed, the gap shows in /api/status ("gone", reattaches, gone
 * time), in /metrics and on stderr, and health says so while it is gone.
 *
 * UDP with known sizes (100-byte requests, 300-byte replies: 128 and 328 L3
 * bytes) between two namespaces, static neighbours and no IPv6, so every
 * packet the veth counts is one of ours: the veth's packet counters and the
 * known sizes are the truth (its byte counters include link-layer headers,
 * in one direction only on this kernel).
 */
import t from 'tap';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { peerCommand, startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';

const UP = 128;
const DOWN = 328;

t.test('a deleted and re-created interface is counted again, and the gap is said', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const topo = Topology.create(t, 'rci');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, '10.77.0.1/24', peer, '10.77.0.2/24');
  const macOf = (ns: string, dev: string) => JSON.parse(topo.exec(ns, 'ip', ['-j', 'link', 'show', 'dev', dev]))[0].address as string;
  const neighbours = () => {
    topo.exec(host, 'ip', ['neigh', 'replace', '10.77.0.2', 'lladdr', macOf(peer, link.b), 'dev', link.a, 'nud', 'permanent']);
    topo.exec(peer, 'ip', ['neigh', 'replace', '10.77.0.1', 'lladdr', macOf(host, link.a), 'dev', link.b, 'nud', 'permanent']);
  };
  neighbours();
  await startPeerServer(t, topo, peer, ['udp-server', '5400', '300']);

  const veth = () => {
    const s = JSON.parse(topo.exec(host, 'ip', ['-j', '-s', 'link', 'show', 'dev', link.a]))[0].stats64;
    return { rx: s.rx.packets as number, tx: s.tx.packets as number };
  };
  const send = async (count: number) => {
    const r = await topo.run(host, ...peerCommand(['udp-client', '10.77.0.2', '5400', String(count), '100']));
    t.equal(r.code, 0, `${count} datagrams answered`);
  };
  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--iface', link.a, '--format', 'ndjson', '--interval', '200ms',
    '--listen', '127.0.0.1', '--http-port', '0', '--grpc-port', '0'])));
  t.teardown(() => run.stop('SIGKILL'));
  t.ok(await run.waitFor((r) => r.tally.api !== undefined && r.tally.intervals >= 2, 30_000), `flowlens is counting (stderr: ${run.stderr})`);
  const http = (run.tally.api as { http: string }).http;
  const get = async (p: string): Promise<{ code: number; body: string }> => {
    const r = await topo.run(host, 'curl', ['-s', '-o', '-', '-w', '\n%{http_code}', `${http}${p}`]);
    const at = r.stdout.lastIndexOf('\n');
    return { code: Number(r.stdout.slice(at + 1)), body: r.stdout.slice(0, at) };
  };
  const iface = async () => (JSON.parse((await get('/api/status')).body).interfaces as Array<Record<string, unknown>>).find((i) => i.name === link.a)!;
  const counted = () => {
    const i = run.tally.totals(link.a, 'ingress');
    const e = run.tally.totals(link.a, 'egress');
    return { rx: i.packets, tx: e.packets, bytes: i.bytes + e.bytes };
  };
  const until = async (what: string, pred: () => Promise<boolean> | boolean) => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (await pred()) return t.pass(what);
      await new Promise((r) => setTimeout(r, 100));
    }
    t.fail(`${what} (stderr: ${run.stderr})`);
  };

  // first life: 20 exchanges
  await send(20);
  await until('the first life\'s traffic is counted', () => counted().tx >= 20);
  const first = veth();
  t.same(first, { rx: 20, tx: 20 }, 'the veth saw only our 20 exchanges');
  const firstIfindex = (await iface()).ifindex;

  // deleted: gone, said on stderr, and health degraded (a restart would not help: 200, not 503)
  topo.exec(host, 'ip', ['link', 'del', link.a]);
  await until('status says the interface is gone', async () => (await iface()).state === 'gone');
  t.match(run.stderr, `${link.a} (ifindex ${firstIfindex}) was deleted`, 'stderr says it was deleted');
  const health = await get('/api/health');
  t.equal(health.code, 200, 'health stays 200 while the only interface is gone (a liveness probe must not restart it)');
  t.match(JSON.parse(health.body), { status: 'degraded', reason: new RegExp(`${link.a} is gone since .* \\(deleted; counting resumes when it is re-created\\)`) }, 'degraded, and says why');

  // re-created (down, so it sends nothing before flowlens is on it): attached again on the new ifindex
  topo.exec(host, 'ip', ['link', 'add', link.a, 'type', 'veth', 'peer', 'name', link.b, 'netns', peer]);
  await until('status says attached again', async () => (await iface()).state === 'attached');
  const back = await iface();
  t.not(back.ifindex, firstIfindex, 'on the new ifindex');
  t.equal(back.reattaches, 1, 'one reattach');
  t.ok(Number(back.goneMs) > 0, `the gap's duration is in status (${String(back.goneMs)} ms)`);
  t.match(run.stderr, new RegExp(`${link.a} is back \\(ifindex ${String(back.ifindex)}\\): counting again after a gap of [0-9.]+ s`), 'stderr says it is back');
  topo.exec(host, 'ip', ['addr', 'add', '10.77.0.1/24', 'dev', link.a]);
  topo.exec(peer, 'ip', ['addr', 'add', '10.77.0.2/24', 'dev', link.b]);
  topo.exec(host, 'ip', ['link', 'set', link.a, 'up']);
  topo.exec(peer, 'ip', ['link', 'set', link.b, 'up']);
  neighbours();

  // second life: 30 exchanges
  await send(30);
  await until('the second life\'s traffic is counted', () => counted().tx >= 20 + 30);
  const second = veth();
  t.same(second, { rx: 30, tx: 30 }, 'the new veth saw only our 30 exchanges');
  t.same(counted(), { rx: first.rx + second.rx, tx: first.tx + second.tx, bytes: 50 * (UP + DOWN) },
    'flowlens counted exactly what the veth counted in both lives, and every byte sent');
  const up = run.tally.stats.flatMap((s) => (s as { traffic: Array<{ iface: string; direction: string; bytes: number }> }).traffic)
    .filter((r) => r.iface === link.a && r.direction === 'up').reduce((a, r) => a + r.bytes, 0);
  t.equal(up, 50 * UP, 'the traffic rows carry both lives under the one name');

  const metrics = (await get('/metrics')).body;
  t.match(metrics, new RegExp(`flowlens_interface_reattaches_total\\{iface="${link.a}"[^}]*\\} 1\\n`), '/metrics counts the reattach');
  const gone = Number(new RegExp(`flowlens_interface_gone_seconds_total\\{iface="${link.a}"[^}]*\\} ([0-9.e-]+)`).exec(metrics)?.[1]);
  t.ok(gone > 0, `/metrics has the gap's seconds (${gone})`);
  t.match(metrics, new RegExp(`flowlens_attached\\{iface="${link.a}"[^}]*\\} 1\\n`), 'and attached again');
  t.match(JSON.parse((await get('/api/health')).body), { status: 'ok' }, 'health is ok again');

  const r = await run.stop('SIGTERM');
  t.equal(r.code, 0, 'exits 0');
});
