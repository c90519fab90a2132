/**
 * The DNS parser reads what a resolver sends: header, question, answers with
 * compression pointers, A/AAAA/CNAME and TTLs, over UDP and over TCP (length
 * prefix). Cut or hostile input never throws: it gives what could be read.
 */
import t from 'tap';
import { parseDnsMessage, dnsMessageOf, type DnsMessage } from '../../src/enrich/dns.js';
import { dnsResponse, tcpFramed, TYPE } from '../helpers/dns-messages.js';
import { garbage } from '../helpers/packets.js';

/*
 * www.Example.com A? → www.example.com CNAME edge.cdn.net (300 s),
 * edge.cdn.net A 192.0.2.10 (60 s), edge.cdn.net A 192.0.2.11 (60 s),
 * the answers' names written as compression pointers, as resolvers do.
 */
const COMPRESSED = Buffer.from([
  0xbe, 0xef, // 0: id
  0x81, 0x80, // 2: QR RD RA, rcode 0
  0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, // 4: qd 1, an 3, ns 0, ar 0
  // 12: question www.Example.com (mixed case, as 0x20 randomisation sends it)
  3, 0x77, 0x77, 0x77, 7, 0x45, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 3, 0x63, 0x6f, 0x6d, 0,
  0x00, 0x01, 0x00, 0x01, // 29: type A, class IN
  // 33: answer 1: name → 12 (www.example.com), CNAME, IN, ttl 300, rdlength 14
  0xc0, 12, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 14,
  // 45: rdata: edge (labels), cdn (labels), net (labels), root: 4edge3cdn3net0 = 14 bytes
  4, 0x65, 0x64, 0x67, 0x65, 3, 0x63, 0x64, 0x6e, 3, 0x6e, 0x65, 0x74, 0,
  // 59: answer 2: name → 45 (edge.cdn.net), A, IN, ttl 60, rdlength 4, 192.0.2.10
  0xc0, 45, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 4, 192, 0, 2, 10,
  // 75: answer 3: name → 45, A, IN, ttl 60, 192.0.2.11
  0xc0, 45, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 4, 192, 0, 2, 11,
  // 91: end
]);

const EXPECTED: DnsMessage = {
  id: 0xbeef,
  response: true,
  truncated: false,
  rcode: 0,
  questions: [{ name: 'www.example.com', type: 1, class: 1 }],
  answers: [
    { name: 'www.example.com', type: 5, class: 1, ttl: 300, data: 'edge.cdn.net' },
    { name: 'edge.cdn.net', type: 1, class: 1, ttl: 60, data: '192.0.2.10' },
    { name: 'edge.cdn.net', type: 1, class: 1, ttl: 60, data: '192.0.2.11' },
  ],
  complete: true,
};

t.test('a compressed response with a CNAME and two A records, every field', async (t) => {
  t.equal(COMPRESSED.length, 91);
  t.strictSame(parseDnsMessage(COMPRESSED), EXPECTED);
});

t.test('over TCP the 2-byte length prefix is skipped; over UDP it is not', async (t) => {
  t.strictSame(dnsMessageOf(tcpFramed(COMPRESSED), 6), EXPECTED);
  t.strictSame(dnsMessageOf(COMPRESSED, 17), EXPECTED);
  // bytes after the prefixed length belong to the next message: not read
  t.strictSame(dnsMessageOf(Buffer.concat([tcpFramed(COMPRESSED), Buffer.from([1, 2, 3])]), 6), EXPECTED);
  t.equal(dnsMessageOf(Buffer.from([0]), 6), undefined, 'one byte of a prefix: nothing');
});

t.test('AAAA answers are formatted as RFC 5952 text; other types keep no data', async (t) => {
  const msg = parseDnsMessage(dnsResponse({
    question: 'v6.test', qtype: TYPE.AAAA,
    answers: [
      { name: 'v6.test', type: TYPE.AAAA, ttl: 7200, data: '2001:db8::1' },
      { name: 'v6.test', type: TYPE.AAAA, ttl: 7200, data: 'fd00:0:0:1::a:b' },
      { name: 'v6.test', type: TYPE.TXT, ttl: 5, data: Buffer.from([3, 0x61, 0x62, 0x63]) },
    ],
  }));
  t.strictSame(msg?.answers, [
    { name: 'v6.test', type: 28, class: 1, ttl: 7200, data: '2001:db8::1' },
    { name: 'v6.test', type: 28, class: 1, ttl: 7200, data: 'fd00::1:0:0:a:b' }, // two equal zero runs: the left one
    { name: 'v6.test', type: 16, class: 1, ttl: 5 },
  ]);
  t.equal(msg?.complete, true);
});

