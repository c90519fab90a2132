/**
 * The collector: loads the flow counter, attaches it, drains it every interval
 * (never two drains at once) and hands each interval's flows and per-interface
 * totals to listeners. Stopping drains one last time, so nothing counted is
 * left behind.
 */
import { EventEmitter } from 'node:events';
import { loadAddon, type AttachInfo, type NativeCollector } from '../native/binding.js';
import { FlowlensError } from '../errors.js';
import { explainKernelError, preflight } from '../system/preflight.js';
import { resolveInterfaces, type NetInterface } from '../system/interfaces.js';
import { checkLayout } from './layout.js';
import { ClockOffset } from './clock.js';
import { FlowBatch, decodeIfaces, type DirectionTotals } from './decode.js';
import { validateConfig, DEFAULT_CAPTURE_RING_BYTES, DEFAULT_PACKET_RING_BYTES, type CollectorConfig } from './config.js';
import { PacketCaptures } from '../capture/index.js';
import { decodeCaptures, type Capture } from './captures.js';
import { Cadence } from './cadence.js';
import { TableFit } from './table-fit.js';
import { ownAddressKeys, ownAddresses } from './own-addresses.js';
import type { InterfaceRole } from './config.js';
import { LINK_POLL_MS, LinkFollower, type AttachState } from './links.js';
import { Reconciler, type InterfaceReconciliation } from './reconcile.js';

export * from './config.js';
export type { Flow, Direction, DirectionTotals } from './decode.js';
export { FlowBatch } from './decode.js';
export type { InterfaceReconciliation, DirectionReconciliation, ReconcileTerm } from './reconcile.js';
export type { Capture, CaptureKind } from './captures.js';

export interface IfaceTotals {
  iface: string;
  ifindex: number;
  ingress: DirectionTotals;
  egress: DirectionTotals;
}

export interface Interval {
  /** Wall-clock ms of the interval's start and end. */
  start: number;
  end: number;
  flows: FlowBatch;
  totals: IfaceTotals[];
  /**
   * DNS answers and TLS ClientHellos copied by the BPF program since the last
   * drain (src/enrich parses them). Taken from a ring buffer, not from the
   * interval's epoch: one seen while the drain ran may come with the next.
   */
  captures: Capture[];
  drain: { ms: number; graceMs: number };
}

export interface Attachment extends AttachInfo {
  iface: string;
  ifindex: number;
  /** Its gateway role; absent: none (a host's own interface). */
  role?: InterfaceRole;
}

/** An attachment with its own packets that are not flows, since start (both directions). */
export interface AttachmentStatus extends Attachment {
  /**
   * 'gone' while the interface does not exist (deleted: a PPP or VPN link that
   * reconnects); counting resumes on the new ifindex when it appears again.
   */
  state: AttachState;
  /** Times it was attached again after being gone, since start. */
  reattaches: number;
  /** Milliseconds it was gone since start, the current gap included: nothing was counted on it then. */
  goneMs: number;
  /** While gone: since when (epoch ms). */
  goneSince?: number;
  overflowPackets: number;
  nonIpPackets: number;
  malformedPackets: number;
  /** Gateway roles: packets that crossed it but are counted on another interface (both directions). */
  forwardedPackets: number;
}

export interface CollectorStatus {
  attachments: AttachmentStatus[];
  mapEntries: number;
  /** Flows of the last interval over the flow limit (--map-size), 0..1. */
  mapFill: number;
  intervals: number;
  lastDrainMs: number;
  /**
   * Ticks of the --interval cadence that went by while the previous interval was
   * still being drained or processed, since start: each made an interval longer
   * than --interval (totals stay exact; the interval just covers more time).
   */
  lateIntervals: number;
  /**
   * Flows of the latest interval that did not fit in the kernel table (their
   * packets are in the overflow counts): an estimate, from the overflow packets
   * and the packets per flow of the flows that fit. 0 when everything fit.
   */
  flowsNotFitted: number;
  /**
   * The --map-size that would have fitted the busiest interval that overflowed
   * since start (a power of two), or 0 when no interval overflowed.
   */
  suggestedMapSize: number;
  /** Since start. */
  overflowPackets: number;
  nonIpPackets: number;
  malformedPackets: number;
  /** The BPF program's own failures, by reason. */
  bpfErrors: Record<string, number>;
  /** Captures (DNS answers, ClientHellos) handed to user space since start. */
  captures: number;
  /** Captures lost because the ring buffer was full (drain more often or enlarge it), since start. */
  captureDrops: number;
  /** Captures lost because the payload could not be copied, since start. */
  captureLoadErrors: number;
  /** Flow keys holding a flow id after the last drain (see trackFlowIds); a number that only grows is a leak. */
  flowIds: number;
  /** Flow records left without an id because the id limit was reached, since start. */
  flowIdsRefused: number;
}

