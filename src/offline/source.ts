/**
 * The collector of `flowlens analyze`: an IntervalSource (src/collector/source.ts)
 * that counts capture files with the loaded flow counter itself. Every frame
 * runs through the same BPF program a live run attaches (BPF_PROG_TEST_RUN,
 * on the loopback device of this namespace: ifindex 1), in file order, on a
 * worker thread in batches; the flow table is drained with the collector's
 * own drain and decoded with its FlowBatch, so Monitor and everything after
 * it see intervals exactly like a live run's.
 *
 * Time is the file's:
 *  - Intervals are cut by file time, on a grid of `intervalMs` (wall-clock
 *    multiples, as the history buckets): when a frame belongs to a later
 *    interval, everything before it is drained and emitted as the interval
 *    [start, end). A gap with no frames is one empty interval. A frame older
 *    than the current interval (files are not always in order) counts in it.
 *  - The program stamps first/last seen and captures with bpf_ktime. The
 *    batch runner writes a mark (monotonic time just before a frame ran, the
 *    frame's file time) whenever file time has moved on by 1 ms; FileClock maps
 *    a kernel stamp to the file time of the last mark before it. So flows,
 *    sessions and DNS/SNI names carry the file's times, exact to 1 ms, and
 *    idle timeouts run in file time.
 *
 * Direction: Linux cooked frames the host sent run through the egress program,
 * the rest through XDP (ingress). A file that does not say (Ethernet, raw IP,
 * loopback) is counted at ingress, and then each flow gets the direction a
 * hook between the two ends would have seen: towards the service (ingress:
 * the destination is the local end) or from it (egress), so that when both
 * ends are local, or neither, one conversation is one session with the server
 * side local, as on a gateway (src/net/classify.ts).
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { loadAddon, type NativeCollector } from '../native/binding.js';
import { checkLayout } from '../collector/layout.js';
import { ClockOffset } from '../collector/clock.js';
import { FlowBatch, decodeIfaces, type DirectionTotals } from '../collector/decode.js';
import { decodeCaptures } from '../collector/captures.js';
import { FlowCounters, FlowKey, FlowRecord } from '../collector/layout.gen.js';
import { BPF_ERROR_NAMES, type CollectorStatus, type IfaceTotals, type Interval } from '../collector/index.js';
import type { IntervalSource } from '../collector/source.js';
import { explainKernelError } from '../system/preflight.js';
import { guessInitiator } from '../flows/sessions.js';
import { icmpIsRequest, isIcmp } from '../net/protocols.js';
import { readCapture, type CaptureInterface, type ReadProgress, type ReadSummary } from './pcap-reader.js';
import { ETH_HLEN, linkHasDirection, toEthernet } from './link.js';

/** BPF_PROG_TEST_RUN's XDP test takes this much linear data: a page minus XDP_PACKET_HEADROOM (256) and skb_shared_info (320). */
export const MAX_RUN_FRAME = 4096 - 256 - 320;
/** The loopback device of this namespace: where BPF_PROG_TEST_RUN runs. */
const LOOPBACK = 1;
const PROGRAMS = ['flowlens_xdp', 'flowlens_tc_eg'];
const BATCH_BYTES = 4 << 20;
const BATCH_FRAMES = 16384;
const FRAME_HEADER = 16;
/** A time mark when file time moved on by this much (1 ms). */
const MARK_STEP_NS = 1e6;
/**
 * The program stamps last seen with the coarse clock (the last kernel tick):
 * the frame ran between the stamp and the next tick. Offline a tick covers
 * many frames, so last seen is taken at the tick's end — 4 ms, the longest
 * usual tick (HZ=250) — an upper bound, clamped to the interval.
 */
const COARSE_TICK_NS = 4e6;

export interface OfflineConfig {
  intervalMs: number;
  /** Flows per interval the kernel table holds (--map-size). */
  mapEntries: number;
  captureRingBytes: number;
  /** Name of the one interface the files' frames are counted on. */
  iface: string;
}

