/**
 * Access control of the APIs, as clients meet it: no or a wrong token is 401 /
 * UNAUTHENTICATED, a read-only token is refused on admin calls (403 /
 * PERMISSION_DENIED), health stays open; HTTPS and gRPC over TLS with
 * certificates made here by openssl, gRPC client certificates required by a
 * client CA; rate and request size limits; tokens never echoed; and flowlens
 * refusing to listen beyond loopback without tokens.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import os from 'node:os';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { startApi, tcpFlows } from '../helpers/api-fixture.js';
import { bearer, grpcClients, grpcCode, httpRequest, unary, type HttpTarget } from '../helpers/api-clients.js';
import { CLI, cliBuilt } from '../helpers/flowlens-cli.js';
import { TokenSet } from '../../src/api/auth.js';
import { SessionsRequest } from '../../src/api/grpc/gen/flowlens/v1/flowlens.js';

const READ = 'read-token-0123456789abcdef';
const ADMIN = 'admin-token-fedcba9876543210';

function tmpDir(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-api-sec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function tokensFile(dir: string): string {
  const file = path.join(dir, 'tokens');
  writeFileSync(file, `# flowlens API tokens\nread ${READ}\nadmin ${ADMIN}  # the operator\n`);
  return file;
}

/** A CA, a server certificate for localhost/127.0.0.1 and a client certificate, all signed by the CA. */
function certificates(dir: string) {
  const f = (n: string) => path.join(dir, n);
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=flowlens test CA']);
  for (const [name, ext] of [['server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']]) {
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name === 'server' ? 'localhost' : 'flowlens client'}`]);
    ssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`)]);
  }
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}

t.test('tokens: HTTP 401/403 and gRPC UNAUTHENTICATED/PERMISSION_DENIED', async (t) => {
  const dir = tmpDir(t);
  const f = await startApi(t, { tokensFile: tokensFile(dir) });
  const now = Date.now();
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 20000, now - 900), now);
  const web: HttpTarget = { base: `http://127.0.0.1:${f.api.httpPort}` };
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  for (const p of ['/api/summary', '/api/sessions', '/api/top_ips', '/api/status', '/metrics', '/api/live']) {
    const none = await httpRequest(web, p);
    t.equal(none.status, 401, `${p} without a token: 401`);
    t.equal(none.headers['www-authenticate'], 'Bearer');
    t.equal((await httpRequest(web, p, { headers: auth('not-a-token-at-all-000000') })).status, 401, `${p} with a wrong token: 401`);
  }
  t.equal((await httpRequest(web, '/api/summary', { headers: { authorization: READ } })).status, 401, 'a token without "Bearer": 401');
  const summary = await httpRequest(web, '/api/summary', { headers: auth(READ) });
  t.equal(summary.status, 200, 'the read token reads');
  t.equal(summary.json().today.totals.total, 21000);
  t.equal((await httpRequest(web, '/metrics', { headers: auth(READ) })).status, 200, 'the read token scrapes /metrics');
  const refused = await httpRequest(web, '/api/admin/flush', { method: 'POST', headers: auth(READ) });
  t.equal(refused.status, 403, 'the read token is refused on an admin call');
  t.match(refused.json().message, /needs an admin token/);
  t.equal((await httpRequest(web, '/api/admin/flush', { method: 'POST', headers: auth(ADMIN) })).status, 200, 'the admin token may');
  t.equal((await httpRequest(web, '/api/sessions', { headers: auth(ADMIN) })).status, 200, 'the admin token reads too');
  t.equal((await httpRequest(web, '/api/health')).status, 200, 'health needs no token (probes)');
  t.equal((await httpRequest(web, '/api/openapi.json')).status, 200, 'nor the OpenAPI document');
  for (const r of [refused, summary]) t.notMatch(r.text, new RegExp(`${READ}|${ADMIN}`), 'no answer echoes a token');

  const c = grpcClients(`127.0.0.1:${f.api.grpcPort}`);
  t.teardown(() => c.close());
  const none = await grpcCode(unary(c.traffic, 'summary', {}));
  t.equal(none.code, grpc.status.UNAUTHENTICATED, 'gRPC without a token: UNAUTHENTICATED');
  t.match(none.details, /authorization: Bearer TOKEN/);
  t.equal((await grpcCode(unary(c.traffic, 'status', {}, bearer('not-a-token-at-all-000000')))).code, grpc.status.UNAUTHENTICATED, 'a wrong token: UNAUTHENTICATED');
  const s = await unary<{ today: { totals: { total: number } } }>(c.traffic, 'summary', {}, bearer(READ));
  t.equal(s.today.totals.total, 21000, 'the read token reads over gRPC');
  t.equal((await grpcCode(unary(c.admin, 'flushHistory', {}, bearer(READ)))).code, grpc.status.PERMISSION_DENIED, 'the read token is refused on Admin: PERMISSION_DENIED');
  t.equal((await grpcCode(unary(c.admin, 'flushHistory', {}, bearer(ADMIN)))).code, -1, 'the admin token may');
  const stream = c.traffic.watchLive({ dimensions: [], limit: 0, windowSeconds: 0, scope: '', direction: '' });
  const streamCode = await new Promise<number>((resolve) => { stream.on('error', (e: grpc.ServiceError) => resolve(e.code)); stream.on('data', () => resolve(-1)); });
  t.equal(streamCode, grpc.status.UNAUTHENTICATED, 'a stream without a token: UNAUTHENTICATED');
});

