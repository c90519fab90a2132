/**
 * Reads capture files — pcap (µs and ns timestamps, either byte order) and
 * pcapng (sections, several interfaces, enhanced/simple/obsolete packet
 * blocks, comments) — plain or gzip-compressed, from a file or a stream
 * (stdin), in bounded memory: the stream is parsed chunk by chunk, and only
 * an incomplete record is carried over to the next chunk.
 *
 * Each record goes to a sink with no object per record: the chunk, the
 * record's offset and lengths, its time (whole seconds and nanoseconds) and
 * its interface. A sink that returns a promise (its batch is full) is awaited
 * before the next record.
 *
 * Bad input: a file that ends inside a record is read up to the last whole
 * record and `truncatedAt` says where it stopped (a byte offset). A corrupt
 * header or block, an unknown link type or a record longer than its
 * interface's snap length throws FLOW_ERR_CAPTURE_FILE with the byte offset.
 * Offsets are of the uncompressed data.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { FlowlensError } from '../errors.js';
import { linkTypeName } from './link.js';

/** One capture interface (pcap has one; pcapng one per interface description block). */
export interface CaptureInterface {
  /** Index in the file (pcapng: per section, as the blocks number them; across sections they continue). */
  index: number;
  linkType: number;
  /** 0: no limit given. */
  snapLen: number;
  name?: string;
  description?: string;
}

export interface FrameSink {
  /**
   * One record: data[start, start + capLen) as captured; origLen is the length
   * on the wire (more than capLen when the snap length cut it).
   */
  frame(data: Buffer, start: number, capLen: number, origLen: number, sec: number, nsec: number, iface: CaptureInterface): void | Promise<void>;
}

export interface ReadSummary {
  format: 'pcap' | 'pcapng';
  compressed: boolean;
  interfaces: CaptureInterface[];
  /** Section and block comments (pcapng opt_comment). */
  comments: string[];
  records: number;
  /** Captured bytes of the records. */
  capturedBytes: number;
  /** Uncompressed bytes read. */
  bytes: number;
  /** When the file ended inside a record: the offset of that record (everything before it was read). */
  truncatedAt?: number;
}

export interface ReadProgress {
  /** Bytes of the input read so far (compressed bytes for a gzip file), and the input's size if known. */
  inputBytes: number;
  inputSize?: number;
  records: number;
}

/** A record longer than this is corrupt, whatever its header says (256 MiB). */
const MAX_RECORD = 256 << 20;
const PCAP_HEADER = 24;
const PCAP_RECORD = 16;

const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_IDB = 1;
const PCAPNG_OPB = 2; // obsolete packet block
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_COMMENT = 1;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

function fileError(message: string, at: number): FlowlensError {
  return new FlowlensError('FLOW_ERR_CAPTURE_FILE', `${message} at byte ${at}`);
}

/** pcapng timestamps: units per second, and how to split a 64-bit count into seconds and nanoseconds. */
interface TsResolution {
  /** 10^k or 2^k units per second. */
  perSec: number;
  /** perSec as a BigInt, when a count can exceed 2^53 (finer than µs). */
  big?: bigint;
  offsetSec: number;
}

interface NgInterface extends CaptureInterface {
  ts: TsResolution;
}

function resolution(code: number): { perSec: number; big?: bigint } {
  const perSec = code & 0x80 ? 2 ** (code & 0x7f) : 10 ** (code & 0x7f);
  // a count in units finer than ~1 µs passes 2^53 for today's dates
  return perSec > 4_000_000 ? { perSec, big: code & 0x80 ? 1n << BigInt(code & 0x7f) : 10n ** BigInt(code & 0x7f) } : { perSec };
}

/** Parses a growing stream of bytes; feed() returns the bytes it consumed. */
abstract class Parser {
  readonly interfaces: CaptureInterface[] = [];
  readonly comments: string[] = [];
  records = 0;
  capturedBytes = 0;

  constructor(protected readonly sink: FrameSink) {}

  /** Consumes whole records from buf (which starts at stream offset `at`); may await the sink. */
  abstract feed(buf: Buffer, at: number): Promise<number>;
}

