/**
 * Names from real peers: dnsmasq (in a namespace) answers dig (here), and curl
 * (here) opens TLS connections to nginx (in the namespace) by name, while a
 * Collector counts on this end of the veth. The captures of the interval, fed
 * to a NameTable, name the answered addresses with the names dig asked for
 * (through a CNAME chain, for AAAA, over UDP and over TCP), and each TLS
 * connection with the server name curl sent.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { vethPair, type VethPair } from '../helpers/veth.js';
import { waitFor } from '../helpers/netns.js';
import { Collector, defaultConfig, type Capture } from '../../src/collector/index.js';
import { NameTable } from '../../src/enrich/names.js';
import { dnsMessageOf } from '../../src/enrich/dns.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-names-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts a server in the pair's namespace; killed by its PID at teardown. */
function serve(t: Test, pair: VethPair, cmd: string, args: string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn('ip', ['netns', 'exec', pair.ns, cmd, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; });
  t.teardown(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  }));
  return { child, stderr: () => err };
}

function listening(pair: VethPair, proto: 'u' | 't', port: number): boolean {
  const out = execFileSync('ip', ['netns', 'exec', pair.ns, 'ss', `-Hln${proto}`, `sport = :${port}`], { encoding: 'utf8' });
  return out.includes(`:${port}`);
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

t.test('DNS answers from dnsmasq name the addresses dig asked for (A, AAAA, CNAME chain, UDP and TCP), XDP hook', async (t) => {
  if (!requireKernel(t)) return;
  const pair = vethPair(t, 'nd', { addresses: true });
  const server = pair.peerAddr!;
  const dnsmasq = serve(t, pair, 'dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
    `--listen-address=${server}`, '--bind-interfaces', '--port=53', '--pid-file=', '--user=root', '--log-facility=-',
    '--local-ttl=120',
    '--address=/plain.flowlens.test/192.0.2.10',
    '--host-record=target.flowlens.test,192.0.2.20,2001:db8::20',
    '--cname=alias.flowlens.test,target.flowlens.test',
    '--cname=www.flowlens.test,alias.flowlens.test',
    '--host-record=v6only.flowlens.test,2001:db8::66']);
  t.ok(await waitFor(() => listening(pair, 'u', 53) && listening(pair, 't', 53), 5000), `dnsmasq listens (${dnsmasq.stderr().trim()})`);

  const collector = Collector.open({ ...defaultConfig(), interfaces: [pair.host], hook: 'xdp', mapEntries: 1024, intervalMs: 3_600_000 });
  t.teardown(() => collector.stop().catch(() => collector.closeNow()));

  const dig = (name: string, type: string, ...opts: string[]) =>
    run('dig', [`@${server}`, '+tries=1', '+time=3', '+short', ...opts, name, type]).trim().split('\n');
  t.strictSame(dig('plain.flowlens.test', 'A'), ['192.0.2.10'], 'dig: --address');
  t.strictSame(dig('www.flowlens.test', 'A'), ['alias.flowlens.test.', 'target.flowlens.test.', '192.0.2.20'], 'dig: a CNAME chain');
  t.strictSame(dig('www.flowlens.test', 'AAAA', '+tcp'), ['alias.flowlens.test.', 'target.flowlens.test.', '2001:db8::20'], 'dig: AAAA over TCP');
  t.strictSame(dig('v6only.flowlens.test', 'AAAA'), ['2001:db8::66'], 'dig: AAAA');

  const iv = await collector.drainNow();
  const dns = iv.captures.filter((c) => c.kind === 'dns');
  t.ok(dns.every((c) => c.direction === 'ingress' && c.src === server && c.dst === pair.hostAddr && c.srcPort === 53 &&
    c.ifindex === pair.ifindex), 'every capture: an answer from the server, arriving on the monitored end');
  t.equal(dns.filter((c) => c.protocol === 17).length, 3, 'three UDP answers captured');
  const tcp = dns.filter((c) => c.protocol === 6);
  t.ok(tcp.length >= 1, `the TCP answer captured (${tcp.length} segment(s) with payload)`);
  // each captured UDP payload is a whole DNS message that says what dig printed
  const questions = dns.map((c) => dnsMessageOf(c.payload, c.protocol)).filter((m) => m?.answers.length)
    .map((m) => `${m!.questions[0]?.name} ${m!.answers.map((a) => a.data).join(',')}`).sort();
  t.strictSame(questions, [
    'plain.flowlens.test 192.0.2.10',
    'v6only.flowlens.test 2001:db8::66',
    'www.flowlens.test alias.flowlens.test,target.flowlens.test,192.0.2.20',
    'www.flowlens.test alias.flowlens.test,target.flowlens.test,2001:db8::20',
  ], 'the captured messages parse to the answers dig got');
  t.ok(dns.every((c) => c.time >= iv.start - 1 && c.time <= iv.end + 1000), 'capture times fall in the interval');

  const names = new NameTable();
  for (const c of iv.captures) names.ingest(c);
  t.equal(names.nameOf('192.0.2.10'), 'plain.flowlens.test');
  t.equal(names.nameOf('192.0.2.20'), 'www.flowlens.test', 'the name asked for, not the CNAME target');
  t.equal(names.nameOf('2001:db8::20'), 'www.flowlens.test', 'AAAA over TCP, through the chain');
  t.equal(names.nameOf('2001:db8::66'), 'v6only.flowlens.test');
  t.match(names.stats(), { answers: 4, parseFailures: 0, evictions: 0 });
  t.match(collector.status(), { captures: iv.captures.length, captureDrops: 0, captureLoadErrors: 0 });
});

