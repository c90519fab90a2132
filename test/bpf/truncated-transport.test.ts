/**
 * Frames cut inside the transport header, or whose IP length runs past the
 * end of the frame (a cut payload), are malformed: counted per interface and
 * direction with their frame length, never as flows.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, TCP_OPT_TIMESTAMPS, cut, data, eth, icmp, icmpv6, ipv4, ipv6, tcp, udp } from '../helpers/packets.js';
import { malformed, runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A4 = { src: '192.0.2.1', dst: '192.0.2.2' };
const A6 = { src: '2001:db8::1', dst: '2001:db8::2' };
const v4 = (p: Buffer) => eth({ type: ETH_P.IPV4 }, p);
const v6 = (p: Buffer) => eth({ type: ETH_P.IPV6 }, p);
const tcp4 = v4(ipv4({ ...A4, protocol: IPPROTO.TCP }, tcp({ sport: 1, dport: 2, flags: TCP.ACK, options: TCP_OPT_TIMESTAMPS }, data(100))));
const tcp6 = v6(ipv6({ ...A6, protocol: IPPROTO.TCP }, tcp({ sport: 1, dport: 2, flags: TCP.ACK }, data(100))));

const fixtures: Fixture[] = [
  {
    description: 'IPv4 TCP header cut after 10 bytes',
    packet: cut(tcp4, 14 + 20 + 10),
    expected: malformed(44),
  },
  {
    description: 'IPv4 TCP options cut: doff 8, 24 header bytes present',
    packet: cut(tcp4, 14 + 20 + 24),
    expected: malformed(58),
  },
  {
    description: 'IPv4 UDP header cut after 4 bytes',
    packet: cut(v4(ipv4({ ...A4, protocol: IPPROTO.UDP }, udp({ sport: 53, dport: 53 }, data(30)))), 14 + 20 + 4),
    expected: malformed(38),
  },
  {
    description: 'IPv4 ICMP header cut after 6 bytes',
    packet: cut(v4(ipv4({ ...A4, protocol: IPPROTO.ICMP }, icmp({ type: 8 }, data(56)))), 14 + 20 + 6),
    expected: malformed(40),
  },
  {
    description: 'IPv6 TCP header cut after 19 bytes',
    packet: cut(tcp6, 14 + 40 + 19),
    expected: malformed(73),
  },
  {
    description: 'IPv6 UDP header cut after 7 bytes',
    packet: cut(v6(ipv6({ ...A6, protocol: IPPROTO.UDP }, udp({ sport: 53, dport: 53 }, data(30)))), 14 + 40 + 7),
    expected: malformed(61),
  },
  {
    description: 'IPv6 ICMPv6 header cut after 2 bytes',
    packet: cut(v6(ipv6({ ...A6, protocol: IPPROTO.ICMPV6 }, icmpv6({ type: 128 }, data(8)))), 14 + 40 + 2),
    expected: malformed(56),
  },
  {
    description: 'IPv4 payload cut: tot_len 152 in a frame holding 100 L3 bytes',
    packet: cut(tcp4, 14 + 100),
    expected: malformed(114),
  },
  {
    description: 'IPv6 payload cut: payload_len 120 in a frame holding 100 L3 bytes',
    packet: cut(tcp6, 14 + 100),
    expected: malformed(114),
  },
  {
    description: 'IPv4 payload cut by one byte',
    packet: cut(tcp4, tcp4.length - 1),
    expected: malformed(165),
  },
];

runFixtures(t, fixtures);
