/**
 * Golden bytes: one drain buffer written out by hand, byte by byte, with one
 * comment per field (padding included), decoded with decodeIfaces and
 * FlowBatch. If the decoder read any field at the wrong offset, with the wrong
 * width, sign or byte order, a value here would come out wrong.
 *
 * All multi-byte numbers are little-endian (x86-64/arm64 host order) except the
 * addresses, which are network order.
 */
import t from 'tap';
import { decodeIfaces, FlowBatch } from '../../src/collector/decode.js';
import { formatAddress } from '../../src/net/address-text.js';
import { ClockOffset } from '../../src/collector/clock.js';
import { FLOW_ID_NONE, FlowRecord, IfaceRecord } from '../../src/collector/layout.gen.js';

/** Hex bytes with `//` comments; whitespace is ignored. */
function hex(text: string): Buffer {
  const digits = text.split('\n').map((l) => l.replace(/\/\/.*$/, '')).join('').replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(digits)) throw new Error(`bad hex: ${digits}`);
  return Buffer.from(digits, 'hex');
}

const IFACE_RECORD = `
  // ---- iface_record #0, bytes [0, 112) ----
  // -- key (struct iface_key, 8 bytes) --
  07 00 00 00                // +0   ifindex = 7
  01                         // +4   direction = 1 (egress)
  01                         // +5   epoch = 1
  00 00                      // +6   pad0
  // -- counters (struct iface_counters, 104 bytes) --
  05 00 00 00 03 00 00 00    // +8   ip_packets = 0x3_0000_0005 = 12884901893
  00 10 00 00 00 00 02 00    // +16  ip_bytes = 2^49 + 4096 = 562949953425408
  e8 03 00 00 00 00 00 00    // +24  flows = 1000
  02 00 00 00 01 00 00 00    // +32  overflow_packets = 0x1_0000_0002 = 4294967298
  ab 89 67 45 23 01 00 00    // +40  overflow_bytes = 0x123_4567_89ab = 1250999896491
  03 00 00 00 00 00 00 00    // +48  non_ip_packets = 3
  b4 00 00 00 00 00 00 00    // +56  non_ip_bytes = 180
  01 00 00 00 00 00 00 00    // +64  malformed_packets = 1
  00 00 00 00 00 00 10 00    // +72  malformed_bytes = 2^52 = 4503599627370496
  09 00 00 00 00 00 00 00    // +80  forwarded_packets = 9
  00 00 01 00 00 00 00 00    // +88  forwarded_bytes = 2^16 = 65536
  2c 00 00 00 00 00 00 00    // +96  gso_added_packets = 44
  f0 08 00 00 00 00 00 00    // +104 gso_added_bytes = 44 x 52 = 2288
`;

const FLOW_V4_TCP = `
  // ---- flow_record #0, bytes [112, 200) ----
  // -- key (struct flow_key, 48 bytes) --
  07 00 00 00                // +0   ifindex = 7
  00                         // +4   direction = 0 (ingress)
  04                         // +5   ip_version = 4
  06                         // +6   protocol = 6 (TCP)
  00                         // +7   pad0
  0a e8 01 02                // +8   src_addr = 10.232.1.2 (network order) ...
  00 00 00 00 00 00 00 00 00 00 00 00   // ... src_addr bytes 4..15, zero for IPv4
  c0 a8 ff fe                // +24  dst_addr = 192.168.255.254 ...
  00 00 00 00 00 00 00 00 00 00 00 00   // ... dst_addr bytes 4..15
  bb 01                      // +40  src_port = 443 (host order)
  38 c7                      // +42  dst_port = 51000 (> 32767: unsigned)
  00 00 00 00                // +44  pad1
  // -- counters (struct flow_counters, 40 bytes) --
  01 00 00 00 02 00 00 00    // +48  packets = 0x2_0000_0001 = 8589934593
  ff ff ff ff ff ff 1f 00    // +56  bytes = 2^53 - 1 = 9007199254740991
  60 d5 1c 2a 01 00 00 00    // +64  first_seen_ns = 5001500000
  f8 84 ee 38 01 00 00 00    // +72  last_seen_ns = 5250123000
  1b 00 00 00                // +80  tcp_flags = 0x1b (FIN SYN PSH ACK)
  07 01 00 00                // +84  flow_id = 263 (the addon's stable id; in a kernel slot this word is slot_state)
`;

