/**
 * The test helper that writes MaxMind DB files (test/helpers/mmdb-writer.ts)
 * makes files the maxmind package reads back exactly: every record size, IPv4
 * and IPv6 trees, the GeoIP2 and the flat record layouts, every value type the
 * geo code can meet, the size encodings of long fields, and the metadata.
 */
import t from 'tap';
import path from 'node:path';
import maxmind from 'maxmind';
import { buildMmdb, double, float, mmdbTempDir as tempDir, uint16, writeMmdb, MmdbTyped, type MmdbNetwork } from '../helpers/mmdb-writer.js';

const GEOIP2_LONDON = {
  city: { geoname_id: 2643743, names: { en: 'London', de: 'London', 'zh-CN': '伦敦' } },
  continent: { code: 'EU', geoname_id: 6255148, names: { en: 'Europe' } },
  country: { geoname_id: 2635167, is_in_european_union: false, iso_code: 'GB', names: { en: 'United Kingdom' } },
  location: { accuracy_radius: uint16(10), latitude: double(51.5142), longitude: double(-0.0931), time_zone: 'Europe/London' },
  subdivisions: [{ iso_code: 'ENG', names: { en: 'England' } }],
};
const FLAT_PARIS = { city: 'Paris', country_code: 'FR', latitude: float(48.8566), longitude: float(2.3522), postcode: '', state1: 'Île-de-France', state2: '', timezone: '' };
const ASN = { autonomous_system_number: 64500, autonomous_system_organization: 'Example Networks, Inc.' };

/** What maxmind returns for FLAT_PARIS: the floats come back at float32 precision. */
const FLAT_PARIS_READ = { ...FLAT_PARIS, latitude: Math.fround(48.8566), longitude: Math.fround(2.3522) };
const GEOIP2_LONDON_READ = {
  ...GEOIP2_LONDON,
  location: { accuracy_radius: 10, latitude: 51.5142, longitude: -0.0931, time_zone: 'Europe/London' },
};

for (const recordSize of [24, 28, 32] as const) {
  for (const ipVersion of [4, 6] as const) {
    t.test(`${recordSize}-bit records, IPv${ipVersion} tree`, async (t) => {
      const networks: MmdbNetwork[] = [
        { cidr: '81.2.69.0/24', record: GEOIP2_LONDON },
        // A more specific network listed later carves a hole in the broader one.
        { cidr: '81.2.69.128/25', record: FLAT_PARIS },
        { cidr: '81.2.69.200/32', record: ASN },
        { cidr: '203.0.113.7', record: ASN }, // shares its data with the entry above
      ];
      if (ipVersion === 6) {
        networks.push({ cidr: '2001:db8::/32', record: { country_code: 'DE' } });
        networks.push({ cidr: '2001:db8:1::/48', record: ASN });
        networks.push({ cidr: '::ffff:0:0/96', record: { country_code: 'ZZ' } }); // stored as written, not aliased
      }
      const file = path.join(tempDir(t), 'db.mmdb');
      writeMmdb(file, networks, { ipVersion, recordSize, databaseType: 'Test-City', languages: ['en', 'de'], description: { en: 'test db' }, buildEpoch: 1767225600 });
      const reader = await maxmind.open(file);

      t.equal(reader.metadata.recordSize, recordSize);
      t.equal(reader.metadata.ipVersion, ipVersion);
      t.equal(reader.metadata.databaseType, 'Test-City');
      t.same(reader.metadata.languages, ['en', 'de']);
      t.same(reader.metadata.description, { en: 'test db' });
      t.equal(reader.metadata.buildEpoch.toISOString(), '2026-01-01T00:00:00.000Z');
      t.equal(reader.metadata.binaryFormatMajorVersion, 2);

      t.strictSame(reader.getWithPrefixLength('81.2.69.1'), [GEOIP2_LONDON_READ, 25], 'GeoIP2 layout; the hole splits the /24 into /25s');
      t.strictSame(reader.getWithPrefixLength('81.2.69.127'), [GEOIP2_LONDON_READ, 25]);
      // .129 = 1000 0001 leaves .200 = 1100 1000's path at bit 26, .255 = 1111 1111 at bit 27.
      t.strictSame(reader.getWithPrefixLength('81.2.69.129'), [FLAT_PARIS_READ, 26], 'flat layout; split again by the /32 below');
      t.strictSame(reader.getWithPrefixLength('81.2.69.255'), [FLAT_PARIS_READ, 27]);
      t.strictSame(reader.get('81.2.69.200'), ASN);
      t.strictSame(reader.get('203.0.113.7'), ASN);
      t.equal(reader.get('203.0.113.8'), null, 'outside every network');
      t.equal(reader.get('81.2.68.255'), null);
      if (ipVersion === 6) {
        // ffff and 0001 (the /48's third group) part at its first bit: depth 33.
        t.strictSame(reader.getWithPrefixLength('2001:db8:ffff::1'), [{ country_code: 'DE' }, 33]);
        t.strictSame(reader.getWithPrefixLength('2001:db8:0:1::1'), [{ country_code: 'DE' }, 48]);
        t.strictSame(reader.get('2001:db8:1:2::3'), ASN);
        t.equal(reader.get('2001:db9::1'), null);
        t.strictSame(reader.get('::ffff:1.2.3.4'), { country_code: 'ZZ' });
      }
    });
  }
}

