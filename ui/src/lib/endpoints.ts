/**
 * Every JSON API call the dashboard makes, in one place, typed with the API's
 * own messages (generated from proto/flowlens/v1: the JSON API sends them as
 * they are). Dates are the host's local dates ("2026-03-08"), which the API
 * reads in the host's time zone.
 */
import type * as pb from '../../../src/api/grpc/gen/flowlens/v1/flowlens';
import type { TalkerDimension } from '../../../src/flows/types';
import type { Alert, AlertState, Silence } from './alerts';
import type { InterfaceReconciliation, DirectionReconciliation, ReconcileTerm } from '../../../src/collector/reconcile';
import { getJson, sendJson, type Params } from './api';
import type { Granularity } from './ranges';
import type { RealtimeAnswer } from './realtime';

export type { TalkerDimension };
export type Session = pb.Session;
export type SummaryView = pb.SummaryResponse;
export type HistoryView = pb.HistoryResponse;
export type TalkersView = pb.TopTalkersResponse;
export type Talker = pb.Talker;
export type SessionsView = pb.SessionsResponse;
export type StatusView = pb.StatusResponse;
export type LiveUpdate = pb.LiveUpdate;
export type UsageView = pb.UsageResponse;
/** /api/alerts/status: the open alerts by state (the header's badge counts `firing`). */
export interface AlertsStatusView { pending: number; firing: number; rules: number }
/** GET /api/reconcile: plain JSON (src/collector/reconcile.ts), not a proto message. */
export type ReconcileView = { host: string; interfaces: InterfaceReconciliation[] };
export type { InterfaceReconciliation, DirectionReconciliation, ReconcileTerm };

/** Sort keys of live sessions, as the API names them. */
export type SessionSort = 'bytes' | 'packets' | 'rate' | 'first_seen' | 'last_seen';

export interface SessionFilterInput {
  addr?: string;
  port?: string;
  protocol?: string;
  scope?: string;
  country?: string;
  /** "64500" or "AS64500". */
  asn?: string;
  domain?: string;
}

/** A talker window: live (the last `seconds`) or whole local days. */
export type TalkerWindow = { live: number } | { from: string; to: string };

/** Which traffic a total or history counts: all of it, what crossed the internet, or what stayed on the LAN. */
export type TrafficScope = '' | 'internet' | 'lan';
/** A talker list of one direction, or '' for both (ranked by the total). */
export type TalkerDirection = '' | 'up' | 'down';

const ifaceParam = (iface: string, scope: TrafficScope = ''): Params => ({ ...(iface ? { iface } : {}), ...(scope ? { scope } : {}) });

/** A LAN device (GET /api/devices; src/enrich/devices.ts). */
export interface DeviceView {
  mac: string;
  /** 'local': a locally administered (randomized) MAC, which has no vendor. */
  macKind: 'universal' | 'local' | 'multicast';
  vendor?: string;
  name?: string;
  nameSource?: 'settings' | 'dhcp' | 'mdns' | 'llmnr';
  addresses: string[];
  iface?: string;
  firstSeen: number;
  lastSeen: number;
}

export const api = {
  summary: (iface: string, scope: TrafficScope, signal?: AbortSignal) => getJson<SummaryView>('summary', ifaceParam(iface, scope), signal),
  history: (from: string, to: string, granularity: Granularity, iface: string, scope: TrafficScope, signal?: AbortSignal) =>
    getJson<HistoryView>('query', { start: from, end: to, granularity, ...ifaceParam(iface, scope) }, signal),
  /** A preset range: the last 30 days by day, the last 12 months by month, today by hour. */
  preset: (preset: '30days' | '12months' | 'today_hours', iface: string, scope: TrafficScope, signal?: AbortSignal) =>
    getJson<HistoryView>(`history/${preset}`, ifaceParam(iface, scope), signal),
  realtime: (seconds: number) => getJson<RealtimeAnswer>('realtime', { seconds }),
  talkers: (dimension: TalkerDimension, window: TalkerWindow, limit: number, scope: TrafficScope, direction: TalkerDirection, signal?: AbortSignal) =>
    getJson<TalkersView>('top', { dimension, limit, ...('live' in window ? { window: window.live } : { start: window.from, end: window.to }), ...(scope ? { scope } : {}), ...(direction ? { direction } : {}) }, signal),
  sessions: (filter: SessionFilterInput, iface: string, sort: SessionSort, cursor: string, limit: number, signal?: AbortSignal) =>
    getJson<SessionsView>('sessions', { source: 'live', sort, limit, cursor, ...ifaceParam(iface), ...filter }, signal),
  status: (signal?: AbortSignal) => getJson<StatusView>('status', {}, signal),
  devices: (signal?: AbortSignal) => getJson<{ devices: DeviceView[] }>('devices', {}, signal),
  reconcile: (signal?: AbortSignal) => getJson<ReconcileView>('reconcile', {}, signal),
  /** A billing cycle: 0 the current one, -1 the one before, ... */
  usage: (cycle: number, limit: number, signal?: AbortSignal) => getJson<UsageView>('usage', { cycle, limit }, signal),
  /** Alerts active in a range: local dates of the host (the end day included) or epoch ms; newest first. */
  alerts: (start: string | number, end: string | number | undefined, state: AlertState | '', signal?: AbortSignal) =>
    getJson<{ alerts: Alert[] }>('alerts', { start, end, state, limit: 10_000 }, signal),
  alertsStatus: (signal?: AbortSignal) => getJson<AlertsStatusView>('alerts/status', {}, signal),
  silences: (signal?: AbortSignal) => getJson<{ silences: Silence[] }>('alerts/silences', {}, signal),
  /** Admin: silence what `match` names for `duration` ("2h"). */
  addSilence: (match: Record<string, string>, duration: string, reason: string) => sendJson<Silence>('POST', 'admin/alerts/silences', { match, duration, reason }),
  /** Admin: end a silence now. */
  removeSilence: (id: number) => sendJson<{ removed: number }>('DELETE', `admin/alerts/silences/${id}`),
};
