/**
 * Packet captures on the loaded flow counter: the kernel side is the counting
 * program itself (bpf/pcap.bpf.h: a filter per slot, frames copied into a ring
 * buffer); this side gives each capture a slot, reads the ring every few
 * milliseconds while any capture runs, hands each frame to the captures whose
 * bit it carries, and writes their files (pcap-writer.ts) until a limit is
 * reached or they are stopped. At most PCAP_SLOTS captures run at once.
 *
 * Counting is not touched: a capture only sets a filter the program reads
 * (one load per frame while none runs) and reads its own ring.
 */
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { FlowlensError } from '../errors.js';
import type { NativeCollector } from '../native/binding.js';
import { PCAP_SLOTS, PcapHeader } from '../collector/layout.gen.js';
import { captureExpression, encodeCaptureFilter, type CaptureFilter } from './filter.js';
import { captureFileWriter, type CaptureFileWriter, type CaptureFormat, type InterfaceStats } from './pcap-writer.js';

export { parseCaptureFilter, captureExpression, type CaptureFilter, type CaptureRequest } from './filter.js';
export { CAPTURE_FORMATS, type CaptureFormat } from './pcap-writer.js';

/** How often the ring is read while a capture runs. At 4 MiB that is ~400 MB/s before it fills. */
export const POLL_MS = 10;
/** Bytes copied out of the ring per read. */
const READ_BUFFER_BYTES = 4 << 20;
/** Reads per poll at most, so that a flood does not keep the event loop. */
const READS_PER_POLL = 8;
/** Bytes waiting for a slow output (a pipe, a client) before frames are dropped and counted. */
const MAX_PENDING_OUTPUT = 32 << 20;

export interface CaptureLimits {
  /** Stop after this many frames. */
  count?: number;
  /** Stop after this long. */
  durationMs?: number;
  /** The file never grows past this many bytes (statistics at the end included). */
  maxBytes?: number;
}

export type CaptureEndReason = 'count' | 'duration' | 'size' | 'stopped' | 'output-closed' | 'collector-stopped';

export interface CaptureResult {
  /** Frames written. */
  packets: number;
  /** Their bytes on the wire (each frame's original length). */
  bytes: number;
  /** Bytes of the file. */
  fileBytes: number;
  /** Frames the kernel matched, and of those lost because the ring was full. */
  matched: number;
  dropped: number;
  /** Frames lost because the output did not keep up (more than 32 MiB waiting). */
  outputDropped: number;
  reason: CaptureEndReason;
  /** The output failed (EPIPE, EACCES, ...): its message. */
  outputError?: string;
  startedAt: number;
  endedAt: number;
  /** The filter in tcpdump's words ("" for every frame). */
  expression: string;
  interfaces: string[];
}

export interface CaptureOptions {
  filter: CaptureFilter;
  limits?: CaptureLimits;
  format?: CaptureFormat;
  /** Where the file goes; ended when the capture ends. */
  out: Writable;
}

/** An interface the counter is attached to. */
export interface CountedInterface {
  name: string;
  ifindex: number;
}

