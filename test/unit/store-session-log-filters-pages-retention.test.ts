/**
 * The session log: every filter (address, CIDR, port, protocol, interface,
 * scope, country, ASN, domain), every sort, cursor pages that together list each
 * session exactly once (flushed and pending alike), retention by last packet,
 * and the live sessions a running flowlens hands over.
 */
process.env.TZ = 'UTC';
import t from 'tap';
import { Store } from '../../src/store/index.js';
import type { SessionRecord } from '../../src/flows/types.js';
import { interval, manualClock, session, tempDataDir } from '../helpers/intervals.js';

const T0 = Date.UTC(2026, 6, 1, 12);
const D = 86_400_000;

function log(): SessionRecord[] {
  return [
    session({ remote: '203.0.113.5', firstSeen: T0 - 9000, lastSeen: T0 - 1000, bytesUp: 10, bytesDown: 500, domain: 'www.example.com', country: 'US', asn: 64500, asOrg: 'Example' }),
    session({ remote: '203.0.113.6', remotePort: 53, protocol: 17, protocolName: 'udp', firstSeen: T0 - 8000, lastSeen: T0 - 7000, bytesUp: 60, bytesDown: 90, country: 'DE', asn: 64501 }),
    session({ remote: '192.168.1.20', local: '192.168.1.10', localPort: 22, remotePort: 51000, initiator: 'remote', scope: 'lan', iface: 'eth1', firstSeen: T0 - 50_000, lastSeen: T0 - 2000, bytesUp: 9000, bytesDown: 3000, country: 'private', asn: undefined }),
    session({ remote: '2001:db8::1', local: 'fd00::10', firstSeen: T0 - 4000, lastSeen: T0 - 3000, bytesUp: 1, bytesDown: 2, domain: 'example.com', country: 'us' }),
    session({ remote: '2001:db8:1::99', local: 'fd00::10', protocol: 58, protocolName: 'icmpv6', localPort: 0, remotePort: 0, state: 'echo', firstSeen: T0 - 6000, lastSeen: T0 - 5000, bytesUp: 64, bytesDown: 64, domain: 'notexample.com' }),
  ];
}

t.test('filters, flushed and pending alike', async (t) => {
  const dir = tempDataDir(t, 'sess');
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => T0 });
  t.teardown(() => store.close());
  const all = log();
  store.add(interval({ end: T0 - 500, ended: all.slice(0, 3) }));
  store.flush();
  store.add(interval({ end: T0, ended: all.slice(3) }));   // pending

  const remotes = (filter: object) => store.sessions({ filter, sort: 'lastSeen' }).sessions.map((s) => s.remote);
  t.same(remotes({}), ['203.0.113.5', '192.168.1.20', '2001:db8::1', '2001:db8:1::99', '203.0.113.6'], 'all, latest last packet first');
  t.same(remotes({ addr: '203.0.113.0/24' }), ['203.0.113.5', '203.0.113.6'], 'IPv4 CIDR');
  t.same(remotes({ addr: '2001:db8::/32' }), ['2001:db8::1', '2001:db8:1::99'], 'IPv6 CIDR');
  t.same(remotes({ addr: '2001:db8::/48' }), ['2001:db8::1'], 'IPv6 CIDR, narrower');
  t.same(remotes({ addr: '192.168.1.10' }), ['203.0.113.5', '192.168.1.20', '203.0.113.6'], 'one address, local end');
  t.same(remotes({ port: 53 }), ['203.0.113.6'], 'port (remote)');
  t.same(remotes({ port: 22 }), ['192.168.1.20'], 'port (local)');
  t.same(remotes({ protocol: 'udp' }), ['203.0.113.6'], 'protocol name');
  t.same(remotes({ protocol: 58 }), ['2001:db8:1::99'], 'protocol number');
  t.same(remotes({ iface: 'eth1' }), ['192.168.1.20'], 'interface');
  t.same(remotes({ scope: 'lan' }), ['192.168.1.20'], 'scope');
  t.same(remotes({ country: 'us' }), ['203.0.113.5', '2001:db8::1'], 'country, any case');
  t.same(remotes({ asn: 'AS64501' }), ['203.0.113.6'], 'ASN as AS64501');
  t.same(remotes({ asn: 64500 }), ['203.0.113.5'], 'ASN as a number');
  t.same(remotes({ domain: 'example.com' }), ['203.0.113.5', '2001:db8::1'], 'domain and its subdomains, not notexample.com');
  t.same(remotes({ domain: 'example.com', port: 443, addr: '2001:db8::/32' }), ['2001:db8::1'], 'filters combine');

  const s = store.sessions({ filter: { addr: '203.0.113.5' } }).sessions[0];
  t.same(s, all[0], 'a session comes back as it went in');

  t.throws(() => store.sessions({ filter: { addr: '10.0.0.0/33' } }), { code: 'FLOW_ERR_USAGE', message: /addr: "10.0.0.0\/33" is not an address or CIDR prefix/ });
  t.throws(() => store.sessions({ filter: { port: 70000 } }), { message: /port must be a number from 0 to 65535/ });
  t.throws(() => store.sessions({ filter: { scope: 'wan' as 'lan' } }), { message: /scope must be internet or lan/ });
  t.throws(() => store.sessions({ filter: { asn: 'ASX' } }), { message: /asn must be a number/ });
  t.throws(() => store.sessions({ sort: 'size' as 'bytes' }), { message: /sort must be one of/ });
  t.throws(() => store.sessions({ cursor: 'garbage' }), { message: /cursor is not one this query returned/ });
});

