/**
 * The configuration: defaults < YAML file < environment < flags, and every
 * bad value refused with a message that names the setting and its source.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFrom, dumpConfig, loadConfig } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'flowlens-config-'));
t.teardown(() => { /* tmp files are harmless; removed by the OS */ });
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const GOOD = file('good.yaml', `
interfaces: [eth0, eth1]
hook: tc
interval: 2s
dataDir: /srv/flowlens
networks:
  private: [2001:db8:1234::/48]
filters:
  ignore:
    - port: [22]
    - cidr: [10.1.0.0/16]
      protocol: [udp]
sessions:
  idleTimeout: 30s
  max: 5000
history:
  flushInterval: 5s
influx:
  url: http://127.0.0.1:8086
  token: s3cret-token
  batchSize: 500
`);

t.test('defaults, file, environment and flags, in that order', async (t) => {
  const c = configFrom({ file: GOOD, env: { FLOWLENS_INTERVAL: '3s', FLOWLENS_DATA_DIR: '/env/dir' }, flags: { 'data-dir': '/flag/dir', 'map-size': '1024' } });
  t.same(c.collector, { interfaces: ['eth0', 'eth1'], hook: 'tc', xdpMode: 'auto', mapEntries: 1024, intervalMs: 3000, captureRingBytes: 1 << 20, packetRingBytes: 4 << 20 });
  t.equal(c.history.dataDir, '/flag/dir', 'a flag beats the environment');
  t.equal(c.history.flushIntervalMs, 5000);
  t.equal(c.history.hourlyTopN, 100, 'default');
  t.same(c.sessions, { idleTimeoutMs: 30_000, tcpIdleTimeoutMs: 600_000, maxSessions: 5000 });
  t.same(c.filters.ignore, [{ port: [22] }, { cidr: ['10.1.0.0/16'], protocol: ['udp'] }]);
  t.same(c.networks.private, ['2001:db8:1234::/48']);
  t.ok(c.networks.local.includes('2001:db8:1234::/48'), 'private networks are local by default');
  t.ok(c.networks.local.includes('192.168.0.0/16'));
  t.match(c.influx, { url: 'http://127.0.0.1:8086', token: 's3cret-token', batchSize: 500 });
  t.equal(c.loaded.sources.get('interval'), 'env');
  t.equal(c.loaded.sources.get('mapSize'), 'flag');
  t.equal(c.loaded.sources.get('hook'), 'file');
});

t.test('--no-history and --no-names turn those parts off', async (t) => {
  const c = configFrom({ file: GOOD, env: {}, flags: { 'no-history': true, 'no-names': true } });
  t.equal(c.history.enabled, false);
  t.equal(c.names.enabled, false);
  t.equal(c.collector.captureRingBytes, 0, 'no names: the kernel captures nothing');
});

t.test('a config file named by FLOWLENS_CONFIG must exist', async (t) => {
  t.throws(() => configFrom({ env: { FLOWLENS_CONFIG: join(dir, 'nope.yaml') }, flags: {} }), /nope.yaml: it does not exist/);
});

t.test('errors name the setting, the source and the problem', async (t) => {
  const cases: [Parameters<typeof configFrom>[0], RegExp][] = [
    [{ file: join(dir, 'missing.yaml'), env: {} }, /cannot read the config file .*missing.yaml: it does not exist/],
    [{ file: file('badyaml.yaml', 'interfaces: [eth0\nhook: xdp\n'), env: {} }, /badyaml.yaml:\d+:\d+: not valid YAML/],
    [{ file: file('unknown.yaml', 'sessions:\n  idle: 5s\n'), env: {} }, /unknown setting "sessions.idle"/],
    [{ file: file('list.yaml', '- a\n- b\n'), env: {} }, /top level must be a mapping/],
    [{ file: file('dur.yaml', 'sessions:\n  idleTimeout: soon\n'), env: {} }, /dur.yaml: sessions.idleTimeout must be a duration from 1s to 24h like 500ms, 10s, 2m or 1h, not "soon"/],
    [{ file: file('hook.yaml', 'hook: nft\n'), env: {} }, /hook must be one of xdp, tc, not "nft"/],
    [{ file: file('cidr.yaml', 'networks:\n  private: [10.0.0.0/40]\n'), env: {} }, /networks.private: "10.0.0.0\/40" is not an address or CIDR prefix/],
    [{ file: file('rule.yaml', 'filters:\n  ignore:\n    - ports: [22]\n'), env: {} }, /filters.ignore\[0\] has an unknown field "ports"/],
    [{ file: file('domain.yaml', 'filters:\n  ignore:\n    - domain: ["not a domain"]\n'), env: {} }, /filters.ignore\[0\].domain: "not a domain" is not a domain name/],
    [{ file: file('proto.yaml', 'filters:\n  keep:\n    - protocol: [tpc]\n'), env: {} }, /filters.keep\[0\].protocol: unknown protocol "tpc"/],
    [{ env: { FLOWLENS_MAP_SIZE: 'lots', FLOWLENS_CONFIG: GOOD } }, /FLOWLENS_MAP_SIZE must be a whole number from 1 to 16777216, not "lots"/],
    [{ file: GOOD, env: {}, flags: { interval: '10ms' } }, /--interval must be a duration from 100ms to 1m like/],
    [{ file: GOOD, env: {}, flags: { 'max-sessions': '0' } }, /--max-sessions must be a whole number from 1/],
  ];
  for (const [opts, re] of cases) t.throws(() => configFrom(opts), re, String(re));
  t.match((() => { try { configFrom({ file: join(dir, 'unknown.yaml'), env: {} }); } catch (e) { return e; } })(), { hint: /did you mean sessions.idleTimeout/ }, 'a near miss is suggested');
});

t.test('config --dump shows every value and hides the token', async (t) => {
  const text = dumpConfig(loadConfig({ file: GOOD, env: { FLOWLENS_INFLUX_TOKEN: 'from-env-token' }, flags: {} }));
  t.notMatch(text, /s3cret-token|from-env-token/);
  t.match(text, /token: <set>/);
  t.match(text, /interval: 2000ms/);
  t.match(text, /influx.token: env/);
  t.match(text, /batchSize: 500/);
});
