/** The README's settings table is the one the settings table makes (npm run generate). */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { withSettings } from '../../src/config/doc.js';
import { SETTINGS } from '../../src/config/schema.js';
import { repoRoot } from '../../src/native/binding.js';

t.test('README settings table is current', async (t) => {
  const readme = readFileSync(`${repoRoot}/README.md`, 'utf8');
  t.equal(readme, withSettings(readme), 'run npm run generate after changing src/config/schema.ts');
  for (const s of SETTINGS) t.match(readme, `\`${s.key}\``, `${s.key} is documented`);
});
