/**
 * Packet captures in the counting program (bpf/pcap.bpf.h), through
 * BPF_PROG_TEST_RUN: with a filter in a slot, exactly the frames that match
 * it come out of the packet ring, byte for byte, with their length, direction
 * and slot bits; the others do not. Each condition (host, net, port, proto,
 * session either way round, interface, none for non-IP frames) is tried with
 * frames that match and frames that just miss. The snap length cuts the copy,
 * two captures share one copy, a stopped capture copies nothing, a full ring
 * counts its drops (matched = read + dropped), and counting is unchanged.
 */
import t, { type Test } from 'tap';
import { ETH_P, IPPROTO, TCP, arp, eth, ipv4, ipv6, tcp, udp, icmp } from '../helpers/packets.js';
import { requireKernel } from '../helpers/kernel.js';
import { ALL_PROGRAMS, LOOPBACK, MAP_ENTRIES, PROGRAMS, drain, runPackets } from '../helpers/bpf-fixtures.js';
import { loadAddon, type NativeCollector } from '../../src/native/binding.js';
import { PcapHeader } from '../../src/collector/layout.gen.js';
import { encodeCaptureFilter, parseCaptureFilter, type CaptureRequest } from '../../src/capture/filter.js';

const RING = 1 << 20;

function open(t: Test, ring = RING): NativeCollector {
  const c = new (loadAddon().Collector)(MAP_ENTRIES, 0, undefined, ring);
  t.teardown(() => c.close());
  return c;
}

interface Copy { data: Buffer; origLen: number; ifindex: number; direction: number; slots: number }

function read(c: NativeCollector): Copy[] {
  const buf = Buffer.alloc(8 << 20);
  const out: Copy[] = [];
  for (;;) {
    const r = c.readPackets(buf);
    if (!r.records) return out;
    for (let at = 0; at < r.bytes;) {
      const len = buf.readUInt32LE(at + PcapHeader.capturedLen);
      out.push({
        data: Buffer.from(buf.subarray(at + PcapHeader.size, at + PcapHeader.size + len)),
        origLen: buf.readUInt32LE(at + PcapHeader.origLen), ifindex: buf.readUInt32LE(at + PcapHeader.ifindex),
        direction: buf[at + PcapHeader.direction]!, slots: buf[at + PcapHeader.slots]!,
      });
      at += (PcapHeader.size + len + 7) & ~7;
    }
  }
}

const v4udp = (src: string, dst: string, sport: number, dport: number, size = 10) =>
  eth({ type: ETH_P.IPV4 }, ipv4({ src, dst, protocol: IPPROTO.UDP }, udp({ sport, dport }, Buffer.alloc(size, 0x61))));
const v4tcp = (src: string, dst: string, sport: number, dport: number) =>
  eth({ type: ETH_P.IPV4 }, ipv4({ src, dst, protocol: IPPROTO.TCP }, tcp({ sport, dport, flags: TCP.ACK }, Buffer.from('data'))));
const v6udp = (src: string, dst: string, sport: number, dport: number) =>
  eth({ type: ETH_P.IPV6 }, ipv6({ src, dst, protocol: IPPROTO.UDP }, udp({ sport, dport }, Buffer.from('six'))));
const ping = (src: string, dst: string) => eth({ type: ETH_P.IPV4 }, ipv4({ src, dst, protocol: IPPROTO.ICMP }, icmp({ type: 8, rest: 0x12340001 })));
const arpFrame = eth({ type: ETH_P.ARP }, arp({ senderIp: '10.9.0.1', targetIp: '10.9.0.2' }));

interface Case { name: string; filter: CaptureRequest; match: Buffer[]; miss: Buffer[] }