/** enum flow_error in bpf/flow.h, in order. */
export const BPF_ERROR_NAMES = ['probe_limit', 'iface_full', 'claim_race', 'pull'] as const;

function zeroTotals(): DirectionTotals {
  return { packets: 0, bytes: 0, flows: 0, overflowPackets: 0, overflowBytes: 0,
    nonIpPackets: 0, nonIpBytes: 0, malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0,
    gsoAddedPackets: 0, gsoAddedBytes: 0 };
}

/** enum flow_role in bpf/flow.h. */
const ROLE_NUMBER: Record<InterfaceRole, number> = { lan: 1, wan: 2 };

export class Collector extends EventEmitter<{ interval: [Interval]; error: [Error] }> {
  private native: NativeCollector | undefined;
  private readonly buffer: Buffer;
  private links!: LinkFollower;
  private linkTimer: NodeJS.Timeout | undefined;
  /** Since start, per interface name: packets counted without a flow. */
  private readonly perIface = new Map<string, { overflowPackets: number; nonIpPackets: number; malformedPackets: number; forwardedPackets: number }>();
  /** The own addresses last given to the kernel (roles on), as text: set again only when they change. */
  private ownAddressesText: string | undefined;
  private cadence: Cadence | undefined;
  private readonly fit: TableFit;
  /** Kernel interface counters beside flowlens's, per attachment (reconcile.ts). */
  private readonly reconciler = new Reconciler();
  private draining: Promise<Interval> | undefined;
  private intervalStart = Date.now();
  private stats = { intervals: 0, lastDrainMs: 0, mapFill: 0, overflowPackets: 0, nonIpPackets: 0, malformedPackets: 0, captures: 0, flowIds: 0, flowIdsRefused: 0 };

  private constructor(readonly config: CollectorConfig, native: NativeCollector, private readonly ifaces: NetInterface[]) {
    super();
    this.native = native;
    this.buffer = Buffer.alloc(native.bufferSize);
    this.fit = new TableFit(config.mapEntries);
  }

  /** Checks, loads and attaches; on any failure nothing stays attached. */
  static open(config: CollectorConfig): Collector {
    validateConfig(config);
    const ifaces = resolveInterfaces(config.interfaces);
    preflight();
    const addon = loadAddon();
    checkLayout(addon.layout);
    let native: NativeCollector;
    const roles = ifaces.flatMap((i) => (config.roles?.[i.name] ? [i.ifindex, ROLE_NUMBER[config.roles[i.name]!]] : []));
    try {
      native = new addon.Collector(config.mapEntries, config.captureRingBytes ?? DEFAULT_CAPTURE_RING_BYTES,
        roles.length ? new Uint32Array(roles) : undefined, config.packetRingBytes ?? DEFAULT_PACKET_RING_BYTES);
    } catch (e) {
      throw explainKernelError(e, 'cannot load the flow counter');
    }
    const c = new Collector(config, native, ifaces);
    // subscribed before attaching: a deletion right after the attach is not missed
    let watch;
    try {
      watch = new addon.LinkWatch();
    } catch (e) {
      process.stderr.write(`flowlens: ${(e as Error).message}: a deleted and re-created interface is found by re-reading /sys/class/net instead\n`);
    }
    // a role follows its interface: a re-created WAN (PPP) link gets a new ifindex, the kernel learns it before the attach
    const roleSlots = new Map(ifaces.filter((i) => config.roles?.[i.name]).map((i, slot) => [i.name, slot]));
    c.links = new LinkFollower(watch, {
      attach: (ifindex, iface) => {
        const slot = roleSlots.get(iface);
        if (slot !== undefined) native.setRoleIfindex(slot, ifindex);
        return c.attachCounted(iface, ifindex);
      },
      detach: (ifindex) => native.detach(ifindex),
      log: (line) => { process.stderr.write(`${line}\n`); },
      now: Date.now,
    });
    try {
      for (const i of ifaces) c.links.attached(i.name, i.ifindex, c.attachCounted(i.name, i.ifindex), config.roles?.[i.name]);
      c.refreshOwnAddresses();
    } catch (e) {
      c.links.close();
      native.close();
      throw explainKernelError(e, 'cannot attach');
    }
    c.intervalStart = Date.now();
    return c;
  }

