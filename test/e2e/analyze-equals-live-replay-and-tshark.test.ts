/**
 * `flowlens analyze` of a pcap the test builds (every case of the BPF
 * fixtures: TCP with and without IP options, UDP, ICMP echo and errors, IPv4
 * and IPv6 fragments, IPv6 extension headers, a protocol without ports, ARP,
 * a malformed frame) equals, flow for flow, the live count of the same file
 * replayed with tcpreplay onto a veth (XDP ingress), and the truth the test
 * knows; and its per-conversation packets and bytes agree with tshark's
 * `-z conv,ip` / `conv,udp` (tshark counts frame bytes: minus 14 per frame and
 * the Ethernet padding the test put in, they are flowlens's L3 bytes).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireKernel } from '../helpers/kernel.js';
import { createLab, waitFor } from '../helpers/netns.js';
import { PcapWriter } from '../helpers/pcap.js';
import { Collector, defaultConfig } from '../../src/collector/index.js';
import { Tally, canonicalIp, flowIdKey } from '../helpers/tally.js';
import { buildCapture, replay } from '../helpers/replay-capture.js';
import { analyzeJson } from '../helpers/analyze-cli.js';
import { cliBuilt } from '../helpers/flowlens-cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'flowlens-analyze-oracle-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

/** tshark's conversation table: "a <-> b" → frames and bytes, both directions together. */
/**
 * tshark 4.0 prints totals of 10 kB and more in whole kB (1000 bytes, rounded
 * down): those are compared so; smaller ones exactly.
 */
interface Conv { frames: number; bytes: number; kB: boolean }

