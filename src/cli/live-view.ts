/**
 * The live view of `flowlens run`: the sessions by rate and the totals per
 * interface, each interval.
 *
 * On a terminal it is drawn as `top` draws: on the alternate screen, redrawn
 * in place, fitted to the terminal's width and height (columns are dropped by
 * priority, then addresses shortened), with a header that stays on top and keys
 * to sort and filter. When stdout is not a terminal each interval is printed as
 * plain lines (the whole table, then a blank line), as before.
 */
import type { Interval } from '../collector/index.js';
import type { IntervalStats } from '../flows/types.js';
import type { Monitor } from '../monitor.js';
import type { LiveSession } from '../flows/live.js';
import { endpoint, formatBits, formatBytes, protocolName, table } from './format.js';

export type SortKey = 'rate' | 'bytes' | 'packets';
export type ScopeFilter = 'all' | 'internet' | 'lan';
export type ProtocolFilter = 'all' | 'tcp' | 'udp' | 'icmp';

/** What the user chose with the keys. */
export interface ViewState {
  sort: SortKey;
  scope: ScopeFilter;
  protocol: ProtocolFilter;
  /** Part of an address or domain ('' = every session). */
  address: string;
  /** The address being typed after `/` (undefined when not typing). */
  typing?: string;
}

export const INITIAL_VIEW: ViewState = { sort: 'rate', scope: 'all', protocol: 'all', address: '' };

/** One interval's data as the view shows it. */
export interface Frame {
  title: string;
  /** One line per interface. */
  interfaces: string[];
  sessions: readonly LiveSession[];
  /** Bytes of each session in the latest interval. */
  latest(s: LiveSession): number;
  /** Start of the latest interval, ms; its length in seconds. */
  start: number;
  seconds: number;
  /** The latest error, shown at the bottom. */
  error?: string;
  /** The dashboard's URL, after the keys when the width allows. */
  dashboard?: string;
  /** The alerts firing now, one line each above the keys. */
  alerts?: readonly string[];
}

export function frameOf(iv: Interval, s: IntervalStats, monitor: Monitor): Frame {
  const seconds = Math.max((iv.end - iv.start) / 1000, 0.001);
  const view = monitor.processor.live;
  const status = monitor.status().collector;
  const interfaces = iv.totals.map((t) => {
    const att = status.attachments.find((a) => a.ifindex === t.ifindex);
    const by = (dir: 'up' | 'down', scope?: string) => s.traffic.filter((r) => r.iface === t.iface && r.direction === dir && (!scope || r.scope === scope)).reduce((a, r) => a + r.bytes, 0);
    return `${t.iface} [${att?.ingress}/${att?.egress}]  up ${formatBits((by('up') * 8) / seconds)} (internet ${formatBits((by('up', 'internet') * 8) / seconds)})` +
      `  down ${formatBits((by('down') * 8) / seconds)} (internet ${formatBits((by('down', 'internet') * 8) / seconds)})` +
      `  non-IP ${t.ingress.nonIpPackets + t.egress.nonIpPackets}  malformed ${t.ingress.malformedPackets + t.egress.malformedPackets}` +
      `  overflow ${t.ingress.overflowPackets + t.egress.overflowPackets}`;
  });
  return {
    title: `flowlens — ${new Date(iv.end).toLocaleTimeString()}  ${s.activeSessions} sessions, ${s.activeRemotes} remote addresses` +
      `  ${iv.flows.count} flows  table ${(status.mapFill * 100).toFixed(1)}% full  drain ${iv.drain.ms.toFixed(1)} ms`,
    interfaces,
    sessions: [...view.values()],
    latest: (x) => view.latestBytesUp(x) + view.latestBytesDown(x),
    start: iv.start,
    seconds,
  };
}

function matches(x: LiveSession, v: ViewState): boolean {
  if (v.scope !== 'all' && x.scope !== v.scope) return false;
  if (v.protocol !== 'all' && protocolName(x.protocol) !== v.protocol && !(v.protocol === 'icmp' && x.protocol === 58)) return false;
  if (v.address && ![x.local, x.remote, x.labels.domain ?? ''].some((a) => a.includes(v.address))) return false;
  return true;
}

