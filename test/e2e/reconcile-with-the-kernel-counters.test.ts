/**
 * Reconciliation on real traffic: flowlens (the CLI) counts on one end of a
 * veth pair with offloads on (TSO/GSO/GRO), iperf3 moves bulk TCP both ways,
 * the peer sends non-IP frames, and pings go out before flowlens attaches.
 * `flowlens reconcile` (the running process's GET /api/reconcile) and /metrics
 * must then show, per direction:
 *
 *   kernel packets = flows + overflow + forwarded + non-IP + malformed − GSO added segments
 *   kernel bytes   = their bytes − GSO added headers + 14 × IP frames (Ethernet)
 *                    − 14 × every frame (veth with native XDP, on receive only)
 *
 * to the packet and the byte (unexplained 0 and 0); the non-IP frames and the
 * GSO super-packets are terms of their own, and the pings sent before the
 * attach are in neither side but in `kernelBeforeAttach`, exactly.
 */
import t from 'tap';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor, type End, type Lab } from '../helpers/netns.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import path from 'node:path';
import type { InterfaceReconciliation } from '../../src/collector/index.js';
import { repoRoot } from '../../src/native/binding.js';

const PORT = 18_473;  // inside the test's own namespace: nothing else listens there
const NON_IP_FRAMES = 7;
const NON_IP_LEN = 64;

/** Sends `count` frames of EtherType 0x88b5 (IEEE local experimental: no stack handles it) from `from` to `to`. */
function sendNonIp(lab: Lab, from: End, to: End, count: number): void {
  const mac = (m: string) => `bytes.fromhex('${m.replace(/:/g, '')}')`;
  lab.exec(from, 'python3', ['-c', `
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('${from.name}', 0))
frame = ${mac(to.mac)} + ${mac(from.mac)} + b'\\x88\\xb5' + bytes(${NON_IP_LEN - 14})
for _ in range(${count}):
    s.send(frame)
`]);
}

