/**
 * The InfluxDB writer's configuration: made from the influx.* settings
 * (src/config/schema.ts has their defaults and limits, src/config/load.ts
 * parses them), checked together here, and
 * the write target (org, bucket, token), including InfluxDB 1.8's v2
 * compatibility form. The token never appears in an error message or a dump.
 */
import { readFileSync } from 'node:fs';
import { FlowlensError } from '../../errors.js';
import { SETTINGS, setting, settingDefault } from '../../config/schema.js';
import { parseSetting } from '../../config/load.js';
import { Problems } from '../../config/problems.js';
import { TALKER_DIMENSIONS, type TalkerDimension } from '../../flows/types.js';

export type InfluxPrecision = 's' | 'ms' | 'us' | 'ns';
export const INFLUX_PRECISIONS = setting('influx.precision').values as readonly InfluxPrecision[];

export interface InfluxConfig {
  /** Base URL of the server, e.g. http://influx:8086 (no /api/v2, no credentials). */
  url: string;
  /** API token; InfluxDB 1.8: "user:password". Read from tokenFile when that is given. */
  token?: string;
  /** File holding the token (trailing newline ignored). */
  tokenFile?: string;
  org?: string;
  bucket?: string;
  /** InfluxDB 1.8 compatibility: database (+ retention policy) instead of bucket. */
  database?: string;
  retentionPolicy?: string;
  /** Write period: points aggregate the collector's intervals over it and are sent at its end. */
  intervalMs: number;
  /** Most points (lines) in one request. */
  batchSize: number;
  precision: InfluxPrecision;
  /** Gzip request bodies over 1 KiB. */
  gzip: boolean;
  /** The buffer of points waiting to be written holds at most this many points and bytes; beyond it the oldest are dropped. */
  maxBufferPoints: number;
  maxBufferBytes: number;
  /** Top-N keys per talker dimension and write period; the rest are summed into key "other". */
  seriesBudget: Record<TalkerDimension, number>;
  /** One request's timeout. */
  timeoutMs: number;
  /** Back-off between retries: doubles from retryMinMs up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
}

/** The influx.* settings as the loader parses them (src/config/schema.ts), durations in ms, keyed without "influx.". */
export interface InfluxSettings {
  url?: string;
  token?: string;
  tokenFile?: string;
  org?: string;
  bucket?: string;
  database?: string;
  retentionPolicy?: string;
  interval?: number;
  batchSize?: number;
  precision?: InfluxPrecision;
  gzip?: boolean;
  maxBufferPoints?: number;
  maxBufferBytes?: number;
  seriesBudget?: number | Partial<Record<TalkerDimension, number>>;
  timeout?: number;
  retryMin?: number;
  retryMax?: number;
}

/** The keys of the influx section: every influx.* row of the settings table. */
const KEYS = SETTINGS.filter((s) => s.key.startsWith('influx.')).map((s) => s.key.slice('influx.'.length)) as (keyof InfluxSettings)[];

export const DEFAULT_SERIES_BUDGET: number = settingDefault('influx.seriesBudget');

/** The writer's defaults: the settings table's. */
export function defaultInfluxConfig(): InfluxConfig {
  return {
    url: '',
    intervalMs: settingDefault('influx.interval'),
    batchSize: settingDefault('influx.batchSize'),
    precision: settingDefault('influx.precision'),
    gzip: settingDefault('influx.gzip'),
    maxBufferPoints: settingDefault('influx.maxBufferPoints'),
    maxBufferBytes: settingDefault('influx.maxBufferBytes'),
    seriesBudget: Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, DEFAULT_SERIES_BUDGET])) as Record<TalkerDimension, number>,
    timeoutMs: settingDefault('influx.timeout'),
    retryMinMs: settingDefault('influx.retryMin'),
    retryMaxMs: settingDefault('influx.retryMax'),
  };
}

/**
 * Checks an `influx:` section as written (strings like "10s" allowed; `path`
 * is its name in messages, e.g. "influx") with the loader's parser and the
 * settings table's rows, then as influxConfigFrom does. Throws one
 * FlowlensError naming every wrong key.
 */
export function validateInfluxConfig(raw: unknown, path: string): InfluxConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new FlowlensError('FLOW_ERR_USAGE', `${path} must be a section of settings (url, org, bucket, ...)`);
  }
  const problems = new Problems();
  const parsed: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!(KEYS as string[]).includes(key)) {
      problems.add(`${path}.${key} is not a setting of the InfluxDB writer`, `the settings are ${KEYS.join(', ')}`);
    } else if (v !== undefined && v !== null) {
      parsed[key] = problems.check(() => parseSetting(setting(`influx.${key}`), v, `${path}.${key}`));
    }
  }
  problems.throwIfAny();
  return influxConfigFrom(parsed as InfluxSettings, path);
}

