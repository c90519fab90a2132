/**
 * `flowlens analyze FILE...`: the answers of a live run, from capture files.
 * Every frame goes through the loaded BPF program (src/offline/source.ts),
 * then through the live control plane — the composition root with the
 * offline source as its collector (names from DNS answers and SNI, geo,
 * filters, sessions, talkers; the history store with --data-dir) — with the
 * file's timestamps as time. Output: a summary table (default), JSON, the
 * live NDJSON objects, and/or a self-contained HTML report.
 */
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FlowlensConfig } from '../config/index.js';
import { configFrom } from '../config/index.js';
import { FlowlensError } from '../errors.js';
import { TALKER_DIMENSIONS } from '../flows/types.js';

export type { AnalysisJson, AnalyzeOptions, AnalyzeFormat } from '../offline/analysis.js';
import { AnalysisSummary } from '../offline/summary.js';
import { OfflineSource, MAX_RUN_FRAME, type OfflineInput } from '../offline/source.js';
import { openInput } from '../offline/pcap-reader.js';
import { analysisJson, type AnalysisJson, type AnalyzeOptions } from '../offline/analysis.js';
import { endpoint, formatBytes, table } from './format.js';
import { flowLines, statsLines } from './run.js';
import { ProgressLine, analyzeProgress } from './progress.js';


/** The captures ring at least this big offline: a file's interval may hold many DNS answers (28k records). */
const OFFLINE_CAPTURE_RING = 16 << 20;
const INTERFACE_NAME = 'capture';


function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');
}

function fileNotes(f: AnalysisJson['files'][number]): string[] {
  const notes: string[] = [];
  if (f.truncatedAt !== undefined) notes.push(`  truncated: the file ends inside a record; read up to byte ${f.truncatedAt} (${f.records} whole records)`);
  if (f.tooLong.packets) notes.push(`  ${f.tooLong.packets} frames longer than the kernel's test run takes (${MAX_RUN_FRAME} bytes: jumbo frames or GRO super-packets) were not counted (${formatBytes(f.tooLong.bytes)})`);
  if (f.refused.packets) notes.push(`  ${f.refused.packets} frames shorter than an Ethernet header were not counted`);
  if (f.padded) notes.push(`  ${f.padded} records cut by the snap length were counted at their wire length`);
  for (const c of f.comments) notes.push(`  comment: ${c}`);
  return notes;
}