async function reconcile(lab: Lab, a: End): Promise<{ interfaces: InterfaceReconciliation[] }> {
  const r = await lab.run(a, ...cliCommand(['reconcile', '--url', `http://127.0.0.1:${PORT}`, '--format', 'json']), 20_000);
  if (r.code !== 0) throw new Error(`flowlens reconcile failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

for (const hook of ['xdp', 'tc'] as const) {
  t.test(`${hook} hook: the kernel's counters and flowlens's agree to the packet and byte, the difference explained`, async (t) => {
    if (!requireKernel(t)) return;
    t.ok(cliBuilt(), 'the CLI is built (scripts/build.sh)');
    const lab = createLab(t, { tag: 'rc', layout: 'namespaces', addresses: true, features: { tso: 'on', gso: 'on', gro: 'on' } });
    const { a, b } = lab;

    // before flowlens: pings that only the kernel counts
    const ping = await lab.run(a, 'ping', ['-c', '3', '-i', '0.2', '-q', b.v4!]);
    t.equal(ping.code, 0, 'pings before the attach answered');
    const beforeAttach = lab.stats(a);

    const server = lab.spawn(b, 'iperf3', ['-s', '-B', b.v4!]);
    t.teardown(() => { if (server.exitCode === null) server.kill('SIGTERM'); });
    t.ok(await waitFor(() => lab.exec(b, 'ss', ['-Hltn', 'sport = :5201']).includes('5201'), 5000), 'iperf3 server listens');

    const fl = new CliRun(lab.spawn(a, ...cliCommand(['run', '--iface', a.name, '--format', 'ndjson', '--interval', '1s', '--hook', hook,
      '--listen', '127.0.0.1', '--http-port', String(PORT), '--grpc-port', '0'])));
    t.teardown(() => fl.stop('SIGKILL'));
    t.ok(await waitFor(async () => {
      try { return (await reconcile(lab, a)).interfaces.length === 1; } catch { return false; }
    }, 30_000, 250), `flowlens attached and answers /api/reconcile ${fl.stderr}`);

    for (const reverse of [false, true]) {
      const c = await lab.run(a, 'iperf3', ['-c', b.v4!, '-B', a.v4!, '-t', '1', ...(reverse ? ['-R'] : [])], 30_000);
      t.equal(c.code, 0, `iperf3 ${reverse ? 'into' : 'out of'} the monitored end`);
    }
    sendNonIp(lab, b, a, NON_IP_FRAMES);

    // quiet now: wait for a drain after the last frame (two readings alike, with the non-IP frames in)
    let last = '';
    let r: InterfaceReconciliation | undefined;
    const settled = await waitFor(async () => {
      const i = (await reconcile(lab, a)).interfaces[0];
      const key = JSON.stringify(i?.sinceAttach);
      const same = key === last && i!.sinceAttach.ingress.flowlens.nonIpPackets === NON_IP_FRAMES;
      last = key;
      r = i;
      return same;
    }, 20_000, 1200);
    t.ok(settled, 'two readings a drain apart are alike: the link is quiet and drained');
    const now = lab.stats(a);
    const exit = await fl.stop('SIGTERM');
    t.same(exit, { code: 0, signal: null }, `flowlens exited 0 ${fl.stderr}`);
    if (!r) return;

    t.match(r, { iface: a.name, kind: 'veth', ingressHook: hook === 'xdp' ? 'xdp-native' : /^tc/, egressHook: /^tc/ });
    for (const dir of ['ingress', 'egress'] as const) {
      const d = r.sinceAttach[dir];
      t.same(d.unexplained, { packets: 0, bytes: 0 }, `${dir}: every packet and byte explained`, { reconciliation: d });
      const sum = d.terms.reduce((s, x) => ({ packets: s.packets + x.packets, bytes: s.bytes + x.bytes }), { packets: 0, bytes: 0 });
      t.same(sum, d.expected, `${dir}: the terms add up to the expected counts`);
    }
    const term = (dir: 'ingress' | 'egress', name: string) => r!.sinceAttach[dir].terms.find((x) => x.term === name);
    // the kernel's side since the attach plus what it had before is what the interface says now
    t.same({
      rxPackets: r.kernelBeforeAttach.rxPackets + r.sinceAttach.ingress.kernel.packets, rxBytes: r.kernelBeforeAttach.rxBytes + r.sinceAttach.ingress.kernel.bytes,
      txPackets: r.kernelBeforeAttach.txPackets + r.sinceAttach.egress.kernel.packets, txBytes: r.kernelBeforeAttach.txBytes + r.sinceAttach.egress.kernel.bytes,
    }, { rxPackets: now.rx.packets, rxBytes: now.rx.bytes, txPackets: now.tx.packets, txBytes: now.tx.bytes }, 'before the attach + since the attach = the interface\'s counters now');
    t.same(r.kernelBeforeAttach, { rxPackets: beforeAttach.rx.packets, rxBytes: beforeAttach.rx.bytes, txPackets: beforeAttach.tx.packets, txBytes: beforeAttach.tx.bytes },
      'the pings sent before flowlens attached are reported apart, exactly as the kernel counted them then');
    t.ok(beforeAttach.tx.packets >= 3 && beforeAttach.rx.packets >= 3, 'and they were counted by the kernel');
    t.match(term('ingress', 'non-ip'), { packets: NON_IP_FRAMES, bytes: NON_IP_FRAMES * NON_IP_LEN },
      `the ${NON_IP_FRAMES} non-IP frames are their own term, with their L2 bytes`);
    // offloads: the monitored end sends TSO super-packets (TC egress); with TC the received GRO ones too
    t.ok(term('egress', 'gso')!.packets < -100, `egress: GSO super-packets explained (${term('egress', 'gso')!.packets} segments, ${term('egress', 'gso')!.bytes} header bytes)`);
    if (hook === 'tc') t.ok(term('ingress', 'gso')!.packets < -100, `ingress: GRO super-packets explained (${term('ingress', 'gso')!.packets} segments)`);
    else t.equal(term('ingress', 'gso')!.packets, 0, 'ingress with XDP: every wire frame seen before GRO, no super-packets');
    t.equal(Boolean(term('ingress', 'veth-xdp-rx')), hook === 'xdp', 'the veth-without-Ethernet-header term appears only with native XDP on receive');
    t.notOk(term('egress', 'veth-xdp-rx'), 'never on transmit');
    t.ok(r.explained, 'explained: true');
  });
}

/** The Reconcile RPC through a grpc-js client run inside the namespace (the API listens on its loopback). */
async function grpcReconcile(lab: Lab, a: End, port: number): Promise<any> {
  const gen = path.join(repoRoot, 'dist/src/api/grpc/gen/flowlens/v1/flowlens.js');
  const grpcJs = path.join(repoRoot, 'node_modules/@grpc/grpc-js/build/src/index.js');
  const script = `
const grpc = require(${JSON.stringify(grpcJs)});
import(${JSON.stringify(gen)}).then(({ TrafficClient }) => {
  const c = new TrafficClient('127.0.0.1:${port}', grpc.credentials.createInsecure());
  c.reconcile({}, (e, r) => { if (e) { console.error(e.message); process.exit(1); } console.log(JSON.stringify(r)); c.close(); });
});`;
  const r = await lab.run(a, 'env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', script], 20_000);
  if (r.code !== 0) throw new Error(`gRPC Reconcile failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

t.test('the table form, gRPC and /metrics say the same', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'rm', layout: 'namespaces', addresses: true });
  const { a, b } = lab;
  const fl = new CliRun(lab.spawn(a, ...cliCommand(['run', '--iface', a.name, '--format', 'ndjson', '--interval', '1s',
    '--listen', '127.0.0.1', '--http-port', String(PORT), '--grpc-port', String(PORT + 1)])));
  t.teardown(() => fl.stop('SIGKILL'));
  t.ok(await waitFor(async () => {
    try { return (await reconcile(lab, a)).interfaces.length === 1; } catch { return false; }
  }, 30_000, 250), 'flowlens answers');
  const ping = await lab.run(a, 'ping', ['-c', '5', '-i', '0.2', '-q', b.v4!]);
  t.equal(ping.code, 0, 'pings answered');
  t.ok(await waitFor(async () => (await reconcile(lab, a)).interfaces[0]!.sinceAttach.egress.flowlens.packets === 5, 10_000, 300), 'the 5 echo requests are drained');
  const table = await lab.run(a, ...cliCommand(['reconcile', '--url', `http://127.0.0.1:${PORT}`]));
  t.equal(table.code, 0, 'flowlens reconcile (table) exits 0');
  t.match(table.stdout, new RegExp(`${a.name} \\(ifindex \\d+, veth, xdp-native/tcx\\).*every packet and byte explained`), 'the headline says everything is explained');
  t.match(table.stdout, /egress \(tx\)[\s\S]*flows\s+\+5\s+\+420\b/, 'egress: the 5 echo requests, 84 L3 bytes each');
  t.match(table.stdout, /ethernet\s+0\s+\+70\b/, 'their 5 Ethernet headers');
  t.match(table.stdout, /kernel\s+5\s+490\b/, 'the kernel counted 5 frames of 98 bytes');
  const g = await grpcReconcile(lab, a, PORT + 1);
  t.match(g.interfaces[0], { iface: a.name, kind: 'veth', explained: true,
    egress: { kernelPackets: 5, kernelBytes: 490, expectedPackets: 5, expectedBytes: 490, unexplainedPackets: 0, unexplainedBytes: 0 },
    ingress: { kernelPackets: 5, unexplainedPackets: 0, unexplainedBytes: 0 } }, 'gRPC Reconcile: the same figures');
  t.match(g.interfaces[0].egress.terms, [{ term: 'flows', packets: 5, bytes: 420 }], 'with the same terms');
  const metrics = await lab.run(a, 'curl', ['-sf', `http://127.0.0.1:${PORT}/metrics`]);
  t.equal(metrics.code, 0, '/metrics answers');
  for (const dir of ['ingress', 'egress']) {
    t.match(metrics.stdout, new RegExp(`flowlens_reconcile_unexplained_packets\\{[^}]*iface="${a.name}",direction="${dir}"[^}]*\\} 0\\n`), `/metrics: ${dir} unexplained packets 0`);
  }
  t.match(metrics.stdout, new RegExp(`flowlens_reconcile_kernel_packets\\{[^}]*iface="${a.name}",direction="egress"[^}]*\\} 5\\n`), '/metrics: the kernel\'s 5 transmitted packets');
  const refused = await lab.run(a, ...cliCommand(['reconcile', '--url', 'http://127.0.0.1:1']));
  t.not(refused.code, 0, 'no flowlens there: an error');
  t.match(refused.stderr, /cannot reach flowlens at http:\/\/127\.0\.0\.1:1.*\n.*is `flowlens run` running/s, 'which says what to do');
});