t.test('curl to nginx over TLS: each connection is named by the SNI it sent, TC hook', async (t) => {
  if (!requireKernel(t)) return;
  const pair = vethPair(t, 'nt', { addresses: true });
  const server = pair.peerAddr!;
  const dir = mkdtempSync(path.join(tmp, 'nginx-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=shop.flowlens.test', '-addext', 'subjectAltName=DNS:shop.flowlens.test,DNS:blog.flowlens.test',
    '-keyout', key, '-out', cert]);
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen ${server}:443 ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location / { return 200 "$ssl_server_name\\n"; }
  }
}
`);
  const nginx = serve(t, pair, 'nginx', ['-c', conf, '-p', dir, '-e', `${dir}/error.log`]);
  t.ok(await waitFor(() => listening(pair, 't', 443), 5000), `nginx listens (${nginx.stderr().trim()})`);

  const collector = Collector.open({ ...defaultConfig(), interfaces: [pair.host], hook: 'tc', mapEntries: 1024, intervalMs: 3_600_000 });
  t.teardown(() => collector.stop().catch(() => collector.closeNow()));

  const base = 20000 + (process.pid % 20000);
  const curl = (name: string, port: number) => run('curl', ['-sS', '--cacert', cert, '--max-time', '5', '--local-port', String(port),
    '--resolve', `${name}:443:${server}`, `https://${name}/`]).trim();
  t.equal(curl('shop.flowlens.test', base), 'shop.flowlens.test', 'curl: nginx saw SNI shop');
  t.equal(curl('blog.flowlens.test', base + 1), 'blog.flowlens.test', 'curl: nginx saw SNI blog');

  const iv = await collector.drainNow();
  const tls: Capture[] = iv.captures.filter((c) => c.kind === 'tls');
  t.strictSame(tls.map((c) => [c.direction, c.src, c.srcPort, c.dst, c.dstPort, c.protocol]), [
    ['egress', pair.hostAddr, base, server, 443, 6],
    ['egress', pair.hostAddr, base + 1, server, 443, 6],
  ], 'one ClientHello per connection, leaving through the monitored end');
  t.ok(tls.every((c) => c.payload[0] === 0x16 && c.payload[5] === 0x01), 'each payload starts a ClientHello record');

  const names = new NameTable();
  for (const c of iv.captures) names.ingest(c);
  t.equal(names.sniOf(pair.hostAddr!, base, server, 443), 'shop.flowlens.test');
  t.equal(names.sniOf(pair.hostAddr!, base + 1, server, 443), 'blog.flowlens.test', 'same server address, its own name');
  t.equal(names.sniOf(pair.hostAddr!, base + 2, server, 443), undefined, 'a connection that was not made');
  t.equal(names.nameOf(server), 'blog.flowlens.test', 'no DNS: the address carries the last SNI sent to it');
  t.match(names.stats(), { hellos: 2, parseFailures: 0 });
  // the flows are counted as always: both connections, both directions
  const flows = iv.flows.flows().filter((f) => f.protocol === 6);
  t.strictSame([...new Set(flows.map((f) => `${f.direction} ${f.direction === 'egress' ? f.srcPort : f.dstPort}`))].sort(),
    [`egress ${base}`, `egress ${base + 1}`, `ingress ${base}`, `ingress ${base + 1}`].sort(), 'four TCP flow records');
  t.match(collector.status(), { captureDrops: 0, captureLoadErrors: 0 });
});
