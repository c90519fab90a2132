/**
 * The control plane's dependency graph: every import in src/ goes to the same
 * layer or a lower one, and no module imports itself back through others
 * (type-only imports included: they are the coupling that matters to a reader).
 * Layers, lowest first — the order of the packet path in DESIGN.md, with the
 * settings table below the components that take their defaults from it and the
 * assembled configuration above them.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/native/binding.js';

const LAYERS: string[][] = [
  ['errors.ts', 'version.ts', 'component.ts', 'native/', 'system/'],
  ['net/'],
  ['collector/', 'capture/'],
  ['flows/'],
  ['enrich/'],
  ['config/schema.ts', 'config/load.ts', 'config/problems.ts', 'config/units.ts', 'config/doc.ts'],
  ['store/', 'sinks/', 'alerts/'],
  ['config/'],
  ['offline/'],
  ['monitor.ts'],
  ['api/'],
  ['compose.ts', 'demo/'],
  ['cli/', 'cli.ts'],
];

const src = path.join(repoRoot, 'src');

function layerOf(file: string): number {
  // the most specific prefix wins (config/schema.ts before config/)
  let best = -1, bestLength = -1;
  LAYERS.forEach((prefixes, layer) => {
    for (const p of prefixes) if ((file === p || file.startsWith(p)) && p.length > bestLength) { best = layer; bestLength = p.length; }
  });
  return best;
}

function modules(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'gen' ? [] : modules(full);
    return e.name.endsWith('.ts') ? [path.relative(src, full)] : [];
  });
}

const files = modules(src);
const imports = new Map<string, string[]>();
for (const f of files) {
  const text = fs.readFileSync(path.join(src, f), 'utf8');
  const targets = [...text.matchAll(/^(?:import|export)\b[^'"]*?from '(\.{1,2}\/[^']+)'/gm)]
    .map((m) => path.relative(src, path.resolve(path.dirname(path.join(src, f)), m[1]!)).replace(/\.js$/, '.ts'))
    .filter((x) => !x.startsWith('api/grpc/gen/'));
  imports.set(f, targets);
}

t.test('every module has a layer', async (t) => {
  t.same(files.filter((f) => layerOf(f) < 0), [], 'no module outside the layers');
});

t.test('imports go to the same layer or lower', async (t) => {
  const upward: string[] = [];
  for (const [f, targets] of imports) {
    for (const x of targets) if (layerOf(x) > layerOf(f)) upward.push(`${f} → ${x}`);
  }
  t.same(upward, [], 'no upward import');
});

t.test('no import cycles', async (t) => {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const x of imports.get(f) ?? []) {
      if (state.get(x) === 'open') cycles.push([...stack.slice(stack.indexOf(x)), x].join(' → '));
      else if (!state.has(x) && imports.has(x)) visit(x);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  t.same(cycles, [], 'no cycle');
});
