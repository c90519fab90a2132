/**
 * The TypeScript decoder reads records at the offsets of layout.gen.ts; the
 * addon reports the offsets its C compiler used. They must agree, or every
 * number would be silently wrong: refuse to start instead.
 */
import * as gen from './layout.gen.js';
import { FlowlensError } from '../errors.js';
import type { Addon } from '../native/binding.js';

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const pascal = (s: string) => camel(s).replace(/^./, (c) => c.toUpperCase());

/** Differences between the addon's layout and layout.gen.ts (empty: they agree). */
export function layoutDrift(layout: Addon['layout']): string[] {
  const drift: string[] = [];
  const generated = gen as unknown as Record<string, Record<string, number>>;
  for (const [name, s] of Object.entries(layout)) {
    if (name === 'constants') continue;
    const g = generated[pascal(name)];
    if (!g) { drift.push(`struct ${name} is not in layout.gen.ts`); continue; }
    if (g.size !== s.size) drift.push(`sizeof(struct ${name}) is ${s.size}, layout.gen.ts says ${g.size}`);
    for (const [field, off] of Object.entries(s.fields)) {
      if (g[camel(field)] !== off) drift.push(`offsetof(${name}, ${field}) is ${off}, layout.gen.ts says ${g[camel(field)]}`);
    }
    for (const field of Object.keys(g)) {
      if (field !== 'size' && !Object.keys(s.fields).map(camel).includes(field)) drift.push(`${name}.${field} is gone from bpf/flow.h`);
    }
  }
  for (const [k, v] of Object.entries(layout.constants)) {
    if ((gen as unknown as Record<string, number>)[k] !== v) drift.push(`${k} is ${v}, layout.gen.ts says ${(gen as unknown as Record<string, number>)[k]}`);
  }
  return drift;
}

export function checkLayout(layout: Addon['layout']): void {
  const drift = layoutDrift(layout);
  if (drift.length) {
    throw new FlowlensError('FLOW_ERR_LAYOUT', `the addon and the decoder disagree on the record layout:\n  ${drift.join('\n  ')}`,
      'rebuild and regenerate: npm run build');
  }
}
