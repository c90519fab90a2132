/**
 * Flow bytes are L3 bytes: IPv4 tot_len, IPv6 payload_len + 40. Ethernet
 * padding, trailing bytes past the IP length and the Ethernet header itself
 * are not counted.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, data, eth, ipv4, ipv6, pad, tcp, udp } from '../helpers/packets.js';
import { runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A4 = '192.0.2.1';
const B4 = '192.0.2.2';
const A6 = '2001:db8::1';
const B6 = '2001:db8::2';
const ack4 = eth({ type: ETH_P.IPV4 }, ipv4({ src: A4, dst: B4, protocol: IPPROTO.TCP }, tcp({ sport: 443, dport: 50000, flags: TCP.ACK })));

const fixtures: Fixture[] = [
  {
    description: 'a 60-byte frame carrying a 40-byte IPv4 TCP ACK: 40 bytes, not 60 or 46',
    packet: pad(ack4),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A4, dst: B4, srcPort: 443, dstPort: 50000, packets: 1, bytes: 40, tcpFlags: 0x10 }] },
  },
  {
    description: 'a 60-byte frame carrying a 28-byte IPv4 UDP packet: 28 bytes',
    packet: pad(eth({ type: ETH_P.IPV4 }, ipv4({ src: A4, dst: B4, protocol: IPPROTO.UDP }, udp({ sport: 7, dport: 7 })))),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A4, dst: B4, srcPort: 7, dstPort: 7, packets: 1, bytes: 28, tcpFlags: 0 }] },
  },
  {
    description: '100 trailing bytes after an IPv4 packet are not counted',
    packet: Buffer.concat([ack4, data(100)]),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A4, dst: B4, srcPort: 443, dstPort: 50000, packets: 1, bytes: 40, tcpFlags: 0x10 }] },
  },
  {
    description: 'an unpadded 74-byte frame with a 60-byte IPv6 TCP ACK: 60 bytes',
    packet: eth({ type: ETH_P.IPV6 }, ipv6({ src: A6, dst: B6, protocol: IPPROTO.TCP }, tcp({ sport: 443, dport: 50000, flags: TCP.ACK }))),
    expected: { flows: [{ ipVersion: 6, protocol: 6, src: A6, dst: B6, srcPort: 443, dstPort: 50000, packets: 1, bytes: 60, tcpFlags: 0x10 }] },
  },
  {
    description: 'a 56-byte frame with a 42-byte IPv6 packet (experimental protocol 253) padded to 60: 42 bytes',
    packet: pad(eth({ type: ETH_P.IPV6 }, ipv6({ src: A6, dst: B6, protocol: 253 }, data(2)))),
    expected: { flows: [{ ipVersion: 6, protocol: 253, src: A6, dst: B6, srcPort: 0, dstPort: 0, packets: 1, bytes: 42, tcpFlags: 0 }] },
  },
  {
    description: 'an IPv6 header alone (next header 59, payload_len 0) padded to 60: 40 bytes',
    packet: pad(eth({ type: ETH_P.IPV6 }, ipv6({ src: A6, dst: B6, protocol: IPPROTO.NONE }))),
    expected: { flows: [{ ipVersion: 6, protocol: 59, src: A6, dst: B6, srcPort: 0, dstPort: 0, packets: 1, bytes: 40, tcpFlags: 0 }] },
  },
  {
    description: 'the VLAN tag and the padding of a tagged 64-byte frame are not counted',
    packet: pad(eth({ type: ETH_P.IPV4, vlans: [42] }, ipv4({ src: A4, dst: B4, protocol: IPPROTO.UDP }, udp({ sport: 7, dport: 7 }, data(2)))), 64),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A4, dst: B4, srcPort: 7, dstPort: 7, packets: 1, bytes: 30, tcpFlags: 0 }] },
  },
];

runFixtures(t, fixtures);
