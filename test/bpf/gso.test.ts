/**
 * GSO/GRO super-packets (TC only: the skb's gso_segs/gso_size) count as the
 * wire packets they stand for, and their bytes as the L3 bytes of those
 * packets: l3_len + (segs - 1) x (IP header + L4 header). With gso_segs 0 the
 * segments are computed from the payload and gso_size.
 *
 * Test-run skbs are linear and at most ~3.7 KB, so the super-packets here are
 * 2 to 4 segments. Each super-packet also adds its segments beyond the first
 * and their headers to iface_counters.gso_added_* (for reconciliation).
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, TCP_OPT_TIMESTAMPS, data, eth, ipv4, ipv6, tcp, udp } from '../helpers/packets.js';
import { requireKernel } from '../helpers/kernel.js';
import { TC_PROGRAMS, drain, openCollector, runFixtures, type Fixture } from '../helpers/bpf-fixtures.js';

const A4 = '10.0.0.1';
const B4 = '10.0.0.2';
const A6 = 'fd00::1';
const B6 = 'fd00::2';
/** IPv4 TCP with timestamps: 20 + 32 header bytes, then `payload` bytes. */
const tcp4 = (payload: number, o: { totLen?: number; vlans?: number[] } = {}) =>
  eth({ type: ETH_P.IPV4, vlans: o.vlans }, ipv4({ src: A4, dst: B4, protocol: IPPROTO.TCP, totLen: o.totLen },
    tcp({ sport: 5201, dport: 40000, flags: TCP.PSH | TCP.ACK, options: TCP_OPT_TIMESTAMPS }, data(payload))));
/** IPv6 TCP with timestamps: 40 + 32 header bytes. */
const tcp6 = (payload: number, payloadLen?: number) =>
  eth({ type: ETH_P.IPV6 }, ipv6({ src: A6, dst: B6, protocol: IPPROTO.TCP, payloadLen },
    tcp({ sport: 5201, dport: 40000, flags: TCP.ACK, options: TCP_OPT_TIMESTAMPS }, data(payload))));
const flow4 = (packets: number, bytes: number) =>
  ({ ipVersion: 4 as const, protocol: 6, src: A4, dst: B4, srcPort: 5201, dstPort: 40000, packets, bytes, tcpFlags: 0x18 });
const flow6 = (packets: number, bytes: number) =>
  ({ ipVersion: 6 as const, protocol: 6, src: A6, dst: B6, srcPort: 5201, dstPort: 40000, packets, bytes, tcpFlags: 0x10 });

