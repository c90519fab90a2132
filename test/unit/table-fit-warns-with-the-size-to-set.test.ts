/**
 * A full kernel flow table: how many flows did not fit (estimated from the
 * overflow packets), the --map-size to set, and one stderr line a minute.
 */
import t from 'tap';
import { TableFit, mapSizeFor, BYTES_PER_MAP_ENTRY } from '../../src/collector/table-fit.js';
import type { DirectionTotals } from '../../src/collector/decode.js';

function dir(packets: number, overflowPackets: number): DirectionTotals {
  return { packets, bytes: packets * 100, flows: 0, overflowPackets, overflowBytes: overflowPackets * 100,
    nonIpPackets: 0, nonIpBytes: 0, malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0 };
}

t.test('mapSizeFor: the smallest power of two above', async (t) => {
  t.same([0, 1, 2, 3, 65536, 100_000, 131_071].map(mapSizeFor), [1, 2, 4, 4, 131072, 131072, 131072]);
  t.equal(mapSizeFor(1e9), 1 << 24, 'capped at the largest --map-size');
});

t.test('what one --map-size entry costs', async (t) => {
  // 4 slots of 88 bytes in the kernel, 2 claimed-list elements, one drain record
  t.equal(BYTES_PER_MAP_ENTRY, 4 * 88 + 16 + 88);
});

t.test('100k flows of 3 packets into a 65536 table', async (t) => {
  let clock = 0;
  const lines: string[] = [];
  const fit = new TableFit(65536, (l) => lines.push(l), () => clock);
  const fitted = 65536, missing = 100_000 - fitted;
  // split over two interfaces and directions: the sums are what counts
  fit.add(fitted, [
    { ingress: dir(fitted * 3 / 2 + missing * 3, missing * 3), egress: dir(0, 0) },
    { ingress: dir(0, 0), egress: dir(fitted * 3 / 2, 0) },
  ]);
  t.equal(fit.notFitted, missing, 'overflow packets / packets per fitted flow');
  t.equal(fit.suggestedMapSize, 131072);
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /--map-size 65536 held 65536 flows .* about 34464 more did not fit .* set --map-size 131072 \(~57 MB/);

  clock += 30_000;
  fit.add(fitted, [{ ingress: dir(fitted * 3 + 200_000 * 3, 200_000 * 3), egress: dir(0, 0) }]);
  t.equal(fit.notFitted, 200_000);
  t.equal(fit.suggestedMapSize, 524288, 'from the new peak (265536 flows)');
  t.equal(lines.length, 1, 'no second line within a minute');

  clock += 10_000;
  fit.add(1000, [{ ingress: dir(3000, 0), egress: dir(0, 0) }]);
  t.equal(fit.notFitted, 0, 'an interval that fits: nothing missing');
  t.equal(fit.suggestedMapSize, 524288, 'the suggestion keeps the peak');

  clock += 20_001;
  fit.add(fitted, [{ ingress: dir(fitted + 10, 10), egress: dir(0, 0) }]);
  t.equal(fit.notFitted, 10);
  t.equal(lines.length, 2, 'a minute later: the next line');
});

t.test('nothing overflows: no line, no suggestion', async (t) => {
  const lines: string[] = [];
  const fit = new TableFit(65536, (l) => lines.push(l));
  fit.add(65536, [{ ingress: dir(1e6, 0), egress: dir(1e6, 0) }]);
  t.same({ notFitted: fit.notFitted, suggested: fit.suggestedMapSize, lines }, { notFitted: 0, suggested: 0, lines: [] });
});

t.test('overflow without any fitted flow (a table of 1 already taken by the interval before)', async (t) => {
  const fit = new TableFit(1, () => undefined);
  fit.add(0, [{ ingress: dir(5, 5), egress: dir(0, 0) }]);
  t.equal(fit.notFitted, 5, 'at most one flow per packet');
  t.equal(fit.suggestedMapSize, 8);
});
