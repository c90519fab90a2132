/**
 * Tests that need the kernel (BPF, namespaces) call requireKernel(t) first.
 * Without root they skip with a reason; when FLOWLENS_REQUIRE_KERNEL=1 (set by
 * scripts/test.sh when run as root, so always in CI) a missing privilege is a
 * failure instead: a kernel test that silently skips proves nothing.
 */
import type { Test } from 'tap';
import { missingCapabilities } from '../../src/system/preflight.js';

export function requireKernel(t: Test): boolean {
  const missing = missingCapabilities();
  if (missing.length === 0) return true;
  const why = `needs root or ${missing.join(', ')}`;
  if (process.env.FLOWLENS_REQUIRE_KERNEL === '1') t.fail(`kernel test cannot run: ${why}`);
  else t.skip(why, () => undefined);
  return false;
}
