/**
 * Following the counted interfaces through deletion and re-creation. A PPP,
 * WireGuard or VPN interface is deleted and created again (same name, new
 * ifindex) on every reconnect; the kernel drops our attachments with the old
 * device. Link events (rtnetlink, native/src/links.h) say when: a deleted
 * interface is "gone" until one of its name appears again, and then the
 * programs are attached to the new ifindex. The time in between is a gap,
 * counted (reattaches, gone time) and said on stderr, never hidden.
 *
 * The socket is read on a short timer and before every drain (Node cannot
 * watch a netlink socket); the kernel queues the events in between. If its
 * queue overflowed, or an attach failed, the interfaces are re-read from
 * /sys/class/net on every tick while one is gone.
 */
import { readFileSync } from 'node:fs';
import type { AttachInfo, NativeLinkWatch } from '../native/binding.js';
import type { InterfaceRole } from './config.js';

/** How often the link events are read. */
export const LINK_POLL_MS = 200;

export type AttachState = 'attached' | 'gone';

export interface FollowedLink extends AttachInfo {
  iface: string;
  /** The current ifindex while attached; while gone, the last one. */
  ifindex: number;
  /** Its gateway role; absent: none (a host's own interface). */
  role?: InterfaceRole;
  state: AttachState;
  /** Times it was attached again after being gone, since start. */
  reattaches: number;
  /** Milliseconds it was gone since start (the current gap included). */
  goneMs: number;
  /** While gone: since when (epoch ms). */
  goneSince?: number;
}

export interface LinkActions {
  /** Attaches the programs to the interface's (new) ifindex. */
  attach(ifindex: number, iface: string): AttachInfo;
  detach(ifindex: number): void;
  /** A line on stderr. */
  log(line: string): void;
  now(): number;
}

/** The ifindex of an interface by name, 0 when there is none. */
export function ifindexOf(name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')) || 0;
  } catch {
    return 0;
  }
}

export class LinkFollower {
  private readonly links: FollowedLink[] = [];
  /** Old ifindex → interface name, for the records of a deleted device still to be drained. */
  private readonly retired = new Map<number, { iface: string; drainsLeft: number }>();
  /** Last attach failure per interface, said once until it changes. */
  private readonly lastFailure = new Map<string, string>();
  private closed = false;

  constructor(private readonly watch: NativeLinkWatch | undefined, private readonly act: LinkActions) {}

  /** An interface attached at start. */
  attached(iface: string, ifindex: number, info: AttachInfo, role?: InterfaceRole): void {
    this.links.push({ iface, ifindex, ...info, ...(role ? { role } : {}), state: 'attached', reattaches: 0, goneMs: 0 });
  }

  get all(): readonly FollowedLink[] {
    return this.links;
  }

  /** With the current gap's time in goneMs. */
  status(): FollowedLink[] {
    const now = this.act.now();
    return this.links.map((l) => ({ ...l, goneMs: l.goneMs + (l.goneSince !== undefined ? now - l.goneSince : 0) }));
  }

  /** The interface a drained ifindex belongs to: a current one, or a deleted one's last records. */
  nameOf(ifindex: number): string | undefined {
    return this.links.find((l) => l.ifindex === ifindex)?.iface ?? this.retired.get(ifindex)?.iface;
  }

  /** Ifindexes of deleted devices whose records may still come, with their interface. */
  retiredIndexes(): Array<[number, string]> {
    return [...this.retired].map(([ifindex, r]) => [ifindex, r.iface]);
  }

  /**
   * After each drain: a deleted device's records are all drained two drains
   * after its deletion was seen (packets counted into the epoch the first
   * drain flipped to are drained by the second).
   */
  drained(): void {
    for (const [ifindex, r] of this.retired) if (--r.drainsLeft <= 0) this.retired.delete(ifindex);
  }

  /** Reads the queued link events and acts on them. */
  poll(): void {
    if (this.closed) return;
    let resync = false;
    if (this.watch) {
      const { events, overflow } = this.watch.read();
      resync = overflow;
      for (const e of events) {
        const l = this.links.find((x) => x.iface === e.name || (x.state === 'attached' && x.ifindex === e.ifindex));
        if (!l) continue;
        if (e.type === 'del') {
          if (l.state === 'attached' && l.ifindex === e.ifindex) this.gone(l, 'deleted');
        } else if (e.name === l.iface) {
          // a new device of that name (a reconnect); a NEWLINK of our device is only a change (up, down, MTU)
          if (l.state === 'attached' && l.ifindex !== e.ifindex) this.gone(l, 'replaced');
          if (l.state === 'gone') this.reattach(l, e.ifindex);
        }
      }
    }
    // what events cannot say: a queue that overflowed, an attach that failed, no watch at all
    for (const l of this.links) {
      if (l.state === 'gone' || resync || !this.watch) {
        const now = ifindexOf(l.iface);
        if (l.state === 'attached' && now !== l.ifindex) this.gone(l, now ? 'replaced' : 'deleted');
        if (l.state === 'gone' && now) this.reattach(l, now);
      }
    }
  }

  private gone(l: FollowedLink, how: 'deleted' | 'replaced'): void {
    l.state = 'gone';
    l.goneSince = this.act.now();
    try { this.act.detach(l.ifindex); } catch { /* the kernel already dropped the links with the device */ }
    this.retired.set(l.ifindex, { iface: l.iface, drainsLeft: 2 });
    this.act.log(`flowlens: ${l.iface} (ifindex ${l.ifindex}) was ${how}: nothing is counted on it until an interface of that name appears again`);
  }

  private reattach(l: FollowedLink, ifindex: number): void {
    let info: AttachInfo;
    try {
      info = this.act.attach(ifindex, l.iface);
    } catch (e) {
      const why = (e as Error).message;
      if (this.lastFailure.get(l.iface) !== why) this.act.log(`flowlens: ${l.iface} is back (ifindex ${ifindex}) but cannot be attached, retrying: ${why}`);
      this.lastFailure.set(l.iface, why);
      return;
    }
    this.lastFailure.delete(l.iface);
    const now = this.act.now();
    const gap = now - (l.goneSince ?? now);
    l.goneMs += gap;
    l.goneSince = undefined;
    l.state = 'attached';
    l.ifindex = ifindex;
    l.ingress = info.ingress;
    l.egress = info.egress;
    l.reattaches++;
    this.act.log(`flowlens: ${l.iface} is back (ifindex ${ifindex}): counting again after a gap of ${(gap / 1000).toFixed(1)} s (reattach ${l.reattaches})`);
  }

  /** Stops following (at stop: the last drain must not attach anything). */
  close(): void {
    this.closed = true;
    this.watch?.close();
  }
}
