/**
 * The user side of packet captures without a kernel: a fake of the addon's
 * four capture calls (a ring of records as bpf/pcap.bpf.h writes them) under
 * the real PacketCaptures, filters and file writers.
 *
 * - filters: each flag to the struct pcap_filter bytes the kernel reads (by
 *   the generated offsets), and every refusal names the bad part;
 * - files: pcapng and pcap read back by flowlens's own reader (interfaces,
 *   names, timestamps in order, lengths, cut frames) and the pcapng blocks
 *   checked for directions and statistics;
 * - limits: --count writes exactly N, --max-size keeps the whole file (its
 *   statistics included) within the size, a stop still writes the frames
 *   copied before it; a fifth capture is refused; frames go only to the
 *   captures whose slot bit they carry.
 */
import t from 'tap';
import { PassThrough, Readable } from 'node:stream';
import { PacketCaptures, parseCaptureFilter, captureExpression, type CaptureResult } from '../../src/capture/index.js';
import { encodeCaptureFilter } from '../../src/capture/filter.js';
import { captureSpec } from '../../src/api/capture.js';
import { PCAP_MATCH_HOST, PCAP_MATCH_NET, PCAP_MATCH_PORT, PCAP_MATCH_PROTO, PCAP_MATCH_SESSION, PCAP_MATCH_SESSION_PORTS, PcapFilter } from '../../src/collector/layout.gen.js';
import { readCapture, type CaptureInterface } from '../../src/offline/pcap-reader.js';
import { FakeRing } from '../helpers/fake-pcap-ring.js';

const IFACES = [{ name: 'eth0', ifindex: 2 }, { name: 'wlan0', ifindex: 3 }];

function frame(n: number, size = 60): Buffer {
  const f = Buffer.alloc(size, n & 0xff);
  f.writeUInt16BE(0x0800, 12);
  f.writeUInt32BE(n, 20);
  return f;
}

async function collect(out: PassThrough): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of out) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Read { iface: CaptureInterface; data: Buffer; origLen: number; ns: bigint }

async function readBack(file: Buffer): Promise<{ frames: Read[]; interfaces: CaptureInterface[]; comments: string[]; format: string }> {
  const frames: Read[] = [];
  const summary = await readCapture(Readable.from([file]), {
    frame: (data, start, capLen, origLen, sec, nsec, iface) => { frames.push({ iface, data: Buffer.from(data.subarray(start, start + capLen)), origLen, ns: BigInt(sec) * 1_000_000_000n + BigInt(nsec) }); },
  });
  return { frames, interfaces: summary.interfaces, comments: summary.comments, format: summary.format };
}

/** pcapng blocks by type: [type, body] in file order. */
function blocks(file: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  for (let at = 0; at < file.length;) {
    const type = file.readUInt32LE(at), len = file.readUInt32LE(at + 4);
    out.push([type, file.subarray(at + 8, at + len - 4)]);
    at += len;
  }
  return out;
}

/** The options of a block body from `from` on: code → value. */
function options(body: Buffer, from: number): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (let at = from; at + 4 <= body.length;) {
    const code = body.readUInt16LE(at), len = body.readUInt16LE(at + 2);
    if (code === 0) break;
    m.set(code, body.subarray(at + 4, at + 4 + len));
    at += 4 + ((len + 3) & ~3);
  }
  return m;
}