class PcapParser extends Parser {
  private le = true;
  private nano = false;
  private snapLen = 0;
  private iface: CaptureInterface | undefined;

  async feed(buf: Buffer, at: number): Promise<number> {
    let off = 0;
    if (!this.iface) {
      if (buf.length < PCAP_HEADER) return 0;
      const m = buf.readUInt32LE(0);
      if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) this.le = true;
      else if (m === 0xd4c3b2a1 || m === 0x4d3cb2a1) this.le = false;
      else throw fileError('not a pcap file (bad magic number)', at);
      this.nano = m === 0xa1b23c4d || m === 0x4d3cb2a1;
      const major = this.u16(buf, 4);
      if (major !== 2) throw fileError(`unsupported pcap version ${major}.${this.u16(buf, 6)}`, at + 4);
      this.snapLen = this.u32(buf, 16);
      // the link type is the low 16 bits; bits 28-31 may say the frames end in an FCS
      const linkType = this.u32(buf, 20) & 0xffff;
      if (!linkTypeName(linkType)) throw fileError(`unknown link type ${linkType}`, at + 20);
      this.iface = { index: 0, linkType, snapLen: this.snapLen };
      this.interfaces.push(this.iface);
      off = PCAP_HEADER;
    }
    const iface = this.iface;
    const le = this.le;
    while (buf.length - off >= PCAP_RECORD) {
      const sec = le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
      const frac = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
      const capLen = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
      const origLen = le ? buf.readUInt32LE(off + 12) : buf.readUInt32BE(off + 12);
      if (capLen > MAX_RECORD) throw fileError(`record of ${capLen} bytes: the file is corrupt`, at + off + 8);
      if (this.snapLen > 0 && capLen > this.snapLen) {
        throw fileError(`record of ${capLen} bytes is longer than the snap length (${this.snapLen})`, at + off);
      }
      if ((this.nano && frac >= 1e9) || (!this.nano && frac >= 1e6)) {
        throw fileError(`record timestamp has ${frac} ${this.nano ? 'ns' : 'µs'} (more than a second): the file is corrupt`, at + off + 4);
      }
      if (buf.length - off - PCAP_RECORD < capLen) break;
      this.records++;
      this.capturedBytes += capLen;
      const p = this.sink.frame(buf, off + PCAP_RECORD, capLen, Math.max(origLen, capLen), sec, this.nano ? frac : frac * 1000, iface);
      off += PCAP_RECORD + capLen;
      if (p) await p;
    }
    return off;
  }

  private u16(b: Buffer, o: number): number {
    return this.le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }
  private u32(b: Buffer, o: number): number {
    return this.le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }
}

class PcapngParser extends Parser {
  private le = true;
  private section: NgInterface[] = [];
  private inSection = false;

