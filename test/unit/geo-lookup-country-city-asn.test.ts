/**
 * GeoLookup (src/enrich/geo.ts) against databases the test writes: the
 * GeoIP2/GeoLite2 layout and the flat @ip-location-db layout, IPv4 and IPv6;
 * private addresses answered without a lookup; unknown addresses; files that
 * are missing, compressed, not an mmdb or damaged; the cache bound; the
 * bundled default; and a database replaced on disk.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { BUNDLED_ATTRIBUTION, GeoLookup, type GeoReloadEvent } from '../../src/enrich/geo.js';
import { CidrSet, PRIVATE_RANGES } from '../../src/net/cidr.js';
import { double, encodeValue, float, mmdbTempDir, uint16, writeMmdb, type MmdbNetwork } from '../helpers/mmdb-writer.js';

const privateRanges = new CidrSet(PRIVATE_RANGES);
const isPrivate = (a: string): boolean => privateRanges.has(a);

/** Documentation prefixes (RFC 5737, RFC 3849) stand in for internet addresses. */
const GEOLITE2_CITY: MmdbNetwork[] = [
  {
    cidr: '198.51.100.0/24',
    record: {
      city: { geoname_id: 2950159, names: { de: 'Berlin', en: 'Berlin', ja: 'ベルリン' } },
      continent: { code: 'EU', names: { en: 'Europe' } },
      country: { iso_code: 'DE', names: { de: 'Deutschland', en: 'Germany' } },
      location: { accuracy_radius: uint16(20), latitude: double(52.5196), longitude: double(13.4069), time_zone: 'Europe/Berlin' },
      registered_country: { iso_code: 'DE', names: { en: 'Germany' } },
    },
  },
  {
    cidr: '2001:db8:100::/40',
    record: {
      city: { names: { en: 'Tokyo' } },
      country: { iso_code: 'JP', names: { en: 'Japan' } },
      location: { latitude: double(35.6893), longitude: double(139.6899) },
    },
  },
  // Only the registration country is known (an anycast range, say).
  { cidr: '192.0.2.0/25', record: { registered_country: { iso_code: 'US', names: { en: 'United States' } } } },
  // A city database also covers private space here, so that an answer for it proves a lookup happened.
  { cidr: '10.0.0.0/8', record: { country: { iso_code: 'XX', names: { en: 'Leaked' } } } },
];

const GEOLITE2_ASN: MmdbNetwork[] = [
  { cidr: '198.51.100.0/25', record: { autonomous_system_number: 64500, autonomous_system_organization: 'Example Transit GmbH' } },
  { cidr: '2001:db8::/32', record: { autonomous_system_number: 64501, autonomous_system_organization: 'Example IPv6 KK' } },
  { cidr: '10.0.0.0/8', record: { autonomous_system_number: 64999, autonomous_system_organization: 'Leaked' } },
];

/** Records as the @ip-location-db dbip-city-mmdb package has them (float32 coordinates, "" for unknown). */
const FLAT_CITY: MmdbNetwork[] = [
  { cidr: '203.0.113.0/24', record: { city: 'Sydney', country_code: 'AU', latitude: float(-33.8688), longitude: float(151.209), postcode: '', state1: 'New South Wales', state2: '', timezone: '' } },
  { cidr: '2001:db8:200::/40', record: { city: '', country_code: 'BR', latitude: float(-23.5475), longitude: float(-46.6361), postcode: '', state1: '', state2: '', timezone: '' } },
];
const FLAT_COUNTRY: MmdbNetwork[] = [
  { cidr: '203.0.113.0/24', record: { country_code: 'NZ' } },
  { cidr: '198.18.0.0/15', record: { country_code: 'CH' } },
];
const FLAT_ASN: MmdbNetwork[] = [
  { cidr: '203.0.113.0/26', record: { autonomous_system_number: 65010, autonomous_system_organization: 'Example Pty Ltd' } },
];

