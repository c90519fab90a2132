/**
 * `flowlens capture` on a veth between two namespaces the test makes, with
 * mixed traffic of known counts and sizes (UDP to the filtered host and port,
 * UDP to another port, UDP to another address of the peer, ICMP echo), static
 * neighbours so there is no ARP:
 *
 * - standalone (it attaches itself): with --host and --port the file holds
 *   exactly the matching frames — the same list, in the same order, as tcpdump
 *   with the equivalent filter on the same interface wrote, read back by
 *   tshark (count, bytes, addresses, ports) — and nothing else; it says what
 *   it matched and that nothing was lost; `flowlens analyze` of it gives the
 *   same totals.
 * - while `flowlens run` counts the same interface: three captures at once
 *   through its APIs — the CLI (which finds the running flowlens), curl on
 *   GET /api/capture, a gRPC client of Admin.Capture — each hold exactly the
 *   frames of their filters, and the run's own totals stay exactly the
 *   traffic sent.
 * - errors: a bad filter, an interface that does not exist, an unwritable
 *   output, no privileges: one clear message each, no stack trace.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import os from 'node:os';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';
import { analyzeJson } from '../helpers/analyze-cli.js';
import { readableCheckout } from '../helpers/readable-checkout.js';
import { repoRoot } from '../../src/native/binding.js';

const PEER = path.join(repoRoot, 'test/helpers/traffic-peer.cjs');
const GRPC_CLIENT = path.join(repoRoot, 'test/helpers/grpc-capture-client.cjs');
const node = (script: string, args: string[]): [string, string[]] => ['env', ['-u', 'NODE_OPTIONS', process.execPath, script, ...args]];
const HOST = '10.238.1.1', PEER_A = '10.238.1.2', PEER_B = '10.238.1.3';
const ETH = 14, IP = 20, UDP = 8, ICMP = 8;
const STACK_LINE = /^\s+at .+\(.*:\d+:\d+\)$/m;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-capture-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** One kind of traffic: datagrams (or pings) each way, their frame sizes. */
interface Mix { name: string; frames: number; frameBytes: number }

function setup(t: Test, tag: string) {
  const topo = Topology.create(t, tag);
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, `${HOST}/24`, peer, `${PEER_A}/24`);
  topo.exec(peer, 'ip', ['addr', 'add', `${PEER_B}/24`, 'dev', link.b]);
  const mac = (ns: string, dev: string) => JSON.parse(topo.exec(ns, 'ip', ['-j', 'link', 'show', 'dev', dev]))[0].address as string;
  // static neighbours: no ARP, so every frame on the link is one the test sent
  for (const addr of [PEER_A, PEER_B]) topo.exec(host, 'ip', ['neigh', 'replace', addr, 'lladdr', mac(peer, link.b), 'dev', link.a, 'nud', 'permanent']);
  topo.exec(peer, 'ip', ['neigh', 'replace', HOST, 'lladdr', mac(host, link.a), 'dev', link.b, 'nud', 'permanent']);
  return { topo, host, peer, link };
}

/** Collects a child's stderr; resolves once it printed `pattern` (its "started" line). */
async function started(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<{ text: string }> {
  const log = { text: '' };
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { log.text += d; });
  child.stdout?.resume();
  await waitFor(() => pattern.test(log.text) || child.exitCode !== null, timeoutMs, 20);
  if (!pattern.test(log.text)) throw new Error(`${what} did not start: ${log.text}`);
  return log;
}

function exited(child: ChildProcess, timeoutMs = 60_000): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('did not exit')), timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); resolve(code); });
  });
}

