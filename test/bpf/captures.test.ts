/**
 * The programs copy DNS answers (UDP/TCP from port 53), TLS ClientHellos
 * (TCP to port 443), DHCP client messages (UDP to port 67), mDNS (UDP from
 * port 5353) and LLMNR (UDP from port 5355) into the captures ring buffer, and nothing else: the drain
 * hands each one back with its exact payload and flow key, while the packet is
 * counted as a flow exactly as before. A full ring drops captures and counts
 * them; a collector loaded without a ring captures nothing.
 */
import t from 'tap';
import { ETH_P, IPPROTO, TCP, data, eth, ipv4, ipv6, tcp, udp, icmp } from '../helpers/packets.js';
import { requireKernel } from '../helpers/kernel.js';
import { ALL_PROGRAMS, LOOPBACK, MAP_ENTRIES, PROGRAMS, drain, expectedRecord, monoNow, openCollector, runPackets,
  withoutTimes, type ExpectedFlow } from '../helpers/bpf-fixtures.js';
import { loadAddon } from '../../src/native/binding.js';
import { CAPTURE_PAYLOAD_MAX, CaptureRecord } from '../../src/collector/layout.gen.js';
import { clientHello, dhcpMessage, dnsResponse, mdnsAnnouncement, tcpFramed, TYPE } from '../helpers/dns-messages.js';

const answer = dnsResponse({ question: 'www.example.test', qtype: TYPE.A,
  answers: [{ name: 'www.example.test', type: TYPE.A, ttl: 300, data: '192.0.2.80' }] });
const udpAnswer = eth({ type: ETH_P.IPV4 }, ipv4({ src: '192.0.2.53', dst: '192.0.2.2', protocol: IPPROTO.UDP },
  udp({ sport: 53, dport: 41000 }, answer)));
const UDP_FLOW: ExpectedFlow = { ipVersion: 4, protocol: 17, src: '192.0.2.53', dst: '192.0.2.2', srcPort: 53, dstPort: 41000,
  packets: 1, bytes: 20 + 8 + answer.length, tcpFlags: 0 };

const tcpAnswer = eth({ type: ETH_P.IPV6 }, ipv6({ src: 'fd00::53', dst: 'fd00::2', protocol: IPPROTO.TCP },
  tcp({ sport: 53, dport: 41001, flags: TCP.ACK | TCP.PSH }, tcpFramed(answer))));
const hello = clientHello({ serverName: 'shop.example.test' });
const helloFrame = eth({ type: ETH_P.IPV4, vlans: [100] }, ipv4({ src: '192.0.2.2', dst: '198.51.100.187', protocol: IPPROTO.TCP },
  tcp({ sport: 50443, dport: 443, flags: TCP.ACK | TCP.PSH }, hello)));

t.test('a DNS answer over UDP: one capture per packet, exact payload and key, and the flow counted as before', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  for (const program of ALL_PROGRAMS) {
    const start = monoNow();
    runPackets(t, c, program, [udpAnswer], {}, 2);
    const d = await drain(c);
    const direction = PROGRAMS[program].direction;
    t.strictSame(d.flows.map(withoutTimes), [expectedRecord(UDP_FLOW, direction, 2)], `${program}: the flow, counted twice`);
    t.equal(d.captures.length, 2, `${program}: two captures`);
    const startWall = d.clock.toWallMs(start);
    for (const cap of d.captures) {
      const { time, payload, ...rest } = cap;
      t.strictSame(rest, { kind: 'dns', ifindex: LOOPBACK, direction, ipVersion: 4, protocol: 17, src: '192.0.2.53',
        dst: '192.0.2.2', srcPort: 53, dstPort: 41000, payloadLength: answer.length }, `${program}: kind and key`);
      t.ok(payload.equals(answer), `${program}: the payload is the DNS message, byte for byte`);
      t.ok(time >= startWall && time <= d.endWall + 1, `${program}: seen during the test`);
    }
  }
  t.strictSame(c.captureErrors(), [0, 0], 'nothing dropped');
  t.strictSame(c.errors(), [0, 0, 0, 0], 'no BPF program errors');
});

