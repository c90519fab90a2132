/**
 * An "unknown" domain, country or network says why (ui/src/lib/unknown-hint.ts):
 * names off, none learned yet, or none for these addresses; no ASN or country
 * database configured (and where to set one), or not in it.
 */
import t from 'tap';
import { unknownHint } from '../../ui/src/lib/unknown-hint.js';

const base = { namesEnabled: true, dnsAnswers: 0, tlsHellos: 0, geoDatabases: [] as string[] };

t.test('domains', async (t) => {
  t.match(unknownHint('domain', { ...base, namesEnabled: false }), /^names are off: turn names\.enabled on/);
  t.match(unknownHint('domain', base), /^no DNS answer or TLS server name seen yet/);
  t.match(unknownHint('domain', { ...base, dnsAnswers: 3 }), /seen for these addresses \(encrypted DNS/);
  t.match(unknownHint('domain', { ...base, tlsHellos: 1 }), /seen for these addresses/);
});

t.test('networks and countries', async (t) => {
  t.equal(unknownHint('asn', base), 'no ASN database configured: set geo.asn to an ASN .mmdb file (docs/geo.md)');
  t.equal(unknownHint('asn', { ...base, geoDatabases: ['country', 'asn'] }), 'not in the ASN database');
  t.equal(unknownHint('country', { ...base, geoDatabases: ['asn'] }), 'no country database configured: set geo.country (docs/geo.md)');
  t.equal(unknownHint('country', { ...base, geoDatabases: ['city'] }), 'not in the country database', 'a city database names countries too');
});

t.test('no hint elsewhere, or before the status is known', async (t) => {
  t.equal(unknownHint('ip', base), null);
  t.equal(unknownHint('port', base), null);
  t.equal(unknownHint('domain', null), null);
});