/** One capture file, and how it was read. */
export interface FileReport extends ReadSummary {
  name: string;
  /** Frames the kernel's test run refused (shorter than an Ethernet header) and their bytes. */
  refused: number;
  refusedBytes: number;
  /** Frames longer than the test run takes (MAX_RUN_FRAME after wrapping): jumbo frames, GRO super-packets. Not counted. */
  tooLong: number;
  tooLongBytes: number;
  /** Records shorter than the wire frame (snap length): padded with zeros to the wire length before the run. */
  padded: number;
}

export interface OfflineInput {
  name: string;
  stream: Readable;
  size?: number;
}

function zeroTotals(): DirectionTotals {
  return { packets: 0, bytes: 0, flows: 0, overflowPackets: 0, overflowBytes: 0,
    nonIpPackets: 0, nonIpBytes: 0, malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0 };
}

/** Kernel timestamps → file time: the last mark at or before the stamp, clamped to the interval. */
export class FileClock extends ClockOffset {
  constructor(private readonly originMs: number, private readonly marks: number[], private readonly startMs: number, private readonly endMs: number) {
    super(0, 0);
  }

  override toWallMs(monoNs: number): number {
    if (monoNs === 0) return 0;
    const m = this.marks;
    let lo = 0;
    let hi = m.length / 2 - 1;
    if (hi < 0) return this.startMs;
    // the last mark whose monotonic time is <= monoNs
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (m[2 * mid]! <= monoNs) lo = mid; else hi = mid - 1;
    }
    const ms = this.originMs + m[2 * lo + 1]! / 1e6;
    return Math.min(Math.max(Math.round(ms * 1000) / 1000, this.startMs), this.endMs);
  }
}

interface Batch {
  buf: Buffer;
  used: number;
  count: number;
}

export class OfflineSource extends EventEmitter<{ interval: [Interval]; error: [Error]; progress: [ReadProgress & { file: string; inputSize?: number }] }> implements IntervalSource {
  private native: NativeCollector | undefined;
  private readonly drainBuffer: Buffer;
  private readonly batches: Batch[] = [
    { buf: Buffer.alloc(BATCH_BYTES), used: 0, count: 0 },
    { buf: Buffer.alloc(BATCH_BYTES), used: 0, count: 0 },
  ];
  private filling = 0;
  private inflight: Promise<void> | undefined;
  private readonly callMarks = new Float64Array(2 * BATCH_FRAMES);
  /** This interval's marks: [mono ns, file ns after origin] pairs. */
  private marks: number[] = [];
  private lastMarkNs = 0;
  /** ms of the time grid's origin (the first frame's interval start); -1 before the first frame. */
  private originMs = -1;
  private originSec = 0;
  private originNs = 0;
  private ivStart = 0;
  private ivEnd = 0;
  private lastRel = 0;
  /** Frames without a direction (the file does not say) in this interval: their flows get one (see the header). */
  private undirected = false;
  private readonly reports: FileReport[] = [];
  private current: FileReport | undefined;
  private done: Promise<void> | undefined;
  private stats = { intervals: 0, lastDrainMs: 0, mapFill: 0, overflowPackets: 0, nonIpPackets: 0, malformedPackets: 0, captures: 0, flowIds: 0, flowIdsRefused: 0, frames: 0, runNs: 0, fallbacks: 0 };
  /** First and last frame time (ms) of every file. */
  firstMs = Infinity;
  lastMs = -Infinity;

  constructor(readonly config: OfflineConfig, private readonly inputs: () => Iterable<OfflineInput>) {
    super();
    const addon = loadAddon();
    checkLayout(addon.layout);
    try {
      this.native = new addon.Collector(config.mapEntries, config.captureRingBytes);
    } catch (e) {
      throw explainKernelError(e, 'cannot load the flow counter');
    }
    this.drainBuffer = Buffer.alloc(this.native.bufferSize);
  }

  /** What each file held, in order. */
  get files(): readonly FileReport[] {
    return this.reports;
  }

