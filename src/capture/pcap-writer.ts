/**
 * Capture files as flowlens capture writes them, block by block, so a file
 * streams to stdout as it grows:
 *
 * - pcapng (the default): a section header (the program, the OS, the filter
 *   as a comment), one interface description per interface (Ethernet, its
 *   name, nanosecond timestamps, the snap length and the filter in tcpdump's
 *   words), an enhanced packet block per frame with its direction (inbound /
 *   outbound), and at the end an interface statistics block per interface:
 *   frames written (isb_usrdeliv) and, for a capture of one interface, frames
 *   matched (isb_filteraccept) and lost in the kernel (isb_osdrop).
 * - pcap (classic, nanosecond magic): one link type and no directions or
 *   statistics, for tools that read nothing else.
 *
 * Every block's size is known before it is written, so a size limit can be
 * kept exactly (`blockSize`, `footerSize`).
 */
import os from 'node:os';
import { version } from '../version.js';

export type CaptureFormat = 'pcapng' | 'pcap';
export const CAPTURE_FORMATS: readonly CaptureFormat[] = ['pcapng', 'pcap'];

const LINKTYPE_ETHERNET = 1;
const pad4 = (n: number) => (n + 3) & ~3;

/** One option: code, length, value padded to 4 bytes. */
function option(code: number, value: Buffer): Buffer {
  const b = Buffer.alloc(4 + pad4(value.length));
  b.writeUInt16LE(code, 0);
  b.writeUInt16LE(value.length, 2);
  value.copy(b, 4);
  return b;
}

const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const END_OF_OPTIONS = Buffer.alloc(4);

/** A block: type, total length, body, options (ended), total length again. */
function block(type: number, body: Buffer, options: Buffer[]): Buffer {
  const opts = options.length ? Buffer.concat([...options, END_OF_OPTIONS]) : Buffer.alloc(0);
  const total = 12 + body.length + opts.length;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(total, 4);
  body.copy(b, 8);
  opts.copy(b, 8 + body.length);
  b.writeUInt32LE(total, total - 4);
  return b;
}

/** A time in ns since the epoch, as pcapng's two 32-bit halves. */
function timestamp(ns: bigint, into: Buffer, at: number): void {
  into.writeUInt32LE(Number(ns >> 32n), at);
  into.writeUInt32LE(Number(ns & 0xffffffffn), at + 4);
}

export interface InterfaceStats {
  /** Frames written for this interface. */
  written: number;
  /** Of one capture of one interface: frames the filter matched, and those the kernel lost. */
  matched?: number;
  dropped?: number;
  startNs: bigint;
  endNs: bigint;
}

/** Writes one capture file's blocks; the caller decides where the bytes go. */
export interface CaptureFileWriter {
  readonly format: CaptureFormat;
  /** The file's first bytes. */
  header(): Buffer;
  /** Bytes that make an interface known (pcapng: its description block), written before its first frame. */
  interfaceBlock(id: number, name: string): Buffer;
  /** Bytes of one frame. */
  frame(id: number, timeNs: bigint, data: Buffer, origLen: number, direction: 'ingress' | 'egress'): Buffer;
  /** Size frame() gives for this many captured bytes. */
  frameSize(capturedLen: number): number;
  /** Size interfaceBlock() gives for this name. */
  interfaceBlockSize(name: string): number;
  /** The file's last bytes: statistics per interface id (pcapng). */
  footer(stats: Map<number, InterfaceStats>): Buffer;
  /** Size footer() gives for this many interfaces. */
  footerSize(interfaces: number): number;
}

class PcapngWriter implements CaptureFileWriter {
  readonly format = 'pcapng';
  constructor(private readonly snaplen: number, private readonly expression: string) {}

  header(): Buffer {
    const body = Buffer.alloc(16);
    body.writeUInt32LE(0x1a2b3c4d, 0); // byte-order magic
    body.writeUInt16LE(1, 4);
    body.writeUInt16LE(0, 6);
    body.writeBigInt64LE(-1n, 8); // section length: not known while streaming
    const opts = [
      option(4, Buffer.from(`flowlens ${version()}`)), // shb_userappl
      option(3, Buffer.from(`${os.type()} ${os.release()}`)), // shb_os
      option(1, Buffer.from(`flowlens capture${this.expression ? `: ${this.expression}` : ': every frame'}`)), // opt_comment
    ];
    return block(0x0a0d0d0a, body, opts);
  }