function tsharkConversations(file: string, kind: 'ip' | 'ipv6' | 'udp'): Map<string, Conv> {
  const text = execFileSync('tshark', ['-q', '-n', '-z', `conv,${kind}`, '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const out = new Map<string, Conv>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+<->\s+(\S+)\s+\d+\s+\d+\s+(?:bytes|kB)\s+\d+\s+\d+\s+(?:bytes|kB)\s+(\d+)\s+(\d+)\s+(bytes|kB)\s/.exec(line);
    if (!m) continue;
    out.set(`${m[1]} ${m[2]}`, { frames: Number(m[3]), bytes: Number(m[4]), kB: m[5] === 'kB' });
  }
  return out;
}

t.test('analyze = live replay = truth, flow for flow; conversations agree with tshark', async (t) => {
  if (!requireKernel(t)) return;
  if (!cliBuilt()) { t.fail('the CLI is not built (npm run build)'); return; }
  const cap = buildCapture(1 + (process.pid % 250));
  const file = path.join(tmp, 'capture.pcap');
  const pcap = new PcapWriter();
  for (const f of cap.frames) pcap.add(f.frame);
  pcap.write(file);

  // offline
  const j = await analyzeJson([file]);
  const offline = new Map<string, { packets: number; bytes: number }>();
  for (const f of j.flows) {
    const k = flowIdKey({ ipVersion: f.ipVersion, protocol: f.protocolNumber, src: f.src, dst: f.dst, srcPort: f.srcPort, dstPort: f.dstPort });
    t.notOk(offline.has(k), `${k}: one flow (one direction) offline`);
    offline.set(k, { packets: f.packets, bytes: f.bytes });
  }

  // live: the same file replayed into the XDP-counted end of a veth
  const lab = createLab(t, { tag: 'ao', layout: 'root', features: { gro: 'off' } });
  const collector = Collector.open({ ...defaultConfig(), interfaces: [lab.a.name], hook: 'xdp', intervalMs: 3_600_000 });
  t.teardown(() => collector.stop().catch(() => collector.closeNow()));
  const tally = new Tally();
  tally.addInterval(await collector.drainNow());
  await replay(lab, lab.b, file, cap.frames.length);
  await waitFor(async () => {
    tally.addInterval(await collector.drainNow());
    const got = tally.totals(lab.a.name, 'ingress');
    return got.packets >= cap.truth.packets && got.nonIpPackets + got.malformedPackets >= 3;
  }, 5000, 100);
  tally.addInterval(await collector.drainNow());
  const live = new Map(tally.list(lab.a.name, 'ingress').map((f) => [flowIdKey(f), { packets: f.packets, bytes: f.bytes }]));

  t.equal(offline.size, cap.truth.flows.size, `offline: ${cap.truth.flows.size} flows, no more`);
  t.same([...offline.keys()].sort(), [...live.keys()].sort(), 'the same flows offline and live');
  let mismatches = 0;
  for (const [k, truth] of cap.truth.flows) {
    const o = offline.get(k);
    const l = live.get(k);
    if (!o || !l || o.packets !== truth.packets || o.bytes !== truth.bytes || l.packets !== o.packets || l.bytes !== o.bytes) {
      mismatches++;
      t.fail(`${k}: truth ${truth.packets}/${truth.bytes}, offline ${o ? `${o.packets}/${o.bytes}` : '-'}, live ${l ? `${l.packets}/${l.bytes}` : '-'}`);
    }
  }
  t.equal(mismatches, 0, `all ${cap.truth.flows.size} flows: packets and bytes equal offline, live and in truth`);
  const liveTotals = tally.totals(lab.a.name, 'ingress');
  t.match(j.totals, {
    packets: liveTotals.packets, bytes: liveTotals.bytes,
    nonIpPackets: cap.nonIp.packets, nonIpBytes: cap.nonIp.bytes, malformedPackets: cap.malformed.packets, malformedBytes: cap.malformed.bytes,
    overflowPackets: 0,
  }, 'totals: IP packets and bytes as live, non-IP and malformed as built');
  t.equal(liveTotals.nonIpPackets, cap.nonIp.packets, 'live counted the same non-IP frames');
  t.equal(liveTotals.malformedPackets, cap.malformed.packets, 'live counted the same malformed frame');
  t.same(Object.values(j.bpfErrors).filter((n) => n !== 0 && n !== undefined).length, 0, 'no BPF program errors offline');
  t.equal(j.local.source, 'private ranges', 'without --local the private ranges are local, and the output says so');

  // tshark: per conversation, frames = packets; frame bytes - 14 per frame - padding = L3 bytes
  // tshark reassembles fragments (IPv6 and UDP: the datagram counts in its last fragment); flowlens
  // counts every fragment, the first with ports: under conv,ipv6 and conv,udp those conversations
  // mean different things. Under conv,ip tshark also counts the malformed IPv4 frame (its header
  // claims more bytes than the frame has), which flowlens counts as malformed, not in a flow.
  const fragmented = new Set([...cap.truth.flows.values()].filter((f) => f.protocol === 17 && f.srcPort === 0 && f.dstPort === 0)
    .map((f) => [canonicalIp(f.src), canonicalIp(f.dst)].sort().join(' ')));
  for (const kind of ['ip', 'ipv6', 'udp'] as const) {
    const conv = tsharkConversations(file, kind);
    t.ok(conv.size >= 3, `tshark conv,${kind}: ${conv.size} conversations`);
    // flowlens's side: packets and L3 bytes of both directions, + 14 per frame + the padding the test knows
    const padding = new Map<string, number>();
    for (const f of cap.frames) {
      if (!f.flow) continue;
      const key = flowIdKey(f.flow);
      padding.set(key, (padding.get(key) ?? 0) + f.frame.length - 14 - f.l3Bytes);
    }
    let checked = 0;
    for (const [pair, theirs] of conv) {
      const [x, y] = pair.split(' ').map((s) => (kind !== 'udp' ? canonicalIp(s) : s.replace(/^(.*):(\d+)$/, (_, ip: string, port: string) => `${canonicalIp(ip)}:${port}`)));
      const k = [x, y].sort().join(' ');
      if (kind !== 'ip' && fragmented.has(kind === 'udp' ? [x, y].map((e) => e!.replace(/:\d+$/, '')).sort().join(' ') : k)) continue;
      let packets = 0;
      let bytes = 0;
      for (const f of j.flows) {
        const a = kind !== 'udp' ? canonicalIp(f.src) : `${canonicalIp(f.src)}:${f.srcPort}`;
        const b = kind !== 'udp' ? canonicalIp(f.dst) : `${canonicalIp(f.dst)}:${f.dstPort}`;
        if ([a, b].sort().join(' ') !== k) continue;
        if (kind === 'udp' && f.protocolNumber !== 17) continue;
        packets += f.packets;
        bytes += f.bytes + 14 * f.packets + (padding.get(flowIdKey({ ...f, protocol: f.protocolNumber })) ?? 0);
      }
      if (kind === 'ip') {
        for (const f of cap.frames) {
          if (f.flow || f.frame.readUInt16BE(12) !== 0x0800) continue;
          const ends = [f.frame.subarray(26, 30).join('.'), f.frame.subarray(30, 34).join('.')].sort().join(' ');
          if (ends === k) { packets++; bytes += f.frame.length; }
        }
      }
      t.equal(packets, theirs.frames, `conv,${kind} ${pair}: ${packets} packets, as tshark's frames`);
      if (theirs.kB) t.equal(Math.floor(bytes / 1000), theirs.bytes, `conv,${kind} ${pair}: ${bytes} frame bytes, tshark's ${theirs.bytes} kB`);
      else t.equal(bytes, theirs.bytes, `conv,${kind} ${pair}: ${bytes} frame bytes, as tshark's`);
      checked++;
    }
    t.ok(checked >= (kind === 'ipv6' ? 2 : 3), `conv,${kind}: ${checked} conversations compared`);
  }
});
