/**
 * Every JSON API call the dashboard makes, in one place, typed with the
 * control plane's own data shapes (src/flows/types.ts, src/store/types.ts).
 */
import type { SessionRecord, TalkerDimension } from '../../../src/flows/types';
import type { DateRange, History, PeriodTotals, SessionPage, SessionSort, TalkerTotal } from '../../../src/store/types';
import { getJson, type Params } from './api';
import type { Granularity } from './ranges';
import type { RealtimeAnswer } from './realtime';

export type { SessionRecord, TalkerDimension, History, PeriodTotals, SessionPage, SessionSort, TalkerTotal, DateRange };

export interface SummaryView {
  at: number;
  today: PeriodTotals;
  month: PeriodTotals;
  year: PeriodTotals;
}

export interface TalkersView {
  dimension: TalkerDimension;
  rows: TalkerTotal[];
  total: TalkerTotal;
}


export interface SessionFilterInput {
  addr?: string;
  port?: string;
  protocol?: string;
  scope?: string;
  country?: string;
  domain?: string;
}

const ifaceParam = (iface: string): Params => (iface ? { iface } : {});

export const api = {
  summary: (iface: string, signal?: AbortSignal) => getJson<SummaryView>('summary', ifaceParam(iface), signal),
  history: (from: string, to: string, granularity: Granularity, iface: string, signal?: AbortSignal) =>
    getJson<History>('query', { start: from, end: to, granularity, ...ifaceParam(iface) }, signal),
  last30Days: (iface: string) => getJson<History>('history/30days', ifaceParam(iface)),
  last12Months: (iface: string) => getJson<History>('history/12months', ifaceParam(iface)),
  todayHours: (iface: string) => getJson<History>('history/today_hours', ifaceParam(iface)),
  dateRange: () => getJson<DateRange>('date_range'),
  realtime: (seconds: number) => getJson<RealtimeAnswer>('realtime', { seconds }),
  talkers: (dimension: TalkerDimension, window: { from: string; to: string } | 'live', limit = 10) =>
    getJson<TalkersView>('talkers', { dimension, limit, ...(window === 'live' ? { window: 'live' } : window) }),
  sessions: (filter: SessionFilterInput, sort: SessionSort, cursor: string | null, limit: number, signal?: AbortSignal) =>
    getJson<SessionPage>('sessions', { source: 'live', sort, limit, cursor, ...filter }, signal),
  status: () => getJson<StatusView>('status'),
  health: () => getJson<unknown>('health'),
};

export type { SessionRecord as Session };

/** Health of the collector per interface, sinks and version (GET api/status). */
export interface StatusView {
  version: string;
  host: string;
  timeZone: string;
  uptimeMs: number;
  intervalMs: number;
  activeSessions: number;
  interfaces: { name: string; ingress: string; egress: string; overflowPackets: number; malformedPackets: number; nonIpPackets: number }[];
  collector: { mapEntries: number; mapFill: number; intervals: number; lastDrainMs: number; bpfErrors: Record<string, number> };
  sinks: { name: string; ok: boolean; detail?: string }[];
}
