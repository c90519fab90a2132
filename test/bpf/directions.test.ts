/**
 * What tells flows apart: each 5-tuple and each direction is its own record.
 * Two flows in one run are two records; a reply is another flow; the same
 * 5-tuple seen on ingress (XDP) and egress (TC) is two records that differ
 * only in direction; both ingress hooks count into one ingress record.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, data, eth, ipv4, ipv6, tcp, udp } from '../helpers/packets.js';
import { requireKernel } from '../helpers/kernel.js';
import { ALL_PROGRAMS, PROGRAMS, assertDrain, drain, expectedRecord, flowId, monoNow, openCollector, runPackets,
  withoutTimes, type ExpectedFlow } from '../helpers/bpf-fixtures.js';

const A = '192.0.2.1';
const B = '192.0.2.2';
const request = eth({ type: ETH_P.IPV4 }, ipv4({ src: A, dst: B, protocol: IPPROTO.TCP }, tcp({ sport: 40000, dport: 80, flags: TCP.PSH | TCP.ACK }, data(100))));
const reply = eth({ type: ETH_P.IPV4 }, ipv4({ src: B, dst: A, protocol: IPPROTO.TCP }, tcp({ sport: 80, dport: 40000, flags: TCP.ACK }, data(1000))));
const requestFlow: ExpectedFlow = { ipVersion: 4, protocol: 6, src: A, dst: B, srcPort: 40000, dstPort: 80, packets: 1, bytes: 140, tcpFlags: 0x18 };
const replyFlow: ExpectedFlow = { ipVersion: 4, protocol: 6, src: B, dst: A, srcPort: 80, dstPort: 40000, packets: 1, bytes: 1040, tcpFlags: 0x10 };

t.test('two different flows (IPv4 TCP, IPv6 UDP) in one run are two records', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  const v6 = eth({ type: ETH_P.IPV6 }, ipv6({ src: 'fd00::1', dst: 'fd00::2', protocol: IPPROTO.UDP }, udp({ sport: 53, dport: 5353 }, data(10))));
  for (const program of ALL_PROGRAMS) {
    const start = monoNow();
    runPackets(t, c, program, [request, v6, request]);
    assertDrain(t, await drain(c), PROGRAMS[program].direction, {
      flows: [
        { ...requestFlow, packets: 2, bytes: 280 },
        { ipVersion: 6, protocol: 17, src: 'fd00::1', dst: 'fd00::2', srcPort: 53, dstPort: 5353, packets: 1, bytes: 58, tcpFlags: 0 },
      ],
    }, start);
  }
  t.strictSame(c.errors(), [0, 0, 0, 0], 'no BPF program errors');
});

t.test('a request and its reply are two flows', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  for (const program of ALL_PROGRAMS) {
    const start = monoNow();
    runPackets(t, c, program, [request, reply]);
    assertDrain(t, await drain(c), PROGRAMS[program].direction, { flows: [requestFlow, replyFlow] }, start);
  }
});

t.test('the same 5-tuple on XDP (ingress) and TC egress is two records, differing only in direction', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  runPackets(t, c, 'flowlens_xdp', [request], {}, 3);
  runPackets(t, c, 'flowlens_tc_eg', [request], {}, 2);
  const d = await drain(c);
  const want = [expectedRecord(requestFlow, 'egress', 2), expectedRecord(requestFlow, 'ingress', 3)];
  t.strictSame(d.flows.map(withoutTimes), want, 'an egress record (2 packets) and an ingress record (3 packets)');
  t.strictSame(d.ifaces.map((i) => [i.direction, i.flows, i.packets, i.bytes, i.nonIpPackets + i.malformedPackets + i.overflowPackets]),
    [['egress', 1, 2, 2 * requestFlow.bytes, 0], ['ingress', 1, 3, 3 * requestFlow.bytes, 0]], 'totals per direction, nothing else');
  const [eg, ing] = d.flows;
  t.ok(eg.firstSeen > 0 && eg.firstSeen <= eg.lastSeen && ing.firstSeen > 0 && ing.firstSeen <= ing.lastSeen, 'timestamps set and ordered');
  t.ok(ing.lastSeen <= eg.firstSeen, 'the ingress packets were seen before the egress ones');
  t.strictSame(c.errors(), [0, 0, 0, 0], 'no BPF program errors');
});

t.test('XDP and TC ingress count the same 5-tuple into one ingress record', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  const start = monoNow();
  runPackets(t, c, 'flowlens_xdp', [request], {}, 2);
  runPackets(t, c, 'flowlens_tc_in', [request], {}, 3);
  assertDrain(t, await drain(c), 'ingress', { flows: [{ ...requestFlow, packets: 5, bytes: 5 * 140 }] }, start, 1);
});

t.test('100 flows (distinct source ports) in one run are 100 records', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  for (const program of ALL_PROGRAMS) {
    const start = monoNow();
    const packets = Array.from({ length: 100 }, (_, i) =>
      eth({ type: ETH_P.IPV4 }, ipv4({ src: A, dst: B, protocol: IPPROTO.UDP }, udp({ sport: 10000 + i, dport: 53 }, data(i)))));
    runPackets(t, c, program, packets);
    const d = await drain(c);
    const want: ExpectedFlow[] = packets.map((_, i) =>
      ({ ipVersion: 4, protocol: 17, src: A, dst: B, srcPort: 10000 + i, dstPort: 53, packets: 1, bytes: 28 + i, tcpFlags: 0 }));
    t.equal(d.flows.length, 100, `${program}: 100 records`);
    t.equal(new Set(d.flows.map(flowId)).size, 100, `${program}: all distinct`);
    assertDrain(t, d, PROGRAMS[program].direction, { flows: want }, start);
  }
  t.strictSame(c.errors(), [0, 0, 0, 0], 'no BPF program errors');
});
