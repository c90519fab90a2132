/**
 * A full flow table loses nothing: packets of flows that do not fit are
 * counted per interface and direction as overflow (with their L3 bytes), so
 * flow bytes + overflow bytes are all the bytes. A drain empties both.
 */
import t from 'tap';
import { ETH_P, IPPROTO, arp, data, eth, ipv4, udp } from '../helpers/packets.js';
import { requireKernel } from '../helpers/kernel.js';
import { ALL_PROGRAMS, LOOPBACK, PROGRAMS, drain, expectedRecord, openCollector, runPackets, withoutTimes,
  type ExpectedFlow } from '../helpers/bpf-fixtures.js';

const A = '192.0.2.1';
const B = '192.0.2.2';
/** Flow i: UDP from port 20000 + i, with 10 * i + 3 bytes of data (L3: 31 + 10 * i bytes). */
const packet = (i: number) =>
  eth({ type: ETH_P.IPV4 }, ipv4({ src: A, dst: B, protocol: IPPROTO.UDP }, udp({ sport: 20000 + i, dport: 9999 }, data(10 * i + 3))));
const l3 = (i: number) => 31 + 10 * i;
const flow = (i: number, packets: number): ExpectedFlow =>
  ({ ipVersion: 4, protocol: 17, src: A, dst: B, srcPort: 20000 + i, dstPort: 9999, packets, bytes: packets * l3(i), tcpFlags: 0 });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

t.test('10 flows into a 4-entry table: 4 flow records, 6 packets of overflow with their exact bytes', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t, 4);
  t.equal(c.mapEntries, 4, 'a 4-entry flow table');
  const packets = range(0, 10).map(packet);
  for (const program of ALL_PROGRAMS) {
    const direction = PROGRAMS[program].direction;
    runPackets(t, c, program, packets, {}, 1);
    const d = await drain(c);
    t.strictSame(d.flows.map(withoutTimes), range(0, 4).map((i) => expectedRecord(flow(i, 1), direction, 1)),
      `${program}: the first 4 flows have records`);
    const overflowBytes = range(4, 10).reduce((s, i) => s + l3(i), 0);
    t.equal(overflowBytes, 6 * 31 + 10 * (4 + 5 + 6 + 7 + 8 + 9), 'flows 4..9 carry 576 L3 bytes');
    const allBytes = range(0, 10).reduce((s, i) => s + l3(i), 0);
    t.strictSame(d.ifaces, [{ ifindex: LOOPBACK, direction, packets: 10, bytes: allBytes, flows: 4, overflowPackets: 6, overflowBytes,
      nonIpPackets: 0, nonIpBytes: 0, malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0 }], `${program}: the other 6 are overflow; totals hold all 10`);
    const flowBytes = d.flows.reduce((s, f) => s + f.bytes, 0);
    t.equal(flowBytes + d.ifaces[0].overflowBytes, packets.reduce((s, p) => s + p.length - 14, 0),
      `${program}: flow bytes + overflow bytes == all L3 bytes`);
    const again = await drain(c);
    t.strictSame([again.flows, again.ifaces], [[], []], `${program}: a second drain finds nothing left`);
  }
  t.strictSame(c.errors(), [0, 0, 0, 0], 'a full table is not a BPF program error');
});

t.test('with the table full, known flows keep counting and non-IP frames stay non-IP', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t, 4);
  const arpFrame = eth({ type: ETH_P.ARP }, arp({ senderIp: A, targetIp: B }));
  for (const program of ALL_PROGRAMS) {
    const direction = PROGRAMS[program].direction;
    // twice through 10 flows, then flow 2 and an ARP frame once more
    runPackets(t, c, program, [...range(0, 10).map(packet), ...range(0, 10).map(packet), packet(2), arpFrame], {}, 1);
    const d = await drain(c);
    t.strictSame(d.flows.map(withoutTimes), [flow(0, 2), flow(1, 2), flow(2, 3), flow(3, 2)].map((f) => expectedRecord(f, direction, 1)),
      `${program}: the 4 flows in the table count every packet`);
    t.strictSame(d.ifaces, [{ ifindex: LOOPBACK, direction, packets: 21, bytes: 2 * range(0, 10).reduce((s, i) => s + l3(i), 0) + l3(2),
      flows: 4, overflowPackets: 12, overflowBytes: 2 * range(4, 10).reduce((s, i) => s + l3(i), 0),
      nonIpPackets: 1, nonIpBytes: 42, malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0 }], `${program}: 12 overflow packets, 1 non-IP frame`);
  }
  t.strictSame(c.errors(), [0, 0, 0, 0], 'no BPF program errors');
});

t.test('after a drain the table has room again', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t, 4);
  // fill both tables (A and B) past their size
  for (let k = 0; k < 2; k++) {
    runPackets(t, c, 'flowlens_xdp', range(0, 10).map(packet), {}, 1);
    const d = await drain(c);
    t.equal(d.flows.length, 4, `drain ${k + 1}: 4 flows`);
    t.equal(d.ifaces[0]?.overflowPackets, 6, `drain ${k + 1}: 6 overflow packets`);
  }
  runPackets(t, c, 'flowlens_xdp', range(10, 14).map(packet), {}, 1);
  const d = await drain(c);
  t.strictSame(d.flows.map(withoutTimes), range(10, 14).map((i) => expectedRecord(flow(i, 1), 'ingress', 1)), '4 new flows fit');
  t.strictSame(d.ifaces.map((i) => i.overflowPackets), [0], 'no overflow');
  t.equal(d.ifaces[0].packets, 4, 'the totals hold the 4 packets');
});