t.test('a DNS answer over TCP (IPv6) keeps its length prefix; a ClientHello behind a VLAN tag is a tls capture', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  for (const program of ALL_PROGRAMS) {
    runPackets(t, c, program, [tcpAnswer, helloFrame], {}, 1);
    const d = await drain(c);
    t.equal(d.flows.length, 2, `${program}: both flows counted`);
    t.strictSame(d.captures.map(({ time: _t, payload: _p, ...rest }) => rest), [
      { kind: 'dns', ifindex: LOOPBACK, direction: PROGRAMS[program].direction, ipVersion: 6, protocol: 6, src: 'fd00::53',
        dst: 'fd00::2', srcPort: 53, dstPort: 41001, payloadLength: answer.length + 2 },
      { kind: 'tls', ifindex: LOOPBACK, direction: PROGRAMS[program].direction, ipVersion: 4, protocol: 6, src: '192.0.2.2',
        dst: '198.51.100.187', srcPort: 50443, dstPort: 443, payloadLength: hello.length },
    ], `${program}: one dns, one tls`);
    t.ok(d.captures[0]?.payload.equals(tcpFramed(answer)), `${program}: TCP DNS payload with its prefix`);
    t.ok(d.captures[1]?.payload.equals(hello), `${program}: the ClientHello, byte for byte`);
  }
});

t.test('a DHCP request (UDP to 67) and an mDNS announcement (UDP from 5353) are captured whole, for device names', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  const request = dhcpMessage({ mac: '00:1b:63:84:45:e6', type: 3, options: [[12, Buffer.from('alice-laptop')]] });
  const announcement = mdnsAnnouncement([{ name: 'kitchen-speaker.local', type: TYPE.A, ttl: 120, data: '192.168.1.60' }]);
  const frames = [
    eth({ type: ETH_P.IPV4 }, ipv4({ src: '0.0.0.0', dst: '255.255.255.255', protocol: IPPROTO.UDP }, udp({ sport: 68, dport: 67 }, request))),
    eth({ type: ETH_P.IPV4 }, ipv4({ src: '192.168.1.60', dst: '224.0.0.251', protocol: IPPROTO.UDP }, udp({ sport: 5353, dport: 5353 }, announcement))),
  ];
  for (const program of ALL_PROGRAMS) {
    runPackets(t, c, program, frames, {}, 1);
    const d = await drain(c);
    t.equal(d.flows.length, 2, `${program}: both flows counted`);
    const direction = PROGRAMS[program].direction;
    t.strictSame(d.captures.map(({ time: _t, payload: _p, ...rest }) => rest), [
      { kind: 'dhcp', ifindex: LOOPBACK, direction, ipVersion: 4, protocol: 17, src: '0.0.0.0', dst: '255.255.255.255', srcPort: 68, dstPort: 67, payloadLength: request.length },
      { kind: 'mdns', ifindex: LOOPBACK, direction, ipVersion: 4, protocol: 17, src: '192.168.1.60', dst: '224.0.0.251', srcPort: 5353, dstPort: 5353, payloadLength: announcement.length },
    ], `${program}: one dhcp, one mdns`);
    t.ok(d.captures[0]?.payload.equals(request), `${program}: the DHCP message, byte for byte`);
    t.ok(d.captures[1]?.payload.equals(announcement), `${program}: the mDNS message, byte for byte`);
  }
  t.strictSame(c.captureErrors(), [0, 0]);
});

