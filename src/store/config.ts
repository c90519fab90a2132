/** Settings of the history store (src/store): the history.* and dataDir settings of src/config/schema.ts. */
import { settingDefault } from '../config/schema.js';

export interface StoreConfig {
  /** Where flowlens.db lives; created if missing. */
  dataDir: string;
  /** How often pending counts are written (one transaction each); 0: only when flush() is called. */
  flushIntervalMs: number;
  /** Days of per-minute rows to keep (quarter-hour rows are kept forever). */
  minuteRetentionDays: number;
  /** Keys per finished hour and talker dimension; the rest are summed into one "other" row. */
  hourlyTopN: number;
  /** Days of ended sessions to keep (by their last packet). */
  sessionLogDays: number;
  /** Active sessions kept in the live snapshot (by bytes). */
  liveSessionsLimit: number;
  /**
   * Talker keys held in memory per hour and dimension between flushes; beyond it the
   * smallest half is summed into "other" (totals stay exact, only the ranking of the
   * smallest keys is approximated).
   */
  pendingKeysLimit: number;
  /**
   * Bytes the database (with its WAL) may take, 0 for no cap: over it, the
   * oldest ended sessions are deleted to make room (traffic and talkers are
   * always written; they are small).
   */
  maxDiskBytes: number;
}

/**
 * The memory bound of the pending talker keys: not a setting, because it changes
 * no total (only how exactly the smallest keys of an hour are ranked) and 100,000
 * keys per dimension are a few tens of MB at most; tests set it small.
 */
export const PENDING_KEYS_LIMIT = 100_000;

/** The defaults are the settings table's (src/config/schema.ts), so the store and `flowlens run` agree. */
export function defaultStoreConfig(): StoreConfig {
  return {
    dataDir: settingDefault('dataDir'),
    flushIntervalMs: settingDefault('history.flushInterval'),
    minuteRetentionDays: settingDefault('history.minuteDays'),
    hourlyTopN: settingDefault('history.topN'),
    sessionLogDays: settingDefault('history.sessionLogDays'),
    liveSessionsLimit: settingDefault('history.liveSessions'),
    pendingKeysLimit: PENDING_KEYS_LIMIT,
    maxDiskBytes: settingDefault('history.maxDiskSize'),
  };
}
