/**
 * The BPF_PROG_TEST_RUN table runner shared by test/bpf/*.test.ts (kept out of
 * test/bpf/ so that `tap test/bpf/` runs only tests).
 *
 * A fixture is a packet (or a few), the programs to run it through, and what a
 * drain must then hold: the exact flow records, or the exact non-IP /
 * malformed counts of the interface record. Each fixture gets a fresh
 * collector; each program runs every packet RUNS times, then the collector is
 * drained and the whole drain is compared, so a stray record fails too.
 */
import type { Test } from 'tap';
import { loadAddon, type NativeCollector, type TestRunOptions } from '../../src/native/binding.js';
import { ClockOffset } from '../../src/collector/clock.js';
import { FlowBatch, decodeIfaces, type Direction, type Flow, type IfaceCounts } from '../../src/collector/decode.js';
import { IfaceRecord } from '../../src/collector/layout.gen.js';
import { decodeCaptures, type Capture } from '../../src/collector/captures.js';
import { requireKernel } from './kernel.js';

export const XDP_PASS = 2;
/** TC_ACT_UNSPEC (-1) as the u32 BPF_PROG_TEST_RUN reports. */
export const TC_ACT_UNSPEC = 0xffffffff;
/** BPF_PROG_TEST_RUN runs on the loopback device of the caller's namespace. */
export const LOOPBACK = 1;
/** Times each packet runs through each program. */
export const RUNS = 3;
/** Small flow tables load fast. */
export const MAP_ENTRIES = 1024;

export type Program = 'flowlens_xdp' | 'flowlens_tc_in' | 'flowlens_tc_eg';
export const PROGRAMS: Record<Program, { direction: Direction; retval: number }> = {
  flowlens_xdp: { direction: 'ingress', retval: XDP_PASS },
  flowlens_tc_in: { direction: 'ingress', retval: TC_ACT_UNSPEC },
  flowlens_tc_eg: { direction: 'egress', retval: TC_ACT_UNSPEC },
};
export const ALL_PROGRAMS = Object.keys(PROGRAMS) as Program[];
export const TC_PROGRAMS: Program[] = ['flowlens_tc_in', 'flowlens_tc_eg'];

/** One flow record, with packets and bytes for one pass over the fixture's packets. */
export type ExpectedFlow = Omit<Flow, 'ifindex' | 'direction' | 'firstSeen' | 'lastSeen'>;

/** Packets and bytes for one pass over the fixture's packets. */
export interface Count {
  packets: number;
  bytes: number;
}

export interface Expected {
  flows?: ExpectedFlow[];
  nonIp?: Count;
  malformed?: Count;
  /** GSO/GRO super-packets: wire packets beyond the first and their header bytes (iface_counters.gso_added_*). */
  gsoAdded?: Count;
}

export interface Fixture {
  description: string;
  packet: Buffer | Buffer[];
  /** Default: all three. */
  programs?: Program[];
  /** TC only: GSO metadata of the skb. */
  options?: Omit<TestRunOptions, 'repeat'>;
  /**
   * Programs whose BPF_PROG_TEST_RUN refuses the packet (EINVAL) before the
   * program runs: for an skb, the kernel wants a whole IPv4 (20 bytes) or IPv6
   * (40 bytes) header after an Ethernet header of that type.
   */
  refusedBy?: Program[];
  expected: Expected;
}

/** One malformed (or truncated) frame of `frameLen` bytes. */
export function malformed(frameLen: number): Expected {
  return { malformed: { packets: 1, bytes: frameLen } };
}

/** One non-IP frame of `frameLen` bytes. */
export function nonIp(frameLen: number): Expected {
  return { nonIp: { packets: 1, bytes: frameLen } };
}

export interface Drained {
  flows: Flow[];
  ifaces: IfaceCounts[];
  /** DNS answers and ClientHellos the programs copied, in the order they were made. */
  captures: Capture[];
  /** CLOCK_MONOTONIC of the epoch flip, as wall-clock ms with the drain's offset. */
  endWall: number;
  clock: ClockOffset;
}

export function openCollector(t: Test, mapEntries = MAP_ENTRIES): NativeCollector {
  const c = new (loadAddon().Collector)(mapEntries);
  t.teardown(() => c.close());
  return c;
}

/** Drains and decodes everything, flows in a stable order. */
export async function drain(c: NativeCollector): Promise<Drained> {
  const buf = Buffer.alloc(c.bufferSize);
  const r = await c.drain(buf);
  const clock = ClockOffset.now();
  const batch = new FlowBatch(buf, r.flowsOffset, r.flows, clock);
  const flows = batch.flows().sort((a, b) => flowId(a).localeCompare(flowId(b)));
  const ifaces = decodeIfaces(buf, r.ifaces).sort((a, b) => a.ifindex - b.ifindex || a.direction.localeCompare(b.direction));
  const captures = decodeCaptures(buf, r.capturesOffset, r.captures, clock);
  return { flows, ifaces, captures, endWall: clock.toWallMs(r.monoNs), clock };
}

export function flowId(f: Pick<Flow, 'direction' | 'ipVersion' | 'protocol' | 'src' | 'dst' | 'srcPort' | 'dstPort'>): string {
  return `${f.direction} ${f.ipVersion} ${f.protocol} ${f.src} ${f.srcPort} > ${f.dst} ${f.dstPort}`;
}