  async feed(buf: Buffer, at: number): Promise<number> {
    let off = 0;
    while (buf.length - off >= 12) {
      let type = buf.readUInt32LE(off);
      if (type === PCAPNG_SHB) {
        // the byte order of this section comes from its own magic
        const magic = buf.readUInt32LE(off + 8);
        if (magic === BYTE_ORDER_MAGIC) this.le = true;
        else if (magic === 0x4d3c2b1a) this.le = false;
        else throw fileError('bad pcapng section header (byte-order magic)', at + off + 8);
      } else if (!this.inSection) {
        throw fileError('not a pcap or pcapng file (no section header)', at + off);
      }
      const le = this.le;
      type = le ? type : buf.readUInt32BE(off);
      const len = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) throw fileError(`bad pcapng block length ${len}`, at + off + 4);
      if (buf.length - off < len) break;
      const trailer = le ? buf.readUInt32LE(off + len - 4) : buf.readUInt32BE(off + len - 4);
      if (trailer !== len) throw fileError(`pcapng block lengths disagree (${len} and ${trailer})`, at + off + len - 4);
      const body = off + 8;
      const end = off + len - 4;
      const blockAt = at + off;
      off += len;
      if (type === PCAPNG_SHB) {
        this.inSection = true;
        this.section = [];
        const major = this.u16(buf, body + 4);
        if (major !== 1) throw fileError(`unsupported pcapng version ${major}`, blockAt + 12);
        this.options(buf, body + 16, end, blockAt, () => undefined);
      } else if (type === PCAPNG_IDB) {
        this.interfaceBlock(buf, body, end, blockAt);
      } else if (type === PCAPNG_EPB || type === PCAPNG_OPB) {
        const ifId = type === PCAPNG_EPB ? this.u32(buf, body) : this.u16(buf, body);
        const iface = this.section[ifId];
        if (!iface) throw fileError(`packet of interface ${ifId}, which no interface block describes`, blockAt);
        const capLen = this.u32(buf, body + 12);
        const origLen = this.u32(buf, body + 16);
        if (body + 20 + capLen > end) throw fileError(`packet of ${capLen} bytes is longer than its block`, blockAt);
        if (iface.snapLen > 0 && capLen > iface.snapLen) {
          throw fileError(`record of ${capLen} bytes is longer than the snap length (${iface.snapLen})`, blockAt);
        }
        const { sec, nsec } = this.time(this.u32(buf, body + 4), this.u32(buf, body + 8), iface.ts);
        this.options(buf, body + 20 + ((capLen + 3) & ~3), end, blockAt, () => undefined);
        this.records++;
        this.capturedBytes += capLen;
        const p = this.sink.frame(buf, body + 20, capLen, Math.max(origLen, capLen), sec, nsec, iface);
        if (p) await p;
      } else if (type === PCAPNG_SPB) {
        const iface = this.section[0];
        if (!iface) throw fileError('simple packet block before any interface block', blockAt);
        const origLen = this.u32(buf, body);
        const room = end - body - 4;
        const capLen = Math.min(origLen, room, iface.snapLen || room);
        this.records++;
        this.capturedBytes += capLen;
        // a simple packet block has no time: it counts at the time of the packet before it
        const p = this.sink.frame(buf, body + 4, capLen, Math.max(origLen, capLen), -1, 0, iface);
        if (p) await p;
      } else {
        // name resolution, statistics, decryption secrets, custom blocks: their comments only
        if (type !== 0x80000001 && body + 4 <= end) this.commentsOnly(type, buf, body, end, blockAt);
      }
    }
    return off;
  }

  /** Interface statistics blocks (5) carry comments after an 12-byte body; others are skipped. */
  private commentsOnly(type: number, buf: Buffer, body: number, end: number, at: number): void {
    if (type === 5) this.options(buf, body + 12, end, at, () => undefined);
  }

  private interfaceBlock(buf: Buffer, body: number, end: number, at: number): void {
    const linkType = this.u16(buf, body);
    if (!linkTypeName(linkType)) throw fileError(`unknown link type ${linkType}`, at + 8);
    const iface: NgInterface = {
      index: this.interfaces.length, linkType, snapLen: this.u32(buf, body + 4),
      ts: { perSec: 1e6, offsetSec: 0 },
    };
    this.options(buf, body + 8, end, at, (code, v) => {
      if (code === IF_NAME) iface.name = v.toString('utf8').replace(/\0+$/, '');
      else if (code === IF_DESCRIPTION) iface.description = v.toString('utf8').replace(/\0+$/, '');
      else if (code === IF_TSRESOL && v.length >= 1) Object.assign(iface.ts, resolution(v[0]!));
      else if (code === IF_TSOFFSET && v.length >= 8) {
        iface.ts.offsetSec = this.le ? Number(v.readBigInt64LE(0)) : Number(v.readBigInt64BE(0));
      }
    });
    this.section.push(iface);
    this.interfaces.push(iface);
  }

  /** Walks a block's options; opt_comment goes to the file's comments. */
  private options(buf: Buffer, off: number, end: number, at: number, each: (code: number, value: Buffer) => void): void {
    while (off + 4 <= end) {
      const code = this.u16(buf, off);
      const len = this.u16(buf, off + 2);
      if (code === 0) return; // opt_endofopt
      if (off + 4 + len > end) throw fileError('pcapng option runs past its block', at);
      const v = buf.subarray(off + 4, off + 4 + len);
      if (code === OPT_COMMENT) this.comments.push(v.toString('utf8'));
      else each(code, v);
      off += 4 + ((len + 3) & ~3);
    }
  }

  private time(hi: number, lo: number, ts: TsResolution): { sec: number; nsec: number } {
    if (ts.big) {
      const units = (BigInt(hi) << 32n) | BigInt(lo);
      const sec = units / ts.big;
      const rest = units % ts.big;
      return { sec: Number(sec) + ts.offsetSec, nsec: Number((rest * 1_000_000_000n) / ts.big) };
    }
    const units = hi * 4294967296 + lo;
    const sec = Math.floor(units / ts.perSec);
    return { sec: sec + ts.offsetSec, nsec: Math.round(((units - sec * ts.perSec) * 1e9) / ts.perSec) };
  }

  private u16(b: Buffer, o: number): number {
    return this.le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }
  private u32(b: Buffer, o: number): number {
    return this.le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }
}

