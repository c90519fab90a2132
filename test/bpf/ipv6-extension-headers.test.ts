/**
 * IPv6 extension headers: hop-by-hop, routing, destination options, fragment
 * and AH are walked (alone and chained, up to 8) to the upper-layer protocol;
 * a non-first fragment keeps the fragment header's next header and has no
 * ports; a 9th extension header makes the packet malformed. Bytes are
 * payload_len + 40, extension headers included.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, ah, data, destOpts, eth, fragment, hopByHop, icmpv6, ipv6, routing, sctp, tcp, udp,
  type Ipv6Ext } from '../helpers/packets.js';
import { malformed, runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A = '2001:db8::1';
const B = '2001:db8:0:1::2';
const v6 = (payload: Buffer) => eth({ type: ETH_P.IPV6 }, payload);
const udpFlow = (bytes: number) =>
  ({ ipVersion: 6 as const, protocol: 17, src: A, dst: B, srcPort: 5000, dstPort: 6000, packets: 1, bytes, tcpFlags: 0 });
const udp6 = (ext: Ipv6Ext[], payload = data(20)) =>
  v6(ipv6({ src: A, dst: B, protocol: IPPROTO.UDP, ext }, udp({ sport: 5000, dport: 6000 }, payload)));

const fixtures: Fixture[] = [
  {
    description: 'IPv6 hop-by-hop (Router Alert) + ICMPv6 MLDv2 report',
    packet: v6(ipv6({ src: 'fe80::1', dst: 'ff02::16', protocol: IPPROTO.ICMPV6, ext: [hopByHop()], hopLimit: 1 }, icmpv6({ type: 143 }, data(24)))),
    expected: { flows: [{ ipVersion: 6, protocol: 58, src: 'fe80::1', dst: 'ff02::16', srcPort: 143, dstPort: 0, packets: 1, bytes: 40 + 8 + 28, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 hop-by-hop of 24 bytes + UDP',
    packet: udp6([hopByHop(24)]),
    expected: { flows: [udpFlow(40 + 24 + 28)] },
  },
  {
    description: 'IPv6 routing header (SRH, 2 segments) + TCP',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.TCP, ext: [routing(['2001:db8::a', '2001:db8::b'])] }, tcp({ sport: 1000, dport: 2000, flags: TCP.ACK }))),
    expected: { flows: [{ ipVersion: 6, protocol: 6, src: A, dst: B, srcPort: 1000, dstPort: 2000, packets: 1, bytes: 40 + 40 + 20, tcpFlags: 0x10 }] },
  },
  {
    description: 'IPv6 destination options + UDP',
    packet: udp6([destOpts(16)]),
    expected: { flows: [udpFlow(40 + 16 + 28)] },
  },
  {
    description: 'IPv6 authentication header + TCP',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.TCP, ext: [ah()] }, tcp({ sport: 179, dport: 40000, flags: TCP.ACK | TCP.PSH }, data(19)))),
    expected: { flows: [{ ipVersion: 6, protocol: 6, src: A, dst: B, srcPort: 179, dstPort: 40000, packets: 1, bytes: 40 + 24 + 20 + 19, tcpFlags: 0x18 }] },
  },
  {
    description: 'IPv6 first fragment (offset 0, M) + UDP has the ports',
    packet: udp6([fragment({ more: true })], data(1000)),
    expected: { flows: [udpFlow(40 + 8 + 8 + 1000)] },
  },
  {
    description: 'IPv6 non-first fragment (offset 1232): protocol from the fragment header, ports 0',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.UDP, ext: [fragment({ offset: 1232 })] }, data(100))),
    expected: { flows: [{ ipVersion: 6, protocol: 17, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 40 + 8 + 100, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 non-first fragment behind hop-by-hop and routing headers',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.TCP, ext: [hopByHop(), routing(['2001:db8::a']), fragment({ offset: 8, more: true })] }, data(16))),
    expected: { flows: [{ ipVersion: 6, protocol: 6, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 40 + 8 + 24 + 8 + 16, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 chain: hop-by-hop, destination options, routing, fragment (first), AH, destination options, then TCP',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.TCP,
      ext: [hopByHop(), destOpts(), routing(['2001:db8::a']), fragment({ more: true }), ah(), destOpts(16)] },
    tcp({ sport: 8080, dport: 9090, flags: TCP.SYN | TCP.ACK }))),
    expected: { flows: [{ ipVersion: 6, protocol: 6, src: A, dst: B, srcPort: 8080, dstPort: 9090, packets: 1, bytes: 40 + (8 + 8 + 24 + 8 + 24 + 16) + 20, tcpFlags: 0x12 }] },
  },
  {
    description: 'IPv6 with 8 extension headers (the most walked) + UDP is still a flow',
    packet: udp6([hopByHop(), destOpts(), routing(['2001:db8::a']), destOpts(), ah(), destOpts(), fragment(), destOpts()]),
    expected: { flows: [udpFlow(40 + (8 + 8 + 24 + 8 + 24 + 8 + 8 + 8) + 28)] },
  },
  {
    description: 'IPv6 with 9 extension headers is malformed',
    packet: udp6([hopByHop(), destOpts(), destOpts(), destOpts(), destOpts(), destOpts(), destOpts(), destOpts(), destOpts()]),
    expected: malformed(14 + 40 + 9 * 8 + 28),
  },
  {
    description: 'IPv6 SCTP (132) behind destination options: ports 0',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.SCTP, ext: [destOpts()] }, sctp({ sport: 38412, dport: 38412 }, data(4)))),
    expected: { flows: [{ ipVersion: 6, protocol: 132, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 40 + 8 + 16, tcpFlags: 0 }] },
  },
  {
    description: 'IPv6 no next header (59) after destination options',
    packet: v6(ipv6({ src: A, dst: B, protocol: IPPROTO.NONE, ext: [destOpts()] })),
    expected: { flows: [{ ipVersion: 6, protocol: 59, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 48, tcpFlags: 0 }] },
  },
];

runFixtures(t, fixtures);
