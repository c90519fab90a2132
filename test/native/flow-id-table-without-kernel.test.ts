/**
 * The addon's flow id table (native/src/flow_ids.c), driven directly through
 * FlowIdTable over buffers of flow_records: the code every drain runs on its
 * worker thread, here without loading BPF. A key keeps its id until released,
 * keys never share an id, released ids are reused first (so ids stay dense),
 * and equal keys in one batch (claim-race copies) share one id.
 */
import t from 'tap';
import { loadBenchAddon } from '../../bench/lib.js';
import { FLOW_ID_NONE, FlowRecord } from '../../src/collector/layout.gen.js';
import { idsOf, records } from '../helpers/flow-records.js';

// the id table on its own is a test-and-bench call: it lives in the bench addon (the same C code the drain runs)
const { FlowIdTable } = loadBenchAddon();

/** Assigns ids to records of these flow numbers; returns the ids in order. */
function assign(table: InstanceType<typeof FlowIdTable>, keys: number[]): number[] {
  const buf = records(keys);
  const refused = table.assign(buf, 0, keys.length);
  if (refused) throw new Error(`${refused} records refused`);
  return idsOf(buf);
}

t.test('the same key gets the same id in every batch; different keys get different ids', async (t) => {
  const table = new FlowIdTable();
  const first = assign(table, [10, 11, 12]);
  t.same(first, [0, 1, 2], 'new keys get the next ids, from 0');
  t.same(assign(table, [12, 10, 11]), [2, 0, 1], 'the same keys, in another order, keep their ids');
  t.same(assign(table, [11, 13]), [1, 3], 'a known key keeps its id beside a new one');
  t.same(table.stats(), { live: 4, released: 0, capacity: 1024 });
});

t.test('equal keys in one batch (claim-race copies) share one id', async (t) => {
  const table = new FlowIdTable();
  t.same(assign(table, [7, 8, 7, 7, 8]), [0, 1, 0, 0, 1]);
  t.equal(table.stats().live, 2);
});

t.test('a released id goes to the next new key; the released key later gets a fresh id', async (t) => {
  const table = new FlowIdTable();
  t.same(assign(table, [1, 2, 3]), [0, 1, 2]);
  t.equal(table.release(Uint32Array.of(1)), 1, 'one id released');
  t.same(table.stats(), { live: 2, released: 1, capacity: 1024 });
  t.same(assign(table, [4]), [1], 'the new key 4 reuses id 1');
  t.same(assign(table, [2]), [3], 'key 2, released, comes back with a fresh id');
  t.same(assign(table, [1, 3, 4, 2]), [0, 2, 1, 3], 'everyone else kept theirs');
  t.same(table.stats(), { live: 4, released: 0, capacity: 1024 });
});

t.test('releasing an id that is not live changes nothing', async (t) => {
  const table = new FlowIdTable();
  assign(table, [1, 2]);
  t.equal(table.release(Uint32Array.of(0, 0)), 1, 'a double release frees once');
  t.equal(table.release(Uint32Array.of(0, 5, 1000, FLOW_ID_NONE)), 0, 'released, never handed out, and FLOW_ID_NONE: ignored');
  t.same(table.stats(), { live: 1, released: 1, capacity: 1024 });
  t.same(assign(table, [3, 4]), [0, 2], 'two new keys get two different ids (the freed one once)');
  t.same(assign(table, [2]), [1], 'key 2 kept its id');
});

t.test('under random churn ids match a model: stable, unique, dense', async (t) => {
  // a deterministic PRNG (mulberry32) so a failure can be replayed
  let seed = 0x5eed1234;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const table = new FlowIdTable();
  const model = new Map<number, number>(); // key → id
  let wrong = 0, maxId = -1, maxBound = Infinity;
  for (let round = 0; round < 60; round++) {
    const keys = Array.from({ length: 2000 }, () => Math.floor(rand() * 20000));
    const ids = assign(table, keys);
    const owner = new Map<number, number>([...model].map(([k, id]) => [id, k]));
    keys.forEach((k, i) => {
      const id = ids[i]!;
      const known = model.get(k);
      if (known !== undefined ? id !== known : owner.has(id) && owner.get(id) !== k) wrong++;
      model.set(k, id);
      owner.set(id, k);
      maxId = Math.max(maxId, id);
    });
    const s = table.stats();
    if (s.live !== model.size) wrong++;
    // ids are below live + released: nothing is handed out while a freed id waits
    maxBound = Math.min(maxBound, s.live + s.released - 1 - maxId);
    // release about a third of the live ids, plus some that are not live
    const release = [...model].filter(() => rand() < 0.35);
    for (const [k] of release) model.delete(k);
    const freed = table.release(Uint32Array.from([...release.map(([, id]) => id), ...release.slice(0, 5).map(([, id]) => id), FLOW_ID_NONE]));
    if (freed !== release.length) wrong++;
  }
  t.equal(wrong, 0, 'every id as the model says');
  t.ok(maxBound >= 0, 'every id stayed below live + released');
  t.ok(model.size > 1000, `${model.size} keys live at the end`);
});

t.test('a batch of 1,000,000 new keys gets the ids 0 .. 999,999, and the same ids again', async (t) => {
  const n = 1_000_000;
  const table = new FlowIdTable();
  const buf = records(Array.from({ length: n }, (_, i) => i));
  t.equal(table.assign(buf, 0, n), 0);
  const ids = idsOf(buf);
  const seen = new Uint8Array(n);
  let bad = 0;
  for (const id of ids) { if (id >= n || seen[id]) bad++; else seen[id] = 1; }
  t.equal(bad, 0, 'unique and dense');
  t.ok(table.stats().capacity >= 2 * n, `capacity ${table.stats().capacity}: at most half full`);
  // assign overwrites the ids with hashes on its way: a second pass must find every key
  t.equal(table.assign(buf, 0, n), 0);
  const again = idsOf(buf);
  t.equal(again.findIndex((id, i) => id !== ids[i]), -1, 'each key kept its id');
});

t.test('beyond the limit new keys get FLOW_ID_NONE; known keys keep theirs', async (t) => {
  const table = new FlowIdTable(2);
  const buf = records([1, 2, 3, 1]);
  t.equal(table.assign(buf, 0, 4), 1, 'one record refused');
  t.same(idsOf(buf), [0, 1, FLOW_ID_NONE, 0]);
  table.release(Uint32Array.of(1));
  t.equal(table.assign(buf, 0, 4), 1, 'still one record refused');
  t.same(idsOf(buf), [0, 1, FLOW_ID_NONE, 0], 'key 2, released, came first and took the freed room');
  t.same(table.stats(), { live: 2, released: 0, capacity: 1024 });
});

t.test('records at an offset, and wrong arguments', async (t) => {
  const table = new FlowIdTable();
  const buf = Buffer.alloc(FlowRecord.size * 3);
  records([5, 6]).copy(buf, FlowRecord.size);
  t.equal(table.assign(buf, FlowRecord.size, 2), 0);
  t.same(idsOf(buf).slice(1), [0, 1]);
  t.throws(() => table.assign(buf, FlowRecord.size, 3), RangeError, 'past the end');
  t.throws(() => table.assign(buf, 4, 1), RangeError, 'not 8-byte aligned');
  t.throws(() => table.release([1, 2] as unknown as Uint32Array), TypeError);
  t.throws(() => table.release(Int32Array.of(1) as unknown as Uint32Array), TypeError);
  t.throws(() => new FlowIdTable(0), TypeError);
  t.throws(() => new FlowIdTable(2 ** 28 + 1), TypeError);
});
