/**
 * The sink's bounded buffer: it never holds more points or bytes than its
 * caps, drops the oldest queued lines first and counts exactly what it
 * dropped; a batch in flight is never dropped and keeps its place ahead of
 * everything queued after it.
 */
import t from 'tap';
import { LineBuffer } from '../../src/sinks/influx/buffer.js';

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m v=${from + i}i`);
const size = (l: string) => Buffer.byteLength(l) + 1;
const total = (ls: string[]) => ls.reduce((a, l) => a + size(l), 0);

t.test('point cap: the oldest go first, counted in points and bytes', async (t) => {
  const b = new LineBuffer(5, 1 << 20);
  t.same(b.push(lines(1, 3)), { points: 0, bytes: 0 });
  t.same(b.push(lines(4, 8)), { points: 3, bytes: total(lines(1, 3)) }, 'm v=1..3 dropped');
  t.equal(b.points, 5);
  t.equal(b.bytes, total(lines(4, 8)));
  t.same(b.takeBatch(10), lines(4, 8), 'what is left, in order');
});

t.test('byte cap: drops until the bytes fit, multi-byte characters counted as UTF-8', async (t) => {
  const ls = ['m,k=ü v=1i', 'm,k=€ v=2i', 'm,k=a v=3i'];
  const b = new LineBuffer(100, size(ls[1]) + size(ls[2]));
  const dropped = b.push(ls);
  t.same(dropped, { points: 1, bytes: size(ls[0]) });
  t.equal(size(ls[0]), 12, 'ü is two bytes');
  t.equal(b.bytes, size(ls[1]) + size(ls[2]));
  t.same(b.takeBatch(5), ls.slice(1));
});

t.test('a batch in flight stays; the queue behind it gives way; settle removes it', async (t) => {
  const b = new LineBuffer(6, 1 << 20);
  b.push(lines(1, 4));
  t.same(b.takeBatch(2), lines(1, 2), 'the two oldest in flight');
  t.same(b.takeBatch(2), lines(1, 2), 'the same batch until settled');
  t.equal(b.points, 4, 'in flight still counts');
  t.same(b.push(lines(5, 8)), { points: 2, bytes: total(lines(3, 4)) }, 'm v=3,4 dropped: the oldest not in flight');
  t.equal(b.points, 6);
  t.same(b.settle(), { points: 2, bytes: total(lines(1, 2)) });
  t.equal(b.points, 4);
  t.same(b.takeBatch(3), lines(5, 7));
  b.settle();
  t.same(b.takeBatch(3), lines(8, 8));
  t.same(b.settle(), { points: 1, bytes: size('m v=8i') });
  t.equal(b.takeBatch(3), undefined, 'empty');
  t.equal(b.points, 0);
  t.equal(b.bytes, 0);
});

t.test('more new lines than the cap: only the newest that fit remain', async (t) => {
  const b = new LineBuffer(3, 1 << 20);
  t.same(b.push(lines(1, 10)), { points: 7, bytes: total(lines(1, 7)) });
  t.same(b.takeBatch(10), lines(8, 10));
});

t.test('clear returns what was held, in flight included', async (t) => {
  const b = new LineBuffer(100, 1 << 20);
  b.push(lines(1, 5));
  b.takeBatch(2);
  t.same(b.clear(), { points: 5, bytes: total(lines(1, 5)) });
  t.equal(b.points, 0);
  t.equal(b.bytes, 0);
});

t.test('a long run stays exact and bounded (compaction keeps order)', async (t) => {
  const b = new LineBuffer(1000, 1 << 30);
  let dropped = 0, written = 0, next = 1, expect = 1;
  let ordered = true;
  for (let round = 0; round < 200; round++) {
    dropped += b.push(lines(next, next + 49)).points;
    next += 50;
    if (b.points > 1000) ordered = false;
    if (round % 3 === 0) {
      const batch = b.takeBatch(40)!;
      for (const l of batch) {
        const v = Number(l.slice(4, -1));
        if (v < expect) ordered = false;
        expect = v + 1;
      }
      written += b.settle().points;
    }
  }
  t.ok(ordered, 'never over the cap, batches in order');
  t.equal(written + dropped + b.points, next - 1, 'every line written, dropped or held');
});

t.test('kept lines (the health points) are dropped last: the others give way first, order stays', async (t) => {
  const keep = (l: string) => l.startsWith('h ');
  const b = new LineBuffer(4, 1 << 20, keep);
  const period = (k: number) => [`m v=${k}i`, `m v=${k}0i`, `h d=${k}i`];
  t.same(b.push(period(1)), { points: 0, bytes: 0 });
  t.same(b.push(period(2)), { points: 2, bytes: total(['m v=1i', 'm v=10i']) }, 'the oldest plain lines went, not h d=1');
  t.same(b.push(period(3)), { points: 3, bytes: total(['m v=2i', 'm v=20i', 'm v=3i']) }, 'and again');
  t.same(b.takeBatch(10), ['h d=1i', 'h d=2i', 'm v=30i', 'h d=3i'], 'the kept lines in their order');
  b.settle();
  const only = new LineBuffer(2, 1 << 20, keep);
  t.same(only.push(['h d=1i', 'h d=2i', 'h d=3i']), { points: 1, bytes: size('h d=1i') }, 'nothing else left: the oldest kept line goes');
  t.same(only.takeBatch(10), ['h d=2i', 'h d=3i']);
});
