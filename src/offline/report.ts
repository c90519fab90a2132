import type { AnalysisJson } from '../cli/analyze.js';
export function htmlReport(j: AnalysisJson): string {
  return `<!doctype html><pre>${JSON.stringify(j.totals)}</pre>`;
}
