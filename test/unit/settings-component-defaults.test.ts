/**
 * One source of truth for settings: every component's defaults are the
 * settings table's (src/config/schema.ts), field by field, and a configuration
 * with nothing set resolves to exactly those defaults. (The store once had
 * 7 days, 7 days and 60 s where the table, the loader and --help said 14, 30
 * and 10 s.)
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SETTINGS, settingDefault } from '../../src/config/schema.js';
import { configFrom } from '../../src/config/index.js';
import { defaultStoreConfig, Store } from '../../src/store/index.js';
import { PENDING_KEYS_LIMIT } from '../../src/store/config.js';
import { defaultInfluxConfig, influxConfigFrom } from '../../src/sinks/influx/index.js';
import { defaultConfig as defaultCollectorConfig, DEFAULT_CAPTURE_RING_BYTES, DEFAULT_PACKET_RING_BYTES } from '../../src/collector/config.js';
import { defaultSessionConfig } from '../../src/flows/sessions.js';
import { TALKER_DIMENSIONS } from '../../src/flows/types.js';

/** component field → settings key; every field of each component is listed (or named internal below). */
const COMPONENTS: Record<string, { defaults: Record<string, unknown>; keys: Record<string, string>; internal?: Record<string, unknown> }> = {
  store: {
    defaults: { ...defaultStoreConfig() },
    keys: {
      dataDir: 'dataDir', flushIntervalMs: 'history.flushInterval', minuteRetentionDays: 'history.minuteDays', hourlyTopN: 'history.topN',
      sessionLogDays: 'history.sessionLogDays', liveSessionsLimit: 'history.liveSessions', maxDiskBytes: 'history.maxDiskSize',
    },
    internal: { pendingKeysLimit: PENDING_KEYS_LIMIT },
  },
  influx: {
    defaults: { ...defaultInfluxConfig() },
    keys: {
      intervalMs: 'influx.interval', batchSize: 'influx.batchSize', precision: 'influx.precision', gzip: 'influx.gzip', maxBufferPoints: 'influx.maxBufferPoints',
      maxBufferBytes: 'influx.maxBufferBytes', timeoutMs: 'influx.timeout', retryMinMs: 'influx.retryMin', retryMaxMs: 'influx.retryMax',
    },
    // no default: the writer is off until influx.url is set
    internal: { url: '' },
  },
  collector: {
    defaults: { ...defaultCollectorConfig(), captureRingBytes: DEFAULT_CAPTURE_RING_BYTES, packetRingBytes: DEFAULT_PACKET_RING_BYTES },
    keys: { interfaces: 'interfaces', hook: 'hook', xdpMode: 'xdpMode', mapEntries: 'mapSize', intervalMs: 'interval', captureRingBytes: 'names.captureBuffer', packetRingBytes: 'capture.ringSize' },
  },
  sessions: {
    defaults: { ...defaultSessionConfig() },
    keys: { idleTimeoutMs: 'sessions.idleTimeout', tcpIdleTimeoutMs: 'sessions.tcpIdleTimeout', maxSessions: 'sessions.max' },
  },
};

t.test('every component default equals its row of the settings table', async (t) => {
  for (const [name, c] of Object.entries(COMPONENTS)) {
    const { seriesBudget, ...fields } = c.defaults;
    if (name === 'influx') {
      t.same(seriesBudget, Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, settingDefault('influx.seriesBudget')])), 'influx.seriesBudget, every dimension');
    }
    for (const [field, value] of Object.entries(fields)) {
      if (c.internal && field in c.internal) {
        t.equal(value, c.internal[field], `${name}.${field} is internal (no setting)`);
        continue;
      }
      const key = c.keys[field];
      t.ok(key, `${name}.${field} has a row in the settings table (or is listed as internal here)`);
      if (key) t.same(value, settingDefault(key), `${name}.${field} = ${key} (${JSON.stringify(value)})`);
    }
  }
  t.equal(new Set(SETTINGS.map((s) => s.key)).size, SETTINGS.length, 'no key twice in the table');
});

t.test('nothing set: the resolved configuration and the store it opens have the table\'s defaults', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-defaults-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const empty = path.join(dir, 'empty.yaml');
  writeFileSync(empty, '');
  const c = configFrom({ file: empty, env: {}, flags: {} });
  t.same(c.collector, COMPONENTS.collector.defaults);
  t.same(c.sessions, COMPONENTS.sessions.defaults);
  const { pendingKeysLimit, ...history } = defaultStoreConfig();
  t.equal(pendingKeysLimit, PENDING_KEYS_LIMIT);
  t.same(c.history, { enabled: true, ...history });
  t.equal(c.influx, undefined, 'no writer without influx.url');
  const withUrl = configFrom({ file: empty, env: { FLOWLENS_INFLUX_URL: 'http://influx:8086', FLOWLENS_INFLUX_BUCKET: 'b' }, flags: {} });
  t.same(influxConfigFrom(withUrl.influx!), { ...defaultInfluxConfig(), url: 'http://influx:8086', bucket: 'b', org: undefined, token: undefined, database: undefined, retentionPolicy: undefined }, 'the loaded influx settings give the writer\'s defaults');

  // what `flowlens run` passes the store is what the store would default to
  const store = Store.open({ ...history, dataDir: path.join(dir, 'data') });
  t.teardown(() => store.close());
  t.same(store.config, { ...defaultStoreConfig(), dataDir: path.join(dir, 'data') });
});