const FLOW_V6_UDP = `
  // ---- flow_record #1, bytes [200, 288) ----
  // -- key --
  2c 01 00 00                // +0   ifindex = 300
  01                         // +4   direction = 1 (egress)
  06                         // +5   ip_version = 6
  11                         // +6   protocol = 17 (UDP)
  00                         // +7   pad0
  20 01 0d b8 00 00 00 01 00 00 00 00 00 00 00 01   // +8   src_addr = 2001:db8:0:1::1
  fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01   // +24  dst_addr = fe80::1
  ff ff                      // +40  src_port = 65535
  40 9c                      // +42  dst_port = 40000
  00 00 00 00                // +44  pad1
  // -- counters --
  00 00 00 00 01 00 00 00    // +48  packets = 2^32 = 4294967296
  ff ff ff ff ff 00 00 00    // +56  bytes = 2^40 - 1 = 1099511627775
  20 c9 72 ee 00 00 00 00    // +64  first_seen_ns = 4000500000
  78 07 82 ee 00 00 00 00    // +72  last_seen_ns = 4001499000
  00 00 00 00                // +80  tcp_flags = 0 (not TCP)
  ff ff ff ff                // +84  flow_id = FLOW_ID_NONE (no id: ids off)
`;

// wall-clock 1.7e12 ms when CLOCK_MONOTONIC read 5 s
const clock = new ClockOffset(1_700_000_000_000, 5_000_000_000);

t.test('the hand-written records have the sizes of layout.gen.ts', async (t) => {
  t.equal(hex(IFACE_RECORD).length, IfaceRecord.size);
  t.equal(hex(FLOW_V4_TCP).length, FlowRecord.size);
  t.equal(hex(FLOW_V6_UDP).length, FlowRecord.size);
});

t.test('decodeIfaces reads every field of an iface_record', async (t) => {
  const buf = Buffer.concat([hex(IFACE_RECORD), hex(FLOW_V4_TCP), hex(FLOW_V6_UDP)]);
  t.same(decodeIfaces(buf, 1), [{
    ifindex: 7,
    direction: 'egress',
    packets: 12884901893,
    bytes: 562949953425408,
    flows: 1000,
    overflowPackets: 4294967298,
    overflowBytes: 1250999896491,
    nonIpPackets: 3,
    nonIpBytes: 180,
    malformedPackets: 1,
    malformedBytes: 4503599627370496,
    forwardedPackets: 9,
    forwardedBytes: 65536,
    gsoAddedPackets: 44,
    gsoAddedBytes: 2288,
  }]);
  t.same(decodeIfaces(buf, 0), [], 'no records');
});

t.test('FlowBatch reads every field of an IPv4 TCP and an IPv6 UDP flow_record', async (t) => {
  const buf = Buffer.concat([hex(IFACE_RECORD), hex(FLOW_V4_TCP), hex(FLOW_V6_UDP)]);
  const batch = new FlowBatch(buf, 1 * IfaceRecord.size, 2, clock);
  t.equal(batch.count, 2);
  const expected = [
    {
      ifindex: 7,
      direction: 'ingress',
      ipVersion: 4,
      protocol: 6,
      src: '10.232.1.2',
      dst: '192.168.255.254',
      srcPort: 443,
      dstPort: 51000,
      packets: 8589934593,
      bytes: 9007199254740991,
      firstSeen: 1_700_000_000_001.5,   // 1.5 ms after the reference
      lastSeen: 1_700_000_000_250.123,  // 250.123 ms after
      tcpFlags: 0x1b,
    },
    {
      ifindex: 300,
      direction: 'egress',
      ipVersion: 6,
      protocol: 17,
      src: '2001:db8:0:1::1',
      dst: 'fe80::1',
      srcPort: 65535,
      dstPort: 40000,
      packets: 4294967296,
      bytes: 1099511627775,
      firstSeen: 1_699_999_999_000.5,   // 999.5 ms before the reference
      lastSeen: 1_699_999_999_001.499,
      tcpFlags: 0,
    },
  ];
  t.strictSame(batch.flows(), expected, 'flows()');
  for (let i = 0; i < 2; i++) {
    const e = expected[i];
    t.strictSame(batch.flow(i), e, `flow(${i})`);
    // the per-field accessors agree with flow()
    t.equal(batch.ifindex(i), e.ifindex);
    t.equal(batch.direction(i), e.direction);
    t.equal(batch.ipVersion(i), e.ipVersion);
    t.equal(batch.protocol(i), e.protocol);
    t.equal(batch.src(i), e.src);
    t.equal(batch.dst(i), e.dst);
    t.equal(batch.srcPort(i), e.srcPort);
    t.equal(batch.dstPort(i), e.dstPort);
    t.equal(batch.packets(i), e.packets);
    t.equal(batch.bytes(i), e.bytes);
    t.equal(batch.firstSeen(i), e.firstSeen);
    t.equal(batch.lastSeen(i), e.lastSeen);
    t.equal(batch.tcpFlags(i), e.tcpFlags);
  }
  t.equal(batch.flowId(0), 263, 'flowId: the word after tcp_flags');
  t.equal(batch.flowId(1), FLOW_ID_NONE, 'flowId: none');
  t.equal(FLOW_ID_NONE, 0xffffffff);
});

