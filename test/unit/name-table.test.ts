/**
 * NameTable learns address → name from DNS answers (following CNAME chains
 * back to the name asked for) and connection → SNI from ClientHellos; names
 * live max(TTL, minKeepMs), the tables are bounded, and what it could not
 * parse is counted.
 */
import t from 'tap';
import { NameTable } from '../../src/enrich/names.js';
import type { Capture } from '../../src/collector/captures.js';
import { clientHello, dnsResponse, tcpFramed, TYPE } from '../helpers/dns-messages.js';
import { garbage } from '../helpers/packets.js';

const T0 = 1_700_000_000_000;
const HOUR = 3_600_000;

function dnsCapture(payload: Buffer, o: Partial<Capture> = {}): Capture {
  return { kind: 'dns', ifindex: 2, direction: 'ingress', ipVersion: 4, protocol: 17, src: '10.0.0.53', dst: '10.0.0.2',
    srcPort: 53, dstPort: 40000, time: T0, payload, payloadLength: payload.length, ...o };
}

function helloCapture(name: string | undefined, o: Partial<Capture> = {}): Capture {
  const payload = clientHello({ serverName: name });
  return { kind: 'tls', ifindex: 2, direction: 'egress', ipVersion: 4, protocol: 6, src: '10.0.0.2', dst: '203.0.113.7',
    srcPort: 51000, dstPort: 443, time: T0, payload, payloadLength: payload.length, ...o };
}

const chain = dnsResponse({
  question: 'www.shop.test', qtype: TYPE.A,
  answers: [
    { name: 'www.shop.test', type: TYPE.CNAME, ttl: 600, data: 'shop.cdn.test' },
    { name: 'shop.cdn.test', type: TYPE.CNAME, ttl: 120, data: 'edge7.cdn.test' },
    { name: 'edge7.cdn.test', type: TYPE.A, ttl: 30, data: '198.51.100.7' },
    { name: 'edge7.cdn.test', type: TYPE.A, ttl: 30, data: '198.51.100.8' },
  ],
});

t.test('A answers behind a two-step CNAME chain name the address with the name asked for', async (t) => {
  const names = new NameTable();
  names.ingest(dnsCapture(chain));
  t.equal(names.nameOf('198.51.100.7', T0), 'www.shop.test');
  t.equal(names.nameOf('198.51.100.8', T0), 'www.shop.test');
  t.equal(names.nameOf('198.51.100.9', T0), undefined, 'an address nobody resolved');
  t.strictSame(names.stats(), { names: 2, connections: 0, dnsMessages: 1, answers: 2, hellos: 0, parseFailures: 0, evictions: 0, expired: 0 });
});

t.test('AAAA answers, and answers over TCP with the length prefix', async (t) => {
  const names = new NameTable();
  names.ingest(dnsCapture(tcpFramed(dnsResponse({ question: 'v6.test', qtype: TYPE.AAAA,
    answers: [{ name: 'v6.test', type: TYPE.AAAA, ttl: 300, data: '2001:db8::53' }] })), { protocol: 6 }));
  t.equal(names.nameOf('2001:db8::53', T0), 'v6.test');
});

t.test('a name lives max(TTL of the shortest chain link, minKeepMs)', async (t) => {
  const short = new NameTable({ minKeepMs: 10_000 });
  short.ingest(dnsCapture(chain)); // A ttl 30 s is the shortest link
  t.equal(short.nameOf('198.51.100.7', T0 + 29_999), 'www.shop.test', 'within the TTL');
  t.equal(short.nameOf('198.51.100.7', T0 + 30_000), undefined, 'gone at the TTL (30 s > minKeepMs 10 s)');
  t.equal(short.stats().expired, 1);
  const long = new NameTable(); // default: keep at least an hour
  long.ingest(dnsCapture(chain));
  t.equal(long.nameOf('198.51.100.7', T0 + HOUR - 1), 'www.shop.test', 'kept an hour although the TTL was 30 s');
  t.equal(long.nameOf('198.51.100.7', T0 + HOUR), undefined, 'then gone');
  const ttl2h = new NameTable();
  ttl2h.ingest(dnsCapture(dnsResponse({ question: 'stable.test', qtype: TYPE.A,
    answers: [{ name: 'stable.test', type: TYPE.A, ttl: 7200, data: '192.0.2.1' }] })));
  t.equal(ttl2h.nameOf('192.0.2.1', T0 + 2 * HOUR - 1), 'stable.test', 'a TTL above minKeepMs counts');
  long.prune(T0 + HOUR);
  t.equal(long.stats().names, 0, 'prune drops the expired entry');
});

