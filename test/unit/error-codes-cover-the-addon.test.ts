/**
 * Every error code the native addon can throw is one the TypeScript side
 * knows (FlowlensErrorCode), so a caller's switch over codes cannot miss one.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CODES } from '../../src/errors.js';
import { repoRoot } from '../../src/native/binding.js';

t.test('the addon throws only codes of the TypeScript union', async (t) => {
  const dir = path.join(repoRoot, 'native/src');
  const thrown = new Set<string>();
  for (const f of fs.readdirSync(dir).filter((f) => /\.(c|cc|h)$/.test(f))) {
    // quoted codes only: bpf/flow.h's FLOW_ERR_PROBE_LIMIT... are counter names, FLOW_ERR__COUNT their count
    for (const m of fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/"(FLOW_ERR_[A-Z]+(?:_[A-Z]+)*)"/g)) thrown.add(m[1]!);
  }
  t.ok(thrown.size >= 8, `codes found in the addon's source (${[...thrown].join(', ')})`);
  for (const code of thrown) t.ok((ERROR_CODES as readonly string[]).includes(code), `${code} is in FlowlensErrorCode`);
});