  interfaceBlock(_id: number, name: string): Buffer {
    const body = Buffer.alloc(8);
    body.writeUInt16LE(LINKTYPE_ETHERNET, 0);
    body.writeUInt32LE(this.snaplen, 4);
    const opts = [option(2, Buffer.from(name)), option(9, Buffer.from([9]))]; // if_name, if_tsresol: ns
    // if_filter: type 0 is a libpcap filter string
    if (this.expression) opts.push(option(11, Buffer.concat([Buffer.from([0]), Buffer.from(this.expression)])));
    return block(1, body, opts);
  }

  interfaceBlockSize(name: string): number {
    return 12 + 8 + (4 + pad4(Buffer.byteLength(name))) + 8 + (this.expression ? 4 + pad4(1 + Buffer.byteLength(this.expression)) : 0) + 4;
  }

  frame(id: number, timeNs: bigint, data: Buffer, origLen: number, direction: 'ingress' | 'egress'): Buffer {
    const total = this.frameSize(data.length);
    const b = Buffer.alloc(total);
    b.writeUInt32LE(6, 0); // enhanced packet block
    b.writeUInt32LE(total, 4);
    b.writeUInt32LE(id, 8);
    timestamp(timeNs, b, 12);
    b.writeUInt32LE(data.length, 20);
    b.writeUInt32LE(origLen, 24);
    data.copy(b, 28);
    const o = 28 + pad4(data.length);
    // epb_flags: bits 0-1 are the direction, 01 inbound, 10 outbound
    b.writeUInt16LE(2, o);
    b.writeUInt16LE(4, o + 2);
    b.writeUInt32LE(direction === 'ingress' ? 1 : 2, o + 4);
    // o + 8: end of options (zero)
    b.writeUInt32LE(total, total - 4);
    return b;
  }

  frameSize(capturedLen: number): number {
    return 28 + pad4(capturedLen) + 8 + 4 + 4;
  }

  footer(stats: Map<number, InterfaceStats>): Buffer {
    return Buffer.concat([...stats].map(([id, s]) => {
      const body = Buffer.alloc(12);
      body.writeUInt32LE(id, 0);
      timestamp(s.endNs, body, 4);
      const opts = [
        option(2, Buffer.concat([u32(Number(s.startNs >> 32n)), u32(Number(s.startNs & 0xffffffffn))])), // isb_starttime
        option(3, Buffer.concat([u32(Number(s.endNs >> 32n)), u32(Number(s.endNs & 0xffffffffn))])), // isb_endtime
        option(6, u64(BigInt(s.matched ?? s.written))), // isb_filteraccept
        option(7, u64(BigInt(s.dropped ?? 0))), // isb_osdrop
        option(8, u64(BigInt(s.written))), // isb_usrdeliv
      ];
      return block(5, body, opts);
    }));
  }

  footerSize(interfaces: number): number {
    return interfaces * (12 + 12 + 5 * 12 + 4);
  }
}

class PcapWriter implements CaptureFileWriter {
  readonly format = 'pcap';
  constructor(private readonly snaplen: number) {}

  header(): Buffer {
    const b = Buffer.alloc(24);
    b.writeUInt32LE(0xa1b23c4d, 0); // nanosecond timestamps
    b.writeUInt16LE(2, 4);
    b.writeUInt16LE(4, 6);
    b.writeUInt32LE(this.snaplen, 16);
    b.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    return b;
  }

  interfaceBlock(): Buffer {
    return Buffer.alloc(0);
  }

  interfaceBlockSize(): number {
    return 0;
  }

  frame(_id: number, timeNs: bigint, data: Buffer, origLen: number): Buffer {
    const b = Buffer.alloc(16 + data.length);
    b.writeUInt32LE(Number(timeNs / 1_000_000_000n), 0);
    b.writeUInt32LE(Number(timeNs % 1_000_000_000n), 4);
    b.writeUInt32LE(data.length, 8);
    b.writeUInt32LE(origLen, 12);
    data.copy(b, 16);
    return b;
  }

  frameSize(capturedLen: number): number {
    return 16 + capturedLen;
  }

  footer(): Buffer {
    return Buffer.alloc(0);
  }

  footerSize(): number {
    return 0;
  }
}

export function captureFileWriter(format: CaptureFormat, snaplen: number, expression: string): CaptureFileWriter {
  return format === 'pcap' ? new PcapWriter(snaplen) : new PcapngWriter(snaplen, expression);
}