function files(t: Test): { write: (name: string, nets: MmdbNetwork[], ipVersion?: 4 | 6) => string; dir: string } {
  const dir = mmdbTempDir(t);
  return {
    dir,
    write: (name, nets, ipVersion = 6) => {
      const file = path.join(dir, name);
      writeMmdb(file, nets, { ipVersion, databaseType: name.replace(/\.mmdb$/, ''), buildEpoch: Date.UTC(2026, 10, 17) / 1000 });
      return file;
    },
  };
}

async function open(t: Test, ...args: Parameters<typeof GeoLookup.open>): Promise<GeoLookup> {
  const geo = await GeoLookup.open(...args);
  t.teardown(() => geo.close());
  return geo;
}

t.test('GeoLite2 layout: country, city, coordinates and ASN for IPv4 and IPv6', async (t) => {
  const f = files(t);
  const geo = await open(t, { city: f.write('GeoLite2-City.mmdb', GEOLITE2_CITY), asn: f.write('GeoLite2-ASN.mmdb', GEOLITE2_ASN) }, isPrivate);
  t.strictSame(geo.lookup('198.51.100.7'), {
    country: 'DE', countryName: 'Germany', city: 'Berlin', latitude: 52.5196, longitude: 13.4069, asn: 64500, asOrg: 'Example Transit GmbH',
  });
  t.strictSame(geo.lookup('198.51.100.200'), { country: 'DE', countryName: 'Germany', city: 'Berlin', latitude: 52.5196, longitude: 13.4069 }, 'outside the ASN /25');
  t.strictSame(geo.lookup('2001:db8:100::1'), {
    country: 'JP', countryName: 'Japan', city: 'Tokyo', latitude: 35.6893, longitude: 139.6899, asn: 64501, asOrg: 'Example IPv6 KK',
  });
  t.strictSame(geo.lookup('2001:db8:ff::1'), { asn: 64501, asOrg: 'Example IPv6 KK' }, 'known to the ASN database only');
  t.strictSame(geo.lookup('192.0.2.1'), { country: 'US', countryName: 'United States' }, 'registered country stands in');
  t.strictSame(geo.lookup('::ffff:198.51.100.7'), geo.lookup('198.51.100.7'), 'an IPv4-mapped address is its IPv4 address');
  t.ok(Object.isFrozen(geo.lookup('198.51.100.7')), 'answers are shared, so frozen');
  t.strictSame(Object.keys(geo.lookup('2001:db8:100::1')), ['country', 'countryName', 'city', 'latitude', 'longitude', 'asn', 'asOrg'], 'one key order');

  const s = geo.stats();
  t.strictSame(s.databases.map((d) => [d.role, d.databaseType, d.ipVersion, d.buildDate, d.bundled, d.reloads, d.attribution]), [
    ['city', 'GeoLite2-City', 6, '2026-11-17T00:00:00.000Z', false, 0,
      'This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com'],
    ['asn', 'GeoLite2-ASN', 6, '2026-11-17T00:00:00.000Z', false, 0,
      'This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com'],
  ]);
});

t.test('flat @ip-location-db layout: country_code, city, float coordinates, ASN', async (t) => {
  const f = files(t);
  const geo = await open(t, { city: f.write('city.mmdb', FLAT_CITY), asn: f.write('asn.mmdb', FLAT_ASN) }, isPrivate);
  t.strictSame(geo.lookup('203.0.113.9'), {
    country: 'AU', countryName: 'Australia', city: 'Sydney', latitude: -33.8688, longitude: 151.209, asn: 65010, asOrg: 'Example Pty Ltd',
  }, 'country name from the ISO code; float32 noise rounded away');
  t.strictSame(geo.lookup('203.0.113.99'), { country: 'AU', countryName: 'Australia', city: 'Sydney', latitude: -33.8688, longitude: 151.209 });
  t.strictSame(geo.lookup('2001:db8:200::5'), { country: 'BR', countryName: 'Brazil', latitude: -23.5475, longitude: -46.6361 }, 'an empty city is no city');
});

