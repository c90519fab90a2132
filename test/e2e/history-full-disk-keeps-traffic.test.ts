/**
 * A full disk never stops the traffic history: on a 4 MiB tmpfs filled to the
 * last byte, every flush still stores the traffic and talkers exactly (the
 * oldest ended sessions make room, counted), what could not be stored is
 * counted, and once space returns the session log is written again.
 * Also the disk cap (history.maxDiskSize) keeps the database under it.
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { Store } from '../../src/store/index.js';
import type { IntervalStats, SessionRecord } from '../../src/flows/types.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function session(i: number, at: number): SessionRecord {
  return {
    id: `udp|10.0.${(i >> 8) & 255}.${i & 255}|${1024 + (i % 60000)}|198.51.100.7|53`, iface: 'eth0', protocol: 17, protocolName: 'udp',
    local: `10.0.${(i >> 8) & 255}.${i & 255}`, localPort: 1024 + (i % 60000), remote: '198.51.100.7', remotePort: 53,
    scope: 'internet', initiator: 'local', state: 'closed', firstSeen: at - 500, lastSeen: at,
    bytesUp: 80, bytesDown: 200, packetsUp: 1, packetsDown: 1, tcpFlagsUp: 0, tcpFlagsDown: 0, endReason: 'idle',
  } as SessionRecord;
}

/** One second of a busy resolver: known traffic and `sessions` short UDP sessions that ended. */
function second(n: number, sessions: number): IntervalStats {
  const end = T0 + (n + 1) * 1000;
  const ended = Array.from({ length: sessions }, (_, i) => session(n * sessions + i, end - 1));
  return {
    start: end - 1000, end, activeSessions: 0, activeRemotes: 0,
    traffic: [{ iface: 'eth0', direction: 'up', scope: 'internet', bytes: 80 * sessions, packets: sessions },
      { iface: 'eth0', direction: 'down', scope: 'internet', bytes: 200 * sessions, packets: sessions }],
    talkers: { ip: [], host: [], port: [{ key: 'udp/53', bytesUp: 80 * sessions, bytesDown: 200 * sessions, packetsUp: sessions, packetsDown: sessions, newSessions: sessions }], proto: [], country: [], asn: [], domain: [] },
    endedSessions: ended,
  } as unknown as IntervalStats;
}

function tmpfs(t: Test, size: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-fulldisk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.teardown(() => {
    try { execFileSync('umount', ['-l', dir]); } catch { /* already */ }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

t.test('a session flood on a small disk: every flush stores the traffic exactly, the session log waits (counted), and recovers when space returns', async (t) => {
  if (!requireKernel(t)) return;
  const dir = tmpfs(t, '4m');
  let clock = T0;
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => clock });
  t.teardown(() => { try { store.close(); } catch { /* closed by the test */ } });
  const range = { from: T0 - 3_600_000, to: T0 + 3 * 3_600_000, granularity: 'hour' as const };
  let sent = 0;
  let failed = 0;
  // 40 s of 2000 short UDP sessions a second: ~8 MB of session log for a 4 MiB filesystem
  for (let n = 0; n < 40; n++) {
    const s = second(n, 2000);
    clock = s.end;
    store.add(s);
    sent += 2000;
    try { store.flush(); } catch { failed++; }
    if (store.health().pendingTrafficBytes !== 0) break;
  }
  t.equal(failed, 0, 'no flush failed');
  const h = store.health();
  const reader = Store.openReadOnly({ dataDir: dir });
  t.same([reader.history(range).total.up, reader.history(range).total.down], [80 * sent, 200 * sent], 'the stored traffic history is exact after every flush');
  reader.close();
  t.equal(h.pendingTrafficBytes, 0, 'no traffic waits');
  t.match(h.problem, /nearly full.*ended sessions wait/, `health says the session log waits (${h.problem})`);
  t.ok(h.pendingSessions > 0, `sessions wait in memory, bounded (${h.pendingSessions})`);
  t.ok(h.sessionsTrimmed > 0, `the oldest logged sessions made room, counted (${h.sessionsTrimmed})`);
  const stored = store.sessions({ source: 'ended', limit: 1000 }).sessions.length;

  // space returns: the waiting sessions are written at the next flush
  execFileSync('mount', ['-o', 'remount,size=64m', dir]);
  const waiting = h.pendingSessions;
  const s = second(40, 10);
  clock = s.end;
  store.add(s);
  sent += 10;
  const r = store.flush();
  t.equal(r.sessions, waiting + 10, 'every waiting session is written once space returns');
  t.same([store.health().pendingSessions, store.health().problem], [0, undefined], 'nothing waits, no problem');
  const after = Store.openReadOnly({ dataDir: dir });
  t.equal(after.history(range).total.up, 80 * sent, 'the stored traffic is exact');
  after.close();
  t.ok(store.sessions({ source: 'ended', limit: 1000 }).sessions.length >= stored, 'the log has them');
});

t.test('history.maxDiskSize keeps the database under the cap: the oldest sessions go, counted; traffic stays', async (t) => {
  if (!requireKernel(t)) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-cap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let clock = T0;
  const cap = 2 * 1024 * 1024;
  const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => clock, maxDiskBytes: cap });
  t.teardown(() => store.close());
  let sent = 0;
  for (let n = 0; n < 40; n++) {
    const s = second(n, 2000);
    clock = s.end;
    store.add(s);
    sent += 2000;
    store.flush();
  }
  const size = statSync(path.join(dir, 'flowlens.db')).size;
  t.ok(size <= cap + 2 * 1024 * 1024, `the file stays near the cap (${size} bytes, cap ${cap})`);
  t.ok(store.health().sessionsTrimmed > 0, `old sessions were deleted, counted (${store.health().sessionsTrimmed})`);
  t.equal(store.history({ from: T0 - 3_600_000, to: T0 + 3_600_000, granularity: 'hour' }).total.up, 80 * sent, 'the traffic is exact');
});