t.test('TLS: HTTPS and gRPC with a test-made certificate; gRPC client certificates', async (t) => {
  const dir = tmpDir(t);
  const pki = certificates(dir);
  const ca = readFileSync(pki.ca);
  const f = await startApi(t, { tls: { cert: pki.cert, key: pki.key }, grpcClientCa: pki.ca });
  const now = Date.now();
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 20000, now - 900), now);
  t.match(f.api.httpUrl, /^https:/);
  const https = await httpRequest({ base: f.api.httpUrl, ca }, '/api/summary');
  t.equal(https.status, 200, 'HTTPS with the CA: 200');
  t.equal(https.json().today.totals.total, 21000);
  await t.rejects(httpRequest({ base: f.api.httpUrl }, '/api/summary'), /self-signed|unable to verify|certificate/, 'HTTPS without trusting the CA fails');
  const plainHttp = await httpRequest({ base: f.api.httpUrl.replace('https', 'http') }, '/api/summary').then((r) => r.status, (e: Error) => e.message);
  t.not(plainHttp, 200, `plain HTTP is not served (${plainHttp})`);

  const target = `127.0.0.1:${f.api.grpcPort}`;
  const withCert = grpcClients(target, grpc.credentials.createSsl(ca, readFileSync(pki.clientKey), readFileSync(pki.clientCert)));
  t.teardown(() => withCert.close());
  const s = await unary<{ today: { totals: { total: number } } }>(withCert.traffic, 'summary', {});
  t.equal(s.today.totals.total, 21000, 'gRPC over TLS with a client certificate');
  const noCert = grpcClients(target, grpc.credentials.createSsl(ca));
  t.teardown(() => noCert.close());
  t.equal((await grpcCode(unary(noCert.traffic, 'summary', {}))).code, grpc.status.UNAVAILABLE, 'without a client certificate the handshake fails');
  const plain = grpcClients(target);
  t.teardown(() => plain.close());
  t.equal((await grpcCode(unary(plain.traffic, 'summary', {}))).code, grpc.status.UNAVAILABLE, 'plaintext gRPC is not served');
});

t.test('rate and request size limits', async (t) => {
  const f = await startApi(t, { rateLimit: 5 });
  const web: HttpTarget = { base: `http://127.0.0.1:${f.api.httpPort}` };
  const codes: number[] = [];
  for (let i = 0; i < 7; i++) codes.push((await httpRequest(web, '/api/status')).status);
  t.same(codes, [200, 200, 200, 200, 200, 429, 429], 'HTTP: 5 a minute, then 429');
  t.equal((await httpRequest(web, '/api/health')).status, 200, 'health is not rate limited');
  const c = grpcClients(`127.0.0.1:${f.api.grpcPort}`);
  t.teardown(() => c.close());
  const grpcCodes: number[] = [];
  for (let i = 0; i < 7; i++) grpcCodes.push((await grpcCode(unary(c.traffic, 'status', {}))).code);
  t.same(grpcCodes, [-1, -1, -1, -1, -1, grpc.status.RESOURCE_EXHAUSTED, grpc.status.RESOURCE_EXHAUSTED], 'gRPC: 5 a minute, then RESOURCE_EXHAUSTED');

  const g = await startApi(t, { bodyLimit: 4096 });
  const big = await httpRequest({ base: `http://127.0.0.1:${g.api.httpPort}` }, '/api/admin/flush', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pad: 'x'.repeat(10_000) }) });
  t.equal(big.status, 413, 'HTTP: a body over the limit is 413');
  const gc = grpcClients(`127.0.0.1:${g.api.grpcPort}`);
  t.teardown(() => gc.close());
  const tooBig = await grpcCode(unary(gc.traffic, 'sessions', SessionsRequest.fromPartial({ filter: { addr: 'x'.repeat(10_000) } })));
  t.equal(tooBig.code, grpc.status.RESOURCE_EXHAUSTED, 'gRPC: a message over the limit is refused');
});

