/**
 * Synthetic IntervalStats and SessionRecords for store tests: only what a test
 * names is non-zero, and the talker rows of each dimension sum to the traffic
 * rows whose scope is known (the contract of src/flows/types.ts).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Test } from 'tap';
import { TALKER_DIMENSIONS, type IntervalStats, type SessionRecord, type TalkerDimension, type TalkerRow, type TalkerScope, type TrafficRow } from '../../src/flows/types.js';

export function emptyTalkers(): Record<TalkerDimension, TalkerRow[]> {
  return Object.fromEntries(TALKER_DIMENSIONS.map((d) => [d, []])) as unknown as Record<TalkerDimension, TalkerRow[]>;
}

export function talker(key: string, bytesUp: number, bytesDown = 0, extra: Partial<TalkerRow> = {}): TalkerRow {
  return { key, bytesUp, bytesDown, packetsUp: bytesUp > 0 ? 1 : 0, packetsDown: bytesDown > 0 ? 1 : 0, sessions: 1, newSessions: 0, ...extra };
}

export interface IntervalSpec {
  /** Wall-clock ms of the end; the interval is [end - lengthMs, end). */
  end: number;
  lengthMs?: number;
  traffic?: TrafficRow[];
  talkers?: Partial<Record<TalkerDimension, TalkerRow[]>>;
  /** Talkers of internet and of LAN traffic (absent: not split). */
  scopedTalkers?: Partial<Record<TalkerScope, Partial<Record<TalkerDimension, TalkerRow[]>>>>;
  ended?: SessionRecord[];
}

export function interval(spec: IntervalSpec): IntervalStats {
  return {
    start: spec.end - (spec.lengthMs ?? 1000),
    end: spec.end,
    traffic: spec.traffic ?? [],
    activeSessions: 0,
    activeRemotes: 0,
    talkers: { ...emptyTalkers(), ...spec.talkers },
    ...(spec.scopedTalkers ? { scopedTalkers: { internet: { ...emptyTalkers(), ...spec.scopedTalkers.internet }, lan: { ...emptyTalkers(), ...spec.scopedTalkers.lan } } } : {}),
    endedSessions: spec.ended ?? [],
  };
}

/** One traffic row. */
export function row(iface: string, direction: 'up' | 'down', scope: TrafficRow['scope'], bytes: number, packets = 1): TrafficRow {
  return { iface, direction, scope, bytes, packets };
}

export function session(over: Partial<SessionRecord> & { remote: string; firstSeen: number; lastSeen: number }): SessionRecord {
  const base: SessionRecord = {
    id: '', iface: 'eth0', protocol: 6, protocolName: 'tcp', local: '192.168.1.10', localPort: 40000,
    remote: over.remote, remotePort: 443, scope: 'internet', initiator: 'local', state: 'closed',
    bytesUp: 100, bytesDown: 1000, packetsUp: 2, packetsDown: 3, firstSeen: over.firstSeen, lastSeen: over.lastSeen,
    tcpFlagsUp: 0x1b, tcpFlagsDown: 0x1b, endReason: 'closed',
  };
  const s = { ...base, ...over };
  if (!over.id) s.id = `${s.iface}|${s.protocolName}|${s.local}|${s.localPort}|${s.remote}|${s.remotePort}`;
  return s;
}

/** A fresh data directory, removed after the test. */
export function tempDataDir(t: Test, tag: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `flowlens-store-${tag}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A settable clock. */
export function manualClock(start: number): { now: () => number; set: (t: number) => void; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => { t = v; }, advance: (ms) => { t += ms; } };
}
