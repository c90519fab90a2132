/** Human-readable units and names shared by the terminal views. */

export { protocolName, tcpFlagNames } from '../net/protocols.js';

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatBits(bitsPerSecond: number): string {
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];
  let n = bitsPerSecond, i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${i === 0 ? Math.round(n) : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

/** "addr:port", with brackets around IPv6 addresses. */
export function endpoint(addr: string, port: number, protocol: number): string {
  const a = addr.includes(':') ? `[${addr}]` : addr;
  return protocol === 6 || protocol === 17 ? `${a}:${port}` : a;
}

/** Left-aligned table with a header row. */
export function table(header: string[], rows: string[][], rightAlign: number[] = []): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((cell, c) => (rightAlign.includes(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
