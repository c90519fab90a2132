/**
 * What the history's flush pays to rank a live window of N talker keys held as
 * sums (TalkerSums.entries() then topN, as writer.ts liveTalkers does): each
 * key once (entries() goes through toMap(), so a key under two numbers is one
 * row), beside visiting the sums and copying each (forEach: a key under two
 * numbers is visited twice — the reference, not a correct ranking).
 *
 *   node --import tsx bench/talker-rank.ts [--keys 100000] [--reps 15]
 *
 * Prints figures; asserts nothing.
 */
import { parseArgs } from 'node:util';
import { TalkerSums } from '../src/flows/talker-sums.js';
import { countsOf, newAccumulator, rowOf, topN, type TalkerCounts } from '../src/flows/talkers.js';
import { median, printHeader, table } from './lib.js';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '100000' }, reps: { type: 'string', default: '15' } } });
const keys = Number(values.keys), reps = Number(values.reps);

const sums = new TalkerSums();
for (let i = 0; i < keys; i++) {
  const a = newAccumulator(`203.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`, i);
  a.bytesUp = (i * 7919) % 1_000_003;
  a.packetsUp = 1;
  a.sessions = 1;
  sums.add(rowOf(a));
}
const visited = (): Array<[string, TalkerCounts]> => {
  const out: Array<[string, TalkerCounts]> = [];
  sums.forEach((k, a) => out.push([k, countsOf(a.bytesUp, a.bytesDown, a.packetsUp, a.packetsDown, a.sessions, a.newSessions)]));
  return out;
};
const timed = (f: () => Array<[string, TalkerCounts]>) => {
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    topN(f(), 100);
    ms.push(performance.now() - t0);
  }
  return median(ms);
};
printHeader(`ranking a live window of ${keys} talker keys held as sums (top 100)`);
const reference = timed(visited);
const exact = timed(() => sums.entries());
console.log(table(['what', 'median ms'], [
  ['forEach, a copy each (reference: a key under two numbers twice)', reference.toFixed(1)],
  ['entries(): each key once (via toMap)', exact.toFixed(1)],
  ['ratio', (exact / reference).toFixed(2)],
]));
console.log(`(medians of ${reps})`);