t.test('header flags: a query, a truncated (TC) answer, NXDOMAIN', async (t) => {
  const query = Buffer.from(COMPRESSED.subarray(0, 33));
  query.writeUInt16BE(0x0100, 2); // RD only
  query.writeUInt16BE(0, 6); // no answers
  t.match(parseDnsMessage(query), { response: false, truncated: false, answers: [], complete: true });
  const tc = Buffer.from(COMPRESSED);
  tc.writeUInt16BE(0x8380, 2);
  t.match(parseDnsMessage(tc), { response: true, truncated: true });
  const nx = dnsResponse({ question: 'nope.test', qtype: TYPE.A, answers: [], rcode: 3 });
  t.match(parseDnsMessage(nx), { rcode: 3, answers: [], complete: true });
});

t.test('a message cut at every length never throws and keeps the whole records before the cut', async (t) => {
  // answer k ends at byte: 59 (CNAME), 75, 91
  const answerEnds = [59, 75, 91];
  for (let n = 0; n < COMPRESSED.length; n++) {
    const msg = parseDnsMessage(COMPRESSED.subarray(0, n));
    if (n < 33) {
      t.equal(msg, undefined, `${n} bytes: header or question cut, nothing`);
      continue;
    }
    const whole = answerEnds.filter((end) => end <= n).length;
    t.strictSame(msg, { ...EXPECTED, answers: EXPECTED.answers.slice(0, whole), complete: false },
      `${n} bytes: the ${whole} whole answer(s), marked incomplete`);
  }
});

t.test('compression pointer loops and forward pointers end the parse, without a hang', async (t) => {
  // answer 1's name points at itself (33 → 33)
  const self = Buffer.from(COMPRESSED);
  self[34] = 33;
  t.strictSame(parseDnsMessage(self), { ...EXPECTED, answers: [], complete: false }, 'a self-pointer');
  // pointers may only point backwards, so no two can point at each other: a forward one is refused
  const pair = Buffer.from(COMPRESSED);
  pair[12] = 0xc0; pair[13] = 33; // question name → 33 (forward)
  t.equal(parseDnsMessage(pair), undefined, 'a forward pointer in the question: nothing');
  // answer 2 points forward into answer 3
  const forward = Buffer.from(COMPRESSED);
  forward[60] = 77;
  t.strictSame(parseDnsMessage(forward), { ...EXPECTED, answers: EXPECTED.answers.slice(0, 1), complete: false },
    'a forward pointer in answer 2: answer 1 only');
  // a CNAME whose target runs past its rdlength
  const long = Buffer.from(COMPRESSED);
  long[44] = 10;
  t.equal(parseDnsMessage(long)?.answers.length, 0, 'CNAME target longer than its record: dropped');
});

t.test('a name longer than 255 bytes is refused', async (t) => {
  const label = Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]);
  const name = Buffer.concat([label, label, label, label, Buffer.from([0])]); // 4 x 64 + 1 = 257 bytes
  const msg = Buffer.concat([Buffer.from([0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]);
  t.equal(parseDnsMessage(msg), undefined);
});

t.test('random bytes never throw', async (t) => {
  let parsed = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const b = garbage(1 + (seed % 600), seed);
    // half of them get a plausible header so the parser goes deeper
    if (seed % 2 === 0 && b.length >= 12) { b.writeUInt16BE(0x8180, 2); b.writeUInt16BE(1, 4); b.writeUInt16BE(seed % 20, 6); }
    let msg: DnsMessage | undefined;
    try {
      msg = dnsMessageOf(b, seed % 3 === 0 ? 6 : 17);
    } catch (e) {
      t.fail(`seed ${seed}: threw ${(e as Error).message}`);
    }
    if (msg) parsed++;
  }
  t.pass(`3000 random payloads, ${parsed} gave a (partial) message, none threw`);
});
