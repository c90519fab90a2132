/**
 * The `influx:` section is checked before the writer starts: every bad value
 * is a FlowlensError (FLOW_ERR_USAGE) whose message names the key; the token
 * never appears in a message or a dump; the InfluxDB 1.8 form maps to
 * bucket "db/rp".
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  defaultInfluxConfig, influxConfigFrom, redactInfluxConfig, validateInfluxConfig, writeTarget,
} from '../../src/sinks/influx/index.js';
import { configFrom } from '../../src/config/index.js';
import { FlowlensError } from '../../src/errors.js';

const base = { url: 'http://influx:8086', org: 'home', bucket: 'flowlens' };

t.test('a minimal section gets the defaults', async (t) => {
  const c = validateInfluxConfig(base, 'influx');
  t.same(c, { ...defaultInfluxConfig(), ...base, token: undefined, database: undefined, retentionPolicy: undefined });
  t.equal(c.intervalMs, 10_000);
  t.equal(c.precision, 'ms');
  t.equal(c.gzip, true);
  t.same(Object.values(c.seriesBudget), [20, 20, 20, 20, 20, 20, 20, 20]);
  t.same(writeTarget(c), { url: 'http://influx:8086', org: 'home', bucket: 'flowlens', token: undefined });
});

t.test('friendly forms: durations, sizes, booleans, one budget or one per dimension', async (t) => {
  const c = validateInfluxConfig({
    ...base, url: 'https://influx.example:8086/', interval: '30s', timeout: '2s', retryMin: '500ms', retryMax: '1h',
    batchSize: '1000', precision: 's', gzip: 'off', maxBufferPoints: 50_000, maxBufferBytes: '8MiB', seriesBudget: { ip: 50, port: 0 },
  }, 'influx');
  t.equal(c.url, 'https://influx.example:8086', 'trailing slash removed');
  t.equal(c.intervalMs, 30_000);
  t.equal(c.timeoutMs, 2000);
  t.equal(c.retryMinMs, 500);
  t.equal(c.retryMaxMs, 3_600_000);
  t.equal(c.batchSize, 1000);
  t.equal(c.precision, 's');
  t.equal(c.gzip, false);
  t.equal(c.maxBufferPoints, 50_000);
  t.equal(c.maxBufferBytes, 8 * 1024 * 1024);
  t.same(c.seriesBudget, { ip: 50, host: 20, port: 0, proto: 20, country: 20, asn: 20, domain: 20, device: 20 });
  t.same(validateInfluxConfig({ ...base, seriesBudget: 5, maxBufferBytes: 100_000 }, 'influx').seriesBudget,
    { ip: 5, host: 5, port: 5, proto: 5, country: 5, asn: 5, domain: 5, device: 5 });
});

t.test('every bad value names its key', async (t) => {
  const cases: [Record<string, unknown>, string, string?][] = [
    [{ org: 'x', bucket: 'y' }, 'influx.url is missing'],
    [{ ...base, url: 'influx:8086' }, 'influx.url must be an http:// or https:// URL, not "influx:8086"'],
    [{ ...base, url: 'ftp://influx' }, 'influx.url must be an http:// or https:// URL, not "ftp://influx"'],
    [{ ...base, url: 'http://admin:pw@influx:8086' }, 'influx.url must not carry credentials'],
    [{ ...base, url: 'http://influx:8086/api/v2' }, 'influx.url must be the server\'s base URL without /api/v2, not "http://influx:8086/api/v2"'],
    [{ ...base, url: 'http://influx:8086/?org=a' }, 'influx.url must be the server\'s base URL without a query, not "http://influx:8086/?org=a"'],
    [{ url: base.url }, 'influx.bucket is missing'],
    [{ ...base, bucket: '' }, 'influx.bucket must be a non-empty string, not ""'],
    [{ ...base, database: 'db' }, 'influx.bucket and influx.database are both set'],
    [{ url: base.url, retentionPolicy: 'rp', bucket: 'b' }, 'influx.retentionPolicy needs influx.database'],
    [{ ...base, bukcet: 'x' }, 'influx.bukcet is not a setting of the InfluxDB writer'],
    [{ ...base, interval: '500ms' }, 'influx.interval must be a duration from 1s to 1h like 500ms, 10s, 2m or 1h, not "500ms"'],
    [{ ...base, interval: 'soon' }, 'influx.interval must be a duration from 1s to 1h like 500ms, 10s, 2m or 1h, not "soon"'],
    [{ ...base, timeout: '0s' }, 'influx.timeout must be a duration from 100ms to 10m like 500ms, 10s, 2m or 1h, not "0s"'],
    [{ ...base, retryMin: '10s', retryMax: '1s' }, 'influx.retryMax (1000ms) must not be below influx.retryMin (10000ms)'],
    [{ ...base, batchSize: 0 }, 'influx.batchSize must be a whole number from 1 to 1000000, not 0'],
    [{ ...base, batchSize: 2.5 }, 'influx.batchSize must be a whole number from 1 to 1000000, not 2.5'],
    [{ ...base, batchSize: 'many' }, 'influx.batchSize must be a whole number from 1 to 1000000, not "many"'],
    [{ ...base, batchSize: 500, maxBufferPoints: 100 }, 'influx.maxBufferPoints (100) must be at least influx.batchSize (500)'],
    [{ ...base, maxBufferBytes: '1KiB' }, 'influx.maxBufferBytes must be a size from 64KiB to 16GiB like 32MiB or 1000000, not "1KiB"'],
    [{ ...base, maxBufferBytes: '12 parsecs' }, 'influx.maxBufferBytes must be a size from 64KiB to 16GiB like 32MiB or 1000000, not "12 parsecs"'],
    [{ ...base, precision: 'm' }, 'influx.precision must be one of s, ms, us, ns, not "m"'],
    [{ ...base, gzip: 'maybe' }, 'influx.gzip must be true or false, not "maybe"'],
    [{ ...base, seriesBudget: -1 }, 'influx.seriesBudget must be a whole number from 0 to 100000, or one per ip, host, ... like {ip: 50}, not -1'],
    [{ ...base, seriesBudget: { city: 3 } }, 'influx.seriesBudget.city is not one of ip, host, port, proto, country, asn, domain, device'],
    [{ ...base, seriesBudget: { ip: 'lots' } }, 'influx.seriesBudget.ip must be a whole number from 0 to 100000, not "lots"'],
  ];
  for (const [raw, message] of cases) {
    t.throws(() => validateInfluxConfig(raw, 'influx'), { name: 'FlowlensError', code: 'FLOW_ERR_USAGE', message }, message);
  }
  t.throws(() => validateInfluxConfig('http://x', 'influx'), { message: 'influx must be a section of settings (url, org, bucket, ...)' });
  t.throws(() => validateInfluxConfig(null, 'sinks.influx'), { message: 'sinks.influx must be a section of settings (url, org, bucket, ...)' },
    'the path given is the one named');
});

t.test('the token: from the section or a file, never in a message or a dump', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'token');
  const secret = 'Zm9vYmFyc2VjcmV0dG9rZW4=';
  writeFileSync(file, `${secret}\n`);
  const fromFile = validateInfluxConfig({ ...base, tokenFile: file }, 'influx');
  t.equal(fromFile.token, secret, 'read from the file, newline dropped');
  t.equal(writeTarget(fromFile).token, secret);
  t.notOk(JSON.stringify(redactInfluxConfig(fromFile)).includes(secret), 'not in the redacted form');
  t.equal(redactInfluxConfig(fromFile).token, '<set>');
  t.equal(redactInfluxConfig(validateInfluxConfig(base, 'influx')).token, undefined);

  const errors: string[] = [];
  const collect = (raw: Record<string, unknown>) => {
    try { validateInfluxConfig(raw, 'influx'); } catch (e) { errors.push(`${(e as Error).message} ${(e as { hint?: string }).hint ?? ''}`); }
  };
  collect({ ...base, token: secret, tokenFile: file });
  collect({ ...base, token: { value: secret } });
  collect({ ...base, tokenFile: path.join(dir, 'missing') });
  writeFileSync(path.join(dir, 'two-lines'), `${secret}\n${secret}\n`);
  collect({ ...base, tokenFile: path.join(dir, 'two-lines') });
  collect({ ...base, tokenFile: dir });
  t.same(errors.map((e) => e.replace(dir, '<dir>').trim()), [
    'influx.token and influx.tokenFile are both set give the token one way only',
    'influx.token must be a non-empty string',
    'influx.tokenFile: cannot read <dir>/missing (ENOENT) check the path and that the flowlens user may read it',
    'influx.tokenFile: <dir>/two-lines must hold the token on one line',
    'influx.tokenFile: cannot read <dir> (EISDIR) check the path and that the flowlens user may read it',
  ]);
  t.notOk(errors.some((e) => e.includes(secret)), 'no message shows the token');
});

t.test('InfluxDB 1.8: database and retention policy become the bucket; the org is not needed', async (t) => {
  const v1 = validateInfluxConfig({ url: 'http://old:8086', database: 'telegraf', retentionPolicy: 'autogen', token: 'user:pass' }, 'influx');
  t.same(writeTarget(v1), { url: 'http://old:8086', org: '', bucket: 'telegraf/autogen', token: 'user:pass' });
  const noRp = validateInfluxConfig({ url: 'http://old:8086', database: 'telegraf' }, 'influx');
  t.equal(writeTarget(noRp).bucket, 'telegraf', 'without a retention policy: the default one');
});

/** The error a call throws (or undefined). */
function thrown(fn: () => unknown): FlowlensError | undefined {
  try { fn(); } catch (e) { return e as FlowlensError; }
  return undefined;
}