t.test('an LLMNR answer (UDP from 5355, IPv4 and IPv6) is captured whole, for device names', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  const llmnr = dnsResponse({ question: 'desk-pc', qtype: TYPE.A, answers: [{ name: 'desk-pc', type: TYPE.A, ttl: 30, data: '192.168.1.70' }] });
  llmnr.writeUInt16BE(0x8000, 2);  // QR only (RFC 4795)
  const frames = [
    eth({ type: ETH_P.IPV4 }, ipv4({ src: '192.168.1.70', dst: '192.168.1.1', protocol: IPPROTO.UDP }, udp({ sport: 5355, dport: 50123 }, llmnr))),
    eth({ type: ETH_P.IPV6 }, ipv6({ src: 'fd00::70', dst: 'fd00::1', protocol: IPPROTO.UDP }, udp({ sport: 5355, dport: 50124 }, llmnr))),
  ];
  for (const program of ALL_PROGRAMS) {
    runPackets(t, c, program, frames, {}, 1);
    const d = await drain(c);
    t.equal(d.flows.length, 2, `${program}: both flows counted`);
    const direction = PROGRAMS[program].direction;
    t.strictSame(d.captures.map(({ time: _t, payload: _p, ...rest }) => rest), [
      { kind: 'llmnr', ifindex: LOOPBACK, direction, ipVersion: 4, protocol: 17, src: '192.168.1.70', dst: '192.168.1.1', srcPort: 5355, dstPort: 50123, payloadLength: llmnr.length },
      { kind: 'llmnr', ifindex: LOOPBACK, direction, ipVersion: 6, protocol: 17, src: 'fd00::70', dst: 'fd00::1', srcPort: 5355, dstPort: 50124, payloadLength: llmnr.length },
    ], `${program}: two llmnr captures`);
    t.ok(d.captures.every((x) => x.payload.equals(llmnr)), `${program}: the LLMNR message, byte for byte`);
  }
  t.strictSame(c.captureErrors(), [0, 0]);
});

t.test('nothing else is captured: queries, other ports, bulk data on 443, empty segments, ICMP', async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  const v4 = (protocol: number, l4: Buffer) => eth({ type: ETH_P.IPV4 }, ipv4({ src: '192.0.2.2', dst: '192.0.2.53', protocol }, l4));
  const notCaptured = [
    v4(IPPROTO.UDP, udp({ sport: 41000, dport: 53 }, answer)), // a query direction (to 53)
    v4(IPPROTO.UDP, udp({ sport: 67, dport: 68 }, answer)), // a DHCP server's reply (to 68)
    v4(IPPROTO.TCP, tcp({ sport: 50000, dport: 67, flags: TCP.ACK }, answer)), // TCP to 67
    v4(IPPROTO.TCP, tcp({ sport: 5353, dport: 50000, flags: TCP.ACK }, answer)), // TCP from 5353
    v4(IPPROTO.UDP, udp({ sport: 41000, dport: 5353 }, answer)), // an mDNS query from another port (to 5353)
    v4(IPPROTO.UDP, udp({ sport: 41000, dport: 5355 }, answer)), // an LLMNR query (to 5355)
    v4(IPPROTO.TCP, tcp({ sport: 5355, dport: 50000, flags: TCP.ACK }, answer)), // TCP from 5355
    v4(IPPROTO.UDP, udp({ sport: 5354, dport: 50000 }, answer)), // the ports beside 5353/5355 (one bit apart)
    v4(IPPROTO.UDP, udp({ sport: 5352, dport: 50000 }, answer)),
    v4(IPPROTO.UDP, udp({ sport: 5357, dport: 50000 }, answer)),
    v4(IPPROTO.UDP, udp({ sport: 5355 | 0x8000, dport: 50000 }, answer)),
    v4(IPPROTO.UDP, udp({ sport: 443, dport: 443 }, hello)), // QUIC port, UDP
    v4(IPPROTO.TCP, tcp({ sport: 50000, dport: 443, flags: TCP.ACK }, data(600))), // bulk data to 443
    v4(IPPROTO.TCP, tcp({ sport: 50000, dport: 443, flags: TCP.ACK }, Buffer.from([0x17, 0x03, 0x03, 0, 10, 1]))), // app data record
    v4(IPPROTO.TCP, tcp({ sport: 50000, dport: 443, flags: TCP.ACK }, Buffer.from([0x16, 0x03, 0x03, 0, 10, 2]))), // ServerHello type
    v4(IPPROTO.TCP, tcp({ sport: 50000, dport: 443, flags: TCP.SYN })), // no payload
    v4(IPPROTO.TCP, tcp({ sport: 53, dport: 41002, flags: TCP.ACK })), // TCP from 53, no payload
    v4(IPPROTO.TCP, tcp({ sport: 50000, dport: 8443, flags: TCP.ACK }, hello)), // a hello to another port
    v4(IPPROTO.ICMP, icmp({ type: 53 }, answer)), // ICMP type 53 sits in the source port field
  ];
  for (const program of ALL_PROGRAMS) {
    runPackets(t, c, program, notCaptured, {}, 1);
    const d = await drain(c);
    t.equal(d.flows.reduce((n, f) => n + f.packets, 0), notCaptured.length, `${program}: every packet counted in a flow`);
    t.strictSame(d.captures, [], `${program}: no capture`);
  }
  t.strictSame(c.captureErrors(), [0, 0]);
});

