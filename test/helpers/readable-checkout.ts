/**
 * Tests that run the CLI as an unprivileged user (nobody) need that user to
 * read the checkout: dist/, node_modules/, the addon and the BPF object. A root
 * user's clone often lives where nobody cannot enter (/root is 0700). Then the
 * checkout is bind-mounted onto a world-readable temporary directory for the
 * test's duration, and the unprivileged runs use that path: the same files, no
 * copy, nothing changed in the checkout or its parents.
 */
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../src/native/binding.js';

/** True when every user can reach and read `dir`: every ancestor searchable by others, the directory readable. */
export function readableByOthers(dir: string): boolean {
  if ((statSync(dir).mode & 0o005) !== 0o005) return false;
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * The checkout's path as other users can read it: repoRoot itself when they can,
 * else a bind mount made for this test (unmounted and removed at its end; needs root).
 */
export function readableCheckout(t: Test): string {
  if (readableByOthers(repoRoot)) return repoRoot;
  if (process.getuid?.() !== 0) throw new Error(`${repoRoot} is not readable by other users, and only root can make a readable view of it (mount --bind)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowlens-checkout-'));
  chmodSync(dir, 0o755);
  execFileSync('mount', ['--bind', repoRoot, dir]);
  t.teardown(() => {
    execFileSync('umount', [dir]);
    rmdirSync(dir);
  });
  return dir;
}