/** One running capture; `done` resolves when its file is complete. */
export class RunningCapture extends EventEmitter<{ progress: [CaptureResult] }> {
  readonly done: Promise<CaptureResult>;
  readonly expression: string;
  private resolve!: (r: CaptureResult) => void;
  private readonly writer: CaptureFileWriter;
  private readonly ids = new Map<number, { id: number; name: string; written: number }>();
  private readonly names: (ifindex: number) => string;
  private readonly startedAt = Date.now();
  private readonly startNs: bigint;
  /** Wall ns minus CLOCK_MONOTONIC ns, taken once: the file's times never go back. */
  private readonly offsetNs: bigint;
  private fileBytes = 0;
  private packets = 0;
  private bytes = 0;
  private outputDropped = 0;
  private outputError: string | undefined;
  /** No frame is written any more (a limit was reached, or the capture is being finished). */
  private full = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly slot: number, private readonly opts: CaptureOptions, names: (ifindex: number) => string,
    private readonly release: (c: RunningCapture) => { matched: number; dropped: number }) {
    super();
    this.names = names;
    this.done = new Promise((r) => { this.resolve = r; });
    this.expression = captureExpression(opts.filter);
    this.writer = captureFileWriter(opts.format ?? 'pcapng', opts.filter.snaplen, this.expression);
    this.offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    this.startNs = BigInt(Date.now()) * 1_000_000n;
    opts.out.on('error', (e) => {
      this.outputError ??= (e as NodeJS.ErrnoException).code ?? e.message;
      this.finish('output-closed');
    });
    opts.out.on('close', () => this.finish('output-closed'));
    this.write(this.writer.header());
    if (opts.limits?.durationMs !== undefined) {
      this.timer = setTimeout(() => this.finish('duration'), opts.limits.durationMs);
    }
  }

  /** Makes an interface known in the file before its first frame (a capture of one interface does it at start). */
  announce(ifindex: number): boolean {
    if (this.ids.has(ifindex)) return true;
    const name = this.names(ifindex);
    const size = this.writer.interfaceBlockSize(name);
    if (!this.fits(size, 1)) return false;
    this.ids.set(ifindex, { id: this.ids.size, name, written: 0 });
    this.write(this.writer.interfaceBlock(this.ids.size - 1, name));
    return true;
  }

  /** Bytes more would keep the file (and the statistics it still needs) within --max-size. */
  private fits(more: number, newInterfaces: number): boolean {
    const max = this.opts.limits?.maxBytes;
    return max === undefined || this.fileBytes + more + this.writer.footerSize(this.ids.size + newInterfaces) <= max;
  }

  private write(b: Buffer): void {
    if (!b.length) return;
    this.fileBytes += b.length;
    this.opts.out.write(b);
  }

  /** One frame the kernel copied for this capture. */
  frame(ifindex: number, monoNs: bigint, data: Buffer, origLen: number, direction: 'ingress' | 'egress'): void {
    if (this.full) return;
    if (this.opts.out.writableLength > MAX_PENDING_OUTPUT) {
      this.outputDropped++;
      return;
    }
    const known = this.ids.get(ifindex);
    const frameSize = this.writer.frameSize(data.length);
    const ifaceSize = known ? 0 : this.writer.interfaceBlockSize(this.names(ifindex));
    if (!this.fits(frameSize + ifaceSize, known ? 0 : 1)) {
      this.limitReached('size');
      return;
    }
    if (!known) this.announce(ifindex);
    const iface = this.ids.get(ifindex)!;
    this.write(this.writer.frame(iface.id, monoNs + this.offsetNs, data, origLen, direction));
    iface.written++;
    this.packets++;
    this.bytes += origLen;
    if (this.opts.limits?.count !== undefined && this.packets >= this.opts.limits.count) this.limitReached('count');
  }

  /**
   * No more frames; the capture finishes right after the frames being handed
   * out now (finishing reads the ring, which is being read at this moment).
   */
  private limitReached(reason: 'count' | 'size'): void {
    this.full = true;
    setImmediate(() => this.finish(reason));
  }

  /** Stops now: frames already copied are still written, then the statistics, then the output ends. */
  stop(): Promise<CaptureResult> {
    this.finish('stopped');
    return this.done;
  }

  /** What it has written so far. */
  get progress(): { packets: number; bytes: number; fileBytes: number } {
    return { packets: this.packets, bytes: this.bytes, fileBytes: this.fileBytes };
  }

  /** Ends the capture once, for the first reason given. */
  finish(reason: CaptureEndReason): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    // the slot is turned off, the frames it copied before are read (and written unless a limit was reached)
    const counters = this.release(this);
    this.full = true;
    const endNs = BigInt(Date.now()) * 1_000_000n;
    const stats = new Map<number, InterfaceStats>();
    for (const i of this.ids.values()) {
      stats.set(i.id, {
        written: i.written, startNs: this.startNs, endNs,
        ...(this.ids.size === 1 ? { matched: counters.matched, dropped: counters.dropped } : {}),
      });
    }
    const footer = this.writer.footer(stats);
    const result = (): CaptureResult => ({
      packets: this.packets, bytes: this.bytes, fileBytes: this.fileBytes, matched: counters.matched, dropped: counters.dropped,
      outputDropped: this.outputDropped, reason, startedAt: this.startedAt, endedAt: Date.now(), expression: this.expression,
      interfaces: [...this.ids.values()].map((i) => i.name),
      ...(this.outputError ? { outputError: this.outputError } : {}),
    });
    const out = this.opts.out;
    if (out.destroyed || out.writableEnded || reason === 'output-closed') {
      this.resolve(result());
      return;
    }
    this.write(footer);
    out.end(() => this.resolve(result()));
  }
}