t.test('sorts and cursor pages list every session exactly once', async (t) => {
  const dir = tempDataDir(t, 'pages');
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => T0 });
  t.teardown(() => store.close());
  // 57 sessions, some with equal byte counts and equal last-seen times (ties break by id)
  const many = Array.from({ length: 57 }, (_, i) => session({ remote: `198.51.100.${i}`, firstSeen: T0 - 100_000 + i, lastSeen: T0 - 1000 * (i % 7), bytesUp: (i % 5) * 10, bytesDown: 0, packetsUp: i % 3, packetsDown: 0 }));
  store.add(interval({ end: T0 - 1, ended: many.slice(0, 40) }));
  store.flush();
  store.add(interval({ end: T0, ended: many.slice(40) }));
  for (const sort of ['lastSeen', 'firstSeen', 'bytes', 'packets'] as const) {
    const seen: SessionRecord[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const p = store.sessions({ sort, limit: 10, cursor });
      seen.push(...p.sessions);
      cursor = p.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 20);
    t.equal(pages, 6, `${sort}: 6 pages of at most 10`);
    t.same(seen.map((s) => s.remote).sort(), many.map((s) => s.remote).sort(), `${sort}: each session exactly once`);
    const key = { lastSeen: (s: SessionRecord) => s.lastSeen, firstSeen: (s: SessionRecord) => s.firstSeen, bytes: (s: SessionRecord) => s.bytesUp + s.bytesDown, packets: (s: SessionRecord) => s.packetsUp + s.packetsDown }[sort];
    t.ok(seen.every((s, i) => i === 0 || key(seen[i - 1]) >= key(s)), `${sort}: largest / latest first across pages`);
  }
  t.throws(() => store.sessions({ sort: 'bytes', cursor: store.sessions({ sort: 'lastSeen', limit: 1 }).nextCursor! }), { message: /cursor is not one this query returned/ }, 'a cursor belongs to its sort');
});

t.test('time range and retention', async (t) => {
  const dir = tempDataDir(t, 'ret');
  const clock = manualClock(T0);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, sessionLogDays: 2, minuteRetentionDays: 1 });
  t.teardown(() => store.close());
  const old = session({ remote: '203.0.113.1', firstSeen: T0 - 3 * D, lastSeen: T0 - 2.5 * D });
  const mid = session({ remote: '203.0.113.2', firstSeen: T0 - 1.5 * D, lastSeen: T0 - 1.2 * D });
  const now = session({ remote: '203.0.113.3', firstSeen: T0 - 1000, lastSeen: T0 - 10 });
  store.add(interval({ end: T0, ended: [old, mid, now] }));
  t.same(store.sessions({ from: '2026-06-30', to: '2026-06-30' }).sessions.map((s) => s.remote), ['203.0.113.2'], 'sessions that overlap a day');
  store.flush();
  t.same(store.sessions().sessions.map((s) => s.remote), ['203.0.113.3', '203.0.113.2'], 'older than 2 days: pruned at the flush');
  clock.advance(1 * D);
  store.flush();
  t.same(store.sessions().sessions.map((s) => s.remote), ['203.0.113.3'], 'a day later the next one is gone');
});

t.test('live sessions: from memory in the writer, from the last flush elsewhere', async (t) => {
  const dir = tempDataDir(t, 'livesess');
  const clock = manualClock(T0);
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: clock.now, liveSessionsLimit: 2 });
  t.teardown(() => store.close());
  const active = [
    session({ remote: '203.0.113.10', firstSeen: T0 - 5000, lastSeen: T0, bytesUp: 5, bytesDown: 5, state: 'established' }),
    session({ remote: '203.0.113.11', firstSeen: T0 - 5000, lastSeen: T0, bytesUp: 500, bytesDown: 5, state: 'established' }),
    session({ remote: '203.0.113.12', firstSeen: T0 - 5000, lastSeen: T0, bytesUp: 50, bytesDown: 5, protocol: 17, protocolName: 'udp', state: 'active' }),
  ];
  store.setLiveSessions(active);
  const reader = Store.openReadOnly({ dataDir: dir });
  t.teardown(() => reader.close());
  t.same(reader.sessions({ source: 'live' }), { source: 'live', sessions: [], nextCursor: null, at: null }, 'nothing before the first flush');
  t.same(store.sessions({ source: 'live', sort: 'bytes' }).sessions.map((s) => s.remote), ['203.0.113.11', '203.0.113.12'], 'the writer: the largest 2 (liveSessionsLimit)');
  clock.advance(1000);
  store.flush();
  const p = reader.sessions({ source: 'live', sort: 'bytes', filter: { protocol: 'tcp' } });
  t.same([p.at, p.sessions.map((s) => s.remote)], [T0, ['203.0.113.11']], 'the reader: the snapshot of the last flush, filtered');
  t.same(reader.sessions({ source: 'ended' }).sessions, [], 'live sessions are not in the log');
  t.throws(() => reader.add(interval({ end: T0 })), { code: 'FLOW_ERR_STORE', message: /read-only/ });
});
