/**
 * Reconciliation: per interface, the kernel's own counters
 * (/sys/class/net/IF/statistics) beside what flowlens counted, over the same
 * span, with the difference explained term by term. docs/reconcile.md has the
 * rules and why each holds.
 *
 * The two sides count different things:
 *  - flowlens counts IP packets as wire packets (a GSO/GRO super-packet as its
 *    segments) and their L3 bytes; non-IP and malformed frames with their L2 bytes;
 *  - the kernel counts what the driver handled: frames (a super-packet once),
 *    with their Ethernet header (veth with a native XDP program: without it, on
 *    receive), and never the frames the NIC dropped before any hook.
 * So flowlens's side is turned into the kernel's unit term by term, and what is
 * left ("unexplained") should be zero on a quiet link; packets on the wire at
 * the moment of a reading (the drain and the statistics files are read a few
 * microseconds apart) show up there, and at the next reading are gone.
 *
 * Spans: since the attach (the kernel's counters are read just before it, so
 * frames from before flowlens are in neither side, and are reported apart as
 * `kernelBeforeAttach`), and the latest interval. The kernel's side is read
 * right after each drain, so both sides end at the same moment.
 */
import type { AttachInfo } from '../native/binding.js';
import { linkCountersSince, linkKind, readLinkCounters, type LinkCounters } from '../system/link-counters.js';
import type { Direction, DirectionTotals } from './decode.js';

/** Ethernet header bytes per frame (no VLAN tag; each tag in the frame adds 4, see docs/reconcile.md). */
export const ETH_HLEN = 14;

/** What flowlens counted on one interface in one direction (DirectionTotals without the flow record count). */
export type CountedSide = Omit<DirectionTotals, 'flows'>;

export interface ReconcileTerm {
  /** Short name: flows, overflow, forwarded, non-ip, malformed, gso, ethernet, veth-xdp-rx, ... */
  term: string;
  packets: number;
  bytes: number;
  /** Why this term is there, for a person. */
  why: string;
}

export interface DirectionReconciliation {
  /** The kernel's counters over the span: rx_* for ingress, tx_* for egress. */
  kernel: { packets: number; bytes: number; dropped: number; errors: number };
  flowlens: CountedSide;
  /** flowlens's counts turned into the kernel's units; their sum is `expected`. */
  terms: ReconcileTerm[];
  expected: { packets: number; bytes: number };
  /** kernel − expected: 0 and 0 when every packet and byte is explained. */
  unexplained: { packets: number; bytes: number };
  /** Kernel counters outside the sums (drops, errors), with what they mean for the two sides. */
  notes: ReconcileTerm[];
}

export interface InterfaceReconciliation {
  iface: string;
  ifindex: number;
  /** The link's kind (veth, bridge, vlan, ...; '' for a NIC): it decides how the driver counts bytes. */
  kind: string;
  ingressHook: string;
  egressHook: string;
  /** Epoch ms of the attach (the start of `sinceAttach`) and of the latest reading (their end). */
  since: number;
  at: number;
  /** The kernel's counters when flowlens attached: traffic flowlens never saw, in neither side below. */
  kernelBeforeAttach: { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number };
  sinceAttach: Record<Direction, DirectionReconciliation>;
  /** The latest interval alone (null before the first drain). */
  interval: Record<Direction, DirectionReconciliation> | null;
  /** Every packet and byte explained since the attach, both directions. */
  explained: boolean;
}

function zeroSide(): CountedSide {
  return { packets: 0, bytes: 0, overflowPackets: 0, overflowBytes: 0, nonIpPackets: 0, nonIpBytes: 0,
    malformedPackets: 0, malformedBytes: 0, forwardedPackets: 0, forwardedBytes: 0, gsoAddedPackets: 0, gsoAddedBytes: 0 };
}

function addSide(to: CountedSide, c: DirectionTotals): void {
  for (const k of Object.keys(to) as Array<keyof CountedSide>) to[k] += c[k];
}

/**
 * The rule itself: what the kernel should have counted, given what flowlens
 * counted, term by term. `stripsEthernet`: the driver counts frames without
 * their Ethernet header (veth's receive path with a native XDP program).
 */
