import t from 'tap';
import { ClockOffset } from '../../src/collector/clock.js';

t.test('kernel monotonic ns become wall-clock ms with one offset per drain', async (t) => {
  const c = new ClockOffset(1_700_000_000_000, 5_000_000_000); // wall 1.7e12 ms when mono was 5 s
  t.equal(c.toWallMs(5_000_000_000), 1_700_000_000_000);
  t.equal(c.toWallMs(5_250_000_000), 1_700_000_000_250);
  t.equal(c.toWallMs(4_000_500_000), 1_699_999_999_000.5);
  t.equal(c.toWallMs(0), 0, 'never seen stays 0');
});

t.test('ClockOffset.now() agrees with Date.now() for the current monotonic time', async (t) => {
  const c = ClockOffset.now();
  const wall = c.toWallMs(Number(process.hrtime.bigint()));
  t.ok(Math.abs(wall - Date.now()) < 50, `within 50 ms (${wall - Date.now()})`);
});