export function monoNow(): number {
  return Number(process.hrtime.bigint());
}

/** A flow record as expected after `runs` passes through a program of `direction`, minus the timestamps. */
export function expectedRecord(e: ExpectedFlow, direction: Direction, runs = RUNS): Omit<Flow, 'firstSeen' | 'lastSeen'> {
  return {
    ifindex: LOOPBACK,
    direction,
    ipVersion: e.ipVersion,
    protocol: e.protocol,
    src: e.src,
    dst: e.dst,
    srcPort: e.srcPort,
    dstPort: e.dstPort,
    packets: e.packets * runs,
    bytes: e.bytes * runs,
    tcpFlags: e.tcpFlags,
  };
}

export function withoutTimes(f: Flow): Omit<Flow, 'firstSeen' | 'lastSeen'> {
  const { firstSeen: _f, lastSeen: _l, ...rest } = f;
  return rest;
}

/** An interface record as expected after `runs` passes: the totals of the flows and the non-flow counts. */
export function expectedIface(direction: Direction, e: Expected, runs = RUNS): IfaceCounts {
  const flows = e.flows ?? [];
  return {
    ifindex: LOOPBACK,
    direction,
    packets: flows.reduce((n, f) => n + f.packets * runs, 0),
    bytes: flows.reduce((n, f) => n + f.bytes * runs, 0),
    flows: flows.length,
    overflowPackets: 0,
    overflowBytes: 0,
    nonIpPackets: (e.nonIp?.packets ?? 0) * runs,
    nonIpBytes: (e.nonIp?.bytes ?? 0) * runs,
    malformedPackets: (e.malformed?.packets ?? 0) * runs,
    malformedBytes: (e.malformed?.bytes ?? 0) * runs,
    forwardedPackets: 0,
    forwardedBytes: 0,
    gsoAddedPackets: (e.gsoAdded?.packets ?? 0) * runs,
    gsoAddedBytes: (e.gsoAdded?.bytes ?? 0) * runs,
  };
}

/**
 * Asserts a drain holds exactly the expected flows and interface records.
 * Timestamps: both set, first <= last, and inside [startMono, the drain's flip].
 */
export function assertDrain(t: Test, d: Drained, direction: Direction, e: Expected, startMono: number, runs = RUNS): void {
  const want = (e.flows ?? []).map((f) => expectedRecord(f, direction, runs))
    .sort((a, b) => flowId(a).localeCompare(flowId(b)));
  t.strictSame(d.flows.map(withoutTimes), want, `${direction}: exactly ${want.length} flow record(s)`);
  const startWall = d.clock.toWallMs(startMono);
  for (const f of d.flows) {
    t.ok(f.firstSeen > 0 && f.lastSeen > 0, `${flowId(f)}: first and last seen are set`);
    t.ok(f.firstSeen <= f.lastSeen, `${flowId(f)}: first seen <= last seen`);
    t.ok(f.firstSeen >= startWall && f.lastSeen <= d.endWall,
      `${flowId(f)}: seen during the test (${startWall} <= ${f.firstSeen} <= ${f.lastSeen} <= ${d.endWall})`);
  }
  const ifaces = e.nonIp || e.malformed || e.flows?.length ? [expectedIface(direction, e, runs)] : [];
  t.strictSame(d.ifaces, ifaces, `${direction}: ${ifaces.length ? 'the exact totals and non-IP/malformed counts' : 'no interface record'}`);
}

/**
 * Runs every packet of a fixture `runs` times through `program` and asserts the
 * verdict. One test-run call per packet, not repeat: an XDP test-run with
 * repeat > 1 swaps the XDP dispatcher twice, which costs up to a second.
 */
export function runPackets(t: Test, c: NativeCollector, program: Program, packets: Buffer[],
  options: Omit<TestRunOptions, 'repeat'> = {}, runs = RUNS): void {
  const want = PROGRAMS[program].retval;
  const verdicts = new Set<number>();
  for (const p of packets) {
    for (let i = 0; i < runs; i++) verdicts.add(c.testRun(program, p, options).retval);
  }
  t.strictSame([...verdicts], [want], `${program} returns ${want} for every packet`);
}

/** One subtest per fixture: a fresh collector, then each program in turn, drained and checked. */
export function runFixtures(t: Test, fixtures: Fixture[]): void {
  for (const f of fixtures) {
    t.test(f.description, async (t) => {
      if (!requireKernel(t)) return;
      const packets = Array.isArray(f.packet) ? f.packet : [f.packet];
      const c = openCollector(t);
      for (const program of f.programs ?? ALL_PROGRAMS) {
        if (f.refusedBy?.includes(program)) {
          for (const p of packets) {
            t.throws(() => c.testRun(program, p, f.options), { errno: 22, message: /Invalid argument/ },
              `${program}: BPF_PROG_TEST_RUN refuses the ${p.length}-byte frame`);
          }
          const d = await drain(c);
          t.strictSame([d.flows, d.ifaces], [[], []], `${program}: nothing counted`);
          continue;
        }
        const start = monoNow();
        runPackets(t, c, program, packets, f.options);
        const d = await drain(c);
        assertDrain(t, d, PROGRAMS[program].direction, f.expected, start);
      }
      t.strictSame(c.errors(), [0, 0, 0, 0], 'no BPF program errors');
    });
  }
}
