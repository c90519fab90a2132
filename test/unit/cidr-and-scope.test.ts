/**
 * Address classification: CIDR matching word by word for IPv4 and IPv6, and
 * DESIGN.md's scope rules (which ranges are not the internet, user prefixes).
 */
import t from 'tap';
import { CidrSet, PRIVATE_RANGES, addressWords, parseCidr } from '../../src/net/cidr.js';
import { AddressClassifier, defaultLocalNetworks } from '../../src/net/classify.js';

t.test('addresses parse into words; anything else is not an address', async (t) => {
  t.same([...addressWords('1.2.3.4')!.words], [0, 0, 0, 0x01020304]);
  t.same([...addressWords('2001:db8::1')!.words], [0x20010db8, 0, 0, 1]);
  t.same([...addressWords('::ffff:10.1.2.3')!.words], [0, 0, 0xffff, 0x0a010203]);
  t.same([...addressWords('::')!.words], [0, 0, 0, 0]);
  t.same([...addressWords('fe80::1%eth0')!.words], [0xfe800000, 0, 0, 1]);
  for (const bad of ['1.2.3', '1.2.3.256', '1.2.3.4.5', '1..2.3', 'a.b.c.d', '', '1.2.3.4 ', 'gggg::1', '1:2:3']) {
    t.equal(addressWords(bad), undefined, `"${bad}" is not an address`);
  }
});

t.test('prefix matching at every boundary', async (t) => {
  const s = new CidrSet(['10.0.0.0/8', '172.16.0.0/12', '192.168.1.128/25', '2001:db8:1234::/48', 'fe80::/10', '203.0.113.7']);
  const cases: [string, boolean][] = [
    ['10.0.0.0', true], ['10.255.255.255', true], ['11.0.0.0', false], ['9.255.255.255', false],
    ['172.16.0.1', true], ['172.31.255.255', true], ['172.32.0.0', false], ['172.15.255.255', false],
    ['192.168.1.128', true], ['192.168.1.255', true], ['192.168.1.127', false],
    ['2001:db8:1234::1', true], ['2001:db8:1234:ffff:ffff:ffff:ffff:ffff', true], ['2001:db8:1235::', false],
    ['fe80::1', true], ['febf:ffff::1', true], ['fec0::1', false],
    ['203.0.113.7', true], ['203.0.113.8', false],
    ['::ffff:10.1.2.3', false], // IPv4-mapped IPv6 is an IPv6 address: IPv4 prefixes do not match it
  ];
  for (const [addr, want] of cases) t.equal(s.has(addr), want, `${addr} ${want ? 'in' : 'not in'} the set`);
  t.equal(new CidrSet(['0.0.0.0/0']).has('255.255.255.255'), true, '/0 matches everything of its family');
  t.equal(new CidrSet(['0.0.0.0/0']).has('::1'), false);
  t.equal(new CidrSet(['::/0']).has('2001:db8::1'), true);
  t.throws(() => parseCidr('10.0.0.0/33', 'networks.local'), /networks.local: "10.0.0.0\/33" is not an address or CIDR prefix/);
  t.throws(() => parseCidr('10.0.0.0/8/8'), /not an address or CIDR prefix/);
  t.throws(() => parseCidr('example.com/8'), /not an address or CIDR prefix/);
  t.equal(parseCidr(' 10.1.0.0/16 ').text, '10.1.0.0/16');
});

t.test('scope: the private ranges of DESIGN.md and user prefixes are lan, the rest internet', async (t) => {
  const c = new AddressClassifier({ localNetworks: defaultLocalNetworks(['2a02:1234::/32']), privateNetworks: ['2a02:1234::/32'] }, ['10.0.0.2']);
  const lan = ['10.1.1.1', '172.16.5.5', '192.168.0.9', '100.64.0.1', '127.0.0.1', '169.254.1.1', '0.0.0.1',
    '255.255.255.255', '224.0.0.251', '239.1.1.1', 'fc00::1', 'fd12::1', 'fe80::9', 'ff02::1', '::1', '2a02:1234:5::7'];
  const internet = ['8.8.8.8', '100.128.0.1', '172.32.0.1', '198.51.100.1', '2001:db8::1', '2a02:1235::1', '::2'];
  for (const a of lan) t.equal(c.sides('10.0.0.2', a, 'egress').scope, 'lan', `${a} is lan`);
  for (const a of internet) t.equal(c.sides('10.0.0.2', a, 'egress').scope, 'internet', `${a} is internet`);
  t.ok(PRIVATE_RANGES.includes('100.64.0.0/10'));
});