/** The sessions the view shows, in its order: the chosen key, then the latest seen first. */
export function pickSessions(f: Frame, v: ViewState): LiveSession[] {
  const key: Record<SortKey, (x: LiveSession) => number> = {
    rate: f.latest,
    bytes: (x) => x.bytesUp + x.bytesDown,
    packets: (x) => x.packetsUp + x.packetsDown,
  };
  const by = key[v.sort];
  return f.sessions.filter((x) => matches(x, v)).sort((a, b) => by(b) - by(a) || b.lastSeen - a.lastSeen);
}

interface Column {
  name: string;
  /** Lower is kept longer when the terminal is narrow. */
  priority: number;
  right?: boolean;
  /** Cells may be cut down to this width (with "…") rather than dropping the column. */
  shrinkTo?: number;
  cell(x: LiveSession, f: Frame): string;
}

const COLUMNS: Column[] = [
  { name: 'IFACE', priority: 9, cell: (x) => x.iface },
  { name: 'PROTO', priority: 3, cell: (x) => protocolName(x.protocol) },
  { name: 'LOCAL', priority: 6, shrinkTo: 12, cell: (x) => endpoint(x.local, x.localPort, x.protocol) },
  {
    name: 'REMOTE', priority: 1, shrinkTo: 14, cell: (x) => {
      const remote = endpoint(x.remote, x.remotePort, x.protocol);
      return x.labels.domain ? `${remote} (${x.labels.domain})` : remote;
    },
  },
  { name: 'WHERE', priority: 7, cell: (x) => (x.scope === 'lan' ? 'LAN' : [x.labels.country, x.labels.asn ? `AS${x.labels.asn}` : ''].filter(Boolean).join(' ')) },
  { name: 'STATE', priority: 8, cell: (x) => String(x.state) },
  { name: 'UP', priority: 5, right: true, cell: (x) => formatBytes(x.bytesUp) },
  { name: 'DOWN', priority: 4, right: true, cell: (x) => formatBytes(x.bytesDown) },
  { name: 'PKTS', priority: 10, right: true, cell: (x) => String(x.packetsUp + x.packetsDown) },
  { name: 'RATE', priority: 2, right: true, cell: (x, f) => (x.lastSeen >= f.start ? formatBits((f.latest(x) * 8) / f.seconds) : '-') },
];

/** Cuts a text to `width` characters, marking the cut with "…". */
export function cut(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 0 ? '' : `${text.slice(0, width - 1)}…`;
}

const GAP = 2;

/** Columns of at most this priority are narrowed before they are dropped. */
const CORE = 3;

/**
 * The table's columns that fit `width`: the least important columns are
 * dropped until the rest fit at their natural width (the sort key's column
 * counts as a core one); when the core columns alone are too wide, the
 * shrinkable ones are narrowed, and only then are more columns dropped.
 */
function fitColumns(cells: string[][], v: ViewState, width: number): Array<{ col: Column; width: number; index: number }> {
  const priority = (c: Column) => (c.name === 'PKTS' && v.sort === 'packets' ? 2.5 : c.priority);
  let chosen = COLUMNS.map((col, index) => ({ col, index, width: Math.max(col.name.length, ...cells.map((r) => r[index]!.length)) }));
  const narrowest = (c: (typeof chosen)[number]) => (c.col.shrinkTo === undefined ? c.width : Math.min(c.width, Math.max(c.col.shrinkTo, c.col.name.length)));
  const total = (cs: typeof chosen, w: (c: (typeof chosen)[number]) => number) => cs.reduce((a, c) => a + w(c), 0) + GAP * (cs.length - 1);
  const dropLeast = (cs: typeof chosen) => { const drop = cs.reduce((a, c) => (priority(c.col) > priority(a.col) ? c : a)); return cs.filter((c) => c !== drop); };
  while (chosen.length > 1 && total(chosen, (c) => c.width) > width && chosen.some((c) => priority(c.col) > CORE)) chosen = dropLeast(chosen);
  while (chosen.length > 1 && total(chosen, narrowest) > width) chosen = dropLeast(chosen);
  // narrow the shrinkable columns, the least important first
  let excess = total(chosen, (c) => c.width) - width;
  for (const c of [...chosen].sort((a, b) => priority(b.col) - priority(a.col))) {
    if (excess <= 0 || c.col.shrinkTo === undefined) continue;
    const give = Math.min(excess, c.width - narrowest(c));
    if (give > 0) { c.width -= give; excess -= give; }
  }
  return chosen;
}

