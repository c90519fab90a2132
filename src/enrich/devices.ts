/**
 * Devices: the LAN's local addresses as the machines people own. A device is
 * one MAC address with every IP address it answers from (IPv4 leases that
 * change, IPv6 privacy addresses), the vendor of its MAC (oui.ts) and a name.
 *
 *   MAC ↔ address   the kernel's neighbour table (ARP / IPv6 ND), read every
 *                   refresh (DevicesComponent), and the DHCP requests' chaddr
 *   name            the settings file's `devices:` list (by MAC or address) wins;
 *                   else the latest learned: DHCP option 12 host name (option 81
 *                   FQDN without it), or an mDNS answer for the device's address
 *                   (name.local → name) or an LLMNR answer (RFC 4795, Windows'
 *                   way: a host answering for its own name), all captured by the
 *                   BPF program
 *
 *   const devices = new DeviceTable({ settings: [{ mac: '00:1b:63:00:00:01', name: 'laptop' }] });
 *   for (const c of interval.captures) devices.ingest(c);
 *   devices.observe([{ iface: 'br0', address: '192.168.1.20', mac: '00:1b:63:00:00:01' }], Date.now());
 *   devices.labelOf('192.168.1.20');   // 'laptop'
 *
 * The table is bounded (maxDevices; the device seen longest ago goes) and an
 * address not seen for addressKeepMs leaves its device. What was learned is
 * handed to the history (takeChanged / restore) so names survive a restart.
 */
import type { Capture } from '../collector/captures.js';
import { formatAddress } from '../net/address-text.js';
import { ifindexOf } from '../collector/links.js';
import { loadAddon } from '../native/binding.js';
import type { Component } from '../component.js';
import { parseDhcpRequest } from './dhcp.js';
import { DNS_TYPE, dnsMessageOf } from './dns.js';
import { macKind, normalizeMac, OuiRegistry, type MacKind } from './oui.js';

/** One entry of the settings file's `devices:` list. */
export interface DeviceSetting {
  mac?: string;
  address?: string;
  name: string;
}

export type DeviceNameSource = 'settings' | 'dhcp' | 'mdns' | 'llmnr';
/** How a device's name was learned from the network. */
export type LearnedFrom = 'dhcp' | 'mdns' | 'llmnr';

/** A device as the APIs answer it. */
export interface Device {
  /** "aa:bb:cc:dd:ee:ff" */
  mac: string;
  /** 'universal': a maker's MAC; 'local': locally administered (randomized per network, VMs): no vendor. */
  macKind: MacKind;
  /** The MAC block's organisation (IEEE registry); absent when unknown or locally administered. */
  vendor?: string;
  name?: string;
  nameSource?: DeviceNameSource;
  /** Its addresses, most recently seen first. */
  addresses: string[];
  /** The interface it was last seen on. */
  iface?: string;
  /** Wall-clock ms. */
  firstSeen: number;
  lastSeen: number;
}

/** What the history keeps of a device (the settings' names are not stored: the file says them). */
export interface StoredDevice {
  mac: string;
  learnedName?: string;
  learnedFrom?: LearnedFrom;
  /** Address → last seen (ms). */
  addresses: Record<string, number>;
  iface?: string;
  firstSeen: number;
  lastSeen: number;
}

/** One neighbour table entry on a LAN interface. */
export interface Neighbour {
  iface: string;
  address: string;
  mac: string;
}

export interface DeviceTableOptions {
  settings?: readonly DeviceSetting[];
  /** The vendor registry, read on first use (default: Debian's ieee-data). */
  oui?: () => OuiRegistry;
  /** Devices remembered at most (default 10,000). */
  maxDevices?: number;
  /** An address not seen for this long leaves its device (default 7 days). */
  addressKeepMs?: number;
  /** mDNS/LLMNR names of addresses with no MAC yet, kept at most (default 1,000). */
  maxPendingNames?: number;
  /**
   * Whether a capture's interface is one whose hosts are devices (default: all).
   * A gateway's WAN can carry other customers' DHCP requests (a cable segment).
   */
  deviceInterface?: (ifindex: number) => boolean;
}

export interface DeviceTableStats {
  devices: number;
  dhcpRequests: number;
  mdnsAnswers: number;
  llmnrAnswers: number;
  parseFailures: number;
  /** Whether vendor names are available, and from which files (or why not). */
  vendorBlocks: number;
  vendorProblems: string[];
}

interface Entry extends Omit<StoredDevice, 'addresses'> {
  addresses: Map<string, number>;
}

const MDNS_SUFFIX = '.local';

