/**
 * Domain names on real sessions, through `flowlens run`: dig asks dnsmasq (in
 * a peer namespace) for a name behind a CNAME chain, then traffic goes to the
 * answered address; curl opens two TLS connections with two server names to
 * one nginx address. Each session carries the name its client used — the name
 * asked for, not the CNAME target; the TLS server name of its own connection,
 * not just the address's latest — and the domain talkers add up.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { Topology } from '../helpers/topology.js';
import { peerCommand, startPeerServer } from '../helpers/traffic.js';
import { CliRun, cliBuilt, cliCommand } from '../helpers/flowlens-cli.js';
import { waitFor } from '../helpers/netns.js';


t.test('sessions and talkers named from DNS answers and TLS server names', async (t) => {
  if (!requireKernel(t)) return;
  t.ok(cliBuilt(), 'the CLI is built');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-e2e-domains-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const topo = Topology.create(t, 'dom');
  const host = topo.ns('host');
  const peer = topo.ns('peer');
  const link = topo.link(host, '198.51.100.1/24', peer, '198.51.100.2/24');
  topo.exec(peer, 'ip', ['addr', 'add', '198.51.100.3/24', 'dev', link.b]);
  const listening = (proto: 'u' | 't', port: number) => topo.exec(peer, 'ss', [`-Hln${proto}`, `sport = :${port}`]).includes(`:${port}`);

  topo.spawn(peer, 'dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
    '--listen-address=198.51.100.2', '--bind-interfaces', '--port=53', '--pid-file=', '--user=root', '--log-facility=-',
    '--host-record=cdn.flowlens.test,198.51.100.3', '--cname=www.flowlens.test,cdn.flowlens.test']);
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=shop.flowlens.test', '-addext', 'subjectAltName=DNS:shop.flowlens.test,DNS:blog.flowlens.test',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events {}
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 198.51.100.2:443 ssl; ssl_certificate ${cert}; ssl_certificate_key ${key}; location / { return 200 "$ssl_server_name\\n"; } }
}
`);
  topo.spawn(peer, 'nginx', ['-c', conf, '-p', dir, '-e', `${dir}/error.log`]);
  topo.spawn(peer, ...peerCommand(['udp-server', '5600', '100', '198.51.100.3']));
  t.ok(await waitFor(() => listening('u', 53) && listening('t', 443) && listening('u', 5600), 10_000), 'dnsmasq, nginx and the UDP server listen');

  const run = new CliRun(topo.spawn(host, ...cliCommand(['run', '--iface', link.a, '--format', 'ndjson', '--interval', '200ms', '--top', '50'])));
  t.ok(await run.waitFor((r) => r.tally.intervals >= 2, 30_000), `flowlens is counting (stderr: ${run.stderr})`);

  const dig = topo.exec(host, 'dig', ['+short', '+time=3', '+tries=1', '@198.51.100.2', 'www.flowlens.test', 'A']);
  t.match(dig, /cdn\.flowlens\.test\.\s+198\.51\.100\.3/, 'dig: www → cdn → 198.51.100.3');
  // give flowlens an interval to learn the answer before the first packet to it
  const seen = run.tally.intervals;
  await run.waitFor((r) => r.tally.intervals >= seen + 2, 5000);
  const r = await topo.run(host, ...peerCommand(['udp-client', '198.51.100.3', '5600', '6', '200']));
  t.equal(r.code, 0, 'UDP exchange with the named address');
  const base = 30000 + (process.pid % 20000);
  for (const [name, port] of [['shop.flowlens.test', base], ['blog.flowlens.test', base + 1]] as const) {
    const out = topo.exec(host, 'curl', ['-sS', '--cacert', cert, '--max-time', '5', '--local-port', String(port),
      '--resolve', `${name}:443:198.51.100.2`, `https://${name}/`]).trim();
    t.equal(out, name, `curl ${name}: nginx saw that server name`);
  }
  const ticks = run.tally.intervals;
  await run.waitFor((x) => x.tally.intervals >= ticks + 3, 5000);
  const stop = await run.stop('SIGTERM');
  t.equal(stop.code, 0, `exit 0 (stderr: ${run.stderr.trim()})`);

  const sessions = run.tally.sessions;
  const named = sessions.find((s) => s.protocol === 17 && s.remote === '198.51.100.3');
  t.match(named, { domain: 'www.flowlens.test', bytesUp: 6 * 228, bytesDown: 6 * 128 }, 'the name the client asked for, not the CNAME target');
  t.match(sessions.find((s) => s.protocol === 6 && s.localPort === base), { remote: '198.51.100.2', remotePort: 443, domain: 'shop.flowlens.test' });
  t.match(sessions.find((s) => s.protocol === 6 && s.localPort === base + 1), { remote: '198.51.100.2', remotePort: 443, domain: 'blog.flowlens.test' },
    'one address, two connections, each named by its own server name');

  const domainTalkers = new Map<string, { up: number; down: number; connections: number }>();
  for (const s of run.tally.stats) {
    for (const row of s.talkers.domain) {
      const e = domainTalkers.get(row.key) ?? { up: 0, down: 0, connections: 0 };
      e.up += row.bytesUp; e.down += row.bytesDown; e.connections += row.newSessions;
      domainTalkers.set(row.key, e);
    }
  }
  t.same(domainTalkers.get('www.flowlens.test'), { up: 6 * 228, down: 6 * 128, connections: 1 }, 'per-domain bytes and connections');
  for (const n of ['shop.flowlens.test', 'blog.flowlens.test']) {
    const tcp = sessions.find((s) => s.domain === n && s.protocol === 6)!;
    t.match(domainTalkers.get(n), { up: tcp.bytesUp, down: tcp.bytesDown, connections: 1 }, `${n}: bytes of its connection`);
  }
});