t.test('a city database answers country before the country database; ASN numbers written as text', async (t) => {
  const f = files(t);
  const asnAsText = f.write('asn-text.mmdb', [{ cidr: '198.18.0.0/16', record: { autonomous_system_number: 'AS65020', autonomous_system_organization: 'Text ASN' } }]);
  const geo = await open(t, { country: f.write('country.mmdb', FLAT_COUNTRY), city: f.write('city.mmdb', FLAT_CITY), asn: asnAsText }, isPrivate);
  t.equal(geo.lookup('203.0.113.1').country, 'AU', 'the city database wins where both know the address');
  t.strictSame(geo.lookup('198.19.0.1'), { country: 'CH', countryName: 'Switzerland' }, 'the country database fills in');
  t.strictSame(geo.lookup('198.18.0.1'), { country: 'CH', countryName: 'Switzerland', asn: 65020, asOrg: 'Text ASN' });
  t.strictSame(geo.stats().databases.map((d) => d.role), ['city', 'country', 'asn']);
});

t.test('private addresses are labelled, not looked up', async (t) => {
  const f = files(t);
  const asked: string[] = [];
  const geo = await open(t, { city: f.write('city.mmdb', GEOLITE2_CITY), asn: f.write('asn.mmdb', GEOLITE2_ASN) }, (a) => {
    asked.push(a);
    return isPrivate(a) || a === '198.51.100.50'; // a configured private network
  });
  for (const a of ['10.1.2.3', '192.168.1.1', 'fd00::1', 'fe80::1', '::ffff:10.1.2.3', '198.51.100.50']) {
    t.strictSame(geo.lookup(a), { private: true }, a);
  }
  t.strictSame(asked, ['10.1.2.3', '192.168.1.1', 'fd00::1', 'fe80::1', '10.1.2.3', '198.51.100.50']);
  const s = geo.stats();
  t.equal(s.privateAddresses, 6);
  t.equal(s.cacheMisses, 0, 'no database was asked');
  t.equal(s.cacheEntries, 0);
});

t.test('unknown addresses and non-addresses get empty info', async (t) => {
  const f = files(t);
  const geo = await open(t, { city: f.write('city.mmdb', GEOLITE2_CITY) }, isPrivate);
  t.strictSame(geo.lookup('8.8.8.8'), {});
  t.strictSame(geo.lookup('2001:db9::1'), {});
  t.strictSame(geo.lookup('not an address'), {});
  t.strictSame(geo.lookup(''), {});
  const s = geo.stats();
  t.equal(s.lookups, 4);
  t.equal(s.cacheMisses, 2);
  t.equal(s.notFound, 2);
});

t.test('an IPv4-only database is not asked about IPv6 addresses', async (t) => {
  // 2001:db8::1 begins with the bits of 32.1.13.184: an IPv4 tree walked with
  // it would answer with this record.
  const f = files(t);
  const v4 = f.write('v4.mmdb', [{ cidr: '32.1.13.0/24', record: { country_code: 'FR' } }], 4);
  const geo = await open(t, { country: v4 }, isPrivate);
  t.strictSame(geo.lookup('32.1.13.184'), { country: 'FR', countryName: 'France' });
  t.strictSame(geo.lookup('2001:db8::1'), {});
  t.equal(geo.stats().databases[0].ipVersion, 4);
});

