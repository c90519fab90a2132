// Writes the settings table into README.md (between its markers).
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettings } from '../src/config/doc.js';

const file = new URL('../README.md', import.meta.url);
writeFileSync(file, withSettings(readFileSync(file, 'utf8')));
