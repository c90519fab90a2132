/**
 * Why a talker is "unknown": a domain, country or network that flowlens could
 * not name says what is missing and what to do, from the status (names on or
 * off, names learned so far, the geo databases loaded).
 */
export interface HintStatus {
  namesEnabled: boolean;
  dnsAnswers: number;
  tlsHellos: number;
  /** Roles of the loaded geo databases: country, city, asn. */
  geoDatabases: string[];
}

/** The hint for the "unknown" row of a dimension, or null when the dimension has none. */
export function unknownHint(dimension: string, s: HintStatus | null | undefined): string | null {
  if (!s) return null;
  if (dimension === 'domain') {
    if (!s.namesEnabled) return 'names are off: turn names.enabled on to learn them from DNS answers and TLS server names';
    if (s.dnsAnswers + s.tlsHellos === 0) return 'no DNS answer or TLS server name seen yet: names come from those crossing the counted interfaces';
    return 'no DNS answer or TLS server name seen for these addresses (encrypted DNS, or looked up before flowlens started)';
  }
  if (dimension === 'asn') {
    return s.geoDatabases.includes('asn') ? 'not in the ASN database' : 'no ASN database configured: set geo.asn to an ASN .mmdb file (docs/geo.md)';
  }
  if (dimension === 'country') {
    return s.geoDatabases.includes('country') || s.geoDatabases.includes('city')
      ? 'not in the country database' : 'no country database configured: set geo.country (docs/geo.md)';
  }
  return null;
}
