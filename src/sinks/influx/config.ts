/**
 * The InfluxDB writer's configuration: defaults, validation of the `influx:`
 * section as written (file, flags and environment merged by src/config), and
 * the write target (org, bucket, token), including InfluxDB 1.8's v2
 * compatibility form. The token never appears in an error message or a dump.
 */
import { readFileSync } from 'node:fs';
import { FlowlensError } from '../../errors.js';
import { parseDuration } from '../../collector/config.js';
import { TALKER_DIMENSIONS, type TalkerDimension } from '../../flows/types.js';

export type InfluxPrecision = 's' | 'ms' | 'us' | 'ns';
export const INFLUX_PRECISIONS: readonly InfluxPrecision[] = ['s', 'ms', 'us', 'ns'];

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

export const DEFAULT_SERIES_BUDGET = 20;

export function defaultInfluxConfig(): InfluxConfig {
  return {
    url: '',
    intervalMs: 10_000,
    batchSize: 5000,
    precision: 'ms',
    gzip: true,
    maxBufferPoints: 100_000,
    maxBufferBytes: 32 * 1024 * 1024,
    seriesBudget: Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, DEFAULT_SERIES_BUDGET])) as Record<TalkerDimension, number>,
    timeoutMs: 10_000,
    retryMinMs: 1000,
    retryMaxMs: 60_000,
  };
}

/** Keys of the section as written; durations and sizes have friendly forms ("10s", "32MiB"). */
const KEYS = ['url', 'token', 'tokenFile', 'org', 'bucket', 'database', 'retentionPolicy', 'interval', 'batchSize',
  'precision', 'gzip', 'maxBufferPoints', 'maxBufferBytes', 'seriesBudget', 'timeout', 'retryMin', 'retryMax'] as const;

const LIMITS = {
  interval: [1000, 3_600_000],
  timeout: [100, 600_000],
  retryMin: [10, 3_600_000],
  retryMax: [10, 3_600_000],
  batchSize: [1, 1_000_000],
  maxBufferPoints: [1, 100_000_000],
  maxBufferBytes: [64 * 1024, 16 * 1024 * 1024 * 1024],
  seriesBudget: [0, 100_000],
} as const;

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3 };

/**
 * Checks the `influx:` section (`path` is its name in messages, e.g. "influx")
 * and returns a complete configuration; reads tokenFile. Throws a FlowlensError
 * naming the key.
 */