t.test(`a payload longer than ${CAPTURE_PAYLOAD_MAX} bytes is cut, its length kept`, async (t) => {
  if (!requireKernel(t)) return;
  const c = openCollector(t);
  const big = dnsResponse({ question: 'big.test', qtype: TYPE.A,
    answers: Array.from({ length: 60 }, (_, i) => ({ name: 'big.test', type: TYPE.A, ttl: 60, data: `192.0.2.${i + 1}` })) });
  t.ok(big.length > CAPTURE_PAYLOAD_MAX, `${big.length} bytes`);
  const frame = eth({ type: ETH_P.IPV4 }, ipv4({ src: '192.0.2.53', dst: '192.0.2.2', protocol: IPPROTO.UDP }, udp({ sport: 53, dport: 41000 }, big)));
  for (const program of ALL_PROGRAMS) {
    runPackets(t, c, program, [frame], {}, 1);
    const d = await drain(c);
    t.equal(d.captures.length, 1, program);
    t.equal(d.captures[0]?.payloadLength, big.length, `${program}: the packet's payload length`);
    t.ok(d.captures[0]?.payload.equals(big.subarray(0, CAPTURE_PAYLOAD_MAX)), `${program}: its first ${CAPTURE_PAYLOAD_MAX} bytes`);
  }
});

t.test('a full ring drops captures and counts them; the next drain makes room again', async (t) => {
  if (!requireKernel(t)) return;
  const c = new (loadAddon().Collector)(MAP_ENTRIES, 4096);
  t.teardown(() => c.close());
  const capacity = Math.floor(4096 / (CaptureRecord.size + 8)); // records of 8-byte header + sample
  t.equal(capacity, 7);
  runPackets(t, c, 'flowlens_tc_in', [udpAnswer], {}, 20);
  t.strictSame(c.captureErrors(), [20 - capacity, 0], `${20 - capacity} captures dropped, counted as ring full`);
  let d = await drain(c);
  t.equal(d.captures.length, capacity, `the drain returns the ${capacity} the ring held`);
  t.strictSame(d.flows.map(withoutTimes), [expectedRecord(UDP_FLOW, 'ingress', 20)], 'all 20 packets counted as the flow');
  runPackets(t, c, 'flowlens_xdp', [udpAnswer], {}, 3);
  d = await drain(c);
  t.equal(d.captures.length, 3, 'room again after the drain');
  t.strictSame(c.captureErrors(), [20 - capacity, 0], 'no new drops');
  t.strictSame(c.errors(), [0, 0, 0, 0], 'the flow counter itself lost nothing');
});

t.test('loaded without a ring (0 bytes), nothing is captured or dropped, and flows are counted', async (t) => {
  if (!requireKernel(t)) return;
  const c = new (loadAddon().Collector)(MAP_ENTRIES, 0);
  t.teardown(() => c.close());
  runPackets(t, c, 'flowlens_xdp', [udpAnswer, helloFrame], {}, 2);
  const d = await drain(c);
  t.equal(d.flows.length, 2);
  t.strictSame(d.captures, []);
  t.strictSame(c.captureErrors(), [0, 0]);
});
