/**
 * The analysis of capture files as one JSON-ready object: what
 * `flowlens analyze --format json` prints and the HTML report draws.
 */
import type { FlowlensConfig } from '../config/index.js';
import type { AnalysisSummary } from './summary.js';
import { MAX_RUN_FRAME, type FileReport, type OfflineSource } from './source.js';
import { linkTypeName } from './link.js';

export type AnalyzeFormat = 'table' | 'json' | 'ndjson';

export interface AnalyzeOptions {
  files: string[];
  format: AnalyzeFormat;
  top: number;
  report?: string;
  /** Where local came from, for the output. */
  local: { networks: string[]; source: 'flag' | 'settings' | 'private ranges' };
}

/** The analysis as `--format json` prints it (and the HTML report draws). */
export function analysisJson(summary: AnalysisSummary, files: readonly FileReport[], opts: AnalyzeOptions, source: OfflineSource, config: FlowlensConfig) {
  const status = source.status();
  return {
    type: 'analysis',
    files: files.map((f) => ({
      name: f.name, format: f.format, compressed: f.compressed, records: f.records, bytes: f.bytes, capturedBytes: f.capturedBytes,
      interfaces: f.interfaces.map((i) => ({ index: i.index, linkType: i.linkType, linkTypeName: linkTypeName(i.linkType), snapLen: i.snapLen, ...(i.name ? { name: i.name } : {}) })),
      comments: f.comments,
      ...(f.truncatedAt !== undefined ? { truncatedAt: f.truncatedAt } : {}),
      refused: { packets: f.refused, bytes: f.refusedBytes },
      tooLong: { packets: f.tooLong, bytes: f.tooLongBytes, limit: MAX_RUN_FRAME },
      padded: f.padded,
    })),
    local: opts.local,
    interval: config.collector.intervalMs,
    span: Number.isFinite(source.firstMs) ? { first: source.firstMs, last: source.lastMs } : null,
    totals: summary.totals,
    traffic: [...summary.traffic.values()],
    talkers: summary.topTalkers(opts.top),
    sessions: { ended: summary.sessionCount, top: summary.topSessions(opts.top) },
    flows: [...summary.flows.values()],
    series: summary.series,
    bpfErrors: status.bpfErrors,
    captures: { seen: status.captures, dropped: status.captureDrops },
  };
}

export type AnalysisJson = ReturnType<typeof analysisJson>;