export function validateInfluxConfig(raw: unknown, path: string): InfluxConfig {
  const usage = (message: string, hint?: string): never => { throw new FlowlensError('FLOW_ERR_USAGE', message, hint); };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) usage(`${path} must be a section of settings (url, org, bucket, ...)`);
  const section = raw as Record<string, unknown>;
  const c = defaultInfluxConfig();
  for (const key of Object.keys(section)) {
    if (!(KEYS as readonly string[]).includes(key)) usage(`${path}.${key} is not a setting of the InfluxDB writer`, `the settings are ${KEYS.join(', ')}`);
  }
  const has = (k: (typeof KEYS)[number]) => section[k] !== undefined && section[k] !== null;
  const text = (k: (typeof KEYS)[number], secret = false): string | undefined => {
    if (!has(k)) return undefined;
    const v = section[k];
    if ((typeof v !== 'string' && typeof v !== 'number') || String(v).trim() === '') {
      usage(`${path}.${k} must be a non-empty string${secret ? '' : `, not ${JSON.stringify(v)}`}`);
    }
    return String(v).trim();
  };
  const integer = (k: keyof typeof LIMITS, v: unknown, where = `${path}.${k}`): number => {
    const [min, max] = LIMITS[k];
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) usage(`${where} must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`);
    return n;
  };
  const duration = (k: 'interval' | 'timeout' | 'retryMin' | 'retryMax'): number | undefined => {
    if (!has(k)) return undefined;
    const v = section[k];
    const [min, max] = LIMITS[k];
    let ms = NaN;
    try {
      // parseDuration knows ms, s and m; hours are written "1h" in config files too
      ms = parseDuration(String(v).replace(/^(\d+(?:\.\d+)?)h$/, (_, h: string) => `${Number(h) * 60}m`), `${path}.${k}`);
    } catch { /* reported below with the limits */ }
    if (!(ms >= min && ms <= max)) usage(`${path}.${k} must be a duration from ${min}ms to ${max / 1000}s like 10s, 500ms or 2m, not ${JSON.stringify(v)}`);
    return ms;
  };

  const url = text('url');
  if (url === undefined) usage(`${path}.url is missing`, 'set it to the InfluxDB base URL, e.g. http://localhost:8086');
  let parsed: URL | undefined;
  try { parsed = new URL(url!); } catch { /* below */ }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) usage(`${path}.url must be an http:// or https:// URL, not ${JSON.stringify(url)}`);
  if (parsed!.username || parsed!.password) {
    usage(`${path}.url must not carry credentials`, `give them as ${path}.token ("user:password" for InfluxDB 1.8) or ${path}.tokenFile`);
  }
  if (parsed!.search || parsed!.hash) usage(`${path}.url must be the server's base URL without a query, not ${JSON.stringify(url)}`);
  c.url = url!.replace(/\/+$/, '');
  if (/\/api\/v2$/.test(c.url)) usage(`${path}.url must be the server's base URL without /api/v2, not ${JSON.stringify(url)}`);

  c.org = text('org');
  c.bucket = text('bucket');
  c.database = text('database');
  c.retentionPolicy = text('retentionPolicy');
  if (c.bucket !== undefined && c.database !== undefined) {
    usage(`${path}.bucket and ${path}.database are both set`, 'InfluxDB 2/3 use bucket; InfluxDB 1.8 uses database (and retentionPolicy): set one of them');
  }
  if (c.retentionPolicy !== undefined && c.database === undefined) usage(`${path}.retentionPolicy needs ${path}.database`);
  if (c.bucket === undefined && c.database === undefined) usage(`${path}.bucket is missing`, `name the bucket to write to (or ${path}.database for InfluxDB 1.8)`);

  c.token = text('token', true);
  const tokenFile = text('tokenFile');
  if (tokenFile !== undefined) {
    if (c.token !== undefined) usage(`${path}.token and ${path}.tokenFile are both set`, 'give the token one way only');
    let content: string;
    try {
      content = readFileSync(tokenFile, 'utf8');
    } catch (e) {
      return usage(`${path}.tokenFile: cannot read ${tokenFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        'check the path and that the flowlens user may read it');
    }
    const token = content.trim();
    if (token === '' || /[\r\n]/.test(token)) usage(`${path}.tokenFile: ${tokenFile} must hold the token on one line`);
    c.tokenFile = tokenFile;
    c.token = token;
  }

  c.intervalMs = duration('interval') ?? c.intervalMs;
  c.timeoutMs = duration('timeout') ?? c.timeoutMs;
  c.retryMinMs = duration('retryMin') ?? c.retryMinMs;
  c.retryMaxMs = duration('retryMax') ?? c.retryMaxMs;
  if (c.retryMaxMs < c.retryMinMs) usage(`${path}.retryMax (${c.retryMaxMs}ms) must not be below ${path}.retryMin (${c.retryMinMs}ms)`);
  if (has('batchSize')) c.batchSize = integer('batchSize', section.batchSize);
  if (has('maxBufferPoints')) c.maxBufferPoints = integer('maxBufferPoints', section.maxBufferPoints);
  if (has('maxBufferBytes')) c.maxBufferBytes = parseBytes(section.maxBufferBytes, `${path}.maxBufferBytes`);
  if (c.maxBufferPoints < c.batchSize) {
    usage(`${path}.maxBufferPoints (${c.maxBufferPoints}) must be at least ${path}.batchSize (${c.batchSize})`);
  }
  if (has('precision')) {
    const p = section.precision;
    if (!INFLUX_PRECISIONS.includes(p as InfluxPrecision)) usage(`${path}.precision must be one of ${INFLUX_PRECISIONS.join(', ')}, not ${JSON.stringify(p)}`);
    c.precision = p as InfluxPrecision;
  }
  if (has('gzip')) {
    const g = section.gzip;
    if (typeof g === 'boolean') c.gzip = g;
    else if (/^(true|yes|on|1)$/i.test(String(g))) c.gzip = true;
    else if (/^(false|no|off|0)$/i.test(String(g))) c.gzip = false;
    else usage(`${path}.gzip must be true or false, not ${JSON.stringify(g)}`);
  }
  if (has('seriesBudget')) {
    const b = section.seriesBudget;
    if (typeof b === 'object' && !Array.isArray(b)) {
      for (const [dim, n] of Object.entries(b as Record<string, unknown>)) {
        if (!(TALKER_DIMENSIONS as readonly string[]).includes(dim)) {
          usage(`${path}.seriesBudget.${dim} is not a talker dimension`, `the dimensions are ${TALKER_DIMENSIONS.join(', ')}`);
        }
        c.seriesBudget[dim as TalkerDimension] = integer('seriesBudget', n, `${path}.seriesBudget.${dim}`);
      }
    } else {
      const n = integer('seriesBudget', b);
      for (const d of TALKER_DIMENSIONS) c.seriesBudget[d] = n;
    }
  }
  return c;
}

/** "32MiB", "64 MB", "1048576" → bytes. */
function parseBytes(v: unknown, where: string): number {
  const [min, max] = LIMITS.maxBufferBytes;
  const m = typeof v === 'number' ? null : /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(v));
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : 1;
  const n = typeof v === 'number' ? v : m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new FlowlensError('FLOW_ERR_USAGE', `${where} must be a size from 64KiB to 16GiB like 32MiB or 1000000, not ${JSON.stringify(v)}`);
  }
  return n;
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
