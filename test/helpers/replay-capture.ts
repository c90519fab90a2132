/**
 * The capture the replay tests build (so they know the truth): ~420 frames of
 * 21 flows with every case of the BPF fixtures, and tcpreplay to send it.
 * Shared by the live replay test and the offline (flowlens analyze) oracle.
 */
import type { Lab } from './netns.js';
import {
  ETH_P, IPPROTO, TCP, arpFrame, destOpts, eth, fragment, fragmentFrame, hopByHop, ipFrame, ipv4, pad, synOptions,
  tsOptions, type BuiltFrame,
} from './packets.js';
import { TruthTable } from './tally.js';

export const SRC_MAC = '02:e2:e0:00:00:01';
export const DST_MAC = '02:e2:e0:00:00:02'; // nobody's: frames are PACKET_OTHERHOST where they arrive

export interface Capture {
  frames: BuiltFrame[];
  truth: TruthTable;
  nonIp: { packets: number; bytes: number };
  malformed: { packets: number; bytes: number };
}

/** Deterministic pseudo-random sizes. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

function fill(n: number, byte = 0x61): Buffer {
  return Buffer.alloc(n, byte);
}

/**
 * 21 flows (10 conversations, some one-way), ~420 packets: IPv4 TCP (with and
 * without IP options), UDP, ICMP echo and an ICMP error, a fragmented UDP
 * datagram, a protocol without ports; IPv6 TCP, UDP, ICMPv6, UDP behind
 * extension headers, a fragmented UDP datagram. Plus 2 ARP frames and one
 * malformed IPv4 frame.
 */
