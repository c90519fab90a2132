/**
 * Frames that are not IPv4/IPv6 are no flows: they are counted per interface
 * and direction as non-IP, with their whole frame length (padding and tags
 * included). Frames shorter than an Ethernet header never reach the program:
 * BPF_PROG_TEST_RUN rejects them with EINVAL.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, arp, cut, data, eth, ipv4, pad, tcp } from '../helpers/packets.js';
import { requireKernel } from '../helpers/kernel.js';
import { ALL_PROGRAMS, PROGRAMS, assertDrain, drain, monoNow, nonIp, openCollector, runFixtures, runPackets,
  type Fixture } from '../helpers/bpf-fixtures.js';

const arpRequest = eth({ type: ETH_P.ARP, dst: 'ff:ff:ff:ff:ff:ff' }, arp({ senderIp: '192.0.2.1', targetIp: '192.0.2.2' }));

const fixtures: Fixture[] = [
  {
    description: 'ARP request (42 bytes) is non-IP',
    packet: arpRequest,
    expected: nonIp(42),
  },
  {
    description: 'ARP reply padded to 60 bytes counts all 60',
    packet: pad(eth({ type: ETH_P.ARP }, arp({ op: 2, senderIp: '192.0.2.2', targetIp: '192.0.2.1', targetMac: '02:00:00:00:00:01' }))),
    expected: nonIp(60),
  },
  {
    description: 'LLDP is non-IP',
    packet: eth({ type: ETH_P.LLDP, dst: '01:80:c2:00:00:0e' }, data(50)),
    expected: nonIp(64),
  },
  {
    description: 'an 802.3 frame (length in the type field, LLC/STP) is non-IP',
    packet: pad(eth({ type: 38, dst: '01:80:c2:00:00:00' }, Buffer.concat([Buffer.from([0x42, 0x42, 0x03]), data(35)]))),
    expected: nonIp(60),
  },
  {
    description: 'a bare 14-byte Ethernet header of type ARP is non-IP',
    packet: cut(arpRequest, 14),
    expected: nonIp(14),
  },
];

runFixtures(t, fixtures);

t.test('frames shorter than the 14-byte Ethernet header: BPF_PROG_TEST_RUN refuses them (EINVAL), nothing is counted', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  for (const program of ALL_PROGRAMS) {
    for (const len of [0, 1, 6, 12, 13]) {
      t.throws(() => c.testRun(program, cut(arpRequest, len)), { message: /Invalid argument/ }, `${program}: ${len} bytes`);
    }
  }
  const d = await drain(c);
  t.strictSame(d.flows, [], 'no flow');
  t.strictSame(d.ifaces, [], 'no interface record');
  t.strictSame(c.errors(), [0, 0, 0, 0], 'no BPF program errors');
});

t.test('flows, non-IP and malformed frames in one run are counted apart', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  const flow = eth({ type: ETH_P.IPV4 }, ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: IPPROTO.TCP }, tcp({ sport: 1, dport: 2, flags: TCP.ACK }, data(60))));
  const bad = cut(flow, 44); // TCP header cut after 10 bytes
  for (const program of ALL_PROGRAMS) {
    const start = monoNow();
    runPackets(t, c, program, [flow, arpRequest, bad, flow]);
    assertDrain(t, await drain(c), PROGRAMS[program].direction, {
      flows: [{ ipVersion: 4, protocol: 6, src: '192.0.2.1', dst: '192.0.2.2', srcPort: 1, dstPort: 2, packets: 2, bytes: 200, tcpFlags: 0x10 }],
      nonIp: { packets: 1, bytes: 42 },
      malformed: { packets: 1, bytes: 44 },
    }, start);
  }
  t.strictSame(c.errors(), [0, 0, 0, 0], 'no BPF program errors');
});
