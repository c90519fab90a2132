/** The README's (and docs/influx.md's) settings table is the one the settings table makes (npm run generate). */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { SETTINGS_DOCS, withSettings } from '../../src/config/doc.js';
import { SETTINGS } from '../../src/config/schema.js';
import { repoRoot } from '../../src/native/binding.js';

t.test('README settings table is current', async (t) => {
  const readme = readFileSync(`${repoRoot}/README.md`, 'utf8');
  t.equal(readme, withSettings(readme), 'run npm run generate after changing src/config/schema.ts');
  for (const s of SETTINGS) t.match(readme, `\`${s.key}\``, `${s.key} is documented`);
});

t.test('docs/influx.md lists every influx setting, generated', async (t) => {
  const doc = readFileSync(`${repoRoot}/docs/influx.md`, 'utf8');
  t.equal(SETTINGS_DOCS['docs/influx.md'], 'influx.');
  t.equal(doc, withSettings(doc, 'influx.'), 'run npm run generate after changing src/config/schema.ts');
  for (const s of SETTINGS.filter((x) => x.key.startsWith('influx.'))) t.match(doc, `| \`${s.key}\` |`, `${s.key} is in its table`);
});
