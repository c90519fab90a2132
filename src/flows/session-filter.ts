/**
 * The session filter language, once: what `--addr/--port/--protocol/...`, the
 * JSON API's and gRPC's session filters mean. A filter is checked and
 * normalised once (prepare), then used as a predicate over ended session
 * records and live sessions (matches), or turned into SQL by the store.
 */
import { FlowlensError } from '../errors.js';
import { cidrRange } from '../net/address-bytes.js';
import { CidrSet } from '../net/cidr.js';
import { protocolName } from '../net/protocols.js';
import type { Scope } from './types.js';

export interface SessionFilter {
  /** An address or CIDR prefix; matches the local or the remote end. */
  addr?: string;
  /** Matches the local or the remote port. */
  port?: number;
  /** "tcp", "udp", ... or the IP protocol number. */
  protocol?: string | number;
  iface?: string;
  scope?: Scope;
  /** ISO 3166 code, as in SessionRecord.country. */
  country?: string;
  /** 15169 or "AS15169". */
  asn?: number | string;
  /** A name or a parent domain: "example.com" matches "www.example.com". */
  domain?: string;
}

/** A filter checked and normalised once, usable as SQL and as a predicate. */
export interface Prepared {
  addr?: { text: string; range: [Buffer, Buffer]; set: CidrSet };
  port?: number;
  protocol?: number | string;
  iface?: string;
  scope?: string;
  country?: string;
  asn?: number;
  domain?: string;
}

/** The fields a filter reads: a SessionRecord has them, a live session too (labels apart). */
export interface FilterFields {
  iface: string;
  protocol: number;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  scope: Scope;
}

/** The remote's labels a filter reads (a SessionRecord carries them itself, a live session in `labels`). */
export interface FilterLabels {
  country?: string;
  asn?: number;
  domain?: string;
}

const usage = (message: string, hint?: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);

export function prepare(f: SessionFilter = {}): Prepared {
  const p: Prepared = {};
  if (f.addr !== undefined) p.addr = { text: f.addr, range: cidrRange(f.addr, 'addr'), set: new CidrSet([f.addr], 'addr') };
  if (f.port !== undefined) {
    const port = typeof f.port === 'string' && /^\d+$/.test(f.port) ? Number(f.port) : f.port;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(`port must be a number from 0 to 65535, not "${f.port}"`);
    p.port = port;
  }
  if (f.protocol !== undefined) {
    const text = String(f.protocol).trim().toLowerCase();
    if (/^\d+$/.test(text) && Number(text) <= 255) p.protocol = Number(text);
    else if (/^[a-z][a-z0-9-]*$/.test(text)) p.protocol = text;
    else throw usage(`protocol must be a name like tcp or a number from 0 to 255, not "${f.protocol}"`);
  }
  if (f.iface !== undefined) p.iface = f.iface;
  if (f.scope !== undefined) {
    if (f.scope !== 'internet' && f.scope !== 'lan') throw usage(`scope must be internet or lan, not "${f.scope}"`);
    p.scope = f.scope;
  }
  if (f.country !== undefined) p.country = f.country.toUpperCase();
  if (f.asn !== undefined) {
    const m = /^(?:AS)?(\d+)$/i.exec(String(f.asn).trim());
    if (!m) throw usage(`asn must be a number like 15169 or AS15169, not "${f.asn}"`);
    p.asn = Number(m[1]);
  }
  if (f.domain !== undefined) {
    const d = f.domain.trim().toLowerCase().replace(/\.$/, '');
    if (!d) throw usage('domain must not be empty');
    p.domain = d;
  }
  return p;
}

/** Whether a filter needs the addresses or labels (not only the cheap numeric fields a live query keeps in columns). */
export function needsLabelsOrAddresses(p: Prepared): boolean {
  return p.addr !== undefined || p.country !== undefined || p.asn !== undefined || p.domain !== undefined;
}

export function matches(p: Prepared, s: FilterFields, labels: FilterLabels): boolean {
  if (p.addr && !p.addr.set.has(s.local) && !p.addr.set.has(s.remote)) return false;
  if (p.port !== undefined && s.localPort !== p.port && s.remotePort !== p.port) return false;
  if (typeof p.protocol === 'number' && s.protocol !== p.protocol) return false;
  if (typeof p.protocol === 'string' && protocolName(s.protocol) !== p.protocol) return false;
  if (p.iface !== undefined && s.iface !== p.iface) return false;
  if (p.scope !== undefined && s.scope !== p.scope) return false;
  if (p.country !== undefined && (labels.country ?? '').toUpperCase() !== p.country) return false;
  if (p.asn !== undefined && labels.asn !== p.asn) return false;
  if (p.domain !== undefined) {
    const d = (labels.domain ?? '').toLowerCase();
    if (d !== p.domain && !d.endsWith(`.${p.domain}`)) return false;
  }
  return true;
}

/** Protocol numbers whose name (protocolName) is `name`. */
export function protocolsNamed(name: string): Set<number> {
  const out = new Set<number>();
  for (let n = 0; n < 256; n++) if (protocolName(n) === name) out.add(n);
  return out;
}
