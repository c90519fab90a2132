import type { AnalysisJson } from './analysis.js';
export function htmlReport(j: AnalysisJson): string {
  return `<!doctype html><pre>${JSON.stringify(j.totals)}</pre>`;
}
