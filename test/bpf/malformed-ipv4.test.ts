/**
 * IPv4 frames whose headers are inconsistent are malformed, counted per
 * interface and direction with their frame length: garbage, a bad version,
 * ihl < 5, tot_len beyond the frame or short of the headers, TCP doff < 5.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, corrupt, data, eth, garbage, ipv4, ipv4RecordRoute, pad, tcp, udp } from '../helpers/packets.js';
import { malformed, runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A = { src: '192.0.2.1', dst: '192.0.2.2' };
const v4 = (p: Buffer) => eth({ type: ETH_P.IPV4 }, p);
const junk = garbage(46); // first byte 0x3a: version 3
const tcpAck = (o: Partial<Parameters<typeof ipv4>[0]> = {}, doff?: number) =>
  v4(ipv4({ ...A, protocol: IPPROTO.TCP, ...o }, tcp({ sport: 1, dport: 2, flags: TCP.ACK, doff })));

const fixtures: Fixture[] = [
  {
    description: 'garbage after an IPv4 Ethernet type (version nibble 3)',
    packet: v4(junk),
    expected: malformed(60),
  },
  {
    description: 'garbage that starts like an IPv4 header (0x45): its tot_len (44070) runs past the frame',
    packet: v4(corrupt(junk, 0, 0x45)),
    expected: malformed(60),
  },
  {
    description: 'version 6 in an IPv4 header',
    packet: v4(ipv4({ ...A, protocol: IPPROTO.UDP, version: 6 }, udp({ sport: 1, dport: 2 }))),
    expected: malformed(42),
  },
  {
    description: 'an all-zero IPv4 header (version 0)',
    packet: v4(Buffer.alloc(40)),
    expected: malformed(54),
  },
  {
    description: 'ihl 4 (< 5)',
    packet: tcpAck({ ihl: 4 }),
    expected: malformed(54),
  },
  {
    description: 'ihl 0',
    packet: tcpAck({ ihl: 0 }),
    expected: malformed(54),
  },
  {
    description: 'tot_len 1500 in a 60-byte frame',
    packet: pad(tcpAck({ totLen: 1500 })),
    expected: malformed(60),
  },
  {
    description: 'tot_len 19, smaller than the 20-byte header',
    packet: tcpAck({ totLen: 19 }),
    expected: malformed(54),
  },
  {
    description: 'tot_len 0 (no GSO to excuse it)',
    packet: tcpAck({ totLen: 0 }),
    expected: malformed(54),
  },
  {
    description: 'tot_len 20: the TCP header lies beyond the IP length',
    packet: tcpAck({ totLen: 20 }),
    expected: malformed(54),
  },
  {
    description: 'ihl 15 (60-byte header) with tot_len 40',
    packet: v4(ipv4({ ...A, protocol: IPPROTO.UDP, options: ipv4RecordRoute(9), totLen: 40 }, udp({ sport: 1, dport: 2 }))),
    expected: malformed(82),
  },
  {
    description: 'TCP doff 4 (< 5)',
    packet: tcpAck({}, 4),
    expected: malformed(54),
  },
  {
    description: 'TCP doff 0 with data',
    packet: v4(ipv4({ ...A, protocol: IPPROTO.TCP }, tcp({ sport: 1, dport: 2, doff: 0 }, data(10)))),
    expected: malformed(64),
  },
];

runFixtures(t, fixtures);
