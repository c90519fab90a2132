/**
 * An interval's talkers are ranked at the head, not sorted whole (issue 11):
 * the RANKED_ROWS largest keys first, by bytes then key, the rest after them.
 * What a user reads must not change: every cut an interval's rows go through
 * (the live query's top N, the NDJSON lines' --top, a coarsened interval)
 * gives the same keys as a full sort, and no row is lost or counted twice.
 * (Keys tied in bytes with the last ranked row are ranked in the order the
 * flows stage met them, not by key: the same bytes either way.)
 */
import t from 'tap';
import { RANKED_ROWS, nthSmallest, rankRows, rowsByBytes, topRows, totalBytes, type TalkerRow } from '../../src/flows/talkers.js';
import { COARSE_TALKERS, coarsened } from '../../src/flows/coarsen.js';
import { FlowProcessor } from '../../src/flows/processor.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';
import { statsLines } from '../../src/cli/run.js';
import { flowBatch, totalsFor, type FlowSpec } from '../helpers/flow-batch.js';
import { seededRandom } from '../helpers/random.js';

/** n rows: a few large keys, a long tail of small ones with many equal byte counts. */
function rows(n: number, seed: number): TalkerRow[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const big = r() < 0.05;
    const up = big ? Math.floor(r() * 1e6) : 60 * (1 + Math.floor(r() * 3));
    return { key: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, bytesUp: up, bytesDown: big ? Math.floor(r() * 1e6) : 0, packetsUp: 1, packetsDown: 0, sessions: 1, newSessions: 0 };
  });
}

const keysOf = (rs: readonly TalkerRow[]) => rs.map((r) => r.key);
const sum = (rs: readonly TalkerRow[]) => rs.reduce((a, r) => a + totalBytes(r), 0);

t.test('rankRows: the largest RANKED_ROWS first in full order, every row kept once', async (t) => {
  for (const n of [0, 5, 2 * RANKED_ROWS, 2 * RANKED_ROWS + 1, 50_000]) {
    const given = rows(n, n + 1);
    const full = [...given].sort(rowsByBytes);
    const ranked = rankRows([...given]);
    t.equal(ranked.length, n, `${n} rows: as many out as in`);
    t.same(new Set(keysOf(ranked)).size, n, `${n} rows: each once`);
    t.equal(sum(ranked), sum(given), `${n} rows: the same bytes`);
    const head = ranked.slice(0, Math.min(n, RANKED_ROWS));
    t.same(head.map(totalBytes), full.slice(0, head.length).map(totalBytes), `${n} rows: the head has the largest byte counts, largest first`);
    t.same([...head].sort(rowsByBytes), head, `${n} rows: the head is in full order (ties by key)`);
    const last = head.length ? totalBytes(head[head.length - 1]!) : Infinity;
    t.ok(ranked.slice(head.length).every((r) => totalBytes(r) <= last), `${n} rows: nothing after the head is larger than its last row`);
    if (n <= 2 * RANKED_ROWS) t.same(keysOf(ranked), keysOf(full), `${n} rows: few rows are sorted whole`);
  }
});

t.test('nthSmallest: the value a sort puts at each index, also with many equal values', async (t) => {
  const r = seededRandom(7);
  for (const [n, distinct] of [[1, 1], [2, 2], [10, 3], [1000, 1], [1000, 4], [5000, 5000], [20_000, 50]] as const) {
    const values = Float64Array.from({ length: n }, () => Math.floor(r() * distinct) * 60);
    const sorted = values.slice().sort();
    const at = [0, n >> 2, n >> 1, n - 1, Math.max(0, n - 1000)];
    t.same(at.map((k) => nthSmallest(values.slice(), k)), at.map((k) => sorted[k]), `${n} values, ${distinct} distinct`);
  }
});

t.test('topRows: past the ranked head, a full sort', async (t) => {
  const ranked = rankRows(rows(20_000, 7));
  const full = [...ranked].sort(rowsByBytes);
  t.same(keysOf(topRows(ranked, 10)), keysOf(full.slice(0, 10)), 'the top 10');
  t.same(topRows(ranked, 3000).map(totalBytes), full.slice(0, 3000).map(totalBytes), 'the top 3000: the largest, in order');
  t.same([...topRows(ranked, 3000)].sort(rowsByBytes), topRows(ranked, 3000), 'and in full order');
});

t.test('through the flows stage: 6000 remotes, the cuts a user reads are those of a full sort', async (t) => {
  const classifier = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, ['192.168.0.1']);
  const p = new FlowProcessor({ sessions: defaultSessionConfig(), filters: { ignore: [], keep: [] } }, classifier);
  const specs: FlowSpec[] = [];
  for (let i = 0; i < 6000; i++) {
    // every 3rd remote sends more, by its index: 2000 distinct sizes above 4000 equal small ones
    const bytes = i % 3 === 0 ? 1000 + i : 100;
    specs.push({ direction: 'ingress', protocol: 17, src: `203.0.${i >> 8}.${i & 255}`, dst: '192.168.1.10', srcPort: 53, dstPort: 40000 + (i % 20000), packets: 1, bytes });
  }
  const stats = p.process({ start: 1_000_000, end: 1_001_000, flows: flowBatch(specs, 1_000_500), totals: totalsFor(specs) });
  const ip = stats.talkers.ip;
  t.equal(ip.length, 6000, 'one row per remote');
  t.equal(sum(ip), specs.reduce((a, s) => a + s.bytes, 0), 'all bytes');
  const full = [...ip].sort(rowsByBytes);
  t.same(keysOf(ip.slice(0, RANKED_ROWS)), keysOf(full.slice(0, RANKED_ROWS)), `the first ${RANKED_ROWS} rows are a full sort's`);
  t.equal(ip[0]!.key, '203.0.23.109', 'the largest remote first (index 5997: 6997 bytes)');

  const lines: string[] = [];
  statsLines(stats, 1500, lines);
  const listed = (JSON.parse(lines[0]!) as { talkers: { ip: TalkerRow[] } }).talkers.ip;
  t.same(keysOf(listed), keysOf(full.slice(0, 1500)), 'NDJSON --top 1500 (past the ranked head): a full sort\'s first 1500');

  const coarse = coarsened(stats, COARSE_TALKERS).talkers.ip;
  t.same(keysOf(coarse.slice(0, COARSE_TALKERS)), keysOf(full.slice(0, COARSE_TALKERS)), 'a coarsened interval keeps the largest keys');
  t.equal(sum(coarse), sum(ip), 'and all bytes, with "other"');
});
