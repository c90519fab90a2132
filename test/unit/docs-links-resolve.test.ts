/**
 * Every relative link in README.md and docs/*.md points at a file or directory
 * that exists (a link to a section of a file counts the file; web addresses and
 * in-page anchors are not checked). Also the bare `docs/NAME.md` and `bench/NAME.ts`
 * the prose names, which readers follow as they would a link.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/native/binding.js';

const files = ['README.md', ...readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

t.test('relative links and named files resolve', async (t) => {
  for (const file of files) {
    const text = readFileSync(path.join(repoRoot, file), 'utf8').replace(/```[\s\S]*?```/g, '');
    const targets = new Set<string>();
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) targets.add(m[1]);
    for (const m of text.matchAll(/^\[[^\]]+\]:\s*(\S+)/gm)) targets.add(m[1]);
    const broken: string[] = [];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
      const rel = decodeURIComponent(target.split('#')[0]);
      if (!existsSync(path.resolve(repoRoot, path.dirname(file), rel))) broken.push(target);
    }
    // prose names repository files in backquotes: `docs/x.md`, `bench/x.ts`
    for (const m of text.matchAll(/`((?:docs|bench|deploy)\/[\w./-]+\.(?:md|ts|yaml|yml|json|service))`/g)) {
      if (!existsSync(path.join(repoRoot, m[1]))) broken.push(m[1]);
    }
    t.same(broken, [], `${file}: every link resolves`);
  }
});
