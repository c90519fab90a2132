/**
 * The native addon's surface, declared once. The addon is loaded lazily so that
 * commands which do not need the kernel (help, config) work without it, and so
 * that a missing build is a clear error, not a stack trace.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { FlowlensError } from '../errors.js';

/** How the programs ended up attached to one interface. */
export interface AttachInfo {
  /** 'xdp-native', 'xdp-generic', 'tcx' or 'tc' (legacy, kernels without TCX). */
  ingress: string;
  /** 'tcx' or 'tc'. */
  egress: string;
}

export interface DrainResult {
  /** iface_record entries at the start of the buffer: the interval's totals per interface and direction. */
  ifaces: number;
  /** flow_record entries, from byte flowsOffset on. */
  flows: number;
  /** Byte offset of the first flow_record (fixed: after room for every iface record). */
  flowsOffset: number;
  /**
   * capture_record entries (DNS answers, TLS ClientHellos) taken from the ring
   * buffer, from byte capturesOffset on. Not tied to the interval: a capture
   * made during the drain may be in this drain or the next.
   */
  captures: number;
  /** Byte offset of the first capture_record (after room for every flow). */
  capturesOffset: number;
  /** Nanoseconds spent flipping the epoch and waiting for the RCU grace period. */
  graceNs: number;
  /** Nanoseconds the whole drain took (on a worker thread). */
  drainNs: number;
  /** CLOCK_MONOTONIC at the flip: the end of the drained interval. */
  monoNs: number;
  /** Flow keys holding an id after this drain (0 when ids are off). */
  flowIds: number;
  /** Flow records of this drain left without an id (FLOW_ID_NONE): the id limit was reached. */
  flowIdsRefused: number;
  /** Worker-thread nanoseconds spent on ids (releases, then assignment), not part of drainNs. */
  flowIdsNs: number;
}

export interface TestRunOptions {
  repeat?: number;
  /** TC only: the skb's gso_segs, to test GSO accounting. */
  gsoSegs?: number;
  /** TC only: the skb's gso_size. */
  gsoSize?: number;
}

export interface TestRunResult {
  retval: number;
  /** Average nanoseconds per repetition, as the kernel measured it. */
  durationNs: number;
}

/** What one runFrames() call did. */
export interface RunFramesResult {
  /** Frames the program ran on. */
  ran: number;
  /** Frames BPF_PROG_TEST_RUN refused (EINVAL: shorter than an Ethernet header, or too long), and their bytes. */
  refused: number;
  refusedBytes: number;
  /** Frames a later program refused (an skb wants whole IP headers) that ran through programs[0] instead. */
  fallbacks: number;
  /** Time marks written into the marks array (pairs: CLOCK_MONOTONIC ns, the frame's time ns). */
  marks: number;
  /** The latest mark's frame time: pass it to the next call. */
  lastMarkNs: number;
  /** Nanoseconds the batch took on the worker thread. */
  runNs: number;
}

/** The loaded flow counter: one per process. */
export interface NativeCollector {
  /** Attaches ingress (XDP or TC) and egress (TC) counting to one interface. */
  attach(ifindex: number, hook: 'xdp' | 'tc', xdpMode: 'auto' | 'native' | 'generic'): AttachInfo;
  /** Detaches everything attached to one interface. */
  detach(ifindex: number): void;
  /** Ends the interval and writes its records into `buffer` (at least `bufferSize` bytes). */
  drain(buffer: Buffer): Promise<DrainResult>;
  /** Cumulative bpf_errors, indexed by enum flow_error. */
  errors(): number[];
  /** Cumulative captures lost, indexed by enum capture_error (ring full, payload copy failed). */
  captureErrors(): number[];
  /** Runs one program over one packet with BPF_PROG_TEST_RUN. */
  testRun(program: string, packet: Buffer, options?: TestRunOptions): TestRunResult;
  /**
   * Runs `count` frames of `frames` (each a 16-byte header — u64 time ns after
   * the caller's origin, u32 length, u32 index into `programs` — then the
   * frame, padded to 8) once each, in order, on a worker thread (flowlens
   * analyze); a frame a later program refuses runs through programs[0]. Writes a time mark (CLOCK_MONOTONIC before the frame ran, its
   * time) into `marks` whenever a frame's time is `stepNs` or more after
   * `lastMarkNs` (0: the first frame is marked). No drain may run meanwhile.
   */
  runFrames(programs: string[], frames: Buffer, count: number, marks: Float64Array, lastMarkNs: number, stepNs: number): Promise<RunFramesResult>;
  /**
   * From the next drain on, writes a stable id into every drained flow record
   * (flow_counters.flow_id) while fewer than `limit` keys hold one; a new key
   * beyond that gets FLOW_ID_NONE. 0 (the default) turns ids off and forgets
   * them. At most 268435456.
   */
  setFlowIdLimit(limit: number): void;
  /**
   * Queues ids for release; the next drain frees them before it assigns, so a
   * released id's key gets a new id and the id may go to another key. Ids
   * released while a drain runs can still appear with their old keys in that
   * drain's records: release between drains (in the interval's handler).
   * Ids not live are ignored.
   */
  releaseFlowIds(ids: Uint32Array): void;
  /**
   * Gateway roles: replaces the kernel's list of this host's own addresses
   * (packed struct own_addr entries, at most FLOW_OWN_ADDRS_MAX), with which a
   * WAN ingress tells the gateway's own traffic from routed traffic.
   */
  setOwnAddresses(addrs: Buffer): void;
  /** A role's interface was re-created: role slot `slot` (the order of the roles at open) counts on `ifindex` now. */
  setRoleIfindex(slot: number, ifindex: number): void;
  /**
   * Packet captures (needs packetRingBytes at construction): writes a filter
   * (a struct pcap_filter, src/capture/filter.ts) into an idle slot (0 ..
   * PCAP_SLOTS-1), resets its counters and turns it on; from the next frame on,
   * frames it matches are copied into the packet ring.
   */
  startPacketCapture(slot: number, filter: Buffer): void;
  /** Turns a slot off; returns after an RCU grace period, when every frame it matched is in the ring. */
  stopPacketCapture(slot: number): void;
  /**
   * Copies the waiting records (struct pcap_header + the frame's bytes, each
   * padded to 8 bytes) into `buffer`, as many whole ones as fit; the rest wait.
   */
  readPackets(buffer: Buffer): { records: number; bytes: number };
  /** Frames a slot matched and, of those, lost (the ring was full), since it started. */
  packetCaptureCounters(slot: number): { matched: number; dropped: number };
  /** Detaches everything and unloads. Idempotent. */
  close(): void;
  readonly mapEntries: number;
  readonly bufferSize: number;
}


