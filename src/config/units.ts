/**
 * The friendly forms of durations and sizes in settings ("10s", "1h", "32MiB"):
 * parsed here once for every setting (load.ts), and written back the same way
 * in messages and in the README's table.
 */
import { parseDuration } from '../collector/config.js';

/** "500ms", "10s", "2m", "1h" or a bare number of seconds → ms; NaN when it is none of them. */
export function parseSettingDuration(text: string): number {
  // the collector's parser (also --interval's and --duration's) knows ms, s and m; settings also take hours
  const hours = /^\s*(\d+(?:\.\d+)?)h\s*$/.exec(text);
  try {
    return hours ? Number(hours[1]) * 3_600_000 : parseDuration(text, 'duration');
  } catch {
    return NaN;
  }
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3,
  t: 1e12, tb: 1e12, tib: 1024 ** 4, p: 1e15, pb: 1e15, pib: 1024 ** 5,
};

/** 1048576, "1048576", "32MiB", "64 MB" → bytes (whole); NaN when it is none of them. */
export function parseSize(v: unknown): number {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(v));
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  return m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
}

/** 100 → "100ms", 10000 → "10s", 120000 → "2m", 3600000 → "1h". */
export function durationText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** 65536 → "64KiB", 33554432 → "32MiB"; other numbers as they are. */
export function sizeText(bytes: number): string {
  for (const [unit, n] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return String(bytes);
}

/** Bytes for people: 1000-based, 3 significant digits (the terminal views, alert summaries). */
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