/** Sends the mixes; returns them with their exact frame counts and bytes. */
async function sendTraffic(topo: Topology, host: string, peer: string): Promise<Mix[]> {
  const servers = [
    topo.spawn(peer, ...node(PEER, ['udp-server', '5300', '120', PEER_A])),
    topo.spawn(peer, ...node(PEER, ['udp-server', '5301', '50', PEER_A])),
    topo.spawn(peer, ...node(PEER, ['udp-server', '5300', '80', PEER_B])),
  ];
  for (const s of servers) {
    let out = '';
    s.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    await waitFor(() => out.includes('ready'), 30_000);
  }
  const client = async (addr: string, port: number, count: number, size: number) => {
    const r = await topo.run(host, ...node(PEER, ['udp-client', addr, String(port), String(count), size.toString()]));
    if (!/^done/m.test(r.stdout)) throw new Error(`udp-client ${addr}:${port}: ${r.stdout} ${r.stderr}`);
  };
  await client(PEER_A, 5301, 30, 200);
  await client(PEER_A, 5300, 40, 300);
  await client(PEER_B, 5300, 30, 100);
  const ping = await topo.run(host, 'ping', ['-n', '-q', '-c', '20', '-i', '0.01', '-s', '64', PEER_A]);
  if (!/20 received/.test(ping.stdout)) throw new Error(`ping: ${ping.stdout}`);
  for (const s of servers) s.kill('SIGKILL');
  const udp = (n: number, req: number, rep: number) => n * (2 * (ETH + IP + UDP) + req + rep);
  return [
    { name: `${PEER_A}:5301`, frames: 60, frameBytes: udp(30, 200, 50) },
    { name: `${PEER_A}:5300`, frames: 80, frameBytes: udp(40, 300, 120) },
    { name: `${PEER_B}:5300`, frames: 60, frameBytes: udp(30, 100, 80) },
    { name: 'ping', frames: 40, frameBytes: 40 * (ETH + IP + ICMP + 64) },
  ];
}

/** tshark's reading of a capture file: one line per frame. */
function frames(file: string): string[] {
  const out = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'icmp.type'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter(Boolean);
}

const totalBytes = (lines: string[]) => lines.reduce((s, l) => s + Number(l.split('\t')[0]), 0);

t.test('standalone: exactly the frames tcpdump saw with the same filter, and analyze agrees', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const { topo, host, peer, link } = setup(t, 'cps');
  const file = path.join(tmp, 'standalone.pcapng');
  const ref = path.join(tmp, 'tcpdump.pcap');
  const capture = topo.spawn(host, ...cliCommand(['capture', '--iface', link.a, '--host', PEER_A, '--port', '5300', '--count', '80', '-w', file]));
  const start = await started(capture, /capturing on .*\(filter: (.*)\)/, 'flowlens capture');
  const expression = /\(filter: (.*)\), writing/.exec(start.text)![1]!;
  t.equal(expression, `ip host ${PEER_A} and (tcp port 5300 or udp port 5300)`, 'it says its filter in tcpdump\'s words');
  const tcpdump = topo.spawn(host, 'tcpdump', ['-n', '-i', link.a, '-U', '-c', '80', '-w', ref, expression]);
  await started(tcpdump, /listening on/, 'tcpdump');
  const mixes = await sendTraffic(topo, host, peer);
  t.equal(await exited(capture), 0, 'flowlens capture exits 0 when --count is reached');
  t.match(start.text, /80 frames .* written to .*ended by --count\n.*the filter matched \d+ frames, none lost/, `it says what it wrote: ${start.text}`);
  t.equal(await exited(tcpdump), 0, 'tcpdump got its 80 frames');

  const ours = frames(file), theirs = frames(ref);
  const want = mixes.find((m) => m.name === `${PEER_A}:5300`)!;
  t.equal(ours.length, want.frames, `${want.frames} frames in the file`);
  t.equal(totalBytes(ours), want.frameBytes, `${want.frameBytes} bytes on the wire`);
  t.strictSame(ours, theirs, 'the same frames, in the same order, as tcpdump with the equivalent filter');
  t.ok(ours.every((l) => { const [, src, dst, sport, dport] = l.split('\t'); return (src === PEER_A || dst === PEER_A) && (sport === '5300' || dport === '5300'); }),
    'nothing that does not match');
  t.equal(ours.filter((l) => l.split('\t')[2] === PEER_A).length, 40, 'both directions: 40 requests, 40 replies');
  const info = execFileSync('capinfos', ['-T', '-r', '-c', '-I', file], { encoding: 'utf8' });
  t.match(info, new RegExp(`\\b${want.frames}\\b`), `capinfos reads it: ${info.trim()}`);

  const j = await analyzeJson([file]);
  t.equal(j.totals.packets, want.frames, 'flowlens analyze: the same packets');
  t.equal(j.totals.bytes, want.frameBytes - want.frames * ETH, 'and their L3 bytes');
});