t.test('which end is local: this host, then local networks; a group address never; ties by hook', async (t) => {
  const c = new AddressClassifier({ localNetworks: defaultLocalNetworks([]), privateNetworks: [] }, ['192.168.1.1', '198.51.100.1']);
  t.equal(c.sides('198.51.100.1', '192.168.1.5', 'egress').srcIsLocal, true, 'this host beats a LAN address');
  t.equal(c.sides('192.168.1.5', '198.51.100.1', 'ingress').srcIsLocal, false);
  t.equal(c.sides('192.168.1.5', '8.8.8.8', 'ingress').srcIsLocal, true, 'a LAN client beats a public address (forwarded)');
  t.equal(c.sides('192.168.1.5', '224.0.0.251', 'ingress').srcIsLocal, true, 'a multicast group is never local');
  t.equal(c.sides('192.168.1.5', '192.168.2.9', 'ingress').srcIsLocal, false, 'tie on ingress: the destination is local');
  t.equal(c.sides('192.168.1.5', '192.168.2.9', 'egress').srcIsLocal, true, 'tie on egress: the source is local');
  c.setHostAddresses(['192.168.2.9']);
  t.equal(c.sides('192.168.1.5', '192.168.2.9', 'egress').srcIsLocal, false, 'refreshed host addresses take effect');
});

t.test('an IPv4 address classed from its 32-bit value (as the flows stage does) gets the same class as its text', async (t) => {
  const value = (a: string) => addressWords(a)!.words[3]!;
  const s = new CidrSet(['10.0.0.0/8', '192.168.1.128/25', '203.0.113.7', '2001:db8::/32', '0.0.0.0/1']);
  for (const a of ['10.0.0.0', '9.255.255.255', '192.168.1.128', '192.168.1.127', '203.0.113.7', '203.0.113.8', '127.255.255.255', '128.0.0.0', '255.255.255.255']) {
    t.equal(s.hasV4(value(a)), s.has(a), `${a}: hasV4 = has`);
  }
  // 010.0.0.9 is not how the collector writes 10.0.0.9: matched by text, it is not this host's 10.0.0.9
  const c = new AddressClassifier({ localNetworks: ['192.168.0.0/16', '100.64.0.0/10'], privateNetworks: ['198.18.0.0/15'] }, ['192.168.1.1', '198.51.100.1', '010.0.0.9']);
  const addrs = ['192.168.1.1', '192.168.1.5', '198.51.100.1', '198.51.100.2', '10.0.0.9', '100.64.0.1', '198.18.3.4', '198.20.0.1',
    '8.8.8.8', '169.254.7.7', '224.0.0.251', '239.255.255.250', '255.255.255.255', '0.0.0.0', '127.0.0.1'];
  const check = (when: string) => {
    for (const a of addrs) t.equal(c.classOfV4(value(a)), c.classOf(a), `${a} ${when}`);
  };
  check('with the first host addresses');
  t.not(c.classOf('198.51.100.1'), c.classOf('198.51.100.2'), 'this host and its neighbour differ: the test can tell');
  t.equal(c.classOf('10.0.0.9'), c.classOf('10.0.0.8'), '"010.0.0.9" names no address the collector writes');
  c.setHostAddresses(['198.51.100.2']);
  check('after the host addresses changed');
  t.equal(c.classOfV4(value('198.51.100.2')), c.classOf('198.51.100.2'));
  t.not(c.classOfV4(value('198.51.100.2')), c.classOfV4(value('198.51.100.1')), 'the new host address is this host now, the old one not');
});
