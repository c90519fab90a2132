/**
 * The capture reader without a kernel: every record of pcap (µs, ns, both
 * byte orders) and pcapng (two interfaces, ns resolution, simple packet
 * blocks) comes out whole with its exact time, whatever the chunk sizes the
 * stream arrives in (a record split across chunks included); a cut file or
 * gzip stream stops at the last whole record and says where; the link types
 * wrap into the Ethernet frames the BPF program parses.
 */
import t from 'tap';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { readCapture, type ReadSummary } from '../../src/offline/pcap-reader.js';
import { toEthernet } from '../../src/offline/link.js';
import { PcapWriter, PcapngWriter } from '../helpers/pcap.js';
import { udp4 } from '../helpers/packets.js';

interface Rec { data: string; origLen: number; sec: number; nsec: number; iface: number }

async function read(bytes: Buffer, chunk = 1 << 20): Promise<{ recs: Rec[]; summary: ReadSummary }> {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  const recs: Rec[] = [];
  const summary = await readCapture(Readable.from(parts), {
    frame(d, s, c, o, sec, nsec, iface) { recs.push({ data: d.toString('hex', s, s + c), origLen: o, sec, nsec, iface: iface.index }); },
  });
  return { recs, summary };
}

const frames = Array.from({ length: 9 }, (_, i) => udp4('10.0.0.1', '10.0.0.2', 1000 + i, 53, 10 + i * 30));

t.test('pcap: µs and ns, both byte orders, any chunking', async (t) => {
  for (const opts of [{}, { nano: true }, { bigEndian: true }, { nano: true, bigEndian: true }]) {
    const w = new PcapWriter(1_700_000_000, opts);
    frames.forEach((f) => w.add(f, 250_001));
    const bytes = w.toBuffer();
    for (const chunk of [1 << 20, 7, 1]) {
      const { recs, summary } = await read(bytes, chunk);
      t.same(recs.map((r) => r.data), frames.map((f) => f.toString('hex')), `${JSON.stringify(opts)}, ${chunk}-byte chunks: every frame whole`);
      t.same(recs.map((r) => [r.sec, r.nsec]), frames.map((_, i) => {
        const us = (i + 1) * 250_001;
        return [1_700_000_000 + Math.floor(us / 1e6), (us % 1e6) * 1000];
      }), 'exact times');
      t.match(summary, { format: 'pcap', records: frames.length, bytes: bytes.length }, 'summary');
      t.equal(summary.truncatedAt, undefined, 'not truncated');
    }
  }
});

t.test('pcapng: two interfaces, ns resolution, simple packet blocks, comments', async (t) => {
  const w = new PcapngWriter(1_700_000_000, 'hello');
  w.addInterface('a');
  w.addInterface('b', { tsresol: 9 });
  frames.forEach((f, i) => (i === 4 ? w.addSimple(f) : w.add(i % 2, f, 1_000_003)));
  for (const chunk of [1 << 20, 5]) {
    const { recs, summary } = await read(w.toBuffer(), chunk);
    t.same(recs.map((r) => r.data), frames.map((f) => f.toString('hex')), `${chunk}-byte chunks: every frame whole`);
    t.same(recs.map((r) => r.iface), [0, 1, 0, 1, 0, 1, 0, 1, 0], 'interfaces (the simple block: interface 0)');
    t.same(recs[4]!.sec, -1, 'a simple packet block has no time');
    t.same(recs.filter((_, i) => i !== 4).map((r) => [r.sec, r.nsec]), [1, 2, 3, 4, 5, 6, 7, 8].map((k) => {
      const us = k * 1_000_003;
      return [1_700_000_000 + Math.floor(us / 1e6), (us % 1e6) * 1000];
    }), 'exact times in µs and ns resolution');
    t.same(summary.interfaces.map((i) => i.name), ['a', 'b'], 'interface names');
    t.same(summary.comments, ['hello'], 'the section comment');
  }
});

t.test('a cut file or gzip stream stops at the last whole record and says where', async (t) => {
  const w = new PcapWriter();
  frames.forEach((f) => w.add(f));
  const bytes = w.toBuffer();
  const lastAt = bytes.length - 16 - frames.at(-1)!.length;
  for (const cut of [1, 10, 16, frames.at(-1)!.length + 15]) {
    const { recs, summary } = await read(bytes.subarray(0, bytes.length - cut), 7);
    t.equal(recs.length, frames.length - 1, `cut by ${cut}: all but the last record`);
    t.equal(summary.truncatedAt, lastAt, `truncatedAt ${lastAt}`);
  }
  const gz = gzipSync(bytes);
  const { recs, summary } = await read(gz.subarray(0, gz.length - 30));
  t.ok(recs.length < frames.length && recs.every((r, i) => r.data === frames[i]!.toString('hex')), `gzip cut short: ${recs.length} whole records`);
  t.ok(summary.truncatedAt !== undefined && summary.compressed, 'truncated, compressed');
});

t.test('link types wrap into Ethernet', async (t) => {
  const ip = frames[0]!.subarray(14);
  const out = Buffer.alloc(2048);
  const sll2 = Buffer.concat([Buffer.from('0800000000000003000104060200000000010000', 'hex'), ip]);
  const w = toEthernet(276, sll2, 0, sll2.length, out, 0);
  t.same({ way: w.way, length: w.length }, { way: 'out', length: 14 + ip.length }, 'SLL2: outgoing, 14 + L3 bytes');
  t.equal(out.toString('hex', 0, 14), '000000000000020000000001' + '0800', 'SLL2: the source MAC and the protocol');
  t.equal(out.toString('hex', 14, 14 + ip.length), ip.toString('hex'), 'SLL2: the L3 bytes as they were');
  const raw = toEthernet(101, ip, 0, ip.length, out, 0);
  t.equal(out.readUInt16BE(12), 0x0800, 'raw IP: IPv4 by its version');
  t.equal(raw.linkHeader, -14, 'raw IP: 14 bytes more than the record');
  const af = Buffer.concat([Buffer.from([30, 0, 0, 0]), ip]);
  toEthernet(0, af, 0, af.length, out, 0);
  t.equal(out.readUInt16BE(12), 0x86dd, 'BSD loopback: AF_INET6 (30) is IPv6');
});
