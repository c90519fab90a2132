/**
 * The demo's DNS responder (src/demo/peer.ts): its answers read back through
 * flowlens's own DNS parser, as the names table will read them off the wire.
 * (test/e2e/demo-shows-internet-lan-names-geo.test.ts sees the names learned.)
 */
import t from 'tap';
import { dnsAnswer } from '../../src/demo/peer.js';
import { parseDnsMessage, DNS_TYPE } from '../../src/enrich/dns.js';
import { labels } from '../helpers/dns-messages.js';

function query(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([header, labels(name), tail]);
}

const names = { 'video.demo.example': ['198.18.7.10'], 'api.demo.example': ['2001:db8:7::40'] };

t.test('A and AAAA answers for the demo names, NXDOMAIN for others', async (t) => {
  const a = parseDnsMessage(dnsAnswer(query(0x1234, 'Video.Demo.Example', DNS_TYPE.A), names)!)!;
  t.match(a, { id: 0x1234, response: true, rcode: 0, complete: true, questions: [{ name: 'video.demo.example', type: DNS_TYPE.A }] });
  t.same(a.answers.map((x) => [x.name, x.type, x.ttl, x.data]), [['video.demo.example', DNS_TYPE.A, 300, '198.18.7.10']], 'the A record');
  const aaaa = parseDnsMessage(dnsAnswer(query(7, 'api.demo.example', DNS_TYPE.AAAA), names)!)!;
  t.same(aaaa.answers.map((x) => [x.type, x.data]), [[DNS_TYPE.AAAA, '2001:db8:7::40']], 'the AAAA record');
  const noV6 = parseDnsMessage(dnsAnswer(query(8, 'video.demo.example', DNS_TYPE.AAAA), names)!)!;
  t.same([noV6.rcode, noV6.answers.length], [0, 0], 'a name without IPv6: no error, no records');
  const unknown = parseDnsMessage(dnsAnswer(query(9, 'example.org', DNS_TYPE.A), names)!)!;
  t.same([unknown.rcode, unknown.answers.length], [3, 0], 'another name: NXDOMAIN');
  t.equal(dnsAnswer(Buffer.from([1, 2, 3]), names), undefined, 'garbage: no answer');
});
