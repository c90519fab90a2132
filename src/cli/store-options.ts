/**
 * What the history commands (history, top, sessions) share: --config,
 * --data-dir and --format, opening the store read-only beside a running
 * flowlens, and how local times are printed.
 */
import type { ParseArgsConfig } from 'node:util';
import { FlowlensError } from '../errors.js';
import { DEFAULT_CONFIG_FILE, loadConfig, settingDefault } from '../config/index.js';
import { Store } from '../store/index.js';

export type Values = Record<string, string | boolean | undefined>;
export type Options = NonNullable<ParseArgsConfig['options']>;

/** A command of src/cli.ts's COMMANDS table. */
export interface CliCommand {
  summary: string;
  usage: string;
  options: Options;
  main(values: Values): Promise<number>;
}

export const STORE_OPTIONS: Options = { config: { type: 'string' }, 'data-dir': { type: 'string' }, format: { type: 'string' } };

export const STORE_USAGE = `  --config FILE       the configuration flowlens run reads, for its dataDir (default ${DEFAULT_CONFIG_FILE}) [FLOWLENS_CONFIG]
  --data-dir DIR      the data directory flowlens run writes (default: the configuration's dataDir,
                      else ${settingDefault<string>('dataDir')}) [FLOWLENS_DATA_DIR]
  --format FMT        table (default) or json`;

export function outputFormat(v: Values): 'table' | 'json' {
  const format = (v.format as string | undefined) ?? 'table';
  if (format !== 'table' && format !== 'json') throw new FlowlensError('FLOW_ERR_USAGE', `--format must be table or json, not "${format}"`);
  return format;
}

/** The data directory as flowlens run finds it: --data-dir, FLOWLENS_DATA_DIR, the configuration file, the default. */
export function dataDir(v: Values): string {
  return loadConfig({ file: v.config as string | undefined, flags: { 'data-dir': v['data-dir'] } }).values.get('dataDir') as string;
}

/** The store, read-only: safe while flowlens run writes it. */
export function openStore(v: Values): Store {
  return Store.openReadOnly({ dataDir: dataDir(v) });
}

/** Runs fn with the store open, closing it after. */
export function withStore<T>(v: Values, fn: (store: Store) => T): T {
  const store = openStore(v);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export function positiveInteger(v: string | boolean | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const text = String(v).trim();
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new FlowlensError('FLOW_ERR_USAGE', `${flag} must be a positive whole number, not "${text}"`);
  return Number(text);
}

/** One of `allowed`, or a usage error naming the flag. */
export function oneOf<T extends string>(v: string | boolean | undefined, flag: string, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(String(v))) throw new FlowlensError('FLOW_ERR_USAGE', `${flag} must be ${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}, not "${String(v)}"`);
  return v as T;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** "2026-03-08 14:05:09" in local time. */
export function localTime(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The zone days are counted in, for table headers. */
export function zoneName(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'local time';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * What a table of a range with no traffic says instead of silent zeros: a range that
 * lies in the future, or where the history has data at all.
 */
export function emptyRangeNote(from: number, to: number, bytes: number, recorded: { first: string | null; last: string | null }, now = Date.now()): string {
  if (bytes > 0) return '';
  if (from > now) return `this range is in the future (it starts ${localTime(from)}): nothing counted yet\n`;
  if (!recorded.first) return 'no traffic recorded yet in this history\n';
  return `no traffic recorded in this range (the history has traffic from ${recorded.first} to ${recorded.last})\n`;
}
