/**
 * The history database: where it lives, how it is opened (WAL, busy timeout),
 * its tables and their migrations.
 *
 * Tables (times are UTC epoch units, never local: local days and months are
 * computed when asked, src/store/time.ts):
 *  traffic_minute   bytes/packets per minute × iface × up/down × scope; pruned after minuteRetentionDays
 *  traffic_quarter  the same per quarter hour, kept forever: the quarter is the
 *                   largest unit every time zone's hours and days are made of
 *  talker_hour      per UTC hour × dimension: the top N keys (bytes/packets up/down, connections)
 *                   and one "other" row (key '') with the rest, so every hour sums exactly
 *  talker_day       per UTC day × dimension: the top N of the day's hour rows summed, and "other";
 *                   talker_day_done: the days rolled up (complete days only; today is read by hour)
 *  talker_hour_open every key of the hours a writer holds, as of its last flush or clean stop
 *                   (sets past OPEN_KEYS_LIMIT keys: none), so the next writer continues them whole;
 *                   kept a day after the hour
 *  session_log      ended sessions; pruned after sessionLogDays
 *  live             what a running flowlens last saw (top talkers of the last flush
 *                   window, active sessions), replaced on every flush, for other processes
 *  alert            every alert (src/alerts): pending and firing ones are open, resolved ones history
 *  alert_silence    silences: a match on rule/kind/subject, until when, why
 *  alert_outbox     notifications waiting for their receiver; one per (receiver, alert, event)
 *  device           a LAN device per MAC: its learned name (DHCP, mDNS), addresses (JSON: address → last seen)
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { FlowlensError } from '../errors.js';

export type Db = Database.Database;

export const DB_FILE = 'flowlens.db';
/** PRAGMA application_id of a flowlens database: "flow" in ASCII. */
const APPLICATION_ID = 0x666c6f77;