  /** Attaches, with the kernel's interface counters read just before: the start of the reconciliation span. */
  private attachCounted(iface: string, ifindex: number): AttachInfo {
    const base = this.reconciler.baseline(iface);
    const info = this.native!.attach(ifindex, this.config.hook, this.config.xdpMode);
    this.reconciler.attached(iface, ifindex, info, base);
    return info;
  }

  /** Per attached interface: the kernel's counters beside flowlens's since the attach and in the latest interval. */
  reconcile(): InterfaceReconciliation[] {
    return this.reconciler.report();
  }

  /** Roles on: gives the kernel this namespace's addresses when they changed (every interval: DHCP, new addresses). */
  private refreshOwnAddresses(): void {
    if (!this.config.roles || !this.native) return;
    const list = ownAddresses();
    const text = list.join(' ');
    if (text === this.ownAddressesText) return;
    this.native.setOwnAddresses(ownAddressKeys(list));
    this.ownAddressesText = text;
  }

  get attached(): readonly Attachment[] {
    return this.links.all.filter((l) => l.state === 'attached');
  }

  private captures: PacketCaptures | undefined;

  /** Packet captures of what this collector counts (src/capture); undefined when the packet ring is off or the collector stopped. */
  get packetCaptures(): PacketCaptures | undefined {
    if (!this.native || this.config.packetRingBytes === 0) return undefined;
    this.captures ??= new PacketCaptures(this.native, () => this.attached.map((a) => ({ name: a.iface, ifindex: a.ifindex })));
    return this.captures;
  }

  /** Drains at start + k × intervalMs until stop() (see cadence.ts for falling behind). */
  start(): void {
    this.cadence?.stop();
    this.cadence = new Cadence(this.config.intervalMs,
      () => this.drainNow().then(() => undefined, (e) => { this.emit('error', e as Error); }));
    this.cadence.start();
    if (!this.linkTimer) {
      this.linkTimer = setInterval(() => this.followLinks(), LINK_POLL_MS);
      this.linkTimer.unref();
    }
  }

  /** Acts on link events: a deleted interface is gone, a re-created one attached again (links.ts). */
  private followLinks(): void {
    if (!this.native) return;
    try {
      this.links.poll();
    } catch (e) {
      this.emit('error', e as Error);
    }
  }

  /** Ends the current interval now and emits it; concurrent calls share one drain. */
  drainNow(): Promise<Interval> {
    if (!this.draining) {
      this.draining = this.drainOnce().finally(() => { this.draining = undefined; });
    }
    return this.draining;
  }

  /** Listens for the moment before each drain (IntervalSource.onBeforeDrain). */
  onBeforeDrain(listener: () => void): void {
    this.beforeDrain = listener;
  }

  private beforeDrain: (() => void) | undefined;

  private async drainOnce(): Promise<Interval> {
    const native = this.native;
    if (!native) throw new FlowlensError('FLOW_ERR_USAGE', 'the collector is stopped');
    // the previous interval's flows are read from this.buffer until its reader is done with them
    this.beforeDrain?.();
    this.refreshOwnAddresses();
    this.followLinks();
    const r = await native.drain(this.buffer);
    // the kernel's side of the interval just ended, at (within microseconds) the same moment
    this.reconciler.readKernel();
    const clock = ClockOffset.now();
    const end = clock.toWallMs(r.monoNs);
    const flows = new FlowBatch(this.buffer, r.flowsOffset, r.flows, clock);
    const interval: Interval = {
      start: this.intervalStart,
      end,
      flows,
      totals: this.totals(r.ifaces),
      captures: decodeCaptures(this.buffer, r.capturesOffset, r.captures, clock),
      drain: { ms: r.drainNs / 1e6, graceMs: r.graceNs / 1e6 },
    };
    this.intervalStart = end;
    this.stats.intervals++;
    this.stats.lastDrainMs = interval.drain.ms;
    this.stats.mapFill = r.flows / native.mapEntries;
    this.fit.add(r.flows, interval.totals);
    this.stats.captures += interval.captures.length;
    this.stats.flowIds = r.flowIds;
    this.stats.flowIdsRefused += r.flowIdsRefused;
    this.links.drained();
    this.emit('interval', interval);
    return interval;
  }

