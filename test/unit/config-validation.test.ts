/**
 * The collector's configuration is checked before anything touches the kernel:
 * every bad value is a FlowlensError with code FLOW_ERR_USAGE whose message
 * names the flag and the value. The history's PID file, on a full, read-only
 * or occupied place, is a clear error too (tmpfs mounts made here, as root).
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { WriterLock, processIdentity } from '../../src/store/lock.js';
import { defaultConfig, parseDuration, validateConfig, type CollectorConfig } from '../../src/collector/config.js';
import { FlowlensError } from '../../src/errors.js';

t.test('parseDuration accepts ms, s, m and bare seconds', async (t) => {
  const ok: [string, number][] = [
    ['1s', 1000],
    ['500ms', 500],
    ['2.5s', 2500],
    ['1m', 60_000],
    ['2m', 120_000],
    ['0.5m', 30_000],
    ['3', 3000],
    ['0.1', 100],
    ['100ms', 100],
    [' 1s ', 1000],
  ];
  for (const [text, ms] of ok) t.equal(parseDuration(text, '--interval'), ms, JSON.stringify(text));
});

t.test('parseDuration rejects anything else, naming the flag and the text', async (t) => {
  const bad = ['', 'abc', '1h', '1 s', '-1s', '1.s', '.5s', 's', '1e3', '1sec', '5 ms', '1s2', '0x10', 'NaN', 'Infinity'];
  for (const text of bad) {
    for (const flag of ['--interval', '--duration']) {
      t.throws(() => parseDuration(text, flag), {
        name: 'FlowlensError',
        code: 'FLOW_ERR_USAGE',
        message: `${flag} must be a duration like 1s, 500ms or 2m, not "${text}"`,
      }, `${flag} ${JSON.stringify(text)}`);
    }
  }
  let err: unknown;
  try { parseDuration('soon', '--duration'); } catch (e) { err = e; }
  t.type(err, FlowlensError);
  t.equal((err as FlowlensError).format(), 'flowlens: --duration must be a duration like 1s, 500ms or 2m, not "soon"',
    'the CLI prints it as one line');
});

const good = (over: Partial<CollectorConfig> = {}): CollectorConfig => ({ ...defaultConfig(), interfaces: ['veth0'], ...over });

t.test('validateConfig accepts good configurations and returns them', async (t) => {
  const cases: Partial<CollectorConfig>[] = [
    {},
    { interfaces: ['eth0', 'eth1'] },
    { hook: 'tc' },
    { hook: 'xdp', xdpMode: 'native' },
    { xdpMode: 'generic' },
    { mapEntries: 1 },
    { mapEntries: 1 << 24 },
    { intervalMs: 100 },
    { intervalMs: 2.5 * 60_000 },
  ];
  for (const over of cases) {
    const c = good(over);
    t.equal(validateConfig(c), c, JSON.stringify(over));
  }
  t.same(defaultConfig(), { interfaces: [], hook: 'xdp', xdpMode: 'auto', mapEntries: 65536, intervalMs: 1000 });
});

t.test('validateConfig rejects each bad setting with a clear message', async (t) => {
  const cases: [string, Partial<CollectorConfig>, RegExp, RegExp?][] = [
    ['no interface', { interfaces: [] }, /^no interface given$/, /--iface/],
    ['the same interface twice', { interfaces: ['eth0', 'eth1', 'eth0'] }, /^an interface is named twice: eth0,eth1,eth0$/],
    ['unknown hook', { hook: 'kprobe' as never }, /^--hook must be xdp or tc, not "kprobe"$/],
    ['empty hook', { hook: '' as never }, /^--hook must be xdp or tc, not ""$/],
    ['unknown XDP mode', { xdpMode: 'offload' as never }, /^--xdp-mode must be auto, native or generic, not "offload"$/],
    ['map size 0', { mapEntries: 0 }, /^--map-size must be an integer from 1 to 16777216, not "0"$/],
    ['map size 1.5', { mapEntries: 1.5 }, /^--map-size must be an integer from 1 to 16777216, not "1.5"$/],
    ['map size too big', { mapEntries: (1 << 24) + 1 }, /^--map-size must be an integer from 1 to 16777216, not "16777217"$/],
    ['negative map size', { mapEntries: -5 }, /^--map-size must be an integer from 1 to 16777216, not "-5"$/],
    ['map size NaN', { mapEntries: NaN }, /^--map-size must be an integer from 1 to 16777216/],
    ['interval too small', { intervalMs: 99 }, /^--interval must be at least 100ms$/],
    ['interval 0', { intervalMs: 0 }, /^--interval must be at least 100ms$/],
    ['interval NaN', { intervalMs: NaN }, /^--interval must be at least 100ms$/],
    ['interval infinite', { intervalMs: Infinity }, /^--interval must be at least 100ms$/],
  ];
  for (const [what, over, message, hint] of cases) {
    let err: unknown;
    try { validateConfig(good(over)); } catch (e) { err = e; }
    t.type(err, FlowlensError, `${what}: a FlowlensError`);
    const fe = err as FlowlensError;
    t.equal(fe?.code, 'FLOW_ERR_USAGE', `${what}: FLOW_ERR_USAGE`);
    t.match(fe?.message, message, `${what}: ${fe?.message}`);
    t.notOk(fe?.message.includes('\n'), `${what}: one line`);
    if (hint) t.match(fe?.hint, hint, `${what}: hint`);
  }
});

t.test('the first problem is reported when there are several', async (t) => {
  t.throws(() => validateConfig({ interfaces: [], hook: 'bad' as never, xdpMode: 'auto', mapEntries: 0, intervalMs: 1 }),
    { code: 'FLOW_ERR_USAGE', message: /^no interface given$/ });
});

/** A tmpfs of `size` mounted on a new directory (root only), unmounted in teardown. */
function smallFilesystem(t: Test, size: string, options = ''): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-pidfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${options ? `,${options}` : ''}`, 'tmpfs', dir]);
  t.teardown(() => {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

t.test('the PID file: a full, read-only or occupied place is a clear error that leaves nothing behind', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-pid-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'flowlens.pid'));
  t.throws(() => WriterLock.acquire(dir), { code: 'FLOW_ERR_STORE', message: `${dir}/flowlens.pid is a directory, not flowlens' PID file`, hint: /remove it/ }, 'a directory in its place');

  const full = smallFilesystem(t, '8k');
  if (!full) return t.fail('these checks mount a tmpfs: run as root');
  writeFileSync(path.join(full, 'filler'), Buffer.alloc(8192));
  let filled = 0;
  try { for (;;) { writeFileSync(path.join(full, `f${filled}`), 'x'); filled++; } } catch { /* full */ }
  t.throws(() => WriterLock.acquire(full), { code: 'FLOW_ERR_STORE', message: `cannot write ${full}/flowlens.pid: the filesystem of ${full} is full`, hint: /free space there, or choose another --data-dir/ }, 'a full disk: says so (not "permissions")');
  t.notOk(existsSync(path.join(full, 'flowlens.pid')), 'and leaves no empty PID file');
  rmSync(path.join(full, 'filler'));
  const lock = WriterLock.acquire(full);
  t.equal(readFileSync(path.join(full, 'flowlens.pid'), 'utf8'), `${process.pid}\n${processIdentity(process.pid) ?? ''}\n`, 'with space again the PID file is written');
  lock.release();

  const ro = smallFilesystem(t, '64k', 'ro');
  t.throws(() => WriterLock.acquire(ro!), { code: 'FLOW_ERR_STORE', message: `cannot write ${ro}/flowlens.pid: the filesystem of ${ro} is read-only`, hint: /writable --data-dir/ }, 'a read-only filesystem');
});
