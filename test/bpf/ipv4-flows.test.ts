/**
 * IPv4 packets become flow records: TCP (ports, ORed flags), UDP, ICMP (type
 * and code in the ports; errors counted as ICMP between the outer addresses)
 * and other protocols (ports 0), through XDP and both TC hooks. Bytes are tot_len.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, TCP_OPT_SYN, TCP_OPT_TIMESTAMPS, data, eth, gre, icmp, ipv4, sctp, tcp, udp } from '../helpers/packets.js';
import { runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A = '192.0.2.1';
const B = '198.51.100.2';
const v4 = (payload: Buffer) => eth({ type: ETH_P.IPV4 }, payload);

const fixtures: Fixture[] = [
  {
    description: 'IPv4 TCP SYN with options: ports, flags, L3 bytes',
    // 20 IP + 40 TCP (20 bytes of options)
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.TCP },
      tcp({ sport: 40000, dport: 443, flags: TCP.SYN, options: TCP_OPT_SYN }))),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A, dst: B, srcPort: 40000, dstPort: 443, packets: 1, bytes: 60, tcpFlags: 0x02 }] },
  },
  {
    description: 'IPv4 TCP PSH|ACK with timestamps and 100 bytes of data',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.TCP },
      tcp({ sport: 40000, dport: 443, flags: TCP.PSH | TCP.ACK, options: TCP_OPT_TIMESTAMPS }, data(100)))),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A, dst: B, srcPort: 40000, dstPort: 443, packets: 1, bytes: 152, tcpFlags: 0x18 }] },
  },
  {
    description: 'IPv4 TCP: the flags of a SYN, an ACK and a FIN|ACK are ORed into one flow',
    packet: [
      v4(ipv4({ src: A, dst: B, protocol: IPPROTO.TCP }, tcp({ sport: 40001, dport: 80, flags: TCP.SYN }))),
      v4(ipv4({ src: A, dst: B, protocol: IPPROTO.TCP }, tcp({ sport: 40001, dport: 80, flags: TCP.ACK }, data(10)))),
      v4(ipv4({ src: A, dst: B, protocol: IPPROTO.TCP }, tcp({ sport: 40001, dport: 80, flags: TCP.FIN | TCP.ACK }))),
    ],
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A, dst: B, srcPort: 40001, dstPort: 80, packets: 3, bytes: 40 + 50 + 40, tcpFlags: 0x13 }] },
  },
  {
    description: 'IPv4 TCP with every flag bit (ECE, CWR, URG, RST) set',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.TCP }, tcp({ sport: 1, dport: 65535, flags: 0xff }))),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A, dst: B, srcPort: 1, dstPort: 65535, packets: 1, bytes: 40, tcpFlags: 0xff }] },
  },
  {
    description: 'IPv4 UDP to a multicast group',
    packet: v4(ipv4({ src: A, dst: '224.0.0.251', protocol: IPPROTO.UDP }, udp({ sport: 5353, dport: 5353 }, data(30)))),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A, dst: '224.0.0.251', srcPort: 5353, dstPort: 5353, packets: 1, bytes: 58, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 UDP with an empty payload',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.UDP }, udp({ sport: 123, dport: 123 }))),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A, dst: B, srcPort: 123, dstPort: 123, packets: 1, bytes: 28, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 ICMP echo request: type 8 code 0 in the ports',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.ICMP }, icmp({ type: 8, rest: 0x00010001 }, data(56)))),
    expected: { flows: [{ ipVersion: 4, protocol: 1, src: A, dst: B, srcPort: 8, dstPort: 0, packets: 1, bytes: 84, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 ICMP echo reply: type 0 code 0',
    packet: v4(ipv4({ src: B, dst: A, protocol: IPPROTO.ICMP }, icmp({ type: 0, rest: 0x00010001 }, data(56)))),
    expected: { flows: [{ ipVersion: 4, protocol: 1, src: B, dst: A, srcPort: 0, dstPort: 0, packets: 1, bytes: 84, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 ICMP destination unreachable (port) counts as type 3 code 3 between the outer addresses, not as the quoted UDP flow',
    packet: v4(ipv4({ src: B, dst: A, protocol: IPPROTO.ICMP }, icmp({ type: 3, code: 3 },
      // the offending packet: its IP header and the first 8 bytes (the UDP header)
      ipv4({ src: A, dst: B, protocol: IPPROTO.UDP, totLen: 20 + 8 + 32 }, udp({ sport: 5000, dport: 53, length: 8 + 32 }))))),
    expected: { flows: [{ ipVersion: 4, protocol: 1, src: B, dst: A, srcPort: 3, dstPort: 3, packets: 1, bytes: 20 + 8 + 28, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 ICMP time exceeded quoting a TCP segment: type 11 code 0',
    packet: v4(ipv4({ src: '203.0.113.254', dst: A, protocol: IPPROTO.ICMP }, icmp({ type: 11, code: 0 },
      ipv4({ src: A, dst: B, protocol: IPPROTO.TCP, ttl: 1 }, tcp({ sport: 40002, dport: 443, flags: TCP.SYN }, data(100))).subarray(0, 28)))),
    expected: { flows: [{ ipVersion: 4, protocol: 1, src: '203.0.113.254', dst: A, srcPort: 11, dstPort: 0, packets: 1, bytes: 56, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 GRE (47): ports 0',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.GRE }, gre(ETH_P.IPV4, ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: IPPROTO.UDP }, udp({ sport: 1, dport: 2 }))))),
    expected: { flows: [{ ipVersion: 4, protocol: 47, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 20 + 4 + 28, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 SCTP (132): its ports are not read',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.SCTP }, sctp({ sport: 3868, dport: 3868 }, data(16)))),
    expected: { flows: [{ ipVersion: 4, protocol: 132, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 48, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 ESP (50): ports 0',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.ESP }, data(64))),
    expected: { flows: [{ ipVersion: 4, protocol: 50, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 84, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 with an empty payload (protocol 255): 20 bytes',
    packet: v4(ipv4({ src: '0.0.0.0', dst: '255.255.255.255', protocol: 255 })),
    expected: { flows: [{ ipVersion: 4, protocol: 255, src: '0.0.0.0', dst: '255.255.255.255', srcPort: 0, dstPort: 0, packets: 1, bytes: 20, tcpFlags: 0 }] },
  },
];

runFixtures(t, fixtures);
