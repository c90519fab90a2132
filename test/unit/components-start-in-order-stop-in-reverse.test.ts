/**
 * The one start/stop runner (src/component.ts): parts start in order and
 * stop in reverse; a part that fails to start stops the ones started before
 * it (not itself, not the ones after), and its error is thrown; a part that
 * fails to stop is reported and the others still stop.
 */
import t from 'tap';
import { Components, type Component } from '../../src/component.js';

function parts(log: string[], fail: { start?: string; stop?: string } = {}): Component[] {
  return ['checks', 'history', 'collector', 'api', 'monitor'].map((name) => ({
    name,
    async start() {
      await Promise.resolve();
      if (fail.start === name) throw new Error(`${name} cannot start`);
      log.push(`start ${name}`);
    },
    stop() {
      if (fail.stop === name) throw new Error(`${name} cannot stop`);
      log.push(`stop ${name}`);
    },
  }));
}

t.test('start in order, stop in reverse', async (t) => {
  const log: string[] = [];
  const c = new Components(parts(log), () => t.fail('no stop error'));
  await c.start();
  await c.stop();
  t.same(log, ['start checks', 'start history', 'start collector', 'start api', 'start monitor',
    'stop monitor', 'stop api', 'stop collector', 'stop history', 'stop checks']);
  await c.stop();
  t.equal(log.length, 10, 'a second stop stops nothing');
});

t.test('a part that fails to start stops the ones before it, in reverse, and throws', async (t) => {
  const log: string[] = [];
  const c = new Components(parts(log, { start: 'api' }), () => t.fail('no stop error'));
  await t.rejects(c.start(), { message: 'api cannot start' });
  t.same(log, ['start checks', 'start history', 'start collector', 'stop collector', 'stop history', 'stop checks']);
});

t.test('a part that fails to stop is reported; the others still stop', async (t) => {
  const log: string[] = [];
  const failed: string[] = [];
  const c = new Components(parts(log, { stop: 'api' }), (p, e) => failed.push(`${p.name}: ${(e as Error).message}`));
  await c.start();
  await c.stop();
  t.same(log.slice(5), ['stop monitor', 'stop collector', 'stop history', 'stop checks']);
  t.same(failed, ['api: api cannot stop']);
});
