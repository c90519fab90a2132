/**
 * A value fetched from the API and kept fresh: fetched at once, then every
 * `everyMs` while the component lives, and again whenever reactive state
 * that the fetcher reads before its first await changes (the interface, a
 * chosen dimension or range): the effect below tracks those reads. A newer request supersedes an older one, so a slow answer never
 * overwrites a newer one. A 401 opens the token prompt.
 */
import { Unauthorized } from './api';
import { app } from './app.svelte';

export interface Polled<T> {
  readonly value: T | null;
  readonly error: string;
  readonly loading: boolean;
  refresh(): void;
}

export function poller<T>(fetcher: (signal: AbortSignal) => Promise<T>, everyMs: number): Polled<T> {
  let value = $state.raw<T | null>(null);
  let error = $state('');
  let loading = $state(false);
  let controller: AbortController | null = null;

  async function refresh(): Promise<void> {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    loading = true;
    try {
      const v = await fetcher(mine.signal);
      if (controller !== mine) return;
      value = v;
      error = '';
    } catch (e) {
      if (controller !== mine || (e as Error).name === 'AbortError') return;
      if (e instanceof Unauthorized) app.needToken = true;
      error = (e as Error).message;
    } finally {
      if (controller === mine) loading = false;
    }
  }

  $effect(() => {
    void refresh();
    const id = everyMs > 0 ? setInterval(() => { if (!document.hidden && !app.needToken) void refresh(); }, everyMs) : undefined;
    return () => { clearInterval(id); controller?.abort(); controller = null; };
  });

  return {
    get value() { return value; },
    get error() { return error; },
    get loading() { return loading; },
    refresh: () => void refresh(),
  };
}
