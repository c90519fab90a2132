/**
 * Keeps the shared state live. Learns the host once (interfaces; today and the
 * time zone from the summary), seeds the 5-minute chart from /api/realtime,
 * then follows /api/live (Server-Sent Events, read through fetch so the token
 * can go in a header): every interval's traffic per interface and the live top
 * talkers. Reconnects with a growing pause; a 401 opens the token prompt.
 * Returns a function that stops it.
 */
import { ApiError, Unauthorized, apiUrl, authHeaders } from './api';
import { app, LIVE_SECONDS } from './app.svelte';
import { api, type LiveUpdate, type TalkersView } from './endpoints';
import { hostZone, summaryMidnights } from './host-zone';
import { realtimeSeconds } from './realtime';
import { SseParser } from './sse';

/** Dimensions the Overview shows live, and the window they cover. */
export const LIVE_DIMENSIONS = ['proto', 'ip', 'host', 'port', 'country', 'asn', 'domain', 'device'];
export const LIVE_WINDOW_SECONDS = 30;
export const LIVE_TOP_LIMIT = 10;

export async function learnHost(): Promise<void> {
  const [status, summary] = await Promise.all([api.status(), api.summary('', '')]);
  app.interfaces = status.interfaces.map((i) => i.name);
  app.startedAt = status.startedAt;
  if (app.today !== summary.today?.label || !app.timeZone) {
    app.today = summary.today?.label ?? '';
    app.timeZone = hostZone(summaryMidnights(summary));
  }
}

function applyUpdate(u: LiveUpdate): void {
  const perIface = new Map<string, { up: number; down: number }>();
  for (const r of u.traffic) {
    const b = perIface.get(r.iface) ?? { up: 0, down: 0 };
    if (r.direction === 'up') b.up += r.bytes;
    else b.down += r.bytes;
    perIface.set(r.iface, b);
  }
  const top: Record<string, TalkersView> = {};
  for (const t of u.top) top[t.dimension] = t;
  app.liveTop = top;
  app.activeSessions = u.activeSessions;
  app.activeRemotes = u.activeRemotes;
  app.addInterval(u.start, u.end, perIface);
}

export function startLiveFeed(): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let hostTimer: ReturnType<typeof setInterval> | undefined;
  let failures = 0;

  async function seed(): Promise<void> {
    const answer = await api.realtime(LIVE_SECONDS);
    app.seedSeconds(realtimeSeconds(answer));
  }

  async function follow(): Promise<void> {
    controller = new AbortController();
    const url = apiUrl('live', { dimensions: LIVE_DIMENSIONS.join(','), limit: LIVE_TOP_LIMIT, window: LIVE_WINDOW_SECONDS, ...(app.talkerScope ? { scope: app.talkerScope } : {}), ...(app.talkerDirection ? { direction: app.talkerDirection } : {}) });
    const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...authHeaders() }, signal: controller.signal, cache: 'no-store' });
    if (res.status === 401) throw new Unauthorized(401, 'token needed');
    if (!res.ok || !res.body) throw new ApiError(res.status, `live feed: ${res.status} ${res.statusText}`);
    app.connection = 'live';
    failures = 0;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const e of parser.push(value)) {
        if (e.event === 'interval') applyUpdate(JSON.parse(e.data) as LiveUpdate);
      }
    }
    throw new ApiError(0, 'live feed ended');
  }

  async function run(): Promise<void> {
    while (!stopped) {
      try {
        await learnHost();
        await seed();
        await follow();
      } catch (e) {
        if (stopped || (e as Error).name === 'AbortError') return;
        if (e instanceof Unauthorized) {
          app.needToken = true;
          app.connection = 'unauthorized';
          return; // the token prompt restarts the feed
        }
        failures++;
        app.connection = failures > 2 ? 'offline' : 'reconnecting';
        await new Promise((r) => { retry = setTimeout(r, Math.min(10_000, 500 * 2 ** failures)); });
      }
    }
  }

  app.connection = 'connecting';
  void run();
  // the host's today moves at its midnight
  hostTimer = setInterval(() => { if (!stopped && app.connection === 'live') learnHost().catch(() => undefined); }, 60_000);
  return () => {
    stopped = true;
    controller?.abort();
    clearTimeout(retry);
    clearInterval(hostTimer);
  };
}