/** The filter line: what is sorted and shown, or the address being typed. */
function filterLine(v: ViewState, shown: number, total: number): string {
  if (v.typing !== undefined) return `address (Enter to apply, Esc to cancel): ${v.typing}_`;
  const filters = [v.scope !== 'all' ? v.scope : '', v.protocol !== 'all' ? v.protocol : '', v.address ? `address ~ ${v.address}` : ''].filter(Boolean);
  return `sort: ${v.sort}  filter: ${filters.length ? filters.join(', ') : 'none'}  (${shown} of ${total} sessions)`;
}

const KEYS_HELP = 'keys: r rate  b bytes  p packets  i internet/LAN  t protocol  / address  c clear  q quit';

/**
 * The lines of one screen, each at most `width` characters and at most
 * `height` of them: the header (title, interfaces, sort and filter) on top, the
 * table's header, as many session rows as fit, the keys at the bottom.
 */
export function drawScreen(f: Frame, v: ViewState, width: number, height: number): string[] {
  const w = Math.max(width, 1), h = Math.max(height, 1);
  const sessions = pickSessions(f, v);
  const where = f.dashboard ? `${' '.repeat(GAP)}${f.dashboard}` : '';
  const footer = f.error ? `flowlens: ${f.error}` : KEYS_HELP.length + where.length <= w ? KEYS_HELP + where : KEYS_HELP;
  // firing alerts above the keys: two at most, the rest counted, so the table keeps its rows
  const alerts = f.alerts ?? [];
  const alertLines = alerts.length > 2 ? [alerts[0]!, `${alerts.length - 1} more alerts firing (flowlens alerts)`] : [...alerts];
  // the title and the filter line first; interfaces as room allows (a screen keeps 3 rows for the table)
  const ifaceRoom = Math.max(0, h - 6 - alertLines.length);
  const header = [f.title, ...f.interfaces.slice(0, ifaceRoom), filterLine(v, sessions.length, f.sessions.length)];
  const rowRoom = Math.max(0, h - header.length - 2 - alertLines.length);
  const rows = sessions.slice(0, rowRoom);
  const cells = rows.map((x) => COLUMNS.map((c) => c.cell(x, f)));
  const columns = fitColumns(cells, v, w);
  const line = (texts: string[]) => columns.map((c, i) => {
    const text = cut(texts[i]!, c.width);
    return c.col.right ? text.padStart(c.width) : text.padEnd(c.width);
  }).join(' '.repeat(GAP)).trimEnd();
  const screen = [...header, line(columns.map((c) => c.col.name)), ...cells.map((r) => line(columns.map((c) => r[c.index]!)))];
  // the keys on the last line when there is room for them
  if (screen.length < h) {
    while (screen.length < h - 1 - alertLines.length) screen.push('');
    screen.push(...alertLines.slice(0, Math.max(0, h - 1 - screen.length)), footer);
  }
  return screen.slice(0, h).map((l) => cut(l, w));
}

/** Today's plain text of one interval (stdout is not a terminal): the whole table. */
export function plainFrame(f: Frame, top: number): string {
  const live = pickSessions(f, INITIAL_VIEW).slice(0, top);
  const rows = live.map((x) => COLUMNS.filter((c) => c.name !== 'PKTS').map((c) => c.cell(x, f)));
  const names = COLUMNS.filter((c) => c.name !== 'PKTS').map((c) => c.name);
  return [f.title, ...f.interfaces, '', table(names, rows, [6, 7, 8]), '', 'Ctrl-C to stop'].join('\n');
}