t.test('records that do not answer the question name nothing', async (t) => {
  const names = new NameTable();
  names.ingest(dnsCapture(dnsResponse({ question: 'asked.test', qtype: TYPE.A, answers: [
    { name: 'asked.test', type: TYPE.A, ttl: 60, data: '192.0.2.1' },
    { name: 'unrelated.test', type: TYPE.A, ttl: 60, data: '192.0.2.2' },
    { name: 'dangling.test', type: TYPE.CNAME, ttl: 60, data: 'elsewhere.test' },
    { name: 'elsewhere.test', type: TYPE.A, ttl: 60, data: '192.0.2.3' },
  ] })));
  t.equal(names.nameOf('192.0.2.1', T0), 'asked.test');
  t.equal(names.nameOf('192.0.2.2', T0), undefined, 'an A record for another name');
  t.equal(names.nameOf('192.0.2.3', T0), undefined, 'a chain that does not start at the question');
  t.match(names.stats(), { answers: 1 });
});

t.test('a newer answer for an address replaces the older name', async (t) => {
  const names = new NameTable();
  names.ingest(dnsCapture(chain));
  names.ingest(dnsCapture(dnsResponse({ question: 'other.test', qtype: TYPE.A,
    answers: [{ name: 'other.test', type: TYPE.A, ttl: 60, data: '198.51.100.7' }] }), { time: T0 + 1000 }));
  t.equal(names.nameOf('198.51.100.7', T0 + 1000), 'other.test');
});

t.test('bounded: the entry written longest ago goes first, counted', async (t) => {
  const names = new NameTable({ maxNames: 3, maxConnections: 2 });
  for (let i = 1; i <= 5; i++) {
    names.ingest(dnsCapture(dnsResponse({ question: `h${i}.test`, qtype: TYPE.A,
      answers: [{ name: `h${i}.test`, type: TYPE.A, ttl: 60, data: `192.0.2.${i}` }] })));
  }
  t.strictSame([1, 2, 3, 4, 5].map((i) => names.nameOf(`192.0.2.${i}`, T0)),
    [undefined, undefined, 'h3.test', 'h4.test', 'h5.test']);
  for (let port = 1; port <= 3; port++) names.ingest(helloCapture(`s${port}.test`, { srcPort: port, dst: `203.0.113.${port}` }));
  t.equal(names.sniOf('10.0.0.2', 1, '203.0.113.1', 443, T0), undefined, 'first connection evicted');
  t.equal(names.sniOf('10.0.0.2', 3, '203.0.113.3', 443, T0), 's3.test');
  // 2 DNS names evicted, then 3 server names pushed out 3 more of the 3 kept names, 1 connection evicted
  t.match(names.stats(), { names: 3, connections: 2, evictions: 2 + 3 + 1 });
});

t.test('sniOf tells apart two connections to one shared address; nameOf falls back to SNI', async (t) => {
  const names = new NameTable({ connectionKeepMs: 60_000 });
  names.ingest(helloCapture('blog.example.test', { srcPort: 50001 }));
  names.ingest(helloCapture('shop.example.test', { srcPort: 50002 }));
  t.equal(names.sniOf('10.0.0.2', 50001, '203.0.113.7', 443, T0), 'blog.example.test');
  t.equal(names.sniOf('10.0.0.2', 50002, '203.0.113.7', 443, T0), 'shop.example.test');
  t.equal(names.sniOf('10.0.0.2', 50003, '203.0.113.7', 443, T0), undefined, 'another port: another connection');
  t.equal(names.nameOf('203.0.113.7', T0), 'shop.example.test', 'no DNS answer: the last SNI sent to the address');
  t.equal(names.sniOf('10.0.0.2', 50001, '203.0.113.7', 443, T0 + 50_000), 'blog.example.test', 'a lookup keeps it alive');
  t.equal(names.sniOf('10.0.0.2', 50001, '203.0.113.7', 443, T0 + 100_000), 'blog.example.test', '60 s after the last lookup');
  t.equal(names.sniOf('10.0.0.2', 50002, '203.0.113.7', 443, T0 + 100_000), undefined, 'never looked up: expired');
  t.match(names.stats(), { hellos: 2, connections: 1, expired: 1 });
});