t.test('every value type and the long size encodings come back as written', async (t) => {
  const long = (n: number): string => 'é'.repeat(n / 2); // 2 UTF-8 bytes per character
  const record = {
    s0: '',
    s28: long(28), // size in the control byte
    s30: long(30), // 29 + one byte
    s300: long(300), // 285 + two bytes
    s70000: long(70000), // 65821 + three bytes
    u32: 4294967295,
    zero: 0,
    neg: -2147483648,
    dbl: 1.5,
    flt: float(0.25),
    u64: 18446744073709551615n,
    u128: new MmdbTyped('uint128', 2n ** 100n),
    bytes: new MmdbTyped('bytes', Uint8Array.from([0, 1, 254, 255])),
    yes: true,
    no: false,
    list: [1, 'two', [3], { four: 4 }],
    empty: {},
  };
  const file = path.join(tempDir(t), 'types.mmdb');
  writeMmdb(file, [{ cidr: '192.0.2.0/24', record }], { ipVersion: 4, recordSize: 28 });
  const got = (await maxmind.open(file)).get('192.0.2.1') as Record<string, unknown>;
  t.equal((got.s28 as string).length, 14);
  t.equal(got.s30, long(30));
  t.equal(got.s300, long(300));
  t.equal(got.s70000, long(70000));
  t.equal(got.s0, '');
  t.equal(got.u32, 4294967295);
  t.equal(got.zero, 0);
  t.equal(got.neg, -2147483648);
  t.equal(got.dbl, 1.5);
  t.equal(got.flt, 0.25);
  t.equal(got.u64, 18446744073709551615n);
  t.equal(got.u128, 2n ** 100n);
  t.same(Buffer.from(got.bytes as Uint8Array), Buffer.from([0, 1, 254, 255]));
  t.equal(got.yes, true);
  t.equal(got.no, false);
  t.strictSame(got.list, [1, 'two', [3], { four: 4 }]);
  t.strictSame(got.empty, {});
});

t.test('networks the tree cannot hold are refused', async (t) => {
  t.throws(() => buildMmdb([{ cidr: '2001:db8::/32', record: 'x' }], { ipVersion: 4 }), /is IPv6 but the tree is ipVersion 4/);
  t.throws(() => buildMmdb([{ cidr: '10.0.0.0/33', record: 'x' }]), /bad prefix/);
  t.throws(() => buildMmdb([{ cidr: 'example.com', record: 'x' }]), /not an address/);
  t.throws(() => buildMmdb([{ cidr: '0.0.0.0/0', record: 'x' }], { ipVersion: 4 }), /\/0 network/);
});

t.test('an empty database is valid and knows nothing', async (t) => {
  const file = path.join(tempDir(t), 'empty.mmdb');
  writeMmdb(file, []);
  const reader = await maxmind.open(file);
  t.equal(reader.metadata.nodeCount, 1);
  t.equal(reader.get('8.8.8.8'), null);
  t.equal(reader.get('2001:db8::1'), null);
});