t.test('files that cannot be used are a clear error naming the setting and the file', async (t) => {
  const f = files(t);
  const good = f.write('good.mmdb', GEOLITE2_CITY);
  const missing = path.join(f.dir, 'GeoLite2-Country.mmdb');
  await t.rejects(GeoLookup.open({ country: missing }, isPrivate), {
    name: 'FlowlensError', code: 'FLOW_ERR_GEO', message: `geo.country: ${missing} does not exist`, hint: /check the path, or remove geo.country to run without it/,
  });

  const dir = path.join(f.dir, 'a-directory');
  mkdirSync(dir);
  await t.rejects(GeoLookup.open({ city: dir }, isPrivate), { code: 'FLOW_ERR_GEO', message: `geo.city: ${dir} is a directory, not an .mmdb file` });

  const gz = path.join(f.dir, 'GeoLite2-ASN.mmdb.gz');
  writeFileSync(gz, gzipSync(readFileSync(good)));
  await t.rejects(GeoLookup.open({ asn: gz }, isPrivate), { code: 'FLOW_ERR_GEO', message: `geo.asn: ${gz} is gzip-compressed`, hint: /gunzip, or tar xzf/ });

  const text = path.join(f.dir, 'notes.txt');
  writeFileSync(text, 'this is not a database\n'.repeat(100));
  await t.rejects(GeoLookup.open({ country: text }, isPrivate), {
    code: 'FLOW_ERR_GEO', message: `geo.country: ${text} is not a MaxMind DB (.mmdb) file: it has no metadata section`,
  });

  const truncated = path.join(f.dir, 'truncated.mmdb');
  const bytes = readFileSync(good);
  writeFileSync(truncated, bytes.subarray(0, bytes.length - 40));
  await t.rejects(GeoLookup.open({ country: truncated }, isPrivate), { code: 'FLOW_ERR_GEO', message: /^geo\.country: .*truncated\.mmdb is damaged or truncated: / }, 'an interrupted download');

  // Metadata intact, search tree overwritten: its records point past the file.
  const damaged = path.join(f.dir, 'damaged.mmdb');
  const copy = Buffer.from(bytes);
  copy.fill(0xff, 0, 60);
  writeFileSync(damaged, copy);
  await t.rejects(GeoLookup.open({ city: damaged }, isPrivate), { code: 'FLOW_ERR_GEO', message: /^geo\.city: .*damaged\.mmdb is damaged: / });

  if (process.getuid?.() !== 0) {
    const locked = path.join(f.dir, 'locked.mmdb');
    writeFileSync(locked, bytes, { mode: 0o000 });
    await t.rejects(GeoLookup.open({ city: locked }, isPrivate), { message: `geo.city: ${locked} cannot be read (permission denied)` });
  }

  // One bad file among good ones: nothing is opened, and the error names the bad one.
  await t.rejects(GeoLookup.open({ city: good, asn: missing }, isPrivate), { message: `geo.asn: ${missing} does not exist` });
});

t.test('a damaged record costs only its own answer', async (t) => {
  const f = files(t);
  const berlin = GEOLITE2_CITY[0].record;
  const file = f.write('city.mmdb', GEOLITE2_CITY);
  const bytes = readFileSync(file);
  // Turn the record's first control byte into an extended type that does not exist.
  const at = bytes.indexOf(encodeValue(berlin));
  t.ok(at > 0, 'record found in the data section');
  bytes[at] = 0x00;
  bytes[at + 1] = 0xff;
  writeFileSync(file, bytes);
  const geo = await open(t, { city: file, asn: f.write('asn.mmdb', GEOLITE2_ASN) }, isPrivate);
  t.strictSame(geo.lookup('198.51.100.7'), { asn: 64500, asOrg: 'Example Transit GmbH' }, 'the ASN database still answers');
  t.strictSame(geo.lookup('2001:db8:100::1').city, 'Tokyo', 'other records of the damaged file still answer');
  t.match(geo.stats(), { errors: 1, cacheMisses: 2, notFound: 0 });
});

