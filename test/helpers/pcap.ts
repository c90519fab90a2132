/**
 * Capture file writers for tests: the test builds every frame (packets.ts:
 * ipFrame() and friends), so it knows the exact truth flowlens must report.
 * PcapWriter writes pcap (µs or ns, either byte order, any link type, a snap
 * length that cuts records); PcapngWriter writes pcapng with several
 * interfaces, enhanced and simple packet blocks, and comments.
 */
import { writeFileSync } from 'node:fs';

export interface PcapOptions {
  /** Nanosecond timestamps (magic a1b23c4d). */
  nano?: boolean;
  bigEndian?: boolean;
  /** LINKTYPE_ number (default 1, Ethernet). */
  linkType?: number;
  /** Records are cut to this many bytes (the original length is kept). */
  snapLen?: number;
}

/** A pcap file (microsecond timestamps, Ethernet, unless the options say otherwise). */
export class PcapWriter {
  private readonly records: Buffer[] = [];
  private usec = 0;

  constructor(private readonly startSec = 1_700_000_000, private readonly opts: PcapOptions = {}) {}

  /** Appends one frame, `gapUs` microseconds after the previous one. */
  add(frame: Buffer, gapUs = 100): void {
    this.usec += gapUs;
    const snap = this.opts.snapLen ?? 65535;
    const data = frame.length > snap ? frame.subarray(0, snap) : frame;
    const h = Buffer.alloc(16);
    const w = (v: number, at: number) => (this.opts.bigEndian ? h.writeUInt32BE(v, at) : h.writeUInt32LE(v, at));
    w(this.startSec + Math.floor(this.usec / 1e6), 0);
    w((this.usec % 1e6) * (this.opts.nano ? 1000 : 1), 4);
    w(data.length, 8);
    w(frame.length, 12);
    this.records.push(h, data);
  }

  get count(): number {
    return this.records.length / 2;
  }

  toBuffer(): Buffer {
    const g = Buffer.alloc(24);
    const be = this.opts.bigEndian;
    const w32 = (v: number, at: number) => (be ? g.writeUInt32BE(v, at) : g.writeUInt32LE(v, at));
    const w16 = (v: number, at: number) => (be ? g.writeUInt16BE(v, at) : g.writeUInt16LE(v, at));
    w32(this.opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
    w16(2, 4);
    w16(4, 6);
    w32(0, 8); // thiszone
    w32(0, 12); // sigfigs
    w32(this.opts.snapLen ?? 65535, 16);
    w32(this.opts.linkType ?? 1, 20);
    return Buffer.concat([g, ...this.records]);
  }

  write(path: string): void {
    writeFileSync(path, this.toBuffer());
  }
}

function pad4(b: Buffer): Buffer {
  return b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]) : b;
}

function option(code: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(code, 0);
  h.writeUInt16LE(value.length, 2);
  return Buffer.concat([h, pad4(value)]);
}

function block(type: number, body: Buffer): Buffer {
  const len = 12 + body.length;
  const h = Buffer.alloc(8);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(len, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(len, 0);
  return Buffer.concat([h, body, tail]);
}

const END_OF_OPTIONS = Buffer.alloc(4);

/** A little-endian pcapng file: one section, interfaces added as needed. */
export class PcapngWriter {
  private readonly blocks: Buffer[] = [];
  private readonly resolution: number[] = [];
  private usec = 0;

  constructor(private readonly startSec = 1_700_000_000, comment?: string) {
    const body = Buffer.alloc(16);
    body.writeUInt32LE(0x1a2b3c4d, 0);
    body.writeUInt16LE(1, 4);
    body.writeUInt16LE(0, 6);
    body.writeBigInt64LE(-1n, 8); // section length unknown
    this.blocks.push(block(0x0a0d0d0a, Buffer.concat([body, ...(comment ? [option(1, Buffer.from(comment)), END_OF_OPTIONS] : [])])));
  }

  /** An interface description block; tsresol 9: nanoseconds (default 6, µs). Returns its id. */
  addInterface(name: string, o: { linkType?: number; snapLen?: number; tsresol?: number } = {}): number {
    const body = Buffer.alloc(8);
    body.writeUInt16LE(o.linkType ?? 1, 0);
    body.writeUInt32LE(o.snapLen ?? 0, 4);
    const opts = [option(2, Buffer.from(name))];
    if (o.tsresol !== undefined) opts.push(option(9, Buffer.from([o.tsresol])));
    this.blocks.push(block(1, Buffer.concat([body, ...opts, END_OF_OPTIONS])));
    this.resolution.push(o.tsresol ?? 6);
    return this.resolution.length - 1;
  }

  /** An enhanced packet block on interface `iface`, `gapUs` after the previous packet. */
  add(iface: number, frame: Buffer, gapUs = 100, comment?: string): void {
    this.usec += gapUs;
    const units = BigInt(this.startSec) * 10n ** BigInt(this.resolution[iface]!) + BigInt(this.usec) * 10n ** BigInt(this.resolution[iface]! - 6);
    const h = Buffer.alloc(20);
    h.writeUInt32LE(iface, 0);
    h.writeUInt32LE(Number(units >> 32n), 4);
    h.writeUInt32LE(Number(units & 0xffffffffn), 8);
    h.writeUInt32LE(frame.length, 12);
    h.writeUInt32LE(frame.length, 16);
    this.blocks.push(block(6, Buffer.concat([h, pad4(frame), ...(comment ? [option(1, Buffer.from(comment)), END_OF_OPTIONS] : [])])));
  }

  /** A simple packet block (interface 0, no time of its own). */
  addSimple(frame: Buffer): void {
    const h = Buffer.alloc(4);
    h.writeUInt32LE(frame.length, 0);
    this.blocks.push(block(3, Buffer.concat([h, pad4(frame)])));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.blocks);
  }

  write(path: string): void {
    writeFileSync(path, this.toBuffer());
  }
}
