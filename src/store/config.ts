/** Settings of the history store (src/store). */
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
}

export function defaultStoreConfig(): StoreConfig {
  return {
    dataDir: '/var/lib/flowlens',
    flushIntervalMs: 60_000,
    minuteRetentionDays: 7,
    hourlyTopN: 100,
    sessionLogDays: 7,
    liveSessionsLimit: 1000,
    pendingKeysLimit: 100_000,
  };
}
