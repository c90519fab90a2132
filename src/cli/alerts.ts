/**
 * `flowlens alerts`: the alerts flowlens run raised (from the data directory it
 * writes), filtered by range, state and kind; and the silences: list, add
 * (written to the same database: the running flowlens reads them at its next
 * interval), remove.
 */
import { FlowlensError } from '../errors.js';
import { openForReading, openForWriting, type Db } from '../store/schema.js';
import { AlertStore, listAlerts, listSilences } from '../alerts/store.js';
import { ALERT_KINDS, type Alert } from '../alerts/types.js';
import { parseDateArg } from '../store/time.js';
import { parseSettingDuration } from '../config/units.js';
import { table } from './format.js';
import { dataDir, localTime, oneOf, outputFormat, positiveInteger, printJson, STORE_OPTIONS, STORE_USAGE, type CliCommand, type Values } from './store-options.js';

const usage = (m: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', m, hint);

function withDb<T>(v: Values, write: boolean, fn: (db: Db) => T): T {
  const db = write ? openForWriting(dataDir(v)) : openForReading(dataDir(v));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function value(a: Alert): string {
  const n = a.value >= 1e6 ? `${(a.value / 1e6).toFixed(1)}M` : a.value >= 1e4 ? `${(a.value / 1e3).toFixed(1)}k` : String(Math.round(a.value * 10) / 10);
  return `${n} ${a.unit}`;
}

function alertsTable(alerts: Alert[]): string {
  if (!alerts.length) return 'no alerts\n';
  const rows = alerts.map((a) => [String(a.id), a.state, a.severity, a.kind, localTime(a.start), a.end ? localTime(a.end) : '-', value(a), a.summary]);
  const lines = [table(['ID', 'STATE', 'SEVERITY', 'KIND', 'START', 'END', 'VALUE', 'SUMMARY'], rows, [0])];
  for (const a of alerts.filter((x) => x.contributors.length)) {
    lines.push(`\n#${a.id} contributors:`);
    for (const c of a.contributors) lines.push(`  ${c.source}${c.target ? ` → ${c.target}` : ''}${c.service ? ` ${c.service}` : ''}  ${c.bytes} B  ${c.packets} packets`);
  }
  return `${lines.join('\n')}\n`;
}

/** "victim=10.0.0.2,kind=port-scan" → {victim: "10.0.0.2", kind: "port-scan"} */
function matchOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i < 1) throw usage(`--silence: "${part}" is not field=value`, 'for example --silence victim=10.0.0.2 or --silence rule=wan-download');
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export const alertsCli: CliCommand = {
  summary: 'alerts raised by flowlens run (rules, quotas, scans, floods); silences',
  usage: `flowlens alerts [--state firing|pending|resolved] [--kind KIND] [--from D] [--to D] [--limit N] [options]
flowlens alerts --silences
flowlens alerts --silence FIELD=VALUE[,FIELD=VALUE] --for DUR --reason TEXT
flowlens alerts --unsilence ID

Kinds: ${ALERT_KINDS.join(', ')}. A silence matches rule, kind or any subject field
(victim, attacker, host, iface, ...); silenced alerts are kept but not notified.

Options:
  --state S / --kind K  only these
  --from D / --to D     alerts active in this range (local dates as flowlens history takes them)
  --limit N             rows (default 50)
${STORE_USAGE}`,
  options: {
    ...STORE_OPTIONS, state: { type: 'string' }, kind: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' },
    silences: { type: 'boolean' }, silence: { type: 'string' }, for: { type: 'string' }, reason: { type: 'string' }, unsilence: { type: 'string' },
  },
  async main(v) {
    const format = outputFormat(v);
    const now = Date.now();
    if (v.silence !== undefined) {
      if (v.for === undefined || v.reason === undefined) throw usage('--silence needs --for DUR and --reason TEXT');
      const ms = parseSettingDuration(String(v.for));
      if (!Number.isFinite(ms) || ms <= 0) throw usage(`--for must be a duration like 2h, not "${String(v.for)}"`);
      const s = withDb(v, true, (db) => new AlertStore(db, Number.MAX_SAFE_INTEGER).addSilence(matchOf(String(v.silence)), now + ms, String(v.reason), now));
      if (format === 'json') printJson(s);
      else process.stdout.write(`silence ${s.id} until ${localTime(s.until)}\n`);
      return 0;
    }
    if (v.unsilence !== undefined) {
      const id = positiveInteger(v.unsilence, '--unsilence', 0);
      const removed = withDb(v, true, (db) => new AlertStore(db, Number.MAX_SAFE_INTEGER).removeSilence(id));
      if (!removed) throw usage(`no silence ${id}`, 'flowlens alerts --silences lists them');
      process.stdout.write(`silence ${id} removed\n`);
      return 0;
    }
    if (v.silences) {
      const list = withDb(v, false, (db) => listSilences(db, now));
      if (format === 'json') printJson({ silences: list });
      else process.stdout.write(list.length ? `${table(['ID', 'UNTIL', 'MATCH', 'REASON'], list.map((s) => [String(s.id), localTime(s.until), Object.entries(s.match).map(([k, x]) => `${k}=${x}`).join(','), s.reason]), [0])}\n` : 'no silences\n');
      return 0;
    }
    const state = oneOf(v.state, '--state', ['pending', 'firing', 'resolved'] as const);
    const kind = oneOf(v.kind, '--kind', ALERT_KINDS);
    const from = v.from !== undefined ? parseDateArg(String(v.from), '--from', 'start', now) : undefined;
    const to = v.to !== undefined ? parseDateArg(String(v.to), '--to', 'end', now) : undefined;
    const alerts = withDb(v, false, (db) => listAlerts(db, {
      ...(state ? { state } : {}), ...(kind ? { kind } : {}), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}),
      limit: positiveInteger(v.limit, '--limit', 50),
    }));
    if (format === 'json') printJson({ alerts });
    else process.stdout.write(alertsTable(alerts));
    return 0;
  },
};
