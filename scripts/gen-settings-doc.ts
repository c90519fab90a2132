// Writes the settings tables into README.md and docs/influx.md (between their markers).
import { readFileSync, writeFileSync } from 'node:fs';
import { SETTINGS_DOCS, withSettings } from '../src/config/doc.js';

for (const [doc, prefix] of Object.entries(SETTINGS_DOCS)) {
  const file = new URL(`../${doc}`, import.meta.url);
  writeFileSync(file, withSettings(readFileSync(file, 'utf8'), prefix));
}
