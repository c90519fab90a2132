/**
 * What the flows stage asks about a session's remote end (flows' Enrichment):
 * its place from the geo databases and its name from what the names table
 * learned (the TLS server name of this very connection first: on a shared CDN
 * address it is the only exact answer; else a DNS answer for the address),
 * and about its local end: the device it belongs to.
 */
import type { Enrichment } from '../flows/processor.js';
import type { RemoteLabels } from '../flows/sessions.js';
import type { GeoInfo } from './geo.js';

/** The part of the names table (names.ts) that labelling needs. */
export interface NameSource {
  nameOf(addr: string, now?: number, at?: number): string | undefined;
  sniOf(client: string, clientPort: number, server: string, serverPort: number): string | undefined;
}

/** The part of the geo databases (geo.ts: GeoLookup, GeoComponent) that labelling needs. */
export interface PlaceSource {
  lookup(addr: string): GeoInfo;
}

/** The part of the device table (devices.ts: DeviceTable) that labelling needs. */
export interface DeviceSource {
  talkerOf(address: string): { mac?: string; label?: string };
}

export class RemoteEnrichment implements Enrichment {
  constructor(private readonly geo?: PlaceSource, private readonly names?: NameSource, private readonly devices?: DeviceSource) {}

  /** The local end's device (its MAC and name), for the device talkers. */
  device(local: string): { mac?: string; label?: string } {
    return this.devices?.talkerOf(local) ?? {};
  }

  place(remote: string): Omit<RemoteLabels, 'domain'> {
    const g = this.geo?.lookup(remote);
    if (!g) return {};
    const out: Omit<RemoteLabels, 'domain'> = {};
    if (g.country) out.country = g.country;
    if (g.city) out.city = g.city;
    if (g.asn !== undefined) out.asn = g.asn;
    if (g.asOrg) out.asOrg = g.asOrg;
    return out;
  }

  /** `firstSeen`: the session's first packet; a DNS name must have been learned by then (NameTable.nameOf). */
  domain(local: string, localPort: number, remote: string, remotePort: number, _protocol?: number, firstSeen?: number): string | undefined {
    if (!this.names) return undefined;
    return this.names.sniOf(local, localPort, remote, remotePort) ?? this.names.nameOf(remote, undefined, firstSeen);
  }
}
