/** Minimal Ethernet frames for BPF_PROG_TEST_RUN. */

function checksum(b: Buffer, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i += 2) s += b.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 + UDP with `payload` zero bytes (checksum 0: none). */
export function udp4(src: string, dst: string, sport: number, dport: number, payload = 32): Buffer {
  const b = Buffer.alloc(14 + 20 + 8 + payload);
  b.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1], 0);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt16BE(20 + 8 + payload, 16);
  b[22] = 64;
  b[23] = 17;
  src.split('.').forEach((x, i) => { b[26 + i] = Number(x); });
  dst.split('.').forEach((x, i) => { b[30 + i] = Number(x); });
  b.writeUInt16BE(checksum(b, 14, 34), 24);
  b.writeUInt16BE(sport, 34);
  b.writeUInt16BE(dport, 36);
  b.writeUInt16BE(8 + payload, 38);
  return b;
}
