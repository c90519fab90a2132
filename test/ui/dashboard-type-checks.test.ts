/**
 * The dashboard's Svelte components and modules type-check against the API's
 * generated message types (src/api/grpc/gen) with no warnings: a changed API
 * message or a component misuse fails here, not in a browser.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../src/native/binding.js';

t.test('svelte-check: no errors, no warnings', async (t) => {
  const bin = path.join(repoRoot, 'node_modules/.bin/svelte-check');
  const result = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(bin, ['--tsconfig', './ui/tsconfig.json', '--fail-on-warnings', '--output', 'machine'], { cwd: repoRoot, timeout: 240_000, maxBuffer: 16 << 20 }, (e, stdout, stderr) => {
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
  const problems = result.out.split('\n').filter((l) => / (ERROR|WARNING) /.test(l));
  t.same(problems, [], 'no problems reported');
  t.match(result.out, /COMPLETED \d+ FILES 0 ERRORS 0 WARNINGS/, 'svelte-check completed');
  t.equal(result.code, 0, 'exit 0');
});
