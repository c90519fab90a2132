/**
 * Keeps the shared state live: learns the host (zone, today, interfaces) once,
 * seeds the 5-minute chart from the realtime endpoint, then follows the per-
 * second rates. Returns a function that stops it.
 */
import { Unauthorized } from './api';
import { app } from './app.svelte';
import { api } from './endpoints';
import { realtimeSeconds } from './realtime';

export function startLiveFeed(): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastSecond = 0;
  let failures = 0;

  const fail = (e: unknown) => {
    if (e instanceof Unauthorized) {
      app.needToken = true;
      app.connection = 'unauthorized';
      return true;
    }
    failures++;
    app.connection = failures > 3 ? 'offline' : 'reconnecting';
    return false;
  };

  async function learnHost(): Promise<void> {
    const [status, summary] = await Promise.all([api.status(), api.summary('')]);
    app.timeZone = status.timeZone || undefined;
    app.interfaces = status.interfaces.map((i) => i.name);
    app.today = summary.today.label;
  }

  async function poll(seconds: number): Promise<void> {
    const answer = await api.realtime(seconds);
    for (const s of realtimeSeconds(answer)) {
      if (s.start <= lastSecond) continue;
      lastSecond = s.start;
      app.addInterval(s.start, s.end, s.perIface);
    }
  }

  async function loop(first: boolean): Promise<void> {
    if (stopped) return;
    try {
      if (first) await learnHost();
      await poll(first ? 300 : 10);
      failures = 0;
      app.connection = 'live';
      timer = setTimeout(() => void loop(false), 1000);
    } catch (e) {
      if (stopped || fail(e)) return;
      timer = setTimeout(() => void loop(first), Math.min(10_000, 1000 * failures));
    }
  }

  app.connection = 'connecting';
  void loop(true);
  return () => { stopped = true; clearTimeout(timer); };
}
