/**
 * The history's live snapshot takes the largest live sessions: the same
 * sessions, in the same order, as sorting every session by bytes (ties in table
 * order) and cutting to the limit — without sorting every session.
 */
import t from 'tap';
import { largestSessions } from '../../src/store/component.js';
import type { LiveSession } from '../../src/flows/live.js';

function session(id: number, bytesUp: number, bytesDown: number): LiveSession {
  return { id: String(id), bytesUp, bytesDown } as unknown as LiveSession;
}

const naive = (all: LiveSession[], limit: number) => [...all].sort((a, b) => b.bytesUp + b.bytesDown - (a.bytesUp + a.bytesDown)).slice(0, limit);
const ids = (xs: LiveSession[]) => xs.map((s) => s.id);

t.test('the largest, ties in table order, as a full sort would give', async (t) => {
  // few distinct sizes: many ties at the cut-off
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const all = Array.from({ length: 5000 }, (_, i) => session(i, Math.floor(random() * 20) * 100, Math.floor(random() * 5) * 1000));
  for (const limit of [0, 1, 10, 100, 999, 4999, 5000, 6000]) {
    t.same(ids(largestSessions(all, limit)), ids(naive(all, limit)), `limit ${limit}`);
  }
  t.same(ids(largestSessions([], 10)), [], 'no sessions');
  const equal = Array.from({ length: 50 }, (_, i) => session(i, 10, 10));
  t.same(ids(largestSessions(equal, 5)), ['0', '1', '2', '3', '4'], 'all equal: the first in table order');
});