  /** Reads every file; resolves when the last interval was emitted. */
  finished(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  start(): void {
    this.done ??= this.readAll().catch((e) => { this.emit('error', e as Error); throw e; });
    this.done.catch(() => undefined);
  }

  private async readAll(): Promise<void> {
    for (const input of this.inputs()) {
      const report: FileReport = { name: input.name, format: 'pcap', compressed: false, interfaces: [], comments: [], records: 0, capturedBytes: 0, bytes: 0,
        refused: 0, refusedBytes: 0, tooLong: 0, tooLongBytes: 0, padded: 0 };
      this.current = report;
      this.reports.push(report);
      const summary = await readCapture(input.stream, { frame: (d, s, c, o, sec, nsec, i) => this.frame(d, s, c, o, sec, nsec, i) },
        (p) => this.emit('progress', { ...p, file: input.name, inputSize: input.size }));
      Object.assign(report, summary);
    }
    if (this.originMs >= 0) await this.endInterval(this.ivEnd);
  }

  /** One record of a file: wrapped into Ethernet, padded to its wire length, queued for the next batch. */
  private frame(data: Buffer, start: number, capLen: number, origLen: number, sec: number, nsec: number, iface: CaptureInterface): void | Promise<void> {
    let rel: number;
    if (sec < 0 && this.originMs < 0) this.setOrigin(0, 0);
    if (sec < 0) {
      rel = this.lastRel; // a simple packet block has no time of its own
    } else {
      if (this.originMs < 0) this.setOrigin(sec, nsec);
      rel = (sec - this.originSec) * 1e9 + (nsec - this.originNs);
    }
    const ms = this.originMs + rel / 1e6;
    if (ms >= this.ivEnd) return this.advance(ms).then(() => this.queue(data, start, capLen, origLen, rel, ms, iface));
    return this.queue(data, start, capLen, origLen, rel, ms, iface);
  }

  private setOrigin(sec: number, nsec: number): void {
    const ms = sec * 1000 + nsec / 1e6;
    this.originMs = Math.floor(ms / this.config.intervalMs) * this.config.intervalMs;
    this.originSec = Math.floor(this.originMs / 1000);
    this.originNs = (this.originMs - this.originSec * 1000) * 1e6;
    this.ivStart = this.originMs;
    this.ivEnd = this.originMs + this.config.intervalMs;
  }

  private queue(data: Buffer, start: number, capLen: number, origLen: number, rel: number, ms: number, iface: CaptureInterface): void | Promise<void> {
    const report = this.current!;
    if (rel < this.lastRel) rel = this.lastRel; // older than what ran already: counts now (see the header)
    this.lastRel = rel;
    if (ms < this.firstMs) this.firstMs = ms;
    if (ms > this.lastMs) this.lastMs = ms;
    let b = this.batches[this.filling]!;
    // room for the frame wrapped and padded to its wire length (at most MAX_RUN_FRAME)
    const need = FRAME_HEADER + MAX_RUN_FRAME + 128;
    if (b.count === BATCH_FRAMES || b.used + need > b.buf.length) {
      return this.submit().then(() => this.queue(data, start, capLen, origLen, rel, ms, iface));
    }
    const at = b.used + FRAME_HEADER;
    const w = capLen + ETH_HLEN > MAX_RUN_FRAME + 64
      ? undefined
      : toEthernet(iface.linkType, data, start, capLen, b.buf, at);
    const wireLen = Math.max(origLen - (w?.linkHeader ?? 0), w?.length ?? capLen);
    if (!w || wireLen > MAX_RUN_FRAME) {
      report.tooLong++;
      report.tooLongBytes += origLen;
      return;
    }
    let len = w.length;
    if (wireLen > len) {
      // cut by the snap length: the program takes IP lengths from the headers and wants the bytes they promise
      b.buf.fill(0, at + len, at + wireLen);
      len = wireLen;
      report.padded++;
    }
    if (len < ETH_HLEN) {
      report.refused++;
      report.refusedBytes += len;
      return;
    }
    if (!linkHasDirection(iface.linkType)) this.undirected = true;
    b.buf.writeUInt32LE(rel % 4294967296, b.used);
    b.buf.writeUInt32LE(Math.floor(rel / 4294967296), b.used + 4);
    b.buf.writeUInt32LE(len, b.used + 8);
    b.buf.writeUInt32LE(w.way === 'out' ? 1 : 0, b.used + 12);
    b.used += FRAME_HEADER + ((len + 7) & ~7);
    b.count++;
  }

  /** Hands the batch being filled to the worker thread (after the one before it finished) and fills the other. */
  private async submit(): Promise<void> {
    const b = this.batches[this.filling]!;
    await this.inflight;
    this.filling ^= 1;
    if (!b.count) return;
    const native = this.native!;
    this.inflight = native.runFrames(PROGRAMS, b.buf, b.count, this.callMarks, this.lastMarkNs, MARK_STEP_NS).then((r) => {
      for (let i = 0; i < 2 * r.marks; i++) this.marks.push(this.callMarks[i]!);
      this.lastMarkNs = r.lastMarkNs;
      this.stats.frames += r.ran;
      this.stats.runNs += r.runNs;
      this.stats.fallbacks += r.fallbacks;
      this.current!.refused += r.refused;
      this.current!.refusedBytes += r.refusedBytes;
      b.used = 0;
      b.count = 0;
    });
    // the other batch may still hold frames of an earlier round: it was run, so it is empty
  }

  /** Ends the intervals before the one `ms` falls in (a gap is one empty interval). */
  private async advance(ms: number): Promise<void> {
    await this.endInterval(this.ivEnd);
    const gridStart = Math.floor((ms - this.originMs) / this.config.intervalMs) * this.config.intervalMs + this.originMs;
    if (gridStart > this.ivStart) {
      this.emitInterval(this.ivStart, gridStart, 0, 0, 0, 0);
      this.ivStart = gridStart;
    }
    this.ivEnd = this.ivStart + this.config.intervalMs;
  }

  /** Runs what is queued, drains, emits [start, end). */
  private async endInterval(end: number): Promise<void> {
    await this.submit();
    await this.submit(); // both batches: the one filled and the one in flight
    await this.inflight;
    const native = this.native!;
    // the previous interval's flows are read from drainBuffer until its reader is done with them
    this.beforeDrain?.();
    const r = await native.drain(this.drainBuffer);
    this.stats.lastDrainMs = r.drainNs / 1e6;
    this.stats.mapFill = r.flows / native.mapEntries;
    this.stats.flowIds = r.flowIds;
    this.stats.flowIdsRefused += r.flowIdsRefused;
    this.emitInterval(this.ivStart, end, r.ifaces, r.flows, r.flowsOffset, r.captures, r.capturesOffset);
    this.ivStart = end;
    // the next interval's first frame gets a mark of its own: its clock starts there
    this.marks = [];
    this.lastMarkNs = 0;
  }

  private emitInterval(start: number, end: number, ifaces: number, flows: number, flowsOffset: number, captures: number, capturesOffset = 0): void {
    const clock = new FileClock(this.originMs, this.marks, start, end);
    if (this.undirected && flows) this.chooseDirections(flowsOffset, flows);
    if (flows) this.lastSeenAtTickEnd(flowsOffset, flows);
    this.undirected = false;
    const totals: IfaceTotals = { iface: this.config.iface, ifindex: LOOPBACK, ingress: zeroTotals(), egress: zeroTotals() };
    for (const { ifindex, direction, ...counts } of decodeIfaces(this.drainBuffer, ifaces)) {
      if (ifindex !== LOOPBACK) continue;
      totals[direction] = counts;
      this.stats.overflowPackets += counts.overflowPackets;
      this.stats.nonIpPackets += counts.nonIpPackets;
      this.stats.malformedPackets += counts.malformedPackets;
    }
    const iv: Interval = {
      start, end,
      flows: new FlowBatch(this.drainBuffer, flowsOffset || 0, flows, clock),
      totals: [totals],
      captures: captures ? decodeCaptures(this.drainBuffer, capturesOffset, captures, clock) : [],
      drain: { ms: this.stats.lastDrainMs, graceMs: 0 },
    };
    this.stats.intervals++;
    this.stats.captures += iv.captures.length;
    this.emit('interval', iv);
  }

  /**
   * Frames whose file does not say which way they went all ran at ingress:
   * each such flow gets the direction a hook between the ends would have seen
   * it in — from the service end (egress), else towards it (ingress).
   */
  private chooseDirections(offset: number, count: number): void {
    const b = this.drainBuffer;
    const batch = new FlowBatch(b, offset, count, new ClockOffset(0, 0));
    for (let i = 0; i < count; i++) {
      if (batch.direction(i) !== 'ingress') continue; // from a file that said 'out'
      const protocol = batch.protocol(i);
      const sp = batch.srcPort(i);
      const dp = batch.dstPort(i);
      let fromService: boolean;
      if (isIcmp(protocol)) fromService = !icmpIsRequest(protocol, sp);
      else if (sp !== dp) fromService = guessInitiator(sp, dp) === 'remote';
      else fromService = batch.src(i) < batch.dst(i);
      if (fromService) b[offset + i * FlowRecord.size + FlowRecord.key + FlowKey.direction] = 1;
    }
  }

  /** Moves every flow's coarse last-seen stamp to the end of its tick (see COARSE_TICK_NS). */
  private lastSeenAtTickEnd(offset: number, count: number): void {
    const v = new DataView(this.drainBuffer.buffer, this.drainBuffer.byteOffset + offset, count * FlowRecord.size);
    for (let i = 0; i < count; i++) {
      const at = i * FlowRecord.size + FlowRecord.counters + FlowCounters.lastSeenNs;
      v.setBigUint64(at, v.getBigUint64(at, true) + BigInt(COARSE_TICK_NS), true);
    }
  }

  stop(): Promise<void> {
    const done = this.done ?? Promise.resolve();
    return done.catch(() => undefined).finally(() => this.closeNow());
  }

  closeNow(): void {
    this.native?.close();
    this.native = undefined;
  }

  /** Listens for the moment before each drain (IntervalSource.onBeforeDrain): the drain reuses the buffer of the interval before. */
  onBeforeDrain(listener: () => void): void {
    this.beforeDrain = listener;
  }

  private beforeDrain: (() => void) | undefined;

  trackFlowIds(limit: number): void {
    this.native?.setFlowIdLimit(limit);
  }

  releaseFlowIds(ids: Uint32Array): void {
    this.native?.releaseFlowIds(ids);
  }

  /** Frames run and nanoseconds spent running them (the worker's time). */
  get runStats(): { frames: number; runNs: number; fallbacks: number } {
    return { frames: this.stats.frames, runNs: this.stats.runNs, fallbacks: this.stats.fallbacks };
  }

  status(): CollectorStatus {
    const errors = this.native?.errors() ?? this.lastErrors;
    const captureErrors = this.native?.captureErrors() ?? this.lastCaptureErrors;
    this.lastErrors = errors;
    this.lastCaptureErrors = captureErrors;
    return {
      attachments: [{ iface: this.config.iface, ifindex: LOOPBACK, ingress: 'test-run', egress: 'test-run', state: 'attached', reattaches: 0, goneMs: 0, forwardedPackets: 0,
        overflowPackets: this.stats.overflowPackets, nonIpPackets: this.stats.nonIpPackets, malformedPackets: this.stats.malformedPackets }],
      mapEntries: this.config.mapEntries,
      mapFill: this.stats.mapFill,
      intervals: this.stats.intervals,
      lastDrainMs: this.stats.lastDrainMs,
      lateIntervals: 0,
      flowsNotFitted: 0,
      suggestedMapSize: 0,
      overflowPackets: this.stats.overflowPackets,
      nonIpPackets: this.stats.nonIpPackets,
      malformedPackets: this.stats.malformedPackets,
      bpfErrors: Object.fromEntries(BPF_ERROR_NAMES.map((n, i) => [n, errors[i] ?? 0])),
      captures: this.stats.captures,
      captureDrops: captureErrors[0] ?? 0,
      captureLoadErrors: captureErrors[1] ?? 0,
      flowIds: this.stats.flowIds,
      flowIdsRefused: this.stats.flowIdsRefused,
    };
  }

  private lastErrors: number[] = [];
  private lastCaptureErrors: number[] = [];
}
