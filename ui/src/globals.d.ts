/** flowlens' version (package.json), fixed when the dashboard is built. */
declare const __FLOWLENS_VERSION__: string;