/** The default output: what a person reads first. */
export function summaryTable(j: AnalysisJson): string {
  const out: string[] = [];
  for (const f of j.files) {
    out.push(`${f.name}: ${f.format}${f.compressed ? ' (gzip)' : ''}, ${f.records} records, ${f.interfaces.map((i) => `${i.name ?? `interface ${i.index}`} ${i.linkTypeName}`).join(', ')}`);
  }
  for (const f of j.files) out.push(...fileNotes(f));
  out.push(j.span ? `time span: ${time(j.span.first)} — ${time(j.span.last)} (${((j.span.last - j.span.first) / 1000).toFixed(3)} s)` : 'time span: no packets');
  out.push(`local: ${j.local.source === 'private ranges' ? 'the private ranges (no --local and no networks.local setting)' : j.local.networks.join(', ')}`);
  const t = j.totals;
  out.push('', table(['TOTAL', 'PACKETS', 'BYTES'], [
    ['IP (L3 bytes)', String(t.packets), formatBytes(t.bytes)],
    ['non-IP', String(t.nonIpPackets), formatBytes(t.nonIpBytes)],
    ['malformed', String(t.malformedPackets), formatBytes(t.malformedBytes)],
    ...(t.overflowPackets ? [['overflow (no flow: raise --map-size)', String(t.overflowPackets), formatBytes(t.overflowBytes)]] : []),
  ], [1, 2]));
  out.push('', table(['DIRECTION', 'SCOPE', 'PACKETS', 'BYTES'], j.traffic.map((r) => [r.direction, r.scope, String(r.packets), formatBytes(r.bytes)]), [2, 3]));
  const titles: Record<string, string> = { proto: 'PROTOCOL', ip: 'REMOTE', host: 'LOCAL', port: 'SERVICE', country: 'COUNTRY', asn: 'ASN', domain: 'NAME' };
  for (const d of ['proto', ...TALKER_DIMENSIONS.filter((x) => x !== 'proto' && x !== 'device')] as const) {
    const cut = j.talkers[d];
    if (!cut.rows.length) continue;
    const rows = cut.rows.map((r) => [r.label && d !== 'domain' ? `${r.key} (${r.label})` : r.key || '(other)', formatBytes(r.bytesUp), formatBytes(r.bytesDown),
      String(r.packetsUp + r.packetsDown), String(r.connections), cut.total.bytes ? `${((r.bytes / cut.total.bytes) * 100).toFixed(1)}%` : '-']);
    if (cut.other.bytes || cut.other.packetsUp + cut.other.packetsDown) {
      rows.push(['(other)', formatBytes(cut.other.bytesUp), formatBytes(cut.other.bytesDown), String(cut.other.packetsUp + cut.other.packetsDown), String(cut.other.connections), `${((cut.other.bytes / cut.total.bytes) * 100).toFixed(1)}%`]);
    }
    out.push('', table([titles[d]!, 'UP', 'DOWN', 'PACKETS', 'SESSIONS', 'SHARE'], rows, [1, 2, 3, 4, 5]));
  }
  out.push('', `${j.sessions.ended} sessions; the largest:`);
  out.push(table(['PROTO', 'LOCAL', 'REMOTE', 'STATE', 'UP', 'DOWN', 'FIRST', 'LAST'], j.sessions.top.map((s) => [
    s.protocolName, endpoint(s.local, s.localPort, s.protocol), s.domain ? `${endpoint(s.remote, s.remotePort, s.protocol)} (${s.domain})` : endpoint(s.remote, s.remotePort, s.protocol),
    String(s.state), formatBytes(s.bytesUp), formatBytes(s.bytesDown), time(s.firstSeen).slice(11, 23), time(s.lastSeen).slice(11, 23),
  ]), [4, 5]));
  const errs = Object.entries(j.bpfErrors).filter(([, n]) => n);
  if (errs.length) out.push('', `BPF program errors: ${errs.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (j.captures.dropped) out.push(`${j.captures.dropped} DNS answers / TLS hellos were not read (the captures ring was full): names may be missing`);
  return `${out.join('\n')}\n`;
}

export async function analyze(config: FlowlensConfig, opts: AnalyzeOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { Flowlens } = await import('../compose.js');
  const { preflight } = await import('../system/preflight.js');
  const summary = new AnalysisSummary();
  const inputs = function* (): Iterable<OfflineInput> {
    for (const f of opts.files) {
      let size: number | undefined;
      if (f !== '-') {
        try {
          size = statSync(f).size;
        } catch (e) {
          throw new FlowlensError('FLOW_ERR_CAPTURE_FILE', `cannot open ${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
        }
      }
      const input = openInput(f);
      yield { name: input.name, stream: input.stream, size };
    }
  };
  let source: OfflineSource | undefined;
  const flowlens = new Flowlens(config, {
    collector: {
      check: () => preflight(),
      open: () => (source = new OfflineSource({
        intervalMs: config.collector.intervalMs, mapEntries: config.collector.mapEntries,
        captureRingBytes: config.collector.captureRingBytes ? Math.max(config.collector.captureRingBytes, OFFLINE_CAPTURE_RING) : 0,
        iface: INTERFACE_NAME,
      }, inputs)),
    },
    hostAddresses: () => [],
    // a capture file's devices come from its DHCP requests: this host's neighbour table is not the file's
    neighbours: () => [],
  });
  const ndjson = opts.format === 'ndjson';
  const write = (lines: string[]) => { if (lines.length) out.write(`${lines.join('\n')}\n`); };
  flowlens.monitor.on('stats', (s, iv) => {
    summary.add(s, iv);
    if (ndjson) {
      const lines: string[] = [];
      flowLines(iv, lines, flowlens.monitor.processor.filteredInLatest);
      statsLines(s, opts.top, lines);
      write(lines);
    }
  });
  flowlens.monitor.on('shutdown', (ended) => {
    summary.ended(ended);
    if (ndjson) write(ended.map((e) => JSON.stringify({ type: 'session', ...e })));
  });
  const errors: Error[] = [];
  // on a terminal: packets, bytes, rate and ETA, redrawn in place and erased at the end
  const progress = new ProgressLine(process.stderr);
  flowlens.monitor.on('error', (e) => {
    if (e instanceof FlowlensError) return;
    progress.clear();
    process.stderr.write(`flowlens: ${e.message}\n`);
  });
  const startedAt = Date.now();
  await flowlens.start();
  source!.on('progress', (p) => progress.update(() => analyzeProgress({ ...p, file: path.basename(p.file), elapsedMs: Date.now() - startedAt })));
  try {
    await source!.finished();
  } catch (e) {
    errors.push(e as Error);
  }
  progress.clear();
  await flowlens.stop();
  if (errors.length) throw errors[0];
  const j = analysisJson(summary, source!.files, opts, source!, config);
  for (const f of source!.files) {
    if (f.truncatedAt !== undefined) process.stderr.write(`flowlens: ${f.name} is truncated: analyzed up to byte ${f.truncatedAt}, the last whole record\n`);
  }
  if (opts.format === 'json') out.write(`${JSON.stringify(j)}\n`);
  else if (opts.format === 'table') out.write(summaryTable(j));
  else write([JSON.stringify(j)]);
  if (opts.report) {
    const { htmlReport } = await import('../offline/report.js');
    writeFileSync(opts.report, htmlReport(j));
    process.stderr.write(`flowlens: report written to ${opts.report}\n`);
  }
  return 0;
}