export function reconcileDirection(direction: Direction, kernel: LinkCounters, f: CountedSide, stripsEthernet: boolean): DirectionReconciliation {
  const rx = direction === 'ingress';
  const ipFrames = f.packets + f.forwardedPackets - f.gsoAddedPackets;
  const frames = ipFrames + f.nonIpPackets + f.malformedPackets;
  const terms: ReconcileTerm[] = [
    { term: 'flows', packets: f.packets - f.overflowPackets, bytes: f.bytes - f.overflowBytes, why: 'IP packets counted in flows (wire packets, L3 bytes)' },
    { term: 'overflow', packets: f.overflowPackets, bytes: f.overflowBytes, why: 'IP packets counted while the flow table was full (in every total, in no flow)' },
    { term: 'forwarded', packets: f.forwardedPackets, bytes: f.forwardedBytes, why: 'gateway roles: IP packets that crossed this interface, counted on their LAN interface' },
    { term: 'non-ip', packets: f.nonIpPackets, bytes: f.nonIpBytes, why: 'frames that are not IPv4/IPv6 (ARP, LLDP, ...), with their L2 bytes' },
    { term: 'malformed', packets: f.malformedPackets, bytes: f.malformedBytes, why: 'truncated or inconsistent frames, with their L2 bytes' },
    { term: 'gso', packets: -f.gsoAddedPackets, bytes: -f.gsoAddedBytes,
      why: 'GSO/GRO super-packets: flowlens counts the wire packets each stands for, with their headers; the kernel counts it once, with one copy of the headers' },
    { term: 'ethernet', packets: 0, bytes: ETH_HLEN * ipFrames, why: `flowlens counts IP packets' L3 bytes; the kernel counts frames, with their ${ETH_HLEN}-byte Ethernet header` },
  ];
  if (stripsEthernet) {
    terms.push({ term: 'veth-xdp-rx', packets: 0, bytes: -ETH_HLEN * frames,
      why: 'veth with a native XDP program counts received frames after the Ethernet header is removed' });
  }
  const expected = terms.reduce((e, t) => ({ packets: e.packets + t.packets, bytes: e.bytes + t.bytes }), { packets: 0, bytes: 0 });
  const k = rx
    ? { packets: kernel.rxPackets, bytes: kernel.rxBytes, dropped: kernel.rxDropped, errors: kernel.rxErrors }
    : { packets: kernel.txPackets, bytes: kernel.txBytes, dropped: kernel.txDropped, errors: kernel.txErrors };
  const notes: ReconcileTerm[] = rx
    ? [
      { term: 'rx_missed_errors', packets: kernel.rxMissed, bytes: 0, why: 'dropped by the NIC (no buffer) before any hook: in neither side' },
      { term: 'rx_errors', packets: kernel.rxErrors, bytes: 0, why: 'bad frames (CRC, length, FIFO) the NIC dropped before any hook: in neither side' },
      { term: 'rx_dropped', packets: kernel.rxDropped, bytes: 0, why: 'dropped by the driver or the stack; before the hook (veth: its queue was full) in neither side, after it in flowlens only' },
    ]
    : [
      { term: 'tx_dropped', packets: kernel.txDropped, bytes: 0, why: 'dropped by the driver after TC egress: counted by flowlens, not in tx_packets' },
      { term: 'tx_errors', packets: kernel.txErrors, bytes: 0, why: 'failed to send after TC egress: counted by flowlens, not in tx_packets' },
    ];
  return {
    kernel: k,
    flowlens: { ...f },
    terms,
    expected,
    unexplained: { packets: k.packets - expected.packets, bytes: k.bytes - expected.bytes },
    notes,
  };
}

interface Entry {
  iface: string;
  ifindex: number;
  kind: string;
  info: AttachInfo;
  since: number;
  base: LinkCounters;
  /** The reading at the latest drain, and the one before it. */
  last: LinkCounters;
  prev: LinkCounters;
  at: number;
  total: Record<Direction, CountedSide>;
  latest: Record<Direction, CountedSide> | null;
}

const ZERO_COUNTERS = (): LinkCounters => ({ rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txDropped: 0,
  rxErrors: 0, txErrors: 0, rxMissed: 0 });

/** Keeps both sides per attachment: feed it the attach, each drain's reading and each interval's totals. */
export class Reconciler {
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly read: (iface: string) => LinkCounters | null = readLinkCounters,
    private readonly kindOf: (iface: string) => string = linkKind, private readonly now: () => number = Date.now) {}

  /** The kernel's counters just before an attach: the start of the span. */
  baseline(iface: string): LinkCounters {
    return this.read(iface) ?? ZERO_COUNTERS();
  }

  /** An attach to (a new) ifindex: a new span; an earlier ifindex of the same name is dropped. */
  attached(iface: string, ifindex: number, info: AttachInfo, base: LinkCounters): void {
    for (const [i, e] of this.entries) if (e.iface === iface && i !== ifindex) this.entries.delete(i);
    const at = this.now();
    this.entries.set(ifindex, { iface, ifindex, kind: this.kindOf(iface), info, since: at, base, last: base, prev: base, at,
      total: { ingress: zeroSide(), egress: zeroSide() }, latest: null });
  }

  /** Right after a drain: the kernel's side of the interval that drain ended. */
  readKernel(): void {
    const at = this.now();
    for (const e of this.entries.values()) {
      const c = this.read(e.iface);
      if (!c) continue;  // gone: the span ends at the last reading
      e.prev = e.last;
      e.last = c;
      e.at = at;
      e.latest = { ingress: zeroSide(), egress: zeroSide() };
    }
  }

  /** One interval's totals of one interface and direction (after readKernel). */
  add(ifindex: number, direction: Direction, counts: DirectionTotals): void {
    const e = this.entries.get(ifindex);
    if (!e) return;
    addSide(e.total[direction], counts);
    if (e.latest) addSide(e.latest[direction], counts);
  }

  report(): InterfaceReconciliation[] {
    return [...this.entries.values()].map((e) => {
      const strips = e.kind === 'veth' && e.info.ingress === 'xdp-native';
      const span = (k: LinkCounters, sides: Record<Direction, CountedSide>) => ({
        ingress: reconcileDirection('ingress', k, sides.ingress, strips),
        egress: reconcileDirection('egress', k, sides.egress, false),
      });
      const sinceAttach = span(linkCountersSince(e.last, e.base), e.total);
      return {
        iface: e.iface,
        ifindex: e.ifindex,
        kind: e.kind,
        ingressHook: e.info.ingress,
        egressHook: e.info.egress,
        since: e.since,
        at: e.at,
        kernelBeforeAttach: { rxPackets: e.base.rxPackets, rxBytes: e.base.rxBytes, txPackets: e.base.txPackets, txBytes: e.base.txBytes },
        sinceAttach,
        interval: e.latest ? span(linkCountersSince(e.last, e.prev), e.latest) : null,
        explained: (['ingress', 'egress'] as const).every((d) => sinceAttach[d].unexplained.packets === 0 && sinceAttach[d].unexplained.bytes === 0),
      };
    });
  }
}