/** Each entry upgrades the schema by one version (PRAGMA user_version); never edit a released one. */
const MIGRATIONS: string[] = [
  `CREATE TABLE traffic_minute (
     minute INTEGER NOT NULL, iface TEXT NOT NULL, direction TEXT NOT NULL, scope TEXT NOT NULL,
     bytes INTEGER NOT NULL, packets INTEGER NOT NULL,
     PRIMARY KEY (minute, iface, direction, scope)) WITHOUT ROWID;
   CREATE TABLE traffic_quarter (
     quarter INTEGER NOT NULL, iface TEXT NOT NULL, direction TEXT NOT NULL, scope TEXT NOT NULL,
     bytes INTEGER NOT NULL, packets INTEGER NOT NULL,
     PRIMARY KEY (quarter, iface, direction, scope)) WITHOUT ROWID;
   CREATE TABLE talker_hour (
     hour INTEGER NOT NULL, dimension TEXT NOT NULL, key TEXT NOT NULL, label TEXT,
     bytes_up INTEGER NOT NULL, bytes_down INTEGER NOT NULL,
     packets_up INTEGER NOT NULL, packets_down INTEGER NOT NULL, connections INTEGER NOT NULL,
     PRIMARY KEY (dimension, hour, key)) WITHOUT ROWID;
   CREATE TABLE session_log (
     id TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
     iface TEXT NOT NULL, protocol INTEGER NOT NULL, protocol_name TEXT NOT NULL,
     local TEXT NOT NULL, local_port INTEGER NOT NULL, remote TEXT NOT NULL, remote_port INTEGER NOT NULL,
     local_bin BLOB, remote_bin BLOB,
     scope TEXT NOT NULL, initiator TEXT NOT NULL, state TEXT NOT NULL,
     bytes_up INTEGER NOT NULL, bytes_down INTEGER NOT NULL, packets_up INTEGER NOT NULL, packets_down INTEGER NOT NULL,
     tcp_flags_up INTEGER NOT NULL, tcp_flags_down INTEGER NOT NULL,
     domain TEXT, country TEXT, city TEXT, asn INTEGER, as_org TEXT, end_reason TEXT,
     UNIQUE (id, first_seen));
   CREATE INDEX session_log_last_seen ON session_log (last_seen);
   CREATE INDEX session_log_first_seen ON session_log (first_seen);
   CREATE INDEX session_log_bytes ON session_log ((bytes_up + bytes_down));
   CREATE INDEX session_log_packets ON session_log ((packets_up + packets_down));
   CREATE INDEX session_log_local ON session_log (local_bin);
   CREATE INDEX session_log_remote ON session_log (remote_bin);
   CREATE TABLE live (kind TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL);`,
  `CREATE TABLE alert (
     id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, rule TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
     subject TEXT NOT NULL, summary TEXT NOT NULL, value REAL NOT NULL, threshold REAL NOT NULL, baseline REAL, unit TEXT NOT NULL,
     start INTEGER NOT NULL, fired_at INTEGER, end INTEGER, state TEXT NOT NULL, contributors TEXT NOT NULL);
   CREATE INDEX alert_start ON alert (start);
   CREATE INDEX alert_open ON alert (state) WHERE state != 'resolved';
   CREATE TABLE alert_silence (
     id INTEGER PRIMARY KEY, match TEXT NOT NULL, until INTEGER NOT NULL, reason TEXT NOT NULL, created INTEGER NOT NULL);
   CREATE TABLE alert_outbox (
     id INTEGER PRIMARY KEY, receiver TEXT NOT NULL, alert_id INTEGER NOT NULL, event TEXT NOT NULL, body TEXT NOT NULL,
     created INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT,
     UNIQUE (receiver, alert_id, event));`,
  // devices (src/enrich/devices.ts): what was learned of each MAC, so names survive a restart
  `CREATE TABLE device (
     mac TEXT PRIMARY KEY, learned_name TEXT, learned_from TEXT, addresses TEXT NOT NULL, iface TEXT,
     first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);`,
  // daily talker rollup (writer.ts rollUpDay), and the open hours' whole state kept across a restart (writer.ts saveOpenHours): per UTC day, the top N of its hours' rows summed, + "other";
  // talker_day_done lists the days rolled up (a day without traffic of one set has no rows, yet is done).
  // Days of an existing database are rolled up by the writer at its first flush, not here (N is a setting).
  `CREATE TABLE talker_day (
     day INTEGER NOT NULL, dimension TEXT NOT NULL, key TEXT NOT NULL, label TEXT,
     bytes_up INTEGER NOT NULL, bytes_down INTEGER NOT NULL,
     packets_up INTEGER NOT NULL, packets_down INTEGER NOT NULL, connections INTEGER NOT NULL,
     PRIMARY KEY (dimension, day, key)) WITHOUT ROWID;
   CREATE TABLE talker_day_done (day INTEGER PRIMARY KEY);
   CREATE TABLE talker_hour_open (
     hour INTEGER NOT NULL, dimension TEXT NOT NULL, key TEXT NOT NULL, label TEXT,
     bytes_up INTEGER NOT NULL, bytes_down INTEGER NOT NULL,
     packets_up INTEGER NOT NULL, packets_down INTEGER NOT NULL, connections INTEGER NOT NULL,
     PRIMARY KEY (dimension, hour, key)) WITHOUT ROWID;`,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

const HINT_DIR = 'choose a writable directory with --data-dir, or run flowlens as a user that may write there (default /var/lib/flowlens needs root)';

/** Creates the data directory (if needed) and opens its database for writing, migrated to SCHEMA_VERSION. */
export function openForWriting(dataDir: string): Db {
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.accessSync(dataDir, fs.constants.W_OK);
  } catch (e) {
    throw new FlowlensError('FLOW_ERR_STORE', `cannot write the data directory ${dataDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, HINT_DIR);
  }
  const file = path.join(dataDir, DB_FILE);
  let db: Db | undefined;
  try {
    createPrivate(file);
    db = new Database(file);
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a committed flush survives a crash of the process (not
    // necessarily of the machine), and commits cost no fsync
    db.pragma('synchronous = NORMAL');
    checkIdentity(db, file);
    migrate(db, file);
    return db;
  } catch (e) {
    db?.close();
    throw storeError(e, file);
  }
}

/** A database in memory with the same tables (alerts without history). */
export function openInMemory(): Db {
  const db = new Database(':memory:');
  migrate(db, ':memory:');
  return db;
}

/**
 * The history says who talked to whom: a new database file is made readable by
 * its owner and group only (0640, whatever the umask), before SQLite opens it.
 * SQLite gives the -wal and -shm files it makes the database file's mode (and, as
 * root, its owner), so they are 0640 too. An existing file keeps the mode it has.
 */
function createPrivate(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o640);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw e;
  }
  try {
    fs.fchmodSync(fd, 0o640);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Closes the writer's connection, leaving the file in rollback-journal mode: a
 * reader without write access to the directory (a user running `flowlens history`)
 * cannot open a WAL database whose -shm file does not exist, and SQLite removes
 * it on close. The next writer switches back to WAL. If a reader holds the file
 * right now the switch is skipped: WAL mode is as correct, only less convenient.
 */
export function closeWriter(db: Db): void {
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = DELETE');
  } catch { /* see above */ }
  db.close();
}

/**
 * Opens an existing database read-only: the CLI beside a running flowlens (WAL
 * lets it read while the other process writes).
 */
export function openForReading(dataDir: string): Db {
  const file = path.join(dataDir, DB_FILE);
  try {
    fs.statSync(file);
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new FlowlensError('FLOW_ERR_STORE', `no history in ${dataDir} yet (${DB_FILE} does not exist)`,
        `flowlens run writes it; point --data-dir at the directory flowlens run uses`);
    }
    if (code === 'EACCES') {
      throw new FlowlensError('FLOW_ERR_STORE', `cannot read ${file}: EACCES (the history is readable by its owner and its group only)`,
        'run as its owner or a member of its group (e.g. with sudo), or give the group to the users who may read it: see "History in the terminal" in the README');
    }
    throw new FlowlensError('FLOW_ERR_STORE', `cannot read ${file}: ${code ?? (e as Error).message}`,
      'run as a user that may read the data directory (e.g. with sudo), or choose another with --data-dir');
  }
  let db: Db | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    checkIdentity(db, file);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw newerSchema(file, version);
    if (version < SCHEMA_VERSION) {
      throw new FlowlensError('FLOW_ERR_STORE', `${file} has an older layout (version ${version}, this flowlens reads ${SCHEMA_VERSION})`,
        'start flowlens run with this --data-dir once: it upgrades the database');
    }
    return db;
  } catch (e) {
    db?.close();
    throw storeError(e, file);
  }
}

/** A database file that SQLite can read but another program made: refuse it, change nothing. */
function checkIdentity(db: Db, file: string): void {
  const id = db.pragma('application_id', { simple: true }) as number;
  if (id === APPLICATION_ID) return;
  const tables = (db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get() as { n: number }).n;
  if (id !== 0 || tables > 0) throw notOurs(file);
}

function migrate(db: Db, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw newerSchema(file, version);
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

function notOurs(file: string): FlowlensError {
  return new FlowlensError('FLOW_ERR_STORE', `${file} is not a flowlens database`,
    'move the file away, or choose another directory with --data-dir');
}

function newerSchema(file: string, version: number): FlowlensError {
  return new FlowlensError('FLOW_ERR_STORE', `${file} was written by a newer flowlens (schema ${version}, this one knows ${SCHEMA_VERSION})`,
    'upgrade flowlens, or choose another directory with --data-dir');
}

function storeError(e: unknown, file: string): FlowlensError {
  if (e instanceof FlowlensError) return e;
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return notOurs(file);
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM')) {
    return new FlowlensError('FLOW_ERR_STORE', `cannot open ${file}: ${(e as Error).message}`, HINT_DIR);
  }
  return new FlowlensError('FLOW_ERR_STORE', `cannot use ${file}: ${(e as Error).message}`, HINT_DIR);
}
