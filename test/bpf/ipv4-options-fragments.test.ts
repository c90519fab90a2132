/**
 * IPv4 options and fragments: options are skipped to the transport header
 * (and counted in the bytes); a first fragment has ports, a non-first one
 * keeps its protocol with ports 0.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, IPV4_OPT_ROUTER_ALERT, data, eth, ipv4, ipv4RecordRoute, tcp, udp } from '../helpers/packets.js';
import { runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A = '192.0.2.1';
const B = '198.51.100.2';
const v4 = (payload: Buffer) => eth({ type: ETH_P.IPV4 }, payload);

const fixtures: Fixture[] = [
  {
    description: 'IPv4 with a Router Alert option (ihl 6) carrying UDP',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.UDP, options: IPV4_OPT_ROUTER_ALERT }, udp({ sport: 4000, dport: 4001 }, data(12)))),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A, dst: B, srcPort: 4000, dstPort: 4001, packets: 1, bytes: 24 + 8 + 12, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 with the longest header (ihl 15, Record Route) carrying TCP',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.TCP, options: ipv4RecordRoute(9) }, tcp({ sport: 22, dport: 50000, flags: TCP.ACK }, data(7)))),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A, dst: B, srcPort: 22, dstPort: 50000, packets: 1, bytes: 60 + 20 + 7, tcpFlags: 0x10 }] },
  },
  {
    description: 'IPv4 first fragment (MF, offset 0) has the UDP ports',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.UDP, mf: true, id: 7 }, udp({ sport: 7000, dport: 7001, length: 8 + 3000 }, data(1472)))),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A, dst: B, srcPort: 7000, dstPort: 7001, packets: 1, bytes: 1500, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 middle fragment (MF, offset 1480): protocol kept, ports 0',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.UDP, mf: true, fragOffset: 1480, id: 7 }, data(1480))),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 1500, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 last fragment (offset 2960, no MF): protocol kept, ports 0',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.UDP, fragOffset: 2960, id: 7 }, data(48))),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 68, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 non-first TCP fragment shorter than a TCP header: no ports, no flags, still a flow',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.TCP, fragOffset: 8 }, data(8))),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A, dst: B, srcPort: 0, dstPort: 0, packets: 1, bytes: 28, tcpFlags: 0 }] },
  },
  {
    description: 'IPv4 with DF set is an ordinary packet, not a fragment',
    packet: v4(ipv4({ src: A, dst: B, protocol: IPPROTO.UDP, df: true }, udp({ sport: 9, dport: 9 }))),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A, dst: B, srcPort: 9, dstPort: 9, packets: 1, bytes: 28, tcpFlags: 0 }] },
  },
];

runFixtures(t, fixtures);
