/**
 * `flowlens sessions`: the sessions a running flowlens sees now (its last
 * flush), or with --ended the session log — filtered, sorted, a page at a time.
 */
import { FlowlensError } from '../errors.js';
import type { SessionFilter, SessionPage, SessionSort } from '../store/index.js';
import { endpoint, formatBits, formatBytes, table } from './format.js';
import { sessionRate } from '../store/sessions.js';
import { localTime, oneOf, outputFormat, positiveInteger, printJson, STORE_OPTIONS, STORE_USAGE, withStore, type CliCommand, type Values } from './store-options.js';

const SORTS = ['lastSeen', 'firstSeen', 'bytes', 'packets', 'rate'] as const;

function filterOf(v: Values): SessionFilter {
  const f: SessionFilter = {};
  if (v.addr !== undefined) f.addr = String(v.addr);
  if (v.port !== undefined) {
    const text = String(v.port);
    if (!/^\d+$/.test(text)) throw new FlowlensError('FLOW_ERR_USAGE', `--port must be a number from 0 to 65535, not "${text}"`);
    f.port = Number(text);
  }
  if (v.proto !== undefined) f.protocol = String(v.proto);
  if (v.iface !== undefined) f.iface = String(v.iface);
  const scope = oneOf(v.scope, '--scope', ['internet', 'lan'] as const);
  if (scope) f.scope = scope;
  if (v.country !== undefined) f.country = String(v.country);
  if (v.asn !== undefined) f.asn = String(v.asn);
  if (v.domain !== undefined) f.domain = String(v.domain);
  return f;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Where the remote end is: country and AS for the internet, "LAN" for the local network. */
function where(s: SessionPage['sessions'][number]): string {
  if (s.scope === 'lan') return 'LAN';
  return [s.country, s.asn !== undefined ? `AS${s.asn}` : undefined].filter(Boolean).join(' ');
}

function sessionsTable(p: SessionPage): string {
  const rows = p.sessions.map((s) => [
    s.protocolName, endpoint(s.local, s.localPort, s.protocol), s.initiator === 'local' ? '→' : '←', endpoint(s.remote, s.remotePort, s.protocol),
    s.domain ?? '', where(s),
    formatBytes(s.bytesUp), formatBytes(s.bytesDown), formatBits(8 * sessionRate(s)), localTime(s.firstSeen), duration(s.lastSeen - s.firstSeen),
    // the end reason only where it says more than the state ("closed", not "closed (closed)")
    p.source === 'ended' && s.endReason && s.endReason !== s.state ? `${s.state} (${s.endReason})` : s.state,
  ]);
  const head = p.source === 'live'
    ? `active sessions as of ${p.at !== null ? localTime(p.at) : '-'} (${p.sessions.length} shown)`
    : `ended sessions (${p.sessions.length} shown)`;
  const more = p.nextCursor ? `\nmore: add --cursor ${p.nextCursor}` : '';
  const empty = p.sessions.length ? '' : `\n${p.source === 'live' ? 'no active sessions' : 'no ended sessions match'}${p.source === 'live' && p.at === null ? ': flowlens run has not written any yet' : ''}`;
  return `${head}\n${table(['proto', 'local', '', 'remote', 'domain', 'where', 'up', 'down', 'rate', 'first seen', 'duration', 'state'], rows, [6, 7, 8])}${more}${empty}\n`;
}

export const sessionsCli: CliCommand = {
  summary: 'active sessions of the running flowlens, or the session log (--ended)',
  usage: `flowlens sessions [--ended [--from D --to D]] [filters] [--sort S] [--limit N] [options]

Without --ended: the sessions the running flowlens saw active at its last flush.

Filters (combine; each narrows):
  --addr A            an address or CIDR prefix, either end (10.0.0.0/8, 2001:db8::/32)
  --port N            either end's port
  --proto P           tcp, udp, icmp, ... or a protocol number
  --iface X  --scope internet|lan  --country CC  --asn N|ASN  --domain NAME (and its subdomains)

  --ended             the session log (ended sessions) instead
  --from D / --to D   with --ended: sessions that overlap these local dates (inclusive): YYYY-MM-DD,
                      YYYY-MM, YYYY-MM-DDTHH, today, yesterday, thismonth, lastmonth, thisyear,
                      lastyear, or -12h, -30d, -2w, -3mo, -1y
  --sort S            lastSeen (default), firstSeen, bytes, packets or rate (mean over the session's
                      life); largest / latest first
  --limit N           rows per page (default 50)
  --cursor C          the next page (printed under a full page)
${STORE_USAGE}`,
  options: {
    ...STORE_OPTIONS, ended: { type: 'boolean' }, from: { type: 'string' }, to: { type: 'string' }, addr: { type: 'string' },
    port: { type: 'string' }, proto: { type: 'string' }, iface: { type: 'string' }, scope: { type: 'string' }, country: { type: 'string' },
    asn: { type: 'string' }, domain: { type: 'string' }, sort: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' },
  },
  async main(v) {
    const format = outputFormat(v);
    const filter = filterOf(v);
    const sort: SessionSort = oneOf(v.sort, '--sort', SORTS) ?? 'lastSeen';
    const limit = positiveInteger(v.limit, '--limit', 50);
    if (!v.ended && (v.from !== undefined || v.to !== undefined)) throw new FlowlensError('FLOW_ERR_USAGE', '--from and --to need --ended', 'live sessions are the current ones; the log has the past');
    return withStore(v, (store) => {
      const page = store.sessions({
        source: v.ended ? 'ended' : 'live', filter, sort, limit,
        cursor: v.cursor as string | undefined, from: v.from as string | undefined, to: v.to as string | undefined,
      });
      if (format === 'json') printJson(page); else process.stdout.write(sessionsTable(page));
      return 0;
    });
  },
};
