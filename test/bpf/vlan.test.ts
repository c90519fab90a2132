/**
 * VLAN-tagged frames: one 802.1Q tag or an 802.1ad + 802.1Q pair (QinQ) is
 * skipped to the IP header, and the tags are not counted in the L3 bytes.
 * Anything deeper is not IP; a cut tag is malformed (frame bytes).
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, arp, cut, data, eth, icmpv6, ipv4, ipv6, pad, tcp, udp } from '../helpers/packets.js';
import { malformed, nonIp, runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A4 = '10.1.2.3';
const B4 = '10.4.5.6';
const A6 = 'fd00::a';
const B6 = 'fd00::b';
const tcp4 = ipv4({ src: A4, dst: B4, protocol: IPPROTO.TCP }, tcp({ sport: 3306, dport: 41000, flags: TCP.ACK }, data(60)));
const udp4 = ipv4({ src: A4, dst: B4, protocol: IPPROTO.UDP }, udp({ sport: 67, dport: 68 }, data(100)));
const udp6 = ipv6({ src: A6, dst: B6, protocol: IPPROTO.UDP }, udp({ sport: 547, dport: 546 }, data(50)));
const echo6 = ipv6({ src: A6, dst: B6, protocol: IPPROTO.ICMPV6 }, icmpv6({ type: 128 }, data(12)));

const fixtures: Fixture[] = [
  {
    description: '802.1Q IPv4 TCP: the tag is skipped and not counted',
    packet: eth({ type: ETH_P.IPV4, vlans: [100] }, tcp4),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A4, dst: B4, srcPort: 3306, dstPort: 41000, packets: 1, bytes: 100, tcpFlags: 0x10 }] },
  },
  {
    description: '802.1Q IPv6 UDP',
    packet: eth({ type: ETH_P.IPV6, vlans: [4094] }, udp6),
    expected: { flows: [{ ipVersion: 6, protocol: 17, src: A6, dst: B6, srcPort: 547, dstPort: 546, packets: 1, bytes: 98, tcpFlags: 0 }] },
  },
  {
    description: 'QinQ (802.1ad + 802.1Q) IPv4 UDP',
    packet: eth({ type: ETH_P.IPV4, vlans: [10, 20] }, udp4),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A4, dst: B4, srcPort: 67, dstPort: 68, packets: 1, bytes: 128, tcpFlags: 0 }] },
  },
  {
    description: 'QinQ (802.1ad + 802.1Q) IPv6 ICMPv6 echo',
    packet: eth({ type: ETH_P.IPV6, vlans: [10, 20] }, echo6),
    expected: { flows: [{ ipVersion: 6, protocol: 58, src: A6, dst: B6, srcPort: 128, dstPort: 0, packets: 1, bytes: 56, tcpFlags: 0 }] },
  },
  {
    description: 'two 802.1Q tags (0x8100 outer, pre-802.1ad QinQ) IPv4 TCP',
    packet: eth({ type: ETH_P.IPV4, vlans: [10, 20], tpids: [ETH_P.VLAN, ETH_P.VLAN] }, tcp4),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A4, dst: B4, srcPort: 3306, dstPort: 41000, packets: 1, bytes: 100, tcpFlags: 0x10 }] },
  },
  {
    description: '802.1Q frame padded to 64 bytes carrying a 40-byte TCP ACK: 40 bytes',
    packet: pad(eth({ type: ETH_P.IPV4, vlans: [100] }, ipv4({ src: A4, dst: B4, protocol: IPPROTO.TCP }, tcp({ sport: 1, dport: 2, flags: TCP.ACK }))), 64),
    expected: { flows: [{ ipVersion: 4, protocol: 6, src: A4, dst: B4, srcPort: 1, dstPort: 2, packets: 1, bytes: 40, tcpFlags: 0x10 }] },
  },
  {
    description: 'QinQ frame padded to 64 bytes carrying a 28-byte UDP packet: 28 bytes',
    packet: pad(eth({ type: ETH_P.IPV4, vlans: [10, 20] }, ipv4({ src: A4, dst: B4, protocol: IPPROTO.UDP }, udp({ sport: 1, dport: 2 }))), 64),
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A4, dst: B4, srcPort: 1, dstPort: 2, packets: 1, bytes: 28, tcpFlags: 0 }] },
  },
  {
    description: '802.1Q ARP is not IP (frame bytes, tag included)',
    packet: eth({ type: ETH_P.ARP, vlans: [100] }, arp({ senderIp: A4, targetIp: B4 })),
    expected: nonIp(14 + 4 + 28),
  },
  {
    description: 'three tags: only two are parsed, so the frame is not IP',
    packet: eth({ type: ETH_P.IPV4, vlans: [1, 2, 3], tpids: [ETH_P.QINQ, ETH_P.VLAN, ETH_P.VLAN] }, udp4),
    expected: nonIp(14 + 12 + 128),
  },
  {
    description: '802.1Q tag cut after 2 bytes (16-byte frame) is malformed',
    packet: cut(eth({ type: ETH_P.IPV4, vlans: [100] }, udp4), 16),
    expected: malformed(16),
  },
  {
    description: 'QinQ inner tag cut (20-byte frame) is malformed',
    packet: cut(eth({ type: ETH_P.IPV4, vlans: [10, 20] }, udp4), 20),
    expected: malformed(20),
  },
  {
    description: '802.1Q with the IPv6 header cut is malformed',
    packet: cut(eth({ type: ETH_P.IPV6, vlans: [100] }, udp6), 18 + 39),
    expected: malformed(57),
  },
];

runFixtures(t, fixtures);
