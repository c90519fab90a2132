/**
 * Small MaxMind DB files for tests: the writer is src/enrich/mmdb-writer.ts
 * (the demo uses it too); this adds a temporary directory per test.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Test } from 'tap';

export * from '../../src/enrich/mmdb-writer.js';

/** A directory for a test's database files, removed when the test ends. */
export function mmdbTempDir(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `flowlens-mmdb-${process.pid}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