t.test('filters: flags to the kernel\'s struct pcap_filter, and tcpdump\'s words', async (t) => {
  const b = encodeCaptureFilter(parseCaptureFilter({ host: '10.0.0.1', port: '443', proto: 'tcp', snaplen: '128' }), 7);
  t.equal(b.length, PcapFilter.size);
  t.equal(b.readUInt32LE(PcapFilter.ifindex), 7, 'ifindex');
  t.equal(b.readUInt32LE(PcapFilter.snaplen), 128, 'snap length');
  t.equal(b[PcapFilter.match], PCAP_MATCH_HOST | PCAP_MATCH_PORT | PCAP_MATCH_PROTO, 'match bits');
  t.equal(b[PcapFilter.ipVersion], 4);
  t.equal(b[PcapFilter.protocol], 6);
  t.equal(b.readUInt16LE(PcapFilter.port), 443);
  t.strictSame([...b.subarray(PcapFilter.host, PcapFilter.host + 16)], [10, 0, 0, 1, ...Array(12).fill(0)], 'IPv4 in the first 4 bytes, as the flow key holds it');

  const n = encodeCaptureFilter(parseCaptureFilter({ net: '2001:db8:ab00::/40' }), 0);
  t.equal(n[PcapFilter.match], PCAP_MATCH_NET);
  t.equal(n[PcapFilter.ipVersion], 6);
  t.strictSame([...n.subarray(PcapFilter.netMask, PcapFilter.netMask + 16)], [255, 255, 255, 255, 255, ...Array(11).fill(0)], '/40 mask');
  t.strictSame([...n.subarray(PcapFilter.net, PcapFilter.net + 6)], [0x20, 0x01, 0x0d, 0xb8, 0xab, 0], 'the prefix, masked');
  const odd = encodeCaptureFilter(parseCaptureFilter({ net: '10.1.255.255/17' }), 0);
  t.strictSame([...odd.subarray(PcapFilter.netMask, PcapFilter.netMask + 4)], [255, 255, 128, 0], '/17 mask');
  t.strictSame([...odd.subarray(PcapFilter.net, PcapFilter.net + 4)], [10, 1, 128, 0], 'masked: 10.1.128.0');

  const s = parseCaptureFilter({ session: 'eth0|6|10.0.0.2|51000|192.0.2.1|443' });
  const sb = encodeCaptureFilter(s, 2);
  t.equal(sb[PcapFilter.match], PCAP_MATCH_SESSION | PCAP_MATCH_SESSION_PORTS, 'session with ports');
  t.equal(sb.readUInt16LE(PcapFilter.portA), 51000);
  t.equal(sb.readUInt16LE(PcapFilter.portB), 443);
  t.equal(s.iface, 'eth0', 'the session names its interface');
  t.equal(captureExpression(s), 'tcp and ((src host 10.0.0.2 and src port 51000 and dst host 192.0.2.1 and dst port 443) or (src host 192.0.2.1 and src port 443 and dst host 10.0.0.2 and dst port 51000))');
  const icmp = encodeCaptureFilter(parseCaptureFilter({ session: 'eth0|1|10.0.0.2|echo|192.0.2.1' }), 2);
  t.equal(icmp[PcapFilter.match], PCAP_MATCH_SESSION, 'an ICMP session: addresses only');
  t.equal(captureExpression(parseCaptureFilter({ host: 'fd00::1', port: 53 })), 'ip6 host fd00::1 and (tcp port 53 or udp port 53)');
  t.equal(captureExpression(parseCaptureFilter({ proto: 'gre' })), '(ip proto 47 or ip6 proto 47)');
  t.equal(captureExpression(parseCaptureFilter({ proto: 'icmp', host: '10.0.0.1' })), 'ip host 10.0.0.1 and icmp');
  t.equal(captureExpression(parseCaptureFilter({})), '', 'no condition: every frame');

  const refusals: Array<[Parameters<typeof parseCaptureFilter>[0], RegExp]> = [
    [{ host: '10.0.0' }, /--host: "10\.0\.0" is not an IPv4 or IPv6 address/],
    [{ net: 'fd00::/129' }, /--net: "fd00::\/129" is not an address or CIDR prefix/],
    [{ port: '65536' }, /--port must be a whole number from 0 to 65535/],
    [{ port: 'http' }, /--port must be a whole number/],
    [{ proto: 'nope' }, /--proto: unknown protocol "nope"/],
    [{ proto: 'icmp', port: 1 }, /--port needs TCP or UDP, but --proto is icmp/],
    [{ host: '10.0.0.1', net: 'fd00::/8' }, /no packet can match both/],
    [{ session: 'eth0|6|10.0.0.2|51000|192.0.2.1' }, /is not a session id/],
    [{ session: 'eth0|6|10.0.0.2|51000|fd00::1|443' }, /is not a session id/],
    [{ session: 'eth0|6|10.0.0.2|1|192.0.2.1|2', iface: 'eth1' }, /--session is on eth0, but --iface says eth1/],
    [{ snaplen: '0' }, /--snaplen must be a whole number from 1 to 65535/],
    [{ iface: ' ' }, /--iface needs an interface name/],
  ];
  for (const [req, message] of refusals) t.throws(() => parseCaptureFilter(req), { code: 'FLOW_ERR_USAGE', message }, JSON.stringify(req));
  t.throws(() => captureSpec({ count: '0' }), /--count must be a positive whole number/);
  t.throws(() => captureSpec({ duration: 'soon' }), /--duration must be a duration/);
  t.throws(() => captureSpec({ maxSize: 'big' }), /--max-size must be a size like 10MB/);
  t.throws(() => captureSpec({ maxSize: '100' }), /at least 1024 bytes/);
  t.throws(() => captureSpec({ format: 'json' }), /--format must be pcapng or pcap/);
  t.throws(() => captureSpec({ count: 'x' }, 'params'), /^count must be/, 'API parameters are named as parameters');
  t.match(captureSpec({ count: '5', duration: '2s', maxSize: '1MiB', format: 'pcap' }), { limits: { count: 5, durationMs: 2000, maxBytes: 1 << 20 }, format: 'pcap' });
});

