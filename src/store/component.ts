/**
 * The history store as a part of a running flowlens (src/component.ts): opens
 * the store at start, adds every interval to it, hands it the largest live
 * sessions every few seconds (what `flowlens sessions` shows), and at stop
 * clears that snapshot and closes the store (a last flush).
 */
import type { CollectorStatus } from '../collector/index.js';
import type { IntervalStats } from '../flows/types.js';
import type { LiveSession } from '../flows/live.js';
import { nthSmallest } from '../flows/talkers.js';
import { defaultStoreConfig, Store, type StoreHealth, type StoreOptions } from './index.js';

/** How often the live sessions are handed to the store's snapshot. */
const LIVE_SNAPSHOT_MS = 5_000;


/** What largestSessions walks: the live view (LiveSessions.forEach) or an array. */
export interface SessionWalk {
  forEach(visit: (s: LiveSession) => void): void;
}

/**
 * The `limit` largest sessions by bytes, largest first. The cut-off comes from a
 * selection over the byte counts (nthSmallest) and only the chosen are sorted as objects:
 * a comparator sort of every session (500k on a busy gateway) would hold the
 * event loop for most of a second every LIVE_SNAPSHOT_MS.
 */
export function largestSessions(sessions: SessionWalk, limit: number): LiveSession[] {
  const all: LiveSession[] = [];
  sessions.forEach((s) => { all.push(s); });
  const bytes = (s: LiveSession) => s.bytesUp + s.bytesDown;
  if (all.length > limit) {
    if (limit <= 0) return [];
    const counts = new Float64Array(all.length);
    for (let i = 0; i < all.length; i++) counts[i] = bytes(all[i]!);
    const threshold = nthSmallest(counts, counts.length - limit);
    const above = all.filter((s) => bytes(s) > threshold);
    // sessions equal to the threshold fill what is left, in table order (as a stable sort would keep them)
    for (const s of all) {
      if (above.length >= limit) break;
      if (bytes(s) === threshold) above.push(s);
    }
    return above.sort((a, b) => bytes(b) - bytes(a));
  }
  return all.sort((a, b) => bytes(b) - bytes(a));
}

export interface HistoryDependencies {
  /** The sessions alive now. */
  liveSessions: () => SessionWalk;
}

export interface HistoryStatus extends Partial<StoreHealth> {
  dataDir: string;
  flushIntervalMs: number;
}

export class HistoryComponent {
  readonly name = 'history';
  private opened: Store | undefined;
  private lastSnapshot = 0;

  constructor(private readonly options: StoreOptions, private readonly deps: HistoryDependencies) {}

  /** The open store (queries read it too); undefined before start and after stop. */
  get store(): Store | undefined {
    return this.opened;
  }

  /** Opens (creating if needed) the data directory and claims it as its writer. */
  start(): void {
    this.opened = Store.open(this.options);
  }

  /** Counts the interval; when a live snapshot is due, returns it as the rest of the work (its own turn: a walk of every live session). */
  add(stats: IntervalStats, _status?: CollectorStatus): (() => void) | undefined {
    const store = this.opened;
    if (!store) return undefined;
    store.add(stats);
    if (stats.end - this.lastSnapshot < LIVE_SNAPSHOT_MS) return undefined;
    this.lastSnapshot = stats.end;
    return () => {
      if (this.opened !== store) return; // stopped meanwhile
      // only the largest go into the snapshot: records for those, not for every session
      store.setLiveSessions(largestSessions(this.deps.liveSessions(), store.config.liveSessionsLimit).map((x) => x.toRecord()));
    };
  }

  stop(): void {
    const store = this.opened;
    if (!store) return;
    this.opened = undefined;
    store.setLiveSessions([]);
    store.close();
  }

  status(): HistoryStatus {
    return { dataDir: this.options.dataDir, flushIntervalMs: this.options.flushIntervalMs ?? defaultStoreConfig().flushIntervalMs, ...this.opened?.health() };
  }
}