/**
 * The writer's configuration from the loaded influx.* settings: checks what
 * needs more than one of them (url form, bucket or database, retry and buffer
 * bounds) and reads tokenFile. Throws one FlowlensError naming every problem.
 */
export function influxConfigFrom(settings: InfluxSettings, path = 'influx'): InfluxConfig {
  const problems = new Problems();
  const problem = (message: string, hint?: string) => problems.add(message, hint);
  const c = defaultInfluxConfig();

  const url = settings.url;
  if (url === undefined) problem(`${path}.url is missing`, 'set it to the InfluxDB base URL, e.g. http://localhost:8086');
  else {
    let parsed: URL | undefined;
    try { parsed = new URL(url); } catch { /* below */ }
    c.url = url.replace(/\/+$/, '');
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) problem(`${path}.url must be an http:// or https:// URL, not ${JSON.stringify(url)}`);
    else if (parsed.username || parsed.password) {
      problem(`${path}.url must not carry credentials`, `give them as ${path}.token ("user:password" for InfluxDB 1.8) or ${path}.tokenFile`);
    } else if (parsed.search || parsed.hash) problem(`${path}.url must be the server's base URL without a query, not ${JSON.stringify(url)}`);
    else if (/\/api\/v2$/.test(c.url)) problem(`${path}.url must be the server's base URL without /api/v2, not ${JSON.stringify(url)}`);
  }

  c.org = settings.org;
  c.bucket = settings.bucket;
  c.database = settings.database;
  c.retentionPolicy = settings.retentionPolicy;
  if (c.bucket !== undefined && c.database !== undefined) {
    problem(`${path}.bucket and ${path}.database are both set`, 'InfluxDB 2/3 use bucket; InfluxDB 1.8 uses database (and retentionPolicy): set one of them');
  }
  if (c.retentionPolicy !== undefined && c.database === undefined) problem(`${path}.retentionPolicy needs ${path}.database`);
  if (c.bucket === undefined && c.database === undefined) problem(`${path}.bucket is missing`, `name the bucket to write to (or ${path}.database for InfluxDB 1.8)`);

  c.token = settings.token;
  const tokenFile = settings.tokenFile;
  if (tokenFile !== undefined) {
    if (c.token !== undefined) problem(`${path}.token and ${path}.tokenFile are both set`, 'give the token one way only');
    else {
      try {
        const token = readFileSync(tokenFile, 'utf8').trim();
        if (token === '' || /[\r\n]/.test(token)) problem(`${path}.tokenFile: ${tokenFile} must hold the token on one line`);
        c.tokenFile = tokenFile;
        c.token = token;
      } catch (e) {
        problem(`${path}.tokenFile: cannot read ${tokenFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path and that the flowlens user may read it');
      }
    }
  }

  c.intervalMs = settings.interval ?? c.intervalMs;
  c.timeoutMs = settings.timeout ?? c.timeoutMs;
  c.retryMinMs = settings.retryMin ?? c.retryMinMs;
  c.retryMaxMs = settings.retryMax ?? c.retryMaxMs;
  if (c.retryMaxMs < c.retryMinMs) problem(`${path}.retryMax (${c.retryMaxMs}ms) must not be below ${path}.retryMin (${c.retryMinMs}ms)`);
  c.batchSize = settings.batchSize ?? c.batchSize;
  c.maxBufferPoints = settings.maxBufferPoints ?? c.maxBufferPoints;
  c.maxBufferBytes = settings.maxBufferBytes ?? c.maxBufferBytes;
  if (c.maxBufferPoints < c.batchSize) problem(`${path}.maxBufferPoints (${c.maxBufferPoints}) must be at least ${path}.batchSize (${c.batchSize})`);
  c.precision = settings.precision ?? c.precision;
  c.gzip = settings.gzip ?? c.gzip;
  const budget = settings.seriesBudget;
  if (typeof budget === 'number') for (const d of TALKER_DIMENSIONS) c.seriesBudget[d] = budget;
  else if (budget) Object.assign(c.seriesBudget, budget);
  problems.throwIfAny();
  return c;
}

/** Where points go: InfluxDB 1.8 takes "database/retention-policy" as the bucket and ignores the org. */
export interface WriteTarget {
  url: string;
  org: string;
  bucket: string;
  token?: string;
}

export function writeTarget(c: InfluxConfig): WriteTarget {
  const bucket = c.database !== undefined ? (c.retentionPolicy ? `${c.database}/${c.retentionPolicy}` : c.database) : c.bucket ?? '';
  return { url: c.url, org: c.org ?? '', bucket, token: c.token };
}

/** The configuration as it may be shown (dumps, logs, status): the token replaced. */
export function redactInfluxConfig(c: InfluxConfig): Omit<InfluxConfig, 'token'> & { token?: '<set>' } {
  const { token, ...rest } = c;
  return token === undefined ? rest : { ...rest, token: '<set>' };
}
