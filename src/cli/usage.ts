/**
 * `flowlens usage`: a billing cycle — use so far (internet and LAN, up and
 * down), the cap and its share, the projection to the cycle's end, days left,
 * the 95th percentile of 5-minute rates, and who used it (devices,
 * destinations, device × destination). Past cycles with --cycle -1, -2, ...
 */
import { FlowlensError } from '../errors.js';
import { loadConfig } from '../config/index.js';
import type { BillingConfig, Usage, UsageRow } from '../store/index.js';
import { formatBits, formatBytes, table } from './format.js';
import { outputFormat, positiveInteger, printJson, STORE_OPTIONS, STORE_USAGE, withStore, type CliCommand, type Values } from './store-options.js';

/** The billing settings as flowlens run reads them (file, environment), with this command's flags on top. */
function billingOf(v: Values): BillingConfig {
  const values = loadConfig({ file: v.config as string | undefined, flags: { 'cycle-start-day': v['cycle-start-day'], cap: v.cap, 'data-dir': v['data-dir'] } }).values;
  return {
    cycleStartDay: values.get('billing.cycleStartDay') as number,
    cap: values.get('billing.cap') as number | undefined,
    capScope: values.get('billing.capScope') as BillingConfig['capScope'],
    capDirection: values.get('billing.capDirection') as BillingConfig['capDirection'],
  };
}

/** --cycle: 0, -1, ... or a date inside the cycle. */
function whichCycle(v: string | boolean | undefined): { cycle?: number; date?: string } {
  if (v === undefined) return {};
  const text = String(v).trim();
  if (/^(0|-\d+)$/.test(text)) return { cycle: Number(text) };
  if (/^(\d{4}-\d{2}(-\d{2})?|today|yesterday)$/.test(text)) return { date: text };
  throw new FlowlensError('FLOW_ERR_USAGE', `--cycle must be 0 (the current cycle), a past one (-1, -2, ...) or a date in it (YYYY-MM-DD), not "${text}"`);
}

const pct = (share: number | null) => (share === null ? '' : `${(100 * share).toFixed(1)}%`);

function rows(title: string, list: UsageRow[]): string {
  if (!list.length) return `${title}: none\n`;
  return `${title}\n${table(['', 'up', 'down', 'total'], list.map((r, i) => [`${i + 1}. ${r.key}${r.label ? ` (${r.label})` : ''}`, formatBytes(r.bytesUp), formatBytes(r.bytesDown), formatBytes(r.bytes)]), [1, 2, 3])}\n`;
}

function render(u: Usage): string {
  const scope = u.capScope === 'internet' ? 'internet traffic' : 'all traffic';
  const direction = u.capDirection === 'both' ? 'up + down' : u.capDirection;
  const lines = [
    `billing cycle ${u.cycle.from} … ${u.cycle.to}${u.cycle.index ? ` (${-u.cycle.index} back)` : ''}${u.cycle.complete ? ', complete' : `, ${u.daysLeft} day${u.daysLeft === 1 ? '' : 's'} left`}`,
    `  internet   ${formatBytes(u.internet.total)} (up ${formatBytes(u.internet.up)}, down ${formatBytes(u.internet.down)})`,
    `  LAN        ${formatBytes(u.lan.total)}`,
    `  all        ${formatBytes(u.all.total)}`,
    `  counted    ${formatBytes(u.counted)} of ${scope}, ${direction}${u.cap ? ` — ${pct(u.capShare)} of the ${formatBytes(u.cap)} cap` : ' (no cap: set billing.cap or --cap)'}`,
  ];
  if (!u.cycle.complete) lines.push(`  projected  ${formatBytes(u.projected)} at the cycle's end (at the last 7 days' rate)${u.cap ? ` — ${pct(u.projectedShare)} of the cap${(u.projectedShare ?? 0) > 1 ? ': OVER' : ''}` : ''}`);
  lines.push(`  95th pct   up ${formatBits(u.p95.upBitsPerSecond)}, down ${formatBits(u.p95.downBitsPerSecond)} (billed: ${formatBits(u.p95.billedBitsPerSecond)}; ${u.p95.samples} ${u.p95.resolution === '5min' ? '5-minute' : '15-minute'} samples)`);
  if (u.all.total === 0) lines.push('  no traffic stored in this cycle');
  return `${lines.join('\n')}\n\n${rows('devices', u.devices)}\n${rows('destinations', u.destinations)}\n${rows('device → destination (from the session log)', u.pairs)}`;
}

export const usageCli: CliCommand = {
  summary: 'a billing cycle: use, cap, projection, 95th percentile, devices and destinations (from the store)',
  usage: `flowlens usage [--cycle 0|-1|...|DATE] [--cycle-start-day D] [--cap SIZE] [options]

  --cycle N|DATE      0: the current cycle (default); -1 the one before, and so on; or a
                      date in the cycle (YYYY-MM-DD)
  --cycle-start-day D day of the month cycles start on, 1-28 (default: billing.cycleStartDay, 1)
  --cap SIZE          data cap per cycle, e.g. 1TB (default: billing.cap; none)
  --limit N           rows of each breakdown (default 10)
${STORE_USAGE}`,
  options: { ...STORE_OPTIONS, cycle: { type: 'string' }, 'cycle-start-day': { type: 'string' }, cap: { type: 'string' }, limit: { type: 'string' } },
  async main(v) {
    const format = outputFormat(v);
    const billing = billingOf(v);
    const cycle = whichCycle(v.cycle);
    const limit = positiveInteger(v.limit, '--limit', 10);
    return withStore(v, (store) => {
      const u = store.usage(billing, { ...cycle, limit });
      if (format === 'json') printJson(u);
      else process.stdout.write(render(u));
      return 0;
    });
  },
};
