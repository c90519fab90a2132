/**
 * `flowlens analyze` reads every format it documents to the same exact counts:
 * pcap with µs and ns timestamps in both byte orders, pcapng with two
 * interfaces, enhanced and simple packet blocks and comments, raw IP, BSD
 * loopback and Linux cooked (SLL) link types, records cut by a snap length,
 * gzip, stdin; and a real `tcpdump -i any` capture (SLL2) of traffic in the
 * test's namespaces agrees with tshark and keeps the direction tcpdump saw.
 * Bad files: a truncated file is analyzed up to its last whole record and
 * says where it stopped; a corrupt header, an unknown link type, a record
 * longer than its snap length are one clear error with the byte offset.
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor } from '../helpers/netns.js';
import { PcapWriter, PcapngWriter } from '../helpers/pcap.js';
import { flowIdKey, type Truth } from '../helpers/tally.js';
import { buildCapture } from '../helpers/replay-capture.js';
import { analyzeCli, analyzeJson } from '../helpers/analyze-cli.js';
import type { AnalysisJson } from '../../src/cli/analyze.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-analyze-formats-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string) => path.join(tmp, name);

const cap = buildCapture(7);
const truth = cap.truth.flows;

function flowsOf(j: AnalysisJson): Map<string, Truth> {
  const m = new Map<string, Truth>();
  for (const f of j.flows) {
    const k = flowIdKey({ ipVersion: f.ipVersion, protocol: f.protocolNumber, src: f.src, dst: f.dst, srcPort: f.srcPort, dstPort: f.dstPort });
    const e = m.get(k) ?? { packets: 0, bytes: 0 };
    e.packets += f.packets;
    e.bytes += f.bytes;
    m.set(k, e);
  }
  return m;
}

function sameAsTruth(t: Test, j: AnalysisJson, what: string, want = truth): void {
  const got = flowsOf(j);
  const diff = [...new Set([...want.keys(), ...got.keys()])].filter((k) => {
    const a = want.get(k);
    const b = got.get(k);
    return !a || !b || a.packets !== b.packets || a.bytes !== b.bytes;
  });
  t.same(diff, [], `${what}: all ${want.size} flows with the exact packets and bytes, no other flow`);
}

const ethless = (f: Buffer) => f.subarray(14);

t.test('every format gives the same exact flows', async (t) => {
  if (!requireKernel(t)) return;
  // pcap: µs little-endian, ns big-endian
  const us = new PcapWriter();
  const nsBe = new PcapWriter(1_700_000_000, { nano: true, bigEndian: true });
  for (const f of cap.frames) { us.add(f.frame); nsBe.add(f.frame); }
  us.write(file('us.pcap'));
  nsBe.write(file('ns-be.pcap'));
  const base = await analyzeJson([file('us.pcap')]);
  sameAsTruth(t, base, 'pcap (µs, little-endian)');
  t.match(base.totals, { nonIpPackets: cap.nonIp.packets, malformedPackets: cap.malformed.packets }, 'non-IP and malformed frames');
  t.equal(base.span!.first, 1_700_000_000_000 + 0.1, 'the time span starts at the first record');
  const ns = await analyzeJson([file('ns-be.pcap')]);
  sameAsTruth(t, ns, 'pcap (ns, big-endian)');
  t.same(ns.span, base.span, 'ns timestamps give the same span');

  // pcapng: two interfaces (one in ns), enhanced and simple packet blocks, comments
  const ng = new PcapngWriter(1_700_000_000, 'a test capture');
  ng.addInterface('eth0');
  ng.addInterface('eth1', { tsresol: 9 });
  cap.frames.forEach((f, i) => {
    if (i % 10 === 5) ng.addSimple(f.frame);
    else ng.add(i % 2, f.frame, 100, i === 0 ? 'first packet' : undefined);
  });
  ng.write(file('two.pcapng'));
  const ngj = await analyzeJson([file('two.pcapng')]);
  sameAsTruth(t, ngj, 'pcapng (2 interfaces, EPB and SPB)');
  t.same(ngj.files[0]!.interfaces.map((i) => i.name), ['eth0', 'eth1'], 'both interfaces named');
  t.same(ngj.files[0]!.comments, ['a test capture', 'first packet'], 'section and packet comments');

  // link types without Ethernet: raw IP, BSD loopback, Linux cooked (SLL); records cut by a snap length
  const raw = new PcapWriter(1_700_000_000, { linkType: 101 });
  const loop = new PcapWriter(1_700_000_000, { linkType: 0 });
  const sll = new PcapWriter(1_700_000_000, { linkType: 113 });
  const snap = new PcapWriter(1_700_000_000, { snapLen: 96 });
  const ipOnly = cap.frames.filter((f) => f.flow); // raw IP carries only IP
  const ipTruth = new Map([...truth]);
  for (const f of ipOnly) {
    const l3 = ethless(f.frame).subarray(0, f.l3Bytes); // no Ethernet padding in raw IP
    raw.add(l3);
    const af = Buffer.alloc(4);
    af.writeUInt32LE(f.flow!.ipVersion === 6 ? 10 : 2, 0);
    loop.add(Buffer.concat([af, l3]));
    const h = Buffer.alloc(16);
    h.writeUInt16BE(0, 0); // to us
    h.writeUInt16BE(1, 2); // ARPHRD_ETHER
    h.writeUInt16BE(6, 4);
    f.frame.copy(h, 6, 6, 12);
    h.writeUInt16BE(f.flow!.ipVersion === 6 ? 0x86dd : 0x0800, 14);
    sll.add(Buffer.concat([h, l3]));
  }
  for (const f of cap.frames) snap.add(f.frame);
  raw.write(file('raw.pcap'));
  loop.write(file('loop.pcap'));
  sll.write(file('sll.pcap'));
  snap.write(file('snap.pcap'));
  sameAsTruth(t, await analyzeJson([file('raw.pcap')]), 'raw IP', ipTruth);
  sameAsTruth(t, await analyzeJson([file('loop.pcap')]), 'BSD loopback', ipTruth);
  sameAsTruth(t, await analyzeJson([file('sll.pcap')]), 'Linux cooked (SLL)', ipTruth);
  const snapped = await analyzeJson([file('snap.pcap')]);
  sameAsTruth(t, snapped, 'records cut to 96 bytes (counted at their wire length)');
  t.ok(snapped.files[0]!.padded > 100, `${snapped.files[0]!.padded} records were cut and padded`);

  // gzip, from a file and from stdin
  const gz = gzipSync(readFileSync(file('two.pcapng')));
  writeFileSync(file('two.pcapng.gz'), gz);
  const gzj = await analyzeJson([file('two.pcapng.gz')]);
  sameAsTruth(t, gzj, 'gzip-compressed pcapng');
  t.equal(gzj.files[0]!.compressed, true, 'said to be compressed');
  const stdin = await analyzeJson(['-'], gz);
  sameAsTruth(t, stdin, 'gzip-compressed pcapng on stdin');
  t.equal(stdin.files[0]!.name, 'stdin', 'stdin is named so');
});

t.test('bad files: truncated, corrupt header, unknown link type, record over the snap length', async (t) => {
  if (!requireKernel(t)) return;
  const whole = readFileSync(file('us.pcap'));
  // cut in the middle of the last record: everything before it is analyzed
  const lastLen = cap.frames.at(-1)!.frame.length;
  const lastAt = whole.length - lastLen - 16;
  writeFileSync(file('cut.pcap'), whole.subarray(0, whole.length - 5));
  const r = await analyzeCli(['--format', 'json', file('cut.pcap')]);
  t.equal(r.code, 0, 'a truncated file is analyzed');
  t.match(r.stderr, new RegExp(`truncated: analyzed up to byte ${lastAt}, the last whole record`), 'stderr says where it stopped');
  const j = JSON.parse(r.stdout) as AnalysisJson;
  t.equal(j.files[0]!.truncatedAt, lastAt, 'truncatedAt: the offset of the cut record');
  t.equal(j.files[0]!.records, cap.frames.length - 1, 'every whole record read');

  const bad = async (name: string, bytes: Buffer, message: RegExp, what: string) => {
    writeFileSync(file(name), bytes);
    const r = await analyzeCli([file(name)]);
    t.equal(r.code, 1, `${what}: exit code 1`);
    t.match(r.stderr, message, `${what}: ${r.stderr.trim()}`);
    t.notMatch(r.stderr, /\n\s+at |Error:/, `${what}: no stack trace`);
  };
  const magic = Buffer.from(whole);
  magic.writeUInt32LE(0x12345678, 0);
  await bad('magic.pcap', magic, /not a pcap file \(bad magic number\) at byte 0/, 'corrupt header');
  const link = Buffer.from(whole);
  link.writeUInt32LE(147, 20);
  await bad('link.pcap', link, /unknown link type 147 at byte 20/, 'unknown link type');
  const snap = Buffer.from(whole);
  snap.writeUInt32LE(64, 16); // the records are longer than this
  await bad('snap.pcap', snap, /record of \d+ bytes is longer than the snap length \(64\) at byte 24/, 'record over the snap length');
  const ng = readFileSync(file('two.pcapng'));
  const blockLen = Buffer.from(ng);
  blockLen.writeUInt32LE(13, ng.readUInt32LE(4) + 4); // the interface block after the section header
  await bad('block.pcapng', blockLen, new RegExp(`bad pcapng block length 13 at byte ${ng.readUInt32LE(4) + 4}`), 'corrupt pcapng block');
  await bad('empty.pcap', Buffer.alloc(0), /the capture file is empty/, 'empty file');
  const missing = await analyzeCli([file('nothing-here.pcap')]);
  t.match(missing.stderr, /cannot open .*nothing-here.pcap: no such file/, 'a missing file');
});

t.test('tcpdump -i any (Linux cooked v2) of real traffic: tshark\'s counts, and the directions tcpdump saw', async (t) => {
  if (!requireKernel(t)) return;
  const lab = createLab(t, { tag: 'af', layout: 'namespaces', addresses: true });
  const out = file('any.pcap');
  const dump = lab.spawn(lab.a, 'tcpdump', ['-i', 'any', '-U', '-n', '-w', out, 'icmp or udp']);
  let err = '';
  dump.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  await waitFor(() => /listening on/.test(err), 10_000);
  lab.exec(lab.a, 'ping', ['-c', '5', '-i', '0.2', '-s', '300', lab.b.v4!]);
  lab.exec(lab.a, 'python3', ['-c',
    `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(7): s.sendto(b'x'*(100+i), ('${lab.b.v4}', 9999))`]);
  await waitFor(() => { try { return execFileSync('tshark', ['-r', out, '-q', '-z', 'io,stat,0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('| 17 |'); } catch { return false; } }, 10_000, 200);
  dump.kill('SIGINT');
  await new Promise((r) => dump.once('close', r));
  const link = readFileSync(out).readUInt32LE(20);
  t.equal(link, 276, 'tcpdump -i any writes LINKTYPE_LINUX_SLL2');
  const j = await analyzeJson([out]);
  const icmpOut = j.flows.find((f) => f.protocol === 'icmp' && f.src === lab.a.v4);
  const icmpIn = j.flows.find((f) => f.protocol === 'icmp' && f.src === lab.b.v4);
  const udp = j.flows.find((f) => f.protocol === 'udp' && f.dstPort === 9999);
  t.match(icmpOut, { direction: 'egress', packets: 5, bytes: 5 * 328 }, 'echo requests: sent by the host (egress), 5 × 328 L3 bytes');
  t.match(icmpIn, { direction: 'ingress', packets: 5, bytes: 5 * 328 }, 'echo replies: received (ingress)');
  t.match(udp, { direction: 'egress', packets: 7, bytes: [0, 1, 2, 3, 4, 5, 6].reduce((n, i) => n + 128 + i, 0) }, 'UDP datagrams: 7, sent');
  // tshark: frames per conversation, and frame bytes = L3 bytes + the 20-byte SLL2 header
  const conv = execFileSync('tshark', ['-q', '-n', '-z', 'conv,ip', '-r', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = new RegExp(`^\\S+\\s+<->\\s+\\S+\\s+\\d+ \\d+ bytes\\s+\\d+ \\d+ bytes\\s+(\\d+) (\\d+) bytes`, 'm').exec(conv);
  t.ok(m, 'tshark reports the conversation');
  const packets = j.flows.reduce((n, f) => n + f.packets, 0);
  const bytes = j.flows.reduce((n, f) => n + f.bytes, 0);
  t.equal(packets, Number(m?.[1]), `${packets} packets, as tshark's frames`);
  t.equal(bytes + 20 * packets, Number(m?.[2]), `L3 bytes + 20 per frame = tshark's ${m?.[2]} frame bytes`);
});
