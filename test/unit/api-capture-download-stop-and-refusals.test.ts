/**
 * GET /api/capture and POST /api/capture/:id/stop over real loopback HTTP,
 * with the real PacketCaptures on a fake of the kernel's ring
 * (test/helpers/fake-pcap-ring.ts): a capture streams a pcapng that
 * flowlens's reader reads back, ends at its count with the result in the
 * trailer, stops cleanly by id (statistics block written), frees its slot
 * when the client goes away; refusals: 401/403 without an admin token, 400
 * for a bad filter or an interface not counted on, 409 with four running,
 * 404 for an unknown id, 503 where there is nothing to capture; HEAD starts
 * nothing.
 */
import t from 'tap';
import http from 'node:http';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApi } from '../helpers/api-fixture.js';
import { httpRequest } from '../helpers/api-clients.js';
import { waitFor } from '../helpers/netns.js';
import { FakeRing } from '../helpers/fake-pcap-ring.js';
import { PacketCaptures } from '../../src/capture/index.js';
import { readCapture } from '../../src/offline/pcap-reader.js';

const IFACES = [{ name: 'eth0', ifindex: 2 }];
const frame = (n: number) => { const f = Buffer.alloc(60, n); f.writeUInt16BE(0x0800, 12); return f; };

/** A streaming GET: headers as soon as they come, then the body and trailers at the end. */
function stream(base: string, p: string, headers: Record<string, string> = {}) {
  return new Promise<{ res: http.IncomingMessage; body: Promise<{ data: Buffer; trailers: NodeJS.Dict<string> }> }>((resolve, reject) => {
    const req = http.get(new URL(p, base), { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const body = new Promise<{ data: Buffer; trailers: NodeJS.Dict<string> }>((done) => {
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ data: Buffer.concat(chunks), trailers: res.trailers }));
        res.on('close', () => done({ data: Buffer.concat(chunks), trailers: res.trailers }));
      });
      resolve({ res, body });
    });
    req.on('error', reject);
  });
}

async function frames(file: Buffer): Promise<number> {
  let n = 0;
  await readCapture(Readable.from([file]), { frame: () => { n++; } });
  return n;
}

t.test('a capture streams, ends at its count with the result in the trailer, or stops by id', async (t) => {
  const ring = new FakeRing();
  const captures = new PacketCaptures(ring.native(), () => IFACES);
  const f = await startApi(t, {}, { captures: () => captures });
  const base = `http://127.0.0.1:${f.api.httpPort}`;

  const a = await stream(base, '/api/capture?iface=eth0&count=3');
  t.equal(a.res.statusCode, 200);
  t.equal(a.res.headers['content-type'], 'application/x-pcapng');
  t.match(a.res.headers['content-disposition'], /^attachment; filename="flowlens-eth0-\d{8}T\d{6}Z\.pcapng"$/);
  t.equal(captures.running, 1, 'running once the headers are there');
  for (let i = 0; i < 5; i++) ring.push(1, 2, i % 2 as 0 | 1, frame(i));
  const done = await a.body;
  t.equal(await frames(done.data), 3, 'exactly 3 frames in the download');
  t.match(JSON.parse(done.trailers['x-flowlens-capture']!), { packets: 3, reason: 'count', matched: 5, dropped: 0, fileBytes: done.data.length, interfaces: ['eth0'] }, 'the result in the trailer');

  const b = await stream(base, '/api/capture?proto=udp');
  const id = String(b.res.headers['x-flowlens-capture-id']);
  ring.push(1, 2, 0, frame(9));
  const stopped = await httpRequest({ base }, `/api/capture/${id}/stop`, { method: 'POST' });
  t.equal(stopped.status, 200);
  t.match(stopped.json(), { packets: 1, reason: 'stopped' }, 'the stop answers with the result, the frame copied before it written');
  const bd = await b.body;
  t.equal(await frames(bd.data), 1);
  t.ok(bd.data.includes(Buffer.from([5, 0, 0, 0])), 'the file ends with its statistics block (type 5)');
  t.equal((await httpRequest({ base }, `/api/capture/${id}/stop`, { method: 'POST' })).status, 404, 'an id that ended: 404');

  const c = await stream(base, '/api/capture');
  t.equal(captures.running, 1);
  c.res.destroy();
  t.ok(await waitFor(() => captures.running === 0, 5000), 'a client that goes away frees its slot');

  const head = await httpRequest({ base }, '/api/capture', { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(captures.running, 0, 'HEAD starts nothing');
});

t.test('refusals: bad filter, interface not counted, four running, no captures, tokens', async (t) => {
  const ring = new FakeRing();
  const captures = new PacketCaptures(ring.native(), () => IFACES);
  const f = await startApi(t, {}, { captures: () => captures });
  const base = `http://127.0.0.1:${f.api.httpPort}`;
  const bad = async (q: string) => { const r = await httpRequest({ base }, `/api/capture?${q}`); return { status: r.status, message: r.json().message as string }; };
  t.match(await bad('port=70000'), { status: 400, message: /port must be <= 65535/ });
  t.match(await bad('host=10.0.0'), { status: 400, message: /host: "10\.0\.0" is not an IPv4 or IPv6 address/ });
  t.match(await bad('count=x'), { status: 400 });
  t.match(await bad('duration=soon'), { status: 400, message: /duration must be a duration/ });
  t.match(await bad('iface=eth9'), { status: 400, message: /does not count on "eth9"/ });
  t.match(await bad('nonsense=1'), { status: 400, message: /unknown parameter "nonsense"/ });
  const open = await Promise.all([1, 2, 3, 4].map(() => stream(base, '/api/capture')));
  t.match(await bad(''), { status: 409, message: /4 captures are running/ });
  for (const o of open) o.res.destroy();

  const none = await startApi(t);
  t.match(await httpRequest({ base: `http://127.0.0.1:${none.api.httpPort}` }, '/api/capture').then((r) => ({ status: r.status, message: r.json().message })),
    { status: 503, message: /this flowlens has no packet captures/ }, 'nothing to capture: 503');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-capture-tokens-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokens = path.join(dir, 'tokens');
  writeFileSync(tokens, 'read read-token-0123456789\nadmin admin-token-0123456789\n');
  const guarded = await startApi(t, { tokensFile: tokens }, { captures: () => captures });
  const gbase = `http://127.0.0.1:${guarded.api.httpPort}`;
  t.equal((await httpRequest({ base: gbase }, '/api/capture')).status, 401, 'no token: 401');
  t.equal((await httpRequest({ base: gbase }, '/api/capture', { headers: { authorization: 'Bearer read-token-0123456789' } })).status, 403, 'a read token: 403');
  const ok = await stream(gbase, '/api/capture?count=1', { authorization: 'Bearer admin-token-0123456789' });
  t.equal(ok.res.statusCode, 200, 'an admin token: the capture');
  ok.res.destroy();
});