const CASES: Case[] = [
  {
    name: 'host (either end)', filter: { host: '10.9.0.1' },
    match: [v4udp('10.9.0.1', '10.9.0.2', 1000, 53), v4tcp('192.0.2.7', '10.9.0.1', 80, 4000), ping('10.9.0.1', '192.0.2.1')],
    miss: [v4udp('10.9.0.11', '10.9.0.2', 1000, 53), v6udp('fd00::1', 'fd00::2', 1, 2), arpFrame],
  },
  {
    name: 'IPv6 host', filter: { host: 'fd00::1' },
    match: [v6udp('fd00::1', 'fd00::2', 1, 2), v6udp('fd00::9', 'fd00::1', 1, 2)],
    miss: [v6udp('fd00::2', 'fd00::3', 1, 2), v4udp('10.9.0.1', '10.9.0.2', 1, 2)],
  },
  {
    name: 'net /24', filter: { net: '10.9.0.0/24' },
    match: [v4udp('10.9.0.200', '192.0.2.1', 1, 2), v4udp('192.0.2.1', '10.9.0.0', 1, 2)],
    miss: [v4udp('10.9.1.1', '192.0.2.1', 1, 2), arpFrame],
  },
  {
    name: 'port (TCP or UDP, either end)', filter: { port: 443 },
    match: [v4tcp('10.0.0.1', '10.0.0.2', 51000, 443), v4udp('10.0.0.2', '10.0.0.1', 443, 51000)],
    miss: [v4tcp('10.0.0.1', '10.0.0.2', 51000, 444), ping('10.0.0.1', '10.0.0.2')],
  },
  {
    name: 'proto', filter: { proto: 'icmp' },
    match: [ping('10.0.0.1', '10.0.0.2')],
    miss: [v4udp('10.0.0.1', '10.0.0.2', 8, 0), v4tcp('10.0.0.1', '10.0.0.2', 1, 1)],
  },
  {
    name: 'host and port together', filter: { host: '10.0.0.1', port: 53, proto: 'udp' },
    match: [v4udp('10.0.0.1', '10.0.0.9', 40000, 53)],
    miss: [v4udp('10.0.0.2', '10.0.0.9', 40000, 53), v4tcp('10.0.0.1', '10.0.0.9', 40000, 53), v4udp('10.0.0.1', '10.0.0.9', 40000, 54)],
  },
  {
    name: 'session, both directions', filter: { session: 'lo|6|10.0.0.1|51000|192.0.2.80|443' },
    match: [v4tcp('10.0.0.1', '192.0.2.80', 51000, 443), v4tcp('192.0.2.80', '10.0.0.1', 443, 51000)],
    miss: [v4tcp('10.0.0.1', '192.0.2.80', 51001, 443), v4tcp('192.0.2.80', '10.0.0.1', 51000, 443), v4udp('10.0.0.1', '192.0.2.80', 51000, 443)],
  },
  {
    name: 'ICMP session (addresses, any kind)', filter: { session: 'lo|1|10.0.0.1|echo|192.0.2.80' },
    match: [ping('10.0.0.1', '192.0.2.80'), ping('192.0.2.80', '10.0.0.1')],
    miss: [ping('10.0.0.1', '192.0.2.81'), v4udp('10.0.0.1', '192.0.2.80', 1, 2)],
  },
  {
    name: 'no condition: every frame, non-IP too', filter: {},
    match: [arpFrame, v4udp('10.0.0.1', '10.0.0.2', 1, 2), v6udp('fd00::1', 'fd00::2', 1, 2)],
    miss: [],
  },
];

t.test('each filter copies exactly the frames that match it, whole, on every hook', async (t) => {
  if (!requireKernel(t)) return;
  const c = open(t);
  for (const k of CASES) {
    for (const program of ALL_PROGRAMS) {
      c.startPacketCapture(0, encodeCaptureFilter(parseCaptureFilter(k.filter), 0));
      for (const f of [...k.miss, ...k.match, ...k.miss]) c.testRun(program, f);
      c.stopPacketCapture(0);
      const got = read(c);
      t.strictSame(got.map((g) => g.data.toString('hex')), k.match.map((f) => f.toString('hex')), `${k.name}, ${program}: exactly the matching frames`);
      t.ok(got.every((g) => g.origLen === g.data.length && g.ifindex === LOOPBACK && g.slots === 1 &&
        g.direction === (PROGRAMS[program].direction === 'egress' ? 1 : 0)), `${k.name}, ${program}: length, interface, direction and slot`);
      t.strictSame(c.packetCaptureCounters(0), { matched: k.match.length, dropped: 0 }, `${k.name}, ${program}: matched count`);
    }
  }
});

