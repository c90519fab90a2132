/**
 * The dashboard's build. Output goes to ui/dist, which the flowlens HTTP server
 * serves; `base: './'` keeps every asset URL relative, so the app works under
 * any path prefix (a reverse proxy) and with no network beyond the flowlens host.
 * `npx vite --config ui/vite.config.ts` serves it for development and forwards
 * /api to a running flowlens (FLOWLENS_API, default http://127.0.0.1:8080).
 */
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const api = process.env.FLOWLENS_API ?? 'http://127.0.0.1:8080';
// the dashboard ships inside flowlens: its version is flowlens' version
const version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [svelte()],
  define: { __FLOWLENS_VERSION__: JSON.stringify(version) },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // one small app: a single chunk loads faster than a waterfall of imports
    chunkSizeWarningLimit: 600,
    // the build is quick; rolldown's slow-plugin report is noise in scripts/build.sh
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  server: { proxy: { '/api': { target: api, ws: true } } },
});