export class DeviceTable {
  private readonly devices = new Map<string, Entry>();
  /** Address → the MAC it was last seen with. */
  private readonly macOf = new Map<string, string>();
  /** mDNS/LLMNR names of addresses whose MAC is not known yet. */
  private readonly pending = new Map<string, { name: string; at: number; from: 'mdns' | 'llmnr' }>();
  private readonly changed = new Set<string>();
  private readonly nameByMac = new Map<string, string>();
  private readonly nameByAddress = new Map<string, string>();
  private readonly maxDevices: number;
  private readonly addressKeepMs: number;
  private readonly maxPending: number;
  private readonly loadOui: () => OuiRegistry;
  private readonly deviceInterface: (ifindex: number) => boolean;
  private oui: OuiRegistry | undefined;
  private counts = { dhcpRequests: 0, mdnsAnswers: 0, llmnrAnswers: 0, parseFailures: 0 };

  constructor(opts: DeviceTableOptions = {}) {
    for (const s of opts.settings ?? []) {
      if (s.mac) this.nameByMac.set(normalizeMac(s.mac) ?? s.mac.toLowerCase(), s.name);
      if (s.address) this.nameByAddress.set(s.address, s.name);
    }
    this.maxDevices = opts.maxDevices ?? 10_000;
    this.addressKeepMs = opts.addressKeepMs ?? 7 * 86_400_000;
    this.maxPending = opts.maxPendingNames ?? 1000;
    this.loadOui = opts.oui ?? (() => OuiRegistry.load());
    this.deviceInterface = opts.deviceInterface ?? (() => true);
  }

  /** Learns from one capture: DHCP client messages (ingress), mDNS and LLMNR answers; other kinds are not ours. */
  ingest(c: Capture): void {
    if ((c.kind !== 'dhcp' && c.kind !== 'mdns' && c.kind !== 'llmnr') || !this.deviceInterface(c.ifindex)) return;
    if (c.kind === 'dhcp') this.ingestDhcp(c);
    else this.ingestAnswers(c, c.kind);
  }

  /** The neighbour table's entries now: each address belongs to the MAC it answers from. */
  observe(neighbours: readonly Neighbour[], now: number): void {
    for (const n of neighbours) {
      const e = this.entry(n.mac, now);
      this.addAddress(e, n.address, now);
      if (e.iface !== n.iface) { e.iface = n.iface; this.changed.add(e.mac); }
    }
    this.expireAddresses(now);
  }

  /** Puts back what the history kept (at start, before anything is learned). */
  restore(rows: readonly StoredDevice[]): void {
    for (const r of rows) {
      const e: Entry = { ...r, addresses: new Map(Object.entries(r.addresses)) };
      this.devices.set(r.mac, e);
      for (const a of e.addresses.keys()) this.macOf.set(a, r.mac);
    }
    this.evict();
  }

  /** Marks devices as changed again (their rows could not be stored: the next takeChanged has them). */
  requeue(rows: readonly StoredDevice[]): void {
    for (const r of rows) if (this.devices.has(r.mac)) this.changed.add(r.mac);
  }

  /** The devices changed since the last call, as the history keeps them. */
  takeChanged(): StoredDevice[] {
    const out: StoredDevice[] = [];
    for (const mac of this.changed) {
      const e = this.devices.get(mac);
      if (e) out.push(stored(e));
    }
    this.changed.clear();
    return out;
  }

  /** The device an address belongs to now. */
  deviceOf(address: string): Device | undefined {
    const mac = this.macOf.get(address);
    const e = mac !== undefined ? this.devices.get(mac) : undefined;
    return e && this.device(e);
  }

  /** What a local-host talker row shows for an address: the device's name, else its vendor, else its MAC. */
  labelOf(address: string): string | undefined {
    const d = this.deviceOf(address);
    if (!d) return this.nameByAddress.get(address);
    return d.name ?? d.vendor ?? d.mac;
  }

  /**
   * The device talker of a local address (flows' Enrichment.device): its MAC,
   * the key that stays one row across restarts and address changes, and its
   * name now (settings, else learned, else vendor + MAC). Without a known MAC
   * only a settings name given for the address. Called once per new session:
   * no Device object is made.
   */
  talkerOf(address: string): { mac?: string; label?: string } {
    const mac = this.macOf.get(address);
    const e = mac !== undefined ? this.devices.get(mac) : undefined;
    if (!e) {
      const name = this.nameByAddress.get(address);
      return name !== undefined ? { label: name } : {};
    }
    let name = this.nameByMac.get(e.mac);
    if (name === undefined && this.nameByAddress.size) for (const a of e.addresses.keys()) if ((name = this.nameByAddress.get(a)) !== undefined) break;
    name ??= e.learnedName;
    if (name === undefined && macKind(e.mac) === 'universal') {
      const vendor = this.registry().vendorOf(e.mac);
      if (vendor) name = `${vendor} ${e.mac}`;
    }
    return name !== undefined ? { mac: e.mac, label: name } : { mac: e.mac };
  }

