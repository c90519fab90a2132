/**
 * `flowlens history`: traffic by hour, day or month from the store, vnStat's
 * way — a table of periods with up, down and total, or the same as JSON.
 */
import { FlowlensError } from '../errors.js';
import { GRANULARITIES, type Granularity } from '../store/time.js';
import type { History, Summary, TrafficFilter } from '../store/index.js';
import { formatBytes, table } from './format.js';
import { emptyRangeNote, oneOf, outputFormat, printJson, STORE_OPTIONS, STORE_USAGE, withStore, zoneName, type CliCommand, type Values } from './store-options.js';

function filterOf(v: Values): TrafficFilter {
  const f: TrafficFilter = {};
  if (v.iface !== undefined) f.iface = String(v.iface);
  const scope = oneOf(v.scope, '--scope', ['internet', 'lan', 'unknown'] as const);
  if (scope) f.scope = scope;
  const direction = oneOf(v.direction, '--direction', ['up', 'down'] as const);
  if (direction) f.direction = direction;
  return f;
}

function describe(f: TrafficFilter): string {
  const parts = [f.iface ? `interface ${f.iface}` : 'all interfaces', f.scope ?? 'all scopes'];
  if (f.direction) parts.push(`${f.direction} only`);
  return parts.join(', ');
}

function historyTable(h: History, f: TrafficFilter): string {
  const unit = h.granularity;
  const rows = h.buckets.map((b) => [unit === 'hour' ? b.label.replace('T', ' ') : b.label, formatBytes(b.up), formatBytes(b.down), formatBytes(b.total)]);
  rows.push(['total', formatBytes(h.total.up), formatBytes(h.total.down), formatBytes(h.total.total)]);
  const head = `${describe(f)} — by ${unit}, ${h.buckets[0].label.slice(0, 10)} … ${h.buckets[h.buckets.length - 1].label.slice(0, 10)} (${zoneName()})`;
  return `${head}\n${table([unit, 'up', 'down', 'total'], rows, [1, 2, 3])}\n`;
}

function summaryTable(s: Summary, f: TrafficFilter): string {
  const rows = (['today', 'month', 'year'] as const).map((k) => [k === 'today' ? `today (${s[k].label})` : k === 'month' ? `this month (${s[k].label})` : `this year (${s[k].label})`,
    formatBytes(s[k].up), formatBytes(s[k].down), formatBytes(s[k].total)]);
  return `${describe(f)} (${zoneName()})\n${table(['period', 'up', 'down', 'total'], rows, [1, 2, 3])}\n`;
}

export const historyCli: CliCommand = {
  summary: 'traffic history by hour, day or month (from the store flowlens run writes)',
  usage: `flowlens history [--from D] [--to D] [--by hour|day|month] [--scope internet|lan] [--iface X] [options]
flowlens history --summary [--scope S] [--iface X]

Dates are local: YYYY-MM-DD, YYYY-MM, YYYY-MM-DDTHH, today, yesterday, thismonth, lastmonth,
thisyear, lastyear, or relative: -12h, -30d, -2w, -3mo, -1y (that many hours, days, weeks,
months or years before the current one); --from and --to are inclusive. Without them: the last 30 days (--by day), today (--by hour), the last 12 months
(--by month). Every period of the range is listed, empty ones as 0.

Options:
  --from D / --to D   the range (--to defaults to today, --from to --to)
  --by UNIT           hour, day (default) or month
  --scope S           internet, lan or unknown (counted while the flow table was full)
  --iface X           one interface
  --direction D       up or down only
  --summary           today, this month and this year
${STORE_USAGE}`,
  options: {
    ...STORE_OPTIONS, from: { type: 'string' }, to: { type: 'string' }, by: { type: 'string' }, scope: { type: 'string' },
    iface: { type: 'string' }, direction: { type: 'string' }, summary: { type: 'boolean' },
  },
  async main(v) {
    const format = outputFormat(v);
    const f = filterOf(v);
    const by: Granularity = oneOf(v.by, '--by', GRANULARITIES) ?? 'day';
    if (v.summary && (v.from !== undefined || v.to !== undefined || v.by !== undefined)) {
      throw new FlowlensError('FLOW_ERR_USAGE', '--summary takes no --from, --to or --by', 'it always shows today, this month and this year');
    }
    return withStore(v, (store) => {
      if (v.summary) {
        const s = store.summary(f);
        if (format === 'json') printJson(s); else process.stdout.write(summaryTable(s, f));
        return 0;
      }
      let h: History;
      if (v.from === undefined && v.to === undefined) {
        h = by === 'day' ? store.last30Days(f) : by === 'hour' ? store.todayByHour(f) : store.last12Months(f);
      } else {
        const to = (v.to as string | undefined) ?? 'today';
        h = store.history({ ...f, granularity: by, from: (v.from as string | undefined) ?? to, to });
      }
      if (format === 'json') printJson(h); else process.stdout.write(historyTable(h, f) + emptyRangeNote(h.from, h.to, h.total.total, store.dateRange()));
      return 0;
    });
  },
};