/** What a key does to the view; `quit` for q and Ctrl-C. */
export function pressKey(v: ViewState, key: string): ViewState | 'quit' {
  if (key === '\x03') return 'quit';
  if (v.typing !== undefined) {
    if (key === '\r' || key === '\n') return { ...v, address: v.typing.trim(), typing: undefined };
    if (key === '\x1b') return { ...v, typing: undefined };
    if (key === '\x7f' || key === '\b') return { ...v, typing: v.typing.slice(0, -1) };
    // printable characters only (addresses, names): escape sequences are ignored
    return /^[\x20-\x7e]+$/.test(key) ? { ...v, typing: v.typing + key } : v;
  }
  const cycle = <T>(list: readonly T[], now: T): T => list[(list.indexOf(now) + 1) % list.length]!;
  switch (key) {
    case 'q': case 'Q': return 'quit';
    case 'r': return { ...v, sort: 'rate' };
    case 'b': return { ...v, sort: 'bytes' };
    case 'p': return { ...v, sort: 'packets' };
    case 'i': return { ...v, scope: cycle(['all', 'internet', 'lan'] as const, v.scope) };
    case 't': return { ...v, protocol: cycle(['all', 'tcp', 'udp', 'icmp'] as const, v.protocol) };
    case '/': return { ...v, typing: '' };
    case 'c': return { ...INITIAL_VIEW, sort: v.sort };
    default: return v;
  }
}

/**
 * The live view on a terminal. `start()` switches to the alternate screen and
 * reads keys; `stop()` (also run on process exit) gives the terminal back as
 * it was: main screen, cursor shown, keys echoed.
 */
export class TerminalView {
  private state: ViewState = INITIAL_VIEW;
  private frame: Frame | undefined;
  private active = false;
  private readonly errors: string[] = [];
  /** The alerts firing now, by id: their line. */
  private readonly firing = new Map<number, string>();
  private dashboard: string | undefined;
  private readonly restoreOnExit = () => this.restore();
  private readonly onResize = () => this.draw();
  private readonly onData = (data: Buffer) => this.keys(data.toString('utf8'));

  constructor(private readonly out: NodeJS.WriteStream, private readonly input: NodeJS.ReadStream, private readonly quit: () => void) {}

  start(): void {
    this.active = true;
    process.once('exit', this.restoreOnExit);
    // alternate screen, cursor hidden, screen cleared
    this.out.write('\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J');
    this.out.on('resize', this.onResize);
    if (this.input.isTTY) {
      this.input.setRawMode(true);
      this.input.on('data', this.onData);
      this.input.resume();
    }
  }

  show(frame: Frame): void {
    this.frame = frame;
    this.draw();
  }

  /** The dashboard's address, shown after the keys. */
  showDashboard(url: string): void {
    this.dashboard = url;
    this.draw();
  }

  /** An alert's news: a firing one stays on screen until it resolves. */
  alert(id: number, line: string | undefined): void {
    if (line === undefined) this.firing.delete(id);
    else this.firing.set(id, line);
    this.draw();
  }

  /** Errors are shown in the view's last line and printed again after it closes. */
  error(message: string): void {
    if (!this.errors.includes(message)) this.errors.push(message);
    if (this.errors.length > 20) this.errors.shift();
    if (this.frame) this.show({ ...this.frame, error: message });
    else if (!this.active) process.stderr.write(`flowlens: ${message}\n`);
  }

  /** Leaves the alternate screen; returns the errors met meanwhile. */
  stop(): string[] {
    this.restore();
    return this.errors.splice(0);
  }

  private restore(): void {
    if (!this.active) return;
    this.active = false;
    process.off('exit', this.restoreOnExit);
    this.out.off('resize', this.onResize);
    if (this.input.isTTY) {
      this.input.off('data', this.onData);
      this.input.setRawMode(false);
      this.input.pause();
    }
    this.out.write('\x1b[?25h\x1b[?1049l');
  }

  private keys(data: string): void {
    // a paste or a fast typist sends several keys at once; an escape sequence (arrow keys) is one key
    const keys = data.startsWith('\x1b') && data.length > 1 ? [data] : [...data];
    for (const key of keys) {
      const next = pressKey(this.state, key);
      if (next === 'quit') return this.quit();
      this.state = next;
    }
    this.draw();
  }

  private draw(): void {
    if (!this.active || !this.frame) return;
    const frame = { ...this.frame, dashboard: this.dashboard, alerts: [...this.firing.values()] };
    const lines = drawScreen(frame, this.state, this.out.columns || 80, this.out.rows || 24);
    // every line at its row over a cleared row (clearing after a full-width line would
    // erase its last character), then the rest of the screen: no flicker, no scroll
    let text = '';
    lines.forEach((l, i) => { text += `\x1b[${i + 1};1H\x1b[2K${l}`; });
    if (lines.length < (this.out.rows || 24)) text += `\x1b[${lines.length + 1};1H\x1b[J`;
    this.out.write(text);
  }
}