t.test('the cache keeps the most recently used addresses up to its bound', async (t) => {
  const f = files(t);
  const geo = await open(t, { city: f.write('city.mmdb', GEOLITE2_CITY) }, isPrivate, { cacheSize: 2 });
  const a = '198.51.100.1';
  const b = '198.51.100.2';
  const c = '2001:db8:100::3';
  geo.lookup(a); // miss
  geo.lookup(b); // miss
  geo.lookup(a); // hit: a is now the most recent
  geo.lookup(c); // miss: evicts b, the least recently used
  t.match(geo.stats(), { lookups: 4, cacheHits: 1, cacheMisses: 3, cacheEntries: 2, cacheLimit: 2 });
  geo.lookup(a); // still cached
  t.match(geo.stats(), { cacheHits: 2, cacheMisses: 3 });
  geo.lookup(b); // was evicted: looked up again, evicts c
  t.match(geo.stats(), { cacheHits: 2, cacheMisses: 4, cacheEntries: 2 });
  geo.lookup(c);
  t.match(geo.stats(), { cacheHits: 2, cacheMisses: 5, cacheEntries: 2 });
  t.strictSame(geo.lookup(b), { country: 'DE', countryName: 'Germany', city: 'Berlin', latitude: 52.5196, longitude: 13.4069 }, 'same answer after eviction');

  for (let i = 0; i < 1000; i++) geo.lookup(`198.51.100.${i % 250}`);
  t.equal(geo.stats().cacheEntries, 2, 'never above the bound');
  await t.rejects(GeoLookup.open({}, isPrivate, { cacheSize: 0 }), { code: 'FLOW_ERR_USAGE' });
});

t.test('the bundled DB-IP country database is the default, and can be turned off', async (t) => {
  const geo = await open(t, {}, isPrivate, { watch: false });
  const [db] = geo.stats().databases;
  t.match(db, { role: 'country', bundled: true, ipVersion: 6, attribution: BUNDLED_ATTRIBUTION, path: /@ip-location-db\/dbip-country-mmdb\/dbip-country\.mmdb$/ });
  t.ok(Date.parse(db.buildDate) > Date.UTC(2020, 0, 1), `built ${db.buildDate}`);
  t.ok(geo.enabled);
  // Real data: assert its shape, not a country that a newer release may move.
  for (const addr of ['1.1.1.1', '2606:4700:4700::1111']) t.match(geo.lookup(addr), { country: /^[A-Z]{2}$/, countryName: /\w/ }, addr);

  const none = await open(t, { bundled: false }, isPrivate);
  t.equal(none.enabled, false);
  t.strictSame(none.stats().databases, []);
  t.strictSame(none.lookup('1.1.1.1'), {});
  t.strictSame(none.lookup('10.0.0.1'), { private: true }, 'private labels need no database');

  const f = files(t);
  const named = await open(t, { country: f.write('c.mmdb', FLAT_COUNTRY) }, isPrivate);
  t.strictSame(named.stats().databases.map((d) => d.bundled), [false], 'a named country database replaces the default');
  const cityOnly = await open(t, { city: f.write('city.mmdb', FLAT_CITY) }, isPrivate);
  t.strictSame(cityOnly.stats().databases.map((d) => d.role), ['city'], 'so does a city database');
});

t.test('a database replaced right after it was opened, before the first look at the file, is read again', async (t) => {
  const f = files(t);
  const file = f.write('GeoLite2-Country.mmdb', [{ cidr: '198.51.100.0/24', record: { country: { iso_code: 'DE', names: { en: 'Germany' } } } }]);
  let reloaded: () => void = () => {};
  const reload = new Promise<void>((resolve) => { reloaded = resolve; });
  const geo = await open(t, { country: file }, isPrivate, { watchIntervalMs: 20, onReload: () => reloaded() });
  // the same moment: no look at the file can have come in between
  writeMmdb(`${file}.tmp`, [{ cidr: '198.51.100.0/24', record: { country: { iso_code: 'AT', names: { en: 'Austria' } } } }], { databaseType: 'GeoLite2-Country', buildEpoch: Date.UTC(2026, 10, 24) / 1000 });
  renameSync(`${file}.tmp`, file);
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  const waited = await Promise.race([reload.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000))]);
  t.ok(waited, 'the reload came');
  t.strictSame(geo.lookup('198.51.100.1'), { country: 'AT', countryName: 'Austria' });
});