t.test('pcapng: interfaces, directions, times in order, cut frames, statistics; --count writes exactly N', async (t) => {
  const ring = new FakeRing();
  const pc = new PacketCaptures(ring.native(), () => IFACES);
  const out = new PassThrough();
  const file = collect(out);
  const c = pc.start({ filter: parseCaptureFilter({ snaplen: 50 }), limits: { count: 5 }, out });
  t.equal(pc.running, 1);
  const t0 = process.hrtime.bigint();
  ring.push(1, 2, 0, frame(1), t0, 50);
  ring.push(1, 3, 1, frame(2, 40), t0 + 1000n);
  ring.push(1, 2, 1, frame(3, 100), t0 + 2000n, 50);
  for (let i = 4; i <= 8; i++) ring.push(1, 2, 0, frame(i), t0 + BigInt(i) * 1000n, 50);
  const r: CaptureResult = await c.done;
  t.match(r, { packets: 5, reason: 'count', matched: 8, dropped: 0, interfaces: ['eth0', 'wlan0'] }, 'exactly 5 frames, of 8 matched');
  t.equal(pc.running, 0, 'the slot is free again');
  const bytes = await file;
  t.equal(r.fileBytes, bytes.length, 'fileBytes is the file\'s size');
  const back = await readBack(bytes);
  t.equal(back.format, 'pcapng');
  t.strictSame(back.interfaces.map((i) => [i.name, i.linkType, i.snapLen]), [['eth0', 1, 50], ['wlan0', 1, 50]], 'one Ethernet interface block per interface, named');
  t.strictSame(back.frames.map((f) => [f.iface.name, f.data.readUInt32BE(20), f.data.length, f.origLen]),
    [['eth0', 1, 50, 60], ['wlan0', 2, 40, 40], ['eth0', 3, 50, 100], ['eth0', 4, 50, 60], ['eth0', 5, 50, 60]], 'frames, their interfaces, captured and original lengths');
  t.ok(back.frames.every((f, i) => i === 0 || f.ns > back.frames[i - 1]!.ns), 'times in order');
  t.strictSame(back.frames.map((f) => Number(f.ns - back.frames[0]!.ns)), [0, 1000, 2000, 4000, 5000], 'ns resolution kept');
  t.match(back.comments.join(' '), /flowlens capture: every frame/);
  const epbs = blocks(bytes).filter(([type]) => type === 6);
  t.strictSame(epbs.map(([, body]) => options(body, 20 + ((body.readUInt32LE(12) + 3) & ~3)).get(2)!.readUInt32LE(0)), [1, 2, 2, 1, 1], 'epb_flags: inbound, outbound');
  const isbs = blocks(bytes).filter(([type]) => type === 5);
  t.equal(isbs.length, 2, 'a statistics block per interface');
  t.strictSame(isbs.map(([, body]) => options(body, 12).get(8)!.readBigUInt64LE(0)), [4n, 1n], 'isb_usrdeliv: frames written per interface');
});