t.test('tokens files: clear errors that never show a token', async (t) => {
  t.throws(() => TokenSet.fromText('read short-secret', 'tokens'), { message: 'tokens:1: the token is shorter than 16 characters' });
  t.throws(() => TokenSet.fromText('reader super-secret-value-0123456', 'tokens'), { message: 'tokens:1: a line must be "read TOKEN" or "admin TOKEN"' });
  t.throws(() => TokenSet.fromText('# nothing\n', 'tokens'), { message: 'tokens holds no token' });
  t.throws(() => TokenSet.fromFile('/nonexistent/flowlens-tokens'), { message: /cannot read the tokens file \/nonexistent\/flowlens-tokens: ENOENT/ });
  const set = TokenSet.fromText(`read ${READ}\nadmin ${ADMIN}\n`, 'tokens');
  t.same([set.check(undefined), set.check(`Bearer ${READ}`), set.check(`bearer ${ADMIN}`), set.check(`Bearer ${READ}x`), set.check(`Basic ${READ}`)], ['none', 'read', 'admin', 'none', 'none']);
  t.equal(TokenSet.open().check(undefined), 'admin', 'no tokens configured: open (only allowed on loopback)');
});

t.test('flowlens refuses to listen beyond loopback without tokens', async (t) => {
  if (!cliBuilt()) return t.fail('the CLI is built (bash scripts/build.sh)');
  const dir = tmpDir(t);
  const cli = (args: string[]) => spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  for (const args of [['config', '--check', '--listen', '0.0.0.0'], ['run', '--iface', 'lo', '--listen', '0.0.0.0', '--no-history'], ['config', '--check', '--listen', '::']]) {
    const r = cli(args);
    t.not(r.status, 0, `${args.join(' ')}: refused`);
    t.match(r.stderr, /refusing to serve the APIs on (0\.0\.0\.0|::) without access tokens/, 'says why');
    t.match(r.stderr, /--tokens-file/, 'and what to do');
  }
  const ok = cli(['config', '--check', '--iface', 'lo', '--listen', '0.0.0.0', '--tokens-file', tokensFile(dir), '--data-dir', dir]);
  t.match(ok.stdout + ok.stderr, /configuration OK/, 'with a tokens file it is accepted');
  const dump = cli(['config', '--dump', '--tokens-file', tokensFile(dir)]);
  t.notMatch(dump.stdout, new RegExp(`${READ}|${ADMIN}`), 'config --dump shows the file, not the tokens');
  const badTokens = path.join(dir, 'bad-tokens');
  writeFileSync(badTokens, 'read short-secret\n');
  const bad = cli(['config', '--check', '--iface', 'lo', '--tokens-file', badTokens]);
  t.match(bad.stderr, new RegExp(`${badTokens}:1: the token is shorter than 16 characters`), 'config --check reads the tokens file: the line is named');
  t.notMatch(bad.stderr, /short-secret/, 'the token is not shown');
  const tls = cli(['config', '--check', '--tls-cert', path.join(dir, 'x.pem')]);
  t.match(tls.stderr, /api.tlsCert is set without api.tlsKey/, 'a certificate without its key is refused');

  // listening on every address with tokens works, and needs them
  const f = await startApi(t, { listen: '0.0.0.0', tokensFile: tokensFile(dir) });
  t.equal((await httpRequest({ base: `http://127.0.0.1:${f.api.httpPort}` }, '/api/status')).status, 401, '0.0.0.0 with tokens: served, with tokens required');
});

t.test('with tokens no data endpoint is open: only health, the OpenAPI document and the dashboard\'s files (which hold no data)', async (t) => {
  const dir = tmpDir(t);
  const f = await startApi(t, { tokensFile: tokensFile(dir) });
  f.feed(tcpFlows('203.0.113.7', 50000, 443, 1000, 20000, Date.now() - 900), Date.now());
  const web: HttpTarget = { base: `http://127.0.0.1:${f.api.httpPort}` };
  const doc = (await httpRequest(web, '/api/openapi.json')).json();
  const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>);
  t.ok(routes.length >= 16, `every route of the OpenAPI document (${routes.length})`);
  for (const [p, methods] of routes) {
    for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
      const r = await httpRequest(web, p, { method });
      if (p === '/api/health') t.equal(r.status, 200, `${method} ${p}: open (probes)`);
      else t.equal(r.status, 401, `${method} ${p}: 401 without a token`);
      t.notMatch(r.text, /203\.0\.113\.7|20000/, `${method} ${p}: nothing of the traffic`);
    }
  }
  const page = await httpRequest(web, '/');
  t.equal(page.status, 200, 'the dashboard page is served without a token (it asks for one)');
  t.notMatch(page.text, /203\.0\.113\.7/, 'and holds no data');
  t.match(readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8'),
    /the dashboard's files \(`\/`, `\/assets\/\*`\): they hold no data/, 'docs/api.md says which routes are open, the dashboard files included');
});