t.test('a database replaced on disk is read again; a bad replacement keeps the loaded one', async (t) => {
  const f = files(t);
  const file = f.write('GeoLite2-Country.mmdb', [{ cidr: '198.51.100.0/24', record: { country: { iso_code: 'DE', names: { en: 'Germany' } } } }]);
  const events: GeoReloadEvent[] = [];
  let notify: (() => void) | undefined;
  const next = (): Promise<void> => new Promise<void>((resolve) => { notify = resolve; });
  const geo = await open(t, { country: file }, isPrivate, {
    watchIntervalMs: 20,
    onReload: (e) => { events.push(e); notify?.(); },
  });
  // The file watcher does not hold the process open (by design); this does, until the test ends.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  t.strictSame(geo.lookup('198.51.100.1'), { country: 'DE', countryName: 'Germany' });

  // As geoipupdate does: write a new file beside it, rename it over the old one.
  const update = async (bytesOrNets: Buffer | MmdbNetwork[]): Promise<void> => {
    const tmp = `${file}.tmp`;
    if (Buffer.isBuffer(bytesOrNets)) writeFileSync(tmp, bytesOrNets);
    else writeMmdb(tmp, bytesOrNets, { databaseType: 'GeoLite2-Country', buildEpoch: Date.UTC(2026, 10, 24) / 1000 });
    const seen = next();
    renameSync(tmp, file);
    await seen;
  };

  await update([{ cidr: '198.51.100.0/24', record: { country: { iso_code: 'AT', names: { en: 'Austria' } } } }]);
  t.strictSame(events, [{ role: 'country', path: file }]);
  t.strictSame(geo.lookup('198.51.100.1'), { country: 'AT', countryName: 'Austria' }, 'the cached answer was dropped');
  t.match(geo.stats().databases[0], { reloads: 1, buildDate: '2026-11-24T00:00:00.000Z', databaseType: 'GeoLite2-Country' });

  await update(Buffer.from('<html>502 Bad Gateway</html>'));
  t.equal(events.length, 2);
  t.match(events[1], { role: 'country', path: file, error: { code: 'FLOW_ERR_GEO', message: `geo.country: ${file} is not a MaxMind DB (.mmdb) file: it has no metadata section` } });
  t.strictSame(geo.lookup('198.51.100.1'), { country: 'AT', countryName: 'Austria' }, 'the loaded database still answers');
  t.match(geo.stats().databases[0], { reloads: 1, reloadError: /no metadata section/ });

  const removed = next();
  unlinkSync(file);
  await removed;
  t.match(events[2], { error: { code: 'FLOW_ERR_GEO', message: `geo.country: ${file} was removed; the loaded database stays in use` } });
  t.strictSame(geo.lookup('198.51.100.1'), { country: 'AT', countryName: 'Austria' });

  await update([{ cidr: '198.51.100.0/24', record: { country: { iso_code: 'CH', names: { en: 'Switzerland' } } } }]);
  t.equal(events.length, 4);
  t.strictSame(geo.lookup('198.51.100.1'), { country: 'CH', countryName: 'Switzerland' });
  const [db] = geo.stats().databases;
  t.equal(db.reloads, 2);
  t.notOk('reloadError' in db, 'the error is cleared by a good file');

  geo.close();
  const tmp = `${file}.tmp`;
  writeMmdb(tmp, [{ cidr: '198.51.100.0/24', record: { country_code: 'IT' } }]);
  renameSync(tmp, file);
  // A watcher still running would see this change within 20 ms; give it many times that.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(events.length, 4, 'closed: no more reloads');
  t.equal(geo.lookup('198.51.100.1').country, 'CH', 'lookups still answer from what is loaded');
});
