/**
 * IPv6 packets become flow records: TCP, UDP, ICMPv6 (type and code in the
 * ports, errors counted as ICMPv6 between the outer addresses) and other
 * protocols (ports 0), through XDP and both TC hooks. Bytes are payload_len + 40.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, TCP_OPT_SYN, TCP_OPT_TIMESTAMPS, data, eth, gre, icmpv6, ipv6, tcp, udp } from '../helpers/packets.js';
import { runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A = '2001:db8::1';
const B = '2001:db8:0:1::2';
const v6 = (payload: Buffer) => eth({ type: ETH_P.IPV6 }, payload);

const fixtures: Fixture[] = [
  {
    description: 'IPv6 TCP SYN with options',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.TCP }, tcp({ sport: 50000, dport: 443, flags: TCP.SYN, options: TCP_OPT_SYN }))),
    expected: { flows: [{ ipVersion: 6, protocol: 6, src: A, dst: B, srcPort: 50000, dstPort: 443, packets: 1, bytes: 80, tcpFlags: 0x02 }] },
  },
  {
    description: 'IPv6 TCP ACK with timestamps and data',
    packet: v6(ipv6({ src: B, dst: A, protocol: IPPROTO.TCP }, tcp({ sport: 443, dport: 50000, flags: TCP.ACK | TCP.PSH, options: TCP_OPT_TIMESTAMPS }, data(1000)))),
    expected: { flows: [{ ipVersion: 6, protocol: 6, src: B, dst: A, srcPort: 443, dstPort: 50000, packets: 1, bytes: 40 + 32 + 1000, tcpFlags: 0x18 }] },
  },
  {
    description: 'IPv6 UDP, link-local to multicast',
    packet: v6(ipv6({ src: 'fe80::1', dst: 'ff02::fb', protocol: IPPROTO.UDP }, udp({ sport: 5353, dport: 5353 }, data(33)))),
    expected: { flows: [{ ipVersion: 6, protocol: 17, src: 'fe80::1', dst: 'ff02::fb', srcPort: 5353, dstPort: 5353, packets: 1, bytes: 81, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 ICMPv6 echo request: type 128 code 0',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.ICMPV6 }, icmpv6({ type: 128 }, data(60)))),
    expected: { flows: [{ ipVersion: 6, protocol: 58, src: A, dst: B, srcPort: 128, dstPort: 0, packets: 1, bytes: 104, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 ICMPv6 echo reply: type 129 code 0',
    packet: v6(ipv6({ src: B, dst: A, protocol: IPPROTO.ICMPV6 }, icmpv6({ type: 129 }, data(60)))),
    expected: { flows: [{ ipVersion: 6, protocol: 58, src: B, dst: A, srcPort: 129, dstPort: 0, packets: 1, bytes: 104, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 ICMPv6 destination unreachable (port) counts as type 1 code 4 between the outer addresses, not as the quoted UDP flow',
    packet: v6(ipv6({ src: B, dst: A, protocol: IPPROTO.ICMPV6 }, icmpv6({ type: 1, code: 4 },
      Buffer.concat([Buffer.alloc(4), ipv6({ src: A, dst: B, protocol: IPPROTO.UDP }, udp({ sport: 5000, dport: 53 }, data(16)))])))),
    expected: { flows: [{ ipVersion: 6, protocol: 58, src: B, dst: A, srcPort: 1, dstPort: 4, packets: 1, bytes: 40 + 8 + 64, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 neighbour solicitation: type 135',
    packet: v6(ipv6({ src: 'fe80::1', dst: 'ff02::1:ff00:2', protocol: IPPROTO.ICMPV6, hopLimit: 255 }, icmpv6({ type: 135 }, data(28)))),
    expected: { flows: [{ ipVersion: 6, protocol: 58, src: 'fe80::1', dst: 'ff02::1:ff00:2', srcPort: 135, dstPort: 0, packets: 1, bytes: 72, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 GRE (47): ports 0',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.GRE }, gre(ETH_P.IPV6, data(40)))),
    expected: { flows: [{ ipVersion: 6, protocol: 47, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 84, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 ESP (50): ports 0',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.ESP }, data(64))),
    expected: { flows: [{ ipVersion: 6, protocol: 50, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 104, tcpFlags: 0 }] },
  },
];

runFixtures(t, fixtures);