t.test('TLS files: empty, garbage, swapped or mismatched are refused naming the file', async (t) => {
  const dir = tmpDir(t);
  const pki = certificates(dir);
  const f = (n: string, text: string) => { const p = path.join(dir, n); writeFileSync(p, text); return p; };
  const empty = f('empty.pem', '');
  const garbage = f('garbage.pem', 'this is not a certificate\n');
  const cases: Array<[string, { cert: string; key: string }, RegExp, RegExp]> = [
    ['an empty certificate', { cert: empty, key: pki.key }, new RegExp(`^the TLS certificate ${empty} is empty$`), /--tls-cert/],
    ['an empty key', { cert: pki.cert, key: empty }, new RegExp(`^the TLS key ${empty} is empty$`), /--tls-key/],
    ['a garbage certificate', { cert: garbage, key: pki.key }, new RegExp(`^the TLS certificate ${garbage} does not hold a PEM certificate \\(it holds no PEM block\\)$`), /BEGIN CERTIFICATE/],
    ['a garbage key', { cert: pki.cert, key: garbage }, new RegExp(`^the TLS key ${garbage} does not hold an unencrypted PEM private key`), /BEGIN PRIVATE KEY/],
    ['swapped files', { cert: pki.key, key: pki.cert }, new RegExp(`^the TLS certificate ${pki.key} does not hold a PEM certificate \\(it holds a private key\\)$`), /swapped/],
    ['the key of another certificate', { cert: pki.cert, key: pki.clientKey }, new RegExp(`^the TLS key ${pki.clientKey} is not the key of the certificate ${pki.cert}$`), /private key the certificate was made for/],
  ];
  for (const [what, tls, message, hint] of cases) {
    await t.rejects(startApi(t, { tls }), { code: 'FLOW_ERR_USAGE', message, hint }, `start: ${what}`);
  }
  if (!cliBuilt()) return t.fail('the CLI is built (bash scripts/build.sh)');
  const cli = (args: string[]) => spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  for (const [what, tls, message] of cases) {
    const r = cli(['config', '--check', '--iface', 'lo', '--data-dir', dir, '--tls-cert', tls.cert, '--tls-key', tls.key]);
    t.not(r.status, 0, `config --check: ${what}: refused`);
    t.match(r.stderr, new RegExp(message.source.replace(/^\^/, '').replace(/\$$/, '')), `config --check: ${what}: ${r.stderr.split('\n')[0]}`);
    t.notMatch(r.stderr, /error:[0-9A-F]{8}|PEM routines|OPENSSL|ERR_OSSL/, `config --check: ${what}: no OpenSSL text`);
  }
  const ok = cli(['config', '--check', '--iface', 'lo', '--data-dir', dir, '--tls-cert', pki.cert, '--tls-key', pki.key, '--grpc-client-ca', pki.ca]);
  t.match(ok.stdout + ok.stderr, /configuration OK/, 'the matching pair is accepted');
  const badCa = cli(['config', '--check', '--iface', 'lo', '--data-dir', dir, '--tls-cert', pki.cert, '--tls-key', pki.key, '--grpc-client-ca', pki.clientKey]);
  t.match(badCa.stderr, new RegExp(`the gRPC client CA ${pki.clientKey} does not hold a PEM certificate \\(it holds a private key\\)`), 'a client CA that is a key is refused');
});

t.test('config --check refuses one port for both APIs', async (t) => {
  if (!cliBuilt()) return t.fail('the CLI is built (bash scripts/build.sh)');
  const dir = tmpDir(t);
  const cli = (args: string[]) => spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  const same = cli(['config', '--check', '--iface', 'lo', '--data-dir', dir, '--http-port', '9100', '--grpc-port', '9100']);
  t.not(same.status, 0, 'refused');
  t.match(same.stderr, /api\.httpPort and api\.grpcPort are both 9100 on 127\.0\.0\.1: the JSON API and gRPC need a port each/);
  t.match(same.stderr, /--http-port or --grpc-port/);
  const zero = cli(['config', '--check', '--iface', 'lo', '--data-dir', dir, '--http-port', '0', '--grpc-port', '0']);
  t.match(zero.stdout + zero.stderr, /configuration OK/, 'two 0s pick two free ports: accepted');
});
