/**
 * State the whole dashboard shares: the view, the interface, the host's time
 * zone and today, the theme, the connection to the live feed and the live rate
 * series. Columns are $state.raw and replaced on every update (never proxied).
 */
import type { Alert } from './alerts';
import type { TalkerDirection, TalkersView } from './endpoints';
import { LiveSeries, type RateColumns } from './live-series';

export const VIEWS = [
  { id: 'overview', label: 'Overview' },
  { id: 'history', label: 'History' },
  { id: 'sessions', label: 'Sessions' },
  { id: 'map', label: 'Map' },
  { id: 'alerts', label: 'Alerts' },
  { id: 'status', label: 'Status' },
] as const;
export type View = (typeof VIEWS)[number]['id'];

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'offline' | 'unauthorized';

const THEME_KEY = 'flowlens.theme';
export const LIVE_SECONDS = 300;

function viewFromHash(): View {
  const id = location.hash.replace(/^#\/?/, '').split('?')[0];
  return (VIEWS.find((v) => v.id === id)?.id ?? 'overview') as View;
}

function initialTheme(): 'light' | 'dark' {
  const stored = (() => { try { return localStorage.getItem(THEME_KEY); } catch { return null; } })();
  if (stored === 'light' || stored === 'dark') return stored;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export class AppState {
  view = $state<View>(viewFromHash());
  /** '' = every interface. */
  iface = $state('');
  interfaces = $state.raw<string[]>([]);
  /** The flowlens host's IANA zone (undefined until known: the browser's). */
  timeZone = $state<string | undefined>(undefined);
  /** The host's today, "YYYY-MM-DD". */
  today = $state('');
  theme = $state<'light' | 'dark'>(initialTheme());
  connection = $state<Connection>('connecting');
  needToken = $state(false);
  /** Last 5 minutes of the selected interface at 1 s. */
  rates = $state.raw<RateColumns>(new LiveSeries(LIVE_SECONDS).columns());
  /** Latest second's rates (bytes/s) of the selected interface. */
  upRate = $state(0);
  downRate = $state(0);
  /** Counts live updates; views that poll refresh when it changes. */
  tick = $state(0);
  /** End (epoch ms) of the latest interval. */
  lastUpdate = $state(0);
  /**
   * Whose talkers and protocols the Overview lists: internet traffic by default
   * (what people ask first: a LAN backup is not "internet use"), LAN, or all ('').
   */
  talkerScope = $state<'' | 'internet' | 'lan'>('internet');
  /** Talkers of one direction ('': both, ranked by the total). */
  talkerDirection = $state<TalkerDirection>('');
  /** Top talkers per dimension over the live window, from the latest update (of talkerScope's traffic). */
  liveTop = $state.raw<Partial<Record<string, TalkersView>>>({});
  activeSessions = $state(0);
  /** When the running flowlens started (epoch ms): the live chart starts no earlier. */
  startedAt = $state(0);
  activeRemotes = $state(0);
  /** Alerts firing now (the header's badge); null until known, or when this flowlens runs no alerts. */
  firingAlerts = $state<number | null>(null);
  /** Alerts active in the live chart's window (its markers), from the header's poll. */
  recentAlerts = $state.raw<Alert[]>([]);

  private readonly series = new Map<string, LiveSeries>();

  constructor() {
    addEventListener('hashchange', () => { this.view = viewFromHash(); });
  }

  go(view: View): void {
    location.hash = `#/${view}`;
    this.view = view;
  }

  setTheme(t: 'light' | 'dark'): void {
    this.theme = t;
    document.documentElement.dataset.theme = t;
    try { localStorage.setItem(THEME_KEY, t); } catch { /* private mode */ }
  }

  selectIface(iface: string): void {
    this.iface = iface;
    this.publish();
  }

  private seriesOf(iface: string): LiveSeries {
    let s = this.series.get(iface);
    if (!s) { s = new LiveSeries(LIVE_SECONDS); this.series.set(iface, s); }
    return s;
  }

  /** End (epoch ms) of the seconds seeded from the realtime series: those already hold every byte. */
  private seededUntil = -Infinity;

  /**
   * One interval's bytes per interface ('' key: all interfaces) arrived. The
   * part of it the realtime seed already covers (a stream starts with the
   * server's latest interval) is not added twice: only its share after the seed.
   */
  addInterval(intervalStart: number, end: number, perIface: Map<string, { up: number; down: number }>): void {
    const start = Math.max(intervalStart, this.seededUntil);
    this.lastUpdate = Math.max(this.lastUpdate, end);
    if (start >= end) return;
    const share = (end - start) / (end - intervalStart);
    let up = 0;
    let down = 0;
    for (const [iface, whole] of perIface) {
      const b = { up: whole.up * share, down: whole.down * share };
      this.seriesOf(iface).add({ start, end, up: b.up, down: b.down });
      up += b.up;
      down += b.down;
    }
    // interfaces without traffic in this interval still get their zero second
    for (const [iface, s] of this.series) if (iface !== '' && !perIface.has(iface)) s.add({ start, end, up: 0, down: 0 });
    this.seriesOf('').add({ start, end, up, down });
    this.tick++;
    this.publish();
  }

  /** Complete seconds from the API's realtime series (exact per-second bytes) to start the chart with, or to fill a gap after a reconnect. */
  seedSeconds(seconds: readonly { start: number; perIface: Map<string, { up: number; down: number }> }[]): void {
    for (const sec of seconds) {
      const second = Math.floor(sec.start / 1000);
      let up = 0;
      let down = 0;
      for (const [iface, b] of sec.perIface) {
        this.seriesOf(iface).set(second, b.up, b.down);
        up += b.up;
        down += b.down;
      }
      for (const [iface, s] of this.series) if (iface !== '' && !sec.perIface.has(iface)) s.set(second, 0, 0);
      this.seriesOf('').set(second, up, down);
      this.seededUntil = Math.max(this.seededUntil, (second + 1) * 1000);
    }
    this.publish();
  }

  private publish(): void {
    const s = this.seriesOf(this.iface);
    this.rates = s.columns(undefined, Math.floor(this.startedAt / 1000));
    const l = s.latest();
    this.upRate = l.up;
    this.downRate = l.down;
  }
}

export const app = new AppState();
