/** flowlens's version and the host's time zone, as the status APIs report them. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './native/binding.js';

let cached: string | undefined;

export function version(): string {
  if (cached === undefined) {
    try {
      cached = String(JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version ?? 'unknown');
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}

/** The IANA zone local dates are in (TZ, else the system's). */
export function timeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
}
