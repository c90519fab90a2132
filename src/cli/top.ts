/**
 * `flowlens top`: the largest talkers of one dimension over a date range (the
 * hourly top-N tables) or of the last flush window of a running flowlens (--live),
 * with an "other" row and the total, so the column adds up.
 */
import { FlowlensError } from '../errors.js';
import { TALKER_DIMENSIONS, TALKER_SCOPES } from '../flows/types.js';
import type { TalkerTotal } from '../store/index.js';
import { TALKER_DIRECTIONS } from '../store/direction.js';
import { formatBytes, table } from './format.js';
import { loadConfig, parseDeviceSettings } from '../config/index.js';
import { DeviceTable } from '../enrich/devices.js';
import { emptyRangeNote, localTime, oneOf, outputFormat, positiveInteger, printJson, STORE_OPTIONS, STORE_USAGE, withStore, type CliCommand } from './store-options.js';

const KEY_TITLE: Record<string, string> = { ip: 'remote address', host: 'local address', port: 'service', proto: 'protocol', country: 'country', asn: 'AS', domain: 'domain', device: 'device (MAC)' };

function share(part: number, total: number): string {
  return total > 0 ? `${((100 * part) / total).toFixed(1)}%` : '-';
}

function topTable(dimension: string, title: string, rows: TalkerTotal[], other: TalkerTotal, total: TalkerTotal): string {
  const line = (name: string, label: string, r: TalkerTotal) => [name, label, formatBytes(r.bytesUp), formatBytes(r.bytesDown), formatBytes(r.bytes), share(r.bytes, total.bytes), String(r.connections)];
  const body = rows.map((r, i) => line(`${i + 1}. ${r.key}`, r.label ?? '', r));
  body.push(line('other', '', other), line('total', '', total));
  return `${title}\n${table([KEY_TITLE[dimension], dimension === 'asn' ? 'organisation' : dimension === 'ip' ? 'name' : dimension === 'host' || dimension === 'device' ? 'device' : '', 'up', 'down', 'total', 'share', 'connections'], body, [2, 3, 4, 5, 6])}\n`;
}

export const topCli: CliCommand = {
  summary: 'top talkers by address, service, protocol, country, AS, domain or device (from the store)',
  usage: `flowlens top --by ip|host|port|proto|country|asn|domain|device [--from D --to D | --live] [options]

  --by DIM            ip (remote addresses), host (local addresses), port (services), proto,
                      country, asn, domain or device (the local end's MAC: all its addresses
                      in one row, named as it was called then; an address without a known
                      MAC is its own row)
  --from D / --to D   local dates, inclusive (YYYY-MM-DD, YYYY-MM, YYYY-MM-DDTHH, today,
                      yesterday, thismonth, lastmonth, thisyear, lastyear, -12h, -30d, -2w,
                      -3mo, -1y; default today). Talkers are kept per hour: in a zone whose
                      offset is not a whole hour the range widens to whole UTC hours (shown)
  --live              the last flush window of the running flowlens instead
  --scope S           internet or lan: only that traffic's talkers (default: all)
  --direction D       up or down: that direction's bytes, ranked by them (default: both)
  --limit N           rows (default 10); the rest are summed as "other"
${STORE_USAGE}`,
  options: { ...STORE_OPTIONS, by: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, live: { type: 'boolean' }, limit: { type: 'string' }, scope: { type: 'string' }, direction: { type: 'string' } },
  async main(v) {
    const format = outputFormat(v);
    if (v.by === undefined) throw new FlowlensError('FLOW_ERR_USAGE', '--by is required', `one of ${TALKER_DIMENSIONS.join(', ')}`);
    const dimension = oneOf(v.by, '--by', TALKER_DIMENSIONS)!;
    const limit = positiveInteger(v.limit, '--limit', 10);
    const scope = oneOf(v.scope, '--scope', TALKER_SCOPES) ?? '';
    const direction = oneOf(v.direction, '--direction', TALKER_DIRECTIONS) ?? '';
    const scoped = (scope ? ` (${scope === 'lan' ? 'LAN' : 'internet'} traffic)` : '') + (direction ? ` (${direction} only)` : '');
    if (v.live && (v.from !== undefined || v.to !== undefined)) throw new FlowlensError('FLOW_ERR_USAGE', '--live takes no --from or --to');
    return withStore(v, (store) => {
      const labelHosts = (rows: TalkerTotal[]) => {
        if (dimension !== 'host') return;
        const devices = new DeviceTable({ settings: parseDeviceSettings(loadConfig({ file: v.config as string | undefined }).values.get('devices')) });
        devices.restore(store.loadDevices());
        for (const r of rows) r.label ??= devices.labelOf(r.key);
      };
      if (v.live) {
        const live = store.liveTop({ dimension, scope, direction, limit });
        if (!live) throw new FlowlensError('FLOW_ERR_STORE', 'no live data: flowlens run has not written any yet', 'start flowlens run with this --data-dir; it writes on every flush');
        labelHosts(live.rows);
        if (format === 'json') printJson(live);
        else process.stdout.write(topTable(dimension, `top ${dimension}${scoped} — live, ${localTime(live.from)} … ${localTime(live.to)}`, live.rows, live.other, live.total));
        return 0;
      }
      const to = (v.to as string | undefined) ?? 'today';
      const top = store.topTalkers({ dimension, scope, direction, limit, from: (v.from as string | undefined) ?? to, to });
      labelHosts(top.rows);
      if (format === 'json') printJson(top);
      else process.stdout.write(topTable(dimension, `top ${dimension}${scoped} — ${localTime(top.from)} … ${localTime(top.to)}`, top.rows, top.other, top.total)
        + emptyRangeNote(top.from, top.to, top.total.bytes, store.dateRange()));
      return 0;
    });
  },
};
