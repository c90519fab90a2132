/**
 * A pcap file writer for end-to-end tests that replay frames with tcpreplay:
 * the test builds every frame (packets.ts: ipFrame() and friends), so it knows
 * the exact truth flowlens must report.
 */
import { writeFileSync } from 'node:fs';

/** A pcap file (microsecond timestamps, Ethernet). */
export class PcapWriter {
  private readonly records: Buffer[] = [];
  private usec = 0;

  constructor(private readonly startSec = 1_700_000_000) {}

  /** Appends one frame, `gapUs` microseconds after the previous one. */
  add(frame: Buffer, gapUs = 100): void {
    this.usec += gapUs;
    const h = Buffer.alloc(16);
    h.writeUInt32LE(this.startSec + Math.floor(this.usec / 1e6), 0);
    h.writeUInt32LE(this.usec % 1e6, 4);
    h.writeUInt32LE(frame.length, 8);
    h.writeUInt32LE(frame.length, 12);
    this.records.push(h, frame);
  }

  get count(): number {
    return this.records.length / 2;
  }

  toBuffer(): Buffer {
    const g = Buffer.alloc(24);
    g.writeUInt32LE(0xa1b2c3d4, 0);
    g.writeUInt16LE(2, 4);
    g.writeUInt16LE(4, 6);
    g.writeInt32LE(0, 8); // thiszone
    g.writeUInt32LE(0, 12); // sigfigs
    g.writeUInt32LE(65535, 16); // snaplen
    g.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
    return Buffer.concat([g, ...this.records]);
  }

  write(path: string): void {
    writeFileSync(path, this.toBuffer());
  }
}
