/**
 * The cost of GeoLookup (src/enrich/geo.ts) with the bundled DB-IP country
 * database, or the files named: the time to open (the files are read into
 * memory), the memory they take, and the cost of one lookup of a public
 * address that is not cached (a tree walk and a record decode) and of one that
 * is. Talkers are looked up once per interval, so this bounds the addresses per
 * second the enrichment keeps up with.
 *
 *   node --import tsx bench/geo.ts [--addresses 10000,100000] [--reps 5] [--country F] [--city F] [--asn F]
 *
 * Prints figures; asserts nothing.
 */
import { parseArgs } from 'node:util';
import { GeoLookup } from '../src/enrich/geo.js';
import { CidrSet, PRIVATE_RANGES } from '../src/net/cidr.js';
import { median, printHeader, table } from './lib.js';

const { values } = parseArgs({
  options: {
    addresses: { type: 'string', default: '10000,100000' },
    reps: { type: 'string', default: '5' },
    country: { type: 'string' },
    city: { type: 'string' },
    asn: { type: 'string' },
  },
});
const counts = values.addresses!.split(',').map(Number);
const reps = Number(values.reps);

/** n distinct public IPv4 addresses spread over the address space (a deterministic sequence). */
function publicAddresses(n: number): string[] {
  const priv = new CidrSet(PRIVATE_RANGES);
  const out: string[] = [];
  for (let x = 0x9e3779b9; out.length < n; x = (Math.imul(x, 1664525) + 1013904223) >>> 0) {
    const a = `${x >>> 24}.${(x >>> 16) & 0xff}.${(x >>> 8) & 0xff}.${x & 0xff}`;
    if (!priv.has(a)) out.push(a);
  }
  return out;
}

printHeader('geo lookups (GeoLookup.lookup)');
const priv = new CidrSet(PRIVATE_RANGES);
const rssBefore = process.memoryUsage().rss;
const t0 = process.hrtime.bigint();
const geo = await GeoLookup.open({ country: values.country, city: values.city, asn: values.asn }, (a) => priv.has(a), { watch: false, cacheSize: Math.max(...counts) });
const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
const rssMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
for (const d of geo.stats().databases) {
  console.log(`# ${d.role}: ${d.path} (${d.databaseType}, built ${d.buildDate}${d.bundled ? ', bundled' : ''})`);
}
console.log(`# open: ${openMs.toFixed(0)} ms, resident memory +${rssMb.toFixed(0)} MiB\n`);

const rows: string[][] = [];
for (const n of counts) {
  const addrs = publicAddresses(n);
  const miss: number[] = [];
  const hit: number[] = [];
  for (let r = 0; r < reps; r++) {
    // A fresh lookup per rep: every address is a miss once, then a hit.
    const g = await GeoLookup.open({ country: values.country, city: values.city, asn: values.asn }, (a) => priv.has(a), { watch: false, cacheSize: n });
    let s = process.hrtime.bigint();
    for (const a of addrs) g.lookup(a);
    miss.push(Number(process.hrtime.bigint() - s) / n);
    s = process.hrtime.bigint();
    for (const a of addrs) g.lookup(a);
    hit.push(Number(process.hrtime.bigint() - s) / n);
    const st = g.stats();
    if (r === reps - 1) {
      rows.push([String(n), (median(miss) / 1000).toFixed(2), (median(hit) / 1000).toFixed(2),
        `${((1 - st.notFound / st.cacheMisses) * 100).toFixed(1)} %`, (1e9 / median(miss) / 1e6).toFixed(2)]);
    }
    g.close();
  }
}
console.log(table(['addresses', 'µs/lookup uncached', 'µs/lookup cached', 'found', 'M uncached/s'], rows));
geo.close();