  /** Every device, most recently seen first. */
  list(): Device[] {
    return [...this.devices.values()].map((e) => this.device(e)).sort((a, b) => b.lastSeen - a.lastSeen || (a.mac < b.mac ? -1 : 1));
  }

  stats(): DeviceTableStats {
    const oui = this.registry();
    return { devices: this.devices.size, ...this.counts, vendorBlocks: oui.size, vendorProblems: oui.problems };
  }

  private registry(): OuiRegistry {
    return (this.oui ??= this.loadOui());
  }

  private device(e: Entry): Device {
    const addresses = [...e.addresses].sort((a, b) => b[1] - a[1]).map(([a]) => a);
    const kind = macKind(e.mac);
    const vendor = kind === 'universal' ? this.registry().vendorOf(e.mac) : undefined;
    const d: Device = { mac: e.mac, macKind: kind, addresses, firstSeen: e.firstSeen, lastSeen: e.lastSeen };
    if (vendor) d.vendor = vendor;
    const given = this.nameByMac.get(e.mac) ?? addresses.map((a) => this.nameByAddress.get(a)).find((n) => n !== undefined);
    if (given !== undefined) { d.name = given; d.nameSource = 'settings'; }
    else if (e.learnedName) { d.name = e.learnedName; d.nameSource = e.learnedFrom; }
    if (e.iface) d.iface = e.iface;
    return d;
  }

  private entry(mac: string, at: number): Entry {
    const now = Math.floor(at);  // capture times carry fractions of a millisecond
    let e = this.devices.get(mac);
    if (!e) {
      e = { mac, addresses: new Map(), firstSeen: now, lastSeen: now };
      this.devices.set(mac, e);
      this.changed.add(mac);
      this.evict();
    } else if (now - e.lastSeen >= 60_000) {
      this.changed.add(mac);  // lastSeen is stored once a minute, not at every refresh
    }
    e.lastSeen = Math.max(e.lastSeen, now);
    return e;
  }

  private addAddress(e: Entry, address: string, at: number): void {
    const now = Math.floor(at);
    const owner = this.macOf.get(address);
    if (owner !== e.mac) {
      // a lease handed to another device: the address leaves the one that had it
      const old = owner !== undefined ? this.devices.get(owner) : undefined;
      if (old) { old.addresses.delete(address); this.changed.add(old.mac); }
      this.macOf.set(address, e.mac);
      this.changed.add(e.mac);
    }
    if (!e.addresses.has(address)) this.changed.add(e.mac);
    e.addresses.set(address, now);
    const p = this.pending.get(address);
    if (p) {
      this.pending.delete(address);
      this.learn(e, p.name, p.from);
    }
  }

  private learn(e: Entry, name: string, from: LearnedFrom): void {
    if (e.learnedName === name && e.learnedFrom === from) return;
    e.learnedName = name;
    e.learnedFrom = from;
    this.changed.add(e.mac);
  }

  private ingestDhcp(c: Capture): void {
    // a DHCP client's own message arrives on the LAN interface; one the host sends is its own lease
    if (c.direction !== 'ingress') return;
    const req = parseDhcpRequest(c.payload);
    if (!req) { this.counts.parseFailures++; return; }
    this.counts.dhcpRequests++;
    if (req.messageType === 'release' || req.messageType === 'decline') return;
    const e = this.entry(req.mac, c.time);
    if (req.address) this.addAddress(e, req.address, c.time);
    const name = req.hostName ?? req.fqdn;
    if (name) this.learn(e, name, 'dhcp');
  }

  /**
   * mDNS and LLMNR answers: DNS messages in which a host says which addresses
   * its own name has (mDNS: "name.local"; LLMNR: the bare name, RFC 4795 §2.1).
   */
  private ingestAnswers(c: Capture, from: 'mdns' | 'llmnr'): void {
    const msg = dnsMessageOf(c.payload, c.protocol);
    if (!msg) { this.counts.parseFailures++; return; }
    if (!msg.response) return;  // a query: nothing to learn
    for (const a of msg.answers) {
      if ((a.type !== DNS_TYPE.A && a.type !== DNS_TYPE.AAAA) || a.data === undefined) continue;
      let name: string;
      if (from === 'mdns') {
        if (!a.name.endsWith(MDNS_SUFFIX) || a.name.length === MDNS_SUFFIX.length) continue;
        name = a.name.slice(0, -MDNS_SUFFIX.length);
      } else {
        name = a.name.replace(/\.$/, '');
        if (!name) continue;
      }
      // a host name, not bytes for a terminal: no spaces, control or non-ASCII bytes (a hostile announcement goes nowhere)
      if (!/^[\x21-\x7e]{1,253}$/.test(name)) { this.counts.parseFailures++; continue; }
      if (from === 'mdns') this.counts.mdnsAnswers++; else this.counts.llmnrAnswers++;
      const mac = this.macOf.get(a.data);
      const e = mac !== undefined ? this.devices.get(mac) : undefined;
      if (e) {
        this.learn(e, name, from);
      } else {
        // its MAC comes with the next neighbour table read
        this.pending.delete(a.data);
        this.pending.set(a.data, { name, at: c.time, from });
        while (this.pending.size > this.maxPending) this.pending.delete(this.pending.keys().next().value as string);
      }
    }
  }