t.test('interface: a filter for another ifindex copies nothing, for this one everything', async (t) => {
  if (!requireKernel(t)) return;
  const c = open(t);
  const f = v4udp('10.0.0.1', '10.0.0.2', 1, 2);
  for (const [ifindex, want] of [[LOOPBACK + 1000, 0], [LOOPBACK, 1]] as const) {
    c.startPacketCapture(1, encodeCaptureFilter(parseCaptureFilter({}), ifindex));
    c.testRun('flowlens_tc_eg', f);
    c.stopPacketCapture(1);
    t.equal(read(c).length, want, `ifindex ${ifindex}: ${want} frames`);
  }
});

t.test('snap length, two captures sharing one copy, stop, and counting unchanged', async (t) => {
  if (!requireKernel(t)) return;
  const c = open(t);
  const big = v4udp('10.0.0.1', '10.0.0.2', 1000, 2000, 1000);
  c.startPacketCapture(0, encodeCaptureFilter(parseCaptureFilter({ host: '10.0.0.1', snaplen: 100 }), 0));
  c.startPacketCapture(2, encodeCaptureFilter(parseCaptureFilter({ port: 2000, snaplen: 60 }), 0));
  runPackets(t, c, 'flowlens_xdp', [big], {}, 3);
  let got = read(c);
  t.equal(got.length, 3, 'one copy per frame for both captures');
  t.ok(got.every((g) => g.slots === 0b101 && g.data.length === 100 && g.origLen === big.length), 'both slots, the larger snap length, the whole length');
  t.strictSame(got[0]!.data, big.subarray(0, 100), 'the frame\'s first bytes');
  c.stopPacketCapture(0);
  c.testRun('flowlens_xdp', big);
  got = read(c);
  t.ok(got.length === 1 && got[0]!.slots === 0b100 && got[0]!.data.length === 60, 'after slot 0 stopped: slot 2 only, its snap length');
  c.stopPacketCapture(2);
  c.testRun('flowlens_xdp', big);
  t.equal(read(c).length, 0, 'nothing after both stopped');
  const d = await drain(c);
  t.equal(d.flows.length, 1, 'one flow');
  t.equal(d.flows[0]!.packets, 5, 'every run counted, captured or not');
  t.equal(d.flows[0]!.bytes, 5 * (big.length - 14), 'L3 bytes as always');
  t.strictSame(c.packetCaptureCounters(0), { matched: 3, dropped: 0 }, 'slot 0 counters');
  t.strictSame(c.packetCaptureCounters(2), { matched: 4, dropped: 0 }, 'slot 2 counters');
  t.throws(() => { c.startPacketCapture(2, encodeCaptureFilter(parseCaptureFilter({}), 0)); c.startPacketCapture(2, encodeCaptureFilter(parseCaptureFilter({}), 0)); },
    { code: 'FLOW_ERR_XDP_BUSY' }, 'a slot in use is refused');
  c.stopPacketCapture(2);
});

t.test('a full ring: what does not fit is counted as dropped, matched = read + dropped', async (t) => {
  if (!requireKernel(t)) return;
  const c = open(t, 256 << 10);
  const frame = v4udp('10.0.0.1', '10.0.0.2', 1, 2, 1400);
  c.startPacketCapture(3, encodeCaptureFilter(parseCaptureFilter({}), 0));
  const sent = 400;
  for (let i = 0; i < sent; i++) c.testRun('flowlens_tc_in', frame);
  c.stopPacketCapture(3);
  const got = read(c).length;
  const counters = c.packetCaptureCounters(3);
  t.equal(counters.matched, sent, 'every frame matched');
  t.ok(got > 100 && got < sent, `some fit (${got})`);
  t.equal(got + counters.dropped, sent, 'read + dropped = matched');
});

t.test('a collector loaded without a packet ring refuses captures', async (t) => {
  if (!requireKernel(t)) return;
  const c = open(t, 0);
  t.throws(() => c.startPacketCapture(0, encodeCaptureFilter(parseCaptureFilter({}), 0)), { code: 'FLOW_ERR_UNSUPPORTED' });
  t.throws(() => new (loadAddon().Collector)(MAP_ENTRIES, 0, undefined, 100_000), /power of two/, 'a ring size that is not a power of two');
});