/** The captures of one loaded counter. */
export class PacketCaptures {
  private readonly slots: Array<RunningCapture | undefined> = new Array(PCAP_SLOTS).fill(undefined);
  private readonly buffer = Buffer.alloc(READ_BUFFER_BYTES);
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** `interfaces()`: where the counter is attached now. */
  constructor(private readonly native: NativeCollector, private readonly interfaces: () => CountedInterface[]) {}

  /** Captures running now. */
  get running(): number {
    return this.slots.filter((s) => s).length;
  }

  /**
   * Starts a capture: its filter is in the kernel when this returns. Refuses an
   * interface the counter is not attached to (it would see nothing) and a fifth
   * capture while four run.
   */
  start(opts: CaptureOptions): RunningCapture {
    if (this.closed) throw new FlowlensError('FLOW_ERR_USAGE', 'the collector has stopped: no capture can start');
    const attached = this.interfaces();
    let ifindex = 0;
    if (opts.filter.iface !== undefined) {
      const found = attached.find((i) => i.name === opts.filter.iface);
      if (!found) {
        throw new FlowlensError('FLOW_ERR_UNKNOWN_INTERFACE', `flowlens does not count on "${opts.filter.iface}", so it cannot capture there`,
          `it counts on ${attached.map((i) => i.name).join(', ') || 'no interface'}; a capture sees the interfaces flowlens counts on`);
      }
      ifindex = found.ifindex;
    }
    const slot = this.slots.findIndex((s) => s === undefined);
    if (slot < 0) {
      throw new FlowlensError('FLOW_ERR_CAPTURE_BUSY', `${PCAP_SLOTS} captures are running, the most at once`, 'wait for one to end, or stop one');
    }
    const names = (i: number) => attached.find((a) => a.ifindex === i)?.name ?? this.interfaces().find((a) => a.ifindex === i)?.name ?? `if${i}`;
    const capture = new RunningCapture(slot, opts, names, (c) => this.release(c));
    this.slots[slot] = capture;
    try {
      this.native.startPacketCapture(slot, encodeCaptureFilter(opts.filter, ifindex));
    } catch (e) {
      this.slots[slot] = undefined;
      capture.finish('stopped');
      throw e;
    }
    // one interface: its description comes first, so even a capture that sees nothing is a valid file
    if (ifindex) capture.announce(ifindex);
    else if (attached.length === 1) capture.announce(attached[0]!.ifindex);
    this.timer ??= setInterval(() => this.poll(), POLL_MS);
    return capture;
  }

  /** Turns a capture's slot off, reads what it copied, frees the slot; its counters. */
  private release(c: RunningCapture): { matched: number; dropped: number } {
    if (this.slots[c.slot] !== c) return { matched: 0, dropped: 0 };
    let counters = { matched: 0, dropped: 0 };
    try {
      this.native.stopPacketCapture(c.slot); // returns after a grace period: every frame it matched is in the ring
      this.poll();
      counters = this.native.packetCaptureCounters(c.slot);
    } catch {
      // the collector is closing: nothing more can be read
    }
    this.slots[c.slot] = undefined;
    if (!this.running && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    return counters;
  }

  /** Reads the ring and hands every frame to the captures it matched. */
  private poll(): void {
    for (let n = 0; n < READS_PER_POLL; n++) {
      let r;
      try {
        r = this.native.readPackets(this.buffer);
      } catch {
        return;
      }
      this.dispatch(r.bytes);
      if (r.bytes < this.buffer.length / 2) return;
    }
  }

  private dispatch(length: number): void {
    const b = this.buffer;
    for (let at = 0; at + PcapHeader.size <= length;) {
      const capturedLen = b.readUInt32LE(at + PcapHeader.capturedLen);
      const slots = b[at + PcapHeader.slots]!;
      const data = b.subarray(at + PcapHeader.size, at + PcapHeader.size + capturedLen);
      const monoNs = b.readBigUInt64LE(at + PcapHeader.timeNs);
      const ifindex = b.readUInt32LE(at + PcapHeader.ifindex);
      const origLen = b.readUInt32LE(at + PcapHeader.origLen);
      const direction = b[at + PcapHeader.direction] === 1 ? 'egress' : 'ingress';
      for (let s = 0; s < PCAP_SLOTS; s++) {
        if (slots & (1 << s)) this.slots[s]?.frame(ifindex, monoNs, data, origLen, direction);
      }
      at += (PcapHeader.size + capturedLen + 7) & ~7;
    }
  }

  /** Ends every capture (the collector is stopping): their files get their statistics and end. */
  closeAll(): void {
    this.closed = true;
    for (const c of this.slots) c?.finish('collector-stopped');
  }
}
