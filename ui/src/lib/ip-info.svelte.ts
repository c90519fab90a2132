/**
 * Country, network (ASN) and name of a remote address, for the top-talker
 * rows, which carry only the address and its name. The API's talker rows have
 * no geo fields, but every live session does: one session of the address
 * (limit 1) tells. Answers are cached for the page's life (an address's
 * country does not change while we look) and asked for once.
 */
import { api } from './endpoints';

export interface IpInfo {
  country: string;
  asn: number;
  asOrg: string;
  domain: string;
}

const known = $state<Record<string, IpInfo | null>>({});
const asked = new Set<string>();

/** The address's info, or undefined while unknown (a lookup starts in the background). */
export function ipInfo(ip: string): IpInfo | undefined {
  const v = known[ip];
  if (v !== undefined) return v ?? undefined;
  if (!asked.has(ip)) {
    asked.add(ip);
    api.sessions({ addr: ip }, '', 'bytes', '', 1)
      .then((page) => {
        const s = page.sessions.find((x) => x.remote === ip) ?? page.sessions[0];
        known[ip] = s ? { country: s.country, asn: s.asn, asOrg: s.asOrg, domain: s.domain } : null;
      })
      .catch(() => { asked.delete(ip); });
  }
  return undefined;
}
