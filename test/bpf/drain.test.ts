/**
 * Draining flips the programs to the other flow table (A/B) and empties the
 * old one: each drain holds exactly what was counted since the previous drain,
 * flows and interface records alike, over several drains (both tables, both
 * epochs of the interface counters, more than once each).
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, arp, cut, data, eth, ipv4, ipv6, tcp, udp } from '../helpers/packets.js';
import { requireKernel } from '../helpers/kernel.js';
import { LOOPBACK, drain, expectedIface, expectedRecord, monoNow, openCollector, runPackets, withoutTimes,
  type ExpectedFlow } from '../helpers/bpf-fixtures.js';

const flowA = eth({ type: ETH_P.IPV4 }, ipv4({ src: '192.0.2.1', dst: '192.0.2.2', protocol: IPPROTO.TCP }, tcp({ sport: 1111, dport: 2222, flags: TCP.ACK }, data(60))));
const flowB = eth({ type: ETH_P.IPV6 }, ipv6({ src: 'fd00::1', dst: 'fd00::2', protocol: IPPROTO.UDP }, udp({ sport: 3333, dport: 4444 }, data(12))));
const arpFrame = eth({ type: ETH_P.ARP }, arp({ senderIp: '192.0.2.1', targetIp: '192.0.2.2' }));
const badFrame = cut(flowA, 40); // TCP header cut
const A: ExpectedFlow = { ipVersion: 4, protocol: 6, src: '192.0.2.1', dst: '192.0.2.2', srcPort: 1111, dstPort: 2222, packets: 1, bytes: 100, tcpFlags: 0x10 };
const B: ExpectedFlow = { ipVersion: 6, protocol: 17, src: 'fd00::1', dst: 'fd00::2', srcPort: 3333, dstPort: 4444, packets: 1, bytes: 60, tcpFlags: 0 };

t.test('six drains in a row each hold exactly the counts made since the previous drain', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  let d = await drain(c);
  t.strictSame([d.flows, d.ifaces], [[], []], 'a fresh collector drains nothing');
  let previousEnd = d.endWall;
  for (let n = 1; n <= 6; n++) {
    const start = monoNow();
    runPackets(t, c, 'flowlens_xdp', [flowA], {}, n); // A ingress: n packets
    runPackets(t, c, 'flowlens_tc_eg', [flowB], {}, n + 1); // B egress: n + 1 packets
    runPackets(t, c, 'flowlens_tc_in', [arpFrame], {}, n); // ingress non-IP: n frames
    if (n % 2 === 1) runPackets(t, c, 'flowlens_tc_eg', [badFrame], {}, 1); // egress malformed on odd drains
    d = await drain(c);
    t.strictSame(d.flows.map(withoutTimes), [expectedRecord(B, 'egress', n + 1), expectedRecord(A, 'ingress', n)],
      `drain ${n}: A with ${n} packets, B with ${n + 1}`);
    // the totals: B's packets on egress (plus the malformed frame), A's and the ARP frames on ingress
    const egress = { ...expectedIface('egress', { malformed: { packets: 1, bytes: 40 } }, n % 2),
      packets: n + 1, bytes: (n + 1) * B.bytes, flows: 1 };
    const ingress = { ...expectedIface('ingress', { nonIp: { packets: 1, bytes: 42 } }, n),
      packets: n, bytes: n * A.bytes, flows: 1 };
    const ifaces = [egress, ingress];
    t.strictSame(d.ifaces, ifaces, `drain ${n}: ${n} non-IP ingress frames${n % 2 ? ', 1 malformed egress frame' : ''}`);
    t.ok(d.ifaces.every((r) => r.ifindex === LOOPBACK), 'on loopback');
    const startWall = d.clock.toWallMs(start);
    for (const f of d.flows) {
      t.ok(f.firstSeen >= startWall && f.firstSeen > previousEnd, `drain ${n}: ${f.src} first seen in this interval`);
      t.ok(f.firstSeen <= f.lastSeen && f.lastSeen <= d.endWall, `drain ${n}: ${f.src} last seen before the flip`);
    }
    previousEnd = d.endWall;
  }
  d = await drain(c);
  t.strictSame([d.flows, d.ifaces], [[], []], 'a last drain finds nothing left');
  t.strictSame(c.errors(), [0, 0, 0, 0], 'no BPF program errors');
});

t.test('a flow counted before and after a drain appears in each drain with its own counts only', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  const seen: number[] = [];
  for (const runs of [3, 1, 4, 1, 5]) {
    runPackets(t, c, 'flowlens_tc_in', [flowA], {}, runs);
    const d = await drain(c);
    t.strictSame(d.flows.map(withoutTimes), [expectedRecord(A, 'ingress', runs)], `${runs} packet(s), not a running total`);
    seen.push(d.flows[0]?.firstSeen ?? 0);
  }
  t.ok(seen.every((s, i) => i === 0 || s > seen[i - 1]), 'each drain restarts first seen');
});