t.test('while flowlens run counts the interface: three captures at once through its APIs (CLI, curl, gRPC), and its counts stay exact', async (t) => {
  if (!requireKernel(t)) return;
  const { topo, host, peer, link } = setup(t, 'cpd');
  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--iface', link.a, '--format', 'ndjson', '--no-history', '--http-port', '18080', '--grpc-port', '18081'])));
  t.ok(await run.waitFor((r) => r.lines > 0, 60_000), `flowlens run is counting ${run.stderr}`);
  // the CLI finds the running flowlens at the settings' API address
  const file = path.join(tmp, 'daemon.pcapng');
  const capture = topo.spawn(host, ...cliCommand(['capture', '--http-port', '18080', '--iface', link.a, '--net', `${PEER_B}/32`, '--proto', 'udp', '--count', '60', '-w', file]));
  const start = await started(capture, /capturing through the flowlens at/, 'flowlens capture');
  t.match(start.text, 'through the flowlens at http://127.0.0.1:18080', 'it found the running flowlens');
  // the JSON API, as a person downloads it
  const curlFile = path.join(tmp, 'curl.pcapng'), curlHeaders = path.join(tmp, 'curl.headers');
  const curl = topo.spawn(host, 'curl', ['-sS', '-D', curlHeaders, '-o', curlFile, `http://127.0.0.1:18080/api/capture?iface=${link.a}&host=${PEER_A}&port=5301&count=60`]);
  t.ok(await waitFor(() => { try { return /x-flowlens-capture-id: /i.test(readFileSync(curlHeaders, 'utf8')); } catch { return false; } }, 30_000), 'GET /api/capture started');
  // gRPC Admin.Capture
  const grpcFile = path.join(tmp, 'grpc.pcapng');
  const grpcClient = topo.spawn(host, ...node(GRPC_CLIENT, ['127.0.0.1:18081', grpcFile, JSON.stringify({ proto: 'icmp', count: 40 })]));
  let grpcOut = '';
  grpcClient.stdout!.setEncoding('utf8').on('data', (d: string) => { grpcOut += d; });
  t.ok(await waitFor(() => grpcOut.includes('started'), 30_000), `Admin.Capture started ${grpcOut}`);

  const mixes = await sendTraffic(topo, host, peer);
  t.equal(await exited(capture), 0, 'the CLI capture ends at --count');
  t.equal(await exited(curl), 0, 'curl got the whole download');
  t.equal(await exited(grpcClient), 0, 'the gRPC stream ended');
  const check = (what: string, f: string, mix: string, pick: (l: string) => boolean) => {
    const got = frames(f);
    const want = mixes.find((m) => m.name === mix)!;
    t.equal(got.length, want.frames, `${what}: ${want.frames} frames`);
    t.equal(totalBytes(got), want.frameBytes, `${what}: their bytes`);
    t.ok(got.every(pick), `${what}: nothing else`);
  };
  check('CLI', file, `${PEER_B}:5300`, (l) => l.includes(PEER_B));
  check('curl', curlFile, `${PEER_A}:5301`, (l) => l.includes(PEER_A) && l.includes('5301'));
  check('gRPC', grpcFile, 'ping', (l) => /\t(0|8)$/.test(l));
  t.match(readFileSync(curlHeaders, 'utf8'), /content-type: application\/x-pcapng/i, 'served as pcapng');
  t.match(readFileSync(curlHeaders, 'utf8'), /x-flowlens-capture: \{.*"packets":60,.*"reason":"count"/i, 'the result in the trailer');
  const result = JSON.parse(/^result (.*)$/m.exec(grpcOut)![1]!);
  t.match(result, { packets: 40, reason: 'count', dropped: 0 }, 'the gRPC result message');

  // the run counted everything, captured or not
  const sent = mixes.reduce((s, m) => ({ frames: s.frames + m.frames, l3: s.l3 + m.frameBytes - m.frames * ETH }), { frames: 0, l3: 0 });
  const counted = () => {
    const i = run.tally.totals(link.a, 'ingress'), e = run.tally.totals(link.a, 'egress');
    return { frames: i.packets + e.packets, l3: i.bytes + e.bytes };
  };
  await run.waitFor(() => counted().frames >= sent.frames, 10_000);
  t.equal((await run.stop()).code, 0, 'flowlens run stops cleanly');
  t.strictSame(counted(), sent, 'flowlens run counted exactly the traffic sent');
  t.match(start.text, /60 frames .*ended by --count/, `it says what it wrote: ${start.text}`);
  t.notMatch(start.text + run.stderr, STACK_LINE, 'no stack trace');
});

t.test('errors: bad filter, no such interface, unwritable output, no privileges', async (t) => {
  if (!requireKernel(t)) return;
  const { topo, host, link } = setup(t, 'cpe');
  const cases: Array<[string, string[], RegExp, string[]?, string?]> = [
    ['bad host', ['--iface', link.a, '--host', '10.1.2', '-w', path.join(tmp, 'x.pcapng')], /--host: "10\.1\.2" is not an IPv4 or IPv6 address/],
    ['bad net', ['--iface', link.a, '--net', '10.0.0.0/33', '-w', path.join(tmp, 'x.pcapng')], /--net: "10\.0\.0\.0\/33" is not an address or CIDR prefix/],
    ['bad protocol', ['--iface', link.a, '--proto', 'tcpp', '-w', path.join(tmp, 'x.pcapng')], /--proto: unknown protocol "tcpp"/],
    ['bad session', ['--session', 'eth0|6|10.0.0.1', '-w', path.join(tmp, 'x.pcapng')], /--session: "eth0\|6\|10\.0\.0\.1" is not a session id/],
    ['mixed versions', ['--iface', link.a, '--host', '10.0.0.1', '--net', 'fd00::/8', '-w', path.join(tmp, 'x.pcapng')], /no packet can match both/],
    ['no such interface', ['--iface', 'nosuch0', '-w', path.join(tmp, 'x.pcapng')], /no interface named "nosuch0"/],
    ['unwritable output', ['--iface', link.a, '-w', '/proc/flowlens-capture.pcapng'], /cannot write the capture to \/proc\/flowlens-capture\.pcapng/],
    ['no output', ['--iface', link.a], /say where the capture goes: -w FILE\.pcapng/],
  ];
  const drop = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
  cases.push(['no privileges', ['--iface', link.a, '-w', '/tmp/flowlens-unprivileged.pcapng', '--count', '1'], /needs root or the capabilities CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON/, drop, readableCheckout(t)]);
  for (const [what, args, message, prefix, root] of cases) {
    const [cmd, argv] = cliCommand(['capture', ...args], root);
    const r = prefix ? await topo.run(host, prefix[0]!, [...prefix.slice(1), cmd, ...argv]) : await topo.run(host, cmd, argv);
    t.equal(r.code, 1, `${what}: exit code 1`);
    t.match(r.stderr, message, `${what}: ${r.stderr.trim().split('\n')[0]}`);
    t.notMatch(r.stderr, STACK_LINE, `${what}: no stack trace`);
  }
  t.strictSame(JSON.parse(topo.exec(host, 'bpftool', ['-j', 'net', 'show', 'dev', link.a])).flatMap((e: { xdp?: unknown[]; tc?: unknown[] }) => [...(e.xdp ?? []), ...(e.tc ?? [])]), [],
    'nothing left attached');
});