t.test('FlowBatch works on a buffer that is a slice of a larger allocation', async (t) => {
  // Buffer.alloc(small) comes from a shared pool at a non-zero byteOffset; a
  // decoder that forgot byteOffset would read someone else's bytes
  const records = Buffer.concat([hex(IFACE_RECORD), hex(FLOW_V4_TCP), hex(FLOW_V6_UDP)]);
  const big = Buffer.alloc(1000, 0xee);
  records.copy(big, 333);
  const buf = big.subarray(333, 333 + records.length);
  t.equal(buf.byteOffset, 333);
  t.same(decodeIfaces(buf, 1)[0].overflowBytes, 1250999896491);
  const batch = new FlowBatch(buf, IfaceRecord.size, 2, clock);
  t.equal(batch.src(0), '10.232.1.2');
  t.equal(batch.dst(1), 'fe80::1');
  t.equal(batch.srcPort(1), 65535);
  t.equal(batch.lastSeen(0), 1_700_000_000_250.123);
});

t.test('a first/last seen of 0 (never) stays 0', async (t) => {
  const rec = hex(FLOW_V4_TCP);
  rec.fill(0, 64, 80);
  const batch = new FlowBatch(rec, 0, 1, clock);
  t.equal(batch.firstSeen(0), 0);
  t.equal(batch.lastSeen(0), 0);
});

/** 16 bytes from eight 16-bit groups. */
function v6(groups: number[]): Buffer {
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
  return b;
}

t.test('IPv6 text follows RFC 5952', async (t) => {
  const cases: [number[], string, string][] = [
    [[0, 0, 0, 0, 0, 0, 0, 0], '::', 'unspecified'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1', 'loopback'],
    [[0xfe80, 0, 0, 0, 0, 0, 0, 1], 'fe80::1', 'link-local'],
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], '2001:db8::', 'trailing run'],
    [[0x2001, 0xdb8, 0, 1, 0, 0, 0, 1], '2001:db8:0:1::1', 'the run, not the single 0'],
    [[0x2001, 0xdb8, 1, 2, 3, 4, 5, 6], '2001:db8:1:2:3:4:5:6', 'no zero group: no compression'],
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1', 'a single 0 group is not compressed (4.2.2)'],
    [[0x2001, 0, 0, 1, 0, 0, 1, 1], '2001::1:0:0:1:1', 'equal runs: the first one (4.2.3)'],
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1', 'the longest run (4.2.3)'],
    [[0x2001, 0x0db8, 0x00a0, 0, 0, 0, 0, 0x0001], '2001:db8:a0::1', 'no leading zeros (4.1)'],
    [[0xABCD, 0xEF01, 0, 0, 0, 0, 0, 0xFFFF], 'abcd:ef01::ffff', 'lower case (4.3)'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::', 'seven zero groups at the end'],
    [[0, 0, 0, 0, 0, 0, 0, 0xffff], '::ffff', 'seven zero groups at the start'],
    [[0, 1, 0, 1, 0, 1, 0, 1], '0:1:0:1:0:1:0:1', 'alternating single zeros'],
    [[0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff], 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'all ones'],
  ];
  for (const [groups, text, why] of cases) {
    t.equal(formatAddress(v6(groups), 0, 6), text, `${text}: ${why}`);
    // and the same address at an odd offset inside a larger buffer
    const b = Buffer.concat([Buffer.from([0x55, 0x66, 0x77]), v6(groups), Buffer.from([0x88])]);
    t.equal(formatAddress(b, 3, 6), text, `${text} at offset 3`);
  }
});

t.test('IPv6 text agrees with the WHATWG URL serializer on random addresses', async (t) => {
  // WHATWG's IPv6 serializer compresses the first longest run of >= 2 zero groups,
  // in lower case without leading zeros: RFC 5952 for addresses without IPv4 notation
  let seed = 0x5eed;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  let mismatches = 0;
  for (let n = 0; n < 2000; n++) {
    // mostly zero groups, so that runs of every length and position occur
    const groups = Array.from({ length: 8 }, () => (rnd() % 3 === 0 ? rnd() & 0xffff : 0));
    const ours = formatAddress(v6(groups), 0, 6);
    const theirs = new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
    if (ours !== theirs) {
      mismatches++;
      t.equal(ours, theirs, groups.join(','));
    }
  }
  t.equal(mismatches, 0, '2000 addresses agree');
});

t.test('IPv4 text', async (t) => {
  t.equal(formatAddress(Buffer.from([0, 0, 0, 0]), 0, 4), '0.0.0.0');
  t.equal(formatAddress(Buffer.from([255, 255, 255, 255]), 0, 4), '255.255.255.255');
  t.equal(formatAddress(Buffer.from([10, 232, 0, 1]), 0, 4), '10.232.0.1');
  // the first four bytes of 16 that are the same as an IPv6 address's: different text
  const b = Buffer.alloc(16);
  b.set([0x20, 0x01, 0x0d, 0xb8]);
  t.equal(formatAddress(b, 0, 4), '32.1.13.184');
  t.equal(formatAddress(b, 0, 6), '2001:db8::');
  t.equal(formatAddress(b, 0, 4), '32.1.13.184', 'the cache keeps them apart');
});