/** Parses the flags of `flowlens analyze` into the configuration and options. */
export function analyzeSetup(v: Record<string, string | boolean | undefined>, files: string[]): { config: FlowlensConfig; opts: AnalyzeOptions } {
  if (!files.length) throw new FlowlensError('FLOW_ERR_USAGE', 'name at least one capture file (or - for stdin)', 'see flowlens analyze --help');
  if (files.filter((f) => f === '-').length > 1) throw new FlowlensError('FLOW_ERR_USAGE', 'stdin (-) can be read only once');
  const format = (v.format as string | undefined) ?? 'table';
  if (format !== 'table' && format !== 'json' && format !== 'ndjson') throw new FlowlensError('FLOW_ERR_USAGE', `--format must be table, json or ndjson, not "${format}"`);
  const top = v.top !== undefined ? Number(v.top) : 10;
  if (!Number.isInteger(top) || top < 1) throw new FlowlensError('FLOW_ERR_USAGE', `--top must be a positive integer, not "${v.top}"`);
  const { local, format: _f, top: _t, report: _r, config: file, ...flags } = v;
  if (local !== undefined) flags['local-networks'] = String(local);
  const config = configFrom({ file: file as string | undefined, flags });
  const localSource = local !== undefined ? 'flag' : config.loaded.sources.get('networks.local') && config.loaded.sources.get('networks.local') !== 'default' ? 'settings' : 'private ranges';
  // offline: nothing listens, nothing goes to InfluxDB; the history only where --data-dir says
  config.api.enabled = false;
  config.influx = undefined;
  config.history.enabled = v['data-dir'] !== undefined;
  // a capture's minutes and sessions are old by today's date: keep them unless the settings say otherwise
  const forever = 1_000_000; // days: ~2700 years
  if (config.loaded.sources.get('history.minuteDays') === 'default') config.history.minuteRetentionDays = forever;
  if (config.loaded.sources.get('history.sessionLogDays') === 'default') config.history.sessionLogDays = forever;
  return {
    config,
    opts: { files, format, top, ...(v.report ? { report: String(v.report) } : {}), local: { networks: config.networks.local, source: localSource } },
  };
}
