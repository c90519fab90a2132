/** Human-readable units and names shared by the terminal views. */

export { protocolName, tcpFlagNames } from '../net/protocols.js';

export { formatBits, formatBytes } from '../config/units.js';

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
