/**
 * Packet captures through a running flowlens: the parameters of a capture
 * request (filter, limits, format) as the JSON API, gRPC and `flowlens
 * capture` take them, checked in one place, and the captures running through
 * the API by id, so that a client can stop its own cleanly (the file then
 * ends with its statistics).
 */
import { randomUUID } from 'node:crypto';
import { FlowlensError } from '../errors.js';
import { parseDuration } from '../collector/config.js';
import { parseSize } from '../config/units.js';
import { CAPTURE_FORMATS, parseCaptureFilter, type CaptureFilter, type CaptureFormat, type CaptureResult, type RunningCapture } from '../capture/index.js';
import type { CaptureLimits } from '../capture/index.js';

/** The parameters of one capture, as text (query string, flags, a gRPC request). */
export interface CaptureParams {
  iface?: string;
  host?: string;
  net?: string;
  port?: string | number;
  proto?: string;
  session?: string;
  snaplen?: string | number;
  /** Frames, then stop. */
  count?: string | number;
  /** "30s", "500ms", "2m" or seconds. */
  duration?: string | number;
  /** "10MB", "64KiB" or bytes: the file stays within it. */
  maxSize?: string | number;
  /** pcapng (default) or pcap. */
  format?: string;
}

export interface CaptureSpec {
  filter: CaptureFilter;
  limits: CaptureLimits;
  format: CaptureFormat;
}

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);
const given = (v: unknown): boolean => v !== undefined && v !== '';

/** Checks a capture's parameters; a bad one is a FLOW_ERR_USAGE naming it. `flag` names them as flags (CLI) or parameters (API). */
export function captureSpec(p: CaptureParams, names: 'flags' | 'params' = 'flags'): CaptureSpec {
  const name = (n: string, flag: string) => (names === 'flags' ? flag : n);
  const opt = <T>(v: T | undefined | '') => (given(v) ? (v as T) : undefined);
  const filter = parseCaptureFilter({
    iface: opt(p.iface), host: opt(p.host), net: opt(p.net), port: opt(p.port), proto: opt(p.proto), session: opt(p.session), snaplen: opt(p.snaplen),
  });
  const limits: CaptureLimits = {};
  if (given(p.count)) {
    const n = typeof p.count === 'number' ? p.count : /^\s*\d+\s*$/.test(String(p.count)) ? Number(p.count) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw usage(`${name('count', '--count')} must be a positive whole number, not "${p.count}"`);
    limits.count = n;
  }
  if (given(p.duration)) {
    const ms = typeof p.duration === 'number' ? p.duration * 1000 : parseDuration(String(p.duration), name('duration', '--duration'));
    if (!(ms > 0)) throw usage(`${name('duration', '--duration')} must be longer than 0, not "${p.duration}"`);
    limits.durationMs = ms;
  }
  if (given(p.maxSize)) {
    const bytes = parseSize(p.maxSize);
    if (Number.isNaN(bytes)) throw usage(`${name('maxSize', '--max-size')} must be a size like 10MB, 512KiB or a number of bytes, not "${p.maxSize}"`);
    if (!(bytes >= 1024)) throw usage(`${name('maxSize', '--max-size')} must be at least 1024 bytes (the file's own headers need room), not "${p.maxSize}"`);
    limits.maxBytes = bytes;
  }
  const format = (opt(p.format) ?? 'pcapng') as CaptureFormat;
  if (!CAPTURE_FORMATS.includes(format)) throw usage(`${name('format', '--format')} must be ${CAPTURE_FORMATS.join(' or ')}, not "${p.format}"`);
  return { filter, limits, format };
}

/** The MIME type of a capture file. */
export function captureContentType(format: CaptureFormat): string {
  return format === 'pcap' ? 'application/vnd.tcpdump.pcap' : 'application/x-pcapng';
}

/** A file name for a download: flowlens-IFACE-20250102T030405Z.pcapng */
export function captureFileName(spec: CaptureSpec, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const iface = (spec.filter.iface ?? 'all').replace(/[^A-Za-z0-9_.-]/g, '_');
  return `flowlens-${iface}-${stamp}.${spec.format}`;
}

/** The captures running through the API, by id. */
export class CaptureRegistry {
  private readonly running = new Map<string, RunningCapture>();

  add(c: RunningCapture): string {
    const id = randomUUID();
    this.running.set(id, c);
    void c.done.then(() => this.running.delete(id));
    return id;
  }

  /** Stops one; undefined when no capture has that id (any more). */
  stop(id: string): Promise<CaptureResult> | undefined {
    return this.running.get(id)?.stop();
  }
}
