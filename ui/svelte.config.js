// Svelte options shared by Vite and svelte-check: components use runes and TypeScript.
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
};