t.test('a DNS name is not overwritten by SNI; a hello without SNI names nothing', async (t) => {
  const names = new NameTable();
  names.ingest(dnsCapture(dnsResponse({ question: 'asked.test', qtype: TYPE.A,
    answers: [{ name: 'asked.test', type: TYPE.A, ttl: 60, data: '203.0.113.7' }] })));
  names.ingest(helloCapture('sni-name.test'));
  t.equal(names.nameOf('203.0.113.7', T0), 'asked.test');
  t.equal(names.sniOf('10.0.0.2', 51000, '203.0.113.7', 443, T0), 'sni-name.test');
  names.ingest(helloCapture(undefined, { srcPort: 51001 }));
  t.equal(names.sniOf('10.0.0.2', 51001, '203.0.113.7', 443, T0), undefined);
  t.match(names.stats(), { hellos: 1, parseFailures: 0 });
});

t.test('garbage, queries and error answers teach nothing; garbage is counted', async (t) => {
  const names = new NameTable();
  names.ingest(dnsCapture(garbage(5)));
  names.ingest(dnsCapture(garbage(100, 7), { protocol: 6 }));
  const hello = clientHello({ serverName: 'cut.test' });
  names.ingest(helloCapture(undefined, { payload: hello.subarray(0, hello.length - 3) }));
  const query = Buffer.from(chain);
  query.writeUInt16BE(0x0100, 2); // QR clear: a query (with answers, which a query must not teach)
  names.ingest(dnsCapture(query));
  names.ingest(dnsCapture(dnsResponse({ question: 'x.test', qtype: TYPE.A, rcode: 2,
    answers: [{ name: 'x.test', type: TYPE.A, ttl: 60, data: '192.0.2.99' }] })));
  t.equal(names.nameOf('198.51.100.7', T0), undefined);
  t.equal(names.nameOf('192.0.2.99', T0), undefined, 'SERVFAIL answers are not trusted');
  t.match(names.stats(), { names: 0, dnsMessages: 1, parseFailures: 3 });
});

t.test('options are checked', async (t) => {
  t.throws(() => new NameTable({ maxNames: 0 }), /maxNames must be a positive integer/);
  t.throws(() => new NameTable({ minKeepMs: -1 }), /minKeepMs must be a number >= 0/);
});

t.test('an address answered for one name and then another: each session gets the name valid at its first packet', async (t) => {
  const names = new NameTable();
  const answer = (name: string, time: number) => dnsCapture(dnsResponse({ question: name, qtype: TYPE.A, answers: [{ name, type: TYPE.A, ttl: 300, data: '203.0.113.15' }] }), { time });
  names.ingest(answer('first.example.com', T0));
  // both answers can arrive in one interval's captures, before that interval's sessions are labelled
  names.ingest(answer('second.example.com', T0 + 2500));
  t.equal(names.nameOf('203.0.113.15', T0 + 3000), 'second.example.com', 'without a time: the latest');
  t.equal(names.nameOf('203.0.113.15', T0 + 3000, T0 + 2600), 'second.example.com', 'a session begun after the second answer: second');
  t.equal(names.nameOf('203.0.113.15', T0 + 3000, T0 + 1000), 'first.example.com', 'a session begun between them: first');
  t.equal(names.nameOf('203.0.113.15', T0 + 3000, T0 - 1), undefined, 'a session begun before any answer: no name from DNS');
  names.ingest(answer('second.example.com', T0 + 9000));
  t.equal(names.nameOf('203.0.113.15', T0 + 9500, T0 + 2600), 'second.example.com', 'a renewed answer keeps the name valid since it was first learned');
  for (let i = 0; i < 6; i++) names.ingest(answer(`n${i}.example.com`, T0 + 10_000 + i));
  t.equal(names.nameOf('203.0.113.15', T0 + 20_000, T0 + 10_005), 'n5.example.com');
  t.equal(names.nameOf('203.0.113.15', T0 + 20_000, T0 + 10_002), 'n2.example.com', 'the last four names are kept');
  t.equal(names.nameOf('203.0.113.15', T0 + 20_000, T0 + 10_001), undefined, 'older ones are not');
});
