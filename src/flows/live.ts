/**
 * The flows stage's live sessions as its readers see them (the live query,
 * the terminal view, the history's live snapshot): read-only, with the one
 * answer to "how much did it move in the latest interval". The session table
 * itself, and its bookkeeping, stay inside FlowProcessor.
 */
import type { RemoteLabels } from './sessions.js';
import type { Scope, SessionRecord, SessionState } from './types.js';

/** An active session, read-only. */
export interface LiveSession {
  readonly id: string;
  /** Its place in the order sessions began (1, 2, …; unique while flowlens runs): what orders sessions tied on a sort. */
  readonly seq: number;
  readonly iface: string;
  readonly protocol: number;
  readonly local: string;
  readonly localPort: number;
  readonly remote: string;
  readonly remotePort: number;
  readonly scope: Scope;
  readonly initiator: 'local' | 'remote';
  readonly state: SessionState;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly packetsUp: number;
  readonly packetsDown: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly tcpFlagsUp: number;
  readonly tcpFlagsDown: number;
  readonly labels: Readonly<RemoteLabels>;
  toRecord(): SessionRecord;
}

/** Every active session, and what each moved in the latest interval. */
export interface LiveSessions {
  /** Sessions alive now. */
  readonly size: number;
  values(): IterableIterator<LiveSession>;
  /** Visits every session alive now, as values() gives them: for a walk of them all (no generator step per session). */
  forEach(visit: (s: LiveSession) => void): void;
  /**
   * The sessions with traffic in the latest interval, in the order it first
   * moved them: what a reader of only the interval's movement walks, instead
   * of every session (on a gateway most are idle until their timeout).
   */
  moved(): readonly LiveSession[];
  /** Intervals processed so far: the view changes only when this does. */
  readonly intervals: number;
  /** Bytes up in the latest interval (0 when it had no traffic then). */
  latestBytesUp(s: LiveSession): number;
  latestBytesDown(s: LiveSession): number;
  /** Packets up and down in the latest interval (0 when it had no traffic then). */
  latestPacketsUp(s: LiveSession): number;
  latestPacketsDown(s: LiveSession): number;
  /** Whether the session began in the latest interval. */
  isNew(s: LiveSession): boolean;
}
