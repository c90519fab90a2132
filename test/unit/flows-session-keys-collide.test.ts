/**
 * IPv4 sessions are found by a 32-bit hash of their fields (sessionHashV4):
 * two conversations whose hashes are equal are still two sessions, each with
 * its own text id, counts and end, and either one ending leaves the other
 * found. The colliding pair is searched for with the real hash.
 */
import t from 'tap';
import { FlowProcessor } from '../../src/flows/processor.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { Session, SessionTable, defaultSessionConfig, sessionHashV4 } from '../../src/flows/sessions.js';
import { flowBatch, totalsFor, type FlowSpec } from '../helpers/flow-batch.js';

const HOST = '10.9.0.2';
const HOST_V4 = (10 << 24) | (9 << 16) | 2;
const TCP = 6, ACK = 0x10, RST = 0x04;

const v4Text = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');

interface End { addr: number; port: number }

/**
 * Two public remote ends (in 203.0.0.0/8, ports 1024..41023) whose sessions
 * with HOST:40000 on the first interface hash the same (one in ~100k pairs
 * does). With one field varied the hash never collides (each mixing step is
 * invertible), so the address and the port vary together.
 */
function collidingRemotes(): [End, End] {
  const seen = new Map<number, End>();
  for (let j = 0; j < 1 << 22; j++) {
    const end = { addr: (203 << 24) + j, port: 1024 + ((Math.imul(j, 0x9e3779b1) >>> 0) % 40000) };
    const h = sessionHashV4(0, TCP, HOST_V4, 40000, end.addr | 0, end.port);
    const other = seen.get(h);
    if (other !== undefined) return [other, end];
    seen.set(h, end);
  }
  throw new Error('no collision in 2^22 remote ends: is the hash wider than 32 bits?');
}

t.test('two conversations with one hash are two sessions, counted, ended and found apart', (t) => {
  const [a, b] = collidingRemotes();
  const A = v4Text(a.addr), B = v4Text(b.addr);
  const portOf = new Map([[A, a.port], [B, b.port]]);
  t.equal(sessionHashV4(0, TCP, HOST_V4, 40000, a.addr | 0, a.port), sessionHashV4(0, TCP, HOST_V4, 40000, b.addr | 0, b.port), `${A}:${a.port} and ${B}:${b.port} collide`);
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, [HOST]);
  const p = new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier);
  const up = (remote: string, bytes: number, flags = ACK): FlowSpec => ({ direction: 'egress', protocol: TCP, src: HOST, dst: remote, srcPort: 40000, dstPort: portOf.get(remote)!, packets: 1, bytes, tcpFlags: flags });
  const down = (remote: string, bytes: number): FlowSpec => ({ direction: 'ingress', protocol: TCP, src: remote, dst: HOST, srcPort: portOf.get(remote)!, dstPort: 40000, packets: 1, bytes, tcpFlags: ACK });
  const run = (specs: FlowSpec[], end: number) => p.process({ start: end - 1000, end, flows: flowBatch(specs, end - 500), totals: totalsFor(specs) });
  const idOf = (remote: string) => `eth0|6|${HOST}|40000|${remote}|${portOf.get(remote)}`;
  const live = () => new Map([...p.live.values()].map((s) => [s.id, s.toRecord()]));

  let s = run([up(A, 100), down(A, 1000), up(B, 200), down(B, 2000)], 1_001_000);
  t.equal(s.activeSessions, 2, 'two sessions');
  t.equal(s.activeRemotes, 2, 'two remotes');
  let m = live();
  t.same([...m.keys()].sort(), [idOf(A), idOf(B)].sort(), 'each with its own text id');
  t.match(m.get(idOf(A)), { bytesUp: 100, bytesDown: 1000, remote: A });
  t.match(m.get(idOf(B)), { bytesUp: 200, bytesDown: 2000, remote: B });

  // A resets; after its linger it ends while B goes on and is still found (no new session)
  run([up(A, 10, RST), up(B, 20)], 1_002_000);
  s = run([down(B, 30)], 1_013_000);
  t.same(s.endedSessions.map((r) => [r.id, r.endReason, r.bytesUp]), [[idOf(A), 'reset', 110]], 'A ended, with its own counts');
  t.equal(s.activeSessions, 1);
  t.equal(s.activeRemotes, 1);
  m = live();
  t.match(m.get(idOf(B)), { bytesUp: 220, bytesDown: 2030, state: 'established' }, 'B kept its counts');

  // A again: a new session beside B
  s = run([up(A, 5)], 1_014_000);
  t.equal(s.activeSessions, 2);
  m = live();
  t.match(m.get(idOf(A)), { bytesUp: 5, bytesDown: 0 }, 'A begins again from nothing');
  t.match(m.get(idOf(B)), { bytesUp: 220, bytesDown: 2030 });
  const ended = p.endAll();
  t.same(ended.map((r) => r.id).sort(), [idOf(A), idOf(B)].sort(), 'endAll ends both');
  t.end();
});

t.test('a session table chain: found by fields, deleted from head, middle or end, kept in order', (t) => {
  const make = (remote: number, port: number) => new Session(7, 'eth0', TCP, HOST, 40000, v4Text(remote), port, 'internet', undefined, true, HOST_V4, remote, 0, 'local');
  const table = new SessionTable();
  const [x, y, z] = [make(1, 443), make(1, 80), make(2, 443)];
  for (const s of [x, y, z]) table.add(s);
  const find = (remote: number, port: number) => table.getV4(7, 'eth0', TCP, HOST_V4, 40000, remote, port);
  t.equal(table.size, 3);
  t.equal(find(1, 443), x); t.equal(find(1, 80), y); t.equal(find(2, 443), z);
  t.equal(find(2, 80), undefined, 'same hash, other fields: not found');
  t.equal(table.getV4(7, 'eth1', TCP, HOST_V4, 40000, 1, 443), undefined, 'other interface: not found');
  t.same([...table.values()], [x, y, z], 'in the order added');
  table.delete(y);
  t.same([...table.values()], [x, z]); t.equal(find(1, 80), undefined);
  table.delete(x);
  t.same([...table.values()], [z]); t.equal(find(2, 443), z, 'the new head is found');
  table.add(x);
  t.same([...table.values()], [z, x]);
  for (const s of table.values()) table.delete(s);
  t.equal(table.size, 0, 'deleted while iterating');
  t.same([...table.values()], []);
  t.equal(x.id, `eth0|6|${HOST}|40000|0.0.0.1|443`, 'the text id, made when asked for');
  t.end();
});