t.test('several wrong influx settings in a config file: one error listing every one, from the one loader', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-influx-yaml-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'flowlens.yaml');
  const secret = 'do-not-show-me';
  writeFileSync(file, `influx:
  url: http://influx:8086
  bucket: flowlens
  interval: 500ms
  batchSize: lots
  maxBufferBytes: 12 parsecs
  precision: m
  token: {value: ${secret}}
  bukcet: typo
`);
  const e = thrown(() => configFrom({ file, env: {}, flags: {} }));
  t.type(e, FlowlensError);
  t.equal(e?.code, 'FLOW_ERR_USAGE');
  t.equal(e?.format(), `flowlens: 6 settings are wrong:
  ${file}: unknown setting "influx.bukcet" — did you mean influx.bucket? (flowlens config --dump lists every setting)
  ${file}: influx.interval must be a duration from 1s to 1h like 500ms, 10s, 2m or 1h, not "500ms"
  ${file}: influx.batchSize must be a whole number from 1 to 1000000, not "lots"
  ${file}: influx.maxBufferBytes must be a size from 64KiB to 16GiB like 32MiB or 1000000, not "12 parsecs"
  ${file}: influx.precision must be one of s, ms, us, ns, not "m"
  ${file}: influx.token must be a non-empty string
  → fix them all, then check again with flowlens config --check`);
  t.notMatch(e?.format() ?? '', secret, 'the token is not shown');

  // one wrong setting: one line, as before
  writeFileSync(file, 'influx:\n  url: http://influx:8086\n  bucket: b\n  batchSize: 0\n');
  t.equal(thrown(() => configFrom({ file, env: {}, flags: {} }))?.format(), `flowlens: ${file}: influx.batchSize must be a whole number from 1 to 1000000, not 0`);
});

t.test('settings that are wrong together are all named too', async (t) => {
  const e = thrown(() => influxConfigFrom({
    url: 'http://influx:8086/api/v2', bucket: 'b', database: 'd', retryMin: 10_000, retryMax: 1000, batchSize: 500, maxBufferPoints: 100,
  }));
  t.equal(e?.format(), `flowlens: 4 settings are wrong:
  influx.url must be the server's base URL without /api/v2, not "http://influx:8086/api/v2"
  influx.bucket and influx.database are both set — InfluxDB 2/3 use bucket; InfluxDB 1.8 uses database (and retentionPolicy): set one of them
  influx.retryMax (1000ms) must not be below influx.retryMin (10000ms)
  influx.maxBufferPoints (100) must be at least influx.batchSize (500)
  → fix them all, then check again with flowlens config --check`);
  const raw = thrown(() => validateInfluxConfig({ ...base, batchSize: 0, gzip: 'maybe', bukcet: 'x' }, 'influx'));
  t.match(raw?.message, /^3 settings are wrong:\n {2}influx.batchSize must be .*\n {2}influx.gzip must be true or false, not "maybe"\n {2}influx.bukcet is not a setting of the InfluxDB writer — the settings are url, /);
});
