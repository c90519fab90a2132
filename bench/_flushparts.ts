import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TALKER_DIMENSIONS, type IntervalStats, type TalkerDimension, type TalkerRow } from '../src/flows/types.js';
import { Store } from '../src/store/index.js';
import { liveTalkers } from '../src/store/writer.js';
const KEYS = Number(process.argv[2] ?? 100000);
function rows(n: number, key: (i: number) => string, scale: number): TalkerRow[] {
  return Array.from({ length: n }, (_, i) => ({ key: key(i), bytesUp: 100 + ((i * scale) % 9000), bytesDown: 1000 + ((i * 7 * scale) % 90000), packetsUp: 3, packetsDown: 5, sessions: 1, newSessions: 0 }));
}
function iv(end: number, seq: number): IntervalStats {
  const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const counts: Record<TalkerDimension, number> = { ip: KEYS, host: 50, port: 300, proto: 5, country: 120, asn: 2000, domain: 5000, device: 50 };
  const talkers = Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, rows(counts[d], d === 'ip' ? ip : (i) => `${d}-${i}`, seq + 1)])) as Record<TalkerDimension, TalkerRow[]>;
  const traffic = [{ iface: 'eth0', direction: 'up' as const, scope: 'lan' as const, bytes: 1, packets: 1 }];
  return { start: end - 1000, end, traffic, activeSessions: KEYS, activeRemotes: KEYS, talkers, endedSessions: [] };
}
const dir = mkdtempSync(path.join(os.tmpdir(), 'fp-'));
let now = Date.UTC(2026, 0, 1, 10, 0, 0);
const store = Store.open({ dataDir: dir, flushIntervalMs: 0, clock: () => now });
const ms = (t: bigint) => (Number(process.hrtime.bigint() - t) / 1e6).toFixed(1);
let seq = 0;
for (let f = 0; f < 8; f++) {
  const adds: string[] = [];
  for (let i = 0; i < 10; i++) { now += 1000; const s = iv(now, seq++); const t = process.hrtime.bigint(); store.add(s); adds.push(ms(t)); }
  const p = (store as any).pending;
  let t = process.hrtime.bigint(); p.settle(); const st = ms(t);
  t = process.hrtime.bigint(); liveTalkers(p, 100); const lt = ms(t);
  t = process.hrtime.bigint(); store.flush(); const fl = ms(t);
  console.log(`adds ${adds.join(' ')} | settle ${st} liveTalkers ${lt} flush(after) ${fl}`);
}
store.close(); rmSync(dir, { recursive: true, force: true });
