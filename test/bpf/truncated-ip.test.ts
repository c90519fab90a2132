/**
 * Frames cut inside the network-layer headers are malformed: counted per
 * interface and direction with their frame length, never as flows. For an skb,
 * BPF_PROG_TEST_RUN itself refuses an IPv4/IPv6 Ethernet type without a whole
 * IP header (EINVAL), so those cuts reach only XDP; a VLAN tag hides the type
 * from that check, so TC is tested through a tagged frame.
 */
import t from 'tap';
import { ETH_P, IPPROTO, ah, cut, data, eth, fragment, hopByHop, ipv4, ipv4RecordRoute, ipv6, udp } from '../helpers/packets.js';
import { TC_PROGRAMS, malformed, runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const udp4 = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: IPPROTO.UDP }, udp({ sport: 1000, dport: 2000 }, data(20)));
const udp6 = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', protocol: IPPROTO.UDP }, udp({ sport: 1000, dport: 2000 }, data(20)));
const v4 = (p: Buffer) => eth({ type: ETH_P.IPV4 }, p);
const v6 = (p: Buffer) => eth({ type: ETH_P.IPV6 }, p);
const ext6 = (ext: Parameters<typeof ipv6>[0]['ext']) =>
  v6(ipv6({ src: '2001:db8::1', dst: '2001:db8::2', protocol: IPPROTO.UDP, ext }, udp({ sport: 1000, dport: 2000 }, data(20))));

const fixtures: Fixture[] = [
  {
    description: 'a bare 14-byte Ethernet header of type IPv4 (XDP: malformed; TC test-run refuses it)',
    packet: cut(v4(udp4), 14),
    refusedBy: TC_PROGRAMS,
    expected: malformed(14),
  },
  {
    description: 'a bare 14-byte Ethernet header of type IPv6 (XDP: malformed; TC test-run refuses it)',
    packet: cut(v6(udp6), 14),
    refusedBy: TC_PROGRAMS,
    expected: malformed(14),
  },
  {
    description: 'IPv4 header cut at 19 of 20 bytes (XDP: malformed; TC test-run refuses it)',
    packet: cut(v4(udp4), 14 + 19),
    refusedBy: TC_PROGRAMS,
    expected: malformed(33),
  },
  {
    description: 'IPv6 header cut at 39 of 40 bytes (XDP: malformed; TC test-run refuses it)',
    packet: cut(v6(udp6), 14 + 39),
    refusedBy: TC_PROGRAMS,
    expected: malformed(53),
  },
  {
    description: '802.1Q-tagged IPv4 header cut at 10 bytes is malformed (TC too)',
    packet: cut(eth({ type: ETH_P.IPV4, vlans: [7] }, udp4), 18 + 10),
    expected: malformed(28),
  },
  {
    description: 'IPv4 options cut: ihl 8 but only 24 header bytes',
    packet: cut(v4(ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: IPPROTO.UDP, options: ipv4RecordRoute(3) }, udp({ sport: 1, dport: 2 }))), 14 + 24),
    expected: malformed(38),
  },
  {
    description: 'IPv6 hop-by-hop header cut: 24 bytes declared, 16 present',
    packet: cut(ext6([hopByHop(24)]), 14 + 40 + 16),
    expected: malformed(70),
  },
  {
    description: 'IPv6 hop-by-hop header cut inside its first 8 bytes',
    packet: cut(ext6([hopByHop(8)]), 14 + 40 + 5),
    expected: malformed(59),
  },
  {
    description: 'IPv6 fragment header cut after 4 bytes',
    packet: cut(ext6([fragment({ more: true })]), 14 + 40 + 4),
    expected: malformed(58),
  },
  {
    description: 'IPv6 authentication header cut: 24 bytes declared, 12 present',
    packet: cut(ext6([ah()]), 14 + 40 + 12),
    expected: malformed(66),
  },
];

runFixtures(t, fixtures);
