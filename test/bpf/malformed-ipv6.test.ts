/**
 * IPv6 frames whose headers are inconsistent are malformed, counted per
 * interface and direction with their frame length: garbage, a bad version,
 * payload_len beyond the frame or short of the headers, more extension
 * headers than are walked, TCP doff < 5.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, data, destOpts, eth, fragment, garbage, hopByHop, ipv4, ipv6, tcp, udp } from '../helpers/packets.js';
import { malformed, runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A = { src: '2001:db8::1', dst: '2001:db8::2' };
const v6 = (p: Buffer) => eth({ type: ETH_P.IPV6 }, p);
const udp6 = (o: Partial<Parameters<typeof ipv6>[0]> = {}) =>
  v6(ipv6({ ...A, protocol: IPPROTO.UDP, ...o }, udp({ sport: 1, dport: 2 }, data(12))));

const fixtures: Fixture[] = [
  {
    description: 'garbage after an IPv6 Ethernet type (version nibble 2)',
    packet: v6(garbage(60, 42)),
    expected: malformed(74),
  },
  {
    description: 'an IPv4 packet (version 4) after an IPv6 Ethernet type',
    packet: v6(ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: IPPROTO.TCP }, tcp({ sport: 1, dport: 2 }, data(20)))),
    expected: malformed(74),
  },
  {
    description: 'version 5 in an IPv6 header',
    packet: udp6({ version: 5 }),
    expected: malformed(74),
  },
  {
    description: 'payload_len 1000 in a 74-byte frame',
    packet: udp6({ payloadLen: 1000 }),
    expected: malformed(74),
  },
  {
    description: 'payload_len 4: the UDP header lies beyond the IP length',
    packet: udp6({ payloadLen: 4 }),
    expected: malformed(74),
  },
  {
    description: 'payload_len 0 with a UDP packet after the header (no GSO, no jumbo length to trust)',
    packet: udp6({ payloadLen: 0 }),
    expected: malformed(74),
  },
  {
    description: 'payload_len 0 behind a hop-by-hop header (a jumbogram without GSO)',
    packet: v6(ipv6({ ...A, protocol: IPPROTO.UDP, ext: [hopByHop(8, Buffer.from([0xc2, 4, 0, 0, 0, 48]))], payloadLen: 0 },
      udp({ sport: 1, dport: 2 }, data(32)))),
    expected: malformed(102),
  },
  {
    description: 'nine extension headers, the ninth a fragment header',
    packet: udp6({ ext: [destOpts(), destOpts(), destOpts(), destOpts(), destOpts(), destOpts(), destOpts(), destOpts(), fragment()] }),
    expected: malformed(74 + 9 * 8),
  },
  {
    description: 'IPv6 TCP doff 4 (< 5)',
    packet: v6(ipv6({ ...A, protocol: IPPROTO.TCP }, tcp({ sport: 1, dport: 2, flags: TCP.ACK, doff: 4 }))),
    expected: malformed(74),
  },
];

runFixtures(t, fixtures);