/** Opens a capture file ('-': stdin) as a stream of its bytes, and the size when known. */
export function openInput(file: string): { stream: Readable; size?: number; name: string } {
  if (file === '-') return { stream: process.stdin, name: 'stdin' };
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  return { stream, name: file };
}

/**
 * Reads one capture from a byte stream, gunzipping it when it starts with the
 * gzip magic, and hands every record to the sink.
 */
export async function readCapture(input: Readable, sink: FrameSink, onProgress?: (p: ReadProgress) => void): Promise<ReadSummary> {
  let parser: Parser | undefined;
  let compressed = false;
  let pending: Buffer = Buffer.alloc(0);
  let at = 0; // stream offset of pending[0]
  let inputBytes = 0;
  let cut = false; // a gzip stream that ends early

  const consume = async (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    if (!parser) {
      if (pending.length < 4) return;
      const m = pending.readUInt32LE(0);
      parser = m === PCAPNG_SHB ? new PcapngParser(sink) : new PcapParser(sink);
    }
    const used = await parser.feed(pending, at);
    at += used;
    pending = used >= pending.length ? Buffer.alloc(0) : pending.subarray(used);
  };

  const raw = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first = await raw.next();
  if (!first.done && first.value.length >= 2 && first.value[0] === 0x1f && first.value[1] === 0x8b) {
    compressed = true;
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    // feed the compressed bytes (the first chunk included) through node:zlib, streaming
    const feedGzip = (async () => {
      try {
        for (let c: IteratorResult<Buffer> = first; !c.done; c = await raw.next()) {
          inputBytes += c.value.length;
          if (!gunzip.write(c.value)) await new Promise((r) => gunzip.once('drain', r));
        }
        gunzip.end();
      } catch (e) {
        gunzip.destroy(e as Error);
      }
    })();
    try {
      for await (const chunk of gunzip as AsyncIterable<Buffer>) {
        await consume(chunk);
        onProgress?.({ inputBytes, records: parser?.records ?? 0 });
      }
    } catch (e) {
      if (e instanceof FlowlensError) { gunzip.destroy(); input.destroy(); throw e; }
      // a gzip stream cut short: what was inflated so far was read; the rest is the truncated part
      if ((e as NodeJS.ErrnoException).code !== 'Z_BUF_ERROR' && !/unexpected end/i.test((e as Error).message)) {
        throw new FlowlensError('FLOW_ERR_CAPTURE_FILE', `cannot decompress: ${(e as Error).message} after ${at + pending.length} bytes`);
      }
      cut = true;
    }
    await feedGzip;
  } else {
    for (; !first.done; first = await raw.next()) {
      inputBytes += first.value.length;
      await consume(first.value);
      onProgress?.({ inputBytes, records: parser?.records ?? 0 });
    }
  }
  if (!parser) {
    if (at + pending.length === 0) throw new FlowlensError('FLOW_ERR_CAPTURE_FILE', 'the capture file is empty');
    throw fileError('not a pcap or pcapng file (shorter than a header)', 0);
  }
  if (!parser.interfaces.length) throw fileError('the file ends inside its header', at);
  return {
    format: parser instanceof PcapngParser ? 'pcapng' : 'pcap',
    compressed,
    interfaces: parser.interfaces,
    comments: parser.comments,
    records: parser.records,
    capturedBytes: parser.capturedBytes,
    bytes: at + pending.length,
    ...(pending.length || cut ? { truncatedAt: at } : {}),
  };
}