const fixtures: Fixture[] = [
  {
    description: 'IPv4 TCP, gso_segs 2 x 1448: 2 packets, 2948 + 52 bytes',
    packet: tcp4(2 * 1448),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 2, gsoSize: 1448 },
    expected: { flows: [flow4(2, 2948 + 52)], gsoAdded: { packets: 1, bytes: 52 } },
  },
  {
    description: 'IPv4 TCP, gso_segs 3 x 1200: 3 packets, 3652 + 2 x 52 bytes',
    packet: tcp4(3 * 1200),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 3, gsoSize: 1200 },
    expected: { flows: [flow4(3, 3652 + 2 * 52)], gsoAdded: { packets: 2, bytes: 2 * 52 } },
  },
  {
    description: 'IPv4 TCP, gso_segs 0 with gso_size 1200 and 3600 bytes of payload: 3 segments computed',
    packet: tcp4(3 * 1200),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 0, gsoSize: 1200 },
    expected: { flows: [flow4(3, 3652 + 2 * 52)], gsoAdded: { packets: 2, bytes: 2 * 52 } },
  },
  {
    description: 'IPv4 TCP, gso_segs 0 with gso_size 1000 and 3600 bytes of payload: 4 segments (the last one short)',
    packet: tcp4(3600),
    programs: TC_PROGRAMS,
    options: { gsoSize: 1000 },
    expected: { flows: [flow4(4, 3652 + 3 * 52)], gsoAdded: { packets: 3, bytes: 3 * 52 } },
  },
  {
    description: 'IPv4 TCP, gso_segs 1: one packet, its own bytes',
    packet: tcp4(1448),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 1, gsoSize: 1448 },
    expected: { flows: [flow4(1, 1500)] },
  },
  {
    description: 'IPv4 BIG TCP (tot_len 0) is trusted as GSO: gso_segs 2 x 1448',
    packet: tcp4(2 * 1448, { totLen: 0 }),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 2, gsoSize: 1448 },
    expected: { flows: [flow4(2, 2948 + 52)], gsoAdded: { packets: 1, bytes: 52 } },
  },
  {
    description: '802.1Q-tagged IPv4 TCP, gso_segs 2 x 1448: the tag is not counted',
    packet: tcp4(2 * 1448, { vlans: [5] }),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 2, gsoSize: 1448 },
    expected: { flows: [flow4(2, 2948 + 52)], gsoAdded: { packets: 1, bytes: 52 } },
  },
  {
    description: 'IPv6 TCP, gso_segs 2 x 1428: 2 packets, 2928 + 72 bytes',
    packet: tcp6(2 * 1428),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 2, gsoSize: 1428 },
    expected: { flows: [flow6(2, 2928 + 72)], gsoAdded: { packets: 1, bytes: 72 } },
  },
  {
    description: 'IPv6 TCP, gso_segs 0 with gso_size 1428 and 2956 bytes of payload: 3 segments computed',
    packet: tcp6(2956),
    programs: TC_PROGRAMS,
    options: { gsoSize: 1428 },
    expected: { flows: [flow6(3, 3028 + 2 * 72)], gsoAdded: { packets: 2, bytes: 2 * 72 } },
  },
  {
    description: 'IPv6 BIG TCP (payload_len 0) is trusted as GSO: gso_segs 2 x 1428',
    packet: tcp6(2 * 1428, 0),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 2, gsoSize: 1428 },
    expected: { flows: [flow6(2, 2928 + 72)], gsoAdded: { packets: 1, bytes: 72 } },
  },
  {
    description: 'IPv4 UDP GSO, gso_segs 3 x 1000: 3 packets, 3028 + 2 x 28 bytes',
    packet: eth({ type: ETH_P.IPV4 }, ipv4({ src: A4, dst: B4, protocol: IPPROTO.UDP }, udp({ sport: 443, dport: 50000 }, data(3000)))),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 3, gsoSize: 1000 },
    expected: { flows: [{ ipVersion: 4, protocol: 17, src: A4, dst: B4, srcPort: 443, dstPort: 50000, packets: 3, bytes: 3028 + 2 * 28, tcpFlags: 0 }], gsoAdded: { packets: 2, bytes: 2 * 28 } },
  },
  {
    description: 'IPv6 UDP GSO, gso_segs 0 with gso_size 1200 and 2500 bytes of payload: 3 segments computed',
    packet: eth({ type: ETH_P.IPV6 }, ipv6({ src: A6, dst: B6, protocol: IPPROTO.UDP }, udp({ sport: 443, dport: 50000 }, data(2500)))),
    programs: TC_PROGRAMS,
    options: { gsoSize: 1200 },
    expected: { flows: [{ ipVersion: 6, protocol: 17, src: A6, dst: B6, srcPort: 443, dstPort: 50000, packets: 3, bytes: 2548 + 2 * 48, tcpFlags: 0 }], gsoAdded: { packets: 2, bytes: 2 * 48 } },
  },
  {
    description: 'gso_segs without gso_size is not GSO: one packet',
    packet: tcp4(2 * 1448),
    programs: TC_PROGRAMS,
    options: { gsoSegs: 2 },
    expected: { flows: [flow4(1, 2948)] },
  },
  {
    // (XDP test-run hands a non-frags program only the first 3520 bytes of a frame, so this stays below)
    description: 'a 3366-byte frame without GSO metadata is one packet on every hook',
    packet: tcp4(3300),
    expected: { flows: [flow4(1, 3352)] },
  },
];

runFixtures(t, fixtures);

t.test('a 3 x 1448 super-packet (a 4410-byte frame) does not fit a test-run skb: EINVAL, nothing counted', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  for (const program of TC_PROGRAMS) {
    t.throws(() => c.testRun(program, tcp4(3 * 1448), { gsoSegs: 3, gsoSize: 1448 }), { errno: 22, message: /Invalid argument/ }, program);
  }
  const d = await drain(c);
  t.strictSame([d.flows, d.ifaces], [[], []], 'nothing counted');
});