export function buildCapture(x: number): Capture {
  const rnd = lcg(x);
  const c: Capture = { frames: [], truth: new TruthTable(), nonIp: { packets: 0, bytes: 0 }, malformed: { packets: 0, bytes: 0 } };
  const streams: BuiltFrame[][] = [];
  const v4 = (h: number) => `10.231.${x}.${h}`;
  const v6 = (h: number) => `fd00:e2e:${x.toString(16)}::${h.toString(16)}`;
  const frame = (spec: Parameters<typeof ipFrame>[2]) => ipFrame(DST_MAC, SRC_MAC, spec);

  // a TCP conversation: handshake, data both ways with timestamps, ACKs, FIN
  const tcpConversation = (cli: string, srv: string, cport: number, sport: number, up: number, down: number, v4opts = false) => {
    const s: BuiltFrame[] = [];
    const v4o = v4opts ? { options: Buffer.from([0x01, 0x01, 0x01, 0x00]) } : undefined; // NOP NOP NOP EOL
    let cseq = 1000, sseq = 5000, ts = 100;
    const mss = 1500 - (net6(srv) ? 40 : v4opts ? 24 : 20) - 32;
    const pkt = (fromCli: boolean, flags: number, payload = 0, options = tsOptions(ts++, ts)) => {
      const f = frame({
        src: fromCli ? cli : srv, dst: fromCli ? srv : cli, v4: v4o,
        l4: { proto: 'tcp', srcPort: fromCli ? cport : sport, dstPort: fromCli ? sport : cport, flags,
          seq: fromCli ? cseq : sseq, ack: fromCli ? sseq : cseq, options, payload: fill(payload, fromCli ? 0x75 : 0x64) },
      });
      if (fromCli) cseq += payload; else sseq += payload;
      s.push(f);
    };
    pkt(true, TCP.SYN, 0, synOptions(1));
    pkt(false, TCP.SYN | TCP.ACK, 0, synOptions(2));
    pkt(true, TCP.ACK);
    for (let i = 0; i < up; i++) pkt(true, TCP.ACK | TCP.PSH, 1 + Math.floor(rnd() * 1400));
    for (let i = 0; i < down; i++) {
      pkt(false, TCP.ACK, i % 5 === 4 ? 1 + Math.floor(rnd() * 1000) : mss); // full-size: 1500 bytes L3
      if (i % 2 === 1) pkt(true, TCP.ACK);
    }
    pkt(true, TCP.FIN | TCP.ACK);
    pkt(false, TCP.FIN | TCP.ACK);
    pkt(true, TCP.ACK);
    streams.push(s);
  };
  const net6 = (a: string) => a.includes(':');

  // 1-2: IPv4 TCP, both directions
  tcpConversation(v4(10), v4(20), 40001, 80, 12, 40);
  // 3-4: IPv4 TCP with IP options on every packet, both directions
  tcpConversation(v4(10), v4(30), 40002, 443, 8, 10, true);
  // 5-6: IPv4 UDP request/response (DNS-like)
  {
    const s: BuiltFrame[] = [];
    for (let i = 0; i < 10; i++) {
      s.push(frame({ src: v4(10), dst: v4(20), l4: { proto: 'udp', srcPort: 5353, dstPort: 53, payload: fill(30 + i * 5) } }));
      s.push(frame({ src: v4(20), dst: v4(10), l4: { proto: 'udp', srcPort: 53, dstPort: 5353, payload: fill(100 + Math.floor(rnd() * 400)) } }));
    }
    streams.push(s);
  }
  // 7: IPv4 UDP one way, full-size
  streams.push(Array.from({ length: 40 }, (_, i) =>
    frame({ src: v4(30), dst: v4(10), l4: { proto: 'udp', srcPort: 9000, dstPort: 9001, payload: fill(i % 8 === 7 ? 200 : 1472) } })));
  // 8-9: ICMP echo request/reply (type/code in the port fields)
  {
    const s: BuiltFrame[] = [];
    for (let i = 0; i < 10; i++) {
      const rest = 0x12340000 | i; // id, sequence
      s.push(frame({ src: v4(10), dst: v4(20), l4: { proto: 'icmp', type: 8, code: 0, rest, payload: fill(56) } }));
      s.push(frame({ src: v4(20), dst: v4(10), l4: { proto: 'icmp', type: 0, code: 0, rest, payload: fill(56) } }));
    }
    streams.push(s);
  }
  // 10: ICMP port unreachable quoting an IPv4/UDP header (the quote is payload)
  {
    const quoted = ipv4({ src: v4(10), dst: v4(20), protocol: IPPROTO.UDP }, Buffer.from([0x9c, 0x40, 0x00, 0x35, 0, 16, 0, 0]));
    streams.push([0, 1, 2].map(() => frame({ src: v4(20), dst: v4(10), l4: { proto: 'icmp', type: 3, code: 3, payload: quoted } })));
  }
  // 11-12: a fragmented IPv4 UDP datagram, 3 times: first fragments have ports, the rest count with ports 0
  {
    const s: BuiltFrame[] = [];
    for (let d = 0; d < 3; d++) {
      const id = 0x700 + d;
      const first = frame({ src: v4(10), dst: v4(30), v4: { id, mf: true },
        l4: { proto: 'udp', srcPort: 7000, dstPort: 7001, payload: fill(1472) } });
      // the UDP length field claims more than this fragment holds, as in a real first fragment; irrelevant to flowlens
      s.push(first);
      s.push(fragmentFrame(DST_MAC, SRC_MAC, v4(10), v4(30), IPPROTO.UDP, 1480, fill(300 + d * 8), false, id));
    }
    streams.push(s);
  }
  // 13: a protocol without ports (253, experimental): ports 0
  streams.push(Array.from({ length: 4 }, (_, i) =>
    frame({ src: v4(20), dst: v4(30), l4: { proto: 'raw', number: 253, payload: fill(64 + i * 100) } })));
  // 14-15: IPv6 TCP, both directions
  tcpConversation(v6(0x10), v6(0x20), 40010, 22, 15, 30);
  // 16: IPv6 UDP one way, sizes up to 1500 L3
  streams.push(Array.from({ length: 30 }, (_, i) =>
    frame({ src: v6(0x10), dst: v6(0x30), l4: { proto: 'udp', srcPort: 5000, dstPort: 5001, payload: fill(i === 0 ? 1452 : 20 + Math.floor(rnd() * 1400)) } })));
  // 17-18: ICMPv6 echo request/reply
  {
    const s: BuiltFrame[] = [];
    for (let i = 0; i < 8; i++) {
      const body = 0x56780000 | i; // id, sequence
      s.push(frame({ src: v6(0x10), dst: v6(0x20), l4: { proto: 'icmp', type: 128, code: 0, rest: body, payload: fill(56) } }));
      s.push(frame({ src: v6(0x20), dst: v6(0x10), l4: { proto: 'icmp', type: 129, code: 0, rest: body, payload: fill(56) } }));
    }
    streams.push(s);
  }
  // 19: IPv6 UDP behind hop-by-hop and destination options headers (their bytes are L3 bytes)
  streams.push(Array.from({ length: 5 }, (_, i) =>
    frame({ src: v6(0x30), dst: v6(0x10), v6: { ext: [hopByHop(8, Buffer.alloc(0)), destOpts(16, Buffer.alloc(10))] },
      l4: { proto: 'udp', srcPort: 6000, dstPort: 6001, payload: fill(100 + i) } })));
  // 20-21: a fragmented IPv6 UDP datagram, twice
  {
    const s: BuiltFrame[] = [];
    for (let d = 0; d < 2; d++) {
      const id = 0x900 + d;
      s.push(frame({ src: v6(0x20), dst: v6(0x30), v6: { ext: [fragment({ offset: 0, more: true, id })] },
        l4: { proto: 'udp', srcPort: 6500, dstPort: 6501, payload: fill(1000) } }));
      s.push(fragmentFrame(DST_MAC, SRC_MAC, v6(0x20), v6(0x30), IPPROTO.UDP, 1008, fill(200 + d * 16), false, id));
    }
    streams.push(s);
  }
  // not flows: 2 ARP requests (non-IP) and an IPv4 header claiming more bytes than the frame has (malformed)
  const arp = [arpFrame(DST_MAC, SRC_MAC, v4(10), v4(20)), arpFrame(DST_MAC, SRC_MAC, v4(20), v4(10))];
  const bad = pad(eth({ type: ETH_P.IPV4, dst: DST_MAC, src: SRC_MAC },
    ipv4({ src: v4(10), dst: v4(20), protocol: IPPROTO.UDP, totLen: 400 }, Buffer.alloc(40))));
  streams.push([arp[0], { frame: bad, flow: null, l3Bytes: 0 }, arp[1]]);
  c.nonIp = { packets: 2, bytes: arp[0].frame.length + arp[1].frame.length };
  c.malformed = { packets: 1, bytes: bad.length };

  // interleave the streams round-robin, as a capture of concurrent traffic would
  for (let i = 0; streams.some((s) => i < s.length); i++) {
    for (const s of streams) if (i < s.length) c.frames.push(s[i]);
  }
  for (const f of c.frames) c.truth.add(f);
  return c;
}

export function replay(lab: Lab, where: Lab['a'], file: string, expected: number) {
  return lab.run(where, 'tcpreplay', ['--topspeed', '-i', where.name, file], 30_000).then((r) => {
    if (r.code !== 0) throw new Error(`tcpreplay failed (${r.code}): ${r.stderr}`);
    const sent = /Successful packets:\s+(\d+)/.exec(r.stdout);
    const failed = /Failed packets:\s+(\d+)/.exec(r.stdout);
    if (!sent || Number(sent[1]) !== expected || !failed || Number(failed[1]) !== 0) {
      throw new Error(`tcpreplay did not send all ${expected} frames:\n${r.stdout}`);
    }
  });
}