t.test('one interface: its block first, statistics with matched and dropped; --max-size keeps the whole file within it', async (t) => {
  const ring = new FakeRing();
  const pc = new PacketCaptures(ring.native(), () => IFACES);
  const out = new PassThrough();
  const file = collect(out);
  const max = 2000;
  const c = pc.start({ filter: parseCaptureFilter({ iface: 'eth0', host: '10.0.0.1' }), limits: { maxBytes: max }, out });
  for (let i = 0; i < 40; i++) ring.push(1, 2, 0, frame(i, 100));
  ring.counters.get(0)!.dropped = 3;
  const r = await c.done;
  const bytes = await file;
  t.equal(r.reason, 'size');
  t.ok(bytes.length <= max, `the file (${bytes.length} bytes) is within --max-size ${max}`);
  t.ok(bytes.length + 100 + 32 > max, 'and one more frame would not have fitted');
  const back = await readBack(bytes);
  t.equal(back.frames.length, r.packets, 'every frame written reads back');
  const isb = blocks(bytes).filter(([type]) => type === 5);
  t.equal(isb.length, 1);
  const o = options(isb[0]![1], 12);
  t.equal(o.get(6)!.readBigUInt64LE(0), 40n, 'isb_filteraccept: matched');
  t.equal(o.get(7)!.readBigUInt64LE(0), 3n, 'isb_osdrop: lost in the kernel');
  t.equal(o.get(8)!.readBigUInt64LE(0), BigInt(r.packets), 'isb_usrdeliv: written');
  const idb = blocks(bytes).find(([type]) => type === 1)!;
  t.equal(options(idb[1], 8).get(11)!.subarray(1).toString(), 'ip host 10.0.0.1', 'if_filter: the filter in tcpdump\'s words');
});

t.test('stop writes what was copied before it; slots are bounded; frames go only to their captures', async (t) => {
  const ring = new FakeRing();
  const pc = new PacketCaptures(ring.native(), () => IFACES);
  const outs = [0, 1, 2, 3].map(() => new PassThrough());
  const files = outs.map(collect);
  const caps = outs.map((out, i) => pc.start({ filter: parseCaptureFilter({ iface: 'eth0', port: 1000 + i }), out, format: i === 3 ? 'pcap' : 'pcapng' }));
  t.strictSame(caps.map((c) => c.slot), [0, 1, 2, 3], 'four slots');
  t.throws(() => pc.start({ filter: parseCaptureFilter({}), out: new PassThrough() }), { code: 'FLOW_ERR_CAPTURE_BUSY' }, 'a fifth is refused');
  t.throws(() => pc.start({ filter: parseCaptureFilter({ iface: 'eth9' }), out: new PassThrough() }), { code: 'FLOW_ERR_UNKNOWN_INTERFACE', message: /does not count on "eth9"/ });
  ring.push(0b0001, 2, 0, frame(1));
  ring.push(0b0011, 2, 0, frame(2));
  ring.push(0b1000, 2, 1, frame(3));
  ring.push(0b1010, 2, 1, frame(4));
  // stop before the poll has read the ring: the frames copied before it are still written
  const results = await Promise.all(caps.map((c) => c.stop()));
  t.strictSame(results.map((r) => [r.packets, r.reason]), [[2, 'stopped'], [2, 'stopped'], [0, 'stopped'], [2, 'stopped']]);
  const backs = await Promise.all(files.map(async (f) => readBack(await f)));
  t.strictSame(backs.map((b) => b.frames.map((f) => f.data.readUInt32BE(20))), [[1, 2], [2, 4], [], [3, 4]], 'each capture holds the frames of its bit, in order');
  t.equal(backs[3]!.format, 'pcap', 'classic pcap when asked');
  t.equal(pc.running, 0);
  t.equal(pc.start({ filter: parseCaptureFilter({}), out: new PassThrough() }).slot, 0, 'a freed slot is used again');
  pc.closeAll();
});

t.test('an output that fails ends the capture and frees its slot', async (t) => {
  const ring = new FakeRing();
  const pc = new PacketCaptures(ring.native(), () => IFACES);
  const out = new PassThrough();
  const c = pc.start({ filter: parseCaptureFilter({ iface: 'eth0' }), out });
  out.destroy(Object.assign(new Error('broken pipe'), { code: 'EPIPE' }));
  const r = await c.done;
  t.match(r, { reason: 'output-closed', outputError: 'EPIPE' });
  t.equal(pc.running, 0, 'the slot is free');
});
