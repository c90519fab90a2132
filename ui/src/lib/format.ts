/**
 * Readable numbers for the dashboard. Units are decimal, as the terminal view
 * (src/cli/format.ts) prints them: 1 KB = 1000 B; rates are bits per second.
 * Times are shown in the flowlens host's time zone (lib/host-zone.ts finds
 * it), so "today" on the page is the host's today wherever the browser is.
 */

const BYTE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
const BIT_UNITS = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];

function scaled(n: number, units: string[]): string {
  if (!Number.isFinite(n)) return '–';
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  let i = 0;
  while (v >= 999.5 && i < units.length - 1) { v /= 1000; i++; }
  // three significant digits, counted after rounding (99.96 → "100", not "100.0")
  let digits = i === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  while (digits > 0 && Number(v.toFixed(digits)) >= 10 ** (3 - digits)) digits--;
  return `${sign}${v.toFixed(digits)} ${units[i]}`;
}

/** 1234567 → "1.23 MB". */
export function formatBytes(bytes: number): string {
  return scaled(bytes, BYTE_UNITS);
}

/** A byte rate shown as bits per second: 125000 B/s → "1.00 Mbit/s". */
export function formatRate(bytesPerSecond: number): string {
  return scaled(bytesPerSecond * 8, BIT_UNITS);
}

/** Short axis labels: "0", "500 KB", "1.5 GB". */
export function formatBytesShort(bytes: number): string {
  if (bytes === 0) return '0';
  return formatBytes(bytes).replace(/\.0+ /, ' ').replace(/(\.\d)0 /, '$1 ');
}

export function formatRateShort(bytesPerSecond: number): string {
  if (bytesPerSecond === 0) return '0';
  return formatRate(bytesPerSecond).replace(/\.0+ /, ' ').replace(/(\.\d)0 /, '$1 ');
}

/** 12345 → "12,345". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Share of a whole as a percentage with sensible precision: "42%", "3.4%", "<0.1%". */
export function formatShare(part: number, whole: number): string {
  if (whole <= 0 || part <= 0) return '0%';
  const p = (part / whole) * 100;
  if (p < 0.1) return '<0.1%';
  return p < 10 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}

/** Milliseconds as "850 ms", "42 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** "addr:port", with brackets around IPv6 addresses; no port for port-less protocols. */
export function formatEndpoint(addr: string, port: number, protocolName: string): string {
  const a = addr.includes(':') ? `[${addr}]` : addr;
  return protocolName === 'tcp' || protocolName === 'udp' || protocolName === 'sctp' || protocolName === 'udplite' ? `${a}:${port}` : a;
}