  private expireAddresses(now: number): void {
    for (const e of this.devices.values()) {
      for (const [a, seen] of e.addresses) {
        if (now - seen <= this.addressKeepMs) continue;
        e.addresses.delete(a);
        if (this.macOf.get(a) === e.mac) this.macOf.delete(a);
        this.changed.add(e.mac);
      }
    }
  }

  private evict(): void {
    while (this.devices.size > this.maxDevices) {
      let oldest: Entry | undefined;
      for (const e of this.devices.values()) if (!oldest || e.lastSeen < oldest.lastSeen) oldest = e;
      this.devices.delete(oldest!.mac);
      for (const a of oldest!.addresses.keys()) if (this.macOf.get(a) === oldest!.mac) this.macOf.delete(a);
    }
  }
}

function stored(e: Entry): StoredDevice {
  const out: StoredDevice = { mac: e.mac, addresses: Object.fromEntries(e.addresses), firstSeen: e.firstSeen, lastSeen: e.lastSeen };
  if (e.learnedName) { out.learnedName = e.learnedName; out.learnedFrom = e.learnedFrom; }
  if (e.iface) out.iface = e.iface;
  return out;
}

/** Where learned devices are kept across restarts (the history database). */
export interface DeviceStore {
  loadDevices(): StoredDevice[];
  saveDevices(rows: StoredDevice[]): void;
}

export interface DevicesDependencies {
  /** The neighbour table's entries on the interfaces whose hosts are devices. */
  neighbours: () => Neighbour[];
  /** The history, when it is kept (read at start, written every refresh). */
  store?: () => DeviceStore | undefined;
  /** How often the neighbour table is read and changes are stored (ms). */
  refreshMs: number;
  /** Reports a failed read or write (the table keeps what it has). */
  onError?: (e: unknown) => void;
  clock?: () => number;
}

/** The device table as a part of a running flowlens: restores at start, reads neighbours and stores changes every refresh. */
export class DevicesComponent implements Component {
  readonly name = 'devices';
  private timer: NodeJS.Timeout | undefined;
  private storeFailing = false;

  constructor(readonly table: DeviceTable, private readonly deps: DevicesDependencies) {}

  start(): void {
    const store = this.deps.store?.();
    if (store) this.table.restore(store.loadDevices());
    this.refresh();
    this.timer = setInterval(() => this.refresh(), this.deps.refreshMs);
    this.timer.unref();
  }

  /** Reads the neighbour table and stores what changed; failures are reported, never thrown. */
  refresh(): void {
    const now = (this.deps.clock ?? Date.now)();
    try {
      this.table.observe(this.deps.neighbours(), now);
    } catch (e) {
      this.deps.onError?.(e);
    }
    const store = this.deps.store?.();
    if (!store) return;
    const rows = this.table.takeChanged();
    try {
      if (rows.length) store.saveDevices(rows);
      this.storeFailing = false;
    } catch (e) {
      this.table.requeue(rows);  // tried again at the next refresh
      // said once per outage (the history reports its own health), not every refresh
      if (!this.storeFailing) this.deps.onError?.(e);
      this.storeFailing = true;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.refresh();
  }
}

/** NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP (linux/neighbour.h): no MAC, or not a neighbour's (multicast, loopback). */
const NUD_NOT_A_DEVICE = 0x01 | 0x20 | 0x40;

/**
 * The kernel's neighbour table entries on the named interfaces (by name:
 * ifindexes change when an interface is re-created), as devices' addresses.
 */
export function kernelNeighbours(ifaces: readonly string[]): Neighbour[] {
  const byIndex = new Map(ifaces.map((name) => [ifindexOf(name), name] as const).filter(([i]) => i > 0));
  const out: Neighbour[] = [];
  for (const n of loadAddon().neighbours().neighbours) {
    const iface = byIndex.get(n.ifindex);
    if (!iface || n.mac.length !== 6 || (n.state & NUD_NOT_A_DEVICE) || n.mac.every((b) => b === 0)) continue;
    out.push({ iface, address: formatAddress(n.addr, 0, n.ipVersion), mac: [...n.mac].map((b) => b.toString(16).padStart(2, '0')).join(':') });
  }
  return out;
}