  /**
   * Every interface counted on, both directions, zero when quiet (the addon
   * summed the flows); a re-created interface's old ifindex too, in the drains
   * that still carry its records (same name, so its flows and totals stay its).
   */
  private totals(ifaceCount: number): IfaceTotals[] {
    const byIndex = new Map<number, IfaceTotals>();
    for (const a of this.links.all) {
      byIndex.set(a.ifindex, { iface: a.iface, ifindex: a.ifindex, ingress: zeroTotals(), egress: zeroTotals() });
    }
    const retired = new Map(this.links.retiredIndexes());
    for (const { ifindex, direction, ...counts } of decodeIfaces(this.buffer, ifaceCount)) {
      let t = byIndex.get(ifindex);
      const old = t ? undefined : retired.get(ifindex);
      if (old !== undefined) byIndex.set(ifindex, (t = { iface: old, ifindex, ingress: zeroTotals(), egress: zeroTotals() }));
      if (!t) continue;
      t[direction] = counts;
      this.reconciler.add(ifindex, direction, counts);
      let own = this.perIface.get(t.iface);
      if (!own) this.perIface.set(t.iface, (own = { overflowPackets: 0, nonIpPackets: 0, malformedPackets: 0, forwardedPackets: 0 }));
      own.forwardedPackets += counts.forwardedPackets;
      own.overflowPackets += counts.overflowPackets;
      own.nonIpPackets += counts.nonIpPackets;
      own.malformedPackets += counts.malformedPackets;
      this.stats.overflowPackets += counts.overflowPackets;
      this.stats.nonIpPackets += counts.nonIpPackets;
      this.stats.malformedPackets += counts.malformedPackets;
    }
    return [...byIndex.values()];
  }

  status(): CollectorStatus {
    const errors = this.native?.errors() ?? [];
    const captureErrors = this.native?.captureErrors() ?? [];
    return {
      attachments: this.links.status().map((a) => ({ ...a, overflowPackets: 0, nonIpPackets: 0, malformedPackets: 0, forwardedPackets: 0, ...this.perIface.get(a.iface) })),
      mapEntries: this.config.mapEntries,
      mapFill: this.stats.mapFill,
      intervals: this.stats.intervals,
      lastDrainMs: this.stats.lastDrainMs,
      lateIntervals: this.cadence?.late ?? 0,
      flowsNotFitted: this.fit.notFitted,
      suggestedMapSize: this.fit.suggestedMapSize,
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

  /**
   * From the next drain on, every drained flow carries a stable id
   * (FlowBatch.flowId) while fewer than `limit` flow keys hold one; 0 turns ids
   * off. Whoever turns them on owns them: release each id when nothing routes
   * by it any more, or the table fills up to `limit`.
   */
  trackFlowIds(limit: number): void {
    this.native?.setFlowIdLimit(limit);
  }

  /**
   * Frees ids whose flows are no longer routed (their sessions ended, or the
   * flow was not kept): from the next drain on, their keys get new ids and the
   * ids may go to other keys. Call it between drains, e.g. in the 'interval'
   * handler, so no drain in flight still carries the old meaning.
   */
  releaseFlowIds(ids: Uint32Array): void {
    this.native?.releaseFlowIds(ids);
  }

  /** Detaches, drains what was counted since the last interval, emits it, unloads. */
  async stop(): Promise<void> {
    this.cadence?.stop();
    this.stopFollowing();
    const native = this.native;
    if (!native) return;
    this.captures?.closeAll();
    await this.draining?.catch(() => undefined);
    for (const a of this.links.all) {
      if (a.state !== 'attached') continue;
      try { native.detach(a.ifindex); } catch { /* interface already gone */ }
    }
    try {
      await this.drainNow();
    } finally {
      native.close();
      this.native = undefined;
    }
  }

  /** Synchronous last resort (process exit): detach and unload without draining. */
  closeNow(): void {
    this.cadence?.stop();
    this.stopFollowing();
    this.captures?.closeAll();
    this.native?.close();
    this.native = undefined;
  }

  private stopFollowing(): void {
    if (this.linkTimer) clearInterval(this.linkTimer);
    this.linkTimer = undefined;
    this.links.close();
  }
}