/** A link (network interface) created, changed (new) or deleted (del), as rtnetlink says. */
export interface LinkEvent {
  type: 'new' | 'del';
  ifindex: number;
  name: string;
}

/** Link events of this network namespace, queued by the kernel until read (native/src/links.h). */
export interface NativeLinkWatch {
  /**
   * The events queued since the last read, without blocking. `overflow`: the
   * kernel dropped some (its queue was full); re-read the interfaces.
   */
  read(): { events: LinkEvent[]; overflow: boolean };
  /** Unsubscribes. Idempotent. */
  close(): void;
}

/** One entry of the kernel's neighbour table (native/src/neighbours.h). */
export interface NativeNeighbour {
  ifindex: number;
  ipVersion: 4 | 6;
  /** The IP address, network byte order (4 or 16 bytes). */
  addr: Buffer;
  /** The link-layer address (6 bytes on Ethernet); empty for an entry not (or no longer) resolved. */
  mac: Buffer;
  /** NUD_* bits of linux/neighbour.h (0x01 incomplete, 0x02 reachable, 0x04 stale, 0x20 failed, 0x80 permanent, ...). */
  state: number;
}

export interface StructLayout {
  size: number;
  fields: Record<string, number>;
}

export interface Addon {
  /**
   * Loads the flow counter. captureRingBytes: the captures ring buffer's size,
   * a power of two >= the page size, or 0 for no captures (default 1 MiB).
   * roles: gateway roles as (ifindex, enum flow_role) pairs, at most
   * FLOW_ROLE_SLOTS; absent or empty: roles off (the verifier drops their code).
   * packetRingBytes: the packet capture ring's size (a power of two of at least
   * 256 KiB), or absent/0 for no packet captures (the verifier drops their code).
   */
  Collector: new (mapEntries: number, captureRingBytes?: number, roles?: Uint32Array, packetRingBytes?: number) => NativeCollector;
  /** Subscribes to link events (RTM_NEWLINK / RTM_DELLINK). */
  LinkWatch: new () => NativeLinkWatch;
  /** Whether the driver implements XDP, and the id of an attached XDP program (0: none). */
  xdpSupport(ifindex: number): { native: boolean; progId: number };
  /** The neighbour table (ARP and IPv6 ND) of this network namespace; `more`: entries past 65,536, left out. */
  neighbours(): { neighbours: NativeNeighbour[]; more: number };
  libbpfVersion: string;
  /** sizeof/offsetof of every struct in bpf/flow.h, as the addon's compiler saw them. */
  layout: Record<string, StructLayout> & { constants: Record<string, number> };
}

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..').replace(/\/dist$/, '');

/** The addon's path: FLOWLENS_ADDON overrides it (for a debug build). */
export function addonPath(): string {
  return process.env.FLOWLENS_ADDON ?? path.join(repoRoot, 'native/build/Release/flowlens.node');
}

let cached: Addon | undefined;

export function loadAddon(): Addon {
  if (cached) return cached;
  const file = addonPath();
  if (!existsSync(file)) {
    throw new FlowlensError('FLOW_ERR_NOT_BUILT', `the native addon is not built (${file} is missing)`,
      'run `npm run build` (bin/flowlens does it for you)');
  }
  cached = createRequire(import.meta.url)(file) as Addon;
  return cached;
}
